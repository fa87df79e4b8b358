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
#include <asm/fpu/api.h>
#include <asm/fpu/xcr.h>

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

/* Bind backend per-CPU state to this thread for the duration of a run. */
static void vmx_vcpu_load(struct vmx_vcpu *vcpu)
{
	int cpu = get_cpu();

	preempt_notifier_register(&vcpu->preempt_notifier);
	vmx_ops->vcpu_load(vcpu, cpu);
	put_cpu();
}

static void vmx_vcpu_put(struct vmx_vcpu *vcpu)
{
	preempt_disable();
	vmx_ops->vcpu_put(vcpu);
	preempt_notifier_unregister(&vcpu->preempt_notifier);
	preempt_enable();
}

/*
 * Guest FPU/XSAVE state: switched by hand inside kernel_fpu_begin/end,
 * which saves the task's own state and lets us own the registers.  This
 * needs none of the FPU helpers newer kernels reserve for KVM.
 */
static bool vmx_have_xsave;
static u64 vmx_host_xcr0;

void vmx_fpu_setup(void)
{
	vmx_have_xsave = boot_cpu_has(X86_FEATURE_XSAVE);
	vmx_host_xcr0 = vmx_have_xsave ? xgetbv(XCR_XFEATURE_ENABLED_MASK) : 0;
}

/*
 * The guest's area is restored and saved with the host's XCR0 in force
 * and every component a guest may use requested, so that all of its
 * registers (SSE too, whatever the guest's XCR0) are the guest's while it
 * runs; the guest's own XCR0 is switched in only around the entry.
 */
void vmx_vcpu_fpu_enter(struct vmx_vcpu *vcpu)
{
	u8 *area = vcpu->fpu;
	u64 mask;

	kernel_fpu_begin();
	if (!vmx_have_xsave) {
		asm volatile("fxrstor64 %[area]" : : [area] "m" (*area));
		return;
	}
	mask = vmx_guest_xcr0_mask();
	asm volatile("xrstor64 %[area]"
		     : : [area] "m" (*area), "a" ((u32)mask),
		       "d" ((u32)(mask >> 32)) : "memory");
	if (vcpu->xcr0 != vmx_host_xcr0)
		xsetbv(XCR_XFEATURE_ENABLED_MASK, vcpu->xcr0);
}

void vmx_vcpu_fpu_exit(struct vmx_vcpu *vcpu)
{
	u8 *area = vcpu->fpu;
	u64 mask;

	if (!vmx_have_xsave) {
		asm volatile("fxsave64 %[area]" : [area] "=m" (*area));
	} else {
		if (vcpu->xcr0 != vmx_host_xcr0)
			xsetbv(XCR_XFEATURE_ENABLED_MASK, vmx_host_xcr0);
		mask = vmx_guest_xcr0_mask();
		asm volatile("xsave64 %[area]"
			     : [area] "=m" (*area) : "a" ((u32)mask),
			       "d" ((u32)(mask >> 32)) : "memory");
	}
	kernel_fpu_end();
}

/*
 * The generic run loop.  Stay in the kernel and re-enter unless the exit
 * needs user space (backend returns 0), something failed (< 0), or the
 * thread has work pending: a signal (-> VMX_EXIT_INTR) or a reschedule.
 */
static int vmx_vcpu_run_loop(struct vmx_vcpu *vcpu)
{
	struct vmx_run *run = vcpu->run;
	int ret;

	for (;;) {
		if (READ_ONCE(run->immediate_exit) || signal_pending(current)) {
			run->exit_reason = VMX_EXIT_INTR;
			return -EINTR;
		}
		cond_resched();
		ret = vmx_ops->vcpu_run(vcpu);
		if (ret <= 0)
			return ret;
	}
}

int vmx_vcpu_run(struct vmx_vcpu *vcpu)
{
	int ret;

	vcpu->run->exit_reason = VMX_EXIT_NONE;
	ret = vmx_vcpu_complete_pending(vcpu);
	if (ret)
		return ret;

	vmx_vcpu_load(vcpu);
	ret = vmx_vcpu_run_loop(vcpu);
	vmx_vcpu_put(vcpu);
	if (ret == 0)
		vcpu->stat.exits_to_user++;
	return ret;
}

