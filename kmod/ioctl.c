// SPDX-License-Identifier: GPL-2.0
/*
 * All ioctl argument parsing of the core lives here: copy in, validate
 * flags and reserved fields, check the caller, call the object's
 * function, copy out.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "core.h"

/* ---- /dev/vmx ---- */

static long vmx_dev_get_caps(void __user *argp)
{
	struct vmx_caps caps = {
		.backend	= vmx_ops->backend_id,
		.max_vcpus	= VMX_MAX_VCPUS,
		.max_memslots	= VMX_MAX_MEMSLOTS,
		.features	= vmx_ops->features | VMX_FEAT_SYNC_REGS |
				  VMX_FEAT_DEBUGREGS,
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
	case VMX_GET_DEFAULT_CPUID:
		return vmx_cpuid_get_default(argp);
	default:
		return -ENOTTY;
	}
}

/* ---- VM fd ---- */

static long vmx_vm_get_info(struct vmx_vm *vm, void __user *argp)
{
	struct vmx_vm_info info = {
		.flags		= vm->flags,
		.nr_vcpus	= atomic_read(&vm->nr_vcpus),
		.id		= vm->id,
	};

	if (copy_to_user(argp, &info, sizeof(info)))
		return -EFAULT;
	return 0;
}

static long vmx_vm_create_vcpu(struct vmx_vm *vm, void __user *argp)
{
	struct vmx_vcpu_create args;

	if (copy_from_user(&args, argp, sizeof(args)))
		return -EFAULT;
	return vmx_vcpu_create(vm, &args);
}

static long vmx_vm_set_memslot(struct vmx_vm *vm, void __user *argp)
{
	struct vmx_memslot req;

	if (copy_from_user(&req, argp, sizeof(req)))
		return -EFAULT;
	return vmx_slot_set(vm, &req);
}

static long vmx_vm_get_dirty_log(struct vmx_vm *vm, void __user *argp)
{
	struct vmx_dirty_log req;

	if (copy_from_user(&req, argp, sizeof(req)))
		return -EFAULT;
	return vmx_slot_get_dirty_log(vm, &req);
}

long vmx_vm_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct vmx_vm *vm = file->private_data;
	void __user *argp = (void __user *)arg;

	if (cmd == VMX_VM_GET_INFO)
		return vmx_vm_get_info(vm, argp);
	if (_IOC_TYPE(cmd) != VMX_IOC_MAGIC)
		return -ENOTTY;
	/* Changing a VM is for its creator only, not for a fork child. */
	switch (cmd) {
	case VMX_CREATE_VCPU:
	case VMX_SET_MEMSLOT:
	case VMX_GET_DIRTY_LOG:
	case VMX_SET_CPUID:
		if (!vmx_vm_owner_ok(vm))
			return -EIO;
		break;
	default:
		return -ENOTTY;
	}

	switch (cmd) {
	case VMX_CREATE_VCPU:
		return vmx_vm_create_vcpu(vm, argp);
	case VMX_SET_MEMSLOT:
		return vmx_vm_set_memslot(vm, argp);
	case VMX_GET_DIRTY_LOG:
		return vmx_vm_get_dirty_log(vm, argp);
	case VMX_SET_CPUID:
		return vmx_cpuid_set(vm, argp);
	}
	return -ENOTTY;
}

/* ---- vCPU fd ---- */

static long vmx_vcpu_regs_ioctl(struct vmx_vcpu *vcpu, unsigned int cmd,
				void __user *argp)
{
	struct vmx_regs regs;

	if (cmd == VMX_GET_REGS) {
		vmx_vcpu_get_regs(vcpu, &regs);
		return copy_to_user(argp, &regs, sizeof(regs)) ? -EFAULT : 0;
	}
	if (copy_from_user(&regs, argp, sizeof(regs)))
		return -EFAULT;
	vmx_vcpu_sync_clear_dirty(vcpu, VMX_SYNC_REGS);
	return vmx_vcpu_set_regs(vcpu, &regs);
}

