// SPDX-License-Identifier: GPL-2.0
/*
 * One entry into the guest: registers and the pending event into the
 * VMCS, host state saved, the world switch, host state restored, an
 * interrupted event re-queued, the exit dispatched.
 */
#include <linux/sched/signal.h>
#include <asm/msr.h>
#include <asm/processor.h>
#include <asm/special_insns.h>
#include <asm/tlbflush.h>
#include <asm/traps.h>

#include "vtx.h"
#include "../spec.h"

/* ---- one entry ---- */

/*
 * Put the event the core picked into the VM-entry fields and ask for an
 * exit at the next interrupt (or NMI) window for what has to wait.  With
 * nothing picked and both windows closed, there is nothing to write.
 */
static void vtx_inject_pending(struct vtx_vcpu *vtx)
{
	struct vmx_event_plan plan;
	struct vmx_event *ev = &plan.event;
	u32 info, type;
	bool err;

	if (!vmx_event_pick(&vtx->vcpu, &plan) &&
	    !(vtx->primary_ctls & (CPU_BASED_INTR_WINDOW_EXITING |
				   CPU_BASED_NMI_WINDOW_EXITING)))
		return;
	if (plan.inject) {
		type = ev->type == VMX_EVENT_EXTINT ? VTX_EVENT_TYPE_EXTINT :
		       ev->type == VMX_EVENT_NMI ? VTX_EVENT_TYPE_NMI :
		       VTX_EVENT_TYPE_HW_EXC;
		/* Real mode pushes no error codes (and entry checks that). */
		err = (ev->flags & VMX_EVENT_HAS_ERROR_CODE) &&
		      (vtx_vmread(CR0_READ_SHADOW) & X86_CR0_PE);
		info = VTX_EVENT_VALID | ev->vector |
		       (type << VTX_EVENT_TYPE_SHIFT) |
		       (err ? VTX_EVENT_HAS_ERR : 0);
		vtx_vmwrite(VM_ENTRY_INTR_INFO_FIELD, info);
		if (err)
			vtx_vmwrite(VM_ENTRY_EXCEPTION_ERROR_CODE, ev->error_code);
	}
	vtx_set_intr_window(vtx, CPU_BASED_INTR_WINDOW_EXITING, plan.irq_window);
	if (vtx_pin_ctls & PIN_BASED_VIRTUAL_NMIS)
		vtx_set_intr_window(vtx, CPU_BASED_NMI_WINDOW_EXITING,
				    plan.nmi_window);
}

/*
 * The event whose delivery the exit interrupted goes back to the core,
 * which delivers it again first.  Software interrupts and INT3/INTO/INT1
 * are not handed back: RIP still points at the instruction, which runs
 * again.
 */
static void vtx_requeue_idt_vectoring(struct vtx_vcpu *vtx)
{
	u32 info = vtx_vmread(IDT_VECTORING_INFO_FIELD);
	u32 type = (info >> VTX_EVENT_TYPE_SHIFT) & VTX_EVENT_TYPE_MASK;
	struct vmx_event ev = { };
	bool valid;

	valid = (info & VTX_EVENT_VALID) && type != VTX_EVENT_TYPE_SOFT_INT &&
		type != VTX_EVENT_TYPE_SOFT_EXC &&
		type != VTX_EVENT_TYPE_PRIV_SW_EXC;
	if (valid) {
		ev.type = type == VTX_EVENT_TYPE_EXTINT ? VMX_EVENT_EXTINT :
			  type == VTX_EVENT_TYPE_NMI ? VMX_EVENT_NMI :
			  VMX_EVENT_EXCEPTION;
		ev.vector = info & VTX_EVENT_VECTOR_MASK;
		if (info & VTX_EVENT_HAS_ERR) {
			ev.flags = VMX_EVENT_HAS_ERROR_CODE;
			ev.error_code = vtx_vmread(IDT_VECTORING_ERROR_CODE);
		}
		/* Its delivery began, which blocked NMIs: it has not happened. */
		if (type == VTX_EVENT_TYPE_NMI)
			vtx->intr_state &= ~VTX_INTR_NMI;
	}
	vmx_event_exit(&vtx->vcpu, valid ? &ev : NULL);
}

