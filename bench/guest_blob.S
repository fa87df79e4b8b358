/* SPDX-License-Identifier: GPL-2.0 */
/* The assembled guest (guest.S), as bytes for the runners to load. */
	.section .rodata
	.globl	guest_blob, guest_blob_end
	.balign	16
guest_blob:
	.incbin	"guest.bin"
guest_blob_end:
	.section .note.GNU-stack, "", @progbits
