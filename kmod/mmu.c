// SPDX-License-Identifier: GPL-2.0
/*
 * The nested-paging MMU: a 4-level guest-physical -> host-physical table
 * (AMD NPT or Intel EPT; the backend encodes the entries), filled on
 * demand at nested page faults with the VMM's own pages, and emptied by
 * the mmu_notifier whenever the host unmaps, migrates, swaps or frees a
 * page behind it.
 *
 * Rules:
 *  - No page reference is kept: a mapping lives only while the host's
 *    own page table maps that page, which the notifier guarantees.
 *  - A fault reads invalidate_seq before pinning the page and installs
 *    the mapping only if no invalidation of a slot's memory ended
 *    meanwhile (the sequence moved) and none of the host range it maps
 *    is in progress.  Invalidations of memory no slot maps cost the
 *    faults nothing.
 *  - Whoever removes mappings counts it in zap_gen under the lock; after
 *    dropping the lock it returns only once every vCPU's TLB is clean of
 *    everything removed up to the zap_gen it saw (vmx_mmu_flush_upto()),
 *    even if another CPU did the removing and is still flushing.
 *  - Table pages stay until the VM goes away, except those a slot
 *    removal unhooks (wholly inside the removed range, or partly and
 *    empty afterwards): they are freed
 *    after the flush, when no vCPU can walk them any more.  So the table
 *    memory is bounded by what the current slots cover.
 *  - A remote flush bumps tlb_gen and kicks vCPUs in guest mode, waiting
 *    until they left it; a vCPU flushes its guest TLB before entering
 *    whenever it sees a new tlb_gen.
 */
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/pgtable.h>
#include <linux/sched/mm.h>
#include <linux/smp.h>
#include <asm/io.h>

#include "core.h"

#define VMX_NPT_LEVELS		4
#define VMX_NPT_ENTRIES		512
#define VMX_NPT_HUGE_LEVEL	2	/* 2 MiB leaves live at level 2 */
#define VMX_NPT_HUGE_PAGES	512

static const struct mmu_notifier_ops vmx_mmu_notifier_ops;

/* Entry index of @gfn in a table of @level (1 = 4 KiB leaves). */
static unsigned int vmx_npt_index(u64 gfn, int level)
{
	return (gfn >> (9 * (level - 1))) & (VMX_NPT_ENTRIES - 1);
}

/* Guest frames one entry of @level covers. */
static u64 vmx_npt_span(int level)
{
	return 1ULL << (9 * (level - 1));
}

static u64 *vmx_npt_table(u64 pte)
{
	return phys_to_virt(pte & PTE_PFN_MASK);
}

phys_addr_t vmx_mmu_root_pa(struct vmx_vm *vm)
{
	return page_to_phys(vm->mmu.root);
}

int vmx_mmu_init(struct vmx_vm *vm)
{
	struct vmx_mmu *mmu = &vm->mmu;
	int ret;

	spin_lock_init(&mmu->lock);
	vm->mmu_notifier.ops = &vmx_mmu_notifier_ops;
	mmu->root = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	if (!mmu->root)
		return -ENOMEM;
	ret = mmu_notifier_register(&vm->mmu_notifier, vm->mm);
	if (ret) {
		__free_page(mmu->root);
		return ret;
	}
	vm->mmu_notifier_registered = true;
	return 0;
}

/* Entries in the backend's format (struct vmx_npt_format). */
static inline bool vmx_npte_present(u64 pte)
{
	return pte & vmx_ops->npt_format->present;
}

static inline bool vmx_npte_huge(u64 pte)
{
	return pte & vmx_ops->npt_format->huge;
}

static inline u64 vmx_npte_table(phys_addr_t pa)
{
	return pa | vmx_ops->npt_format->table;
}

/* A leaf mapping @pa with VMX_NPT_* @prot; @huge: a 2 MiB leaf at level 2. */
static inline u64 vmx_npte_leaf(phys_addr_t pa, unsigned int prot, bool huge)
{
	const struct vmx_npt_format *f = vmx_ops->npt_format;

	return pa | f->leaf | (prot & VMX_NPT_WRITE ? f->write : 0) |
	       (prot & VMX_NPT_EXEC ? f->exec : f->no_exec) |
	       (huge ? f->huge : 0);
}

