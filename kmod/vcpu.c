// SPDX-License-Identifier: GPL-2.0
/*
 * vCPUs: creation, the run area, the generic run loop, register state
 * the core owns (GPRs, RIP, RFLAGS, FPU) and event queueing.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/preempt.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/task_work.h>

#include "compat.h"
#include "core.h"

static inline struct vmx_vcpu *preempt_notifier_to_vcpu(struct preempt_notifier *pn)
{
	return container_of(pn, struct vmx_vcpu, preempt_notifier);
}

static void vmx_vcpu_sched_in(struct preempt_notifier *pn, int cpu)
{
	struct vmx_vcpu *vcpu = preempt_notifier_to_vcpu(pn);

	vmx_ops->vcpu_load(vcpu, cpu);
}

static void vmx_vcpu_sched_out(struct preempt_notifier *pn,
			       struct task_struct *next)
{
	vmx_ops->vcpu_put(preempt_notifier_to_vcpu(pn));
}

static struct preempt_ops vmx_preempt_ops = {
	.sched_in	= vmx_vcpu_sched_in,
	.sched_out	= vmx_vcpu_sched_out,
};

/*
 * Bind backend per-CPU state to this thread for the duration of a run.
 * A backend without any (SVM) has no notifier to register: the CPU the
 * vCPU runs on is noted at each entry (vmx_vcpu_enter_guest_mode()).
 */
static void vmx_vcpu_load(struct vmx_vcpu *vcpu)
{
	int cpu;

	if (!vmx_ops->vcpu_load)
		return;
	cpu = get_cpu();
	preempt_notifier_register(&vcpu->preempt_notifier);
	vmx_ops->vcpu_load(vcpu, cpu);
	put_cpu();
}

static void vmx_vcpu_put(struct vmx_vcpu *vcpu)
{
	if (!vmx_ops->vcpu_load)
		return;
	preempt_disable();
	vmx_ops->vcpu_put(vcpu);
	preempt_notifier_unregister(&vcpu->preempt_notifier);
	preempt_enable();
}

/*
 * Work the thread owes the kernel before it may enter the guest.  A
 * signal ends the run (VMX_EXIT_INTR).  Task work (a deferred fput(),
 * NUMA balancing, io_uring's) can only run on the way out, since its
 * helpers are not exported to modules: VMX_RUN returns to user space
 * through the notify-signal path, which runs it and restarts VMX_RUN
 * without the VMM seeing anything.  A bare TIF_NOTIFY_RESUME (set at
 * every preemption for rseq, or for memcg/blkcg throttling) waits for
 * the next exit to user space: restarting for it would cost a round trip
 * per preemption.
 */
static int vmx_vcpu_handle_work(struct vmx_vcpu *vcpu)
{
	struct vmx_run *run = vcpu->run;

	if (READ_ONCE(run->immediate_exit) || task_sigpending(current)) {
		run->exit_reason = VMX_EXIT_INTR;
		return -EINTR;
	}
	if (task_work_pending(current) || test_thread_flag(TIF_NOTIFY_SIGNAL)) {
		set_thread_flag(TIF_NOTIFY_SIGNAL);
		return -ERESTARTNOINTR;
	}
	cond_resched();
	return 0;
}

/*
 * The last steps of both backends before the world switch: guest FPU in,
 * IRQs off, the vCPU marked in guest mode, then a last look for work
 * that must not wait (a signal or a reschedule; task work added meanwhile
 * kicks the CPU out of the guest, and vmx_vcpu_handle_work() sees it).
 * False, with all of it undone, when the entry is abandoned: the backend
 * returns 1 and the run loop does that work.
 */
bool vmx_vcpu_enter_guest_mode(struct vmx_vcpu *vcpu)
{
	vmx_vcpu_fpu_enter(vcpu);
	local_irq_disable();
	WRITE_ONCE(vcpu->cpu, smp_processor_id());
	/* The CPU before the mode: pairs with vmx_mmu_flush_remote()'s rmb. */
	smp_wmb();
	atomic_set(&vcpu->mode, VMX_VCPU_IN_GUEST);
	/*
	 * Order the mode store before reading signals and tlb_gen: pairs
	 * with vmx_mmu_flush_remote() (a kick or a seen tlb_gen, never
	 * neither).
	 */
	smp_mb();
	if (signal_pending(current) || need_resched()) {
		vmx_vcpu_exit_guest_mode(vcpu);
		return false;
	}
	return true;
}

