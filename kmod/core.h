/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Generic core of the vmx hypervisor: VM, vCPU, memory slots, nested-paging
 * MMU and run loop.  Nothing here knows which vendor runs the guest.
 */
#ifndef VMX_CORE_H
#define VMX_CORE_H

#include <linux/types.h>
#include <linux/atomic.h>
#include <linux/mm_types.h>
#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
#include <linux/preempt.h>
#include <linux/fs.h>
#include <linux/rcupdate.h>
#include <linux/spinlock.h>
#include <asm/debugreg.h>
#include <asm/processor-flags.h>
#include <uapi/linux/vmx.h>
#include <uapi/linux/vmx_stats.h>

#include "backend.h"

#define VMX_MAX_VCPUS		256
#define VMX_MAX_MEMSLOTS	4096
/* Guest-physical addresses are limited to 48 bits (4-level NPT/EPT). */
#define VMX_MAX_GPA_BITS	48

/* The backend chosen at load; constant while the module is loaded. */
extern const struct vmx_backend_ops *vmx_ops;

/*
 * struct vmx_slot - one memory slot; immutable once published.
 * A change makes a new copy; the old one is freed after an RCU grace
 * period.  Only @dirty_bitmap is written later (atomic bit ops); a
 * changed slot starts with a new, empty bitmap.
 */
struct vmx_slot {
	u64 base_gfn;
	u64 npages;
	unsigned long user_addr;
	u32 id;
	u32 flags;
	unsigned long *dirty_bitmap;
	struct rcu_head rcu;
};

/*
 * All slots of a VM, sorted by base_gfn; published with RCU, under both
 * vmx_vm.lock and vmx_mmu.lock (see vmx_mmu_publish_slots()).
 */
struct vmx_slots {
	u32 nr;
	struct rcu_head rcu;
	struct vmx_slot *slots[];
};

/*
 * struct vmx_mmu - the VM's nested page table (NPT or EPT)
 *
 * @lock:	protects the table contents and the invalidation counters;
 *		a spinlock because mmu_notifier callbacks may not sleep
 * @root:	top-level table page (4-level)
 * @invalidate_seq: bumped at the end of every invalidation that
 *		overlaps a slot, and at every slot change; a fault that saw
 *		another value before pinning its page retries
 * @invalidate_active: invalidations in progress
 * @invalidate_lo, @invalidate_hi: the host range [lo, hi) that covers
 *		every invalidation in progress (empty when none is); a
 *		fault that would map into it meanwhile retries
 * @zap_gen:	under @lock: bumped whenever a translation a guest TLB may
 *		hold left the table (a leaf cleared, a huge leaf split)
 * @flushed_gen: the highest @zap_gen whose removals every vCPU's TLB is
 *		known clean of.  Whoever drops @lock after removing, or
 *		finding removed, what it must not return with still mapped
 *		flushes unless @flushed_gen already reached the @zap_gen it
 *		saw under @lock: a second invalidation that finds the entries
 *		already cleared by a first one still waits for a flush.
 * @tlb_gen:	bumped by every remote flush; a vCPU whose @tlb_gen_seen
 *		differs flushes its guest TLB before entry
 */
struct vmx_mmu {
	spinlock_t lock;	/* see above */
	struct page *root;
	unsigned long invalidate_seq;
	long invalidate_active;
	unsigned long invalidate_lo;
	unsigned long invalidate_hi;
	s64 zap_gen;
	atomic64_t flushed_gen;
	atomic64_t tlb_gen;
};

/*
 * struct vmx_vm - one virtual machine
 *
 * Lifetime: created by VMX_CREATE_VM; the VM file holds the first
 * reference and each vCPU file one more.  The last vmx_vm_put() frees
 * it.  Each open VM or vCPU file also pins this module (fops.owner),
 * which is what makes rmmod fail while a VM exists.
 *
 * @mm:		the creating process's address space (mmgrab()ed); only a
 *		caller with the same mm may use the VM (others get EIO)
 * @lock:	serializes vCPU creation, slot updates and CPUID updates
 * @slots:	RCU-published slot array; written under @lock and mmu.lock
 * @vcpus:	vCPU pointers by id; set under @lock, read locklessly
 * @cpuid:	RCU-published CPUID table; written under @lock
 */
