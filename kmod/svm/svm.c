// SPDX-License-Identifier: GPL-2.0
/*
 * AMD SVM backend: CPU enable/disable, ASIDs, the VMCB of a vCPU, its
 * register state, the run loop step and the ops table.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": svm: " fmt

#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/percpu.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/stringify.h>
#include <asm/cpufeature.h>
#include <asm/debugreg.h>
#include <asm/io.h>
#include <asm/msr.h>
#include <asm/processor.h>
#include <asm/special_insns.h>
#include <asm/traps.h>

#include "svm.h"
#include "../spec.h"

/*
 * Per-CPU SVM state.
 * @hsave:	VM_HSAVE_PA page: where VMRUN keeps host state
 * @host_vmcb:	page VMSAVE/VMLOAD use for the rest of the host state
 * @next_asid, @asid_generation: ASID allocator; a new generation starts
 *		with a flush of all ASIDs
 */
struct svm_cpu {
	struct page *hsave;
	struct page *host_vmcb;
	u32 next_asid;
	u64 asid_generation;
	bool flush_all_asids;
};

static DEFINE_PER_CPU(struct svm_cpu, svm_cpu);
static u32 svm_max_asid;
bool svm_has_nrips;
bool svm_has_decode_assists;

/* ---- module and CPU level ---- */

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

static void svm_free_cpu_pages(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		struct svm_cpu *sc = per_cpu_ptr(&svm_cpu, cpu);

		if (sc->hsave)
			__free_page(sc->hsave);
		if (sc->host_vmcb)
			__free_page(sc->host_vmcb);
		sc->hsave = NULL;
		sc->host_vmcb = NULL;
	}
}

static int svm_hardware_setup(void)
{
	int cpu;

	/* ASID 0 is the host's. */
	svm_max_asid = cpuid_ebx(SVM_CPUID_FUNC) - 1;
	svm_has_nrips = cpuid_edx(SVM_CPUID_FUNC) & SVM_FEAT_NRIPS;
	svm_has_decode_assists = cpuid_edx(SVM_CPUID_FUNC) & SVM_FEAT_DECODE_ASSISTS;
	if (svm_max_asid < 1) {
		pr_err("no guest ASIDs\n");
		return -EOPNOTSUPP;
	}

	for_each_possible_cpu(cpu) {
		struct svm_cpu *sc = per_cpu_ptr(&svm_cpu, cpu);
		int node = cpu_to_node(cpu);

		sc->hsave = alloc_pages_node(node, GFP_KERNEL | __GFP_ZERO, 0);
		sc->host_vmcb = alloc_pages_node(node, GFP_KERNEL | __GFP_ZERO, 0);
		if (!sc->hsave || !sc->host_vmcb) {
			svm_free_cpu_pages();
			return -ENOMEM;
		}
	}
	pr_info("%u ASIDs, NRIP save %s\n", svm_max_asid,
		svm_has_nrips ? "yes" : "no");
	return 0;
}

static void svm_hardware_unsetup(void)
{
	svm_free_cpu_pages();
}