/*
 * The exit fast path: may a backend that finished an exit with IRQs
 * still off (guest FPU and lazy state in) enter the guest again at once,
 * after @done such re-entries in a row?  Not if an event went in at this
 * entry: its delivery is accounted for by the slow path (vmx_event_exit()
 * and the backend's re-queue).  Not if the thread has work: the same look
 * as vmx_vcpu_enter_guest_mode().  The event queue cannot change
 * meanwhile (the vCPU mutex is held); what another CPU wants (a TLB
 * flush, a signal, a reschedule) comes as an IPI, which stays pending
 * with IRQs off and makes the next entry exit at once.
 *
 * Not more than VMX_FASTPATH_MAX in a row, though: then IRQs go on once.
 * A CPU that misses an external-interrupt exit (Bochs does while the
 * guest runs with RFLAGS.IF clear) would otherwise keep the host's
 * interrupts waiting as long as the guest repeats its CPUID, since each
 * entry also restarts the VMX-preemption timer, the usual safety net.
 */
bool vmx_vcpu_fastpath_reenter(struct vmx_vcpu *vcpu, unsigned int done)
{
	if (done >= VMX_FASTPATH_MAX ||
	    vcpu->events.injected != VMX_INJECTED_NONE ||
	    signal_pending(current) || need_resched())
		return false;
	/* Nothing went in: the queue only notes that no delivery was cut. */
	vmx_event_exit(vcpu, NULL);
	return true;
}

/* After the world switch (and the host's NMI/#MC handling): undo it. */
void vmx_vcpu_exit_guest_mode(struct vmx_vcpu *vcpu)
{
	atomic_set(&vcpu->mode, VMX_VCPU_OUTSIDE_GUEST);
	local_irq_enable();
	vmx_vcpu_fpu_exit(vcpu);
}

static int vmx_vcpu_fpu_refused(struct vmx_vcpu *vcpu)
{
	u64 xcr0 = vcpu->xcr0;

	vcpu->fpu_fault = false;
	vmx_vcpu_exit_internal(vcpu, VMX_INTERNAL_HOST_REFUSED, 1, &xcr0);
	return 0;
}

/*
 * The generic run loop.  Stay in the kernel and re-enter unless the exit
 * needs user space (backend returns 0), something failed (< 0), or the
 * thread has work pending (vmx_vcpu_handle_work()).
 */
static int vmx_vcpu_run_loop(struct vmx_vcpu *vcpu)
{
	int ret;

	for (;;) {
		ret = vmx_vcpu_handle_work(vcpu);
		if (ret)
			return ret;
		if (vmx_event_triple_fault(vcpu))
			return 0;
		ret = vmx_ops->vcpu_run(vcpu);
		if (unlikely(vcpu->fpu_fault))
			return vmx_vcpu_fpu_refused(vcpu);
		if (ret <= 0)
			return ret;
	}
}

static bool vmx_segment_ok(const struct vmx_segment *seg)
{
	return !seg->pad && seg->type < 16 && seg->s < 2 && seg->dpl < 4 &&
	       seg->present < 2 && seg->avl < 2 && seg->l < 2 && seg->db < 2 &&
	       seg->g < 2 && seg->unusable < 2;
}

/* VMX_SET_SREGS and a dirty run-area copy: the same checks. */
int vmx_vcpu_set_sregs(struct vmx_vcpu *vcpu, const struct vmx_sregs *sregs)
{
	const struct vmx_segment *segs[] = {
		&sregs->cs, &sregs->ds, &sregs->es, &sregs->fs, &sregs->gs,
		&sregs->ss, &sregs->tr, &sregs->ldt,
	};
	int i;

	if (!vmx_all_zero(sregs->reserved, sizeof(sregs->reserved)) ||
	    !vmx_all_zero(sregs->gdt.pad, sizeof(sregs->gdt.pad)) ||
	    !vmx_all_zero(sregs->idt.pad, sizeof(sregs->idt.pad)))
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(segs); i++)
		if (!vmx_segment_ok(segs[i]))
			return -EINVAL;
	return vmx_ops->set_sregs(vcpu, sregs);
}

