// SPDX-License-Identifier: GPL-2.0
/*
 * All ioctl argument parsing of the core lives here: copy in, validate
 * flags and reserved fields, call the object's function, copy out.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/uaccess.h>

#include "core.h"

static bool vmx_all_zero(const void *p, size_t len)
{
	return !memchr_inv(p, 0, len);
}

static long vmx_dev_get_caps(void __user *argp)
{
	struct vmx_caps caps = {
		.backend	= vmx_ops->backend_id,
		.max_vcpus	= VMX_MAX_VCPUS,
		.max_memslots	= VMX_MAX_MEMSLOTS,
		.features	= vmx_ops->features,
		.nr_cpus_enabled = vmx_nr_cpus_enabled(),
	};

	if (copy_to_user(argp, &caps, sizeof(caps)))
		return -EFAULT;
	return 0;
}

static long vmx_dev_create_vm(void __user *argp)
{
	struct vmx_vm_create args;
	struct vmx_vm *vm;
	int fd;

	if (copy_from_user(&args, argp, sizeof(args)))
		return -EFAULT;
	if (args.flags || args.pad ||
	    !vmx_all_zero(args.reserved, sizeof(args.reserved)))
		return -EINVAL;

	vm = vmx_vm_create(&args);
	if (IS_ERR(vm))
		return PTR_ERR(vm);

	fd = anon_inode_getfd("vmx-vm", &vmx_vm_fops, vm, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		vmx_vm_put(vm);
	return fd;
}

long vmx_dev_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case VMX_GET_API_VERSION:
		return VMX_API_VERSION;
	case VMX_GET_CAPS:
		return vmx_dev_get_caps(argp);
	case VMX_CREATE_VM:
		return vmx_dev_create_vm(argp);
	default:
		return -ENOTTY;
	}
}

static long vmx_vm_get_info(struct vmx_vm *vm, void __user *argp)
{
	struct vmx_vm_info info = {
		.flags	= vm->flags,
		.id	= vm->id,
	};

	if (copy_to_user(argp, &info, sizeof(info)))
		return -EFAULT;
	return 0;
}

long vmx_vm_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct vmx_vm *vm = file->private_data;
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case VMX_VM_GET_INFO:
		return vmx_vm_get_info(vm, argp);
	default:
		return -ENOTTY;
	}
}
