// SPDX-License-Identifier: GPL-2.0
/*
 * Intel VMX backend: capabilities and controls, VMXON/VMXOFF per CPU,
 * the VMCS of a vCPU (which CPU holds it, host and guest state), register
 * and MSR access, the run loop step and the ops table.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": intel: " fmt

#include <linux/cpu.h>
#include <linux/gfp.h>
#include <linux/idr.h>
#include <linux/mm.h>
#include <linux/percpu.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/uaccess.h>
#include <asm/cpu_entry_area.h>
#include <asm/cpufeature.h>
#include <asm/debugreg.h>
#include <asm/desc.h>
#include <asm/io.h>
#include <asm/msr.h>
#include <asm/processor.h>
#include <asm/segment.h>
#include <asm/special_insns.h>
#include <asm/tlbflush.h>
#include <asm/traps.h>
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
static DEFINE_PER_CPU(struct vtx_vcpu *, vtx_current);
static DEFINE_PER_CPU(struct list_head, vtx_loaded);
static DEFINE_PER_CPU(bool, vtx_host_dirty);

/* Capabilities, fixed once probed. */
static u32 vtx_revision_id;
static u32 vtx_pin_ctls, vtx_primary_ctls, vtx_secondary_ctls;
static u32 vtx_exit_ctls, vtx_entry_ctls;
static u64 vtx_ept_vpid_cap;
static u64 vtx_cr0_fixed0, vtx_cr4_fixed0, vtx_cr4_fixed1;
static u64 vtx_cr4_allowed;
static u32 vtx_preempt_timer;
static bool vtx_has_vpid, vtx_l1d_flush;
bool vtx_has_inout_info;

/* VPIDs in use; 0 is the host's. */
static DEFINE_IDA(vtx_vpid_ida);

/* Host SYSCALL MSRs: the same on every CPU, constant while we run. */
static u64 vtx_host_msrs[VTX_NR_GUEST_MSRS];
static const u32 vtx_guest_msr_index[VTX_NR_GUEST_MSRS] = {
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
			      VM_EXIT_LOAD_IA32_PAT, 0, &vtx_exit_ctls);
	if (ret)
		return ret;
	ret = vtx_adjust_ctls(true_ctls ? MSR_IA32_VMX_TRUE_ENTRY_CTLS :
			      MSR_IA32_VMX_ENTRY_CTLS,
			      VM_ENTRY_LOAD_IA32_EFER | VM_ENTRY_LOAD_IA32_PAT,
			      0, &vtx_entry_ctls);
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

/* VMCLEAR @vtx on the CPU it is active on; IRQs off, that CPU. */
static void vtx_vmcs_clear_local(struct vtx_vcpu *vtx)
{
	vtx_vmclear(vtx->vmcs_pa);
	if (__this_cpu_read(vtx_current) == vtx)
		__this_cpu_write(vtx_current, NULL);
	list_del(&vtx->loaded_link);
	vtx->launched = false;
	/* Everything above is visible before the vCPU may move on. */
	smp_wmb();
	WRITE_ONCE(vtx->loaded_cpu, -1);
}

static void vtx_vmcs_clear_ipi(void *arg)
{
	struct vtx_vcpu *vtx = arg;

	if (READ_ONCE(vtx->loaded_cpu) == smp_processor_id())
		vtx_vmcs_clear_local(vtx);
}

