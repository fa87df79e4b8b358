// SPDX-License-Identifier: LGPL-2.1-or-later
/* libvmx: vCPUs and their register state. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

static bool lv_has_sync_regs(struct libvmx_vm *vm)
{
	struct vmx_caps caps;

	return lv_ioctl(vm->vmx->fd, VMX_GET_CAPS, &caps) == 0 &&
	       (caps.features & VMX_FEAT_SYNC_REGS);
}

int libvmx_vcpu_create(struct libvmx_vm *vm, uint32_t id,
		       struct libvmx_vcpu **out)
{
	struct vmx_vcpu_create args = { .id = id };
	struct libvmx_vcpu *vcpu;
	int fd;

	if (!vm || !out)
		return -EINVAL;
	vcpu = calloc(1, sizeof(*vcpu));
	if (!vcpu)
		return -ENOMEM;
	fd = lv_ioctl(vm->fd, VMX_CREATE_VCPU, &args);
	if (fd < 0) {
		free(vcpu);
		return fd;
	}
	vcpu->run = mmap(NULL, VMX_RUN_AREA_SIZE, PROT_READ | PROT_WRITE,
			 MAP_SHARED, fd, 0);
	if (vcpu->run == MAP_FAILED) {
		int ret = -errno;

		close(fd);
		free(vcpu);
		return ret;
	}
	vcpu->vm = vm;
	vcpu->fd = fd;
	vcpu->id = id;
	vcpu->sync = lv_has_sync_regs(vm);
	*out = vcpu;
	return 0;
}

void libvmx_vcpu_destroy(struct libvmx_vcpu *vcpu)
{
	if (!vcpu)
		return;
	munmap(vcpu->run, VMX_RUN_AREA_SIZE);
	close(vcpu->fd);
	free(vcpu);
}

int libvmx_vcpu_fd(const struct libvmx_vcpu *vcpu)
{
	return vcpu ? vcpu->fd : -EINVAL;
}

uint32_t libvmx_vcpu_id(const struct libvmx_vcpu *vcpu)
{
	return vcpu ? vcpu->id : UINT32_MAX;
}

struct libvmx_vm *libvmx_vcpu_vm(const struct libvmx_vcpu *vcpu)
{
	return vcpu ? vcpu->vm : NULL;
}

struct vmx_run *libvmx_vcpu_run_area(struct libvmx_vcpu *vcpu)
{
	return vcpu ? vcpu->run : NULL;
}

int libvmx_vcpu_run(struct libvmx_vcpu *vcpu)
{
	if (!vcpu)
		return -EINVAL;
	return lv_ioctl(vcpu->fd, VMX_RUN, NULL);
}

#define LV_VCPU_IOCTL(name, req, type)					\
int libvmx_vcpu_##name(struct libvmx_vcpu *vcpu, type arg)		\
{									\
	if (!vcpu || !arg)						\
		return -EINVAL;						\
	return lv_ioctl(vcpu->fd, req, (void *)arg);			\
}

/*
 * Register reads come from the run area when the module stored them
 * there at the last exit (or the library left a change there for the
 * next run); otherwise from the ioctl.  Writes are ioctls, which also
 * void the run-area copy in the kernel.
 */
static bool lv_sync_has(struct libvmx_vcpu *vcpu, uint32_t bit)
{
	struct vmx_run *run = vcpu->run;

	return vcpu->sync && ((run->sync_valid | run->sync_dirty) & bit);
}

int libvmx_vcpu_get_regs(struct libvmx_vcpu *vcpu, struct vmx_regs *regs)
{
	if (!vcpu || !regs)
		return -EINVAL;
	if (lv_sync_has(vcpu, VMX_SYNC_REGS)) {
		*regs = vcpu->run->regs;
		return 0;
	}
	return lv_ioctl(vcpu->fd, VMX_GET_REGS, regs);
}

int libvmx_vcpu_get_sregs(struct libvmx_vcpu *vcpu, struct vmx_sregs *sregs)
{
	if (!vcpu || !sregs)
		return -EINVAL;
	if (lv_sync_has(vcpu, VMX_SYNC_SREGS)) {
		*sregs = vcpu->run->sregs;
		return 0;
	}
	return lv_ioctl(vcpu->fd, VMX_GET_SREGS, sregs);
}

/*
 * The library's own write-back after an assisted instruction: into the
 * run area, loaded by the next VMX_RUN, so that completing an MMIO or
 * string I/O exit costs no ioctl.
 */
void lv_vcpu_put_regs(struct libvmx_vcpu *vcpu, const struct vmx_regs *regs)
{
	struct vmx_run *run = vcpu->run;

	run->regs = *regs;
	run->sync_dirty |= VMX_SYNC_REGS;
}

LV_VCPU_IOCTL(set_regs, VMX_SET_REGS, const struct vmx_regs *)
LV_VCPU_IOCTL(set_sregs, VMX_SET_SREGS, const struct vmx_sregs *)
LV_VCPU_IOCTL(get_fpu, VMX_GET_FPU, struct vmx_fpu *)
LV_VCPU_IOCTL(set_fpu, VMX_SET_FPU, const struct vmx_fpu *)
LV_VCPU_IOCTL(get_debugregs, VMX_GET_DEBUGREGS, struct vmx_debugregs *)
LV_VCPU_IOCTL(set_debugregs, VMX_SET_DEBUGREGS, const struct vmx_debugregs *)

struct lv_one_msr {
	struct vmx_msrs hdr;
	struct vmx_msr_data entry;
};

int libvmx_vcpu_get_msr(struct libvmx_vcpu *vcpu, uint32_t index,
			uint64_t *value)
{
	struct lv_one_msr m = { .hdr.nmsrs = 1, .entry.index = index };
	int ret;

	if (!vcpu || !value)
		return -EINVAL;
	ret = lv_ioctl(vcpu->fd, VMX_GET_MSRS, &m);
	if (ret < 0)
		return ret;
	if (ret != 1)
		return -ENOENT;
	*value = m.entry.data;
	return 0;
}

int libvmx_vcpu_set_msr(struct libvmx_vcpu *vcpu, uint32_t index,
			uint64_t value)
{
	struct lv_one_msr m = {
		.hdr.nmsrs = 1, .entry.index = index, .entry.data = value,
	};
	int ret;

	if (!vcpu)
		return -EINVAL;
	ret = lv_ioctl(vcpu->fd, VMX_SET_MSRS, &m);
	if (ret < 0)
		return ret;
	return ret == 1 ? 0 : -ENOENT;
}

int libvmx_vcpu_inject(struct libvmx_vcpu *vcpu, uint32_t type,
		       uint32_t vector, int has_error, uint32_t error_code)
{
	struct vmx_event ev = {
		.type = type, .vector = vector, .error_code = error_code,
		.flags = has_error ? VMX_EVENT_HAS_ERROR_CODE : 0,
	};

	if (!vcpu)
		return -EINVAL;
	return lv_ioctl(vcpu->fd, VMX_INJECT_EVENT, &ev);
}
