/* SPDX-License-Identifier: GPL-2.0 */
/*
 * AMD SVM backend: private definitions and instruction wrappers.
 *
 * The architectural layout of the VMCB (struct vmcb), the intercept bit
 * numbers and the exit codes come from the kernel's <asm/svm.h>; what is
 * ours is named here.
 */
#ifndef VMX_SVM_H
#define VMX_SVM_H

#include <linux/bits.h>
#include <linux/types.h>
#include <asm/asm.h>
#include <asm/msr.h>
#include <asm/svm.h>

#include "../core.h"

/* VM_CR MSR: firmware disabled SVM (APM Vol. 2, 15.30.1). */
#define SVM_VM_CR_SVMDIS	BIT_ULL(4)
#define SVM_VM_CR_LOCK		BIT_ULL(3)

/* CPUID 0x8000000A EDX: NRIP save (next RIP on every intercept). */
#define SVM_FEAT_NRIPS		BIT(3)
#define SVM_FEAT_DECODE_ASSISTS	BIT(7)

/* EXITINFO1 of an IOIO intercept (APM Vol. 2, 15.10.2). */
#define SVM_IO_IN		BIT(0)
#define SVM_IO_STR		BIT(2)
#define SVM_IO_REP		BIT(3)
#define SVM_IO_SZ_SHIFT		4		/* SZ8/16/32 one-hot */
#define SVM_IO_SZ_MASK		(7U << SVM_IO_SZ_SHIFT)
#define SVM_IO_A_SHIFT		7		/* A16/32/64 one-hot */
#define SVM_IO_A_MASK		(7U << SVM_IO_A_SHIFT)
#define SVM_IO_SEG_SHIFT	10
#define SVM_IO_SEG_MASK		(7U << SVM_IO_SEG_SHIFT)
#define SVM_IO_PORT_SHIFT	16

/* EXITINFO1 of a MOV CR intercept, with decode assists only. */
#define SVM_CR_INFO_VALID	BIT_ULL(63)
#define SVM_CR_INFO_GPR_MASK	0xfULL

/* EXITINFO1 of a nested page fault. */
#define SVM_NPF_PRESENT		BIT_ULL(0)
#define SVM_NPF_WRITE		BIT_ULL(1)
#define SVM_NPF_FETCH		BIT_ULL(4)

/* EVENTINJ / EXITINTINFO (APM Vol. 2, 15.20). */
#define SVM_EVENT_VECTOR_MASK	0xffU
#define SVM_EVENT_TYPE_SHIFT	8
#define SVM_EVENT_TYPE_MASK	(7U << SVM_EVENT_TYPE_SHIFT)
#define SVM_EVENT_TYPE_INTR	0
#define SVM_EVENT_TYPE_NMI	2
#define SVM_EVENT_TYPE_EXCEPT	3
#define SVM_EVENT_TYPE_SOFT	4
#define SVM_EVENT_HAS_ERR	BIT(11)
#define SVM_EVENT_VALID		BIT(31)

/* VMCB segment attributes, packed (APM Vol. 2, 15.5.1). */
#define SVM_ATTR_TYPE_MASK	0xfU
#define SVM_ATTR_S		BIT(4)
#define SVM_ATTR_DPL_SHIFT	5
#define SVM_ATTR_P		BIT(7)
#define SVM_ATTR_AVL		BIT(8)
#define SVM_ATTR_L		BIT(9)
#define SVM_ATTR_DB		BIT(10)
#define SVM_ATTR_G		BIT(11)

/* Nested page table entries use the long-mode page table format. */
#define SVM_NPT_P		BIT_ULL(0)
#define SVM_NPT_RW		BIT_ULL(1)
#define SVM_NPT_US		BIT_ULL(2)
#define SVM_NPT_A		BIT_ULL(5)
#define SVM_NPT_D		BIT_ULL(6)
#define SVM_NPT_PS		BIT_ULL(7)
#define SVM_NPT_NX		BIT_ULL(63)

/* Sizes of the permission maps (APM Vol. 2, 15.10 and 15.11). */
#define SVM_IOPM_ORDER		2	/* 12 KiB used */
#define SVM_MSRPM_ORDER		1	/* 8 KiB used */

/* Guest EFER bits a guest or VMM may set (SVME is always on, hidden). */
#define SVM_GUEST_EFER		(EFER_SCE | EFER_LME | EFER_LMA | EFER_NX)

/* Fixed instruction lengths, for CPUs without NRIP save. */
#define SVM_LEN_CPUID		2
#define SVM_LEN_RDMSR		2
#define SVM_LEN_HLT		1
#define SVM_LEN_VMMCALL		3
#define SVM_LEN_XSETBV		3
#define SVM_LEN_RDTSCP		3
#define SVM_LEN_INVD		2

