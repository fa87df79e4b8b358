/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The VMX world switch.  Called with IRQs off and the vCPU's VMCS
 * current on this CPU.
 *
 * int vtx_world_switch(u64 *gprs, unsigned int launched)
 *   %rdi: guest GPRs in enum vmx_gpr order (RSP lives in the VMCS)
 *   %esi: non-zero once VMLAUNCH succeeded: VMRESUME then
 *   returns 0 after a VM exit, 1 if VMLAUNCH/VMRESUME failed (VMfail)
 *
 * The VM exit resumes at vtx_vmexit (HOST_RIP) with RSP = HOST_RSP,
 * which is written here just before entry, so the stack below is what
 * the exit finds.  Everything else of the host (CR3, segments, EFER,
 * PAT, SYSENTER) the CPU reloads from the VMCS host-state area.
 */
#include <linux/linkage.h>
#include <asm/asm.h>
#include <asm/ibt.h>
#include <asm/nospec-branch.h>
#include <asm/unwind_hints.h>

#include "../spec_asm.S"

/* VMCS encoding of HOST_RSP (<asm/vmx.h> is C only; vtx.c checks it). */
#define VTX_HOST_RSP	0x00006c14

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

	.section .text, "ax"

SYM_FUNC_START(vtx_world_switch)
	push	%rbp
	mov	%rsp, %rbp
	/* Callee-saved registers of the host C caller. */
	push	%r15
	push	%r14
	push	%r13
	push	%r12
	push	%rbx

	push	%rdi			/* gprs; (%rsp) at the VM exit */

	/* The exit comes back with this very RSP. */
	mov	$VTX_HOST_RSP, %eax
	vmwrite	%rsp, %rax
	jna	.Lvmfail_host

	/* VERW: only the guest's own registers are loaded after it. */
	VMX_SPEC_VMENTRY
	/* ZF: launched or not; the MOVs below leave the flags alone. */
	test	%esi, %esi

	/* Guest GPRs; RDI last since it points at them. */
	mov	G_RAX(%rdi), %rax
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
	 * A successful entry does not come back here but at vtx_vmexit:
	 * tell objtool to carry the unwind state over to it.
	 */
	UNWIND_HINT_SAVE
	jz	.Llaunch
.Lvmresume:
	vmresume
	/* Only reached on VMfail: guest values are in the registers. */
	jmp	.Lvmfail_guest
.Llaunch:
	vmlaunch
	jmp	.Lvmfail_guest
	/* #UD when the reboot path switched VMX off meanwhile: a VMfail. */
	_ASM_EXTABLE(.Lvmresume, .Lvmfail_guest)
	_ASM_EXTABLE(.Llaunch, .Lvmfail_guest)

SYM_INNER_LABEL(vtx_vmexit, SYM_L_GLOBAL)
	UNWIND_HINT_RESTORE
	ENDBR
	/* VM exit: RSP = HOST_RSP, so (%rsp) = gprs; IRQs are off. */
	push	%rdi
	mov	8(%rsp), %rdi
	mov	%rax, G_RAX(%rdi)
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
	xor	%eax, %eax		/* return 0: a VM exit */
	jmp	.Lclear

.Lvmfail_guest:
	/* Nothing ran; the guest registers are unchanged in gprs. */
	mov	$1, %eax
	jmp	.Lclear
.Lvmfail_host:
	mov	$1, %eax

.Lclear:
	/* No guest value may survive in a register (speculation). */
	xor	%ebx, %ebx
	xor	%ecx, %ecx
	xor	%edx, %edx
	xor	%esi, %esi
	xor	%edi, %edi
	xor	%r8d, %r8d
	xor	%r9d, %r9d
	xor	%r10d, %r10d
	xor	%r11d, %r11d
	xor	%r12d, %r12d
	xor	%r13d, %r13d
	xor	%r14d, %r14d
	xor	%r15d, %r15d
	/* Before the RET below: RSB fill, BHB clear; keeps RAX. */
	VMX_SPEC_VMEXIT

	pop	%rdi			/* gprs */
	pop	%rbx
	pop	%r12
	pop	%r13
	pop	%r14
	pop	%r15
	pop	%rbp
	RET
SYM_FUNC_END(vtx_world_switch)
