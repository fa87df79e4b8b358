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

/* Enter VMX root operation; 0 or -EIO (VMfail) or -EFAULT (#UD/#GP). */
static inline int vtx_vmxon(u64 region_pa)
{
	asm goto("1: vmxon %[pa]\n\t"
		 "jna %l[fail]\n\t"
		 _ASM_EXTABLE(1b, %l[fault])
		 : : [pa] "m" (region_pa) : "cc", "memory" : fail, fault);
	return 0;
fail:
	return -EIO;
fault:
	return -EFAULT;
}

/* Leave VMX root operation; a fault (not in VMX operation) is reported. */
static inline int vtx_vmxoff(void)
{
	asm goto("1: vmxoff\n\t"
		 _ASM_EXTABLE(1b, %l[fault])
		 : : : "cc", "memory" : fault);
	return 0;
fault:
	return -EFAULT;
}

#endif /* VMX_VTX_H */