static long vmx_vcpu_sregs_ioctl(struct vmx_vcpu *vcpu, unsigned int cmd,
				 void __user *argp)
{
	struct vmx_sregs sregs;

	if (cmd == VMX_GET_SREGS) {
		memset(&sregs, 0, sizeof(sregs));
		vmx_ops->get_sregs(vcpu, &sregs);
		return copy_to_user(argp, &sregs, sizeof(sregs)) ? -EFAULT : 0;
	}
	if (copy_from_user(&sregs, argp, sizeof(sregs)))
		return -EFAULT;
	vmx_vcpu_sync_clear_dirty(vcpu, VMX_SYNC_SREGS);
	return vmx_vcpu_set_sregs(vcpu, &sregs);
}

static long vmx_vcpu_fpu_ioctl(struct vmx_vcpu *vcpu, unsigned int cmd,
			       void __user *argp)
{
	struct vmx_fpu *fpu;
	long ret;

	fpu = kzalloc(sizeof(*fpu), GFP_KERNEL_ACCOUNT);
	if (!fpu)
		return -ENOMEM;
	if (cmd == VMX_GET_FPU) {
		ret = vmx_vcpu_get_fpu(vcpu, fpu);
		if (!ret && copy_to_user(argp, fpu, sizeof(*fpu)))
			ret = -EFAULT;
	} else if (copy_from_user(fpu, argp, sizeof(*fpu))) {
		ret = -EFAULT;
	} else {
		ret = vmx_vcpu_set_fpu(vcpu, fpu);
	}
	kfree(fpu);
	return ret;
}

static long vmx_vcpu_inject_ioctl(struct vmx_vcpu *vcpu, void __user *argp)
{
	struct vmx_event ev;

	if (copy_from_user(&ev, argp, sizeof(ev)))
		return -EFAULT;
	return vmx_vcpu_inject(vcpu, &ev);
}

static long vmx_vcpu_events_ioctl(struct vmx_vcpu *vcpu, unsigned int cmd,
				  void __user *argp)
{
	struct vmx_events ev;
	int ret;

	if (cmd == VMX_GET_EVENTS) {
		memset(&ev, 0, sizeof(ev));
		vmx_ops->get_events(vcpu, &ev);
		vmx_vcpu_get_event_queue(vcpu, &ev);
		return copy_to_user(argp, &ev, sizeof(ev)) ? -EFAULT : 0;
	}
	if (copy_from_user(&ev, argp, sizeof(ev)))
		return -EFAULT;
	if (ev.flags || ev.pad || ev.pad2 || ev.int_shadow > 1 ||
	    ev.nmi_masked > 1)
		return -EINVAL;
	ret = vmx_vcpu_set_event_queue(vcpu, &ev);
	if (ret)
		return ret;
	return vmx_ops->set_events(vcpu, &ev);
}

static long vmx_vcpu_tsc_ioctl(struct vmx_vcpu *vcpu, unsigned int cmd,
			       void __user *argp)
{
	struct vmx_tsc_offset tsc = { };

	if (cmd == VMX_GET_TSC_OFFSET) {
		tsc.offset = vcpu->tsc_offset;
		return copy_to_user(argp, &tsc, sizeof(tsc)) ? -EFAULT : 0;
	}
	if (copy_from_user(&tsc, argp, sizeof(tsc)))
		return -EFAULT;
	if (tsc.flags || tsc.pad || !vmx_all_zero(tsc.reserved, sizeof(tsc.reserved)))
		return -EINVAL;
	vcpu->tsc_offset = tsc.offset;
	return 0;
}

/*
 * DR6 and DR7 as the CPU holds them: status and control bits as given,
 * the reserved ones at their fixed values (DR6 bits 4-10 and 17-31 one,
 * 12 zero; DR7 bit 10 one, 11-12 and 14-15 zero).
 */
#define VMX_DR6_VOLATILE	0x0001e80fULL	/* B0-3 BLD BD BS BT RTM */
#define VMX_DR6_FIXED1		0xfffe07f0ULL
#define VMX_DR7_VOLATILE	0xffff23ffULL
#define VMX_DR7_FIXED1		0x00000400ULL

