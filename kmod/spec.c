// SPDX-License-Identifier: GPL-2.0
/*
 * Speculation hygiene: which measures run around the world switch.
 *
 * Every measure follows a decision the host kernel already made for
 * itself and for KVM (its X86_BUG_* and synthetic X86_FEATURE_* flags),
 * so vmx.ko is never weaker than KVM on the same kernel and never pays
 * for what the kernel found unnecessary (e.g. after mitigations=off).
 * See Documentation/threat-model.md for the table of flags.
 *
 * spec_mitigations=off switches every optional measure off (benchmarks
 * only; logged loudly).  spec_force=a,b forces measures on where the CPU
 * accepts the instructions, to measure their cost on an emulated CPU
 * that reports no bugs.  Both are read at load only: the decision never
 * changes under a running vCPU.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cpu.h>
#include <linux/jump_label.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/string.h>
#include <asm/cpufeature.h>
#include <asm/msr.h>
#include <asm/nospec-branch.h>
#include <asm/segment.h>

#include "compat.h"
#include "spec.h"

struct vmx_spec vmx_spec __read_mostly;
/* Read by the world-switch assembly (spec.h VMX_SPEC_VMENTRY/VMEXIT). */
u32 vmx_spec_asm __read_mostly;
/* VERW needs a valid, readable selector in memory: the kernel's data. */
u16 vmx_spec_verw_sel __read_mostly = __KERNEL_DS;

DEFINE_PER_CPU(u64, vmx_spec_last_vm);
static DEFINE_PER_CPU(bool, vmx_spec_bp_reduce_set);

static char vmx_spec_mode[8] = "auto";
module_param_string(spec_mitigations, vmx_spec_mode, sizeof(vmx_spec_mode), 0444);
MODULE_PARM_DESC(spec_mitigations,
		 "auto (default: follow the host kernel) or off (benchmarks only: guests may attack the host)");

static char vmx_spec_force[128];
module_param_string(spec_force, vmx_spec_force, sizeof(vmx_spec_force), 0444);
MODULE_PARM_DESC(spec_force,
		 "measures to force on, comma separated: rsb-fill,verw,ibpb-on-exit,ibpb-on-switch,spec-ctrl");

/* The measures by name, in the order they are logged. */
enum vmx_spec_id {
	VMX_M_RSB_FILL, VMX_M_VERW, VMX_M_UNTRAIN, VMX_M_UNTRAIN_ALIAS,
	VMX_M_IBPB_EXIT, VMX_M_CLEAR_BHB, VMX_M_IBPB_SWITCH, VMX_M_SPEC_CTRL,
	VMX_M_IBRS_REWRITE, VMX_M_IBPB_USER, VMX_M_BP_REDUCE, VMX_M_NR
};

/*
 * @asm/@c: where the measure lives (vmx_spec_asm / vmx_spec.measures)
 * @forceable: may be forced on by spec_force (if the CPU takes it)
 */
static const struct {
	const char *name;
	u32 asm_bit;
	u32 c_bit;
	bool forceable;
} vmx_spec_names[VMX_M_NR] = {
	[VMX_M_RSB_FILL]	= { "rsb-fill", VMX_SPEC_ASM_RSB_FILL, 0, true },
	[VMX_M_VERW]		= { "verw", VMX_SPEC_ASM_VERW, 0, true },
	[VMX_M_UNTRAIN]		= { "untrain-ret", VMX_SPEC_ASM_UNTRAIN, 0, false },
	[VMX_M_UNTRAIN_ALIAS]	= { "srso-alias-untrain", VMX_SPEC_ASM_UNTRAIN_ALIAS, 0, false },
	[VMX_M_IBPB_EXIT]	= { "ibpb-on-exit", VMX_SPEC_ASM_IBPB, 0, true },
	[VMX_M_CLEAR_BHB]	= { "clear-bhb", VMX_SPEC_ASM_CLEAR_BHB, 0, false },
	[VMX_M_IBPB_SWITCH]	= { "ibpb-on-switch", 0, VMX_SPEC_IBPB_SWITCH, true },
	[VMX_M_SPEC_CTRL]	= { "spec-ctrl", 0, VMX_SPEC_SPEC_CTRL, true },
	[VMX_M_IBRS_REWRITE]	= { "ibrs-rewrite", 0, VMX_SPEC_IBRS_REWRITE, false },
	[VMX_M_IBPB_USER]	= { "ibpb-exit-to-user", 0, VMX_SPEC_IBPB_USER, false },
	[VMX_M_BP_REDUCE]	= { "bp-spec-reduce", 0, VMX_SPEC_BP_REDUCE, false },
};