/*
 * A SET ioctl replaces the registers: a dirty copy in the run area no
 * longer applies, and the stored copy no longer describes the vCPU.
 */
void vmx_vcpu_sync_clear_dirty(struct vmx_vcpu *vcpu, u32 bits)
{
	struct vmx_run *run = vcpu->run;

	WRITE_ONCE(run->sync_dirty, READ_ONCE(run->sync_dirty) & ~bits);
	WRITE_ONCE(run->sync_valid, READ_ONCE(run->sync_valid) & ~bits);
}

/*
 * The run area's register copies, each copied out of the shared page
 * first, so that it is checked and used as one value even if another
 * thread writes the page meanwhile.  Out of line: kernels built with
 * INIT_STACK_ALL_ZERO (Debian's) clear every local at function entry,
 * and these two copies are 450 bytes that every VMX_RUN would clear.
 */
static noinline int vmx_vcpu_sync_in_sregs(struct vmx_vcpu *vcpu)
{
	struct vmx_sregs sregs;

	memcpy(&sregs, &vcpu->run->sregs, sizeof(sregs));
	return vmx_vcpu_set_sregs(vcpu, &sregs);
}

static noinline int vmx_vcpu_sync_in_regs(struct vmx_vcpu *vcpu)
{
	struct vmx_regs regs;

	memcpy(&regs, &vcpu->run->regs, sizeof(regs));
	return vmx_vcpu_set_regs(vcpu, &regs);
}

/* Load what the VMM changed in the run area's register copies. */
static int vmx_vcpu_sync_in(struct vmx_vcpu *vcpu)
{
	struct vmx_run *run = vcpu->run;
	u32 dirty = READ_ONCE(run->sync_dirty);
	int ret;

	if (READ_ONCE(run->sync_want) & ~VMX_SYNC_VALID_WANT ||
	    dirty & ~VMX_SYNC_VALID_DIRTY)
		return -EINVAL;
	if (!dirty)
		return 0;
	if (dirty & VMX_SYNC_SREGS) {
		ret = vmx_vcpu_sync_in_sregs(vcpu);
		if (ret)
			return ret;
	}
	if (dirty & VMX_SYNC_REGS) {
		ret = vmx_vcpu_sync_in_regs(vcpu);
		if (ret)
			return ret;
	}
	WRITE_ONCE(run->sync_dirty, 0);
	return 0;
}

/* Store the register copies the VMM asked for as VMX_RUN returns. */
static void vmx_vcpu_sync_out(struct vmx_vcpu *vcpu)
{
	struct vmx_run *run = vcpu->run;
	u32 want = READ_ONCE(run->sync_want), valid = 0;
	u32 reason = run->exit_reason;

	/* sync_valid was cleared as VMX_RUN began. */
	if (!want)
		return;
	if (want & VMX_SYNC_ON_DECODE &&
	    (reason == VMX_EXIT_MMIO || (reason == VMX_EXIT_IO && run->io.string)))
		want |= VMX_SYNC_REGS | VMX_SYNC_SREGS;
	if (want & VMX_SYNC_REGS) {
		vmx_vcpu_get_regs(vcpu, &run->regs);
		valid |= VMX_SYNC_REGS;
	}
	if (want & VMX_SYNC_SREGS) {
		memset(&run->sregs, 0, sizeof(run->sregs));
		vmx_ops->get_sregs(vcpu, &run->sregs);
		valid |= VMX_SYNC_SREGS;
	}
	WRITE_ONCE(run->sync_valid, valid);
}

