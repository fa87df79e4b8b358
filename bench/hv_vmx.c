// SPDX-License-Identifier: GPL-2.0
/*
 * hvbench's vmx.ko side: /dev/vmx through libvmx, exits handled by
 * libvmx_vcpu_loop() (MMIO goes through its instruction assist, with the
 * registers synced in the run area where the module offers
 * VMX_FEAT_SYNC_REGS).  Mirrors hv_kvm.c step for step.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <vmx/libvmx.h>

#include "hv.h"

static struct libvmx *dev;

struct hv_vm {
	struct libvmx_vm *vm;
};

struct hv_vcpu {
	struct libvmx_vcpu *vcpu;
	struct hv_exits *exits;
};

static int vmx_open(void)
{
	return libvmx_open(&dev);
}

static int vmx_vm_create(struct hv_vm **out)
{
	struct hv_vm *vm = calloc(1, sizeof(*vm));
	int ret;

	if (!vm)
		return -ENOMEM;
	ret = libvmx_vm_create(dev, 0, &vm->vm);
	if (ret) {
		free(vm);
		return ret;
	}
	*out = vm;
	return 0;
}

static int vmx_map(struct hv_vm *vm, uint32_t slot, uint64_t gpa,
		   uint64_t size, void *hva, bool dirty_log)
{
	return libvmx_vm_map(vm->vm, slot, gpa, size,
			     dirty_log ? VMX_MEM_DIRTY_LOG : 0, hva);
}

static int vmx_dirty_log(struct hv_vm *vm, uint32_t slot, uint64_t *bitmap)
{
	return libvmx_vm_get_dirty_log(vm->vm, slot, bitmap);
}

static int vmx_vcpu_create(struct hv_vm *vm, uint32_t id, struct hv_vcpu **out)
{
	struct hv_vcpu *vcpu = calloc(1, sizeof(*vcpu));
	int ret;

	if (!vcpu)
		return -ENOMEM;
	ret = libvmx_vcpu_create(vm->vm, id, &vcpu->vcpu);
	if (ret) {
		free(vcpu);
		return ret;
	}
	*out = vcpu;
	return 0;
}

static struct vmx_segment flat(uint16_t sel, uint8_t type)
{
	return (struct vmx_segment) {
		.limit = 0xffffffff, .selector = sel, .type = type,
		.s = 1, .present = 1, .db = 1, .g = 1,
	};
}

static int vmx_vcpu_start(struct hv_vcpu *vcpu, enum guest_work work,
			  uint32_t count)
{
	struct vmx_regs regs = {
		.rax = work, .rbp = count, .rip = GUEST_CODE,
		.rsp = GUEST_STACK, .rflags = 2,
	};
	struct vmx_sregs s;
	int ret;

	ret = libvmx_vcpu_get_sregs(vcpu->vcpu, &s);
	if (ret)
		return ret;
	s.cs = flat(0x08, 0xb);
	s.ds = s.es = s.fs = s.gs = s.ss = flat(0x10, 0x3);
	s.gdt.base = GUEST_GDT;
	s.gdt.limit = 3 * 8 - 1;
	s.cr0 = 0x11;		/* PE, ET */
	s.cr4 = 0;
	s.efer = 0;
	ret = libvmx_vcpu_set_sregs(vcpu->vcpu, &s);
	return ret ? ret : libvmx_vcpu_set_regs(vcpu->vcpu, &regs);
}

static int vmx_on_pio(void *opaque, struct libvmx_vcpu *v, uint16_t port,
		      void *data, unsigned int size, bool is_out)
{
	struct hv_vcpu *vcpu = opaque;

	if (port == DONE_PORT)
		return 1;
	if (port == EOI_PORT)
		vcpu->exits->irq++;
	else
		vcpu->exits->pio++;
	return 0;
}

static int vmx_on_mmio(void *opaque, struct libvmx_vcpu *v, uint64_t gpa,
		       void *data, unsigned int size, bool is_write)
{
	struct hv_vcpu *vcpu = opaque;

	vcpu->exits->mmio++;
	return 0;
}

