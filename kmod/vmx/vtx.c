// SPDX-License-Identifier: GPL-2.0
/*
 * Intel VMX backend: capabilities and controls, VMXON/VMXOFF per CPU and
 * the ops table.  The VMCS of a vCPU is in vtx_vmcs.c, register and MSR
 * access in vtx_state.c, EPT in vtx_ept.c, the run loop step in
 * vtx_entry.c, exit handlers in vtx_exit.c, the world switch in vtx_run.S.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": intel: " fmt

#include <linux/cpu.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/percpu.h>
#include <linux/smp.h>
#include <asm/cpufeature.h>
#include <asm/io.h>
#include <asm/msr.h>
#include <asm/processor.h>
#include <asm/tlbflush.h>
#include <asm/tsc.h>

#include "vtx.h"

/*
 * Per-CPU VMX state.
 * vtx_vmxon_page:	VMXON region, stamped with the VMCS revision id
 * vtx_current:		the vCPU whose VMCS is current here (VMPTRLD)
 * vtx_loaded:		vCPUs whose VMCS is active here; each must be
 *			VMCLEARed on this CPU before it runs elsewhere or
 *			VMX goes off.  Changed only here with IRQs off.
 * vtx_host_dirty:	a VM exit left the host GDT/TR limits at the
 *			architectural values; restore them at vcpu_put
 */
static DEFINE_PER_CPU(struct page *, vtx_vmxon_page);
DEFINE_PER_CPU(struct vtx_vcpu *, vtx_current);
DEFINE_PER_CPU(struct list_head, vtx_loaded);
DEFINE_PER_CPU(bool, vtx_host_dirty);

/* Capabilities, fixed once probed. */
u32 vtx_revision_id;
u32 vtx_pin_ctls, vtx_primary_ctls, vtx_secondary_ctls;
u32 vtx_exit_ctls, vtx_entry_ctls;
u64 vtx_ept_vpid_cap;
u64 vtx_cr0_fixed0, vtx_cr4_fixed0, vtx_cr4_fixed1;
u64 vtx_cr4_allowed;
u32 vtx_preempt_timer;
bool vtx_has_vpid, vtx_l1d_flush;
bool vtx_has_inout_info;

/* Host SYSCALL MSRs: the same on every CPU, constant while we run. */
u64 vtx_host_msrs[VTX_NR_GUEST_MSRS];
const u32 vtx_guest_msr_index[VTX_NR_GUEST_MSRS] = {
	[VTX_MSR_STAR]		= MSR_STAR,
	[VTX_MSR_LSTAR]		= MSR_LSTAR,
	[VTX_MSR_CSTAR]		= MSR_CSTAR,
	[VTX_MSR_SFMASK]	= MSR_SYSCALL_MASK,
	[VTX_MSR_KERNEL_GS_BASE] = MSR_KERNEL_GS_BASE,
};

void vtx_insn_error(const char *insn, u64 arg)
{
	pr_err_ratelimited("%s failed (0x%llx) on CPU %d\n", insn, arg,
			   raw_smp_processor_id());
}

/* ---- capabilities and controls ---- */

/*
 * A control word: @required must be allowed, @optional where allowed,
 * plus whatever the CPU forces to 1.
 */
static int vtx_adjust_ctls(u32 msr, u32 required, u32 optional, u32 *out)
{
	u64 cap;
	u32 ctl;

	rdmsrl(msr, cap);
	ctl = ((required | optional) & vtx_ctl_allowed1(cap)) | (u32)cap;
	if ((ctl & required) != required) {
		pr_err("MSR 0x%x lacks controls 0x%x\n", msr, required & ~ctl);
		return -EOPNOTSUPP;
	}
	*out = ctl;
	return 0;
}

/* CR4 bits a guest may have (never VMXE, SMXE, PKE, CET, ...). */
#define VTX_CR4_ALLOWED	(X86_CR4_VME | X86_CR4_PVI | X86_CR4_TSD | \
			 X86_CR4_DE | X86_CR4_PSE | X86_CR4_PAE | \
			 X86_CR4_MCE | X86_CR4_PGE | X86_CR4_PCE | \
			 X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT | X86_CR4_UMIP | \
			 X86_CR4_LA57 | X86_CR4_FSGSBASE | X86_CR4_PCIDE | \
			 X86_CR4_OSXSAVE | X86_CR4_SMEP | X86_CR4_SMAP)

static u64 vtx_calc_cr4_allowed(void)
{
	u64 allowed = VTX_CR4_ALLOWED & vtx_cr4_fixed1 & ~X86_CR4_VMXE;

	/* Only what the CPU itself implements. */
	if (!boot_cpu_has(X86_FEATURE_LA57))
		allowed &= ~X86_CR4_LA57;
	if (!boot_cpu_has(X86_FEATURE_UMIP))
		allowed &= ~X86_CR4_UMIP;
	if (!boot_cpu_has(X86_FEATURE_FSGSBASE))
		allowed &= ~X86_CR4_FSGSBASE;
	if (!boot_cpu_has(X86_FEATURE_PCID))
		allowed &= ~X86_CR4_PCIDE;
	if (!boot_cpu_has(X86_FEATURE_XSAVE))
		allowed &= ~X86_CR4_OSXSAVE;
	if (!boot_cpu_has(X86_FEATURE_SMEP))
		allowed &= ~X86_CR4_SMEP;
	if (!boot_cpu_has(X86_FEATURE_SMAP))
		allowed &= ~X86_CR4_SMAP;
	return allowed;
}