/*
 * A plain IN/OUT whose run->io the backend filled: OUT data from RAX;
 * the next VMX_RUN completes it (IN data into RAX, RIP past it).
 */
void vmx_vcpu_exit_pio(struct vmx_vcpu *vcpu)
{
	struct vmx_run *run = vcpu->run;

	vcpu->pending_insn_len = run->io.insn_len;
	if (run->io.direction == VMX_IO_OUT) {
		run->io.data = vcpu->gprs[VMX_RAX] &
			       (run->io.size == 4 ? 0xffffffffULL :
				(1ULL << (run->io.size * 8)) - 1);
		vcpu->pending_io = VMX_PENDING_PIO_OUT;
	} else {
		vcpu->pending_io = VMX_PENDING_PIO_IN;
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
	u64 mask;

	vcpu->pending_io = VMX_PENDING_NONE;
	switch (pending) {
	case VMX_PENDING_NONE:
		return 0;
	case VMX_PENDING_PIO_IN:
		mask = run->io.size == 4 ? 0xffffffffULL :
		       (1ULL << (run->io.size * 8)) - 1;
		/* A 32-bit IN zero-extends into RAX; 8/16-bit ones merge. */
		if (run->io.size == 4)
			vcpu->gprs[VMX_RAX] = (u32)run->io.data;
		else
			vcpu->gprs[VMX_RAX] = (vcpu->gprs[VMX_RAX] & ~mask) |
					      (run->io.data & mask);
		break;
	case VMX_PENDING_PIO_OUT:
		break;
	case VMX_PENDING_HYPERCALL:
		vcpu->gprs[VMX_RAX] = run->hypercall.ret;
		break;
	case VMX_PENDING_MSR_READ:
		if (run->msr.error)
			goto inject_gp;
		vcpu->gprs[VMX_RAX] = (u32)run->msr.data;
		vcpu->gprs[VMX_RDX] = run->msr.data >> 32;
		break;
	case VMX_PENDING_MSR_WRITE:
		if (run->msr.error)
			goto inject_gp;
		break;
	}
	vcpu->rip += vcpu->pending_insn_len;
	return 0;

inject_gp:
	vmx_vcpu_queue_exception(vcpu, 13, true, 0);
	return 0;
}

/*
 * Queue an exception the kernel raises for the guest (#GP, #UD ...).  An
 * external interrupt still waiting for its window is not lost: it steps
 * aside and comes back once the exception has been delivered.
 */
void vmx_vcpu_queue_exception(struct vmx_vcpu *vcpu, u8 vector, bool has_error,
			      u32 error_code)
{
	if (vcpu->pending_event.valid &&
	    vcpu->pending_event.event.type == VMX_EVENT_EXTINT &&
	    !vcpu->deferred_irq.valid)
		vcpu->deferred_irq = vcpu->pending_event;
	vcpu->pending_event.valid = true;
	vcpu->pending_event.event = (struct vmx_event) {
		.type = VMX_EVENT_EXCEPTION, .vector = vector,
		.flags = has_error ? VMX_EVENT_HAS_ERROR_CODE : 0,
		.error_code = has_error ? error_code : 0,
	};
}

/* After an exit: a displaced interrupt takes the free slot again. */
void vmx_vcpu_event_slot_free(struct vmx_vcpu *vcpu)
{
	if (vcpu->pending_event.valid || !vcpu->deferred_irq.valid)
		return;
	vcpu->pending_event = vcpu->deferred_irq;
	vcpu->deferred_irq.valid = false;
}

/* Exceptions that push an error code: #DF, #TS, #NP, #SS, #GP, #PF, #AC, #CP, #VC, #SX. */
#define VMX_EXC_ERROR_CODES	(BIT(8) | GENMASK(14, 10) | BIT(17) | BIT(21) | \
				 BIT(29) | BIT(30))

