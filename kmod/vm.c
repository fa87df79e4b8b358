// SPDX-License-Identifier: GPL-2.0
/*
 * VM objects: creation, reference counting and teardown.
 */
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include "core.h"

static atomic64_t vmx_next_vm_id = ATOMIC64_INIT(0);

struct vmx_vm *vmx_vm_create(const struct vmx_vm_create *args)
{
	struct vmx_vm *vm;

	vm = kzalloc(sizeof(*vm), GFP_KERNEL_ACCOUNT);
	if (!vm)
		return ERR_PTR(-ENOMEM);

	refcount_set(&vm->refs, 1);
	vm->flags = args->flags;
	vm->id = atomic64_inc_return(&vmx_next_vm_id);
	mmgrab(current->mm);
	vm->mm = current->mm;
	return vm;
}

static void vmx_vm_free(struct vmx_vm *vm)
{
	mmdrop(vm->mm);
	kfree(vm);
}

void vmx_vm_put(struct vmx_vm *vm)
{
	if (refcount_dec_and_test(&vm->refs))
		vmx_vm_free(vm);
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
