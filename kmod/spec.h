/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Speculation hygiene around the world switch (the "measures").
 *
 * spec.c decides every measure once at module load from the host
 * kernel's own bug and feature flags (what the kernel does for itself
 * and for KVM), the module parameters spec_mitigations= and spec_force=,
 * and logs the result ("vmx: speculation: ...").  The decision is
 * constant while the module is loaded: an entry and its exit always see
 * the same measures, so no host register is ever left half switched.
 *
 * The backends call only what this header and spec_asm.S provide, one
 * line per hook:
 *
 *   world-switch assembly (svm_run.S, vtx_run.S; macros in spec_asm.S):
 *	VMX_SPEC_VMENTRY	last thing before VMRUN/VMLAUNCH (VERW)
 *	VMX_SPEC_VMEXIT		after the exit, before the first RET
 *				(RSB fill, return untraining, IBPB,
 *				branch-history clearing)
 *   C run function, IRQs off:
 *	vmx_spec_enter()	just before the world-switch call (IBPB
 *				on a switch of VM, guest SPEC_CTRL in)
 *	vmx_spec_exit()		just after it (host SPEC_CTRL back, IBPB
 *				before the return to user space)
 */
#ifndef VMX_SPEC_H
#define VMX_SPEC_H

/* Bits of vmx_spec_asm: measures done in the world-switch assembly. */
#define VMX_SPEC_ASM_VERW		0x01	/* clear CPU buffers at entry */
#define VMX_SPEC_ASM_RSB_FILL		0x02	/* overwrite the RSB at exit */
#define VMX_SPEC_ASM_UNTRAIN		0x04	/* entry_untrain_ret at exit */
#define VMX_SPEC_ASM_UNTRAIN_ALIAS	0x08	/* srso_alias_untrain_ret */
#define VMX_SPEC_ASM_IBPB		0x10	/* IBPB at exit */
#define VMX_SPEC_ASM_CLEAR_BHB		0x20	/* clear_bhb_loop at exit */

/* Return addresses written by the RSB fill: the deepest RSB there is. */
#define VMX_SPEC_RSB_ENTRIES		32

#ifndef __ASSEMBLY__

#include <linux/compiler.h>
#include <linux/percpu.h>
#include <linux/types.h>
#include <asm/msr.h>
#include <asm/nospec-branch.h>

#include "core.h"

/* Bits of vmx_spec.measures: measures done in C around the switch. */
#define VMX_SPEC_IBPB_SWITCH	BIT(0)	/* IBPB when a CPU changes VM */
#define VMX_SPEC_SPEC_CTRL	BIT(1)	/* guest SPEC_CTRL switched */
#define VMX_SPEC_IBRS_REWRITE	BIT(2)	/* host SPEC_CTRL after every exit */
#define VMX_SPEC_IBPB_USER	BIT(3)	/* IBPB before return to user */
#define VMX_SPEC_BP_REDUCE	BIT(4)	/* AMD BP_CFG[BP_SPEC_REDUCE] */

/*
 * struct vmx_spec - the decision, written once in vmx_spec_init()
 * @measures:		VMX_SPEC_* above
 * @spec_ctrl_valid:	SPEC_CTRL bits a guest may set; 0: the guest
 *			has no SPEC_CTRL (RDMSR/WRMSR 0x48 are unknown MSRs)
 * @pred_cmd:		the guest may write PRED_CMD.IBPB (0x49)
 */
struct vmx_spec {
	u32 measures;
	u64 spec_ctrl_valid;
	bool pred_cmd;
};

extern struct vmx_spec vmx_spec;
extern u32 vmx_spec_asm;
extern u16 vmx_spec_verw_sel;
DECLARE_PER_CPU(u64, vmx_spec_last_vm);

int vmx_spec_init(void);
void vmx_spec_bp_reduce_cpu(void);
void vmx_spec_cpu_down(void);
int vmx_spec_guest_pred_cmd(u64 data);

/* For the CPUID policy: what the guest may be shown. */
static inline u64 vmx_spec_guest_spec_ctrl_bits(void)
{
	return vmx_spec.spec_ctrl_valid;
}

static inline bool vmx_spec_guest_has_ibpb(void)
{
	return vmx_spec.pred_cmd;
}

/*
 * A CPU that last ran a vCPU of another VM (or none since load) might
 * hold that guest's branch-target training: IBPB before this one runs.
 * VM ids are never reused, so a freed and reallocated VM cannot alias.
 */
static __always_inline void vmx_spec_switch_vm(struct vmx_vcpu *vcpu)
{
	if (likely(this_cpu_read(vmx_spec_last_vm) == vcpu->vm->id))
		return;
	this_cpu_write(vmx_spec_last_vm, vcpu->vm->id);
	native_wrmsrl(MSR_IA32_PRED_CMD, PRED_CMD_IBPB);
}

/*
 * Called with IRQs off right before the world switch.  @hw_spec_ctrl:
 * the CPU itself loads the guest's SPEC_CTRL at entry and the host's at
 * exit (AMD V_SPEC_CTRL); the return value is then the guest value for
 * the backend's hardware structure, otherwise 0 and the MSR was written
 * here if the guest's value differs from the host's.  Nothing between
 * this and the entry may take an indirect branch (IBRS may be off now).
 */
static __always_inline u64 vmx_spec_enter(struct vmx_vcpu *vcpu,
					  bool hw_spec_ctrl)
{
	u32 m = READ_ONCE(vmx_spec.measures);

	if (m & VMX_SPEC_IBPB_SWITCH)
		vmx_spec_switch_vm(vcpu);
	if (unlikely(m & VMX_SPEC_BP_REDUCE))
		vmx_spec_bp_reduce_cpu();
	if (!(m & VMX_SPEC_SPEC_CTRL))
		return 0;
	if (hw_spec_ctrl)
		return vcpu->msr_spec_ctrl;
	if (vcpu->msr_spec_ctrl != this_cpu_read(x86_spec_ctrl_current))
		native_wrmsrl(MSR_IA32_SPEC_CTRL, vcpu->msr_spec_ctrl);
	return 0;
}

/*
 * Called with IRQs off right after the world switch returned (its RSB
 * fill ran before its RET).  The guest cannot write SPEC_CTRL directly
 * (the MSR is always intercepted), so there is nothing to read back.
 * Legacy-IBRS hosts rewrite IBRS after every exit even when the values
 * match: the write is what flushes the less privileged predictions.
 */
static __always_inline void vmx_spec_exit(struct vmx_vcpu *vcpu,
					  bool hw_spec_ctrl)
{
	u32 m = READ_ONCE(vmx_spec.measures);

	if ((m & VMX_SPEC_SPEC_CTRL) && !hw_spec_ctrl) {
		u64 host = this_cpu_read(x86_spec_ctrl_current);

		if ((m & VMX_SPEC_IBRS_REWRITE) || vcpu->msr_spec_ctrl != host)
			native_wrmsrl(MSR_IA32_SPEC_CTRL, host);
		barrier_nospec();
	}
	/* VMSCAPE: the host's user space (the VMM first) gets an IBPB. */
	if (m & VMX_SPEC_IBPB_USER)
		this_cpu_write(x86_ibpb_exit_to_user, true);
}

#endif /* !__ASSEMBLY__ */
#endif /* VMX_SPEC_H */
