// SPDX-License-Identifier: GPL-2.0
/*
 * hvbench's KVM side: /dev/kvm directly (linux/kvm.h), no in-kernel
 * irqchip, so HLT reaches user space as on vmx.  MMIO is emulated by
 * KVM's in-kernel emulator and handed over as KVM_EXIT_MMIO; the
 * hypercall reaches user space through KVM_CAP_EXIT_HYPERCALL
 * (KVM_HC_MAP_GPA_RANGE), the one hypercall KVM forwards.  Mirrors
 * hv_vmx.c step for step.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "hv.h"

static int kvm_fd = -1;
static int run_size;
static bool hc_exits;

struct hv_vm {
	int fd;
};

struct hv_vcpu {
	int fd;
	struct kvm_run *run;
};

/* Hand KVM_HC_MAP_GPA_RANGE to user space, if this KVM can. */
static bool kvm_enable_hypercall_exits(int vm_fd)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_EXIT_HYPERCALL,
		.args[0] = 1ULL << HC_NR,
	};

	return ioctl(vm_fd, KVM_ENABLE_CAP, &cap) == 0;
}

static int kvm_open(void)
{
	int vm_fd;

	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0)
		return -errno;
	run_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size < 0)
		return -errno;
	/* A throw-away VM tells whether hypercalls can reach user space. */
	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm_fd < 0)
		return -errno;
	hc_exits = kvm_enable_hypercall_exits(vm_fd);
	close(vm_fd);
	return 0;
}

static int kvm_vm_create(struct hv_vm **out)
{
	struct hv_vm *vm = calloc(1, sizeof(*vm));

	if (!vm)
		return -ENOMEM;
	vm->fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm->fd < 0) {
		free(vm);
		return -errno;
	}
	if (hc_exits && !kvm_enable_hypercall_exits(vm->fd)) {
		close(vm->fd);
		free(vm);
		return -EIO;
	}
	*out = vm;
	return 0;
}

static int kvm_map(struct hv_vm *vm, uint32_t slot, uint64_t gpa,
		   uint64_t size, void *hva, bool dirty_log)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot, .guest_phys_addr = gpa, .memory_size = size,
		.userspace_addr = (uintptr_t)hva,
		.flags = dirty_log ? KVM_MEM_LOG_DIRTY_PAGES : 0,
	};

	return ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &r) ? -errno : 0;
}

static int kvm_dirty_log(struct hv_vm *vm, uint32_t slot, uint64_t *bitmap)
{
	struct kvm_dirty_log log = { .slot = slot, .dirty_bitmap = bitmap };

	return ioctl(vm->fd, KVM_GET_DIRTY_LOG, &log) ? -errno : 0;
}

static int kvm_vcpu_create(struct hv_vm *vm, uint32_t id, struct hv_vcpu **out)
{
	struct hv_vcpu *vcpu = calloc(1, sizeof(*vcpu));

	if (!vcpu)
		return -ENOMEM;
	vcpu->fd = ioctl(vm->fd, KVM_CREATE_VCPU, id);
	if (vcpu->fd < 0)
		goto fail;
	vcpu->run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		close(vcpu->fd);
		goto fail;
	}
	*out = vcpu;
	return 0;
fail:
	free(vcpu);
	return -errno;
}

static struct kvm_segment flat(uint16_t sel, uint8_t type)
{
	return (struct kvm_segment) {
		.limit = 0xffffffff, .selector = sel, .type = type,
		.s = 1, .present = 1, .db = 1, .g = 1,
	};
}

static int kvm_vcpu_start(struct hv_vcpu *vcpu, enum guest_work work,
			  uint32_t count)
{
	struct kvm_regs regs = {
		.rax = work, .rbp = count, .rip = GUEST_CODE,
		.rsp = GUEST_STACK, .rflags = 2,
	};
	struct kvm_sregs s;

	if (ioctl(vcpu->fd, KVM_GET_SREGS, &s))
		return -errno;
	s.cs = flat(0x08, 0xb);
	s.ds = s.es = s.fs = s.gs = s.ss = flat(0x10, 0x3);
	s.gdt.base = GUEST_GDT;
	s.gdt.limit = 3 * 8 - 1;
	s.cr0 = 0x11;		/* PE, ET */
	s.cr4 = 0;
	s.efer = 0;
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &s))
		return -errno;
	return ioctl(vcpu->fd, KVM_SET_REGS, &regs) ? -errno : 0;
}

/* No in-kernel irqchip: KVM_INTERRUPT queues a vector for the next run. */
static int kvm_inject_irq(struct hv_vcpu *vcpu)
{
	struct kvm_interrupt irq = { .irq = IRQ_VECTOR };

	return ioctl(vcpu->fd, KVM_INTERRUPT, &irq) ? -errno : 0;
}

/* One exit: 0 to run on, 1 at DONE_PORT, -EIO for anything unexpected. */
static int kvm_dispatch(struct hv_vcpu *vcpu, struct hv_exits *exits)
{
	struct kvm_run *run = vcpu->run;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		if (run->io.port == DONE_PORT)
			return 1;
		if (run->io.port == EOI_PORT)
			exits->irq++;
		else
			exits->pio++;
		return 0;
	case KVM_EXIT_MMIO:
		exits->mmio++;
		return 0;
	case KVM_EXIT_HYPERCALL:
		exits->hypercall++;
		run->hypercall.ret = 0;
		return 0;
	case KVM_EXIT_HLT:
		exits->hlt++;
		return run->if_flag ? kvm_inject_irq(vcpu) : 0;
	}
	return -EIO;
}

static int kvm_vcpu_run(struct hv_vcpu *vcpu, struct hv_exits *exits)
{
	int ret;

	do {
		if (ioctl(vcpu->fd, KVM_RUN, 0))
			return -errno;
		ret = kvm_dispatch(vcpu, exits);
	} while (!ret);
	return ret == 1 ? 0 : ret;
}

static bool kvm_hypercall_exits(void)
{
	return hc_exits;
}

static void kvm_vcpu_destroy(struct hv_vcpu *vcpu)
{
	munmap(vcpu->run, run_size);
	close(vcpu->fd);
	free(vcpu);
}

static void kvm_vm_destroy(struct hv_vm *vm)
{
	close(vm->fd);
	free(vm);
}

const struct hv_ops hv_kvm_ops = {
	.name = "kvm",
	.open = kvm_open,
	.vm_create = kvm_vm_create,
	.map = kvm_map,
	.dirty_log = kvm_dirty_log,
	.vcpu_create = kvm_vcpu_create,
	.vcpu_start = kvm_vcpu_start,
	.vcpu_run = kvm_vcpu_run,
	.vcpu_destroy = kvm_vcpu_destroy,
	.vm_destroy = kvm_vm_destroy,
	.hypercall_exits = kvm_hypercall_exits,
};