static int svm_cpu_enable(void)
{
	struct svm_cpu *sc = this_cpu_ptr(&svm_cpu);
	u64 efer, vm_cr;

	rdmsrl(MSR_EFER, efer);
	if (efer & EFER_SVME)
		return -EBUSY;

	/* The BIOS may lock SVM off (VM_CR.SVMDIS). */
	rdmsrl(MSR_VM_CR, vm_cr);
	if (vm_cr & SVM_VM_CR_SVMDIS)
		return -EOPNOTSUPP;

	wrmsrl(MSR_EFER, efer | EFER_SVME);
	wrmsrl(MSR_VM_HSAVE_PA, page_to_phys(sc->hsave));
	/* Whatever a previous user left in the TLB: flush on first use. */
	sc->next_asid = svm_max_asid + 1;
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

/*
 * Give the vCPU a fresh ASID on this CPU when it has none from the
 * current generation here, or when its TLB must be flushed (a new ASID
 * has no stale entries; CPUs without flush-by-ASID need this anyway).
 */
static void svm_prepare_asid(struct svm_vcpu *svm, int cpu, bool flush)
{
	struct svm_cpu *sc = this_cpu_ptr(&svm_cpu);

	svm->vmcb->control.tlb_ctl = TLB_CONTROL_DO_NOTHING;
	flush |= svm->flush_tlb;
	svm->flush_tlb = false;
	if (!flush && svm->asid_cpu == cpu &&
	    svm->asid_generation == sc->asid_generation)
		return;
	if (sc->next_asid > svm_max_asid) {
		sc->asid_generation++;
		sc->next_asid = 1;
		svm->vmcb->control.tlb_ctl = TLB_CONTROL_FLUSH_ALL_ASID;
	}
	svm->vmcb->control.asid = sc->next_asid++;
	svm->asid_cpu = cpu;
	svm->asid_generation = sc->asid_generation;
}

/* ---- guest state ---- */

void svm_skip_insn(struct svm_vcpu *svm, unsigned int len)
{
	struct vmx_vcpu *vcpu = &svm->vcpu;

	if (svm_has_nrips && svm->vmcb->control.next_rip)
		vcpu->rip = svm->vmcb->control.next_rip;
	else
		vcpu->rip += len;
	svm_end_shadow(svm);
	vmx_vcpu_insn_stepped(vcpu);
}

/* DR0-3 are ours to switch; DR6 and DR7 are in the save area. */
static void svm_get_debugregs(struct vmx_vcpu *vcpu, struct vmx_debugregs *dbg)
{
	struct svm_vcpu *svm = to_svm(vcpu);

	memcpy(dbg->db, svm->dr, sizeof(dbg->db));
	dbg->dr6 = svm->vmcb->save.dr6;
	dbg->dr7 = svm->vmcb->save.dr7;
}

static void svm_set_debugregs(struct vmx_vcpu *vcpu,
			      const struct vmx_debugregs *dbg)
{
	struct svm_vcpu *svm = to_svm(vcpu);

	memcpy(svm->dr, dbg->db, sizeof(svm->dr));
	svm->vmcb->save.dr6 = dbg->dr6;
	svm->vmcb->save.dr7 = dbg->dr7;
	svm->vmm_state = true;
	/* Breakpoints the VMM armed must match on the guest's DR0-3. */
	svm_dr_go_live(svm);
}

/* A single-step trap on the way (vmx_event_single_step()). */
static void svm_note_single_step(struct vmx_vcpu *vcpu)
{
	to_svm(vcpu)->vmcb->save.dr6 |= DR_STEP;
}

void svm_queue_exception(struct svm_vcpu *svm, u8 vector, bool has_error,
			 u32 error_code)
{
	vmx_vcpu_queue_exception(&svm->vcpu, vector, has_error, error_code);
}

static u16 svm_seg_attr(const struct vmx_segment *s)
{
	if (s->unusable)
		return 0;
	return (s->type & SVM_ATTR_TYPE_MASK) | (s->s ? SVM_ATTR_S : 0) |
	       (s->dpl << SVM_ATTR_DPL_SHIFT) | (s->present ? SVM_ATTR_P : 0) |
	       (s->avl ? SVM_ATTR_AVL : 0) | (s->l ? SVM_ATTR_L : 0) |
	       (s->db ? SVM_ATTR_DB : 0) | (s->g ? SVM_ATTR_G : 0);
}

static void svm_seg_to_vmcb(struct vmcb_seg *v, const struct vmx_segment *s)
{
	v->selector = s->selector;
	v->attrib = svm_seg_attr(s);
	v->limit = s->limit;
	v->base = s->base;
}

static void svm_seg_from_vmcb(struct vmx_segment *s, const struct vmcb_seg *v)
{
	s->selector = v->selector;
	s->limit = v->limit;
	s->base = v->base;
	/* AVL, L, D/B and G are bits 8-11; no present bit: unusable. */
	vmx_segment_set_attr(s, v->attrib & 0xff, v->attrib >> 8,
			     !(v->attrib & SVM_ATTR_P));
}

static void svm_get_sregs(struct vmx_vcpu *vcpu, struct vmx_sregs *sregs)
{
	struct vmcb_save_area *save = &to_svm(vcpu)->vmcb->save;

	svm_seg_from_vmcb(&sregs->cs, &save->cs);
	svm_seg_from_vmcb(&sregs->ds, &save->ds);
	svm_seg_from_vmcb(&sregs->es, &save->es);
	svm_seg_from_vmcb(&sregs->fs, &save->fs);
	svm_seg_from_vmcb(&sregs->gs, &save->gs);
	svm_seg_from_vmcb(&sregs->ss, &save->ss);
	svm_seg_from_vmcb(&sregs->tr, &save->tr);
	svm_seg_from_vmcb(&sregs->ldt, &save->ldtr);
	sregs->gdt.base = save->gdtr.base;
	sregs->gdt.limit = save->gdtr.limit;
	sregs->idt.base = save->idtr.base;
	sregs->idt.limit = save->idtr.limit;
	sregs->cr0 = save->cr0;
	sregs->cr2 = save->cr2;
	sregs->cr3 = save->cr3;
	sregs->cr4 = save->cr4;
	sregs->cr8 = to_svm(vcpu)->vmcb->control.int_ctl & V_TPR_MASK;
	sregs->efer = save->efer & ~EFER_SVME;
}

/*
 * CR4 bits a guest may have, if its CPUID offers the feature (never VMXE,
 * SMXE, CET, PKS, ...).  PCE has no CPUID bit; RDPMC is intercepted anyway.
 */
#define SVM_CR4_ALLOWED	(X86_CR4_VME | X86_CR4_PVI | X86_CR4_TSD | \
			 X86_CR4_DE | X86_CR4_PSE | X86_CR4_PAE | \
			 X86_CR4_MCE | X86_CR4_PGE | X86_CR4_PCE | \
			 X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT | X86_CR4_UMIP | \
			 X86_CR4_LA57 | X86_CR4_FSGSBASE | X86_CR4_PCIDE | \
			 X86_CR4_OSXSAVE | X86_CR4_SMEP | X86_CR4_SMAP | \
			 X86_CR4_PKE)

/* Changing these invalidates the guest's translations (SDM 4.10.4.1). */
#define SVM_CR4_TLB_BITS (X86_CR4_PSE | X86_CR4_PAE | X86_CR4_PGE | \
			  X86_CR4_PCIDE | X86_CR4_SMEP | X86_CR4_SMAP | \
			  X86_CR4_LA57 | X86_CR4_PKE)

enum { SVM_CPUID_EBX, SVM_CPUID_ECX, SVM_CPUID_EDX };

/* The CPUID feature (leaf, register, bit) each CR4 bit stands for. */
static const struct {
	u64 cr4;
	u32 leaf;
	u8 reg;
	u8 bit;
} svm_cr4_cpuid[] = {
	{ X86_CR4_VME,		1, SVM_CPUID_EDX, 1 },
	{ X86_CR4_PVI,		1, SVM_CPUID_EDX, 1 },
	{ X86_CR4_DE,		1, SVM_CPUID_EDX, 2 },
	{ X86_CR4_PSE,		1, SVM_CPUID_EDX, 3 },
	{ X86_CR4_TSD,		1, SVM_CPUID_EDX, 4 },
	{ X86_CR4_PAE,		1, SVM_CPUID_EDX, 6 },
	{ X86_CR4_MCE,		1, SVM_CPUID_EDX, 7 },
	{ X86_CR4_PGE,		1, SVM_CPUID_EDX, 13 },
	{ X86_CR4_OSFXSR,	1, SVM_CPUID_EDX, 24 },
	{ X86_CR4_OSXMMEXCPT,	1, SVM_CPUID_EDX, 25 },
	{ X86_CR4_PCIDE,	1, SVM_CPUID_ECX, 17 },
	{ X86_CR4_OSXSAVE,	1, SVM_CPUID_ECX, 26 },
	{ X86_CR4_FSGSBASE,	7, SVM_CPUID_EBX, 0 },
	{ X86_CR4_SMEP,		7, SVM_CPUID_EBX, 7 },
	{ X86_CR4_SMAP,		7, SVM_CPUID_EBX, 20 },
	{ X86_CR4_UMIP,		7, SVM_CPUID_ECX, 2 },
	{ X86_CR4_PKE,		7, SVM_CPUID_ECX, 3 },
	{ X86_CR4_LA57,		7, SVM_CPUID_ECX, 16 },
};

