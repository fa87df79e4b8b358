// SPDX-License-Identifier: GPL-2.0
/*
 * VM objects: creation, reference counting and teardown.
 */
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <asm/tsc.h>

#include "core.h"

static atomic64_t vmx_next_vm_id = ATOMIC64_INIT(0);

struct vmx_vm *vmx_vm_create(const struct vmx_vm_create *args)
{
	struct vmx_cpuid *cpuid;
	struct vmx_vm *vm;
	int ret;

	vm = kzalloc(sizeof(*vm), GFP_KERNEL_ACCOUNT);
	if (!vm)
		return ERR_PTR(-ENOMEM);

	refcount_set(&vm->refs, 1);
	mutex_init(&vm->lock);
	vm->flags = args->flags;
	vm->id = atomic64_inc_return(&vmx_next_vm_id);
	/* The guest's TSC starts near zero, the same for every vCPU. */
	vm->tsc_offset = -rdtsc();
	mmgrab(current->mm);
	vm->mm = current->mm;

	cpuid = vmx_cpuid_default();
	if (!cpuid) {
		ret = -ENOMEM;
		goto out_free;
	}
	RCU_INIT_POINTER(vm->cpuid, cpuid);

	ret = vmx_mmu_init(vm);
	if (ret)
		goto out_free;
	ret = vmx_stats_vm_link(vm);
	if (ret) {
		vmx_vm_put(vm);
		return ERR_PTR(ret);
	}
	return vm;

out_free:
	kfree(rcu_dereference_protected(vm->cpuid, true));
	mmdrop(vm->mm);
	kfree(vm);
	return ERR_PTR(ret);
}

void vmx_vm_get(struct vmx_vm *vm)
{
	refcount_inc(&vm->refs);
}

/* Runs when neither the VM fd nor any vCPU fd is left. */
static void vmx_vm_free(struct vmx_vm *vm)
{
	int i;

	vmx_stats_vm_unlink(vm);
	for (i = 0; i < VMX_MAX_VCPUS; i++) {
		struct vmx_vcpu *vcpu = vm->vcpus[i];

		if (!vcpu)
			continue;
		vmx_ops->vcpu_free(vcpu);
		vmx_mmu_vcpu_free(vcpu);
		free_page((unsigned long)vcpu->run);
		kfree(vcpu->fpu);
		kfree(vcpu);
	}
	vmx_mmu_destroy(vm);
	vmx_slots_free(vm);
	kfree(rcu_dereference_protected(vm->cpuid, true));
	mmdrop(vm->mm);
	kfree(vm);
}

void vmx_vm_put(struct vmx_vm *vm)
{
	if (refcount_dec_and_test(&vm->refs))
		vmx_vm_free(vm);
}

/* Only the creating process may change or run a VM (not a fork child). */
bool vmx_vm_owner_ok(struct vmx_vm *vm)
{
	return current->mm == vm->mm;
}

static int vmx_vm_release(struct inode *inode, struct file *file)
{
	vmx_vm_put(file->private_data);
	return 0;
}

const struct file_operations vmx_vm_fops = {
	.owner		= THIS_MODULE,
	.release	= vmx_vm_release,
	.unlocked_ioctl	= vmx_vm_ioctl,
	.llseek		= noop_llseek,
};
