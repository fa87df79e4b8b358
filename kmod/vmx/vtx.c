// SPDX-License-Identifier: GPL-2.0
/*
 * Intel VMX backend: probing, VMXON/VMXOFF per CPU and the ops table.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": intel: " fmt

#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/percpu.h>
#include <asm/cpufeature.h>
#include <asm/msr.h>
#include <asm/io.h>
#include <asm/processor.h>
#include <asm/special_insns.h>
#include <asm/tlbflush.h>
#include <asm/vmx.h>

#include "../core.h"
#include "vtx.h"

/* VMXON region, one page per CPU, stamped with the VMCS revision id. */
static DEFINE_PER_CPU(struct page *, vtx_vmxon_page);
static u32 vtx_revision_id;

static int vtx_probe(void)
{
	u64 procbased, procbased2;
	u32 need2 = SECONDARY_EXEC_ENABLE_EPT;

	if (boot_cpu_data.x86_vendor != X86_VENDOR_INTEL &&
	    boot_cpu_data.x86_vendor != X86_VENDOR_ZHAOXIN &&
	    boot_cpu_data.x86_vendor != X86_VENDOR_CENTAUR)
		return -ENODEV;
	/* Cleared by the kernel when firmware locked VMX off. */
	if (!boot_cpu_has(X86_FEATURE_VMX))
		return -ENODEV;

	rdmsrl(MSR_IA32_VMX_PROCBASED_CTLS, procbased);
	if (!(vtx_ctl_allowed1(procbased) & CPU_BASED_ACTIVATE_SECONDARY_CONTROLS))
		goto no_ept;
	rdmsrl(MSR_IA32_VMX_PROCBASED_CTLS2, procbased2);
	if ((vtx_ctl_allowed1(procbased2) & need2) != need2)
		goto no_ept;
	return 0;

no_ept:
	pr_err("VMX without EPT is not supported\n");
	return -EOPNOTSUPP;
}

static void vtx_free_vmxon_pages(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		struct page **page = per_cpu_ptr(&vtx_vmxon_page, cpu);

		if (*page)
			__free_page(*page);
		*page = NULL;
	}
}

static int vtx_hardware_setup(void)
{
	u64 basic, size;
	int cpu;

	rdmsrl(MSR_IA32_VMX_BASIC, basic);
	size = (basic >> VTX_BASIC_REGION_SIZE_SHIFT) & VTX_BASIC_REGION_SIZE_MASK;
	if (size > PAGE_SIZE) {
		pr_err("VMXON region of %llu bytes is larger than a page\n", size);
		return -EOPNOTSUPP;
	}
	vtx_revision_id = basic & VTX_BASIC_REVISION_MASK;

	for_each_possible_cpu(cpu) {
		struct page *page = alloc_pages_node(cpu_to_node(cpu),
						     GFP_KERNEL | __GFP_ZERO, 0);

		if (!page) {
			vtx_free_vmxon_pages();
			return -ENOMEM;
		}
		*(u32 *)page_address(page) = vtx_revision_id;
		per_cpu(vtx_vmxon_page, cpu) = page;
	}
	return 0;
}

static void vtx_hardware_unsetup(void)
{
	vtx_free_vmxon_pages();
}

/* CR0/CR4 must satisfy the fixed-bit MSRs in VMX operation. */
static bool vtx_cr_fixed_bits_ok(unsigned long cr, u32 fixed0_msr,
				 u32 fixed1_msr)
{
	u64 fixed0, fixed1;

	rdmsrl(fixed0_msr, fixed0);
	rdmsrl(fixed1_msr, fixed1);
	return (cr & fixed0) == fixed0 && !(cr & ~fixed1);
}

static int vtx_cpu_enable(void)
{
	u64 feat_ctl;
	int ret;

	if (cr4_read_shadow() & X86_CR4_VMXE)
		return -EBUSY;

	rdmsrl(MSR_IA32_FEAT_CTL, feat_ctl);
	if (!(feat_ctl & FEAT_CTL_LOCKED) ||
	    !(feat_ctl & FEAT_CTL_VMX_ENABLED_OUTSIDE_SMX))
		return -EOPNOTSUPP;

	cr4_set_bits(X86_CR4_VMXE);
	if (!vtx_cr_fixed_bits_ok(read_cr0(), MSR_IA32_VMX_CR0_FIXED0,
				  MSR_IA32_VMX_CR0_FIXED1) ||
	    !vtx_cr_fixed_bits_ok(__read_cr4(), MSR_IA32_VMX_CR4_FIXED0,
				  MSR_IA32_VMX_CR4_FIXED1)) {
		ret = -EOPNOTSUPP;
		goto out_clear_vmxe;
	}

	ret = vtx_vmxon(page_to_phys(__this_cpu_read(vtx_vmxon_page)));
	if (ret)
		goto out_clear_vmxe;
	return 0;

out_clear_vmxe:
	cr4_clear_bits(X86_CR4_VMXE);
	return ret;
}

static void vtx_cpu_disable(void)
{
	vtx_vmxoff();
	cr4_clear_bits(X86_CR4_VMXE);
}

static void vtx_cpu_emergency_disable(void)
{
	if (!(__read_cr4() & X86_CR4_VMXE))
		return;
	vtx_vmxoff();
	cr4_clear_bits(X86_CR4_VMXE);
}

/* EPT entries (SDM Vol. 3, 29.3.2): read/write/execute, memory type WB. */
#define VTX_EPT_READ		BIT_ULL(0)
#define VTX_EPT_WRITE		BIT_ULL(1)
#define VTX_EPT_EXEC		BIT_ULL(2)
#define VTX_EPT_MT_WB		(6ULL << 3)
#define VTX_EPT_LARGE		BIT_ULL(7)
#define VTX_EPT_RWX		(VTX_EPT_READ | VTX_EPT_WRITE | VTX_EPT_EXEC)

static u64 vtx_ept_table_entry(phys_addr_t pa)
{
	return pa | VTX_EPT_RWX;
}

static u64 vtx_ept_leaf_entry(phys_addr_t pa, unsigned int prot, bool huge)
{
	u64 pte = pa | VTX_EPT_READ | VTX_EPT_MT_WB;

	if (prot & VMX_NPT_WRITE)
		pte |= VTX_EPT_WRITE;
	if (prot & VMX_NPT_EXEC)
		pte |= VTX_EPT_EXEC;
	if (huge)
		pte |= VTX_EPT_LARGE;
	return pte;
}

static bool vtx_ept_present(u64 pte)
{
	return pte & VTX_EPT_RWX;
}

static bool vtx_ept_huge(u64 pte)
{
	return pte & VTX_EPT_LARGE;
}

const struct vmx_backend_ops vtx_backend_ops = {
	.name			= "intel",
	.backend_id		= VMX_BACKEND_INTEL,
	.features		= VMX_FEAT_NESTED_PAGING,
	.probe			= vtx_probe,
	.hardware_setup		= vtx_hardware_setup,
	.hardware_unsetup	= vtx_hardware_unsetup,
	.cpu_enable		= vtx_cpu_enable,
	.cpu_disable		= vtx_cpu_disable,
	.cpu_emergency_disable	= vtx_cpu_emergency_disable,
	.npt_table_entry	= vtx_ept_table_entry,
	.npt_leaf_entry		= vtx_ept_leaf_entry,
	.npt_present		= vtx_ept_present,
	.npt_huge		= vtx_ept_huge,
};