/* Only what the CPU itself implements. */
static u64 svm_cr4_host_allowed(void)
{
	u64 allowed = SVM_CR4_ALLOWED;

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
	if (!boot_cpu_has(X86_FEATURE_PKU))
		allowed &= ~X86_CR4_PKE;
	return allowed;
}

/* Register @reg of leaf @leaf (subleaf 0) in the VM's table, 0 if absent. */
static u32 svm_cpuid_reg(const struct vmx_cpuid *c, u32 leaf, int reg)
{
	u32 i;

	for (i = 0; c && i < c->nent; i++) {
		const struct vmx_cpuid_entry *e = &c->entries[i];

		if (e->function != leaf ||
		    ((e->flags & VMX_CPUID_INDEXED) && e->index))
			continue;
		return reg == SVM_CPUID_EBX ? e->ebx :
		       reg == SVM_CPUID_ECX ? e->ecx : e->edx;
	}
	return 0;
}

/*
 * CR4 bits the guest of @vm may set: implemented by the host and offered
 * by the CPUID table the guest sees (so no PKE unless the VMM offers PKU,
 * no OSXSAVE without XSAVE).
 */
static u64 svm_cr4_allowed(struct vmx_vm *vm)
{
	u64 allowed = svm_cr4_host_allowed();
	const struct vmx_cpuid *c;
	int i;

	rcu_read_lock();
	c = rcu_dereference(vm->cpuid);
	for (i = 0; i < ARRAY_SIZE(svm_cr4_cpuid); i++)
		if (!(svm_cpuid_reg(c, svm_cr4_cpuid[i].leaf, svm_cr4_cpuid[i].reg) &
		      BIT(svm_cr4_cpuid[i].bit)))
			allowed &= ~svm_cr4_cpuid[i].cr4;
	rcu_read_unlock();
	return allowed;
}

/*
 * A guest MOV to CR4 (intercepted): the bits it may have and the
 * architectural rules, -EINVAL for #GP.  The hardware write is not done
 * by the CPU here, so neither is its TLB flush: ask for one.
 */
int svm_set_cr4(struct svm_vcpu *svm, u64 cr4)
{
	struct vmcb_save_area *save = &svm->vmcb->save;
	u64 old = save->cr4;

	if (cr4 & ~svm_cr4_allowed(svm->vcpu.vm))
		return -EINVAL;
	if (save->efer & EFER_LMA) {
		if (!(cr4 & X86_CR4_PAE) || ((cr4 ^ old) & X86_CR4_LA57))
			return -EINVAL;
	} else if (cr4 & X86_CR4_PCIDE) {
		return -EINVAL;
	}
	if ((cr4 & ~old & X86_CR4_PCIDE) && (save->cr3 & 0xfff))
		return -EINVAL;
	save->cr4 = cr4;
	if ((cr4 ^ old) & SVM_CR4_TLB_BITS)
		svm->flush_tlb = true;
	return 0;
}

static int svm_set_sregs(struct vmx_vcpu *vcpu, const struct vmx_sregs *sregs)
{
	struct svm_vcpu *svm = to_svm(vcpu);
	struct vmcb_save_area *save = &svm->vmcb->save;
	u64 efer = sregs->efer & ~EFER_LMA;

	/* Bits that must be zero, and paging modes no CPU can be in. */
	if (sregs->cr0 >> 32 || sregs->cr4 & ~svm_cr4_allowed(vcpu->vm) ||
	    sregs->efer & ~SVM_GUEST_EFER || sregs->cr8 & ~0xfULL)
		return -EINVAL;
	if ((sregs->cr0 & X86_CR0_PG) && !(sregs->cr0 & X86_CR0_PE))
		return -EINVAL;
	if ((efer & EFER_LME) && (sregs->cr0 & X86_CR0_PG) &&
	    !(sregs->cr4 & X86_CR4_PAE))
		return -EINVAL;

	svm_seg_to_vmcb(&save->cs, &sregs->cs);
	svm_seg_to_vmcb(&save->ds, &sregs->ds);
	svm_seg_to_vmcb(&save->es, &sregs->es);
	svm_seg_to_vmcb(&save->fs, &sregs->fs);
	svm_seg_to_vmcb(&save->gs, &sregs->gs);
	svm_seg_to_vmcb(&save->ss, &sregs->ss);
	svm_seg_to_vmcb(&save->tr, &sregs->tr);
	svm_seg_to_vmcb(&save->ldtr, &sregs->ldt);
	save->gdtr.base = sregs->gdt.base;
	save->gdtr.limit = sregs->gdt.limit;
	save->idtr.base = sregs->idt.base;
	save->idtr.limit = sregs->idt.limit;
	save->cr0 = sregs->cr0;
	save->cr2 = sregs->cr2;
	save->cr3 = sregs->cr3;
	save->cr4 = sregs->cr4;
	/* LMA follows from LME and paging, whatever the VMM passed. */
	if ((efer & EFER_LME) && (sregs->cr0 & X86_CR0_PG))
		efer |= EFER_LMA;
	save->efer = efer | EFER_SVME;
	/* CPL is SS.DPL in protected mode, 0 in real mode. */
	save->cpl = (sregs->cr0 & X86_CR0_PE) ? sregs->ss.dpl : 0;
	svm->vmm_state = true;
	svm->vmcb->control.int_ctl = (svm->vmcb->control.int_ctl & ~V_TPR_MASK) |
				     sregs->cr8;
	/*
	 * Loading CR3 flushes the guest's non-global translations, and new
	 * CR0.PG/WP, CR4.PAE/PGE/PSE/PCIDE/SMEP/... or EFER.NX/LME change
	 * what every cached one means; the CPU flushes nothing when the VMM
	 * rewrites the VMCB.  A VMM that switched page tables (even to the
	 * same CR3, after editing them) must not find stale entries: flush
	 * the guest's ASID (a fresh one) at the next entry, always, since
	 * SET_SREGS always loads CR3 and is rare.
	 */
	svm->flush_tlb = true;
	return 0;
}

