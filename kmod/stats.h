/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-vCPU statistics and the list of VMs the "vmx" generic netlink
 * family reports (netlink.c, uapi/linux/vmx_stats.h).
 *
 * The counters live in struct vmx_vcpu.stat: only the vCPU thread writes
 * them, with plain increments on the exit path; readers (netlink dumps)
 * use READ_ONCE and may see values a few exits old.
 */
#ifndef VMX_STATS_H
#define VMX_STATS_H

#include <linux/math64.h>
#include <linux/sched/clock.h>
#include <asm/msr.h>

#include "core.h"
#include <uapi/linux/vmx_stats.h>

#include <linux/list.h>
#include <linux/uidgid.h>

struct pid;

/* Count one exit of neutral kind @kind (VMX_STATS_EXIT_*). */
static inline void vmx_stat_exit(struct vmx_vcpu *vcpu,
				 enum vmx_stats_exit_kind kind)
{
	vcpu->stat.exit_kind[kind]++;
}

/*
 * A nested page fault that turned out to be MMIO: the backend counted it
 * as VMX_STATS_EXIT_NPF at dispatch, before the core looked at the slots.
 */
static inline void vmx_stat_exit_mmio(struct vmx_vcpu *vcpu)
{
	vcpu->stat.exit_kind[VMX_STATS_EXIT_NPF]--;
	vcpu->stat.exit_kind[VMX_STATS_EXIT_MMIO]++;
}

/*
 * The clock of the guest-time counter: the TSC, turned into ns by a
 * multiply and a shift at each exit.  local_clock() on both sides of
 * every world switch cost 163 instructions per exit on the svm rig and
 * 61 on Bochs (bench, CPUID exit; the rigs' kernels run with
 * tsc=unstable, where it takes sched_clock's slow path).  On a CPU
 * whose TSC rate changes with its clock (no invariant TSC: rare on CPUs
 * with VMX/SVM) the figure follows that rate.  local_clock() only where
 * the kernel knows no TSC rate.
 */
struct vmx_guest_clock {
	bool tsc;
	u32 mult;
	u32 shift;
};

extern struct vmx_guest_clock vmx_guest_clock;
void vmx_guest_clock_init(void);

static inline u64 vmx_guest_clock_now(void)
{
	return likely(vmx_guest_clock.tsc) ? rdtsc() : local_clock();
}

/* Around the world switch, with interrupts off: time in the guest. */
static inline void vmx_stat_guest_enter(struct vmx_vcpu *vcpu)
{
	vcpu->stat.entered_at = vmx_guest_clock_now();
}

static inline void vmx_stat_guest_exit(struct vmx_vcpu *vcpu)
{
	u64 delta = vmx_guest_clock_now() - vcpu->stat.entered_at;

	if (likely(vmx_guest_clock.tsc))
		delta = mul_u64_u32_shr(delta, vmx_guest_clock.mult,
					vmx_guest_clock.shift);
	vcpu->stat.guest_ns += delta;
}

/* The event queue slot that went into the hardware (enum vmx_injected). */
void vmx_stat_injected(struct vmx_vcpu *vcpu, int injected);

/* End of one VMX_RUN call with result @ret. */
void vmx_stat_run(struct vmx_vcpu *vcpu, int ret);

/* VM list: vm.c links a VM once it is complete, unlinks it when freed. */
int vmx_stats_vm_link(struct vmx_vm *vm);
void vmx_stats_vm_unlink(struct vmx_vm *vm);

/*
 * struct vmx_stats_vm - a live VM on the statistics list (stats.c)
 * @vm:		valid while the record is listed (see stats.c)
 * @pid:	creating process (thread group), referenced
 * @uid:	its effective uid: the VM's owner for readers
 * @created_ns:	CLOCK_REALTIME at creation
 */
struct vmx_stats_vm {
	struct list_head node;
	struct vmx_vm *vm;
	u64 id;
	struct pid *pid;
	kuid_t uid;
	u64 created_ns;
};

void vmx_stats_lock_list(void);
void vmx_stats_unlock_list(void);
struct vmx_stats_vm *vmx_stats_vm_find(u64 min_id);
void vmx_stats_vcpu_add(const struct vmx_vcpu *vcpu, struct vmx_vcpu_stat *sum);
u64 vmx_stats_vm_mem_bytes(struct vmx_vm *vm);

/* Backends: map a hardware exit code to its neutral kind and count it. */
void svm_stat_exit(struct vmx_vcpu *vcpu, u32 code);
void vtx_stat_exit(struct vmx_vcpu *vcpu, u32 reason);

/* netlink.c */
int vmx_netlink_init(void);
void vmx_netlink_exit(void);
void vmx_netlink_vm_event(u8 cmd, u64 vm_id, u32 pid);

#endif /* VMX_STATS_H */