/*
 * The VMX-preemption timer ends every stay in the guest after about a
 * scheduler tick.  Host interrupts exit anyway; this is the safety net
 * for CPUs (Bochs among them) that miss external-interrupt exits while
 * the guest runs with RFLAGS.IF clear, so that a spinning guest can
 * always be interrupted by a signal.
 */
static u32 vtx_calc_preempt_timer(void)
{
	u64 misc, ticks;

	rdmsrl(MSR_IA32_VMX_MISC, misc);
	ticks = tsc_khz ? (u64)tsc_khz * 1000 / HZ : 1ULL << 24;
	ticks >>= misc & VTX_MISC_PREEMPT_RATE_MASK;
	return clamp_t(u64, ticks, 1, U32_MAX);
}

static int vtx_setup_controls(void)
{
	bool true_ctls;
	u64 basic;
	int ret;

	rdmsrl(MSR_IA32_VMX_BASIC, basic);
	true_ctls = basic & VTX_BASIC_TRUE_CTLS;
	vtx_has_inout_info = basic & VTX_BASIC_INOUT_INFO;

	ret = vtx_adjust_ctls(true_ctls ? MSR_IA32_VMX_TRUE_PINBASED_CTLS :
			      MSR_IA32_VMX_PINBASED_CTLS,
			      PIN_BASED_EXT_INTR_MASK | PIN_BASED_NMI_EXITING,
			      PIN_BASED_VIRTUAL_NMIS | PIN_BASED_VMX_PREEMPTION_TIMER,
			      &vtx_pin_ctls);
	if (ret)
		return ret;
	ret = vtx_adjust_ctls(true_ctls ? MSR_IA32_VMX_TRUE_PROCBASED_CTLS :
			      MSR_IA32_VMX_PROCBASED_CTLS,
			      CPU_BASED_HLT_EXITING | CPU_BASED_UNCOND_IO_EXITING |
			      CPU_BASED_USE_MSR_BITMAPS | CPU_BASED_MWAIT_EXITING |
			      CPU_BASED_MONITOR_EXITING | CPU_BASED_TPR_SHADOW |
			      CPU_BASED_USE_TSC_OFFSETTING |
			      CPU_BASED_MOV_DR_EXITING | CPU_BASED_RDPMC_EXITING |
			      CPU_BASED_ACTIVATE_SECONDARY_CONTROLS,
			      0, &vtx_primary_ctls);
	if (ret)
		return ret;
	/* Window exits are switched on only when wanted. */
	vtx_primary_ctls &= ~(CPU_BASED_INTR_WINDOW_EXITING |
			      CPU_BASED_NMI_WINDOW_EXITING);
	ret = vtx_adjust_ctls(MSR_IA32_VMX_PROCBASED_CTLS2,
			      SECONDARY_EXEC_ENABLE_EPT |
			      SECONDARY_EXEC_UNRESTRICTED_GUEST,
			      SECONDARY_EXEC_ENABLE_VPID |
			      SECONDARY_EXEC_ENABLE_RDTSCP |
			      SECONDARY_EXEC_ENABLE_INVPCID |
			      SECONDARY_EXEC_WBINVD_EXITING, &vtx_secondary_ctls);
	if (ret)
		return ret;
	ret = vtx_adjust_ctls(true_ctls ? MSR_IA32_VMX_TRUE_EXIT_CTLS :
			      MSR_IA32_VMX_EXIT_CTLS,
			      VM_EXIT_HOST_ADDR_SPACE_SIZE | VM_EXIT_SAVE_IA32_EFER |
			      VM_EXIT_LOAD_IA32_EFER | VM_EXIT_SAVE_IA32_PAT |
			      VM_EXIT_LOAD_IA32_PAT | VM_EXIT_SAVE_DEBUG_CONTROLS,
			      0, &vtx_exit_ctls);
	if (ret)
		return ret;
	ret = vtx_adjust_ctls(true_ctls ? MSR_IA32_VMX_TRUE_ENTRY_CTLS :
			      MSR_IA32_VMX_ENTRY_CTLS,
			      VM_ENTRY_LOAD_IA32_EFER | VM_ENTRY_LOAD_IA32_PAT |
			      VM_ENTRY_LOAD_DEBUG_CONTROLS, 0, &vtx_entry_ctls);
	if (ret)
		return ret;
	/* Follows the guest's EFER.LMA, entry by entry. */
	vtx_entry_ctls &= ~VM_ENTRY_IA32E_MODE;

	rdmsrl(MSR_IA32_VMX_EPT_VPID_CAP, vtx_ept_vpid_cap);
	if ((vtx_ept_vpid_cap & (VTX_EPT_CAP_WALK4 | VTX_EPT_CAP_WB |
				 VTX_EPT_CAP_INVEPT)) !=
	    (VTX_EPT_CAP_WALK4 | VTX_EPT_CAP_WB | VTX_EPT_CAP_INVEPT) ||
	    !(vtx_ept_vpid_cap & (VTX_EPT_CAP_INVEPT_SINGLE | VTX_EPT_CAP_INVEPT_ALL))) {
		pr_err("EPT without 4-level WB tables or INVEPT\n");
		return -EOPNOTSUPP;
	}
	vtx_has_vpid = (vtx_secondary_ctls & SECONDARY_EXEC_ENABLE_VPID) &&
		       (vtx_ept_vpid_cap & VTX_VPID_CAP_INVVPID) &&
		       (vtx_ept_vpid_cap & (VTX_VPID_CAP_SINGLE | VTX_VPID_CAP_ALL));
	if (!vtx_has_vpid)
		vtx_secondary_ctls &= ~SECONDARY_EXEC_ENABLE_VPID;

	if (vtx_pin_ctls & PIN_BASED_VMX_PREEMPTION_TIMER)
		vtx_preempt_timer = vtx_calc_preempt_timer();

	rdmsrl(MSR_IA32_VMX_CR0_FIXED0, vtx_cr0_fixed0);
	rdmsrl(MSR_IA32_VMX_CR4_FIXED0, vtx_cr4_fixed0);
	rdmsrl(MSR_IA32_VMX_CR4_FIXED1, vtx_cr4_fixed1);
	vtx_cr4_allowed = vtx_calc_cr4_allowed();
	return 0;
}

