// SPDX-License-Identifier: GPL-2.0
/*
 * Memory slots: guest-physical ranges backed by the VMM's memory.
 *
 * The slot array is copied on every change and published with RCU, so
 * the nested-fault path looks slots up without a lock.  A change that
 * removes, moves or re-flags a slot publishes the new array and zaps the
 * old range from the nested page table in one step under the MMU lock
 * (which also makes racing faults retry); the old slot is freed after a
 * grace period.
 */
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "core.h"

static unsigned long vmx_dirty_bitmap_bytes(u64 npages)
{
	return DIV_ROUND_UP(npages, 64) * sizeof(u64);
}

/* Binary search over the sorted array; NULL if @gfn is in no slot. */
struct vmx_slot *vmx_slot_find(struct vmx_slots *slots, u64 gfn)
{
	u32 lo = 0, hi;

	if (!slots)
		return NULL;
	hi = slots->nr;
	while (lo < hi) {
		u32 mid = lo + (hi - lo) / 2;
		struct vmx_slot *s = slots->slots[mid];

		if (gfn < s->base_gfn)
			hi = mid;
		else if (gfn >= s->base_gfn + s->npages)
			lo = mid + 1;
		else
			return s;
	}
	return NULL;
}

static struct vmx_slot *vmx_slot_by_id(struct vmx_slots *slots, u32 id,
				       u32 *index)
{
	u32 i;

	for (i = 0; slots && i < slots->nr; i++) {
		if (slots->slots[i]->id == id) {
			*index = i;
			return slots->slots[i];
		}
	}
	return NULL;
}

static bool vmx_slot_overlaps(struct vmx_slots *slots, u64 gfn, u64 npages,
			      u32 except_id)
{
	u32 i;

	for (i = 0; slots && i < slots->nr; i++) {
		struct vmx_slot *s = slots->slots[i];

		if (s->id != except_id && gfn < s->base_gfn + s->npages &&
		    s->base_gfn < gfn + npages)
			return true;
	}
	return false;
}

/*
 * A copy of @old with @remove left out and @add (if any) inserted at its
 * place in the order of base_gfn.
 */
static struct vmx_slots *vmx_slots_copy(struct vmx_slots *old,
					struct vmx_slot *remove,
					struct vmx_slot *add)
{
	u32 nr_old = old ? old->nr : 0, i, n = 0;
	struct vmx_slots *new;

	new = kvzalloc(struct_size(new, slots, nr_old + 1), GFP_KERNEL_ACCOUNT);
	if (!new)
		return NULL;
	for (i = 0; i < nr_old; i++) {
		struct vmx_slot *s = old->slots[i];

		if (s == remove)
			continue;
		if (add && add->base_gfn < s->base_gfn) {
			new->slots[n++] = add;
			add = NULL;
		}
		new->slots[n++] = s;
	}
	if (add)
		new->slots[n++] = add;
	new->nr = n;
	return new;
}

static int vmx_slot_check(const struct vmx_memslot *req)
{
	u64 end;

	if (req->slot >= VMX_MAX_MEMSLOTS || req->flags & ~VMX_MEM_VALID_FLAGS ||
	    !vmx_all_zero(req->reserved, sizeof(req->reserved)))
		return -EINVAL;
	if (!req->size)
		return 0;
	/* Bounds the dirty bitmap and the harvest (see the uapi header). */
	if (req->size > VMX_MEM_MAX_SLOT_SIZE)
		return -EINVAL;
	if (!PAGE_ALIGNED(req->guest_phys) || !PAGE_ALIGNED(req->size) ||
	    !PAGE_ALIGNED(req->user_addr))
		return -EINVAL;
	if (check_add_overflow(req->guest_phys, req->size, &end) ||
	    end > (1ULL << VMX_MAX_GPA_BITS))
		return -EINVAL;
	/* The whole range must be user addresses (not necessarily mapped). */
	if (req->user_addr + req->size < req->user_addr ||
	    !access_ok((void __user *)(unsigned long)req->user_addr, req->size))
		return -EFAULT;
	return 0;
}