static bool vmx_spec_has_bug_mds_class(void)
{
	return boot_cpu_has_bug(X86_BUG_MDS) ||
	       boot_cpu_has_bug(X86_BUG_MSBDS_ONLY) ||
	       boot_cpu_has_bug(X86_BUG_TAA) ||
	       boot_cpu_has_bug(X86_BUG_MMIO_STALE_DATA) ||
	       boot_cpu_has_bug(X86_BUG_RFDS) ||
	       boot_cpu_has_bug(X86_BUG_TSA);
}

/*
 * What the host kernel decided; one bit per measure.
 *
 * VERW: the kernel clears CPU buffers on its own exits to user space
 * (CLEAR_CPU_BUF, MDS/TAA/MMIO/RFDS) or only before VM entry
 * (CLEAR_CPU_BUF_VM, AMD TSA).  The MMIO-only flavour the kernel applies
 * to KVM guests with assigned devices does not arise: guest memory comes
 * from get_user_pages(), which refuses VM_IO/VM_PFNMAP (device) mappings.
 *
 * RSB fill: whenever the kernel fills on VM exit (RSB_VMEXIT: retpoline
 * or IBRS hosts; RSB_VMEXIT_LITE: eIBRS with the PBRSB bug, for which
 * the full fill is a superset), and after an IBPB that leaves return
 * predictions alone (IBPB_NO_RET).
 *
 * Untraining and IBPB on exit: as the kernel's UNTRAIN_RET_VM (AMD
 * retbleed "unret", SRSO "safe RET" and its Zen-4 alias form, IBPB modes).
 *
 * Branch history: the kernel's clear_bhb_loop after the exit where it
 * clears the BHB on VM exit itself (Intel BHI, no BHI_DIS_S).
 */
static unsigned long vmx_spec_kernel_choice(void)
{
	unsigned long want = 0;

	if (boot_cpu_has(X86_FEATURE_RSB_VMEXIT) ||
	    boot_cpu_has(X86_FEATURE_RSB_VMEXIT_LITE))
		want |= BIT(VMX_M_RSB_FILL);
	if (vmx_spec_has_bug_mds_class() &&
	    (boot_cpu_has(X86_FEATURE_CLEAR_CPU_BUF) ||
	     boot_cpu_has(X86_FEATURE_CLEAR_CPU_BUF_VM)))
		want |= BIT(VMX_M_VERW);
	if (boot_cpu_has(X86_FEATURE_SRSO_ALIAS))
		want |= BIT(VMX_M_UNTRAIN_ALIAS);
	else if (boot_cpu_has(X86_FEATURE_UNRET))
		want |= BIT(VMX_M_UNTRAIN);
	if (boot_cpu_has(X86_FEATURE_IBPB_ON_VMEXIT) ||
	    boot_cpu_has(X86_FEATURE_ENTRY_IBPB)) {
		want |= BIT(VMX_M_IBPB_EXIT);
		if (boot_cpu_has_bug(X86_BUG_IBPB_NO_RET))
			want |= BIT(VMX_M_RSB_FILL);
	}
	if (boot_cpu_has(X86_FEATURE_CLEAR_BHB_LOOP_ON_VMEXIT))
		want |= BIT(VMX_M_CLEAR_BHB);
	/* The kernel's own IBPB between tasks is what KVM uses too. */
	if (boot_cpu_has(X86_FEATURE_USE_IBPB))
		want |= BIT(VMX_M_IBPB_SWITCH);
	if (boot_cpu_has(X86_FEATURE_MSR_SPEC_CTRL))
		want |= BIT(VMX_M_SPEC_CTRL);
	if (boot_cpu_has(X86_FEATURE_MSR_SPEC_CTRL) &&
	    boot_cpu_has(X86_FEATURE_KERNEL_IBRS))
		want |= BIT(VMX_M_IBRS_REWRITE);
	if (boot_cpu_has(X86_FEATURE_IBPB_EXIT_TO_USER))
		want |= BIT(VMX_M_IBPB_USER);
	if (VMX_COMPAT_SRSO_BP_SPEC_REDUCE)
		want |= BIT(VMX_M_BP_REDUCE);
	return want;
}

