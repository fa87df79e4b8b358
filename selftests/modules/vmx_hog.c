// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only module: plays "another hypervisor" by switching the CPU's
 * virtualization extension on (EFER.SVME or CR4.VMXE) on one or all
 * CPUs, so the selftests can check that vmx.ko refuses to load beside
 * it.  It also refuses to load itself when it finds the extension already
 * on, which is how the tests see that vmx.ko left every CPU clean.
 */
#include <linux/cpu.h>
#include <linux/module.h>
#include <linux/smp.h>
#include <asm/msr.h>
#include <asm/processor.h>
#include <asm/tlbflush.h>

static int cpu = -1;
module_param(cpu, int, 0444);
MODULE_PARM_DESC(cpu, "CPU to occupy, -1 for all");

static bool hog_is_amd(void)
{
	return boot_cpu_data.x86_vendor == X86_VENDOR_AMD ||
	       boot_cpu_data.x86_vendor == X86_VENDOR_HYGON;
}

static void hog_take(void *err)
{
	u64 efer;

	if (hog_is_amd()) {
		rdmsrl(MSR_EFER, efer);
		if (efer & EFER_SVME)
			*(int *)err = -EBUSY;
		else
			wrmsrl(MSR_EFER, efer | EFER_SVME);
	} else {
		if (__read_cr4() & X86_CR4_VMXE)
			*(int *)err = -EBUSY;
		else
			cr4_set_bits(X86_CR4_VMXE);
	}
}

static void hog_release(void *unused)
{
	u64 efer;

	if (hog_is_amd()) {
		rdmsrl(MSR_EFER, efer);
		wrmsrl(MSR_EFER, efer & ~EFER_SVME);
	} else {
		cr4_clear_bits(X86_CR4_VMXE);
	}
}

static void hog_for_targets(smp_call_func_t fn, int *err)
{
	int c;

	cpus_read_lock();
	for_each_online_cpu(c)
		if (cpu < 0 || c == cpu)
			smp_call_function_single(c, fn, err, 1);
	cpus_read_unlock();
}

static int __init hog_init(void)
{
	int err = 0;

	if (cpu >= 0 && !cpu_online(cpu))
		return -EINVAL;
	hog_for_targets(hog_take, &err);
	if (err) {
		pr_err("vmx_hog: virtualization already on: %d\n", err);
		hog_for_targets(hog_release, NULL);
	}
	return err;
}

static void __exit hog_exit(void)
{
	hog_for_targets(hog_release, NULL);
}

module_init(hog_init);
module_exit(hog_exit);
MODULE_DESCRIPTION("vmx selftest helper: occupy SVM/VMX like a foreign hypervisor");
MODULE_LICENSE("GPL");
