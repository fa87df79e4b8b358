// SPDX-License-Identifier: GPL-2.0
/*
 * The SVM backend's part of the CPUID allowlist (see kmod/cpuid.c): AMD
 * leaves and AMD bits, the speculation controls as far as spec.c gives
 * the guest their MSRs.  The SVM leaf 0x8000000A and the SVM, SKINIT,
 * OSVW, IBS, LWP, perf-counter, MWAITX and breakpoint-extension bits are
 * absent on purpose: nothing virtualizes them for a guest.
 */
#include <linux/kernel.h>
#include <asm/msr-index.h>

#include "../core.h"
#include "../spec.h"

#define EAX	VMX_CPUID_EAX
#define EBX	VMX_CPUID_EBX
#define ECX	VMX_CPUID_ECX
#define EDX	VMX_CPUID_EDX
#define ALL	U32_MAX

/* Leaf 7.0 EBX: INVPCID runs natively (not intercepted). */
#define SVM_CPUID7_EBX_INVPCID		BIT(10)
/* Leaf 0x80000001 ECX */
#define SVM_CPUIDX1_ECX_CMP_LEGACY	BIT(1)
#define SVM_CPUIDX1_ECX_SSE4A		BIT(6)
#define SVM_CPUIDX1_ECX_MISALIGNSSE	BIT(7)
#define SVM_CPUIDX1_ECX_XOP		BIT(11)
#define SVM_CPUIDX1_ECX_FMA4		BIT(16)
#define SVM_CPUIDX1_ECX_TBM		BIT(21)
#define SVM_CPUIDX1_ECX_TOPOEXT		BIT(22)
/* Leaf 0x80000001 EDX: leaf 1 EDX duplicates, plus AMD's own. */
#define SVM_CPUIDX1_EDX_LEAF1		(GENMASK(8, 0) | GENMASK(17, 12) | \
					 BIT(23) | BIT(24))
#define SVM_CPUIDX1_EDX_APIC		BIT(9)
#define SVM_CPUIDX1_EDX_MMXEXT		BIT(22)
#define SVM_CPUIDX1_EDX_RDTSCP		BIT(27)	/* intercepted, emulated */
#define SVM_CPUIDX1_EDX_3DNOW		(BIT(30) | BIT(31))
/* Leaf 0x80000008 */
#define SVM_CPUIDX8_EBX_CLZERO		BIT(0)
#define SVM_CPUIDX8_EBX_XSAVEERPTR	BIT(2)
#define SVM_CPUIDX8_ECX_TOPOLOGY	(GENMASK(7, 0) | GENMASK(15, 12))
/*
 * Speculation control, only as far as spec.c lets the guest use the
 * MSRs; never VIRT_SSBD or the "always on"/"preferred" hints.
 */
#define SVM_CPUIDX8_EBX_IBPB		BIT(12)
#define SVM_CPUIDX8_EBX_IBRS		BIT(14)
#define SVM_CPUIDX8_EBX_STIBP		BIT(15)
#define SVM_CPUIDX8_EBX_SSBD		BIT(24)

static const struct vmx_cpuid_rule svm_cpuid_rules[] = {
	{
		.function = 7, .index = 0, .nr_index = 1,
		.feat = { [EBX] = SVM_CPUID7_EBX_INVPCID },
	},
	{
		.function = 0x80000001,
		/* TOPOEXT: leaves 0x8000001D/E, which we describe. */
		.info = {
			[ECX] = SVM_CPUIDX1_ECX_CMP_LEGACY |
				SVM_CPUIDX1_ECX_TOPOEXT,
			[EDX] = SVM_CPUIDX1_EDX_APIC,
		},
		.feat = {
			[ECX] = SVM_CPUIDX1_ECX_SSE4A |
				SVM_CPUIDX1_ECX_MISALIGNSSE |
				SVM_CPUIDX1_ECX_XOP | SVM_CPUIDX1_ECX_FMA4 |
				SVM_CPUIDX1_ECX_TBM,
			[EDX] = SVM_CPUIDX1_EDX_LEAF1 | SVM_CPUIDX1_EDX_MMXEXT |
				SVM_CPUIDX1_EDX_RDTSCP | SVM_CPUIDX1_EDX_3DNOW,
		},
	},
	/* L1 cache and TLB. */
	{ .function = 0x80000005, .info = { ALL, ALL, ALL, ALL } },
	{
		.function = 0x80000008,
		.info = {
			[EBX] = SVM_CPUIDX8_EBX_XSAVEERPTR,
			/* Core count and APIC id size: the VM's topology. */
			[ECX] = SVM_CPUIDX8_ECX_TOPOLOGY,
		},
		.feat = {
			[EBX] = SVM_CPUIDX8_EBX_CLZERO | SVM_CPUIDX8_EBX_IBPB |
				SVM_CPUIDX8_EBX_IBRS | SVM_CPUIDX8_EBX_STIBP |
				SVM_CPUIDX8_EBX_SSBD,
		},
	},
	/* Cache topology, one sub-leaf per cache. */
	{
		.function = 0x8000001d, .index = 0, .nr_index = 64,
		.info = { ALL, ALL, ALL, ALL },
	},
	/* Extended APIC id, core and node ids: filled in per vCPU. */
	{ .function = 0x8000001e, .info = { ALL, ALL, ALL, ALL } },
};

/* SPEC_CTRL bits a guest may write, and IBPB (Documentation/threat-model.md). */
static void svm_cpuid_hide(u32 function, u32 index, u32 *feat)
{
	u64 valid = vmx_spec_guest_spec_ctrl_bits();

	if (function != 0x80000008)
		return;
	if (!vmx_spec_guest_has_ibpb())
		feat[EBX] &= ~SVM_CPUIDX8_EBX_IBPB;
	if (!(valid & SPEC_CTRL_IBRS))
		feat[EBX] &= ~SVM_CPUIDX8_EBX_IBRS;
	if (!(valid & SPEC_CTRL_STIBP))
		feat[EBX] &= ~SVM_CPUIDX8_EBX_STIBP;
	if (!(valid & SPEC_CTRL_SSBD))
		feat[EBX] &= ~SVM_CPUIDX8_EBX_SSBD;
}

const struct vmx_cpuid_policy svm_cpuid_policy = {
	.rules = svm_cpuid_rules,
	.nr_rules = ARRAY_SIZE(svm_cpuid_rules),
	.hide = svm_cpuid_hide,
};