/* Does this CPU take the instruction a forced measure executes? */
static bool vmx_spec_force_ok(enum vmx_spec_id id)
{
	u64 val;

	switch (id) {
	case VMX_M_IBPB_EXIT:
	case VMX_M_IBPB_SWITCH:
		return boot_cpu_has(X86_FEATURE_IBPB) ||
		       !wrmsrl_safe(MSR_IA32_PRED_CMD, PRED_CMD_IBPB);
	case VMX_M_SPEC_CTRL:
		if (boot_cpu_has(X86_FEATURE_MSR_SPEC_CTRL))
			return true;
		return !rdmsrl_safe(MSR_IA32_SPEC_CTRL, &val) &&
		       !wrmsrl_safe(MSR_IA32_SPEC_CTRL, val);
	default:
		return true;	/* VERW and the RSB fill run everywhere */
	}
}

static int vmx_spec_parse_force(unsigned long *want, unsigned long *forced)
{
	char buf[sizeof(vmx_spec_force)], *p = buf, *tok;
	int i;

	strscpy(buf, vmx_spec_force, sizeof(buf));
	while ((tok = strsep(&p, ",")) != NULL) {
		if (!*tok)
			continue;
		for (i = 0; i < VMX_M_NR; i++)
			if (vmx_spec_names[i].forceable &&
			    !strcmp(tok, vmx_spec_names[i].name))
				break;
		if (i == VMX_M_NR) {
			pr_err("spec_force: unknown or unforceable measure '%s'\n", tok);
			return -EINVAL;
		}
		if (!vmx_spec_force_ok(i)) {
			pr_err("spec_force: this CPU cannot run '%s'\n", tok);
			return -EINVAL;
		}
		if (!(*want & BIT(i)))
			*forced |= BIT(i);
		*want |= BIT(i);
	}
	return 0;
}

/* SPEC_CTRL bits the guest may set: what the host's MSR implements. */
static u64 vmx_spec_ctrl_bits(bool forced)
{
	u64 bits = 0;

	if (forced)
		return SPEC_CTRL_IBRS | SPEC_CTRL_STIBP | SPEC_CTRL_SSBD;
	if (boot_cpu_has(X86_FEATURE_SPEC_CTRL) ||
	    boot_cpu_has(X86_FEATURE_AMD_IBRS))
		bits |= SPEC_CTRL_IBRS;
	if (boot_cpu_has(X86_FEATURE_INTEL_STIBP) ||
	    boot_cpu_has(X86_FEATURE_AMD_STIBP))
		bits |= SPEC_CTRL_STIBP;
	if (boot_cpu_has(X86_FEATURE_SPEC_CTRL_SSBD) ||
	    boot_cpu_has(X86_FEATURE_AMD_SSBD))
		bits |= SPEC_CTRL_SSBD;
	return bits;
}

static void vmx_spec_log(unsigned long want, unsigned long forced)
{
	char line[256];
	size_t len = 0;
	int i;

	for (i = 0; i < VMX_M_NR; i++)
		if (want & BIT(i))
			len += scnprintf(line + len, sizeof(line) - len, " %s%s",
					 vmx_spec_names[i].name,
					 forced & BIT(i) ? "(forced)" : "");
	/* Nested, the flags are what the outer hypervisor tells the kernel. */
	pr_info("speculation:%s gpr-clear%s\n", len ? line : " none;",
		boot_cpu_has(X86_FEATURE_HYPERVISOR) ? " (nested)" : "");
}

static unsigned long vmx_spec_active;