/*
 * Without vNMI the CPU does not tell whether the guest is inside an NMI
 * handler: track it from the NMIs we inject to the guest's next IRET.
 */
void svm_set_nmi_masked(struct svm_vcpu *svm, bool masked)
{
	svm->nmi_masked = masked;
	svm->nmi_iret_pending = false;
	svm->nmi_singlestep = false;
	if (masked)
		svm_set_intercept(svm->vmcb, INTERCEPT_IRET);
	else
		svm_clr_intercept(svm->vmcb, INTERCEPT_IRET);
}

static void svm_get_events(struct vmx_vcpu *vcpu, struct vmx_events *events)
{
	struct svm_vcpu *svm = to_svm(vcpu);

	events->int_shadow = !!(svm->vmcb->control.int_state &
				SVM_INTERRUPT_SHADOW_MASK);
	events->nmi_masked = svm->nmi_masked;
}

static int svm_set_events(struct vmx_vcpu *vcpu, const struct vmx_events *events)
{
	struct svm_vcpu *svm = to_svm(vcpu);
	struct vmcb_control_area *ctl = &svm->vmcb->control;

	if (events->int_shadow)
		ctl->int_state |= SVM_INTERRUPT_SHADOW_MASK;
	else
		ctl->int_state &= ~SVM_INTERRUPT_SHADOW_MASK;
	svm_set_nmi_masked(svm, events->nmi_masked);
	return 0;
}

/*
 * The IRET that ends the guest's NMI handler was intercepted before it
 * ran: NMIs stay blocked until an exit shows RIP elsewhere.
 */
bool svm_nmi_iret_done(struct svm_vcpu *svm)
{
	struct vmcb_save_area *save = &svm->vmcb->save;
	bool stepped = svm->nmi_singlestep;

	if (!svm->nmi_iret_pending)
		return false;
	if (save->rip == svm->nmi_iret_rip) {
		/* The IRET has not run yet: take our TF back, step again later. */
		if (stepped && !svm->nmi_singlestep_guest_tf)
			svm->vcpu.rflags &= ~X86_EFLAGS_TF;
		svm->nmi_singlestep = false;
		return false;
	}
	svm->nmi_iret_pending = false;
	svm->nmi_masked = false;
	svm->nmi_singlestep = false;
	if (!stepped ||
	    svm->vmcb->control.exit_code != SVM_EXIT_EXCP_BASE + DB_VECTOR)
		return false;
	/*
	 * Our single-step trap after the IRET: swallow it, unless the guest
	 * was single-stepping its NMI handler itself.
	 */
	save->dr6 &= ~DR_STEP;
	if (svm->nmi_singlestep_guest_tf)
		return false;
	return true;
}

/*
 * No NMI window on SVM without vNMI: single-step the IRET that ends the
 * guest's NMI handler, so that a held NMI goes in right after it, as it
 * would on the CPU.  The trap is swallowed in svm_nmi_iret_done().
 */
static void svm_nmi_singlestep(struct svm_vcpu *svm)
{
	struct vmcb_save_area *save = &svm->vmcb->save;

	if (!svm->nmi_iret_pending || svm->nmi_singlestep)
		return;
	svm->nmi_singlestep = true;
	svm->nmi_singlestep_guest_tf = save->rflags & X86_EFLAGS_TF;
	/* #DB is always intercepted (svm_exit_db()): the trap comes to us. */
	save->rflags |= X86_EFLAGS_TF;
}

static bool svm_nmi_allowed(struct vmx_vcpu *vcpu)
{
	return !to_svm(vcpu)->nmi_masked &&
	       !(to_svm(vcpu)->vmcb->control.int_state & SVM_INTERRUPT_SHADOW_MASK);
}

static bool svm_irq_window_open(struct vmx_vcpu *vcpu)
{
	return (vcpu->rflags & X86_EFLAGS_IF) &&
	       !(to_svm(vcpu)->vmcb->control.int_state & SVM_INTERRUPT_SHADOW_MASK);
}

/* ---- MSRs in the VMCB ---- */

static int svm_get_msr(struct vmx_vcpu *vcpu, u32 index, u64 *data)
{
	struct vmcb *vmcb = to_svm(vcpu)->vmcb;
	struct vmcb_save_area *save = &vmcb->save;

	switch (index) {
	case MSR_EFER:
		*data = save->efer & ~EFER_SVME;
		break;
	case MSR_STAR:
		*data = save->star;
		break;
	case MSR_LSTAR:
		*data = save->lstar;
		break;
	case MSR_CSTAR:
		*data = save->cstar;
		break;
	case MSR_SYSCALL_MASK:
		*data = save->sfmask;
		break;
	case MSR_KERNEL_GS_BASE:
		*data = save->kernel_gs_base;
		break;
	case MSR_FS_BASE:
		*data = save->fs.base;
		break;
	case MSR_GS_BASE:
		*data = save->gs.base;
		break;
	case MSR_IA32_SYSENTER_CS:
		*data = save->sysenter_cs;
		break;
	case MSR_IA32_SYSENTER_ESP:
		*data = save->sysenter_esp;
		break;
	case MSR_IA32_SYSENTER_EIP:
		*data = save->sysenter_eip;
		break;
	case MSR_IA32_CR_PAT:
		*data = save->g_pat;
		break;
	case MSR_IA32_DEBUGCTLMSR:
		*data = save->dbgctl;
		break;
	case MSR_VM_CR:
		/* SVM is hidden from the guest: locked off. */
		*data = SVM_VM_CR_SVMDIS | SVM_VM_CR_LOCK;
		break;
	case MSR_VM_HSAVE_PA:
	case MSR_K7_HWCR:
		*data = 0;
		break;
	default:
		return -ENOENT;
	}
	return 0;
}

static bool svm_pat_valid(u64 pat)
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

static int svm_set_efer(struct svm_vcpu *svm, u64 data, bool host)
{
	struct vmcb_save_area *save = &svm->vmcb->save;

	if (data & ~SVM_GUEST_EFER)
		return -EINVAL;
	/* A guest may not flip LME while paging is on. */
	if (!host && (save->cr0 & X86_CR0_PG) &&
	    ((data ^ save->efer) & EFER_LME))
		return -EINVAL;
	if (!host)
		data = (data & ~EFER_LMA) | (save->efer & EFER_LMA);
	save->efer = data | EFER_SVME;
	return 0;
}

