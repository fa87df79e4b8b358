/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The guest of hvbench, the same bytes for vmx.ko and for KVM.
 *
 * Flat 32-bit protected mode without paging (the runner sets the
 * segments and a GDT), linked at GUEST_CODE and loaded there as a raw
 * blob.  Entry: EAX = workload number (the table below), EBP = count.
 * Every workload ends with an OUT to DONE_PORT, which stops the runner.
 *
 * The loop of every workload is "<work>; dec %ebp; jnz": the empty
 * workload is that loop alone, which the runner subtracts.
 */
#define BENCH_PORT	0x3f0
#define DONE_PORT	0x3f1
#define MMIO_GPA	0xd0000000
#define TOUCH_GPA	0x01000000
#define HC_NR		12		/* KVM_HC_MAP_GPA_RANGE */
#define EOI_PORT	0x3f2
#define IRQ_VECTOR	0x40

	.code32
	.text
	.globl _start
_start:
	jmp	*table(, %eax, 4)

	.balign 4
table:
	.long	w_empty, w_cpuid, w_vmmcall, w_vmcall, w_pio, w_mmio, w_hlt
	.long	w_touch, w_irq

w_empty:
1:	dec	%ebp
	jnz	1b
	jmp	done

/* CPUID leaf 0: both hypervisors answer it in the kernel. */
w_cpuid:
1:	xor	%eax, %eax
	xor	%ecx, %ecx
	cpuid
	dec	%ebp
	jnz	1b
	jmp	done

/*
 * A hypercall that both sides hand to user space: for KVM that is
 * KVM_HC_MAP_GPA_RANGE with KVM_CAP_EXIT_HYPERCALL (page-aligned GPA in
 * EBX, one page in ECX, no attributes in EDX); vmx exits on every one.
 */
w_vmmcall:
1:	mov	$HC_NR, %eax
	mov	$0x1000, %ebx
	mov	$1, %ecx
	xor	%edx, %edx
	vmmcall
	dec	%ebp
	jnz	1b
	jmp	done

w_vmcall:
1:	mov	$HC_NR, %eax
	mov	$0x1000, %ebx
	mov	$1, %ecx
	xor	%edx, %edx
	vmcall
	dec	%ebp
	jnz	1b
	jmp	done

w_pio:
	mov	$BENCH_PORT, %dx
1:	out	%al, %dx
	dec	%ebp
	jnz	1b
	jmp	done

/* A byte store where no memory slot is. */
w_mmio:
1:	movb	%al, MMIO_GPA
	dec	%ebp
	jnz	1b
	jmp	done

/* Interrupts are off (EFLAGS.IF = 0): every HLT goes to user space. */
w_hlt:
1:	hlt
	dec	%ebp
	jnz	1b
	jmp	done

/* One byte written in each 4 KiB page from TOUCH_GPA on. */
w_touch:
	mov	$TOUCH_GPA, %ebx
1:	movb	$1, (%ebx)
	add	$4096, %ebx
	dec	%ebp
	jnz	1b
	jmp	done

/*
 * Interrupt round trip: HLT with interrupts on; the runner injects
 * IRQ_VECTOR at the HLT exit, and the handler acknowledges it with an
 * OUT to EOI_PORT (an exit, as an EOI to an interrupt controller in user
 * space is) before it returns to the loop.  Two exits per interrupt on
 * both sides: the HLT and the EOI.
 */
w_irq:
	lidt	idtr
	sti
1:	hlt
	dec	%ebp
	jnz	1b
	cli
	jmp	done

irq_handler:
	push	%eax
	push	%edx
	mov	$EOI_PORT, %dx
	out	%al, %dx
	pop	%edx
	pop	%eax
	iret

	.balign 8
idt:
	.fill	IRQ_VECTOR, 8, 0
	.word	irq_handler		/* offset 15:0: the blob is below 64 KiB */
	.word	0x08			/* the runner's code segment */
	.word	0x8e00			/* present, DPL 0, 32-bit interrupt gate */
	.word	0			/* offset 31:16 */
idtr:
	.word	(IRQ_VECTOR + 1) * 8 - 1
	.long	idt

done:
	mov	$DONE_PORT, %dx
	out	%al, %dx
	hlt
	jmp	done