static void vmx_slot_free(struct vmx_slot *slot)
{
	if (!slot)
		return;
	kvfree(slot->dirty_bitmap);
	kfree(slot);
}

static void vmx_slot_free_rcu(struct rcu_head *head)
{
	vmx_slot_free(container_of(head, struct vmx_slot, rcu));
}

/*
 * Publish @new and zap what @gone mapped in one step (see
 * vmx_mmu_publish_slots()), then retire the old array and @gone once no
 * reader sees them.  Nothing waits for the grace period: a VMM may
 * change thousands of slots in a row.  (The module's exit waits for the
 * callbacks.)
 */
static void vmx_slots_publish(struct vmx_vm *vm, struct vmx_slots *new,
			      struct vmx_slot *gone)
{
	struct vmx_slots *old = rcu_dereference_protected(vm->slots,
						lockdep_is_held(&vm->lock));

	if (gone)
		vmx_mmu_publish_slots(vm, new, gone->base_gfn,
				      gone->base_gfn + gone->npages);
	else
		vmx_mmu_publish_slots(vm, new, 0, 0);
	if (gone)
		call_rcu(&gone->rcu, vmx_slot_free_rcu);
	if (old)
		kvfree_rcu(old, rcu);
}

static int vmx_slot_delete(struct vmx_vm *vm, u32 id)
{
	struct vmx_slots *old = rcu_dereference_protected(vm->slots,
						lockdep_is_held(&vm->lock));
	struct vmx_slots *new;
	struct vmx_slot *slot;
	u32 index;

	slot = vmx_slot_by_id(old, id, &index);
	if (!slot)
		return -ENOENT;
	new = vmx_slots_copy(old, slot, NULL);
	if (!new)
		return -ENOMEM;
	vmx_slots_publish(vm, new, slot);
	return 0;
}

int vmx_slot_set(struct vmx_vm *vm, const struct vmx_memslot *req)
{
	struct vmx_slot *slot, *old_slot;
	struct vmx_slots *old, *new;
	u64 npages = req->size >> PAGE_SHIFT;
	u64 gfn = req->guest_phys >> PAGE_SHIFT;
	u32 index;
	int ret;

	ret = vmx_slot_check(req);
	if (ret)
		return ret;

	mutex_lock(&vm->lock);
	if (!req->size) {
		ret = vmx_slot_delete(vm, req->slot);
		goto out_unlock;
	}

	old = rcu_dereference_protected(vm->slots, lockdep_is_held(&vm->lock));
	old_slot = vmx_slot_by_id(old, req->slot, &index);
	/* An existing slot may move or change flags, nothing else. */
	if (old_slot && (old_slot->npages != npages ||
			 old_slot->user_addr != req->user_addr)) {
		ret = -EINVAL;
		goto out_unlock;
	}
	if (vmx_slot_overlaps(old, gfn, npages, req->slot)) {
		ret = -EEXIST;
		goto out_unlock;
	}

	ret = -ENOMEM;
	slot = kzalloc(sizeof(*slot), GFP_KERNEL_ACCOUNT);
	if (!slot)
		goto out_unlock;
	*slot = (struct vmx_slot) {
		.base_gfn = gfn, .npages = npages, .user_addr = req->user_addr,
		.id = req->slot, .flags = req->flags,
	};
	if (req->flags & VMX_MEM_DIRTY_LOG) {
		slot->dirty_bitmap = kvzalloc(vmx_dirty_bitmap_bytes(npages),
					      GFP_KERNEL_ACCOUNT);
		if (!slot->dirty_bitmap) {
			kfree(slot);
			goto out_unlock;
		}
	}
	new = vmx_slots_copy(old, old_slot, slot);
	if (!new) {
		vmx_slot_free(slot);
		goto out_unlock;
	}
	/*
	 * Any change of an existing slot zaps its old range: a move maps
	 * other addresses, new flags need pages write-protected again.
	 */
	vmx_slots_publish(vm, new, old_slot);
	ret = 0;
out_unlock:
	mutex_unlock(&vm->lock);
	return ret;
}