int vmx_vcpu_run(struct vmx_vcpu *vcpu)
{
	int ret;

	vcpu->run->exit_reason = VMX_EXIT_NONE;
	WRITE_ONCE(vcpu->run->sync_valid, 0);
	ret = vmx_vcpu_sync_in(vcpu);
	if (ret)
		return ret;
	ret = vmx_vcpu_complete_pending(vcpu);
	if (ret)
		return ret;

	vmx_vcpu_load(vcpu);
	ret = vmx_vcpu_run_loop(vcpu);
	vmx_vcpu_put(vcpu);
	vmx_stat_run(vcpu, ret);
	if (ret == 0 || ret == -EINTR)
		vmx_vcpu_sync_out(vcpu);
	return ret;
}

static u64 vmx_io_mask(u8 size)
{
	return size == 4 ? 0xffffffffULL : size == 2 ? 0xffff : 0xff;
}

/*
 * A port-I/O exit.  The run area gets the VMM's copy; what the next
 * VMX_RUN needs to complete a plain IN/OUT (size, instruction length)
 * stays in the kernel, since the VMM can write the run area at any time.
 * String I/O is finished by the VMM (libvmx's assist), RIP included.
 */
void vmx_vcpu_exit_io(struct vmx_vcpu *vcpu, const struct vmx_io_info *io)
{
	struct vmx_run *run = vcpu->run;

	memset(&run->io, 0, sizeof(run->io));
	run->exit_reason = VMX_EXIT_IO;
	run->io.port = io->port;
	run->io.direction = io->in ? VMX_IO_IN : VMX_IO_OUT;
	run->io.size = io->size;
	run->io.string = io->string;
	run->io.rep = io->rep;
	run->io.addr_size = io->addr_size;
	run->io.seg = io->seg;
	run->io.insn_len = io->insn_len;
	if (io->string)
		return;

	vcpu->pending_io_size = io->size;
	vcpu->pending_insn_len = io->insn_len;
	if (io->in) {
		vcpu->pending_io = VMX_PENDING_PIO_IN;
	} else {
		run->io.data = vcpu->gprs[VMX_RAX] & vmx_io_mask(io->size);
		vcpu->pending_io = VMX_PENDING_PIO_OUT;
	}
}

/* VMMCALL/VMCALL: RAX = number, args in RBX RCX RDX RSI RDI, to the VMM. */
void vmx_vcpu_exit_hypercall(struct vmx_vcpu *vcpu, u8 insn_len)
{
	struct vmx_run *run = vcpu->run;
	static const enum vmx_gpr args[] = {
		VMX_RBX, VMX_RCX, VMX_RDX, VMX_RSI, VMX_RDI,
	};
	int i;

	run->exit_reason = VMX_EXIT_HYPERCALL;
	run->hypercall.nr = vcpu->gprs[VMX_RAX];
	for (i = 0; i < ARRAY_SIZE(args); i++)
		run->hypercall.args[i] = vcpu->gprs[args[i]];
	run->hypercall.ret = vcpu->gprs[VMX_RAX];
	vcpu->pending_io = VMX_PENDING_HYPERCALL;
	vcpu->pending_insn_len = insn_len;
}

void vmx_vcpu_exit_internal(struct vmx_vcpu *vcpu, u32 suberror,
			    unsigned int ndata, const u64 *data)
{
	struct vmx_run *run = vcpu->run;

	ndata = min_t(unsigned int, ndata, ARRAY_SIZE(run->internal.data));
	run->exit_reason = VMX_EXIT_INTERNAL_ERROR;
	run->internal.suberror = suberror;
	run->internal.ndata = ndata;
	memcpy(run->internal.data, data, ndata * sizeof(u64));
}

/*
 * Finish the instruction of the last exit with what the VMM wrote into
 * the run area (IN data, hypercall result, MSR value), so that the guest
 * sees it complete before the next entry.
 */
