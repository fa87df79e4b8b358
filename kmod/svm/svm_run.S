/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The SVM world switch.  Called with IRQs off and GIF clear; returns so.
 *
 * void svm_world_switch(u64 *gprs, u64 vmcb_pa, u64 host_save_pa)
 *   %rdi: guest GPRs in enum vmx_gpr order (RAX and RSP live in the VMCB)
 *   %rsi: physical address of the guest VMCB
 *   %rdx: physical address of this CPU's host save VMCB page
 *
 * VMRUN itself saves and restores only part of the host state; the rest
 * (FS/GS/TR/LDTR and the SYSCALL/SYSENTER MSRs, KERNEL_GS_BASE) is moved
 * with VMSAVE/VMLOAD around it.  Between the two VMLOADs the host's GS
 * base is the guest's, so nothing here may touch per-CPU data.
 */
#include <linux/linkage.h>
#include <asm/asm.h>
#include <asm/msr-index.h>
#include <asm/nospec-branch.h>

#include "../spec_asm.S"

/* Offsets into the gprs array (enum vmx_gpr * 8). */
#define G_RAX	0
#define G_RBX	8
#define G_RCX	16
#define G_RDX	24
#define G_RSI	32
#define G_RDI	40
#define G_RBP	56
#define G_R8	64
#define G_R9	72
#define G_R10	80
#define G_R11	88
#define G_R12	96
#define G_R13	104
#define G_R14	112
#define G_R15	120

/*
 * An SVM instruction (\insn %rax) with an exception-table fixup: go on
 * after it if EFER.SVME is off (SVM turned off under us: the guest state is
 * lost, the STGI after the world switch faults too and the vCPU fails
 * with EIO); with SVME still on the fault is our bug: ud2.  RAX, RCX and
 * RDX may hold guest values here: kept across the RDMSR.
 */
.macro SVM_INSN insn
.Linsn\@:
	\insn	%rax
.Lnext\@:
	.pushsection .text.unlikely, "ax"
.Lfixup\@:
	cli				/* VMRUN's fixup comes with IF set */
	push	%rax
	push	%rcx
	push	%rdx
	mov	$MSR_EFER, %ecx
	rdmsr
	test	$EFER_SVME, %eax
	pop	%rdx
	pop	%rcx
	pop	%rax
	jz	.Lnext\@
	ud2
	.popsection
	_ASM_EXTABLE(.Linsn\@, .Lfixup\@)
.endm

	.section .text, "ax"

SYM_FUNC_START(svm_world_switch)
	push	%rbp
	mov	%rsp, %rbp
	/* Callee-saved registers of the host C caller. */
	push	%r15
	push	%r14
	push	%r13
	push	%r12
	push	%rbx

	push	%rdi			/* gprs */
	push	%rdx			/* host save area */
	push	%rsi			/* guest VMCB; now (%rsp) */

	/* Host FS/GS/TR/LDTR/syscall MSRs to the host save page. */
	mov	%rdx, %rax
	SVM_INSN vmsave
	/* The same state of the guest from its VMCB. */
	mov	%rsi, %rax
	SVM_INSN vmload

	/* Guest GPRs; RDI last since it points at them. */
	mov	G_RBX(%rdi), %rbx
	mov	G_RCX(%rdi), %rcx
	mov	G_RDX(%rdi), %rdx
	mov	G_RSI(%rdi), %rsi
	mov	G_RBP(%rdi), %rbp
	mov	G_R8(%rdi),  %r8
	mov	G_R9(%rdi),  %r9
	mov	G_R10(%rdi), %r10
	mov	G_R11(%rdi), %r11
	mov	G_R12(%rdi), %r12
	mov	G_R13(%rdi), %r13
	mov	G_R14(%rdi), %r14
	mov	G_R15(%rdi), %r15
	mov	G_RDI(%rdi), %rdi

	/*
	 * RAX holds the VMCB address; the guest's RAX comes from the VMCB.
	 * VMRUN saves the host's IF as the mask of physical interrupts
	 * while the guest runs: with IF clear, no host interrupt would
	 * ever end a guest that does not exit by itself.  GIF is clear, so
	 * nothing is taken here between STI and VMRUN, nor after #VMEXIT
	 * until CLI.  The NOP keeps VMRUN out of the STI's interrupt
	 * shadow: QEMU (7.2, the SVM test rig) carries that shadow into the
	 * guest, which then cannot take a virtual interrupt (V_IRQ) before
	 * its first exit.
	 */
	VMX_SPEC_VMENTRY
	sti
	nop
	SVM_INSN vmrun
	cli

	/* #VMEXIT: RSP and RAX are the host's again (RAX = VMCB pa). */
	/* Stack: guest RDI, guest VMCB, host save area, gprs. */
	push	%rdi
	mov	24(%rsp), %rdi
	mov	%rbx, G_RBX(%rdi)
	mov	%rcx, G_RCX(%rdi)
	mov	%rdx, G_RDX(%rdi)
	mov	%rsi, G_RSI(%rdi)
	mov	%rbp, G_RBP(%rdi)
	mov	%r8,  G_R8(%rdi)
	mov	%r9,  G_R9(%rdi)
	mov	%r10, G_R10(%rdi)
	mov	%r11, G_R11(%rdi)
	mov	%r12, G_R12(%rdi)
	mov	%r13, G_R13(%rdi)
	mov	%r14, G_R14(%rdi)
	mov	%r15, G_R15(%rdi)
	pop	G_RDI(%rdi)

	/* No guest value may survive in a register (speculation). */
	xor	%ebx, %ebx
	xor	%ebp, %ebp
	xor	%ecx, %ecx
	xor	%edx, %edx
	xor	%esi, %esi
	xor	%r8d, %r8d
	xor	%r9d, %r9d
	xor	%r10d, %r10d
	xor	%r11d, %r11d
	xor	%r12d, %r12d
	xor	%r13d, %r13d
	xor	%r14d, %r14d
	xor	%r15d, %r15d

	/* Guest FS/GS/... back to its VMCB, host state back to the CPU. */
	pop	%rax			/* guest VMCB */
	SVM_INSN vmsave
	pop	%rax			/* host save area */
	SVM_INSN vmload
	/* Before the RET below: RSB fill, return untraining, IBPB. */
	VMX_SPEC_VMEXIT
	pop	%rdi

	pop	%rbx
	pop	%r12
	pop	%r13
	pop	%r14
	pop	%r15
	pop	%rbp
	RET
SYM_FUNC_END(svm_world_switch)
