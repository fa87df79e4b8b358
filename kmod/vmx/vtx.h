/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Intel VMX backend ("vtx" for short, so that nothing here is mistaken
 * for the product's core): private definitions and instruction wrappers.
 *
 * VMX instructions report failure through RFLAGS (CF: VMfailInvalid,
 * ZF: VMfailValid) and fault with #UD outside VMX operation; every
 * wrapper checks both.
 */
#ifndef VMX_VTX_H
#define VMX_VTX_H

#include <linux/errno.h>
#include <linux/types.h>
#include <asm/asm.h>

/* IA32_VMX_BASIC fields (SDM Vol. 3 Appendix A.1). */
#define VTX_BASIC_REVISION_MASK		0x7fffffffULL
#define VTX_BASIC_REGION_SIZE_SHIFT	32
#define VTX_BASIC_REGION_SIZE_MASK	0x1fffULL

/* The allowed-1 settings of a VMX control MSR are its high 32 bits. */
static inline u32 vtx_ctl_allowed1(u64 msr_value)
{
	return msr_value >> 32;
}

/*
 * Enter VMX root operation.  0 on success, -EIO on VMfail (CF or ZF set),
 * -EFAULT when the instruction faults (#UD/#GP: CR4.VMXE or feature
 * control not set up); the exception-table entry skips to the end with
 * the preset -EFAULT.
 */
static inline int vtx_vmxon(u64 region_pa)
{
	int ret = -EFAULT;

	asm volatile("1: vmxon %[pa]\n\t"
		     "jna 2f\n\t"
		     "xor %[ret], %[ret]\n\t"
		     "jmp 3f\n"
		     "2: mov %[eio], %[ret]\n"
		     "3:\n\t"
		     _ASM_EXTABLE(1b, 3b)
		     : [ret] "+r" (ret)
		     : [pa] "m" (region_pa), [eio] "i" (-EIO)
		     : "cc", "memory");
	return ret;
}

/* Leave VMX root operation; -EFAULT if not in VMX operation (#UD). */
static inline int vtx_vmxoff(void)
{
	int ret = -EFAULT;

	asm volatile("1: vmxoff\n\t"
		     "xor %[ret], %[ret]\n"
		     "2:\n\t"
		     _ASM_EXTABLE(1b, 2b)
		     : [ret] "+r" (ret) : : "cc", "memory");
	return ret;
}

#endif /* VMX_VTX_H */
