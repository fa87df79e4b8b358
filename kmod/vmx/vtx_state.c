// SPDX-License-Identifier: GPL-2.0
/*
 * Guest state in the VMCS or kept beside it: control registers and
 * paging mode, segment registers, events, MSRs.
 */
#include <linux/mm.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/uaccess.h>
#include <asm/msr.h>
#include <asm/processor.h>

#include "vtx.h"

/* ---- guest state ---- */

/* Past the exiting instruction, with no single-step trap (INT1). */
void vtx_step_over(struct vtx_vcpu *vtx)
{
	vtx->vcpu.rip += vtx_vmread_current(VM_EXIT_INSTRUCTION_LEN);
	vtx_end_shadow(vtx);
}

/* The kernel completed the exiting instruction for the guest. */
void vtx_skip_insn(struct vtx_vcpu *vtx)
{
	vtx_step_over(vtx);
	vmx_vcpu_insn_stepped(&vtx->vcpu);
}

/*
 * The guest's debug registers go live: loaded and saved around every
 * entry, MOV DR no longer exits.  VMCS current.
 */
void vtx_dr_go_live(struct vtx_vcpu *vtx)
{
	vtx->dr_live = true;
	vtx_set_exec_ctl(vtx, CPU_BASED_MOV_DR_EXITING, false);
}

/* DR0-3 and DR6 are ours to switch; DR7 is in the VMCS. */
void vtx_get_debugregs(struct vmx_vcpu *vcpu, struct vmx_debugregs *dbg)
{
	struct vtx_vcpu *vtx = to_vtx(vcpu);

	memcpy(dbg->db, vtx->dr, sizeof(dbg->db));
	dbg->dr6 = vtx->dr[4];
	vtx_vmcs_enter(vtx);
	dbg->dr7 = vtx_vmread(GUEST_DR7);
	vtx_vmcs_leave();
}

void vtx_set_debugregs(struct vmx_vcpu *vcpu, const struct vmx_debugregs *dbg)
{
	struct vtx_vcpu *vtx = to_vtx(vcpu);

	memcpy(vtx->dr, dbg->db, sizeof(dbg->db));
	vtx->dr[4] = dbg->dr6;
	vtx_vmcs_enter(vtx);
	vtx_vmwrite(GUEST_DR7, dbg->dr7);
	/* Breakpoints the VMM armed must match on the guest's DR0-3. */
	vtx_dr_go_live(vtx);
	vtx_vmcs_leave();
}

/* A single-step trap on the way (vmx_event_single_step()). */
void vtx_note_single_step(struct vmx_vcpu *vcpu)
{
	to_vtx(vcpu)->dr[4] |= VTX_DBG_QUAL_BS;
}

void vtx_queue_exception(struct vtx_vcpu *vtx, u8 vector, bool has_error,
			 u32 error_code)
{
	vmx_vcpu_queue_exception(&vtx->vcpu, vector, has_error, error_code);
}

/* CR0 as the hardware runs it: NE on, CD/NW off, fixed bits set. */
u64 vtx_hw_cr0(u64 cr0)
{
	return (cr0 & ~(X86_CR0_CD | X86_CR0_NW)) | X86_CR0_NE |
	       (vtx_cr0_fixed0 & ~(X86_CR0_PE | X86_CR0_PG));
}

/* EFER and the IA-32e mode entry control, which must agree on LMA. */
void vtx_write_efer(struct vtx_vcpu *vtx, u64 efer)
{
	u32 entry = vtx->entry_ctls & ~VM_ENTRY_IA32E_MODE;

	if (efer & EFER_LMA)
		entry |= VM_ENTRY_IA32E_MODE;
	vtx_vmwrite(GUEST_IA32_EFER, efer);
	if (entry != vtx->entry_ctls) {
		vtx->entry_ctls = entry;
		vtx_vmwrite(VM_ENTRY_CONTROLS, entry);
	}
	vtx_update_live_msrs(vtx, efer);
}

/* PAE paging outside long mode: a VM entry takes the PDPTEs from the VMCS. */
static bool vtx_pae_paging(u64 cr0, u64 cr4, u64 efer)
{
	return (cr0 & X86_CR0_PG) && (cr4 & X86_CR4_PAE) && !(efer & EFER_LMA);
}

/*
 * The four PDPTEs @cr3 points to, from the VMM's memory: may fault and
 * sleep, so never with the VMCS loaded under get_cpu().  Outside RAM
 * they read as not present.
 */
