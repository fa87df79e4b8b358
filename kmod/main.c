// SPDX-License-Identifier: GPL-2.0
/*
 * Module entry: pick a backend from the CPU, switch virtualization on for
 * every CPU (and keep it that way across hotplug and suspend), switch it
 * off again on unload, reboot and crash, and expose /dev/vmx.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/cpu.h>
#include <linux/cpuhotplug.h>
#include <linux/miscdevice.h>
#include <linux/percpu.h>
#include <linux/reboot.h>
#include <asm/reboot.h>

#include "core.h"
#include "compat.h"
#include "spec.h"

const struct vmx_backend_ops *vmx_ops;

static const struct vmx_backend_ops *const vmx_backends[] = {
#ifdef CONFIG_VMX_HV_SVM
	&svm_backend_ops,
#endif
#ifdef CONFIG_VMX_HV_INTEL
	&vtx_backend_ops,
#endif
};

/*
 * Per-CPU "virtualization is on here".  Only changed on the CPU itself
 * with IRQs off, so enable/disable from hotplug, IPIs and syscore never
 * race each other on one CPU.
 */
static DEFINE_PER_CPU(bool, vmx_cpu_enabled);
static atomic_t vmx_cpus_enabled = ATOMIC_INIT(0);
static enum cpuhp_state vmx_cpuhp_state;

/* Set once we are going down for reboot: never enable again after it. */
static bool vmx_rebooting;

unsigned int vmx_nr_cpus_enabled(void)
{
	return atomic_read(&vmx_cpus_enabled);
}

static int vmx_cpu_enable_this(void)
{
	int ret;

	lockdep_assert_irqs_disabled();
	if (__this_cpu_read(vmx_cpu_enabled))
		return 0;
	if (READ_ONCE(vmx_rebooting))
		return -EBUSY;
	ret = vmx_ops->cpu_enable();
	if (ret)
		return ret;
	__this_cpu_write(vmx_cpu_enabled, true);
	atomic_inc(&vmx_cpus_enabled);
	return 0;
}

static void vmx_cpu_disable_this(void)
{
	lockdep_assert_irqs_disabled();
	if (!__this_cpu_read(vmx_cpu_enabled))
		return;
	vmx_spec_cpu_down();
	vmx_ops->cpu_disable();
	__this_cpu_write(vmx_cpu_enabled, false);
	atomic_dec(&vmx_cpus_enabled);
}

static int vmx_cpu_online(unsigned int cpu)
{
	unsigned long flags;
	int ret;

	local_irq_save(flags);
	ret = vmx_cpu_enable_this();
	local_irq_restore(flags);
	if (ret == -EBUSY)
		pr_err("CPU %u: %s is already in use by another hypervisor (kvm?); unload it first\n",
		       cpu, vmx_ops->name);
	else if (ret)
		pr_err("CPU %u: cannot enable %s: %d\n", cpu, vmx_ops->name, ret);
	return ret;
}

static int vmx_cpu_offline(unsigned int cpu)
{
	unsigned long flags;

	local_irq_save(flags);
	vmx_cpu_disable_this();
	local_irq_restore(flags);
	return 0;
}

static void vmx_cpu_disable_ipi(void *unused)
{
	vmx_cpu_disable_this();
}

/*
 * Reboot and kexec: leave every CPU with virtualization off, since the
 * next kernel (or the firmware) expects it so.  VMX in particular blocks
 * INIT, which would keep the next kernel from starting the other CPUs.
 */
static int vmx_reboot_notify(struct notifier_block *nb, unsigned long code,
			     void *unused)
{
	WRITE_ONCE(vmx_rebooting, true);
	on_each_cpu(vmx_cpu_disable_ipi, NULL, 1);
	return NOTIFY_OK;
}

static struct notifier_block vmx_reboot_nb = {
	.notifier_call = vmx_reboot_notify,
};

/*
 * Crash and emergency reboot: called on every CPU from NMI context by the
 * kernel's shutdown code.  No locks, no per-CPU bookkeeping.
 */
static void vmx_cpu_emergency_disable(void)
{
	vmx_ops->cpu_emergency_disable();
}

/*
 * Suspend runs with only the boot CPU left (the others went through
 * hotplug offline), IRQs off.
 */
static int vmx_suspend(VMX_SYSCORE_ARG)
{
	vmx_cpu_disable_this();
	return 0;
}

static void vmx_resume(VMX_SYSCORE_ARG)
{
	if (vmx_cpu_enable_this())
		pr_err("CPU %d: cannot re-enable %s after resume\n",
		       smp_processor_id(), vmx_ops->name);
}