int vmx_spec_init(void)
{
	unsigned long want = 0, forced = 0;
	int i, ret;

	if (strcmp(vmx_spec_mode, "auto") && strcmp(vmx_spec_mode, "off")) {
		pr_err("spec_mitigations=%s: only auto or off\n", vmx_spec_mode);
		return -EINVAL;
	}
	if (!strcmp(vmx_spec_mode, "off")) {
		pr_warn("**********************************************************\n");
		pr_warn("** spec_mitigations=off: NO speculation measures at all  **\n");
		pr_warn("** guests can attack the host and each other: benchmarks **\n");
		pr_warn("**********************************************************\n");
	} else {
		want = vmx_spec_kernel_choice();
	}
	ret = vmx_spec_parse_force(&want, &forced);
	if (ret)
		return ret;

	for (i = 0; i < VMX_M_NR; i++) {
		if (!(want & BIT(i)))
			continue;
		vmx_spec_asm |= vmx_spec_names[i].asm_bit;
		vmx_spec.measures |= vmx_spec_names[i].c_bit;
	}
	if (want & BIT(VMX_M_SPEC_CTRL))
		vmx_spec.spec_ctrl_valid =
			vmx_spec_ctrl_bits(forced & BIT(VMX_M_SPEC_CTRL));
	/* Guest IBPB is a guest feature: offered when the CPU has it. */
	vmx_spec.pred_cmd = boot_cpu_has(X86_FEATURE_IBPB) ||
			    (forced & (BIT(VMX_M_IBPB_EXIT) | BIT(VMX_M_IBPB_SWITCH)));
	vmx_spec_active = want;
	vmx_spec_log(want, forced);
	return 0;
}

/* Read-only list of the active measures, as logged at load. */
static int vmx_spec_active_get(char *buf, const struct kernel_param *kp)
{
	int i, len = 0;

	for (i = 0; i < VMX_M_NR; i++)
		if (vmx_spec_active & BIT(i))
			len += sysfs_emit_at(buf, len, "%s ",
					     vmx_spec_names[i].name);
	len += sysfs_emit_at(buf, len, "gpr-clear\n");
	return len;
}

static int vmx_spec_active_set(const char *val, const struct kernel_param *kp)
{
	return -EPERM;
}

static const struct kernel_param_ops vmx_spec_active_ops = {
	.set = vmx_spec_active_set,
	.get = vmx_spec_active_get,
};
module_param_cb(spec_active, &vmx_spec_active_ops, NULL, 0444);
MODULE_PARM_DESC(spec_active, "speculation measures in force (read-only)");

/*
 * AMD Zen 5 (kernel 6.12 with SRSO "BP_SPEC_REDUCE"): the kernel relies
 * on the hypervisor to set BP_CFG[BP_SPEC_REDUCE] on every CPU that runs
 * guests.  Set lazily at the first entry on a CPU, cleared when the CPU
 * stops being ours (vmx_spec_cpu_down).  IRQs are off here.
 */
void vmx_spec_bp_reduce_cpu(void)
{
	u64 cfg;

	if (this_cpu_read(vmx_spec_bp_reduce_set))
		return;
	rdmsrl(MSR_ZEN4_BP_CFG, cfg);
	wrmsrl(MSR_ZEN4_BP_CFG, cfg | BIT_ULL(VMX_COMPAT_BP_SPEC_REDUCE_BIT));
	this_cpu_write(vmx_spec_bp_reduce_set, true);
}

/* This CPU leaves vmx (offline, suspend, reboot, unload); IRQs off. */
void vmx_spec_cpu_down(void)
{
	u64 cfg;

	/* Whatever ran here before we come back, IBPB before a guest. */
	this_cpu_write(vmx_spec_last_vm, 0);
	if (!this_cpu_read(vmx_spec_bp_reduce_set))
		return;
	rdmsrl(MSR_ZEN4_BP_CFG, cfg);
	wrmsrl(MSR_ZEN4_BP_CFG, cfg & ~BIT_ULL(VMX_COMPAT_BP_SPEC_REDUCE_BIT));
	this_cpu_write(vmx_spec_bp_reduce_set, false);
}

/*
 * A guest (or VMM) write of PRED_CMD: IBPB is the only command offered.
 * Returns -ENOENT when the guest has no PRED_CMD, -EINVAL for other bits.
 */
int vmx_spec_guest_pred_cmd(u64 data)
{
	if (!vmx_spec.pred_cmd)
		return -ENOENT;
	if (data & ~PRED_CMD_IBPB)
		return -EINVAL;
	if (data)
		wrmsrl(MSR_IA32_PRED_CMD, PRED_CMD_IBPB);
	return 0;
}