static void vtx_load_regs(struct vtx_vcpu *vtx)
{
	struct vmx_vcpu *vcpu = &vtx->vcpu;

	/* An STI shadow needs IF set (an entry check); MOV SS has none. */
	if (!(vcpu->rflags & X86_EFLAGS_IF))
		vtx->intr_state &= ~VTX_INTR_STI;
	vtx_vmwrite_current(GUEST_RSP, vcpu->gprs[VMX_RSP]);
	vtx_vmwrite_current(GUEST_RIP, vcpu->rip);
	/* A VMWRITE only when the VMM or the guest changed the offset. */
	if (unlikely(vtx->tsc_offset != vcpu->tsc_offset)) {
		vtx_vmwrite(TSC_OFFSET, vcpu->tsc_offset);
		vtx->tsc_offset = vcpu->tsc_offset;
	}
	vtx_vmwrite_current(GUEST_RFLAGS, vcpu->rflags);
	vtx_vmwrite_current(GUEST_INTERRUPTIBILITY_INFO, vtx->intr_state);
}

static void vtx_save_regs(struct vtx_vcpu *vtx)
{
	struct vmx_vcpu *vcpu = &vtx->vcpu;
	struct vmx_run *run = vcpu->run;

	vcpu->gprs[VMX_RSP] = vtx_vmread_current(GUEST_RSP);
	vcpu->rip = vtx_vmread_current(GUEST_RIP);
	vcpu->rflags = vtx_vmread_current(GUEST_RFLAGS);
	vtx->intr_state = vtx_vmread_current(GUEST_INTERRUPTIBILITY_INFO);

	run->rip = vcpu->rip;
	run->if_flag = !!(vcpu->rflags & X86_EFLAGS_IF);
	run->irq_window_open = vtx_irq_window_open(vcpu);
	run->cr8 = *(u32 *)(vtx->vapic + VTX_VAPIC_TPR) >> 4;
}

/* Host control registers: they change with the task or CPU settings; IRQs off. */
static void vtx_prepare_host(struct vtx_vcpu *vtx)
{
	unsigned long cr3 = __read_cr3(), cr4 = cr4_read_shadow();

	if (unlikely(cr3 != vtx->host_cr3)) {
		vtx_vmwrite(HOST_CR3, cr3);
		vtx->host_cr3 = cr3;
	}
	if (unlikely(cr4 != vtx->host_cr4)) {
		vtx_vmwrite(HOST_CR4, cr4);
		vtx->host_cr4 = cr4;
	}
}

/*
 * The VM exit was caused by an NMI or a machine check: give it to the
 * host now, on the CPU that took it and with IRQs still off, as the
 * hardware would have delivered it (a machine check's banks describe
 * this CPU; NMIs and #MC are not maskable by IF).  "int $2" and
 * "int $0x12" run the kernel's own handlers through its IDT, on their
 * IST stacks.  A machine check during VM entry (exit reason 41) is the
 * host's too; the VMM then sees a failed entry.  The #MC paths cannot be
 * tested: no emulated rig raises machine checks.
 */
static void vtx_handle_host_event(u32 reason)
{
	u32 info, type;

	if ((reason & VTX_EXIT_REASON_MASK) == EXIT_REASON_MCE_DURING_VMENTRY) {
		asm volatile("int $0x12");
		return;
	}
	if ((reason & VTX_EXIT_REASON_MASK) != EXIT_REASON_EXCEPTION_NMI)
		return;
	info = vtx_vmread(VM_EXIT_INTR_INFO);
	type = (info >> VTX_EVENT_TYPE_SHIFT) & VTX_EVENT_TYPE_MASK;
	if (type == VTX_EVENT_TYPE_NMI)
		asm volatile("int $2");
	else if ((info & VTX_EVENT_VECTOR_MASK) == X86_TRAP_MC)
		asm volatile("int $0x12");
}

static int vtx_exit_vmfail(struct vtx_vcpu *vtx)
{
	struct vmx_run *run = vtx->vcpu.run;

	run->exit_reason = VMX_EXIT_FAIL_ENTRY;
	/* VMfailValid: the VM-instruction error field says why. */
	run->fail_entry.hardware_reason = vtx_vmread(VM_INSTRUCTION_ERROR);
	run->fail_entry.cpu = vtx->vcpu.cpu;
	return 0;
}

/*
 * The world switch with what has to be redone around every one of them,
 * IRQs off: TLB flush, guest-state checks (vtx_host.c), L1D flush,
 * SPEC_CTRL, guest time.  Returns the exit reason, or 0 when VMLAUNCH or
 * VMRESUME failed (@failed).
 */