struct vmx_vm {
	refcount_t refs;
	struct mm_struct *mm;
	u64 id;
	u32 flags;

	struct mutex lock;	/* see above */
	struct vmx_slots __rcu *slots;
	struct vmx_vcpu *vcpus[VMX_MAX_VCPUS];
	atomic_t nr_vcpus;
	struct vmx_cpuid __rcu *cpuid;

	/* Every vCPU starts with this TSC offset: their TSCs agree. */
	u64 tsc_offset;

	struct vmx_mmu mmu;
	struct mmu_notifier mmu_notifier;
	bool mmu_notifier_registered;
};

/* vCPU modes, for kicks and TLB shootdowns. */
enum vmx_vcpu_mode {
	VMX_VCPU_OUTSIDE_GUEST,
	VMX_VCPU_IN_GUEST,
};

/* Register numbers in vmx_vcpu.gprs, in the order of struct vmx_regs. */
enum vmx_gpr {
	VMX_RAX, VMX_RBX, VMX_RCX, VMX_RDX, VMX_RSI, VMX_RDI, VMX_RSP, VMX_RBP,
	VMX_R8, VMX_R9, VMX_R10, VMX_R11, VMX_R12, VMX_R13, VMX_R14, VMX_R15,
	VMX_NR_GPRS
};

/* Which slot of the event queue went into the hardware at this entry. */
enum vmx_injected {
	VMX_INJECTED_NONE,
	VMX_INJECTED_EXCEPTION,
	VMX_INJECTED_INTERRUPTED,
	VMX_INJECTED_NMI,
	VMX_INJECTED_IRQ,
};

/*
 * struct vmx_event_queue - what the guest is owed (see event.c)
 * @exception:	an exception raised by the kernel or the VMM
 * @nmi_pending: an NMI waits for the guest to be able to take it
 * @irq_pending: external interrupt @irq_vector waits for its window
 * @interrupted: an event whose delivery an exit cut short
 * @triple_fault: the double-fault rules ended in a shutdown
 * @exit_in_delivery: the current exit cut an event delivery short
 * @injected:	the slot injected at the current entry
 */
struct vmx_event_queue {
	struct vmx_event exception;
	struct vmx_event interrupted;
	bool exception_pending;
	bool interrupted_valid;
	bool nmi_pending;
	bool irq_pending;
	u8 irq_vector;
	bool triple_fault;
	bool exit_in_delivery;
	enum vmx_injected injected;
};

/* The core's choice for one entry (vmx_event_pick()). */
struct vmx_event_plan {
	bool inject;		/* inject @event */
	bool nmi_window;	/* exit as soon as the guest can take an NMI */
	bool irq_window;	/* ... or an external interrupt */
	struct vmx_event event;
};

/* What the VMM must complete before the next entry (a pending IN etc). */
enum vmx_pending_io {
	VMX_PENDING_NONE,
	VMX_PENDING_PIO_IN,	/* write run->io.data into RAX, advance RIP */
	VMX_PENDING_PIO_OUT,	/* advance RIP */
	VMX_PENDING_HYPERCALL,	/* write run->hypercall.ret into RAX, advance */
	VMX_PENDING_MSR_READ,	/* run->msr.data to EDX:EAX or #GP, advance */
	VMX_PENDING_MSR_WRITE,	/* #GP or advance */
};

/* A port-I/O exit as the backend decoded it (vmx_vcpu_exit_io()). */
struct vmx_io_info {
	u16 port;
	u8 size;		/* 1, 2 or 4 */
	bool in;
	bool string;
	bool rep;
	u8 addr_size;		/* 16/32/64, 0 if unknown */
	u8 seg;
	u8 insn_len;
};

/* Spare nested-table pages: one fault needs at most three below the root. */
#define VMX_NPT_CACHE_PAGES	3
struct vmx_npt_cache {
	int nr;
	struct page *pages[VMX_NPT_CACHE_PAGES];
};

