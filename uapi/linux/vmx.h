/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * vmx: the user-space ABI of the vmx hypervisor module.
 *
 * This header is the whole contract between /dev/vmx and its users.
 *
 * Rules that hold for every ioctl:
 *  - 64-bit user space only.  All structures use fixed-width types and
 *    explicit padding, so their layout is the same for every compiler.
 *  - Every input structure has a flags word and reserved space.  Unknown
 *    flag bits, non-zero padding and non-zero reserved fields are refused
 *    with EINVAL, so that they can be given a meaning later.
 *  - Objects are file descriptors: /dev/vmx -> VM fd -> vCPU fd.  Closing
 *    the last descriptor of a VM (and of all its vCPUs) destroys it.
 *  - An ioctl number the object does not know gives ENOTTY.  An argument
 *    pointer that cannot be read or written gives EFAULT.
 */
#ifndef _UAPI_LINUX_VMX_H
#define _UAPI_LINUX_VMX_H

#include <linux/types.h>
#include <linux/ioctl.h>

/* Bumped only for incompatible changes; features are added as caps. */
#define VMX_API_VERSION		1

#define VMX_IOC_MAGIC		0xBE

/* Hardware backend the module drives (vmx_caps.backend). */
#define VMX_BACKEND_SVM		1	/* AMD SVM with nested paging */
#define VMX_BACKEND_INTEL	2	/* Intel VMX with EPT */

/* Feature bits reported in vmx_caps.features. */
#define VMX_FEAT_NESTED_PAGING	(1ULL << 0)	/* NPT or EPT in use */

/**
 * struct vmx_caps - what this module and CPU offer (VMX_GET_CAPS)
 * @flags:		reserved for output flags, currently 0
 * @backend:		one of VMX_BACKEND_*
 * @max_vcpus:		vCPUs a single VM may have
 * @max_memslots:	memory slots a single VM may have
 * @features:		VMX_FEAT_* bits
 * @nr_cpus_enabled:	host CPUs on which virtualization is switched on
 * @reserved:		zero
 */
struct vmx_caps {
	__u32 flags;
	__u32 backend;
	__u32 max_vcpus;
	__u32 max_memslots;
	__u64 features;
	__u32 nr_cpus_enabled;
	__u32 reserved32;
	__u64 reserved[4];
};

/**
 * struct vmx_vm_create - arguments of VMX_CREATE_VM
 * @flags:	none defined yet; must be 0
 * @pad:	must be 0
 * @reserved:	must be 0
 */
struct vmx_vm_create {
	__u32 flags;
	__u32 pad;
	__u64 reserved[3];
};

/*
 * ioctls on /dev/vmx
 *
 * VMX_GET_API_VERSION: returns VMX_API_VERSION.  The argument is ignored.
 *
 * VMX_GET_CAPS: fills struct vmx_caps.
 *	EFAULT	the structure cannot be written
 *
 * VMX_CREATE_VM: creates a VM owned by the calling process and returns a
 * new file descriptor for it (close-on-exec).
 *	EFAULT	the structure cannot be read
 *	EINVAL	unknown flags, non-zero pad or reserved fields
 *	ENOMEM	out of memory (VM memory is charged to the caller's cgroup)
 *	EMFILE	no free file descriptor
 */
#define VMX_GET_API_VERSION	_IO(VMX_IOC_MAGIC, 0x00)
#define VMX_GET_CAPS		_IOR(VMX_IOC_MAGIC, 0x01, struct vmx_caps)
#define VMX_CREATE_VM		_IOW(VMX_IOC_MAGIC, 0x02, struct vmx_vm_create)

/**
 * struct vmx_vm_info - what a VM fd describes (VMX_VM_GET_INFO)
 * @flags:	flags the VM was created with
 * @nr_vcpus:	vCPUs created so far
 * @id:		system-wide unique VM number, as in the module's log lines
 * @reserved:	zero
 */
struct vmx_vm_info {
	__u32 flags;
	__u32 nr_vcpus;
	__u64 id;
	__u64 reserved[4];
};

/*
 * ioctls on a VM fd
 *
 * VMX_VM_GET_INFO: fills struct vmx_vm_info.
 *	EFAULT	the structure cannot be written
 */
#define VMX_VM_GET_INFO		_IOR(VMX_IOC_MAGIC, 0x10, struct vmx_vm_info)

#endif /* _UAPI_LINUX_VMX_H */