/* Flush every VMCS active here to memory: VMXOFF would lose them. */
static void vtx_vmcs_clear_all(void)
{
	struct vtx_vcpu *vtx, *tmp;

	list_for_each_entry_safe(vtx, tmp, this_cpu_ptr(&vtx_loaded), loaded_link)
		vtx_vmcs_clear_local(vtx);
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

/* ---- which CPU holds the VMCS ---- */

/* Host state that differs between CPUs; the VMCS is current here. */
static void vtx_set_host_cpu_state(int cpu)
{
	struct desc_ptr dt;
	u64 v;

	native_store_gdt(&dt);
	vtx_vmwrite(HOST_GDTR_BASE, dt.address);
	store_idt(&dt);
	vtx_vmwrite(HOST_IDTR_BASE, dt.address);
	vtx_vmwrite(HOST_TR_BASE,
		    (unsigned long)&get_cpu_entry_area(cpu)->tss.x86_tss);
	/* In the kernel, GS base is this CPU's per-CPU area. */
	rdmsrl(MSR_GS_BASE, v);
	vtx_vmwrite(HOST_GS_BASE, v);
	rdmsrl(MSR_IA32_SYSENTER_ESP, v);
	vtx_vmwrite(HOST_IA32_SYSENTER_ESP, v);
}

/*
 * Make the vCPU's VMCS current on @cpu (preemption off, IRQs on).  A
 * VMCS active on another CPU is VMCLEARed there first; on a new CPU the
 * per-CPU host state is rewritten and the guest TLB flushed, since this
 * CPU may hold stale translations tagged with our VPID/EPTP.
 */
static void vtx_vcpu_load(struct vmx_vcpu *vcpu, int cpu)
{
	struct vtx_vcpu *vtx = to_vtx(vcpu);
	int old = READ_ONCE(vtx->loaded_cpu);
	unsigned long flags;

	if (old != cpu) {
		if (old >= 0)
			smp_call_function_single(old, vtx_vmcs_clear_ipi, vtx, 1);
		/* Pairs with the smp_wmb() in vtx_vmcs_clear_local(). */
		smp_rmb();
		local_irq_save(flags);
		list_add(&vtx->loaded_link, this_cpu_ptr(&vtx_loaded));
		WRITE_ONCE(vtx->loaded_cpu, cpu);
		local_irq_restore(flags);
	}
	if (__this_cpu_read(vtx_current) != vtx) {
		vtx_vmptrld(vtx->vmcs_pa);
		__this_cpu_write(vtx_current, vtx);
	}
	if (old != cpu) {
		vtx_set_host_cpu_state(cpu);
		vtx->flush_tlb = true;
	}
	WRITE_ONCE(vcpu->cpu, cpu);
}

/*
 * The vCPU thread leaves this CPU (or user space is next): the VMCS
 * stays active here; only host state a VM exit left behind is repaired
 * (GDT limit 0xffff, TSS limit 0x67: matters to user space only).
 */
static void vtx_vcpu_put(struct vmx_vcpu *vcpu)
{
	if (!__this_cpu_read(vtx_host_dirty))
		return;
	__this_cpu_write(vtx_host_dirty, false);
	load_fixmap_gdt(smp_processor_id());
	invalidate_tss_limit();
}

/*
 * VMCS access outside the run loop (register ioctls): the vCPU thread
 * holds the vCPU mutex but has no preempt notifier registered, so make
 * the VMCS current on whatever CPU this is, with preemption off.
 */
static void vtx_vmcs_enter(struct vtx_vcpu *vtx)
{
	vtx_vcpu_load(&vtx->vcpu, get_cpu());
}

static void vtx_vmcs_leave(void)
{
	put_cpu();
}

/* ---- guest state ---- */

void vtx_skip_insn(struct vtx_vcpu *vtx)
{
	vtx->vcpu.rip += vtx_vmread(VM_EXIT_INSTRUCTION_LEN);
	/* Completing an instruction ends an STI/MOV SS shadow. */
	vtx->intr_state &= ~VTX_INTR_SHADOW;
}

void vtx_queue_exception(struct vtx_vcpu *vtx, u8 vector, bool has_error,
			 u32 error_code)
{
	vmx_vcpu_queue_exception(&vtx->vcpu, vector, has_error, error_code);
}

/* CR0 as the hardware runs it: NE on, CD/NW off, fixed bits set. */
static u64 vtx_hw_cr0(u64 cr0)
{
	return (cr0 & ~(X86_CR0_CD | X86_CR0_NW)) | X86_CR0_NE |
	       (vtx_cr0_fixed0 & ~(X86_CR0_PE | X86_CR0_PG));
}

/* CR0 and CR4 as the guest sees them; the VMCS is current. */
u64 vtx_guest_cr0(void)
{
	return (vtx_vmread(GUEST_CR0) & ~VTX_CR0_HOST_OWNED) |
	       (vtx_vmread(CR0_READ_SHADOW) & VTX_CR0_HOST_OWNED);
}

u64 vtx_guest_cr4(void)
{
	return (vtx_vmread(GUEST_CR4) & vtx_cr4_allowed) |
	       (vtx_vmread(CR4_READ_SHADOW) & ~vtx_cr4_allowed);
}

/* EFER and the IA-32e mode entry control, which must agree on LMA. */
static void vtx_write_efer(struct vtx_vcpu *vtx, u64 efer)
{
	u32 entry = vtx->entry_ctls & ~VM_ENTRY_IA32E_MODE;

	if (efer & EFER_LMA)
		entry |= VM_ENTRY_IA32E_MODE;
	vtx_vmwrite(GUEST_IA32_EFER, efer);
	if (entry != vtx->entry_ctls) {
		vtx->entry_ctls = entry;
		vtx_vmwrite(VM_ENTRY_CONTROLS, entry);
	}
}

/* Read guest-physical memory inside one page, in the VMM's context. */
static int vtx_read_guest(struct vmx_vcpu *vcpu, u64 gpa, void *buf,
			  size_t len)
{
	struct vmx_slot *slot;
	unsigned long hva = 0;

	rcu_read_lock();
	slot = vmx_slot_find(rcu_dereference(vcpu->vm->slots), gpa >> PAGE_SHIFT);
	if (slot)
		hva = slot->user_addr + gpa - (slot->base_gfn << PAGE_SHIFT);
	rcu_read_unlock();
	if (!hva || current->mm != vcpu->vm->mm)
		return -EFAULT;
	return copy_from_user(buf, (const void __user *)hva, len) ? -EFAULT : 0;
}

/*
 * PAE paging outside long mode: a VM entry takes the four PDPTEs from
 * the VMCS, so load them from the guest's CR3 as MOV to CR0 would (the
 * guest's own MOV to CR3 or CR4 loads them in hardware).  -EINVAL for
 * reserved bits in a present entry, which the guest gets as #GP.
 */
static int vtx_load_pdptrs(struct vtx_vcpu *vtx, u64 cr0, u64 cr4, u64 efer)
{
	u64 rsvd = VTX_PDPTE_RSVD | ~GENMASK_ULL(boot_cpu_data.x86_phys_bits - 1, 0);
	u64 pdpte[4] = { 0 };
	int i;

	if (!(cr0 & X86_CR0_PG) || !(cr4 & X86_CR4_PAE) || (efer & EFER_LMA))
		return 0;
	/* Outside RAM they read as not present. */
	if (vtx_read_guest(&vtx->vcpu, vtx_vmread(GUEST_CR3) & VTX_PAE_CR3_MASK,
			   pdpte, sizeof(pdpte)))
		memset(pdpte, 0, sizeof(pdpte));
	for (i = 0; i < 4; i++)
		if ((pdpte[i] & VTX_PDPTE_P) && (pdpte[i] & rsvd))
			return -EINVAL;
	for (i = 0; i < 4; i++)
		vtx_vmwrite(GUEST_PDPTR0 + 2 * i, pdpte[i]);
	return 0;
}

/*
 * Entering long mode does not look at TR, but a VM entry in IA-32e mode
 * wants a busy 64-bit TSS there: retype what the guest had loaded.
 */
static void vtx_fixup_tr_for_long_mode(void)
{
	u32 ar = vtx_vmread(GUEST_TR_AR_BYTES);

	if (!(ar & VTX_AR_UNUSABLE) &&
	    (ar & VTX_AR_TYPE_MASK) != VTX_AR_TYPE_BUSY_TSS64)
		vtx_vmwrite(GUEST_TR_AR_BYTES,
			    (ar & ~VTX_AR_TYPE_MASK) | VTX_AR_TYPE_BUSY_TSS64);
}

/*
 * A validated guest CR0 (MOV to CR0 or LMSW the host owns bits of):
 * paging on with EFER.LME set enters long mode, paging off leaves it.
 */
int vtx_set_cr0(struct vtx_vcpu *vtx, u64 cr0)
{
	u64 old = vtx_guest_cr0();
	u64 efer = vtx_vmread(GUEST_IA32_EFER);

	if ((cr0 ^ old) & X86_CR0_PG) {
		if (cr0 & X86_CR0_PG) {
			if (efer & EFER_LME) {
				if (!(vtx_guest_cr4() & X86_CR4_PAE))
					return -EINVAL;
				efer |= EFER_LMA;
				vtx_fixup_tr_for_long_mode();
			}
		} else {
			efer &= ~EFER_LMA;
		}
		if ((cr0 & X86_CR0_PG) &&
		    vtx_load_pdptrs(vtx, cr0, vtx_guest_cr4(), efer))
			return -EINVAL;
		vtx_write_efer(vtx, efer);
		vtx->flush_tlb = true;
	}
	vtx_vmwrite(GUEST_CR0, vtx_hw_cr0(cr0));
	vtx_vmwrite(CR0_READ_SHADOW, cr0);
	return 0;
}

/* A guest CR4: only bits it may have; VMXE stays on, hidden. */
int vtx_set_cr4(struct vtx_vcpu *vtx, u64 cr4)
{
	if (cr4 & ~vtx_cr4_allowed)
		return -EINVAL;
	vtx_vmwrite(GUEST_CR4, cr4 | vtx_cr4_fixed0);
	vtx_vmwrite(CR4_READ_SHADOW, cr4);
	return 0;
}

/* Switch an exit-on-window control (interrupt or NMI window). */
void vtx_set_intr_window(struct vtx_vcpu *vtx, u32 bit, bool on)
{
	u32 ctls = on ? vtx->primary_ctls | bit : vtx->primary_ctls & ~bit;

	if (ctls != vtx->primary_ctls) {
		vtx->primary_ctls = ctls;
		vtx_vmwrite(CPU_BASED_VM_EXEC_CONTROL, ctls);
	}
}

/* Guest segment registers, in VMX's own order (ES CS SS DS FS GS LDTR TR). */
struct vtx_seg_fields {
	u32 selector, base, limit, ar;
};

#define VTX_SEG(s) { GUEST_##s##_SELECTOR, GUEST_##s##_BASE, \
		     GUEST_##s##_LIMIT, GUEST_##s##_AR_BYTES }
static const struct vtx_seg_fields vtx_segs[] = {
	VTX_SEG(ES), VTX_SEG(CS), VTX_SEG(SS), VTX_SEG(DS), VTX_SEG(FS),
	VTX_SEG(GS), VTX_SEG(LDTR), VTX_SEG(TR),
};

enum { VTX_ES, VTX_CS, VTX_SS, VTX_DS, VTX_FS, VTX_GS, VTX_LDTR, VTX_TR };

static u32 vtx_seg_ar(const struct vmx_segment *s)
{
	if (s->unusable || !s->present)
		return VTX_AR_UNUSABLE;
	return (s->type & VTX_AR_TYPE_MASK) | (s->s ? VTX_AR_S : 0) |
	       (s->dpl << VTX_AR_DPL_SHIFT) | VTX_AR_P |
	       (s->avl ? VTX_AR_AVL : 0) | (s->l ? VTX_AR_L : 0) |
	       (s->db ? VTX_AR_DB : 0) | (s->g ? VTX_AR_G : 0);
}

static void vtx_seg_write(int seg, const struct vmx_segment *s)
{
	const struct vtx_seg_fields *f = &vtx_segs[seg];

	vtx_vmwrite(f->selector, s->selector);
	vtx_vmwrite(f->base, s->base);
	vtx_vmwrite(f->limit, s->limit);
	vtx_vmwrite(f->ar, vtx_seg_ar(s));
}

static void vtx_seg_read(int seg, struct vmx_segment *s)
{
	const struct vtx_seg_fields *f = &vtx_segs[seg];
	u32 ar = vtx_vmread(f->ar);

	s->selector = vtx_vmread(f->selector);
	s->base = vtx_vmread(f->base);
	s->limit = vtx_vmread(f->limit);
	s->type = ar & VTX_AR_TYPE_MASK;
	s->s = !!(ar & VTX_AR_S);
	s->dpl = (ar >> VTX_AR_DPL_SHIFT) & 3;
	s->present = !!(ar & VTX_AR_P);
	s->avl = !!(ar & VTX_AR_AVL);
	s->l = !!(ar & VTX_AR_L);
	s->db = !!(ar & VTX_AR_DB);
	s->g = !!(ar & VTX_AR_G);
	s->unusable = !!(ar & VTX_AR_UNUSABLE);
	if (s->unusable)
		s->present = 0;
}

static void vtx_get_sregs(struct vmx_vcpu *vcpu, struct vmx_sregs *sregs)
{
	struct vtx_vcpu *vtx = to_vtx(vcpu);

	vtx_vmcs_enter(vtx);
	vtx_seg_read(VTX_CS, &sregs->cs);
	vtx_seg_read(VTX_DS, &sregs->ds);
	vtx_seg_read(VTX_ES, &sregs->es);
	vtx_seg_read(VTX_FS, &sregs->fs);
	vtx_seg_read(VTX_GS, &sregs->gs);
	vtx_seg_read(VTX_SS, &sregs->ss);
	vtx_seg_read(VTX_TR, &sregs->tr);
	vtx_seg_read(VTX_LDTR, &sregs->ldt);
	sregs->gdt.base = vtx_vmread(GUEST_GDTR_BASE);
	sregs->gdt.limit = vtx_vmread(GUEST_GDTR_LIMIT);
	sregs->idt.base = vtx_vmread(GUEST_IDTR_BASE);
	sregs->idt.limit = vtx_vmread(GUEST_IDTR_LIMIT);
	sregs->cr0 = vtx_guest_cr0();
	sregs->cr2 = vtx->cr2;
	sregs->cr3 = vtx_vmread(GUEST_CR3);
	sregs->cr4 = vtx_guest_cr4();
	sregs->efer = vtx_vmread(GUEST_IA32_EFER);
	vtx_vmcs_leave();
	sregs->cr8 = *(u32 *)(vtx->vapic + VTX_VAPIC_TPR) >> 4;
}

static int vtx_set_sregs(struct vmx_vcpu *vcpu, const struct vmx_sregs *sregs)
{
	struct vtx_vcpu *vtx = to_vtx(vcpu);
	u64 efer = sregs->efer & ~EFER_LMA;

	/* Bits that must be zero, and paging modes no CPU can be in. */
	if (sregs->cr0 >> 32 || sregs->cr4 & ~vtx_cr4_allowed ||
	    sregs->efer & ~VTX_GUEST_EFER || sregs->cr8 & ~0xfULL)
		return -EINVAL;
	if ((sregs->cr0 & X86_CR0_PG) && !(sregs->cr0 & X86_CR0_PE))
		return -EINVAL;
	if ((efer & EFER_LME) && (sregs->cr0 & X86_CR0_PG) &&
	    !(sregs->cr4 & X86_CR4_PAE))
		return -EINVAL;
	/* LMA follows from LME and paging, whatever the VMM passed. */
	if ((efer & EFER_LME) && (sregs->cr0 & X86_CR0_PG))
		efer |= EFER_LMA;

	vtx_vmcs_enter(vtx);
	vtx_seg_write(VTX_CS, &sregs->cs);
	vtx_seg_write(VTX_DS, &sregs->ds);
	vtx_seg_write(VTX_ES, &sregs->es);
	vtx_seg_write(VTX_FS, &sregs->fs);
	vtx_seg_write(VTX_GS, &sregs->gs);
	vtx_seg_write(VTX_SS, &sregs->ss);
	vtx_seg_write(VTX_TR, &sregs->tr);
	vtx_seg_write(VTX_LDTR, &sregs->ldt);
	vtx_vmwrite(GUEST_GDTR_BASE, sregs->gdt.base);
	vtx_vmwrite(GUEST_GDTR_LIMIT, sregs->gdt.limit);
	vtx_vmwrite(GUEST_IDTR_BASE, sregs->idt.base);
	vtx_vmwrite(GUEST_IDTR_LIMIT, sregs->idt.limit);
	vtx_vmwrite(GUEST_CR3, sregs->cr3);
	vtx_set_cr4(vtx, sregs->cr4);
	vtx_write_efer(vtx, efer);
	vtx_vmwrite(GUEST_CR0, vtx_hw_cr0(sregs->cr0));
	vtx_vmwrite(CR0_READ_SHADOW, sregs->cr0);
	/* Bad PDPTEs fail the next entry, as they would on hardware. */
	vtx_load_pdptrs(vtx, sregs->cr0, sregs->cr4, efer);
	vtx_vmcs_leave();
	vtx->cr2 = sregs->cr2;
	/* CD/NW never reach the hardware: check them as an entry would. */
	vtx->bad_cr0 = (sregs->cr0 & X86_CR0_NW) && !(sregs->cr0 & X86_CR0_CD);
	*(u32 *)(vtx->vapic + VTX_VAPIC_TPR) = sregs->cr8 << 4;
	vtx->flush_tlb = true;
	return 0;
}

static void vtx_get_events(struct vmx_vcpu *vcpu, struct vmx_events *events)
{
	struct vtx_vcpu *vtx = to_vtx(vcpu);

	events->int_shadow = !!(vtx->intr_state & VTX_INTR_SHADOW);
	events->nmi_masked = !!(vtx->intr_state & VTX_INTR_NMI);
}

static int vtx_set_events(struct vmx_vcpu *vcpu, const struct vmx_events *events)
{
	struct vtx_vcpu *vtx = to_vtx(vcpu);

	vtx->intr_state &= ~(VTX_INTR_SHADOW | VTX_INTR_NMI);
	if (events->int_shadow)
		vtx->intr_state |= VTX_INTR_STI;
	/* Only virtual NMIs track the guest's NMI masking. */
	if (events->nmi_masked && (vtx_pin_ctls & PIN_BASED_VIRTUAL_NMIS))
		vtx->intr_state |= VTX_INTR_NMI;
	return 0;
}

static bool vtx_irq_window_open(struct vmx_vcpu *vcpu)
{
	return (vcpu->rflags & X86_EFLAGS_IF) &&
	       !(to_vtx(vcpu)->intr_state & VTX_INTR_SHADOW);
}

/* ---- MSRs in the VMCS or kept here ---- */

static int vtx_guest_msr_slot(u32 index)
{
	int i;

	for (i = 0; i < VTX_NR_GUEST_MSRS; i++)
		if (vtx_guest_msr_index[i] == index)
			return i;
	return -1;
}

/* MSRs of VMX itself: VMX does not exist for the guest. */
static bool vtx_is_vmx_msr(u32 index)
{
	return index >= MSR_IA32_VMX_BASIC && index <= MSR_IA32_VMX_VMFUNC;
}

static int vtx_get_msr(struct vmx_vcpu *vcpu, u32 index, u64 *data)
{
	struct vtx_vcpu *vtx = to_vtx(vcpu);
	int slot = vtx_guest_msr_slot(index);
	int ret = 0;

	if (slot >= 0) {
		*data = vtx->msrs[slot];
		return 0;
	}
	if (vtx_is_vmx_msr(index))
		return -EINVAL;
	if (index == MSR_IA32_FEAT_CTL) {
		/* Locked, VMX off: what firmware leaves without VMX. */
		*data = FEAT_CTL_LOCKED;
		return 0;
	}

	vtx_vmcs_enter(vtx);
	switch (index) {
	case MSR_EFER:
		*data = vtx_vmread(GUEST_IA32_EFER);
		break;
	case MSR_FS_BASE:
		*data = vtx_vmread(GUEST_FS_BASE);
		break;
	case MSR_GS_BASE:
		*data = vtx_vmread(GUEST_GS_BASE);
		break;
	case MSR_IA32_SYSENTER_CS:
		*data = vtx_vmread(GUEST_SYSENTER_CS);
		break;
	case MSR_IA32_SYSENTER_ESP:
		*data = vtx_vmread(GUEST_SYSENTER_ESP);
		break;
	case MSR_IA32_SYSENTER_EIP:
		*data = vtx_vmread(GUEST_SYSENTER_EIP);
		break;
	case MSR_IA32_CR_PAT:
		*data = vtx_vmread(GUEST_IA32_PAT);
		break;
	case MSR_IA32_TSC:
		*data = rdtsc() + vtx_vmread(TSC_OFFSET);
		break;
	case MSR_IA32_DEBUGCTLMSR:
		*data = vtx_vmread(GUEST_IA32_DEBUGCTL);
		break;
	default:
		ret = -ENOENT;
	}
	vtx_vmcs_leave();
	return ret;
}

static bool vtx_pat_valid(u64 pat)
{
	int i;

	/* Each byte one of UC, WC, WT, WP, WB, UC-. */
	for (i = 0; i < 8; i++) {
		u8 type = pat >> (i * 8);

		if (type > 7 || type == 2 || type == 3)
			return false;
	}
	return true;
}

static bool vtx_canonical(u64 addr)
{
	return (s64)(addr << 16) >> 16 == (s64)addr;
}

static int vtx_set_efer(struct vtx_vcpu *vtx, u64 data, bool host)
{
	u64 old = vtx_vmread(GUEST_IA32_EFER);

	if (data & ~VTX_GUEST_EFER)
		return -EINVAL;
	/* A guest may not flip LME while paging is on. */
	if (!host && (vtx_guest_cr0() & X86_CR0_PG) &&
	    ((data ^ old) & EFER_LME))
		return -EINVAL;
	if (!host)
		data = (data & ~EFER_LMA) | (old & EFER_LMA);
	vtx_write_efer(vtx, data);
	return 0;
}

static int vtx_set_vmcs_msr(struct vtx_vcpu *vtx, u32 index, u64 data,
			    bool host)
{
	switch (index) {
	case MSR_EFER:
		return vtx_set_efer(vtx, data, host);
	case MSR_FS_BASE:
	case MSR_GS_BASE:
	case MSR_IA32_SYSENTER_ESP:
	case MSR_IA32_SYSENTER_EIP:
		if (!vtx_canonical(data))
			return -EINVAL;
		vtx_vmwrite(index == MSR_FS_BASE ? GUEST_FS_BASE :
			    index == MSR_GS_BASE ? GUEST_GS_BASE :
			    index == MSR_IA32_SYSENTER_ESP ? GUEST_SYSENTER_ESP :
			    GUEST_SYSENTER_EIP, data);
		return 0;
	case MSR_IA32_SYSENTER_CS:
		vtx_vmwrite(GUEST_SYSENTER_CS, (u32)data);
		return 0;
	case MSR_IA32_CR_PAT:
		if (!vtx_pat_valid(data))
			return -EINVAL;
		vtx_vmwrite(GUEST_IA32_PAT, data);
		return 0;
	case MSR_IA32_TSC:
		vtx_vmwrite(TSC_OFFSET, data - rdtsc());
		return 0;
	case MSR_IA32_DEBUGCTLMSR:
		/* No LBR virtualization: only the reset value. */
		return data ? -EINVAL : 0;
	}
	return -ENOENT;
}

static int vtx_set_msr(struct vmx_vcpu *vcpu, u32 index, u64 data, bool host)
{
	struct vtx_vcpu *vtx = to_vtx(vcpu);
	int slot = vtx_guest_msr_slot(index);
	int ret;

	if (slot >= 0) {
		/* These go into the real MSRs: wrmsr must not fault. */
		if (index == MSR_SYSCALL_MASK ? data >> 32 :
		    index != MSR_STAR && !vtx_canonical(data))
			return -EINVAL;
		vtx->msrs[slot] = data;
		return 0;
	}
	/* Host-sensitive: a guest write is refused (#GP). */
	if (vtx_is_vmx_msr(index))
		return -EINVAL;
	if (index == MSR_IA32_FEAT_CTL)
		return host && data == FEAT_CTL_LOCKED ? 0 : -EINVAL;

	vtx_vmcs_enter(vtx);
	ret = vtx_set_vmcs_msr(vtx, index, data, host);
	vtx_vmcs_leave();
	return ret;
}

/* ---- vCPU set-up ---- */

/* MSRs the guest reads and writes directly: the VMCS or entry code switch them. */
static const u32 vtx_passthrough_msrs[] = {
	MSR_FS_BASE, MSR_GS_BASE, MSR_KERNEL_GS_BASE,
	MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_ESP, MSR_IA32_SYSENTER_EIP,
};

/* Clear the read and write intercept of @msr in the MSR bitmap. */
static void vtx_msr_bitmap_allow(void *bitmap, u32 msr)
{
	if (msr <= 0x1fff) {
		clear_bit(msr, bitmap + VTX_MSRBM_READ_LOW);
		clear_bit(msr, bitmap + VTX_MSRBM_WRITE_LOW);
	} else if (msr - 0xc0000000 <= 0x1fff) {
		clear_bit(msr - 0xc0000000, bitmap + VTX_MSRBM_READ_HIGH);
		clear_bit(msr - 0xc0000000, bitmap + VTX_MSRBM_WRITE_HIGH);
	}
}

/* Host state that is the same on every CPU and for every task. */
static void vtx_init_host_state(struct vtx_vcpu *vtx)
{
	u64 v;

	vtx_vmwrite(HOST_CR0, read_cr0());
	vtx_vmwrite(HOST_CS_SELECTOR, __KERNEL_CS);
	vtx_vmwrite(HOST_SS_SELECTOR, __KERNEL_DS);
	vtx_vmwrite(HOST_DS_SELECTOR, 0);
	vtx_vmwrite(HOST_ES_SELECTOR, 0);
	vtx_vmwrite(HOST_FS_SELECTOR, 0);
	vtx_vmwrite(HOST_GS_SELECTOR, 0);
	vtx_vmwrite(HOST_TR_SELECTOR, GDT_ENTRY_TSS * 8);
	rdmsrl(MSR_IA32_SYSENTER_CS, v);
	vtx_vmwrite(HOST_IA32_SYSENTER_CS, v);
	rdmsrl(MSR_IA32_SYSENTER_EIP, v);
	vtx_vmwrite(HOST_IA32_SYSENTER_EIP, v);
	rdmsrl(MSR_EFER, v);
	vtx_vmwrite(HOST_IA32_EFER, v);
	rdmsrl(MSR_IA32_CR_PAT, v);
	vtx_vmwrite(HOST_IA32_PAT, v);
	BUILD_BUG_ON(VTX_HOST_RSP != HOST_RSP);
	vtx_vmwrite(HOST_RIP, (unsigned long)vtx_vmexit);
	/* CR3, CR4 and FS base are checked before every entry. */
	vtx->host_cr3 = 0;
	vtx->host_cr4 = 0;
	vtx->host_fs_base = ~0UL;
}

static void vtx_init_controls(struct vtx_vcpu *vtx)
{
	struct vmx_vcpu *vcpu = &vtx->vcpu;

	vtx->primary_ctls = vtx_primary_ctls;
	vtx->entry_ctls = vtx_entry_ctls;
	vtx_vmwrite(PIN_BASED_VM_EXEC_CONTROL, vtx_pin_ctls);
	vtx_vmwrite(CPU_BASED_VM_EXEC_CONTROL, vtx->primary_ctls);
	vtx_vmwrite(SECONDARY_VM_EXEC_CONTROL, vtx_secondary_ctls);
	vtx_vmwrite(VM_EXIT_CONTROLS, vtx_exit_ctls);
	vtx_vmwrite(VM_ENTRY_CONTROLS, vtx->entry_ctls);
	/* Machine checks belong to the host. */
	vtx_vmwrite(EXCEPTION_BITMAP, BIT(X86_TRAP_MC));
	vtx_vmwrite(PAGE_FAULT_ERROR_CODE_MASK, 0);
	vtx_vmwrite(PAGE_FAULT_ERROR_CODE_MATCH, 0);
	vtx_vmwrite(CR3_TARGET_COUNT, 0);
	vtx_vmwrite(VM_EXIT_MSR_STORE_COUNT, 0);
	vtx_vmwrite(VM_EXIT_MSR_LOAD_COUNT, 0);
	vtx_vmwrite(VM_ENTRY_MSR_LOAD_COUNT, 0);
	vtx_vmwrite(VM_ENTRY_INTR_INFO_FIELD, 0);
	vtx_vmwrite(MSR_BITMAP, virt_to_phys(vtx->msr_bitmap));
	vtx_vmwrite(VIRTUAL_APIC_PAGE_ADDR, virt_to_phys(vtx->vapic));
	vtx_vmwrite(TPR_THRESHOLD, 0);
	vtx_vmwrite(EPT_POINTER, vmx_mmu_root_pa(vcpu->vm) | VTX_EPTP_WALK4 |
		    VTX_EPTP_MT_WB);
	if (vtx_has_vpid)
		vtx_vmwrite(VIRTUAL_PROCESSOR_ID, vtx->vpid);
	vtx_vmwrite(CR0_GUEST_HOST_MASK, VTX_CR0_HOST_OWNED);
	vtx_vmwrite(CR4_GUEST_HOST_MASK, ~vtx_cr4_allowed);
	/* Guest TSC starts near zero. */
	vtx_vmwrite(TSC_OFFSET, -rdtsc());
	vtx_vmwrite(VMCS_LINK_POINTER, ~0ULL);
	if (vtx_pin_ctls & PIN_BASED_VMX_PREEMPTION_TIMER)
		vtx_vmwrite(VMX_PREEMPTION_TIMER_VALUE, vtx_preempt_timer);
}

/* x86 reset state (SDM Vol. 3, 10.1.1), as far as the VMCS holds it. */
static void vtx_init_guest_state(struct vtx_vcpu *vtx)
{
	struct vmx_segment seg = {
		.limit = 0xffff, .type = 0x3, .s = 1, .present = 1,
	};
	int i;

	for (i = VTX_ES; i <= VTX_GS; i++)
		vtx_seg_write(i, &seg);
	seg.selector = 0xf000;
	seg.base = 0xffff0000;
	seg.type = 0xb;			/* code, read, accessed */
	vtx_seg_write(VTX_CS, &seg);
	seg = (struct vmx_segment) { .limit = 0xffff, .type = 0x2, .present = 1 };
	vtx_seg_write(VTX_LDTR, &seg);	/* LDT */
	seg.type = 0x3;			/* busy 16-bit TSS */
	vtx_seg_write(VTX_TR, &seg);
	vtx_vmwrite(GUEST_GDTR_BASE, 0);
	vtx_vmwrite(GUEST_GDTR_LIMIT, 0xffff);
	vtx_vmwrite(GUEST_IDTR_BASE, 0);
	vtx_vmwrite(GUEST_IDTR_LIMIT, 0xffff);

	vtx_vmwrite(GUEST_CR0, vtx_hw_cr0(X86_CR0_NW | X86_CR0_CD | X86_CR0_ET));
	vtx_vmwrite(CR0_READ_SHADOW, X86_CR0_NW | X86_CR0_CD | X86_CR0_ET);
	vtx_vmwrite(GUEST_CR3, 0);
	vtx_set_cr4(vtx, 0);
	vtx_write_efer(vtx, 0);
	vtx_vmwrite(GUEST_DR7, 0x400);
	vtx_vmwrite(GUEST_IA32_DEBUGCTL, 0);
	vtx_vmwrite(GUEST_IA32_PAT, 0x0007040600070406ULL);
	vtx_vmwrite(GUEST_SYSENTER_CS, 0);
	vtx_vmwrite(GUEST_SYSENTER_ESP, 0);
	vtx_vmwrite(GUEST_SYSENTER_EIP, 0);
	vtx_vmwrite(GUEST_ACTIVITY_STATE, GUEST_ACTIVITY_ACTIVE);
	vtx_vmwrite(GUEST_INTERRUPTIBILITY_INFO, 0);
	vtx_vmwrite(GUEST_PENDING_DBG_EXCEPTIONS, 0);
	for (i = 0; i < 4; i++)
		vtx_vmwrite(GUEST_PDPTR0 + 2 * i, 0);
	vtx->dr[4] = 0xffff0ff0;	/* DR6 */
}

static void vtx_vcpu_free(struct vmx_vcpu *vcpu)
{
	struct vtx_vcpu *vtx = to_vtx(vcpu);
	int cpu = READ_ONCE(vtx->loaded_cpu);

	/* The VMCS must not stay active anywhere once its page is gone. */
	if (cpu >= 0)
		smp_call_function_single(cpu, vtx_vmcs_clear_ipi, vtx, 1);
	if (vtx->vpid)
		ida_free(&vtx_vpid_ida, vtx->vpid);
	free_page((unsigned long)vtx->vmcs);
	free_page((unsigned long)vtx->msr_bitmap);
	free_page((unsigned long)vtx->vapic);
}

static int vtx_vcpu_init(struct vmx_vcpu *vcpu)
{
	struct vtx_vcpu *vtx = to_vtx(vcpu);
	int i, ret;

	vtx->loaded_cpu = -1;
	INIT_LIST_HEAD(&vtx->loaded_link);
	vtx->vmcs = (void *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	vtx->msr_bitmap = (void *)__get_free_page(GFP_KERNEL_ACCOUNT);
	vtx->vapic = (void *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	if (!vtx->vmcs || !vtx->msr_bitmap || !vtx->vapic) {
		ret = -ENOMEM;
		goto out_free;
	}
	if (vtx_has_vpid) {
		ret = ida_alloc_range(&vtx_vpid_ida, 1, VMX_NR_VPIDS - 1,
				      GFP_KERNEL);
		if (ret < 0)
			goto out_free;
		vtx->vpid = ret;
	}
	/* Intercept every MSR, then open the few above. */
	memset(vtx->msr_bitmap, 0xff, PAGE_SIZE);
	for (i = 0; i < ARRAY_SIZE(vtx_passthrough_msrs); i++)
		vtx_msr_bitmap_allow(vtx->msr_bitmap, vtx_passthrough_msrs[i]);

	*(u32 *)vtx->vmcs = vtx_revision_id;
	vtx->vmcs_pa = virt_to_phys(vtx->vmcs);
	/* Initialize the launch state before first use. */
	ret = vtx_vmclear(vtx->vmcs_pa);
	if (ret)
		goto out_free;

	vtx_vmcs_enter(vtx);
	vtx_init_controls(vtx);
	vtx_init_host_state(vtx);
	vtx_init_guest_state(vtx);
	vtx_vmcs_leave();
	for (i = 0; i < VTX_NR_GUEST_MSRS; i++)
		vtx->msrs[i] = 0;
	return 0;

out_free:
	vtx_vcpu_free(vcpu);
	return ret;
}

/* ---- one entry ---- */

/*
 * Put the VMM's pending event into the VM-entry fields, or ask for an
 * exit at the next interrupt (or NMI) window.
 */
static void vtx_inject_pending(struct vtx_vcpu *vtx)
{
	struct vmx_vcpu *vcpu = &vtx->vcpu;
	struct vmx_event *ev = &vcpu->pending_event.event;
	bool pending = vcpu->pending_event.valid, nmi_wait = false;
	u32 info, type;
	bool err;

	vtx->event_injected = false;
	if (!pending)
		goto window;
	if (ev->type == VMX_EVENT_EXTINT && !vtx_irq_window_open(vcpu))
		goto window;
	if (ev->type == VMX_EVENT_NMI &&
	    (vtx->intr_state & (VTX_INTR_SHADOW | VTX_INTR_NMI))) {
		nmi_wait = true;
		goto window;
	}

	type = ev->type == VMX_EVENT_EXTINT ? VTX_EVENT_TYPE_EXTINT :
	       ev->type == VMX_EVENT_NMI ? VTX_EVENT_TYPE_NMI :
	       VTX_EVENT_TYPE_HW_EXC;
	/* Real mode pushes no error codes (and entry checks that). */
	err = (ev->flags & VMX_EVENT_HAS_ERROR_CODE) &&
	      (vtx_vmread(CR0_READ_SHADOW) & X86_CR0_PE);
	info = VTX_EVENT_VALID | ev->vector | (type << VTX_EVENT_TYPE_SHIFT) |
	       (err ? VTX_EVENT_HAS_ERR : 0);
	vtx_vmwrite(VM_ENTRY_INTR_INFO_FIELD, info);
	if (err)
		vtx_vmwrite(VM_ENTRY_EXCEPTION_ERROR_CODE, ev->error_code);
	vtx->event_injected = true;
window:
	vtx_set_intr_window(vtx, CPU_BASED_INTR_WINDOW_EXITING,
			    READ_ONCE(vcpu->run->request_irq_window) ||
			    (pending && !vtx->event_injected && !nmi_wait));
	if (vtx_pin_ctls & PIN_BASED_VIRTUAL_NMIS)
		vtx_set_intr_window(vtx, CPU_BASED_NMI_WINDOW_EXITING, nmi_wait);
}

/*
 * An event whose delivery the exit interrupted goes back into the queue.
 * Software interrupts and INT3/INTO/INT1 are dropped instead: RIP still
 * points at the instruction, which runs again.
 */
static void vtx_requeue_idt_vectoring(struct vtx_vcpu *vtx)
{
	struct vmx_vcpu *vcpu = &vtx->vcpu;
	u32 info = vtx_vmread(IDT_VECTORING_INFO_FIELD);
	u32 type = (info >> VTX_EVENT_TYPE_SHIFT) & VTX_EVENT_TYPE_MASK;
	u8 vector = info & VTX_EVENT_VECTOR_MASK;

	if (vtx->event_injected)
		vcpu->pending_event.valid = false;
	if (!(info & VTX_EVENT_VALID) || type == VTX_EVENT_TYPE_SOFT_INT ||
	    type == VTX_EVENT_TYPE_SOFT_EXC || type == VTX_EVENT_TYPE_PRIV_SW_EXC)
		return;
	/* Its delivery began, which blocked NMIs: it has not happened yet. */
	if (type == VTX_EVENT_TYPE_NMI)
		vtx->intr_state &= ~VTX_INTR_NMI;

	vcpu->pending_event.valid = true;
	vcpu->pending_event.event = (struct vmx_event) {
		.type = type == VTX_EVENT_TYPE_EXTINT ? VMX_EVENT_EXTINT :
			type == VTX_EVENT_TYPE_NMI ? VMX_EVENT_NMI :
			VMX_EVENT_EXCEPTION,
		.vector = vector,
		.flags = info & VTX_EVENT_HAS_ERR ? VMX_EVENT_HAS_ERROR_CODE : 0,
		.error_code = info & VTX_EVENT_HAS_ERR ?
			      vtx_vmread(IDT_VECTORING_ERROR_CODE) : 0,
	};
}

static void vtx_load_regs(struct vtx_vcpu *vtx)
{
	struct vmx_vcpu *vcpu = &vtx->vcpu;

	/* An STI shadow needs IF set (an entry check); MOV SS has none. */
	if (!(vcpu->rflags & X86_EFLAGS_IF))
		vtx->intr_state &= ~VTX_INTR_STI;
	vtx_vmwrite(GUEST_RSP, vcpu->gprs[VMX_RSP]);
	vtx_vmwrite(GUEST_RIP, vcpu->rip);
	vtx_vmwrite(GUEST_RFLAGS, vcpu->rflags);
	vtx_vmwrite(GUEST_INTERRUPTIBILITY_INFO, vtx->intr_state);
}

static void vtx_save_regs(struct vtx_vcpu *vtx)
{
	struct vmx_vcpu *vcpu = &vtx->vcpu;
	struct vmx_run *run = vcpu->run;

	vcpu->gprs[VMX_RSP] = vtx_vmread(GUEST_RSP);
	vcpu->rip = vtx_vmread(GUEST_RIP);
	vcpu->rflags = vtx_vmread(GUEST_RFLAGS);
	vtx->intr_state = vtx_vmread(GUEST_INTERRUPTIBILITY_INFO);

	run->rip = vcpu->rip;
	run->if_flag = !!(vcpu->rflags & X86_EFLAGS_IF);
	run->irq_window_open = vtx_irq_window_open(vcpu);
	run->cr8 = *(u32 *)(vtx->vapic + VTX_VAPIC_TPR) >> 4;
}

/* Host state that changes with the task or CPU settings; IRQs off. */
static void vtx_prepare_host(struct vtx_vcpu *vtx)
{
	unsigned long cr3 = __read_cr3(), cr4 = cr4_read_shadow(), fs;

	if (unlikely(cr3 != vtx->host_cr3)) {
		vtx_vmwrite(HOST_CR3, cr3);
		vtx->host_cr3 = cr3;
	}
	if (unlikely(cr4 != vtx->host_cr4)) {
		vtx_vmwrite(HOST_CR4, cr4);
		vtx->host_cr4 = cr4;
	}
	rdmsrl(MSR_FS_BASE, fs);
	if (unlikely(fs != vtx->host_fs_base)) {
		vtx_vmwrite(HOST_FS_BASE, fs);
		vtx->host_fs_base = fs;
	}
}

/*
 * Host state a VM exit does not restore, saved before entry and put
 * back after it with IRQs still off: the SYSCALL MSRs and user GS base
 * (the guest runs with its own), TSC_AUX, DS/ES/LDT, DEBUGCTL, CR2.
 */
struct vtx_host_regs {
	u64 kernel_gs_base;
	u64 tsc_aux;
	u64 debugctl;
	u16 ds, es, ldt;
};

static void vtx_switch_to_guest(struct vtx_vcpu *vtx, struct vtx_host_regs *h)
{
	int i;

	rdmsrl(MSR_KERNEL_GS_BASE, h->kernel_gs_base);
	for (i = 0; i < VTX_NR_GUEST_MSRS; i++) {
		u64 host = i == VTX_MSR_KERNEL_GS_BASE ? h->kernel_gs_base :
			   vtx_host_msrs[i];

		if (vtx->msrs[i] != host)
			wrmsrl(vtx_guest_msr_index[i], vtx->msrs[i]);
	}
	if (vtx_secondary_ctls & SECONDARY_EXEC_ENABLE_RDTSCP) {
		rdmsrl(MSR_TSC_AUX, h->tsc_aux);
		if (h->tsc_aux != vtx->vcpu.msr_tsc_aux)
			wrmsrl(MSR_TSC_AUX, vtx->vcpu.msr_tsc_aux);
	}
	rdmsrl(MSR_IA32_DEBUGCTLMSR, h->debugctl);
	savesegment(ds, h->ds);
	savesegment(es, h->es);
	asm volatile("sldt %0" : "=r" (h->ldt));
	if (native_read_cr2() != vtx->cr2)
		native_write_cr2(vtx->cr2);
}

static void vtx_switch_to_host(struct vtx_vcpu *vtx, struct vtx_host_regs *h)
{
	int i;

	vtx->cr2 = native_read_cr2();
	rdmsrl(MSR_KERNEL_GS_BASE, vtx->msrs[VTX_MSR_KERNEL_GS_BASE]);
	for (i = 0; i < VTX_NR_GUEST_MSRS; i++) {
		u64 host = i == VTX_MSR_KERNEL_GS_BASE ? h->kernel_gs_base :
			   vtx_host_msrs[i];

		if (vtx->msrs[i] != host)
			wrmsrl(vtx_guest_msr_index[i], host);
	}
	if ((vtx_secondary_ctls & SECONDARY_EXEC_ENABLE_RDTSCP) &&
	    h->tsc_aux != vtx->vcpu.msr_tsc_aux)
		wrmsrl(MSR_TSC_AUX, h->tsc_aux);
	/* The exit cleared DEBUGCTL and set DR7 to its reset value. */
	if (h->debugctl)
		wrmsrl(MSR_IA32_DEBUGCTLMSR, h->debugctl);
	if (hw_breakpoint_active())
		hw_breakpoint_restore();
	if (h->ds)
		loadsegment(ds, h->ds);
	if (h->es)
		loadsegment(es, h->es);
	if (h->ldt)
		asm volatile("lldt %0" : : "r" (h->ldt));
	__this_cpu_write(vtx_host_dirty, true);
}

/* Guest TLB entries (EPT-derived and VPID-tagged) are stale here. */
static void vtx_flush_guest_tlb(struct vtx_vcpu *vtx)
{
	u64 eptp = vtx_vmread(EPT_POINTER);

	if (vtx_ept_vpid_cap & VTX_EPT_CAP_INVEPT_SINGLE)
		vtx_invept(VTX_INVEPT_SINGLE, eptp);
	else
		vtx_invept(VTX_INVEPT_ALL, 0);
	if (!vtx->vpid)
		return;	/* VPID 0: entry and exit flush linear mappings */
	if (vtx_ept_vpid_cap & VTX_VPID_CAP_SINGLE)
		vtx_invvpid(VTX_INVVPID_SINGLE, vtx->vpid, 0);
	else
		vtx_invvpid(VTX_INVVPID_ALL, 0, 0);
}

/* The VM exit was caused by an NMI or #MC: give it to the host now. */
static void vtx_handle_host_event(u32 reason)
{
	u32 info, type;

	if ((reason & VTX_EXIT_REASON_MASK) != EXIT_REASON_EXCEPTION_NMI)
		return;
	info = vtx_vmread(VM_EXIT_INTR_INFO);
	type = (info >> VTX_EVENT_TYPE_SHIFT) & VTX_EVENT_TYPE_MASK;
	if (type == VTX_EVENT_TYPE_NMI)
		asm volatile("int $2");
	else if ((info & VTX_EVENT_VECTOR_MASK) == X86_TRAP_MC)
		asm volatile("int $0x12");
}

static int vtx_exit_vmfail(struct vtx_vcpu *vtx)
{
	struct vmx_run *run = vtx->vcpu.run;

	run->exit_reason = VMX_EXIT_FAIL_ENTRY;
	/* VMfailValid: the VM-instruction error field says why. */
	run->fail_entry.hardware_reason = vtx_vmread(VM_INSTRUCTION_ERROR);
	run->fail_entry.cpu = vtx->vcpu.cpu;
	return 0;
}

/*
 * Enter the guest once.  Order: registers into the VMCS, guest FPU in,
 * IRQs off, last check for pending work, event injection, TLB flush,
 * host state, guest MSRs in, world switch, host MSRs back, NMI/#MC to
 * the host, IRQs on, guest FPU out, registers back, re-queue an
 * interrupted event, dispatch the exit.
 */
static int vtx_vcpu_run(struct vmx_vcpu *vcpu)
{
	struct vtx_vcpu *vtx = to_vtx(vcpu);
	struct vtx_host_regs host;
	bool flush = false;
	u32 reason = 0;
	int failed;

	if (unlikely(vtx->bad_cr0))
		return vtx_handle_exit(vtx, VTX_EXIT_FAILED_ENTRY |
				       EXIT_REASON_INVALID_STATE);
	vtx_load_regs(vtx);
	vmx_vcpu_fpu_enter(vcpu);
	local_irq_disable();
	atomic_set(&vcpu->mode, VMX_VCPU_IN_GUEST);
	/*
	 * Order the mode store before reading signals and tlb_gen: pairs
	 * with vmx_mmu_flush_remote() (a kick or a seen tlb_gen, never
	 * neither).
	 */
	smp_mb();
	if (signal_pending(current) || need_resched()) {
		atomic_set(&vcpu->mode, VMX_VCPU_OUTSIDE_GUEST);
		local_irq_enable();
		vmx_vcpu_fpu_exit(vcpu);
		return 1;
	}
	vtx_inject_pending(vtx);
	vmx_mmu_sync_tlb(vcpu, &flush);
	if (flush || vtx->flush_tlb) {
		vtx_flush_guest_tlb(vtx);
		vtx->flush_tlb = false;
	}
	vtx_prepare_host(vtx);
	vtx_switch_to_guest(vtx, &host);
	if (vtx_l1d_flush)
		wrmsrl(MSR_IA32_FLUSH_CMD, L1D_FLUSH);

	failed = vtx_world_switch(vcpu->gprs, vtx->launched);

	vtx_switch_to_host(vtx, &host);
	if (!failed) {
		reason = vtx_vmread(VM_EXIT_REASON);
		if (!(reason & VTX_EXIT_FAILED_ENTRY))
			vtx->launched = true;
		vtx_handle_host_event(reason);
	}
	atomic_set(&vcpu->mode, VMX_VCPU_OUTSIDE_GUEST);
	local_irq_enable();
	vmx_vcpu_fpu_exit(vcpu);

	if (vtx->event_injected)
		vtx_vmwrite(VM_ENTRY_INTR_INFO_FIELD, 0);
	if (failed)
		return vtx_exit_vmfail(vtx);
	vtx_save_regs(vtx);
	vcpu->stat.exits++;
	if (reason & VTX_EXIT_FAILED_ENTRY)
		return vtx_handle_exit(vtx, reason);
	vtx_requeue_idt_vectoring(vtx);
	vmx_vcpu_event_slot_free(vcpu);
	return vtx_handle_exit(vtx, reason);
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
	.features		= VMX_FEAT_NESTED_PAGING | VMX_FEAT_VCPUS,
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
};