static void vtx_read_pdptes(struct vtx_vcpu *vtx, u64 cr3, u64 pdpte[4])
{
	if (vmx_read_guest_phys(&vtx->vcpu, cr3 & VTX_PAE_CR3_MASK, pdpte,
				4 * sizeof(u64)))
		memset(pdpte, 0, 4 * sizeof(u64));
}

/* -EINVAL for reserved bits in a present entry. */
static int vtx_check_pdptes(const u64 pdpte[4])
{
	u64 rsvd = VTX_PDPTE_RSVD | ~GENMASK_ULL(boot_cpu_data.x86_phys_bits - 1, 0);
	int i;

	for (i = 0; i < 4; i++)
		if ((pdpte[i] & VTX_PDPTE_P) && (pdpte[i] & rsvd))
			return -EINVAL;
	return 0;
}

static void vtx_write_pdptes(const u64 pdpte[4])
{
	int i;

	for (i = 0; i < 4; i++)
		vtx_vmwrite(GUEST_PDPTR0 + 2 * i, pdpte[i]);
}

/*
 * A guest MOV to CR0 that turns on PAE paging loads the PDPTEs (the
 * guest's own MOV to CR3 or CR4 loads them in hardware).  -EINVAL for
 * reserved bits, which the guest gets as #GP.  Called from exit
 * handlers, which may sleep (the preempt notifier reloads the VMCS).
 */