static void vmx_npt_free_table(u64 *table, int level)
{
	int i;

	for (i = 0; level > 1 && i < VMX_NPT_ENTRIES; i++) {
		u64 pte = table[i];

		if (vmx_npte_present(pte) && !vmx_npte_huge(pte))
			vmx_npt_free_table(vmx_npt_table(pte), level - 1);
	}
	free_page((unsigned long)table);
}

void vmx_mmu_destroy(struct vmx_vm *vm)
{
	if (vm->mmu_notifier_registered)
		mmu_notifier_unregister(&vm->mmu_notifier, vm->mm);
	if (vm->mmu.root)
		vmx_npt_free_table(page_address(vm->mmu.root), VMX_NPT_LEVELS);
}

static void vmx_mmu_ipi_nop(void *unused)
{
}

/*
 * Make every vCPU flush its guest TLB before it uses a translation
 * again; returns once no vCPU is still in guest mode with stale entries.
 */
static void vmx_mmu_flush_remote(struct vmx_vm *vm)
{
	int i, cpu;

	atomic64_inc(&vm->mmu.tlb_gen);
	/* Pairs with the barrier after a vCPU enters guest mode: either it
	 * sees the new tlb_gen, or we see it in guest mode and kick it.
	 */
	smp_mb__after_atomic();
	for (i = 0; i < VMX_MAX_VCPUS; i++) {
		struct vmx_vcpu *vcpu = READ_ONCE(vm->vcpus[i]);

		if (!vcpu || atomic_read(&vcpu->mode) != VMX_VCPU_IN_GUEST)
			continue;
		/* Written before the mode (vmx_vcpu_enter_guest_mode()). */
		smp_rmb();
		cpu = READ_ONCE(vcpu->cpu);
		if (cpu >= 0)
			smp_call_function_single(cpu, vmx_mmu_ipi_nop, NULL, 1);
	}
}

/*
 * Return once no vCPU's TLB holds anything removed up to @target (a
 * zap_gen read under the MMU lock).  The flush of another CPU counts
 * only once it completed: flushed_gen is published after it.
 */
static void vmx_mmu_flush_upto(struct vmx_vm *vm, s64 target)
{
	struct vmx_mmu *mmu = &vm->mmu;
	s64 done = atomic64_read_acquire(&mmu->flushed_gen);

	if (done >= target)
		return;
	vmx_mmu_flush_remote(vm);
	/* Never move it back below a later flusher's target. */
	while (done < target &&
	       !atomic64_try_cmpxchg_release(&mmu->flushed_gen, &done, target))
		;
}

/* Called by a vCPU with IRQs off after it entered guest mode. */
void vmx_mmu_sync_tlb(struct vmx_vcpu *vcpu, bool *flush)
{
	u64 gen = atomic64_read(&vcpu->vm->mmu.tlb_gen);

	if (gen != vcpu->tlb_gen_seen) {
		vcpu->tlb_gen_seen = gen;
		*flush = true;
	}
}

/*
 * Unhook the table @pte points to (its entry at @level is already
 * cleared) onto @reclaim, to be freed once no TLB or paging-structure
 * cache can still lead a vCPU into it.
 */
static void vmx_npt_detach(u64 pte, int level, struct list_head *reclaim)
{
	struct page *page = virt_to_page(vmx_npt_table(pte));

	set_page_private(page, level - 1);
	list_add(&page->lru, reclaim);
}

/* Free what vmx_npt_detach() collected; the flush has been done. */
static void vmx_npt_free_detached(struct list_head *reclaim)
{
	struct page *page, *next;

	list_for_each_entry_safe(page, next, reclaim, lru) {
		int level = page_private(page);

		list_del(&page->lru);
		set_page_private(page, 0);
		vmx_npt_free_table(page_address(page), level);
		cond_resched();
	}
}

/*
 * Clear leaves for [start, end) below @table; true if any was present.
 * With @reclaim, tables wholly inside the range, and tables partly in it
 * that are empty afterwards, are unhooked onto it as well (a removed
 * slot's tables would otherwise stay allocated until the VM goes away,
 * whatever the VMM maps there later).  Zapped entries are 0, so an empty
 * table is all zero.
 */