VMX_SYSCORE_DEFINE(vmx_syscore, vmx_suspend, vmx_resume);

static const struct vmx_backend_ops *vmx_pick_backend(void)
{
	int i, ret;

	for (i = 0; i < ARRAY_SIZE(vmx_backends); i++) {
		ret = vmx_backends[i]->probe();
		if (!ret)
			return vmx_backends[i];
	}
	return NULL;
}

static const struct file_operations vmx_dev_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= vmx_dev_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice vmx_dev = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "vmx",
	.fops	= &vmx_dev_fops,
	.mode	= 0600,
};

static int vmx_enable_all_cpus(void)
{
	int ret;

	ret = cpuhp_setup_state(CPUHP_AP_ONLINE_DYN, "vmx:online",
				vmx_cpu_online, vmx_cpu_offline);
	if (ret < 0)
		return ret;
	vmx_cpuhp_state = ret;
	return 0;
}

static void vmx_disable_all_cpus(void)
{
	cpuhp_remove_state(vmx_cpuhp_state);
}

/*
 * KVM registers the kernel's single emergency-disable callback as soon as
 * its vendor module loads (6.1) or enables virtualization (6.12), even
 * while no CPU is in VMX/SVM mode yet.  Two hypervisors cannot share
 * that slot, so refuse to load beside a loaded kvm.ko at all.
 */
static bool vmx_kvm_is_loaded(void)
{
	void *sym = __symbol_get("kvm_rebooting");

	if (!sym)
		return false;
	__symbol_put("kvm_rebooting");
	return true;
}

static int __init vmx_init(void)
{
	int ret;

	if (vmx_kvm_is_loaded()) {
		pr_err("kvm is loaded and owns the CPU's virtualization extension; unload kvm_amd/kvm_intel and kvm first\n");
		return -EBUSY;
	}

	vmx_ops = vmx_pick_backend();
	if (!vmx_ops) {
		pr_err("no usable virtualization extension (AMD SVM with NPT or Intel VMX with EPT) on this CPU\n");
		return -ENODEV;
	}

	ret = vmx_spec_init();
	if (ret)
		return ret;
	ret = vmx_ops->hardware_setup();
	if (ret)
		return ret;
	vmx_fpu_setup();
	/* vCPU threads use preempt notifiers; the static key must be on. */
	preempt_notifier_inc();

	ret = vmx_enable_all_cpus();
	if (ret)
		goto out_unsetup;
	/*
	 * Registered only once every CPU is ours: the slot is single and a
	 * failed enable means another hypervisor may hold it.
	 */
	cpu_emergency_register_virt_callback(vmx_cpu_emergency_disable);

	register_reboot_notifier(&vmx_reboot_nb);
	vmx_syscore_register(&vmx_syscore);

	vmx_guest_clock_init();
	ret = vmx_netlink_init();
	if (ret)
		goto out_disable;
	ret = misc_register(&vmx_dev);
	if (ret) {
		pr_err("cannot register /dev/vmx: %d\n", ret);
		goto out_netlink;
	}

	pr_info("%s backend enabled on %u CPUs\n", vmx_ops->name,
		vmx_nr_cpus_enabled());
	return 0;

out_netlink:
	vmx_netlink_exit();
out_disable:
	vmx_syscore_unregister(&vmx_syscore);
	unregister_reboot_notifier(&vmx_reboot_nb);
	vmx_disable_all_cpus();
	cpu_emergency_unregister_virt_callback(vmx_cpu_emergency_disable);
out_unsetup:
	preempt_notifier_dec();
	vmx_ops->hardware_unsetup();
	return ret;
}

static void __exit vmx_exit(void)
{
	misc_deregister(&vmx_dev);
	vmx_netlink_exit();
	vmx_syscore_unregister(&vmx_syscore);
	unregister_reboot_notifier(&vmx_reboot_nb);
	vmx_disable_all_cpus();
	cpu_emergency_unregister_virt_callback(vmx_cpu_emergency_disable);
	preempt_notifier_dec();
	vmx_ops->hardware_unsetup();
	/* Slots freed by RCU callbacks of this module. */
	rcu_barrier();
	pr_info("%s backend disabled\n", vmx_ops->name);
}

module_init(vmx_init);
module_exit(vmx_exit);

MODULE_DESCRIPTION("vmx: a small hypervisor for AMD SVM and Intel VMX");
MODULE_LICENSE("GPL");