/*
 * struct vmx_vcpu - one virtual CPU; the backend's struct embeds it first
 *
 * Every field below is touched only by the thread that holds @mutex
 * (all vCPU ioctls take it), except @mode and @cpu, which kickers read.
 *
 * @gprs:	guest general registers; the backend moves RAX/RSP to and
 *		from its hardware structure around each entry
 * @rip, @rflags: guest RIP and RFLAGS, same rule
 * @run:	the page user space maps (struct vmx_run)
 * @cpu:	CPU the vCPU last ran on, -1 before the first run
 * @tlb_gen_seen: vmx_mmu.tlb_gen at the last guest TLB flush
 * @fpu:	guest XSAVE area (non-compacted, 4 KiB, 64-byte aligned)
 * @xcr0:	guest XCR0
 * @npt_cache:	zeroed table pages for the next nested page faults
 */
struct vmx_vcpu {
	struct vmx_vm *vm;
	u32 id;
	struct mutex mutex;	/* held by every vCPU ioctl */
	struct vmx_run *run;

	u64 gprs[VMX_NR_GPRS];
	u64 rip;
	u64 rflags;

	int cpu;
	atomic_t mode;
	u64 tlb_gen_seen;
	struct preempt_notifier preempt_notifier;

	struct vmx_event_queue events;
	struct vmx_npt_cache npt_cache;
	enum vmx_pending_io pending_io;
	u8 pending_insn_len;
	u8 pending_io_size;

	void *fpu;
	u64 xcr0;
	u32 guest_pkru;
	u32 host_pkru;
	/* The CPU refused the guest's XCR0 at entry: end the run. */
	bool fpu_fault;

	/* Guest TSC = host TSC + @tsc_offset; applied by the backend at entry. */
	u64 tsc_offset;

	/* Software-kept MSRs a guest OS touches but the hardware does not. */
	u64 msr_tsc_aux;
	u64 msr_misc_enable;
	u64 msr_apic_base;
	u64 msr_mtrr_def_type;
	/* Guest SPEC_CTRL (spec.h switches it around entry). */
	u64 msr_spec_ctrl;

	/*
	 * Counters (stats.h): plain increments by the vCPU thread only,
	 * read locklessly by netlink dumps.  All u64 (stats.c sums them as
	 * an array).
	 */
	struct vmx_vcpu_stat {
		u64 exits;
		u64 exits_to_user;
		u64 npt_faults;
		u64 npt_filled;
		u64 runs;
		u64 guest_ns;
		u64 entered_at;		/* vmx_guest_clock_now() at entry */
		u64 exit_kind[__VMX_STATS_EXIT_MAX];
		u64 user_exit[VMX_STATS_USER_EXIT_MAX + 1];
		u64 injected[__VMX_STATS_INJ_MAX];
	} stat;
};

/* vm.c */
struct vmx_vm *vmx_vm_create(const struct vmx_vm_create *args);
void vmx_vm_get(struct vmx_vm *vm);
void vmx_vm_put(struct vmx_vm *vm);
bool vmx_vm_owner_ok(struct vmx_vm *vm);
extern const struct file_operations vmx_vm_fops;

/* vcpu.c */
int vmx_vcpu_create(struct vmx_vm *vm, const struct vmx_vcpu_create *args);
int vmx_vcpu_run(struct vmx_vcpu *vcpu);
int vmx_vcpu_set_regs(struct vmx_vcpu *vcpu, const struct vmx_regs *regs);
int vmx_vcpu_set_sregs(struct vmx_vcpu *vcpu, const struct vmx_sregs *sregs);
void vmx_vcpu_reset_regs(struct vmx_vcpu *vcpu);
bool vmx_vcpu_enter_guest_mode(struct vmx_vcpu *vcpu);
void vmx_vcpu_exit_guest_mode(struct vmx_vcpu *vcpu);
/* Exits in a row the fast path may take before IRQs go on (vcpu.c). */
#define VMX_FASTPATH_MAX	16
bool vmx_vcpu_fastpath_reenter(struct vmx_vcpu *vcpu, unsigned int done);
void vmx_vcpu_sync_clear_dirty(struct vmx_vcpu *vcpu, u32 bits);
void vmx_vcpu_get_regs(struct vmx_vcpu *vcpu, struct vmx_regs *regs);
int vmx_vcpu_complete_pending(struct vmx_vcpu *vcpu);
void vmx_vcpu_exit_hypercall(struct vmx_vcpu *vcpu, u8 insn_len);
void vmx_vcpu_exit_io(struct vmx_vcpu *vcpu, const struct vmx_io_info *io);
void vmx_vcpu_exit_internal(struct vmx_vcpu *vcpu, u32 suberror,
			    unsigned int ndata, const u64 *data);