static bool vmx_npt_zap(u64 *table, int level, u64 base, u64 start, u64 end,
			struct list_head *reclaim)
{
	u64 span = vmx_npt_span(level), gfn;
	bool zapped = false;
	unsigned int i;

	for (i = 0; i < VMX_NPT_ENTRIES; i++) {
		u64 pte = table[i];

		gfn = base + i * span;
		if (gfn >= end || gfn + span <= start)
			continue;
		if (!vmx_npte_present(pte))
			continue;
		if (level == 1 || vmx_npte_huge(pte)) {
			WRITE_ONCE(table[i], 0);
			zapped = true;
		} else if (reclaim && gfn >= start && gfn + span <= end) {
			WRITE_ONCE(table[i], 0);
			vmx_npt_detach(pte, level, reclaim);
			zapped = true;
		} else {
			u64 *child = vmx_npt_table(pte);

			zapped |= vmx_npt_zap(child, level - 1, gfn, start,
					      end, reclaim);
			/* Partly in the range, but nothing left in it. */
			if (reclaim && vmx_all_zero(child, PAGE_SIZE)) {
				WRITE_ONCE(table[i], 0);
				vmx_npt_detach(pte, level, reclaim);
				zapped = true;
			}
		}
	}
	return zapped;
}

/*
 * Clear the leaves of [start, end).  Returns the zap_gen the caller must
 * have flushed up to (vmx_mmu_flush_upto()) before it returns, whether
 * it removed anything itself or found it removed by someone still
 * flushing.
 */
static s64 __vmx_mmu_zap_locked(struct vmx_vm *vm, u64 start, u64 end,
				struct list_head *reclaim)
{
	lockdep_assert_held(&vm->mmu.lock);
	if (start < end &&
	    vmx_npt_zap(page_address(vm->mmu.root), VMX_NPT_LEVELS, 0,
			start, end, reclaim))
		vm->mmu.zap_gen++;
	return vm->mmu.zap_gen;
}

static s64 vmx_mmu_zap_locked(struct vmx_vm *vm, u64 start, u64 end)
{
	return __vmx_mmu_zap_locked(vm, start, end, NULL);
}

/*
 * Make @new the VM's slot array and remove the mappings of guest frames
 * [start, end) (what a deleted, moved or re-flagged slot covered) in one
 * step under the MMU lock.  An invalidation finds the old slot, with its
 * mappings, before this step, and neither after it: there is no moment
 * in which a host range maps into the table with no slot that leads an
 * invalidation to it.  A fault that looked up the old array retries:
 * invalidate_seq moves in the same step, after the new array is visible.
 * The mirror case, a new slot over a host range whose invalidation is in
 * progress, maps nothing meanwhile: faults into the range retry while it
 * is in progress (its range was recorded at its start, slot or not), and
 * any fault that pinned a page before the invalidation ends sees
 * invalidate_seq moved (the end bumps it: the slot is there by then).
 */
void vmx_mmu_publish_slots(struct vmx_vm *vm, struct vmx_slots *new,
			   u64 start, u64 end)
{
	LIST_HEAD(reclaim);
	s64 flush_gen;

	spin_lock(&vm->mmu.lock);
	rcu_assign_pointer(vm->slots, new);
	/* Pairs with the smp_rmb() in the fault path: new seq, new slots. */
	smp_wmb();
	vm->mmu.invalidate_seq++;
	flush_gen = __vmx_mmu_zap_locked(vm, start, end, &reclaim);
	spin_unlock(&vm->mmu.lock);
	vmx_mmu_flush_upto(vm, flush_gen);
	vmx_npt_free_detached(&reclaim);
}

/*
 * Bitmap words harvested per MMU-lock hold: 32768 pages, so that a 1 TiB
 * slot does not keep the lock (and the CPU) for long.
 */
#define VMX_HARVEST_LONGS	512

/*
 * Fetch and clear @n words of a slot's dirty bits from word @first, and
 * zap their pages so that the next write faults and logs.  Only a page
 * whose bit is set can have a writable mapping (a fault installs one only
 * after setting the bit, under this lock, and every harvest zaps the
 * pages whose bits it took), so words without bits need no zap.
 */
