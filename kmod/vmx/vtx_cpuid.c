// SPDX-License-Identifier: GPL-2.0
/*
 * The Intel backend's part of the CPUID allowlist (see kmod/cpuid.c):
 * Intel leaves, and the instructions that run in a guest only with an
 * optional VM-execution control (hidden when this CPU lacks it), and the
 * speculation controls as far as spec.c gives the guest their MSRs.  The
 * VMX, SMX, PDCM, DS and thermal bits and the PMU leaf 0xA are absent on
 * purpose: nothing virtualizes them for a guest.
 */
#include <linux/kernel.h>
#include <asm/msr-index.h>
#include <asm/vmx.h>

#include "../core.h"
#include "../spec.h"
#include "vtx.h"

#define EAX	VMX_CPUID_EAX
#define EBX	VMX_CPUID_EBX
#define ECX	VMX_CPUID_ECX
#define EDX	VMX_CPUID_EDX
#define ALL	U32_MAX

/* Need SECONDARY_EXEC_ENABLE_INVPCID. */
#define VTX_CPUID7_EBX_INVPCID		BIT(10)
/* Need SECONDARY_EXEC_ENABLE_RDTSCP; both read the guest's TSC_AUX. */
#define VTX_CPUID7_ECX_RDPID		BIT(22)
#define VTX_CPUIDX1_EDX_RDTSCP		BIT(27)
/* Speculation control: only as far as spec.c lets the guest use the MSRs. */
#define VTX_CPUID7_EDX_SPEC_CTRL	BIT(26)	/* IBRS and IBPB */
#define VTX_CPUID7_EDX_STIBP		BIT(27)
#define VTX_CPUID7_EDX_SSBD		BIT(31)

static const struct vmx_cpuid_rule vtx_cpuid_rules[] = {
	/* Cache and TLB descriptors. */
	{ .function = 2, .info = { ALL, ALL, ALL, ALL } },
	/* Deterministic cache parameters, one sub-leaf per cache. */
	{
		.function = 4, .index = 0, .nr_index = 64,
		.info = { ALL, ALL, ALL, ALL },
	},
	{
		.function = 7, .index = 0, .nr_index = 1,
		.feat = {
			[EBX] = VTX_CPUID7_EBX_INVPCID,
			[ECX] = VTX_CPUID7_ECX_RDPID,
			[EDX] = VTX_CPUID7_EDX_SPEC_CTRL | VTX_CPUID7_EDX_STIBP |
				VTX_CPUID7_EDX_SSBD,
		},
	},
	/* V2 extended topology: built like leaf 0xB. */
	{ .function = 0x1f, .info = { ALL, ALL, ALL, ALL } },
	/* TSC and core crystal, nominal frequencies (the TSC is not scaled). */
	{ .function = 0x15, .info = { ALL, ALL, ALL, ALL } },
	{ .function = 0x16, .info = { ALL, ALL, ALL, ALL } },
	{
		.function = 0x80000001,
		.feat = { [EDX] = VTX_CPUIDX1_EDX_RDTSCP },
	},
};

/* SPEC_CTRL bits a guest may write, and IBPB (Documentation/threat-model.md). */
static u32 vtx_cpuid_spec_hidden(void)
{
	u64 valid = vmx_spec_guest_spec_ctrl_bits();
	u32 hide = 0;

	if (!(valid & SPEC_CTRL_IBRS) || !vmx_spec_guest_has_ibpb())
		hide |= VTX_CPUID7_EDX_SPEC_CTRL;
	if (!(valid & SPEC_CTRL_STIBP))
		hide |= VTX_CPUID7_EDX_STIBP;
	if (!(valid & SPEC_CTRL_SSBD))
		hide |= VTX_CPUID7_EDX_SSBD;
	return hide;
}

static void vtx_cpuid_hide(u32 function, u32 index, u32 *feat)
{
	bool rdtscp = vtx_secondary_ctls & SECONDARY_EXEC_ENABLE_RDTSCP;

	if (function == 7 && index == 0) {
		if (!(vtx_secondary_ctls & SECONDARY_EXEC_ENABLE_INVPCID))
			feat[EBX] &= ~VTX_CPUID7_EBX_INVPCID;
		if (!rdtscp)
			feat[ECX] &= ~VTX_CPUID7_ECX_RDPID;
		feat[EDX] &= ~vtx_cpuid_spec_hidden();
	} else if (function == 0x80000001 && !rdtscp) {
		feat[EDX] &= ~VTX_CPUIDX1_EDX_RDTSCP;
	}
}

const struct vmx_cpuid_policy vtx_cpuid_policy = {
	.rules = vtx_cpuid_rules,
	.nr_rules = ARRAY_SIZE(vtx_cpuid_rules),
	.hide = vtx_cpuid_hide,
};
