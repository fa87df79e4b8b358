// SPDX-License-Identifier: GPL-2.0
/*
 * Statistics: the per-vCPU counters the run loop keeps, and the list of
 * live VMs with what an operator wants to know about them.  netlink.c
 * reports both.
 *
 * Lifetime: a VM is on the list from the end of vmx_vm_create() until
 * vmx_vm_free() starts, and vmx_stats_lock covers both moves.  Whoever
 * holds the lock may therefore read a listed VM and its vCPUs without a
 * reference: neither can be freed before it is unlinked.
 */
#include <linux/clocksource.h>
#include <linux/cred.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>

#include <asm/tsc.h>

#include "core.h"

struct vmx_guest_clock vmx_guest_clock;

void vmx_guest_clock_init(void)
{
	if (!tsc_khz)
		return;
	/*
	 * ns = cycles * 10^6 / tsc_khz.  mul_u64_u32_shr() keeps the whole
	 * product, so a long stay in the guest cannot overflow it; the
	 * short range asked for here only buys precision.
	 */
	clocks_calc_mult_shift(&vmx_guest_clock.mult, &vmx_guest_clock.shift,
			       tsc_khz, USEC_PER_SEC, 1);
	vmx_guest_clock.tsc = true;
}

static LIST_HEAD(vmx_stats_vms);	/* sorted by id */
static DEFINE_MUTEX(vmx_stats_lock);	/* protects vmx_stats_vms */

void vmx_stat_injected(struct vmx_vcpu *vcpu, int injected)
{
	static const u8 kind[] = {
		[VMX_INJECTED_EXCEPTION]	= VMX_STATS_INJ_EXCEPTION,
		[VMX_INJECTED_INTERRUPTED]	= VMX_STATS_INJ_REDELIVERED,
		[VMX_INJECTED_NMI]		= VMX_STATS_INJ_NMI,
		[VMX_INJECTED_IRQ]		= VMX_STATS_INJ_IRQ,
	};

	if (injected > 0 && injected < ARRAY_SIZE(kind))
		vcpu->stat.injected[kind[injected]]++;
}

/*
 * A VMX_RUN call ends.  It reached user space with an exit reason when
 * it returned 0 or EINTR (signal, immediate_exit); other errors and a
 * transparent restart (ERESTARTNOINTR) carry none.
 */
void vmx_stat_run(struct vmx_vcpu *vcpu, int ret)
{
	u32 reason = vcpu->run->exit_reason;

	vcpu->stat.runs++;
	if (ret != 0 && ret != -EINTR)
		return;
	vcpu->stat.exits_to_user++;
	if (reason && reason <= VMX_STATS_USER_EXIT_MAX)
		vcpu->stat.user_exit[reason]++;
}

/* A lockless copy of one vCPU's counters, added to @sum. */
void vmx_stats_vcpu_add(const struct vmx_vcpu *vcpu, struct vmx_vcpu_stat *sum)
{
	const u64 *src = (const u64 *)&vcpu->stat;
	u64 *dst = (u64 *)sum;
	size_t i;

	BUILD_BUG_ON(sizeof(*sum) % sizeof(u64));
	for (i = 0; i < sizeof(*sum) / sizeof(u64); i++)
		dst[i] += READ_ONCE(src[i]);
}

/* Bytes of guest memory in @vm's slots. */
u64 vmx_stats_vm_mem_bytes(struct vmx_vm *vm)
{
	struct vmx_slots *slots;
	u64 bytes = 0;
	u32 i;

	rcu_read_lock();
	slots = rcu_dereference(vm->slots);
	for (i = 0; slots && i < slots->nr; i++)
		bytes += slots->slots[i]->npages << PAGE_SHIFT;
	rcu_read_unlock();
	return bytes;
}

void vmx_stats_lock_list(void)
{
	mutex_lock(&vmx_stats_lock);
}

void vmx_stats_unlock_list(void)
{
	mutex_unlock(&vmx_stats_lock);
}

/* The listed VM with the smallest id >= @min_id; list lock held. */
struct vmx_stats_vm *vmx_stats_vm_find(u64 min_id)
{
	struct vmx_stats_vm *rec;

	lockdep_assert_held(&vmx_stats_lock);
	list_for_each_entry(rec, &vmx_stats_vms, node)
		if (rec->id >= min_id)
			return rec;
	return NULL;
}

int vmx_stats_vm_link(struct vmx_vm *vm)
{
	struct vmx_stats_vm *rec, *pos;

	rec = kzalloc(sizeof(*rec), GFP_KERNEL_ACCOUNT);
	if (!rec)
		return -ENOMEM;
	rec->vm = vm;
	rec->id = vm->id;
	rec->pid = get_task_pid(current, PIDTYPE_TGID);
	rec->uid = current_euid();
	rec->created_ns = ktime_get_real_ns();

	/* Ids grow, but two creators may race here: keep the list sorted. */
	mutex_lock(&vmx_stats_lock);
	list_for_each_entry_reverse(pos, &vmx_stats_vms, node)
		if (pos->id < rec->id)
			break;
	list_add(&rec->node, &pos->node);
	mutex_unlock(&vmx_stats_lock);

	vmx_netlink_vm_event(VMX_STATS_CMD_VM_CREATED, rec->id,
			     pid_nr(rec->pid));
	return 0;
}

/* Called as the VM is freed; a VM whose link failed is not listed. */
void vmx_stats_vm_unlink(struct vmx_vm *vm)
{
	struct vmx_stats_vm *rec, *found = NULL;

	mutex_lock(&vmx_stats_lock);
	list_for_each_entry(rec, &vmx_stats_vms, node) {
		if (rec->vm == vm) {
			found = rec;
			list_del(&rec->node);
			break;
		}
	}
	mutex_unlock(&vmx_stats_lock);
	if (!found)
		return;

	vmx_netlink_vm_event(VMX_STATS_CMD_VM_DESTROYED, found->id,
			     pid_nr(found->pid));
	put_pid(found->pid);
	kfree(found);
}