static s64 vmx_mmu_harvest_chunk(struct vmx_vm *vm, struct vmx_slot *slot,
				 unsigned long *out, unsigned long first,
				 unsigned long n)
{
	u64 start = slot->base_gfn + (u64)first * BITS_PER_LONG;
	u64 end = min(start + (u64)n * BITS_PER_LONG,
		      slot->base_gfn + slot->npages);
	unsigned long i, any = 0;
	s64 flush_gen;

	spin_lock(&vm->mmu.lock);
	for (i = first; i < first + n; i++) {
		out[i] = xchg(&slot->dirty_bitmap[i], 0);
		any |= out[i];
	}
	flush_gen = vmx_mmu_zap_locked(vm, start, any ? end : start);
	spin_unlock(&vm->mmu.lock);
	return flush_gen;
}

/*
 * Fetch and clear a slot's dirty bits and write-protect its dirty pages,
 * in pieces with a reschedule in between.  Piece by piece is enough:
 * a page is harvested and zapped in one lock hold, and the flush at the
 * end, before the VMM can read the pages it was told about, removes
 * every writable translation of a harvested page from the guest TLBs.
 * A write through one before that flush hits a page reported dirty now,
 * whose contents the VMM reads only after this returns.
 */
void vmx_mmu_harvest_dirty(struct vmx_vm *vm, struct vmx_slot *slot,
			   unsigned long *out, unsigned long longs)
{
	unsigned long i, n;
	s64 flush_gen = 0;

	for (i = 0; i < longs; i += n) {
		n = min_t(unsigned long, longs - i, VMX_HARVEST_LONGS);
		flush_gen = vmx_mmu_harvest_chunk(vm, slot, out, i, n);
		cond_resched();
	}
	vmx_mmu_flush_upto(vm, flush_gen);
}

/*
 * Table pages come from the vCPU's own cache, topped up before the fault
 * takes the lock (where it may sleep).  What a fault did not use stays
 * for the next one: allocating, zeroing and freeing three pages on every
 * fault was a third of a first touch's cost (bench/RESULTS.md).
 */
static int vmx_npt_cache_fill(struct vmx_npt_cache *cache)
{
	BUILD_BUG_ON(VMX_NPT_LEVELS - 1 != VMX_NPT_CACHE_PAGES);
	while (cache->nr < ARRAY_SIZE(cache->pages)) {
		struct page *page = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);

		if (!page)
			return -ENOMEM;
		cache->pages[cache->nr++] = page;
	}
	return 0;
}

/* The vCPU goes: its spare table pages with it. */
void vmx_mmu_vcpu_free(struct vmx_vcpu *vcpu)
{
	struct vmx_npt_cache *cache = &vcpu->npt_cache;

	while (cache->nr)
		__free_page(cache->pages[--cache->nr]);
}

/*
 * Map @gfn to the host page at @pa, with a 2 MiB leaf if @huge and no
 * 4 KiB table is in the way, creating tables on the way down.  A table
 * is never replaced by a huge leaf: the CPU may still walk it until the
 * next TLB flush, so it could not be freed here.
 */
static void vmx_npt_install(struct vmx_vm *vm, struct vmx_npt_cache *cache,
			    u64 gfn, phys_addr_t pa, unsigned int prot, bool huge)
{
	u64 *table = page_address(vm->mmu.root), *entry;
	int level;

	for (level = VMX_NPT_LEVELS; level > 1; level--) {
		entry = &table[vmx_npt_index(gfn, level)];
		if (level == VMX_NPT_HUGE_LEVEL && huge &&
		    (!vmx_npte_present(*entry) || vmx_npte_huge(*entry))) {
			pa -= (gfn & (VMX_NPT_HUGE_PAGES - 1)) << PAGE_SHIFT;
			WRITE_ONCE(*entry, vmx_npte_leaf(pa, prot, true));
			return;
		}
		/*
		 * A 2 MiB leaf where we map 4 KiB: the new table maps the
		 * same pages or fewer, so stale TLB entries stay harmless
		 * for now.  But a later invalidation of a page the table
		 * does not map would find nothing to zap: count the leaf
		 * as removed, so that invalidation flushes.
		 */
		if (vmx_npte_present(*entry) && vmx_npte_huge(*entry)) {
			WRITE_ONCE(*entry, 0);
			vm->mmu.zap_gen++;
		}
		if (!vmx_npte_present(*entry)) {
			struct page *page = cache->pages[--cache->nr];

			WRITE_ONCE(*entry, vmx_npte_table(page_to_phys(page)));
		}
		table = vmx_npt_table(*entry);
	}
	WRITE_ONCE(table[vmx_npt_index(gfn, 1)],
		   vmx_npte_leaf(pa, prot, false));
}