int vmx_vcpu_complete_pending(struct vmx_vcpu *vcpu)
{
	struct vmx_run *run = vcpu->run;
	enum vmx_pending_io pending = vcpu->pending_io;
	u64 mask, data;

	vcpu->pending_io = VMX_PENDING_NONE;
	switch (pending) {
	case VMX_PENDING_NONE:
		return 0;
	case VMX_PENDING_PIO_IN:
		mask = vmx_io_mask(vcpu->pending_io_size);
		data = READ_ONCE(run->io.data);
		/* A 32-bit IN zero-extends into RAX; 8/16-bit ones merge. */
		if (vcpu->pending_io_size == 4)
			vcpu->gprs[VMX_RAX] = (u32)data;
		else
			vcpu->gprs[VMX_RAX] = (vcpu->gprs[VMX_RAX] & ~mask) |
					      (data & mask);
		break;
	case VMX_PENDING_PIO_OUT:
		break;
	case VMX_PENDING_HYPERCALL:
		vcpu->gprs[VMX_RAX] = READ_ONCE(run->hypercall.ret);
		break;
	case VMX_PENDING_MSR_READ:
		if (READ_ONCE(run->msr.error))
			goto inject_gp;
		data = READ_ONCE(run->msr.data);
		vcpu->gprs[VMX_RAX] = (u32)data;
		vcpu->gprs[VMX_RDX] = data >> 32;
		break;
	case VMX_PENDING_MSR_WRITE:
		if (READ_ONCE(run->msr.error))
			goto inject_gp;
		break;
	}
	vcpu->rip += vcpu->pending_insn_len;
	vmx_vcpu_insn_stepped(vcpu);
	return 0;

inject_gp:
	vmx_vcpu_queue_exception(vcpu, 13, true, 0);
	return 0;
}

void vmx_vcpu_get_regs(struct vmx_vcpu *vcpu, struct vmx_regs *regs)
{
	BUILD_BUG_ON(sizeof(*regs) != sizeof(vcpu->gprs) + 2 * sizeof(u64));
	memcpy(regs, vcpu->gprs, sizeof(vcpu->gprs));
	regs->rip = vcpu->rip;
	regs->rflags = vcpu->rflags;
}

/*
 * RFLAGS bits a VMM may set: all architectural ones.  VM (virtual-8086
 * mode) only where the vCPU has it already: a guest enters that mode
 * itself (with the segment state it needs), and a VMM completing an exit
 * of a virtual-8086 guest writes back what VMX_GET_REGS gave.  Clearing
 * it (a reset) is the VMM's right.
 */
#define VMX_RFLAGS_FIXED1	X86_EFLAGS_FIXED
#define VMX_RFLAGS_SETTABLE	0x3f7fd7ULL

int vmx_vcpu_set_regs(struct vmx_vcpu *vcpu, const struct vmx_regs *regs)
{
	if (regs->rflags & ~VMX_RFLAGS_SETTABLE ||
	    (regs->rflags & ~vcpu->rflags & X86_EFLAGS_VM))
		return -EINVAL;
	memcpy(vcpu->gprs, regs, sizeof(vcpu->gprs));
	vcpu->rip = regs->rip;
	vcpu->rflags = regs->rflags | VMX_RFLAGS_FIXED1;
	/* A VMM that rewrote the registers owns the instruction now. */
	vcpu->pending_io = VMX_PENDING_NONE;
	return 0;
}

/*
 * The reset values of the registers the core keeps, and an empty event
 * queue: for a new vCPU and for a backend that resets one (SVM after a
 * shutdown, whose VMCB is undefined then).
 */
void vmx_vcpu_reset_regs(struct vmx_vcpu *vcpu)
{
	memset(vcpu->gprs, 0, sizeof(vcpu->gprs));
	/* EDX at reset holds the processor signature; 0x600 is generic. */
	vcpu->gprs[VMX_RDX] = 0x600;
	vcpu->rip = 0xfff0;
	vcpu->rflags = VMX_RFLAGS_FIXED1;
	vcpu->events = (struct vmx_event_queue) { };
	vcpu->pending_io = VMX_PENDING_NONE;
}

static void vmx_vcpu_reset(struct vmx_vcpu *vcpu)
{
	vmx_vcpu_reset_regs(vcpu);
	vcpu->msr_apic_base = 0xfee00000ULL | BIT(11) | (vcpu->id ? 0 : BIT(8));
	vcpu->tsc_offset = vcpu->vm->tsc_offset;
	vmx_fpu_reset(vcpu);
}

