/* SPDX-License-Identifier: GPL-2.0 */
/*
 * IDT entry stubs for all 256 vectors of selftest guests.  Each pushes a
 * dummy error code where the CPU pushes none, then its vector, and joins
 * the common path, which calls guest_exception_dispatch(vector, error,
 * rip) and resumes at the RIP it returns.
 */
	.text

.macro STUB_ADDR vector
	.quad	guest_vec_\vector
.endm

.macro STUB vector, has_error
	.align 16
guest_vec_\vector:
	.if \has_error == 0
	pushq	$0
	.endif
	pushq	$\vector
	jmp	guest_exception_common
.endm

	STUB 0, 0
	STUB 1, 0
	STUB 2, 0
	STUB 3, 0
	STUB 4, 0
	STUB 5, 0
	STUB 6, 0
	STUB 7, 0
	STUB 8, 1
	STUB 9, 0
	STUB 10, 1
	STUB 11, 1
	STUB 12, 1
	STUB 13, 1
	STUB 14, 1
	STUB 15, 0
	STUB 16, 0
	STUB 17, 1
	STUB 18, 0
	STUB 19, 0
	STUB 20, 0
	STUB 21, 1
	STUB 22, 0
	STUB 23, 0
	STUB 24, 0
	STUB 25, 0
	STUB 26, 0
	STUB 27, 0
	STUB 28, 0
	STUB 29, 1
	STUB 30, 1
	STUB 31, 0
	/* 32-255: external interrupts, never an error code. */
	.altmacro
	.set	vec, 32
	.rept	224
	STUB	%vec, 0
	.set	vec, vec + 1
	.endr
	.noaltmacro

guest_exception_common:
	/* Caller-saved registers; vector at 72(%rsp), error 80, RIP 88. */
	push	%rax
	push	%rcx
	push	%rdx
	push	%rsi
	push	%rdi
	push	%r8
	push	%r9
	push	%r10
	push	%r11
	mov	72(%rsp), %rdi
	mov	80(%rsp), %rsi
	mov	88(%rsp), %rdx
	call	guest_exception_dispatch
	mov	%rax, 88(%rsp)
	pop	%r11
	pop	%r10
	pop	%r9
	pop	%r8
	pop	%rdi
	pop	%rsi
	pop	%rdx
	pop	%rcx
	pop	%rax
	add	$16, %rsp
	.globl	guest_exception_iret
guest_exception_iret:
	iretq

	.section .rodata
	.globl	guest_idt_stubs
	.align 8
guest_idt_stubs:
	.altmacro
	.set	vec, 0
	.rept	256
	STUB_ADDR %vec
	.set	vec, vec + 1
	.endr
	.noaltmacro

	.section .note.GNU-stack, "", @progbits