void vmx_slot_mark_dirty(struct vmx_slot *slot, u64 gfn)
{
	if (slot->dirty_bitmap)
		set_bit(gfn - slot->base_gfn, slot->dirty_bitmap);
}

/*
 * The VMM did not get @bits: set them again, so that the next harvest
 * reports them (extra bits are harmless, lost ones are not).
 */
static void vmx_slot_restore_dirty(struct vmx_slot *slot,
				   const unsigned long *bits,
				   unsigned long longs)
{
	unsigned long i;

	for (i = 0; i < longs; i++) {
		if (bits[i])
			atomic_long_or(bits[i],
				       (atomic_long_t *)&slot->dirty_bitmap[i]);
		if (!(i % 4096))
			cond_resched();
	}
}

int vmx_slot_get_dirty_log(struct vmx_vm *vm, const struct vmx_dirty_log *req)
{
	void __user *ubitmap = u64_to_user_ptr(req->bitmap);
	unsigned long bytes, *copy;
	struct vmx_slots *slots;
	struct vmx_slot *slot;
	u32 index;
	int ret;

	if (req->flags || !vmx_all_zero(req->reserved, sizeof(req->reserved)))
		return -EINVAL;

	mutex_lock(&vm->lock);
	slots = rcu_dereference_protected(vm->slots, lockdep_is_held(&vm->lock));
	slot = vmx_slot_by_id(slots, req->slot, &index);
	ret = -ENOENT;
	if (!slot)
		goto out_unlock;
	ret = -EINVAL;
	if (!slot->dirty_bitmap)
		goto out_unlock;

	bytes = vmx_dirty_bitmap_bytes(slot->npages);
	ret = -ENOMEM;
	copy = kvmalloc(bytes, GFP_KERNEL_ACCOUNT);
	if (!copy)
		goto out_unlock;
	/* Write-protect again: the next write to any page faults and logs. */
	vmx_mmu_harvest_dirty(vm, slot, copy, bytes / sizeof(long));
	ret = 0;
	if (copy_to_user(ubitmap, copy, bytes)) {
		vmx_slot_restore_dirty(slot, copy, bytes / sizeof(long));
		ret = -EFAULT;
	}
	kvfree(copy);
out_unlock:
	mutex_unlock(&vm->lock);
	return ret;
}

void vmx_slots_free(struct vmx_vm *vm)
{
	struct vmx_slots *slots = rcu_dereference_protected(vm->slots, true);
	u32 i;

	for (i = 0; slots && i < slots->nr; i++)
		vmx_slot_free(slots->slots[i]);
	kvfree(slots);
}

/*
 * Copy guest-physical memory of one slot (within a page) through the
 * VMM's mapping, in the VMM's own context: for the few reads a backend
 * makes of guest RAM (PAE PDPTEs, one instruction without decode
 * assists).  May fault and sleep.  -EFAULT outside RAM.
 */
int vmx_read_guest_phys(struct vmx_vcpu *vcpu, u64 gpa, void *buf, size_t len)
{
	struct vmx_slot *slot;
	unsigned long hva = 0;

	if (!len || (gpa & ~PAGE_MASK) + len > PAGE_SIZE)
		return -EINVAL;
	rcu_read_lock();
	slot = vmx_slot_find(rcu_dereference(vcpu->vm->slots), gpa >> PAGE_SHIFT);
	if (slot)
		hva = slot->user_addr + gpa - (slot->base_gfn << PAGE_SHIFT);
	rcu_read_unlock();
	if (!hva || current->mm != vcpu->vm->mm)
		return -EFAULT;
	return copy_from_user(buf, (const void __user *)hva, len) ? -EFAULT : 0;
}
