// SPDX-License-Identifier: GPL-2.0
/*
 * AMD SVM backend: probing, per-CPU enable/disable and the ops table.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": svm: " fmt

#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/percpu.h>
#include <asm/cpufeature.h>
#include <asm/msr.h>
#include <asm/io.h>
#include <asm/processor.h>

#include "../core.h"
#include "svm.h"

/* Host state save area that VMRUN uses, one page per CPU (VM_HSAVE_PA). */
static DEFINE_PER_CPU(struct page *, svm_hsave_page);

static int svm_probe(void)
{
	if (boot_cpu_data.x86_vendor != X86_VENDOR_AMD &&
	    boot_cpu_data.x86_vendor != X86_VENDOR_HYGON)
		return -ENODEV;
	if (!boot_cpu_has(X86_FEATURE_SVM))
		return -ENODEV;
	if (!boot_cpu_has(X86_FEATURE_NPT)) {
		pr_err("SVM without nested paging (NPT) is not supported\n");
		return -EOPNOTSUPP;
	}
	return 0;
}

static void svm_free_hsave_pages(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		struct page **page = per_cpu_ptr(&svm_hsave_page, cpu);

		if (*page)
			__free_page(*page);
		*page = NULL;
	}
}

static int svm_hardware_setup(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		struct page *page = alloc_pages_node(cpu_to_node(cpu),
						     GFP_KERNEL | __GFP_ZERO, 0);

		if (!page) {
			svm_free_hsave_pages();
			return -ENOMEM;
		}
		per_cpu(svm_hsave_page, cpu) = page;
	}
	return 0;
}

static void svm_hardware_unsetup(void)
{
	svm_free_hsave_pages();
}

static int svm_cpu_enable(void)
{
	u64 efer, vm_cr;

	rdmsrl(MSR_EFER, efer);
	if (efer & EFER_SVME)
		return -EBUSY;

	/* The BIOS may lock SVM off (VM_CR.SVMDIS). */
	rdmsrl(MSR_VM_CR, vm_cr);
	if (vm_cr & SVM_VM_CR_SVMDIS)
		return -EOPNOTSUPP;

	wrmsrl(MSR_EFER, efer | EFER_SVME);
	wrmsrl(MSR_VM_HSAVE_PA, page_to_phys(__this_cpu_read(svm_hsave_page)));
	return 0;
}

static void svm_cpu_disable(void)
{
	u64 efer;

	wrmsrl(MSR_VM_HSAVE_PA, 0);
	rdmsrl(MSR_EFER, efer);
	wrmsrl(MSR_EFER, efer & ~EFER_SVME);
}

/*
 * A crash may have hit between CLGI and STGI: set GIF again, or INIT
 * stays blocked, before turning SVM off.
 */
static void svm_cpu_emergency_disable(void)
{
	u64 efer;

	rdmsrl(MSR_EFER, efer);
	if (!(efer & EFER_SVME))
		return;
	svm_stgi();
	wrmsrl(MSR_EFER, efer & ~EFER_SVME);
}

const struct vmx_backend_ops svm_backend_ops = {
	.name			= "svm",
	.backend_id		= VMX_BACKEND_SVM,
	.features		= VMX_FEAT_NESTED_PAGING,
	.probe			= svm_probe,
	.hardware_setup		= svm_hardware_setup,
	.hardware_unsetup	= svm_hardware_unsetup,
	.cpu_enable		= svm_cpu_enable,
	.cpu_disable		= svm_cpu_disable,
	.cpu_emergency_disable	= svm_cpu_emergency_disable,
};
