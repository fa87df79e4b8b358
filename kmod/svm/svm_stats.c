// SPDX-License-Identifier: GPL-2.0
/*
 * SVM exit codes to the vendor-neutral exit kinds of the statistics.
 */
#include "svm.h"

static const u8 svm_stat_kinds[] = {
	[SVM_EXIT_INTR]		= VMX_STATS_EXIT_INTR,
	[SVM_EXIT_NMI]		= VMX_STATS_EXIT_INTR,
	[SVM_EXIT_SMI]		= VMX_STATS_EXIT_INTR,
	[SVM_EXIT_INIT]		= VMX_STATS_EXIT_INTR,
	[SVM_EXIT_VINTR]	= VMX_STATS_EXIT_IRQ_WINDOW,
	/* IRET is intercepted to see the NMI window open. */
	[SVM_EXIT_IRET]		= VMX_STATS_EXIT_IRQ_WINDOW,
	[SVM_EXIT_CPUID]	= VMX_STATS_EXIT_CPUID,
	[SVM_EXIT_HLT]		= VMX_STATS_EXIT_HLT,
	[SVM_EXIT_IOIO]		= VMX_STATS_EXIT_IO,
	[SVM_EXIT_MSR]		= VMX_STATS_EXIT_MSR,
	[SVM_EXIT_VMMCALL]	= VMX_STATS_EXIT_HYPERCALL,
};

void svm_stat_exit(struct vmx_vcpu *vcpu, u32 code)
{
	enum vmx_stats_exit_kind kind = VMX_STATS_EXIT_OTHER;

	if (code == SVM_EXIT_NPF)
		kind = VMX_STATS_EXIT_NPF;
	else if (code >= SVM_EXIT_EXCP_BASE && code < SVM_EXIT_EXCP_BASE + 32)
		kind = VMX_STATS_EXIT_EXCEPTION;
	else if (code < ARRAY_SIZE(svm_stat_kinds) && svm_stat_kinds[code])
		kind = svm_stat_kinds[code];
	vmx_stat_exit(vcpu, kind);
}