/*
 * Does the host map @hva with one 2 MiB page (writable if @writable)?
 * Read without mmap_lock, as GUP-fast does: with interrupts off no page
 * table on the way can be freed under us (x86 frees them only after an
 * IPI or an RCU grace period).  A change racing with this read also
 * raises the notifier sequence, which the fault checks under mmu.lock.
 */
static bool vmx_host_maps_huge(struct mm_struct *mm, unsigned long hva,
			       bool writable)
{
	unsigned long flags;
	bool huge = false;
	pgd_t pgd;
	p4d_t p4d;
	pud_t pud;
	pmd_t pmd;

	local_irq_save(flags);
	pgd = READ_ONCE(*pgd_offset(mm, hva));
	if (pgd_none(pgd) || !pgd_present(pgd))
		goto out;
	/* With p4d or pud folded, *_offset() hands back the copy itself. */
	p4d = READ_ONCE(*p4d_offset(&pgd, hva));
	if (p4d_none(p4d) || !p4d_present(p4d))
		goto out;
	pud = READ_ONCE(*pud_offset(&p4d, hva));
	if (pud_none(pud) || !pud_present(pud) || pud_leaf(pud))
		goto out;
	pmd = READ_ONCE(*pmd_offset(&pud, hva));
	huge = pmd_present(pmd) && pmd_leaf(pmd) &&
	       (!writable || pmd_write(pmd));
out:
	local_irq_restore(flags);
	return huge;
}

/*
 * Can @gfn be mapped with a 2 MiB leaf?  The whole aligned 2 MiB must be
 * in the slot, at the same offset in host and guest, and the host must
 * map it with one huge page.
 */
static bool vmx_mmu_can_map_huge(struct vmx_vm *vm, const struct vmx_slot *slot,
				 u64 gfn, unsigned long hva, bool writable)
{
	u64 first = ALIGN_DOWN(gfn, VMX_NPT_HUGE_PAGES);

	if (slot->dirty_bitmap || first < slot->base_gfn ||
	    first + VMX_NPT_HUGE_PAGES > slot->base_gfn + slot->npages ||
	    (hva & (PMD_SIZE - 1)) != ((gfn << PAGE_SHIFT) & (PMD_SIZE - 1)))
		return false;
	return vmx_host_maps_huge(vm->mm, hva, writable);
}

static void vmx_mmu_exit_mmio(struct vmx_vcpu *vcpu, u64 gpa, bool write,
			      bool fetch)
{
	struct vmx_run *run = vcpu->run;

	if (vmx_event_mmio_in_delivery(vcpu, gpa))
		return;
	run->exit_reason = VMX_EXIT_MMIO;
	memset(&run->mmio, 0, sizeof(run->mmio));
	run->mmio.gpa = gpa;
	run->mmio.is_write = write;
	run->mmio.is_fetch = fetch;
}

/*
 * Pin the host page behind @hva; say whether it is mapped writable.  The
 * VMM's own page table first, without mmap_lock (the page is there after
 * the VMM touched it); the full walk, which may fault the page in, only
 * when that fails.  The caller is the VM's owner, so current->mm is the
 * VM's.
 */
static int vmx_mmu_get_page(unsigned long hva, bool want_write,
			    bool need_write, struct page **page, bool *writable)
{
	unsigned int flags = want_write ? FOLL_WRITE : 0;
	long got;

	if (get_user_page_fast_only(hva, flags, page)) {
		*writable = want_write;
		return 0;
	}
	got = get_user_pages_unlocked(hva, 1, page, flags);
	if (got == 1) {
		*writable = want_write;
		return 0;
	}
	/* A read fault on memory the VMM mapped read-only: map it so. */
	if (want_write && !need_write) {
		got = get_user_pages_unlocked(hva, 1, page, 0);
		if (got == 1) {
			*writable = false;
			return 0;
		}
	}
	return got < 0 ? got : -EFAULT;
}