static bool svm_canonical(u64 addr)
{
	return (s64)(addr << 16) >> 16 == (s64)addr;
}

static int svm_set_msr(struct vmx_vcpu *vcpu, u32 index, u64 data, bool host)
{
	struct svm_vcpu *svm = to_svm(vcpu);
	struct vmcb_save_area *save = &svm->vmcb->save;

	if (host)
		svm->vmm_state = true;

	switch (index) {
	case MSR_EFER:
		return svm_set_efer(svm, data, host);
	case MSR_STAR:
		save->star = data;
		return 0;
	case MSR_LSTAR:
	case MSR_CSTAR:
	case MSR_KERNEL_GS_BASE:
	case MSR_FS_BASE:
	case MSR_GS_BASE:
	case MSR_IA32_SYSENTER_ESP:
	case MSR_IA32_SYSENTER_EIP:
		if (!svm_canonical(data))
			return -EINVAL;
		if (index == MSR_LSTAR)
			save->lstar = data;
		else if (index == MSR_CSTAR)
			save->cstar = data;
		else if (index == MSR_KERNEL_GS_BASE)
			save->kernel_gs_base = data;
		else if (index == MSR_FS_BASE)
			save->fs.base = data;
		else if (index == MSR_GS_BASE)
			save->gs.base = data;
		else if (index == MSR_IA32_SYSENTER_ESP)
			save->sysenter_esp = data;
		else
			save->sysenter_eip = data;
		return 0;
	case MSR_SYSCALL_MASK:
		save->sfmask = data;
		return 0;
	case MSR_IA32_SYSENTER_CS:
		save->sysenter_cs = data;
		return 0;
	case MSR_IA32_CR_PAT:
		if (!svm_pat_valid(data))
			return -EINVAL;
		save->g_pat = data;
		return 0;
	case MSR_IA32_DEBUGCTLMSR:
		/* No LBR virtualization: only the reset value. */
		return data ? -EINVAL : 0;
	case MSR_VM_CR:
	case MSR_VM_HSAVE_PA:
		/* Host-sensitive: a guest write is refused (#GP). */
		return -EINVAL;
	case MSR_K7_HWCR:
		return data ? -EINVAL : 0;
	}
	return -ENOENT;
}

/* ---- vCPU set-up ---- */

/* MSRs the guest reads and writes directly: VMLOAD/VMSAVE switch them. */
static const u32 svm_passthrough_msrs[] = {
	MSR_FS_BASE, MSR_GS_BASE, MSR_KERNEL_GS_BASE,
	MSR_STAR, MSR_LSTAR, MSR_CSTAR, MSR_SYSCALL_MASK,
	MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_ESP, MSR_IA32_SYSENTER_EIP,
};

/* Clear both intercept bits of @msr in the MSR permission map. */
static void svm_msrpm_allow(void *msrpm, u32 msr)
{
	static const u32 base[] = { 0, 0xc0000000, 0xc0010000 };
	u32 range, bit;

	for (range = 0; range < ARRAY_SIZE(base); range++) {
		if (msr - base[range] < 0x2000) {
			bit = range * 0x4000 + (msr - base[range]) * 2;
			clear_bit(bit, msrpm);
			clear_bit(bit + 1, msrpm);
			return;
		}
	}
}

static void svm_init_seg(struct vmcb_seg *seg, u16 type)
{
	seg->selector = 0;
	seg->attrib = SVM_ATTR_P | SVM_ATTR_S | type;
	seg->limit = 0xffff;
	seg->base = 0;
}

/* x86 reset state (APM Vol. 2, 14.1.3), as far as the VMCB holds it. */
static void svm_init_vmcb(struct svm_vcpu *svm)
{
	struct vmcb *vmcb = svm->vmcb;
	struct vmcb_control_area *ctl = &vmcb->control;
	struct vmcb_save_area *save = &vmcb->save;
	static const unsigned int intercepts[] = {
		INTERCEPT_INTR, INTERCEPT_NMI, INTERCEPT_SMI, INTERCEPT_INIT,
		INTERCEPT_CPUID, INTERCEPT_INVD, INTERCEPT_HLT,
		INTERCEPT_INVLPGA, INTERCEPT_IOIO_PROT, INTERCEPT_MSR_PROT,
		INTERCEPT_TASK_SWITCH, INTERCEPT_SHUTDOWN, INTERCEPT_VMRUN,
		INTERCEPT_VMMCALL, INTERCEPT_VMLOAD, INTERCEPT_VMSAVE,
		INTERCEPT_STGI, INTERCEPT_CLGI, INTERCEPT_SKINIT,
		INTERCEPT_RDTSCP, INTERCEPT_WBINVD, INTERCEPT_MONITOR,
		/* CR4 bits are the module's to grant (svm_exit_write_cr4()). */
		INTERCEPT_CR4_WRITE,
		INTERCEPT_MWAIT, INTERCEPT_MWAIT_COND, INTERCEPT_XSETBV,
		INTERCEPT_RDPRU,
		/* No PMU for guests: the host's counters are not theirs. */
		INTERCEPT_RDPMC,
		/* Machine checks belong to the host. */
		INTERCEPT_EXCEPTION_OFFSET + MC_VECTOR,
		/*
		 * Exceptions whose delivery can raise them again without end
		 * (svm_exit_db(), svm_exit_ac()): never left to the guest.
		 */
		INTERCEPT_EXCEPTION_OFFSET + DB_VECTOR,
		INTERCEPT_EXCEPTION_OFFSET + AC_VECTOR,
		/* DR0-3 are the host's until the guest uses them. */
		INTERCEPT_DR0_READ, INTERCEPT_DR1_READ, INTERCEPT_DR2_READ,
		INTERCEPT_DR3_READ, INTERCEPT_DR0_WRITE, INTERCEPT_DR1_WRITE,
		INTERCEPT_DR2_WRITE, INTERCEPT_DR3_WRITE,
	};
	int i;

	for (i = 0; i < ARRAY_SIZE(intercepts); i++)
		svm_set_intercept(vmcb, intercepts[i]);

	ctl->iopm_base_pa = virt_to_phys(svm->iopm);
	ctl->msrpm_base_pa = virt_to_phys(svm->msrpm);
	ctl->nested_ctl = SVM_NESTED_CTL_NP_ENABLE;
	ctl->nested_cr3 = vmx_mmu_root_pa(svm->vcpu.vm);
	/* Physical interrupts stay the host's, whatever the guest's IF. */
	ctl->int_ctl = V_INTR_MASKING_MASK;
	ctl->tsc_offset = svm->vcpu.tsc_offset;

	svm_init_seg(&save->cs, 0xb);	/* code, read, accessed */
	save->cs.selector = 0xf000;
	save->cs.base = 0xffff0000;
	svm_init_seg(&save->ds, 0x3);	/* data, write, accessed */
	svm_init_seg(&save->es, 0x3);
	svm_init_seg(&save->fs, 0x3);
	svm_init_seg(&save->gs, 0x3);
	svm_init_seg(&save->ss, 0x3);
	save->gdtr.limit = 0xffff;
	save->idtr.limit = 0xffff;
	save->ldtr.attrib = SVM_ATTR_P | 0x2;	/* LDT */
	save->ldtr.limit = 0xffff;
	save->tr.attrib = SVM_ATTR_P | 0x3;	/* busy 16-bit TSS */
	save->tr.limit = 0xffff;

	save->cr0 = X86_CR0_NW | X86_CR0_CD | X86_CR0_ET;
	save->efer = EFER_SVME;
	save->dr6 = 0xffff0ff0;
	save->dr7 = 0x400;
	save->g_pat = 0x0007040600070406ULL;
}