extern const struct file_operations vmx_vcpu_fops;

/* event.c: the event queue */
int vmx_event_check(const struct vmx_event *ev);
void vmx_vcpu_queue_exception(struct vmx_vcpu *vcpu, u8 vector, bool has_error,
			      u32 error_code);
int vmx_vcpu_inject(struct vmx_vcpu *vcpu, const struct vmx_event *ev);
bool vmx_event_pick(struct vmx_vcpu *vcpu, struct vmx_event_plan *plan);
int vmx_event_exit(struct vmx_vcpu *vcpu, const struct vmx_event *interrupted);
void vmx_event_not_taken(struct vmx_vcpu *vcpu);
bool vmx_event_wakes_hlt(struct vmx_vcpu *vcpu);
void vmx_event_single_step(struct vmx_vcpu *vcpu);

/*
 * After the hypervisor completed an instruction for the guest and moved
 * RIP past it: the single-step trap the CPU would have raised after it
 * had the guest's RFLAGS.TF been set (hardware does not, the instruction
 * never completed in the guest).
 */
static inline void vmx_vcpu_insn_stepped(struct vmx_vcpu *vcpu)
{
	if (unlikely(vcpu->rflags & X86_EFLAGS_TF))
		vmx_event_single_step(vcpu);
}

bool vmx_event_triple_fault(struct vmx_vcpu *vcpu);
bool vmx_event_mmio_in_delivery(struct vmx_vcpu *vcpu, u64 gpa);
int vmx_vcpu_set_event_queue(struct vmx_vcpu *vcpu, const struct vmx_events *ev);
void vmx_vcpu_get_event_queue(struct vmx_vcpu *vcpu, struct vmx_events *ev);

/* fpu.c: guest FPU/XSAVE, XCR0 and PKRU */
void vmx_fpu_setup(void);
u64 vmx_guest_xcr0_mask(void);
bool vmx_xcr0_valid(u64 xcr0);
int vmx_vcpu_xsetbv(struct vmx_vcpu *vcpu, unsigned int cpl);
void vmx_vcpu_fpu_enter(struct vmx_vcpu *vcpu);
void vmx_vcpu_fpu_exit(struct vmx_vcpu *vcpu);
int vmx_vcpu_get_fpu(struct vmx_vcpu *vcpu, struct vmx_fpu *fpu);
int vmx_vcpu_set_fpu(struct vmx_vcpu *vcpu, const struct vmx_fpu *fpu);
void vmx_fpu_reset(struct vmx_vcpu *vcpu);

/* msr.c: MSRs kept by the core for every backend */
int vmx_msr_get(struct vmx_vcpu *vcpu, u32 index, u64 *data);
int vmx_msr_set(struct vmx_vcpu *vcpu, u32 index, u64 data, bool host);
int vmx_vcpu_emulate_msr(struct vmx_vcpu *vcpu, bool is_write, u8 insn_len);
long vmx_vcpu_get_msrs(struct vmx_vcpu *vcpu, struct vmx_msrs __user *argp);
long vmx_vcpu_set_msrs(struct vmx_vcpu *vcpu, struct vmx_msrs __user *argp);

/* memslot.c */
int vmx_slot_set(struct vmx_vm *vm, const struct vmx_memslot *req);
int vmx_slot_get_dirty_log(struct vmx_vm *vm, const struct vmx_dirty_log *req);
struct vmx_slot *vmx_slot_find(struct vmx_slots *slots, u64 gfn);
void vmx_slots_free(struct vmx_vm *vm);
void vmx_slot_mark_dirty(struct vmx_slot *slot, u64 gfn);
int vmx_read_guest_phys(struct vmx_vcpu *vcpu, u64 gpa, void *buf, size_t len);

/* mmu.c */
int vmx_mmu_init(struct vmx_vm *vm);
void vmx_mmu_destroy(struct vmx_vm *vm);
void vmx_mmu_vcpu_free(struct vmx_vcpu *vcpu);
int vmx_mmu_handle_fault(struct vmx_vcpu *vcpu, u64 gpa, bool write,
			 bool fetch);