static int vmx_on_hypercall(void *opaque, struct libvmx_vcpu *v, uint64_t nr,
			    const uint64_t args[5], uint64_t *ret)
{
	struct hv_vcpu *vcpu = opaque;

	vcpu->exits->hypercall++;
	*ret = 0;
	return 0;
}

static int vmx_on_exit(void *opaque, struct libvmx_vcpu *v, struct vmx_run *run)
{
	struct hv_vcpu *vcpu = opaque;

	if (run->exit_reason != VMX_EXIT_HLT)
		return -EIO;
	vcpu->exits->hlt++;
	if (run->if_flag)
		return libvmx_vcpu_inject(v, VMX_EVENT_EXTINT, IRQ_VECTOR, 0, 0);
	return 0;
}

static const struct libvmx_exit_ops vmx_exit_ops = {
	.pio = vmx_on_pio, .mmio = vmx_on_mmio,
	.hypercall = vmx_on_hypercall, .exit = vmx_on_exit,
};

static int vmx_vcpu_run(struct hv_vcpu *vcpu, struct hv_exits *exits)
{
	int ret;

	vcpu->exits = exits;
	ret = libvmx_vcpu_loop(vcpu->vcpu, &vmx_exit_ops, vcpu);
	return ret == 1 ? 0 : ret < 0 ? ret : -EIO;
}

#define MMIO_INSN_LEN	5	/* a2 + moffs32 */

/* Past the guest's MMIO store, through the run area or the ioctls. */
static int vmx_skip_mmio(struct libvmx_vcpu *v, struct vmx_run *run, bool sync)
{
	struct vmx_regs regs;
	int ret;

	if (sync) {
		run->regs.rip += MMIO_INSN_LEN;
		run->sync_dirty |= VMX_SYNC_REGS;
		return 0;
	}
	ret = libvmx_vcpu_get_regs(v, &regs);
	if (ret)
		return ret;
	regs.rip += MMIO_INSN_LEN;
	return libvmx_vcpu_set_regs(v, &regs);
}

int hv_vmx_mmio_raw(struct hv_vcpu *vcpu, uint32_t count, uint32_t sync_want)
{
	struct vmx_run *run = libvmx_vcpu_run_area(vcpu->vcpu);
	uint32_t seen = 0;
	int ret;

	run->sync_want = sync_want;
	for (;;) {
		ret = libvmx_vcpu_run(vcpu->vcpu);
		if (ret)
			break;
		if (run->exit_reason == VMX_EXIT_IO && run->io.port == DONE_PORT)
			break;
		if (run->exit_reason != VMX_EXIT_MMIO) {
			ret = -EIO;
			break;
		}
		seen++;
		ret = vmx_skip_mmio(vcpu->vcpu, run, sync_want != 0);
		if (ret)
			break;
	}
	run->sync_want = 0;
	return ret ? ret : seen == count ? 0 : -EIO;
}

/* Every VMMCALL/VMCALL is a VMX_EXIT_HYPERCALL. */
static bool vmx_hypercall_exits(void)
{
	return true;
}

static void vmx_vcpu_destroy(struct hv_vcpu *vcpu)
{
	libvmx_vcpu_destroy(vcpu->vcpu);
	free(vcpu);
}

static void vmx_vm_destroy(struct hv_vm *vm)
{
	libvmx_vm_destroy(vm->vm);
	free(vm);
}

const struct hv_ops hv_vmx_ops = {
	.name = "vmx",
	.open = vmx_open,
	.vm_create = vmx_vm_create,
	.map = vmx_map,
	.dirty_log = vmx_dirty_log,
	.vcpu_create = vmx_vcpu_create,
	.vcpu_start = vmx_vcpu_start,
	.vcpu_run = vmx_vcpu_run,
	.vcpu_destroy = vmx_vcpu_destroy,
	.vm_destroy = vmx_vm_destroy,
	.hypercall_exits = vmx_hypercall_exits,
};