/*
 * After a SHUTDOWN intercept the VMCB's guest state is undefined (APM
 * Vol. 2, 15.11): put the vCPU back into the state VMX_CREATE_VCPU gave
 * it, so that a VMM that goes on with it (SET_REGS/SET_SREGS, then RUN)
 * starts from something defined and none of the crashed guest's state
 * survives in fields SET_SREGS does not cover (DR0-DR7, the VMCB's MSRs,
 * interrupt shadow, NMI masking, V_TPR).  A fresh ASID drops its
 * translations.  Nor does an event survive: the exception whose delivery
 * ended in the triple fault comes back in EXITINTINFO and was re-queued,
 * and would hit the next guest at its first instruction.  The rest of the
 * core's state (FPU, software MSRs) is the core's.
 */
void svm_reset_vcpu(struct svm_vcpu *svm)
{
	struct vmx_vcpu *vcpu = &svm->vcpu;

	memset(svm->vmcb, 0, PAGE_SIZE);
	svm_init_vmcb(svm);
	svm->asid_cpu = -1;
	memset(svm->dr, 0, sizeof(svm->dr));
	svm->dr_live = false;
	svm_set_nmi_masked(svm, false);
	svm->vmm_state = true;
	vmx_vcpu_reset_regs(vcpu);
}

static void svm_vcpu_free(struct vmx_vcpu *vcpu)
{
	struct svm_vcpu *svm = to_svm(vcpu);

	free_page((unsigned long)svm->vmcb);
	kfree(svm->good_save);
	free_pages((unsigned long)svm->msrpm, SVM_MSRPM_ORDER);
	free_pages((unsigned long)svm->iopm, SVM_IOPM_ORDER);
}