void vmx_mmu_publish_slots(struct vmx_vm *vm, struct vmx_slots *new,
			   u64 start, u64 end);
void vmx_mmu_harvest_dirty(struct vmx_vm *vm, struct vmx_slot *slot,
			   unsigned long *out, unsigned long longs);
void vmx_mmu_sync_tlb(struct vmx_vcpu *vcpu, bool *flush);
phys_addr_t vmx_mmu_root_pa(struct vmx_vm *vm);

/* cpuid.c */
struct vmx_cpuid *vmx_cpuid_default(void);
long vmx_cpuid_get_default(struct vmx_cpuid __user *argp);
long vmx_cpuid_set(struct vmx_vm *vm, struct vmx_cpuid __user *argp);
void vmx_cpuid_emulate(struct vmx_vcpu *vcpu, u64 cr4);

/* main.c */
unsigned int vmx_nr_cpus_enabled(void);
long vmx_dev_ioctl(struct file *file, unsigned int cmd, unsigned long arg);

/* ioctl.c */
long vmx_vm_ioctl(struct file *file, unsigned int cmd, unsigned long arg);
long vmx_vcpu_ioctl(struct file *file, unsigned int cmd, unsigned long arg);

static inline bool vmx_all_zero(const void *p, size_t len)
{
	return !memchr_inv(p, 0, len);
}

/*
 * The attribute bytes of @s from the descriptor attributes both CPUs
 * keep alike in one byte (@attr: type 0-3, S 4, DPL 5-6, P 7) and the
 * four flags they keep at different places, as bits 0-3 of @flags (AVL,
 * L, D/B, G).  Two 32-bit stores instead of nine byte fields, each
 * shifted and masked: eight segments go through here at every exit that
 * syncs the sregs (an MMIO exit under VMX_SYNC_ON_DECODE).  The flags
 * spread to one per byte by a multiply (bit i moves by 7i: no carries).
 */
static inline void vmx_segment_set_attr(struct vmx_segment *s, u32 attr,
					u32 flags, bool unusable)
{
	u32 lo = (attr & 0xf) | (attr & 0x10) << 4 | (attr & 0x60) << 11 |
		 (attr & 0x80) << 17;
	u32 hi = ((flags & 0xf) * 0x204081) & 0x01010101;

	BUILD_BUG_ON(offsetof(struct vmx_segment, s) !=
		     offsetof(struct vmx_segment, type) + 1 ||
		     offsetof(struct vmx_segment, dpl) !=
		     offsetof(struct vmx_segment, type) + 2 ||
		     offsetof(struct vmx_segment, present) !=
		     offsetof(struct vmx_segment, type) + 3 ||
		     offsetof(struct vmx_segment, avl) !=
		     offsetof(struct vmx_segment, type) + 4 ||
		     offsetof(struct vmx_segment, l) !=
		     offsetof(struct vmx_segment, avl) + 1 ||
		     offsetof(struct vmx_segment, db) !=
		     offsetof(struct vmx_segment, avl) + 2 ||
		     offsetof(struct vmx_segment, g) !=
		     offsetof(struct vmx_segment, avl) + 3);
	if (unusable)
		lo &= 0x00ffffff;	/* not present */
	memcpy((u8 *)s + offsetof(struct vmx_segment, type), &lo, sizeof(lo));
	memcpy((u8 *)s + offsetof(struct vmx_segment, avl), &hi, sizeof(hi));
	s->unusable = unusable;
}

#include "stats.h"

/* Guest DR0-3 into the CPU and back: both backends switch them by hand. */
static inline void vmx_dr03_load(const u64 *dr)
{
	native_set_debugreg(0, dr[0]);
	native_set_debugreg(1, dr[1]);
	native_set_debugreg(2, dr[2]);
	native_set_debugreg(3, dr[3]);
}

static inline void vmx_dr03_save(u64 *dr)
{
	dr[0] = native_get_debugreg(0);
	dr[1] = native_get_debugreg(1);
	dr[2] = native_get_debugreg(2);
	dr[3] = native_get_debugreg(3);
}

#endif /* VMX_CORE_H */