static long vmx_vcpu_debugregs_ioctl(struct vmx_vcpu *vcpu, unsigned int cmd,
				     void __user *argp)
{
	struct vmx_debugregs dbg = { };

	if (cmd == VMX_GET_DEBUGREGS) {
		vmx_ops->get_debugregs(vcpu, &dbg);
		return copy_to_user(argp, &dbg, sizeof(dbg)) ? -EFAULT : 0;
	}
	if (copy_from_user(&dbg, argp, sizeof(dbg)))
		return -EFAULT;
	if (dbg.flags || dbg.pad || !vmx_all_zero(dbg.reserved, sizeof(dbg.reserved)))
		return -EINVAL;
	/* A VM entry (and MOV DR in the host) refuses the upper halves. */
	if (dbg.dr6 >> 32 || dbg.dr7 >> 32)
		return -EINVAL;
	dbg.dr6 = (dbg.dr6 & VMX_DR6_VOLATILE) | VMX_DR6_FIXED1;
	dbg.dr7 = (dbg.dr7 & VMX_DR7_VOLATILE) | VMX_DR7_FIXED1;
	vmx_ops->set_debugregs(vcpu, &dbg);
	return 0;
}

static long vmx_vcpu_dispatch(struct vmx_vcpu *vcpu, unsigned int cmd,
			      void __user *argp)
{
	switch (cmd) {
	case VMX_RUN:
		return vmx_vcpu_run(vcpu);
	case VMX_GET_REGS:
	case VMX_SET_REGS:
		return vmx_vcpu_regs_ioctl(vcpu, cmd, argp);
	case VMX_GET_SREGS:
	case VMX_SET_SREGS:
		return vmx_vcpu_sregs_ioctl(vcpu, cmd, argp);
	case VMX_GET_FPU:
	case VMX_SET_FPU:
		return vmx_vcpu_fpu_ioctl(vcpu, cmd, argp);
	case VMX_GET_MSRS:
		return vmx_vcpu_get_msrs(vcpu, argp);
	case VMX_SET_MSRS:
		return vmx_vcpu_set_msrs(vcpu, argp);
	case VMX_INJECT_EVENT:
		return vmx_vcpu_inject_ioctl(vcpu, argp);
	case VMX_GET_EVENTS:
	case VMX_SET_EVENTS:
		return vmx_vcpu_events_ioctl(vcpu, cmd, argp);
	case VMX_GET_TSC_OFFSET:
	case VMX_SET_TSC_OFFSET:
		return vmx_vcpu_tsc_ioctl(vcpu, cmd, argp);
	case VMX_GET_DEBUGREGS:
	case VMX_SET_DEBUGREGS:
		return vmx_vcpu_debugregs_ioctl(vcpu, cmd, argp);
	}
	return -ENOTTY;
}

static bool vmx_vcpu_cmd_known(unsigned int cmd)
{
	switch (cmd) {
	case VMX_RUN: case VMX_GET_REGS: case VMX_SET_REGS:
	case VMX_GET_SREGS: case VMX_SET_SREGS: case VMX_GET_FPU:
	case VMX_SET_FPU: case VMX_GET_MSRS: case VMX_SET_MSRS:
	case VMX_INJECT_EVENT: case VMX_GET_EVENTS: case VMX_SET_EVENTS:
	case VMX_GET_TSC_OFFSET: case VMX_SET_TSC_OFFSET:
	case VMX_GET_DEBUGREGS: case VMX_SET_DEBUGREGS:
		return true;
	}
	return false;
}

long vmx_vcpu_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct vmx_vcpu *vcpu = file->private_data;
	long ret;

	if (cmd != VMX_RUN && !vmx_vcpu_cmd_known(cmd))
		return -ENOTTY;
	if (!vmx_vm_owner_ok(vcpu->vm))
		return -EIO;
	/* One thread at a time per vCPU; a second one is told so. */
	if (!mutex_trylock(&vcpu->mutex))
		return -EBUSY;
	ret = vmx_vcpu_dispatch(vcpu, cmd, (void __user *)arg);
	mutex_unlock(&vcpu->mutex);
	return ret;
}