static int svm_vcpu_init(struct vmx_vcpu *vcpu)
{
	struct svm_vcpu *svm = to_svm(vcpu);
	int i;

	svm->vmcb = (void *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	svm->msrpm = (void *)__get_free_pages(GFP_KERNEL_ACCOUNT, SVM_MSRPM_ORDER);
	svm->iopm = (void *)__get_free_pages(GFP_KERNEL_ACCOUNT, SVM_IOPM_ORDER);
	svm->good_save = kmalloc(sizeof(*svm->good_save), GFP_KERNEL_ACCOUNT);
	if (!svm->vmcb || !svm->msrpm || !svm->iopm || !svm->good_save) {
		svm_vcpu_free(vcpu);
		return -ENOMEM;
	}
	/* Intercept every port and every MSR, then open the few above. */
	memset(svm->iopm, 0xff, PAGE_SIZE << SVM_IOPM_ORDER);
	memset(svm->msrpm, 0xff, PAGE_SIZE << SVM_MSRPM_ORDER);
	for (i = 0; i < ARRAY_SIZE(svm_passthrough_msrs); i++)
		svm_msrpm_allow(svm->msrpm, svm_passthrough_msrs[i]);

	svm->vmcb_pa = virt_to_phys(svm->vmcb);
	svm->asid_cpu = -1;
	svm_init_vmcb(svm);
	svm->vmm_state = true;
	return 0;
}

/* ---- debug registers ---- */

/*
 * The guest touched DR0-3: from now on they are switched around every
 * entry and its accesses run natively (the instruction runs again).
 */
void svm_dr_go_live(struct svm_vcpu *svm)
{
	int i;

	svm->dr_live = true;
	for (i = 0; i < 4; i++) {
		svm_clr_intercept(svm->vmcb, INTERCEPT_DR0_READ + i);
		svm_clr_intercept(svm->vmcb, INTERCEPT_DR0_WRITE + i);
	}
}

/* ---- one entry ---- */

#define SVM_VIRQ_BITS	(V_IRQ_MASK | V_IGN_TPR_MASK | V_INTR_PRIO_MASK)

/*
 * A virtual interrupt request: with VINTR intercepted the CPU exits as
 * soon as the guest could take an interrupt (a window); without, the
 * guest takes @vector then, through its IDT like any interrupt.
 */
static void svm_request_virq(struct svm_vcpu *svm, u8 vector, bool window)
{
	struct vmcb_control_area *ctl = &svm->vmcb->control;

	ctl->int_vector = vector;
	ctl->int_ctl |= V_IRQ_MASK | V_IGN_TPR_MASK | (0xf << V_INTR_PRIO_SHIFT);
	if (window)
		svm_set_intercept(svm->vmcb, INTERCEPT_VINTR);
}

/*
 * Put the event the core picked into the VMCB and open the windows.
 *
 * An external interrupt goes in as a virtual interrupt request rather
 * than through EVENTINJ, unless a window must be opened as well (the
 * two share V_IRQ).  The core offers an interrupt only when the window
 * is open, so both ways deliver the same; but QEMU's SVM emulation (7.2,
 * the test rig's) leaves an EVENTINJ interrupt pending in its CPU loop
 * after delivering it and delivers it a second time, with IF clear, if
 * its main loop asks the CPU to stop before the guest's next exception
 * or exit.  In the nested Linux of the rig that was an interrupt at the
 * first instruction of an interrupt handler entered from user mode,
 * before SWAPGS: an oops in error_entry in about one boot in 20.
 */
static void svm_inject_pending(struct svm_vcpu *svm)
{
	struct vmcb_control_area *ctl = &svm->vmcb->control;
	struct vmx_event_plan plan;
	struct vmx_event *ev = &plan.event;
	u32 type;

	/* Windows and requests of the last entry are gone; the plan says anew. */
	if (unlikely(ctl->int_ctl & V_IRQ_MASK)) {
		ctl->int_ctl &= ~SVM_VIRQ_BITS;
		svm_clr_intercept(svm->vmcb, INTERCEPT_VINTR);
	}
	svm->virq = false;
	if (!vmx_event_pick(&svm->vcpu, &plan))
		return;
	if (plan.inject && ev->type == VMX_EVENT_EXTINT && !plan.irq_window) {
		svm_request_virq(svm, ev->vector, false);
		svm->virq = true;
	} else if (plan.inject) {
		type = ev->type == VMX_EVENT_EXTINT ? SVM_EVENT_TYPE_INTR :
		       ev->type == VMX_EVENT_NMI ? SVM_EVENT_TYPE_NMI :
		       SVM_EVENT_TYPE_EXCEPT;
		ctl->event_inj = SVM_EVENT_VALID | ev->vector |
				 (type << SVM_EVENT_TYPE_SHIFT);
		/* Real mode pushes no error codes. */
		if (ev->flags & VMX_EVENT_HAS_ERROR_CODE &&
		    svm->vmcb->save.cr0 & X86_CR0_PE)
			ctl->event_inj |= SVM_EVENT_HAS_ERR;
		ctl->event_inj_err = ev->error_code;
	}
	if (plan.irq_window)
		svm_request_virq(svm, 0, true);
	if (plan.nmi_window)
		svm_nmi_singlestep(svm);
}

/*
 * The event whose delivery the exit interrupted goes back to the core,
 * which delivers it again first.  Software interrupts and INT3/INTO are
 * not handed back: RIP still points at the instruction, which runs
 * again.
 */
static void svm_requeue_exit_int_info(struct svm_vcpu *svm)
{
	struct vmcb_control_area *ctl = &svm->vmcb->control;
	u32 info = ctl->exit_int_info;
	u32 type = (info & SVM_EVENT_TYPE_MASK) >> SVM_EVENT_TYPE_SHIFT;
	u8 vector = info & SVM_EVENT_VECTOR_MASK;
	struct vmx_event ev = { };
	bool valid;

	ctl->event_inj = 0;
	/*
	 * Exceptions have vectors 0-31.  QEMU reports an interrupt it took
	 * itself (a V_IRQ request) as an exception when its delivery is cut
	 * short; the CPU never does.
	 */
	if (type == SVM_EVENT_TYPE_EXCEPT && vector >= 32)
		type = SVM_EVENT_TYPE_INTR;
	valid = (info & SVM_EVENT_VALID) && type != SVM_EVENT_TYPE_SOFT &&
		!(type == SVM_EVENT_TYPE_EXCEPT && (vector == 3 || vector == 4));
	/*
	 * A virtual interrupt the guest did not take yet stays queued; one
	 * whose delivery was cut short comes back as the interrupted event.
	 */
	if (svm->virq && (ctl->int_ctl & V_IRQ_MASK) &&
	    !(valid && type == SVM_EVENT_TYPE_INTR && vector == ctl->int_vector))
		vmx_event_not_taken(&svm->vcpu);
	if (valid) {
		ev.type = type == SVM_EVENT_TYPE_INTR ? VMX_EVENT_EXTINT :
			  type == SVM_EVENT_TYPE_NMI ? VMX_EVENT_NMI :
			  VMX_EVENT_EXCEPTION;
		ev.vector = vector;
		if (info & SVM_EVENT_HAS_ERR) {
			ev.flags = VMX_EVENT_HAS_ERROR_CODE;
			ev.error_code = ctl->exit_int_info_err;
		}
	}
	/* A delivered NMI masks NMIs until the guest's IRET. */
	if (vmx_event_exit(&svm->vcpu, valid ? &ev : NULL) == VMX_EVENT_NMI)
		svm_set_nmi_masked(svm, true);
}

static void svm_load_regs(struct svm_vcpu *svm)
{
	struct vmcb_save_area *save = &svm->vmcb->save;
	struct vmx_vcpu *vcpu = &svm->vcpu;

	save->rax = vcpu->gprs[VMX_RAX];
	save->rsp = vcpu->gprs[VMX_RSP];
	save->rip = vcpu->rip;
	save->rflags = vcpu->rflags;
	svm->vmcb->control.tsc_offset = vcpu->tsc_offset;
}

static void svm_save_regs(struct svm_vcpu *svm)
{
	struct vmcb_save_area *save = &svm->vmcb->save;
	struct vmx_vcpu *vcpu = &svm->vcpu;
	struct vmx_run *run = vcpu->run;

	vcpu->gprs[VMX_RAX] = save->rax;
	vcpu->gprs[VMX_RSP] = save->rsp;
	vcpu->rip = save->rip;
	vcpu->rflags = save->rflags;

	run->rip = save->rip;
	run->if_flag = !!(save->rflags & X86_EFLAGS_IF);
	run->irq_window_open = svm_irq_window_open(vcpu);
	run->cr8 = svm->vmcb->control.int_ctl & V_TPR_MASK;
}

/*
 * VMRUN refused the guest state (VMEXIT_INVALID): nothing ran.  Put back
 * the state the VMM set, keep the registers and the queued event as they
 * were, and let the VMM look at it (FAIL_ENTRY).
 */
static void svm_entry_failed(struct svm_vcpu *svm)
{
	/* Only a copy taken for this entry is the VMM's latest state. */
	if (svm->vmm_state)
		memcpy(&svm->vmcb->save, svm->good_save, sizeof(svm->vmcb->save));
	svm->vmcb->control.event_inj = 0;
	svm->vcpu.run->rip = svm->vcpu.rip;
}

/*
 * A machine check that hits while the guest runs is intercepted (it is
 * the host's, never the guest's), and an intercepted exception is not
 * delivered to the host either: the CPU just exits.  Hand it to the
 * host's #MC handler as the CPU would have, on this CPU (the MCA banks
 * are per CPU) and before interrupts are on, so the thread cannot be
 * migrated first.  GIF is set again, IRQs are off: the state of an #MC
 * taken in the kernel with interrupts disabled.
 *
 * No test rig can raise a real machine check inside a guest (QEMU TCG
 * does not model MCA in nested guests), so this path is untested there.
 */
static void svm_handle_host_mce(struct svm_vcpu *svm)
{
	if (svm->vmcb->control.exit_code != SVM_EXIT_EXCP_BASE + MC_VECTOR)
		return;
	if (IS_ENABLED(CONFIG_X86_MCE))
		asm volatile("int $" __stringify(X86_TRAP_MC));
}

/*
 * CLGI or STGI faulted: EFER.SVME was cleared on this CPU under a running
 * vCPU (reboot and kexec turn SVM off on every CPU by IPI; so can a
 * crash or a foreign module).  Whatever the guest did since is lost;
 * the vCPU fails with EIO at this and every later run (the CPU stays
 * off), and the host carries on.  With EFER.SVME still set, the fault
 * would be our bug: say so.
 */
static int svm_run_svm_off(struct svm_vcpu *svm)
{
	struct vmx_vcpu *vcpu = &svm->vcpu;
	int cpu = smp_processor_id();
	u64 efer;

	rdmsrl(MSR_EFER, efer);
	WARN_ON_ONCE(efer & EFER_SVME);
	vmx_vcpu_exit_guest_mode(vcpu);
	pr_info_ratelimited("CPU %d: SVM was turned off under a running vCPU\n",
			    cpu);
	return -EIO;
}

/*
 * Enter the guest once.  Order: event and registers into the VMCB, guest
 * FPU in, IRQs off, last check for pending work, TLB/ASID, GIF off,
 * world switch, GIF on, IRQs on, guest FPU out, registers back, re-queue
 * an interrupted event, dispatch the exit.
 */
static int svm_vcpu_run(struct vmx_vcpu *vcpu)
{
	struct svm_vcpu *svm = to_svm(vcpu);
	struct svm_cpu *sc;
	bool flush = false;
	int cpu;

	svm_load_regs(svm);
	if (!vmx_vcpu_enter_guest_mode(vcpu))
		return 1;
	svm_inject_pending(svm);
	vmx_mmu_sync_tlb(vcpu, &flush);
	cpu = smp_processor_id();
	svm_prepare_asid(svm, cpu, flush);
	sc = this_cpu_ptr(&svm_cpu);

	if (svm->vmm_state)
		memcpy(svm->good_save, &svm->vmcb->save, sizeof(*svm->good_save));
	if (unlikely(!svm_clgi()))
		return svm_run_svm_off(svm);
	if (svm->dr_live)
		vmx_dr03_load(svm->dr);
	svm->vmcb->save.spec_ctrl = vmx_spec_enter(vcpu, boot_cpu_has(X86_FEATURE_V_SPEC_CTRL));
	vmx_stat_guest_enter(vcpu);
	svm_world_switch(vcpu->gprs, svm->vmcb_pa, page_to_phys(sc->host_vmcb));
	vmx_stat_guest_exit(vcpu);
	vmx_spec_exit(vcpu, boot_cpu_has(X86_FEATURE_V_SPEC_CTRL));
	if (svm->dr_live)
		vmx_dr03_save(svm->dr);
	/* #VMEXIT leaves DR7 disabled: give the host its breakpoints back. */
	if (unlikely(hw_breakpoint_active()))
		hw_breakpoint_restore();
	if (unlikely(!svm_stgi()))
		return svm_run_svm_off(svm);

	svm_handle_host_mce(svm);
	vmx_vcpu_exit_guest_mode(vcpu);

	vcpu->stat.exits++;
	if (svm->vmcb->control.exit_code == (u32)SVM_EXIT_ERR) {
		svm_entry_failed(svm);
		return svm_handle_exit(svm);
	}
	svm->vmm_state = false;
	svm_save_regs(svm);
	svm_requeue_exit_int_info(svm);
	if (svm_nmi_iret_done(svm))
		return 1;
	return svm_handle_exit(svm);
}

const struct vmx_backend_ops svm_backend_ops = {
	.name			= "svm",
	.backend_id		= VMX_BACKEND_SVM,
	.features		= VMX_FEAT_NESTED_PAGING | VMX_FEAT_VCPUS,
	.probe			= svm_probe,
	.hardware_setup		= svm_hardware_setup,
	.hardware_unsetup	= svm_hardware_unsetup,
	.cpu_enable		= svm_cpu_enable,
	.cpu_disable		= svm_cpu_disable,
	.cpu_emergency_disable	= svm_cpu_emergency_disable,
	.npt_format		= &svm_npt_format,
	.vcpu_size		= sizeof(struct svm_vcpu),
	.vcpu_init		= svm_vcpu_init,
	.vcpu_free		= svm_vcpu_free,
	.vcpu_run		= svm_vcpu_run,
	.get_sregs		= svm_get_sregs,
	.set_sregs		= svm_set_sregs,
	.get_msr		= svm_get_msr,
	.set_msr		= svm_set_msr,
	.get_events		= svm_get_events,
	.set_events		= svm_set_events,
	.irq_window_open	= svm_irq_window_open,
	.nmi_allowed		= svm_nmi_allowed,
	.get_debugregs		= svm_get_debugregs,
	.set_debugregs		= svm_set_debugregs,
	.note_single_step	= svm_note_single_step,
	.cpuid_policy		= &svm_cpuid_policy,
};