/*
 * Is an invalidation of the host memory that a mapping of @hva (a 2 MiB
 * one if @huge) would cover in progress?  Called with mmu.lock held.
 */
static bool vmx_mmu_invalidating(struct vmx_vm *vm, unsigned long hva,
				 bool huge)
{
	unsigned long lo = huge ? ALIGN_DOWN(hva, PMD_SIZE) : hva & PAGE_MASK;
	unsigned long hi = lo + (huge ? PMD_SIZE : PAGE_SIZE);

	return vm->mmu.invalidate_active &&
	       lo < vm->mmu.invalidate_hi && hi > vm->mmu.invalidate_lo;
}

/*
 * Resolve a nested page fault at @gpa.  Returns 1 when the guest can go
 * on (mapping installed, or an invalidation raced and the access will
 * fault again), 0 with an MMIO exit filled in, or -errno (-EFAULT: the
 * VMM's memory behind a slot is not mapped).
 */
int vmx_mmu_handle_fault(struct vmx_vcpu *vcpu, u64 gpa, bool write,
			 bool fetch)
{
	struct vmx_vm *vm = vcpu->vm;
	struct vmx_npt_cache *cache = &vcpu->npt_cache;
	u64 gfn = gpa >> PAGE_SHIFT;
	struct vmx_slot *slot, copy;
	unsigned long seq, hva;
	struct page *page;
	bool writable, huge;
	unsigned int prot;
	int ret;

	vcpu->stat.npt_faults++;
	if (gpa >> VMX_MAX_GPA_BITS)
		goto mmio;

	seq = READ_ONCE(vm->mmu.invalidate_seq);
	/* Read the sequence before the slot and the host page table. */
	smp_rmb();

	rcu_read_lock();
	slot = vmx_slot_find(rcu_dereference(vm->slots), gfn);
	if (!slot || (write && (slot->flags & VMX_MEM_READONLY))) {
		rcu_read_unlock();
		goto mmio;
	}
	hva = slot->user_addr + ((gfn - slot->base_gfn) << PAGE_SHIFT);
	writable = !(slot->flags & VMX_MEM_READONLY);
	/* Dirty logging: map read-only until the first write. */
	writable &= write || !slot->dirty_bitmap;
	/*
	 * A copy for what follows, which sleeps: if the slot changes
	 * meanwhile, invalidate_seq has moved and the fault is retried.
	 */
	copy = *slot;
	rcu_read_unlock();

	ret = vmx_npt_cache_fill(cache);
	if (ret)
		return ret;
	ret = vmx_mmu_get_page(hva, writable, write, &page, &writable);
	if (ret)
		return ret;

	huge = vmx_mmu_can_map_huge(vm, &copy, gfn, hva, writable);

	prot = VMX_NPT_EXEC | (writable ? VMX_NPT_WRITE : 0);
	spin_lock(&vm->mmu.lock);
	/* An invalidation (or slot change) of what we map: fault again. */
	if (vm->mmu.invalidate_seq != seq ||
	    vmx_mmu_invalidating(vm, hva, huge))
		goto out_unlock;
	rcu_read_lock();
	slot = vmx_slot_find(rcu_dereference(vm->slots), gfn);
	if (slot && writable)
		vmx_slot_mark_dirty(slot, gfn);
	rcu_read_unlock();
	vmx_npt_install(vm, cache, gfn, page_to_phys(page), prot, huge);
	vcpu->stat.npt_filled++;
out_unlock:
	spin_unlock(&vm->mmu.lock);
	put_page(page);
	return 1;

mmio:
	vmx_stat_exit_mmio(vcpu);
	vmx_mmu_exit_mmio(vcpu, gpa, write, fetch);
	return 0;
}

/* ---- mmu_notifier: the host changes the VMM's address space ---- */

static struct vmx_vm *vmx_mn_to_vm(struct mmu_notifier *mn)
{
	return container_of(mn, struct vmx_vm, mmu_notifier);
}