/* Is @ev a well-formed event (type, vector, error code, reserved)? */
int vmx_event_check(const struct vmx_event *ev)
{
	if (ev->flags & ~VMX_EVENT_HAS_ERROR_CODE ||
	    !vmx_all_zero(ev->reserved, sizeof(ev->reserved)) ||
	    (!ev->flags && ev->error_code))
		return -EINVAL;
	switch (ev->type) {
	case VMX_EVENT_EXTINT:
		return ev->vector >= 32 && ev->vector <= 255 && !ev->flags ?
		       0 : -EINVAL;
	case VMX_EVENT_NMI:
		return ev->vector == 2 && !ev->flags ? 0 : -EINVAL;
	case VMX_EVENT_EXCEPTION:
		if (ev->vector > 31 || ev->vector == 2)
			return -EINVAL;
		/* The error code goes with the vector, both ways. */
		return !!(ev->flags & VMX_EVENT_HAS_ERROR_CODE) ==
		       !!(VMX_EXC_ERROR_CODES & BIT(ev->vector)) ? 0 : -EINVAL;
	}
	return -EINVAL;
}

int vmx_vcpu_inject(struct vmx_vcpu *vcpu, const struct vmx_event *ev)
{
	int ret = vmx_event_check(ev);

	if (ret)
		return ret;
	if (vcpu->pending_event.valid)
		return -EBUSY;
	if (ev->type == VMX_EVENT_EXTINT && !vmx_ops->irq_window_open(vcpu))
		return -EBUSY;
	vcpu->pending_event.event = *ev;
	vcpu->pending_event.valid = true;
	return 0;
}

void vmx_vcpu_get_regs(struct vmx_vcpu *vcpu, struct vmx_regs *regs)
{
	BUILD_BUG_ON(sizeof(*regs) != sizeof(vcpu->gprs) + 2 * sizeof(u64));
	memcpy(regs, vcpu->gprs, sizeof(vcpu->gprs));
	regs->rip = vcpu->rip;
	regs->rflags = vcpu->rflags;
}

/* RFLAGS bits a VMM may set: all architectural ones but VM (virtual-8086). */
#define VMX_RFLAGS_FIXED1	X86_EFLAGS_FIXED
#define VMX_RFLAGS_SETTABLE	(0x3f7fd7ULL & ~X86_EFLAGS_VM)

int vmx_vcpu_set_regs(struct vmx_vcpu *vcpu, const struct vmx_regs *regs)
{
	if (regs->rflags & ~VMX_RFLAGS_SETTABLE)
		return -EINVAL;
	memcpy(vcpu->gprs, regs, sizeof(vcpu->gprs));
	vcpu->rip = regs->rip;
	vcpu->rflags = regs->rflags | VMX_RFLAGS_FIXED1;
	/* A VMM that rewrote the registers owns the instruction now. */
	vcpu->pending_io = VMX_PENDING_NONE;
	return 0;
}

/* XSAVE features a guest may enable: x87, SSE, AVX, AVX-512. */
#define VMX_XCR0_SUPPORTED	(XFEATURE_MASK_FP | XFEATURE_MASK_SSE | \
				 XFEATURE_MASK_YMM | XFEATURE_MASK_OPMASK | \
				 XFEATURE_MASK_ZMM_Hi256 | XFEATURE_MASK_Hi16_ZMM)

u64 vmx_guest_xcr0_mask(void)
{
	return vmx_have_xsave ? vmx_host_xcr0 & VMX_XCR0_SUPPORTED : XFEATURE_MASK_FP;
}

/*
 * A guest XSETBV (ECX, EDX:EAX) at @cpl: 0 with the new XCR0 taken (the
 * caller advances RIP), -EINVAL when the guest must get #GP.
 */
int vmx_vcpu_xsetbv(struct vmx_vcpu *vcpu, unsigned int cpl)
{
	u64 xcr0 = (u32)vcpu->gprs[VMX_RAX] | (vcpu->gprs[VMX_RDX] << 32);
	u64 mask = vmx_guest_xcr0_mask();

	if (cpl || (u32)vcpu->gprs[VMX_RCX] != 0)
		return -EINVAL;
	/* x87 always; AVX needs SSE; AVX-512 state all or nothing, with AVX. */
	if (!(xcr0 & XFEATURE_MASK_FP) || xcr0 & ~mask ||
	    ((xcr0 & XFEATURE_MASK_YMM) && !(xcr0 & XFEATURE_MASK_SSE)))
		return -EINVAL;
	if (xcr0 & XFEATURE_MASK_AVX512 &&
	    ((xcr0 & XFEATURE_MASK_AVX512) != (mask & XFEATURE_MASK_AVX512) ||
	     !(xcr0 & XFEATURE_MASK_YMM)))
		return -EINVAL;
	vcpu->xcr0 = xcr0;
	return 0;
}

