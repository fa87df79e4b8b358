/* SPDX-License-Identifier: GPL-2.0 */
/*
 * AMD SVM backend: private definitions and instruction wrappers.
 * The architectural names (MSRs, EFER bits, CPUID features) come from the
 * kernel's own headers; what is ours is named here.
 */
#ifndef VMX_SVM_H
#define VMX_SVM_H

#include <linux/bits.h>
#include <linux/types.h>
#include <asm/msr.h>

/* VM_CR MSR: firmware disabled SVM (APM Vol. 2, 15.30.1). */
#define SVM_VM_CR_SVMDIS	BIT_ULL(4)

/* Set the global interrupt flag again (only valid with EFER.SVME set). */
static inline void svm_stgi(void)
{
	asm volatile("stgi" ::: "memory");
}

#endif /* VMX_SVM_H */
