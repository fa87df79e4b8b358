/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Generic core of the vmx hypervisor: state shared by its files.
 */
#ifndef VMX_CORE_H
#define VMX_CORE_H

#include <linux/types.h>
#include <linux/atomic.h>
#include <linux/mm_types.h>
#include <linux/fs.h>
#include <uapi/linux/vmx.h>

#include "backend.h"

#define VMX_MAX_VCPUS		256
#define VMX_MAX_MEMSLOTS	4096

/* The backend chosen at load; constant while the module is loaded. */
extern const struct vmx_backend_ops *vmx_ops;

/*
 * struct vmx_vm - one virtual machine
 *
 * Lifetime: created by VMX_CREATE_VM; the VM file holds the first
 * reference and every later object (vCPU files) takes one more.  The
 * last vmx_vm_put() frees it.  Each open VM file also pins this module
 * (fops.owner), which is what makes rmmod fail while a VM exists.
 *
 * @mm:		the creating process's address space (mmgrab()ed); only
 *		a caller with the same mm may run the VM
 * @id:		unique number for log lines and VMX_VM_GET_INFO
 * @flags:	VMX_CREATE_VM flags
 */
struct vmx_vm {
	refcount_t refs;
	struct mm_struct *mm;
	u64 id;
	u32 flags;
};

struct vmx_vm *vmx_vm_create(const struct vmx_vm_create *args);
void vmx_vm_put(struct vmx_vm *vm);
long vmx_vm_ioctl(struct file *file, unsigned int cmd, unsigned long arg);

extern const struct file_operations vmx_vm_fops;

long vmx_dev_ioctl(struct file *file, unsigned int cmd, unsigned long arg);

/* Host CPUs with virtualization on (cpu_enable succeeded). */
unsigned int vmx_nr_cpus_enabled(void);

#endif /* VMX_CORE_H */
