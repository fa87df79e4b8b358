// SPDX-License-Identifier: GPL-2.0
/*
 * VMX basic exit reasons to the vendor-neutral exit kinds of the
 * statistics.
 */
#include "vtx.h"

static const u8 vtx_stat_kinds[] = {
	/* Guest exceptions and host NMIs share this reason. */
	[EXIT_REASON_EXCEPTION_NMI]		= VMX_STATS_EXIT_EXCEPTION,
	[EXIT_REASON_EXTERNAL_INTERRUPT]	= VMX_STATS_EXIT_INTR,
	[EXIT_REASON_INIT_SIGNAL]		= VMX_STATS_EXIT_INTR,
	[EXIT_REASON_SIPI_SIGNAL]		= VMX_STATS_EXIT_INTR,
	[EXIT_REASON_INTERRUPT_WINDOW]		= VMX_STATS_EXIT_IRQ_WINDOW,
	[EXIT_REASON_NMI_WINDOW]		= VMX_STATS_EXIT_IRQ_WINDOW,
	[EXIT_REASON_CPUID]			= VMX_STATS_EXIT_CPUID,
	[EXIT_REASON_HLT]			= VMX_STATS_EXIT_HLT,
	[EXIT_REASON_VMCALL]			= VMX_STATS_EXIT_HYPERCALL,
	[EXIT_REASON_IO_INSTRUCTION]		= VMX_STATS_EXIT_IO,
	[EXIT_REASON_MSR_READ]			= VMX_STATS_EXIT_MSR,
	[EXIT_REASON_MSR_WRITE]			= VMX_STATS_EXIT_MSR,
	[EXIT_REASON_EPT_VIOLATION]		= VMX_STATS_EXIT_NPF,
};

void vtx_stat_exit(struct vmx_vcpu *vcpu, u32 reason)
{
	enum vmx_stats_exit_kind kind = VMX_STATS_EXIT_OTHER;
	u32 basic = reason & VTX_EXIT_REASON_MASK;

	if (!(reason & VTX_EXIT_FAILED_ENTRY) &&
	    basic < ARRAY_SIZE(vtx_stat_kinds) && vtx_stat_kinds[basic])
		kind = vtx_stat_kinds[basic];
	vmx_stat_exit(vcpu, kind);
}