/* Zap every slot's part of the host range [start, end); see zap_locked. */
static s64 vmx_mmu_zap_hva_locked(struct vmx_vm *vm, unsigned long start,
				  unsigned long end)
{
	s64 flush_gen = vm->mmu.zap_gen;
	struct vmx_slots *slots;
	u32 i;

	rcu_read_lock();
	slots = rcu_dereference(vm->slots);
	for (i = 0; slots && i < slots->nr; i++) {
		struct vmx_slot *s = slots->slots[i];
		unsigned long s_end = s->user_addr + (s->npages << PAGE_SHIFT);
		unsigned long lo = max(start, s->user_addr);
		unsigned long hi = min(end, s_end);
		u64 first, last;

		if (lo >= hi)
			continue;
		first = s->base_gfn + ((lo - s->user_addr) >> PAGE_SHIFT);
		last = s->base_gfn + DIV_ROUND_UP(hi - s->user_addr, PAGE_SIZE);
		flush_gen = vmx_mmu_zap_locked(vm, first, last);
	}
	rcu_read_unlock();
	return flush_gen;
}

/* Does the host range [start, end) back any slot now?  mmu.lock held. */
static bool vmx_mmu_hva_in_slots(struct vmx_vm *vm, unsigned long start,
				 unsigned long end)
{
	struct vmx_slots *slots;
	bool found = false;
	u32 i;

	rcu_read_lock();
	slots = rcu_dereference(vm->slots);
	for (i = 0; slots && i < slots->nr && !found; i++) {
		struct vmx_slot *s = slots->slots[i];

		found = start < s->user_addr + (s->npages << PAGE_SHIFT) &&
			end > s->user_addr;
	}
	rcu_read_unlock();
	return found;
}

/*
 * The range of every invalidation is recorded, whether or not a slot
 * maps it now: a slot created while it runs must not be filled from it
 * either.
 */
static int vmx_mn_invalidate_range_start(struct mmu_notifier *mn,
					 const struct mmu_notifier_range *range)
{
	struct vmx_vm *vm = vmx_mn_to_vm(mn);
	s64 flush_gen;

	spin_lock(&vm->mmu.lock);
	if (!vm->mmu.invalidate_active++) {
		vm->mmu.invalidate_lo = range->start;
		vm->mmu.invalidate_hi = range->end;
	} else {
		vm->mmu.invalidate_lo = min(vm->mmu.invalidate_lo, range->start);
		vm->mmu.invalidate_hi = max(vm->mmu.invalidate_hi, range->end);
	}
	flush_gen = vmx_mmu_zap_hva_locked(vm, range->start, range->end);
	spin_unlock(&vm->mmu.lock);
	/* Even if we zapped nothing: a racing zapper may still be flushing. */
	vmx_mmu_flush_upto(vm, flush_gen);
	return 0;
}

static void vmx_mn_invalidate_range_end(struct mmu_notifier *mn,
					const struct mmu_notifier_range *range)
{
	struct vmx_vm *vm = vmx_mn_to_vm(mn);

	spin_lock(&vm->mmu.lock);
	/*
	 * A fault that pinned a page of this range before the end must not
	 * map it.  Without a slot over the range now, no fault can have:
	 * a slot that came and went meanwhile moved the sequence itself.
	 */
	if (vmx_mmu_hva_in_slots(vm, range->start, range->end))
		vm->mmu.invalidate_seq++;
	if (!--vm->mmu.invalidate_active) {
		vm->mmu.invalidate_lo = 0;
		vm->mmu.invalidate_hi = 0;
	}
	spin_unlock(&vm->mmu.lock);
}

/* The address space is going away (process exit): drop everything. */
static void vmx_mn_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	struct vmx_vm *vm = vmx_mn_to_vm(mn);
	s64 flush_gen;

	spin_lock(&vm->mmu.lock);
	vm->mmu.invalidate_seq++;
	flush_gen = vmx_mmu_zap_locked(vm, 0,
				       1ULL << (VMX_MAX_GPA_BITS - PAGE_SHIFT));
	spin_unlock(&vm->mmu.lock);
	vmx_mmu_flush_upto(vm, flush_gen);
}

static const struct mmu_notifier_ops vmx_mmu_notifier_ops = {
	.invalidate_range_start	= vmx_mn_invalidate_range_start,
	.invalidate_range_end	= vmx_mn_invalidate_range_end,
	.release		= vmx_mn_release,
};
