/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mbtest's entry: a multiboot v1 header (ELF image, so no address fields;
 * we ask only for the memory fields) and the 32-bit entry point.  The
 * loader leaves us in flat protected mode, paging off, EAX = 0x2BADB002,
 * EBX = the multiboot information, but with no usable stack.
 */
#define MB_MAGIC	0x1badb002
#define MB_FLAGS	0x00000002	/* bit 1: mem_lower/mem_upper wanted */

	.section .multiboot, "a"
	.balign 4
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)

	.text
	.globl _start
	.code32
_start:
	cli
	cld
	movl	$stack_top, %esp
	xorl	%ebp, %ebp
	pushl	%ebx			/* info */
	pushl	%eax			/* magic */
	call	mbmain
	/* mbmain only returns if the exit port did not stop the machine. */
1:	cli
	hlt
	jmp	1b

/*
 * What an AP runs after a start-up IPI (copied below 1 MiB by mbtest.c):
 * real mode, CS = the SIPI vector << 8.  It counts its start and halts
 * with interrupts off, so only INIT (and the next SIPI) move it on.
 */
	.section .rodata
	.globl ap_tramp, ap_tramp_end, ap_tramp_count
	.code16
ap_tramp:
	cli
	movw	%cs, %ax
	movw	%ax, %ds
	lock incl	ap_tramp_count - ap_tramp
1:	hlt
	jmp	1b
	.balign 4
ap_tramp_count:
	.long	0
ap_tramp_end:
	.code32

	.bss
	.balign 16
	.skip	16384
stack_top:

	.section .note.GNU-stack, "", @progbits
