/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hvbench: one interface over two hypervisors, so that every workload is
 * written once.  hv_vmx.c drives /dev/vmx through libvmx, hv_kvm.c drives
 * /dev/kvm directly; both do the same steps in the same order.
 */
#ifndef HVBENCH_HV_H
#define HVBENCH_HV_H

#include <stdbool.h>
#include <stdint.h>

/* Guest-physical layout, shared with guest.S. */
#define GUEST_GDT	0x0800
#define GUEST_CODE	0x1000
#define GUEST_STACK	0x8000
#define LOW_SIZE	0x100000	/* slot 0: GDT, code, stack */
#define BENCH_PORT	0x3f0
#define DONE_PORT	0x3f1
#define EOI_PORT	0x3f2		/* W_IRQ's handler acknowledges here */
#define IRQ_VECTOR	0x40		/* what the runners inject at W_IRQ's HLTs */
#define MMIO_GPA	0xd0000000ULL
#define TOUCH_GPA	0x01000000ULL
#define HC_NR		12

/* Workload numbers: guest.S's table. */
enum guest_work {
	W_EMPTY, W_CPUID, W_VMMCALL, W_VMCALL, W_PIO, W_MMIO, W_HLT, W_TOUCH,
	W_IRQ,
};

/*
 * What one run to DONE_PORT saw on the way, by kind.  A HLT with the
 * guest's interrupts on gets IRQ_VECTOR injected (W_IRQ); @irq counts the
 * handler's acknowledgements at EOI_PORT.
 */
struct hv_exits {
	uint64_t pio, mmio, hypercall, hlt, irq;
};

struct hv_vm;
struct hv_vcpu;

struct hv_ops {
	const char *name;
	/* Open the device; -errno. */
	int (*open)(void);
	int (*vm_create)(struct hv_vm **out);
	/* Map @hva at @gpa as @slot; @dirty_log: track writes. */
	int (*map)(struct hv_vm *vm, uint32_t slot, uint64_t gpa,
		   uint64_t size, void *hva, bool dirty_log);
	/* Fetch and clear @slot's dirty bitmap (one bit per page). */
	int (*dirty_log)(struct hv_vm *vm, uint32_t slot, uint64_t *bitmap);
	int (*vcpu_create)(struct hv_vm *vm, uint32_t id, struct hv_vcpu **out);
	/* Flat 32-bit protected mode at GUEST_CODE, EAX = @work, EBP = @count. */
	int (*vcpu_start)(struct hv_vcpu *vcpu, enum guest_work work,
			  uint32_t count);
	/* Run until the guest's OUT to DONE_PORT; 0 or -errno. */
	int (*vcpu_run)(struct hv_vcpu *vcpu, struct hv_exits *exits);
	void (*vcpu_destroy)(struct hv_vcpu *vcpu);
	void (*vm_destroy)(struct hv_vm *vm);
	/* Whether hypercall HC_NR reaches user space (known after a VM). */
	bool (*hypercall_exits)(void);
};

/*
 * Profile only (hvbench -p): @count MMIO exits of W_MMIO with the guest's
 * "movb %al, MMIO_GPA" (5 bytes) skipped by hand instead of by libvmx's
 * assist; @sync_want: vmx_run.sync_want, RIP through the run area, or 0:
 * through VMX_GET/SET_REGS.
 */
int hv_vmx_mmio_raw(struct hv_vcpu *vcpu, uint32_t count, uint32_t sync_want);

extern const struct hv_ops hv_vmx_ops;
extern const struct hv_ops hv_kvm_ops;

/* The flat code and data descriptors the runners load (GDT entries 1, 2). */
#define GDT_CODE32	0x00cf9a000000ffffULL
#define GDT_DATA32	0x00cf92000000ffffULL

#endif
