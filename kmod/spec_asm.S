/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Assembly half of spec.h: the macros the world-switch files use
 * (svm_run.S, vtx_run.S include this file; it is not assembled on its
 * own).  Which measure runs is read at run time from vmx_spec_asm, set
 * once at load by spec.c; see spec.h.
 */
#ifndef VMX_SPEC_ASM_S
#define VMX_SPEC_ASM_S

#include <linux/objtool.h>
#include <asm/msr-index.h>

#include "spec.h"

/*
 * Before VMRUN/VMLAUNCH/VMRESUME, after the last host-data access:
 * VERW of a valid data selector in memory flushes the store, fill and
 * load-port buffers on CPUs with MD_CLEAR microcode (MDS, TAA, MMIO
 * stale data, RFDS; TSA on AMD with VERW_CLEAR).  Clobbers RFLAGS only.
 */
.macro VMX_SPEC_VMENTRY
	testl	$VMX_SPEC_ASM_VERW, vmx_spec_asm(%rip)
	jz	.Lvmx_spec_no_verw\@
	verw	vmx_spec_verw_sel(%rip)
.Lvmx_spec_no_verw\@:
.endm

/*
 * Overwrite every RSB entry with a return address that leads only into
 * a speculation trap, so that no RET of the host consumes a prediction
 * the guest planted (SpectreRSB) or falls back to the BTB on underflow.
 * The trap is INT3, as in the kernel's own sequence: a PAUSE/LFENCE loop
 * there is code objtool rightly reports as unreachable.  Two CALLs per
 * round; the stack is unwound after each round so that objtool sees a
 * balanced stack; the LFENCE stops a mispredicted loop exit.  Clobbers
 * RCX.
 */
.macro VMX_SPEC_RSB_FILL
	mov	$(VMX_SPEC_RSB_ENTRIES / 2), %ecx
.Lvmx_rsb_round\@:
	ANNOTATE_INTRA_FUNCTION_CALL
	call	.Lvmx_rsb_1\@
	int3
.Lvmx_rsb_1\@:
	ANNOTATE_INTRA_FUNCTION_CALL
	call	.Lvmx_rsb_2\@
	int3
.Lvmx_rsb_2\@:
	add	$16, %rsp
	dec	%ecx
	jnz	.Lvmx_rsb_round\@
	lfence
.endm

/*
 * After the exit and before the first RET of the host, in the order KVM
 * uses: RSB fill, return untraining (AMD retbleed/SRSO), IBPB on exit
 * (AMD retbleed/SRSO IBPB modes), branch-history clearing (Intel BHI
 * without BHI_DIS_S).  The closing LFENCE keeps a mispredicted
 * skip of any step from reaching a RET speculatively.  Preserves every
 * register but RFLAGS (RAX is vtx_world_switch's return value).
 */
.macro VMX_SPEC_VMEXIT
	push	%rax
	push	%rcx
	push	%rdx
	testl	$VMX_SPEC_ASM_RSB_FILL, vmx_spec_asm(%rip)
	jz	.Lvmx_spec_no_rsb\@
	VMX_SPEC_RSB_FILL
.Lvmx_spec_no_rsb\@:
	testl	$VMX_SPEC_ASM_UNTRAIN_ALIAS, vmx_spec_asm(%rip)
	jz	.Lvmx_spec_no_alias\@
	call	srso_alias_untrain_ret
	jmp	.Lvmx_spec_no_untrain\@
.Lvmx_spec_no_alias\@:
	testl	$VMX_SPEC_ASM_UNTRAIN, vmx_spec_asm(%rip)
	jz	.Lvmx_spec_no_untrain\@
	call	entry_untrain_ret
.Lvmx_spec_no_untrain\@:
	testl	$VMX_SPEC_ASM_IBPB, vmx_spec_asm(%rip)
	jz	.Lvmx_spec_no_ibpb\@
	mov	$MSR_IA32_PRED_CMD, %ecx
	mov	$PRED_CMD_IBPB, %eax
	xor	%edx, %edx
	wrmsr
.Lvmx_spec_no_ibpb\@:
	testl	$VMX_SPEC_ASM_CLEAR_BHB, vmx_spec_asm(%rip)
	jz	.Lvmx_spec_no_bhb\@
	call	clear_bhb_loop
.Lvmx_spec_no_bhb\@:
	lfence
	pop	%rdx
	pop	%rcx
	pop	%rax
.endm

#endif /* VMX_SPEC_ASM_S */