static u32 vtx_enter_once(struct vtx_vcpu *vtx, int *failed)
{
	struct vmx_vcpu *vcpu = &vtx->vcpu;
	bool flush = false;
	u32 reason;

	vmx_mmu_sync_tlb(vcpu, &flush);
	if (flush || vtx->flush_tlb) {
		vtx_flush_guest_tlb(vtx);
		vtx->flush_tlb = false;
	}
	vtx_switch_to_guest(vtx);
	if (vtx_l1d_flush)
		wrmsrl(MSR_IA32_FLUSH_CMD, L1D_FLUSH);

	vmx_spec_enter(vcpu, false);
	vmx_stat_guest_enter(vcpu);
	*failed = vtx_world_switch(vcpu->gprs, vtx->launched);
	vmx_stat_guest_exit(vcpu);
	vmx_spec_exit(vcpu, false);

	vtx_switch_to_host(vtx);
	if (*failed)
		return 0;
	reason = vtx_vmread(VM_EXIT_REASON);
	if (!(reason & VTX_EXIT_FAILED_ENTRY))
		vtx->launched = true;
	vtx_handle_host_event(reason);
	return reason;
}

/*
 * The exit fast path: CPUID, the one exit a guest repeats in a loop that
 * the kernel answers by itself without sleeping, is finished here with
 * IRQs still off and the guest's FPU and lazy state still in, and the
 * guest entered again at once.  RIP, RSP, RFLAGS and the interruptibility
 * state stay in the VMCS (vtx_save_regs() reads them once the loop ends);
 * the GPRs the handler uses are in vcpu->gprs.  Everything else, any
 * exit after an event went in, and a CPUID the guest single-steps (TF:
 * vtx_skip_insn() raises the trap) take the slow path.
 */
static bool vtx_exit_fastpath(struct vtx_vcpu *vtx, u32 reason,
			      unsigned int done)
{
	struct vmx_vcpu *vcpu = &vtx->vcpu;
	u32 intr;

	if (reason != EXIT_REASON_CPUID ||
	    (vtx_vmread_current(GUEST_RFLAGS) & X86_EFLAGS_TF) ||
	    !vmx_vcpu_fastpath_reenter(vcpu, done))
		return false;
	vcpu->stat.exits++;
	vtx_stat_exit(vcpu, reason);
	vmx_cpuid_emulate(vcpu, vtx_guest_cr4());
	vtx_vmwrite_current(GUEST_RIP, vtx_vmread_current(GUEST_RIP) +
			    vtx_vmread_current(VM_EXIT_INSTRUCTION_LEN));
	/* Completing an instruction ends an STI/MOV SS shadow. */
	intr = vtx_vmread_current(GUEST_INTERRUPTIBILITY_INFO);
	if (intr & VTX_INTR_SHADOW)
		vtx_vmwrite_current(GUEST_INTERRUPTIBILITY_INFO,
				    intr & ~VTX_INTR_SHADOW);
	return true;
}

/*
 * Enter the guest until an exit needs more than the fast path.  Order:
 * registers into the VMCS, guest FPU in, IRQs off, last check for
 * pending work, event injection, host control registers, then entries
 * (vtx_enter_once()) as long as the fast path takes the exit, then the
 * NMI/#MC to the host, IRQs on, guest FPU out, registers back, re-queue
 * an interrupted event, dispatch the exit.
 */
int vtx_vcpu_run(struct vmx_vcpu *vcpu)
{
	struct vtx_vcpu *vtx = to_vtx(vcpu);
	unsigned int done = 0;
	u32 reason;
	int failed;

	if (unlikely(vtx->bad_cr0))
		return vtx_handle_exit(vtx, VTX_EXIT_FAILED_ENTRY |
				       EXIT_REASON_INVALID_STATE);
	vtx_load_regs(vtx);
	if (!vmx_vcpu_enter_guest_mode(vcpu))
		return 1;
	vtx_inject_pending(vtx);
	/* Neither changes with IRQs off: once for all the entries. */
	vtx_prepare_host(vtx);
	do {
		reason = vtx_enter_once(vtx, &failed);
	} while (!failed && vtx_exit_fastpath(vtx, reason, done++));
	vmx_vcpu_exit_guest_mode(vcpu);

	/* Delivered or handed back below: never injected twice. */
	if (vcpu->events.injected != VMX_INJECTED_NONE)
		vtx_vmwrite(VM_ENTRY_INTR_INFO_FIELD, 0);
	if (failed)
		return vtx_exit_vmfail(vtx);
	vtx_save_regs(vtx);
	vcpu->stat.exits++;
	if (reason & VTX_EXIT_FAILED_ENTRY)
		return vtx_handle_exit(vtx, reason);
	vtx_requeue_idt_vectoring(vtx);
	return vtx_handle_exit(vtx, reason);
}