static vm_fault_t vmx_vcpu_fault(struct vm_fault *vmf)
{
	struct vmx_vcpu *vcpu = vmf->vma->vm_file->private_data;
	struct page *page;

	if (vmf->pgoff != 0)
		return VM_FAULT_SIGBUS;
	page = virt_to_page(vcpu->run);
	get_page(page);
	vmf->page = page;
	return 0;
}

static const struct vm_operations_struct vmx_vcpu_vm_ops = {
	.fault = vmx_vcpu_fault,
};

static int vmx_vcpu_mmap(struct file *file, struct vm_area_struct *vma)
{
	if (vma->vm_pgoff != 0 || vma_pages(vma) != 1)
		return -EINVAL;
	/*
	 * Never grown or merged with a mapping of the next page (which
	 * would skip this check): the run area is exactly one page.
	 */
	vmx_vma_set_flags(vma, VM_DONTEXPAND | VM_DONTDUMP);
	vma->vm_ops = &vmx_vcpu_vm_ops;
	return 0;
}

static int vmx_vcpu_release(struct inode *inode, struct file *file)
{
	struct vmx_vcpu *vcpu = file->private_data;

	vmx_vm_put(vcpu->vm);
	return 0;
}

const struct file_operations vmx_vcpu_fops = {
	.owner		= THIS_MODULE,
	.release	= vmx_vcpu_release,
	.unlocked_ioctl	= vmx_vcpu_ioctl,
	.mmap		= vmx_vcpu_mmap,
	.llseek		= noop_llseek,
};

static struct vmx_vcpu *vmx_vcpu_alloc(struct vmx_vm *vm, u32 id)
{
	struct vmx_vcpu *vcpu;

	BUILD_BUG_ON(sizeof(struct vmx_run) > VMX_RUN_AREA_SIZE);
	vcpu = kzalloc(vmx_ops->vcpu_size, GFP_KERNEL_ACCOUNT);
	if (!vcpu)
		return NULL;
	vcpu->run = (void *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	/* kmalloc of a power of two is naturally aligned: XSAVE needs 64. */
	vcpu->fpu = kzalloc(4096, GFP_KERNEL_ACCOUNT);
	if (!vcpu->run || !vcpu->fpu) {
		free_page((unsigned long)vcpu->run);
		kfree(vcpu->fpu);
		kfree(vcpu);
		return NULL;
	}
	vcpu->vm = vm;
	vcpu->id = id;
	vcpu->cpu = -1;
	mutex_init(&vcpu->mutex);
	preempt_notifier_init(&vcpu->preempt_notifier, &vmx_preempt_ops);
	return vcpu;
}

int vmx_vcpu_create(struct vmx_vm *vm, const struct vmx_vcpu_create *args)
{
	struct vmx_vcpu *vcpu;
	int ret, fd;

	if (args->flags || !vmx_all_zero(args->reserved, sizeof(args->reserved)) ||
	    args->id >= VMX_MAX_VCPUS)
		return -EINVAL;
	if (!(vmx_ops->features & VMX_FEAT_VCPUS))
		return -EOPNOTSUPP;

	vcpu = vmx_vcpu_alloc(vm, args->id);
	if (!vcpu)
		return -ENOMEM;
	vmx_vcpu_reset(vcpu);
	ret = vmx_ops->vcpu_init(vcpu);
	if (ret)
		goto out_free;

	mutex_lock(&vm->lock);
	if (vm->vcpus[args->id]) {
		ret = -EEXIST;
		goto out_unlock;
	}
	vmx_vm_get(vm);
	fd = anon_inode_getfd("vmx-vcpu", &vmx_vcpu_fops, vcpu, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		vmx_vm_put(vm);
		ret = fd;
		goto out_unlock;
	}
	/* Published last: from here the VM owns and frees the vCPU. */
	WRITE_ONCE(vm->vcpus[args->id], vcpu);
	atomic_inc(&vm->nr_vcpus);
	mutex_unlock(&vm->lock);
	return fd;

out_unlock:
	mutex_unlock(&vm->lock);
	vmx_ops->vcpu_free(vcpu);
out_free:
	free_page((unsigned long)vcpu->run);
	kfree(vcpu->fpu);
	kfree(vcpu);
	return ret;
}
