// SPDX-License-Identifier: GPL-2.0
/*
 * MSRs: the backend handles those that live in its hardware state (EFER,
 * PAT, SYSENTER, STAR, TSC ...); the core keeps a short list of MSRs a
 * guest OS reads or writes but that need no hardware (APIC base, MTRRs,
 * machine-check, microcode).  Anything else is the VMM's business when
 * it asked for MSR exits, and a #GP for the guest otherwise.
 *
 * SPEC_CTRL and PRED_CMD exist for the guest only where spec.c decided
 * the module handles them (vmx_spec_guest_*); otherwise they are unknown
 * MSRs like any other.  SPEC_CTRL is always intercepted: the value kept
 * here is what spec.h loads before each entry.
 */
#include <linux/uaccess.h>
#include <linux/slab.h>
#include <asm/msr-index.h>
#include <asm/tsc.h>

#include "core.h"
#include "spec.h"

#define VMX_APIC_BASE_VALID	(0xfffffffff000ULL | BIT(8) | BIT(11))
#define VMX_MTRR_DEF_TYPE_VALID	(0xffULL | BIT(10) | BIT(11))

static int vmx_core_msr_get(struct vmx_vcpu *vcpu, u32 index, u64 *data)
{
	switch (index) {
	case MSR_IA32_TSC:
		*data = rdtsc() + vcpu->tsc_offset;
		return 0;
	case MSR_TSC_AUX:
		*data = vcpu->msr_tsc_aux;
		return 0;
	case MSR_IA32_MISC_ENABLE:
		*data = vcpu->msr_misc_enable;
		return 0;
	case MSR_IA32_APICBASE:
		*data = vcpu->msr_apic_base;
		return 0;
	case MSR_MTRRdefType:
		*data = vcpu->msr_mtrr_def_type;
		return 0;
	case MSR_IA32_SPEC_CTRL:
		if (!vmx_spec_guest_spec_ctrl_bits())
			return -ENOENT;
		*data = vcpu->msr_spec_ctrl;
		return 0;
	case MSR_IA32_PRED_CMD:
		/* Write-only on hardware: reads fault. */
		return vmx_spec_guest_has_ibpb() ? -EINVAL : -ENOENT;
	case MSR_MTRRcap:		/* no fixed or variable MTRRs */
	case MSR_IA32_MCG_CAP:
	case MSR_IA32_MCG_STATUS:
	case MSR_IA32_UCODE_REV:	/* also AMD's PATCH_LEVEL */
		*data = 0;
		return 0;
	}
	return -ENOENT;
}

static int vmx_core_msr_set(struct vmx_vcpu *vcpu, u32 index, u64 data)
{
	switch (index) {
	case MSR_IA32_TSC:
		/* Guest or VMM writes the TSC: the offset follows. */
		vcpu->tsc_offset = data - rdtsc();
		return 0;
	case MSR_TSC_AUX:
		if (data >> 32)
			return -EINVAL;
		vcpu->msr_tsc_aux = data;
		return 0;
	case MSR_IA32_MISC_ENABLE:
		vcpu->msr_misc_enable = data;
		return 0;
	case MSR_IA32_APICBASE:
		if (data & ~VMX_APIC_BASE_VALID)
			return -EINVAL;
		vcpu->msr_apic_base = data;
		return 0;
	case MSR_MTRRdefType:
		if (data & ~VMX_MTRR_DEF_TYPE_VALID)
			return -EINVAL;
		vcpu->msr_mtrr_def_type = data;
		return 0;
	case MSR_IA32_SPEC_CTRL:
		if (!vmx_spec_guest_spec_ctrl_bits())
			return -ENOENT;
		if (data & ~vmx_spec_guest_spec_ctrl_bits())
			return -EINVAL;
		vcpu->msr_spec_ctrl = data;
		return 0;
	case MSR_IA32_PRED_CMD:
		return vmx_spec_guest_pred_cmd(data);
	case MSR_IA32_MCG_STATUS:
	case MSR_IA32_UCODE_REV:	/* written before a microcode probe */
		return data ? -EINVAL : 0;
	}
	return -ENOENT;
}

int vmx_msr_get(struct vmx_vcpu *vcpu, u32 index, u64 *data)
{
	int ret = vmx_ops->get_msr(vcpu, index, data);

	return ret == -ENOENT ? vmx_core_msr_get(vcpu, index, data) : ret;
}

