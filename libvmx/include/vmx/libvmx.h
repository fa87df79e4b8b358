/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvmx: the user-space library for VMMs built on /dev/vmx.
 *
 * Conventions for every function below:
 *  - Functions returning int give 0 (or a non-negative value where said)
 *    on success and a negative errno value on failure; errno itself is
 *    left as the underlying system call set it.
 *  - The library never prints, exits or aborts on the caller's behalf.
 *  - Objects are opaque; each has a _fd() accessor for the raw ioctl
 *    interface in <linux/vmx.h>, which stays usable beside the library.
 *  - 64-bit Linux only, like the kernel ABI.
 */
#ifndef LIBVMX_H
#define LIBVMX_H

#include <stdint.h>
#include <linux/vmx.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An open /dev/vmx. */
struct libvmx;
/* A virtual machine. */
struct libvmx_vm;

/* Where the module's device node is expected. */
#define LIBVMX_DEVICE_PATH	"/dev/vmx"

/*
 * libvmx_open() - open /dev/vmx and check its API version.
 * @out: receives the handle on success.
 *
 * Errors: -ENOENT (module not loaded), -EACCES (no permission on the
 * device), -EPROTONOSUPPORT (the module speaks another API version),
 * -ENOMEM, or what open(2) gives.
 */
int libvmx_open(struct libvmx **out);

/* libvmx_close() - close a handle from libvmx_open(); VMs stay alive. */
void libvmx_close(struct libvmx *vmx);

/* libvmx_fd() - the /dev/vmx file descriptor of @vmx. */
int libvmx_fd(const struct libvmx *vmx);

/*
 * libvmx_get_caps() - what the module and the CPU offer.
 * Errors: -EFAULT (bad @caps), -EINVAL (NULL argument).
 */
int libvmx_get_caps(struct libvmx *vmx, struct vmx_caps *caps);

/*
 * libvmx_vm_create() - create a VM owned by the calling process.
 * @flags: VMX_CREATE_VM flags (none defined yet: pass 0).
 * @out: receives the VM on success.
 *
 * Errors: -EINVAL (unknown flags, NULL argument), -ENOMEM, -EMFILE.
 */
int libvmx_vm_create(struct libvmx *vmx, uint32_t flags,
		     struct libvmx_vm **out);

/*
 * libvmx_vm_destroy() - drop the library's VM handle and its fd.  The
 * kernel frees the VM once no other fd refers to it.
 */
void libvmx_vm_destroy(struct libvmx_vm *vm);

/* libvmx_vm_fd() - the VM file descriptor of @vm. */
int libvmx_vm_fd(const struct libvmx_vm *vm);

/*
 * libvmx_vm_get_info() - what the kernel reports for @vm.
 * Errors: -EINVAL (NULL argument), -EFAULT.
 */
int libvmx_vm_get_info(struct libvmx_vm *vm, struct vmx_vm_info *info);

#ifdef __cplusplus
}
#endif

#endif /* LIBVMX_H */