/* ---- module and CPU level ---- */

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
	return vtx_setup_controls();

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
	int cpu, i;

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
		INIT_LIST_HEAD(per_cpu_ptr(&vtx_loaded, cpu));
	}
	for (i = 0; i < VTX_NR_GUEST_MSRS; i++)
		rdmsrl(vtx_guest_msr_index[i], vtx_host_msrs[i]);
	/* The user GS base differs per task: read at every entry. */
	vtx_host_msrs[VTX_MSR_KERNEL_GS_BASE] = 0;
	vtx_l1d_flush = boot_cpu_has_bug(X86_BUG_L1TF) &&
			boot_cpu_has(X86_FEATURE_FLUSH_L1D) &&
			!cpu_mitigations_off();
	pr_info("VPID %s, unrestricted guest, L1D flush %s\n",
		vtx_has_vpid ? "yes" : "no", vtx_l1d_flush ? "yes" : "no");
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
	/* Stale EPT translations from a previous VMX user. */
	vtx_invept(VTX_INVEPT_ALL, 0);
	return 0;

out_clear_vmxe:
	cr4_clear_bits(X86_CR4_VMXE);
	return ret;
}

static void vtx_cpu_disable(void)
{
	vtx_vmcs_clear_all();
	vtx_vmxoff();
	cr4_clear_bits(X86_CR4_VMXE);
}

static void vtx_cpu_emergency_disable(void)
{
	if (!(__read_cr4() & X86_CR4_VMXE))
		return;
	/* For a kdump kernel that wants to read the guests' state. */
	vtx_vmcs_clear_all();
	vtx_vmxoff();
	cr4_clear_bits(X86_CR4_VMXE);
}

const struct vmx_backend_ops vtx_backend_ops = {
	.name			= "intel",
	.backend_id		= VMX_BACKEND_INTEL,
	.features		= VMX_FEAT_NESTED_PAGING | VMX_FEAT_VCPUS,
	.probe			= vtx_probe,
	.hardware_setup		= vtx_hardware_setup,
	.hardware_unsetup	= vtx_hardware_unsetup,
	.cpu_enable		= vtx_cpu_enable,
	.cpu_disable		= vtx_cpu_disable,
	.cpu_emergency_disable	= vtx_cpu_emergency_disable,
	.npt_format		= &vtx_ept_format,
	.vcpu_size		= sizeof(struct vtx_vcpu),
	.vcpu_init		= vtx_vcpu_init,
	.vcpu_free		= vtx_vcpu_free,
	.vcpu_load		= vtx_vcpu_load,
	.vcpu_put		= vtx_vcpu_put,
	.vcpu_run		= vtx_vcpu_run,
	.get_sregs		= vtx_get_sregs,
	.set_sregs		= vtx_set_sregs,
	.get_msr		= vtx_get_msr,
	.set_msr		= vtx_set_msr,
	.get_events		= vtx_get_events,
	.set_events		= vtx_set_events,
	.irq_window_open	= vtx_irq_window_open,
	.nmi_allowed		= vtx_nmi_allowed,
	.get_debugregs		= vtx_get_debugregs,
	.set_debugregs		= vtx_set_debugregs,
	.note_single_step	= vtx_note_single_step,
	.cpuid_policy		= &vtx_cpuid_policy,
};