int vmx_vcpu_get_fpu(struct vmx_vcpu *vcpu, struct vmx_fpu *fpu)
{
	memset(fpu, 0, sizeof(*fpu));
	fpu->xcr0 = vcpu->xcr0;
	memcpy(fpu->xsave, vcpu->fpu, sizeof(fpu->xsave));
	return 0;
}

/* XSAVE header: XSTATE_BV at 512, XCOMP_BV at 520, rest reserved. */
#define VMX_XSAVE_HDR		512
#define VMX_XSAVE_MXCSR		24

/* Components the saved area may hold: what XSAVE saves for us. */
static u64 vmx_fpu_area_mask(void)
{
	return vmx_have_xsave ? vmx_guest_xcr0_mask() :
				XFEATURE_MASK_FP | XFEATURE_MASK_SSE;
}

int vmx_vcpu_set_fpu(struct vmx_vcpu *vcpu, const struct vmx_fpu *fpu)
{
	const u64 *hdr = (const u64 *)(fpu->xsave + VMX_XSAVE_HDR);
	u32 mxcsr;

	if (fpu->flags || fpu->pad ||
	    !vmx_all_zero(fpu->reserved, sizeof(fpu->reserved)))
		return -EINVAL;
	if (!(fpu->xcr0 & XFEATURE_MASK_FP) ||
	    fpu->xcr0 & ~vmx_guest_xcr0_mask() ||
	    ((fpu->xcr0 & XFEATURE_MASK_YMM) && !(fpu->xcr0 & XFEATURE_MASK_SSE)))
		return -EINVAL;
	/*
	 * XRSTOR would fault on these: refuse them here instead.  The
	 * header is checked without XSAVE too, so that one area is valid
	 * or not on every CPU.
	 */
	if (hdr[0] & ~vmx_fpu_area_mask() || hdr[1] ||
	    !vmx_all_zero(&hdr[2], 48))
		return -EINVAL;
	memcpy(&mxcsr, fpu->xsave + VMX_XSAVE_MXCSR, sizeof(mxcsr));
	if (mxcsr & ~0xffffU)
		return -EINVAL;
	vcpu->xcr0 = fpu->xcr0;
	memcpy(vcpu->fpu, fpu->xsave, sizeof(fpu->xsave));
	return 0;
}

/* The x86 reset state of the FPU: FCW 0x37f, MXCSR 0x1f80, all empty. */
static void vmx_vcpu_fpu_reset(struct vmx_vcpu *vcpu)
{
	u8 *area = vcpu->fpu;

	memset(area, 0, 4096);
	*(u16 *)area = 0x37f;
	*(u32 *)(area + VMX_XSAVE_MXCSR) = 0x1f80;
	/* Mark x87 and SSE as holding the values above. */
	*(u64 *)(area + VMX_XSAVE_HDR) = XFEATURE_MASK_FP | XFEATURE_MASK_SSE;
	vcpu->xcr0 = XFEATURE_MASK_FP;
}

static void vmx_vcpu_reset(struct vmx_vcpu *vcpu)
{
	memset(vcpu->gprs, 0, sizeof(vcpu->gprs));
	/* EDX at reset holds the processor signature; 0x600 is generic. */
	vcpu->gprs[VMX_RDX] = 0x600;
	vcpu->rip = 0xfff0;
	vcpu->rflags = VMX_RFLAGS_FIXED1;
	vcpu->msr_apic_base = 0xfee00000ULL | BIT(11) | (vcpu->id ? 0 : BIT(8));
	vmx_vcpu_fpu_reset(vcpu);
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