/* @host: the VMM sets it (may set what a guest may not, e.g. the TSC). */
int vmx_msr_set(struct vmx_vcpu *vcpu, u32 index, u64 data, bool host)
{
	int ret = vmx_ops->set_msr(vcpu, index, data, host);

	return ret == -ENOENT ? vmx_core_msr_set(vcpu, index, data) : ret;
}

/* Hand an MSR access the kernel does not know to the VMM. */
static void vmx_vcpu_msr_exit(struct vmx_vcpu *vcpu, u32 index, bool is_write,
			      u64 data, u8 insn_len)
{
	struct vmx_run *run = vcpu->run;

	run->exit_reason = VMX_EXIT_MSR;
	memset(&run->msr, 0, sizeof(run->msr));
	run->msr.index = index;
	run->msr.is_write = is_write;
	run->msr.data = data;
	vcpu->pending_io = is_write ? VMX_PENDING_MSR_WRITE : VMX_PENDING_MSR_READ;
	vcpu->pending_insn_len = insn_len;
}

/*
 * A guest RDMSR/WRMSR (ECX, EDX:EAX).  Returns 1 when it is done (the
 * caller advances RIP), 0 when it went to the VMM as an MSR exit, or
 * -EINVAL when the guest must get #GP.
 */
int vmx_vcpu_emulate_msr(struct vmx_vcpu *vcpu, bool is_write, u8 insn_len)
{
	u32 index = vcpu->gprs[VMX_RCX];
	u64 data = 0;
	int ret;

	if (is_write) {
		data = (u32)vcpu->gprs[VMX_RAX] | (vcpu->gprs[VMX_RDX] << 32);
		ret = vmx_msr_set(vcpu, index, data, false);
	} else {
		ret = vmx_msr_get(vcpu, index, &data);
	}
	if (ret == -ENOENT) {
		if (!READ_ONCE(vcpu->run->msr_exits))
			return -EINVAL;
		vmx_vcpu_msr_exit(vcpu, index, is_write, data, insn_len);
		return 0;
	}
	if (ret)
		return -EINVAL;
	if (!is_write) {
		vcpu->gprs[VMX_RAX] = (u32)data;
		vcpu->gprs[VMX_RDX] = data >> 32;
	}
	return 1;
}

static struct vmx_msrs *vmx_msrs_copy_in(struct vmx_msrs __user *argp)
{
	struct vmx_msrs hdr, *msrs;
	size_t size;

	if (copy_from_user(&hdr, argp, sizeof(hdr)))
		return ERR_PTR(-EFAULT);
	if (hdr.flags || hdr.reserved)
		return ERR_PTR(-EINVAL);
	if (hdr.nmsrs > VMX_MAX_MSR_ENTRIES)
		return ERR_PTR(-E2BIG);
	size = struct_size(msrs, entries, hdr.nmsrs);
	msrs = memdup_user(argp, size);
	if (IS_ERR(msrs))
		return msrs;
	/* The header may have changed under us: use the checked one. */
	msrs->nmsrs = hdr.nmsrs;
	return msrs;
}

long vmx_vcpu_get_msrs(struct vmx_vcpu *vcpu, struct vmx_msrs __user *argp)
{
	struct vmx_msrs *msrs = vmx_msrs_copy_in(argp);
	u32 i;
	long ret;

	if (IS_ERR(msrs))
		return PTR_ERR(msrs);
	for (i = 0; i < msrs->nmsrs; i++) {
		if (msrs->entries[i].reserved ||
		    vmx_msr_get(vcpu, msrs->entries[i].index, &msrs->entries[i].data))
			break;
	}
	ret = copy_to_user(argp->entries, msrs->entries,
			   i * sizeof(msrs->entries[0])) ? -EFAULT : i;
	kfree(msrs);
	return ret;
}

long vmx_vcpu_set_msrs(struct vmx_vcpu *vcpu, struct vmx_msrs __user *argp)
{
	struct vmx_msrs *msrs = vmx_msrs_copy_in(argp);
	u32 i;

	if (IS_ERR(msrs))
		return PTR_ERR(msrs);
	for (i = 0; i < msrs->nmsrs; i++) {
		if (msrs->entries[i].reserved ||
		    vmx_msr_set(vcpu, msrs->entries[i].index,
				msrs->entries[i].data, true))
			break;
	}
	kfree(msrs);
	return i;
}