/*
 * struct svm_vcpu - SVM state of one vCPU
 * @vcpu:	the generic part; must be first
 * @vmcb:	the guest's VMCB (one page)
 * @msrpm, @iopm: permission maps (per vCPU, so a VMM could open some)
 * @asid_cpu, @asid_generation: which CPU's ASID space @vmcb.asid is from
 * @dr, @dr_live: guest DR0-3.  VMRUN does not switch them: they are
 *		intercepted until the guest first touches one, then loaded
 *		and saved around every entry (DR6/DR7 live in the VMCB)
 * @nmi_masked:	the guest is handling an NMI: no other one goes in until
 *		its IRET (intercepted while this is set) has run
 * @nmi_iret_pending, @nmi_iret_rip: that IRET was intercepted at
 *		@nmi_iret_rip and has not run yet
 * @nmi_singlestep, @nmi_singlestep_guest_tf: that IRET is being
 *		single-stepped (with the guest's own TF remembered) so that a
 *		held NMI goes in right after it
 * @flush_tlb:	the guest's translations changed under it (CR4 emulated,
 *		SET_SREGS): the next entry runs on a fresh ASID
 * @virq:	the interrupt picked for this entry went in as a virtual
 *		interrupt request (V_IRQ), which the guest takes when its
 *		window opens (svm_inject_pending())
 * @good_save, @vmm_state: the VMCB save area as the VMM last set it, kept
 *		until one VMRUN accepted it: a VMRUN that fails its state
 *		checks may leave the save area changed (QEMU writes it
 *		back), and the VMM must be able to repair its own state
 */
struct svm_vcpu {
	struct vmx_vcpu vcpu;
	struct vmcb *vmcb;
	u64 vmcb_pa;
	void *msrpm;
	void *iopm;
	int asid_cpu;
	u64 asid_generation;
	u64 dr[4];
	bool dr_live;
	bool nmi_masked;
	bool nmi_iret_pending;
	u64 nmi_iret_rip;
	bool nmi_singlestep;
	bool nmi_singlestep_guest_tf;
	bool flush_tlb;
	bool virq;
	struct vmcb_save_area *good_save;
	bool vmm_state;
};

static inline struct svm_vcpu *to_svm(struct vmx_vcpu *vcpu)
{
	return container_of(vcpu, struct svm_vcpu, vcpu);
}

static inline void svm_set_intercept(struct vmcb *vmcb, unsigned int bit)
{
	vmcb->control.intercepts[bit / 32] |= BIT(bit % 32);
}

static inline void svm_clr_intercept(struct vmcb *vmcb, unsigned int bit)
{
	vmcb->control.intercepts[bit / 32] &= ~BIT(bit % 32);
}

/*
 * Clear/set the global interrupt flag.  Like every SVM instruction they
 * #UD once EFER.SVME is off, which the reboot notifier, kexec, a crash or
 * a foreign module can do by IPI under a running vCPU: the fault is fixed
 * up (exception table: the fixup skips the store of true) and reported
 * as false, "SVM was turned off", instead of an oops.  svm_world_switch()
 * does the same for VMSAVE, VMLOAD and VMRUN.
 */
static __always_inline bool svm_clgi(void)
{
	bool ok = false;

	asm volatile("1: clgi\n\t"
		     "movb $1, %[ok]\n"
		     "2:\n\t"
		     _ASM_EXTABLE(1b, 2b)
		     : [ok] "+qm" (ok) : : "memory");
	return ok;
}

static __always_inline bool svm_stgi(void)
{
	bool ok = false;

	asm volatile("1: stgi\n\t"
		     "movb $1, %[ok]\n"
		     "2:\n\t"
		     _ASM_EXTABLE(1b, 2b)
		     : [ok] "+qm" (ok) : : "memory");
	return ok;
}

/* svm.c */
void svm_dr_go_live(struct svm_vcpu *svm);
extern bool svm_has_nrips;
extern bool svm_has_decode_assists;
void svm_skip_insn(struct svm_vcpu *svm, unsigned int len);

/*
 * Completing an instruction ends an STI/MOV SS shadow; so does handing
 * it to the VMM, which completes it (the next VMX_RUN moves RIP on, or
 * the VMM sets the registers itself).
 */
static inline void svm_end_shadow(struct svm_vcpu *svm)
{
	svm->vmcb->control.int_state &= ~SVM_INTERRUPT_SHADOW_MASK;
}

void svm_queue_exception(struct svm_vcpu *svm, u8 vector, bool has_error,
			 u32 error_code);
void svm_set_nmi_masked(struct svm_vcpu *svm, bool masked);
bool svm_nmi_iret_done(struct svm_vcpu *svm);
int svm_set_cr4(struct svm_vcpu *svm, u64 cr4);
void svm_reset_vcpu(struct svm_vcpu *svm);

/* svm_insn.c */
bool svm_in_64bit_mode(struct svm_vcpu *svm);
int svm_fetch_insn(struct svm_vcpu *svm, u8 *buf, int len);
int svm_gpr_from_x86(unsigned int nr);
int svm_decode_mov_to_cr4(const u8 *insn, int n, bool long64, int *insn_len);

/* svm_exit.c */
int svm_handle_exit(struct svm_vcpu *svm);

/* svm_npt.c */
extern const struct vmx_npt_format svm_npt_format;

/*
 * svm_run.S: save host, load guest, VMRUN, save guest, restore host.
 * An SVM instruction that faults because EFER.SVME was cleared is
 * skipped (the STGI after it faults too and tells the caller); with
 * EFER.SVME still set a fault is a bug of ours and stays fatal (ud2).
 */
void svm_world_switch(u64 *gprs, u64 vmcb_pa, u64 host_save_pa);

#endif /* VMX_SVM_H */