static int vtx_load_pdptrs(struct vtx_vcpu *vtx, u64 cr0, u64 cr4, u64 efer)
{
	u64 pdpte[4];

	if (!vtx_pae_paging(cr0, cr4, efer))
		return 0;
	vtx_read_pdptes(vtx, vtx_vmread(GUEST_CR3), pdpte);
	if (vtx_check_pdptes(pdpte))
		return -EINVAL;
	vtx_write_pdptes(pdpte);
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

static u32 vtx_seg_ar(const struct vmx_segment *s)
{
	if (s->unusable || !s->present)
		return VTX_AR_UNUSABLE;
	return (s->type & VTX_AR_TYPE_MASK) | (s->s ? VTX_AR_S : 0) |
	       (s->dpl << VTX_AR_DPL_SHIFT) | VTX_AR_P |
	       (s->avl ? VTX_AR_AVL : 0) | (s->l ? VTX_AR_L : 0) |
	       (s->db ? VTX_AR_DB : 0) | (s->g ? VTX_AR_G : 0);
}

void vtx_seg_write(int seg, const struct vmx_segment *s)
{
	const struct vtx_seg_fields *f = &vtx_segs[seg];

	vtx_vmwrite(f->selector, s->selector);
	vtx_vmwrite(f->base, s->base);
	vtx_vmwrite(f->limit, s->limit);
	vtx_vmwrite(f->ar, vtx_seg_ar(s));
}

/*
 * One segment from the VMCS.  Each field kind steps by 2 from ES in
 * VMX's segment order (SDM Appendix B), which vtx_segs[] spells out.
 */
static __always_inline void vtx_seg_read(int seg, struct vmx_segment *s)
{
	u32 ar = vtx_vmread_current(GUEST_ES_AR_BYTES + 2 * seg);

	s->selector = vtx_vmread_current(GUEST_ES_SELECTOR + 2 * seg);
	s->base = vtx_vmread_current(GUEST_ES_BASE + 2 * seg);
	s->limit = vtx_vmread_current(GUEST_ES_LIMIT + 2 * seg);
	/* AVL, L, D/B and G are bits 12-15. */
	vmx_segment_set_attr(s, ar & 0xff, ar >> 12, ar & VTX_AR_UNUSABLE);
}

/*
 * All of it, as often as once per MMIO exit (VMX_SYNC_ON_DECODE): the
 * reads are unchecked and inlined (the VMCS is made current first).
 */
void vtx_get_sregs(struct vmx_vcpu *vcpu, struct vmx_sregs *sregs)
{
	struct vtx_vcpu *vtx = to_vtx(vcpu);

	BUILD_BUG_ON(GUEST_ES_SELECTOR + 2 * VTX_TR != GUEST_TR_SELECTOR ||
		     GUEST_ES_BASE + 2 * VTX_TR != GUEST_TR_BASE ||
		     GUEST_ES_LIMIT + 2 * VTX_TR != GUEST_TR_LIMIT ||
		     GUEST_ES_AR_BYTES + 2 * VTX_TR != GUEST_TR_AR_BYTES);
	vtx_vmcs_enter(vtx);
	vtx_seg_read(VTX_CS, &sregs->cs);
	vtx_seg_read(VTX_DS, &sregs->ds);
	vtx_seg_read(VTX_ES, &sregs->es);
	vtx_seg_read(VTX_FS, &sregs->fs);
	vtx_seg_read(VTX_GS, &sregs->gs);
	vtx_seg_read(VTX_SS, &sregs->ss);
	vtx_seg_read(VTX_TR, &sregs->tr);
	vtx_seg_read(VTX_LDTR, &sregs->ldt);
	sregs->gdt.base = vtx_vmread_current(GUEST_GDTR_BASE);
	sregs->gdt.limit = vtx_vmread_current(GUEST_GDTR_LIMIT);
	sregs->idt.base = vtx_vmread_current(GUEST_IDTR_BASE);
	sregs->idt.limit = vtx_vmread_current(GUEST_IDTR_LIMIT);
	sregs->cr0 = vtx_guest_cr0();
	sregs->cr2 = vtx->cr2;
	sregs->cr3 = vtx_vmread_current(GUEST_CR3);
	sregs->cr4 = vtx_guest_cr4();
	sregs->efer = vtx_vmread_current(GUEST_IA32_EFER);
	vtx_vmcs_leave();
	sregs->cr8 = *(u32 *)(vtx->vapic + VTX_VAPIC_TPR) >> 4;
}

int vtx_set_sregs(struct vmx_vcpu *vcpu, const struct vmx_sregs *sregs)
{
	struct vtx_vcpu *vtx = to_vtx(vcpu);
	u64 efer = sregs->efer & ~EFER_LMA;
	u64 pdpte[4] = { 0 };
	bool pae;

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
	/* Guest memory first: reading it may sleep, vtx_vmcs_enter() may not. */
	pae = vtx_pae_paging(sregs->cr0, sregs->cr4, efer);
	if (pae)
		vtx_read_pdptes(vtx, sregs->cr3, pdpte);

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
	/* Bad PDPTEs fail the next entry's checks, as on hardware. */
	if (pae)
		vtx_write_pdptes(pdpte);
	vtx_vmcs_leave();
	vtx->cr2 = sregs->cr2;
	/* CD/NW never reach the hardware: check them as an entry would. */
	vtx->bad_cr0 = (sregs->cr0 & X86_CR0_NW) && !(sregs->cr0 & X86_CR0_CD);
	*(u32 *)(vtx->vapic + VTX_VAPIC_TPR) = sregs->cr8 << 4;
	vtx->flush_tlb = true;
	return 0;
}

void vtx_get_events(struct vmx_vcpu *vcpu, struct vmx_events *events)
{
	struct vtx_vcpu *vtx = to_vtx(vcpu);

	events->int_shadow = !!(vtx->intr_state & VTX_INTR_SHADOW);
	events->nmi_masked = !!(vtx->intr_state & VTX_INTR_NMI);
}

int vtx_set_events(struct vmx_vcpu *vcpu, const struct vmx_events *events)
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

bool vtx_nmi_allowed(struct vmx_vcpu *vcpu)
{
	return !(to_vtx(vcpu)->intr_state & (VTX_INTR_SHADOW | VTX_INTR_NMI));
}

bool vtx_irq_window_open(struct vmx_vcpu *vcpu)
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

int vtx_get_msr(struct vmx_vcpu *vcpu, u32 index, u64 *data)
{
	struct vtx_vcpu *vtx = to_vtx(vcpu);
	int slot = vtx_guest_msr_slot(index);
	int ret = 0;

	if (slot >= 0) {
		*data = vtx_guest_msr_read(vtx, slot);
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
	case MSR_IA32_DEBUGCTLMSR:
		/*
		 * Loaded on entry, cleared by the exit: the guest gets
		 * branch single-stepping, never LBR or the host's other
		 * facilities (no LBR virtualization).
		 */
		if (data & ~VTX_GUEST_DEBUGCTL)
			return -EINVAL;
		vtx_vmwrite(GUEST_IA32_DEBUGCTL, data);
		return 0;
	}
	return -ENOENT;
}

int vtx_set_msr(struct vmx_vcpu *vcpu, u32 index, u64 data, bool host)
{
	struct vtx_vcpu *vtx = to_vtx(vcpu);
	int slot = vtx_guest_msr_slot(index);
	int ret;

	if (slot >= 0) {
		/* These go into the real MSRs: wrmsr must not fault. */
		if (index == MSR_SYSCALL_MASK ? data >> 32 :
		    index != MSR_STAR && !vtx_canonical(data))
			return -EINVAL;
		vtx_guest_msr_write(vtx, slot, data);
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
