// SPDX-License-Identifier: LGPL-2.1-or-later
/* libvmx: virtual machines. */
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"

int libvmx_vm_create(struct libvmx *vmx, uint32_t flags,
		     struct libvmx_vm **out)
{
	struct vmx_vm_create args = { .flags = flags };
	struct libvmx_vm *vm;
	int fd;

	if (!vmx || !out)
		return -EINVAL;
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;

	fd = lv_ioctl(vmx->fd, VMX_CREATE_VM, &args);
	if (fd < 0) {
		free(vm);
		return fd;
	}
	vm->vmx = vmx;
	vm->fd = fd;
	pthread_mutex_init(&vm->map_lock, NULL);
	*out = vm;
	return 0;
}

void libvmx_vm_destroy(struct libvmx_vm *vm)
{
	if (!vm)
		return;
	close(vm->fd);
	lv_vm_free_memory(vm);
	pthread_mutex_destroy(&vm->map_lock);
	free(vm);
}

int libvmx_vm_fd(const struct libvmx_vm *vm)
{
	return vm ? vm->fd : -EINVAL;
}

int libvmx_vm_get_info(struct libvmx_vm *vm, struct vmx_vm_info *info)
{
	if (!vm || !info)
		return -EINVAL;
	return lv_ioctl(vm->fd, VMX_VM_GET_INFO, info);
}
