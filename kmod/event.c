// SPDX-License-Identifier: GPL-2.0
/*
 * The event queue: what the guest is owed, kept by the core for both
 * backends.
 *
 * Four separate states, so that no event can overwrite another:
 *  - an exception, raised by the kernel (#GP for a refused MSR, a
 *    reflected #AC or #DB ...) or injected by the VMM;
 *  - a pending NMI, which waits while the guest handles another one;
 *  - a pending external interrupt, which waits for the guest to open
 *    its interrupt window;
 *  - an interrupted delivery: an event the CPU was delivering when the
 *    exit happened (a nested page fault on the IDT or the stack, a host
 *    interrupt ...), delivered again exactly as it was.
 *
 * At each entry the core picks at most one of them (vmx_event_pick()),
 * the backend injects it and opens the NMI or interrupt window for the
 * rest.  After the exit the backend reports what the CPU was delivering
 * when it stopped (vmx_event_exit()); whatever was injected and is not
 * reported back was delivered.
 */
#include <linux/bits.h>
#include <asm/traps.h>

#include "core.h"

/* Exceptions that push an error code: #DF, #TS, #NP, #SS, #GP, #PF, #AC, #CP, #VC, #SX. */
#define VMX_EXC_ERROR_CODES	(BIT(8) | GENMASK(14, 10) | BIT(17) | BIT(21) | \
				 BIT(29) | BIT(30))
/* The contributory exceptions of the double-fault rules (SDM 6.15). */
#define VMX_EXC_CONTRIBUTORY	(BIT(X86_TRAP_DE) | BIT(X86_TRAP_TS) | \
				 BIT(X86_TRAP_NP) | BIT(X86_TRAP_SS) | \
				 BIT(X86_TRAP_GP))

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

/*
 * An exception as the hardware reports it carries an error-code flag only
 * where one was pushed (never in real mode, not always from emulators):
 * keep the ABI's form, in which the flag goes with the vector, so that
 * VMX_GET_EVENTS gives what VMX_SET_EVENTS takes back.
 */
static void vmx_event_normalize(struct vmx_event *ev)
{
	if (ev->type != VMX_EVENT_EXCEPTION)
		return;
	if (VMX_EXC_ERROR_CODES & BIT(ev->vector)) {
		ev->flags = VMX_EVENT_HAS_ERROR_CODE;
	} else {
		ev->flags = 0;
		ev->error_code = 0;
	}
}

static struct vmx_event vmx_make_exception(u8 vector, bool has_error,
					   u32 error_code)
{
	return (struct vmx_event) {
		.type = VMX_EVENT_EXCEPTION, .vector = vector,
		.flags = has_error ? VMX_EVENT_HAS_ERROR_CODE : 0,
		.error_code = has_error ? error_code : 0,
	};
}

static bool vmx_exc_contributory(u8 vector)
{
	return vector < 32 && (VMX_EXC_CONTRIBUTORY & BIT(vector));
}

/*
 * The double-fault rules: a contributory exception while delivering a
 * contributory one or a #PF, or a #PF while delivering a #PF, is a #DF;
 * anything but a benign one while delivering a #DF shuts the CPU down.
 * Benign combinations are handled serially: the second one wins, and the
 * first comes back when its instruction runs again.
 */
static bool vmx_exc_is_double(u8 first, u8 second)
{
	if (first == X86_TRAP_PF)
		return second == X86_TRAP_PF || vmx_exc_contributory(second);
	return vmx_exc_contributory(first) && vmx_exc_contributory(second);
}

/*
 * Raise an exception for the guest (from an exit handler or the VMM).
 * An exception already owed the guest (pending, or interrupted in its
 * delivery) combines with it by the double-fault rules; pending NMIs and
 * interrupts are untouched.
 */
void vmx_vcpu_queue_exception(struct vmx_vcpu *vcpu, u8 vector, bool has_error,
			      u32 error_code)
{
	struct vmx_event_queue *q = &vcpu->events;
	const struct vmx_event *first = NULL;

	if (q->exception_pending)
		first = &q->exception;
	else if (q->interrupted_valid &&
		 q->interrupted.type == VMX_EVENT_EXCEPTION)
		first = &q->interrupted;

	if (first && first->vector == X86_TRAP_DF &&
	    (vmx_exc_contributory(vector) || vector == X86_TRAP_PF)) {
		q->triple_fault = true;
		return;
	}
	if (first && vmx_exc_is_double(first->vector, vector))
		q->exception = vmx_make_exception(X86_TRAP_DF, true, 0);
	else
		q->exception = vmx_make_exception(vector, has_error, error_code);
	vmx_event_normalize(&q->exception);
	q->exception_pending = true;
	/* The interrupted exception is replaced or merged, never lost twice. */
	if (first == &q->interrupted)
		q->interrupted_valid = false;
}

/* VMX_INJECT_EVENT: each kind of event has its own slot. */
int vmx_vcpu_inject(struct vmx_vcpu *vcpu, const struct vmx_event *ev)
{
	struct vmx_event_queue *q = &vcpu->events;
	int ret = vmx_event_check(ev);

	if (ret)
		return ret;
	switch (ev->type) {
	case VMX_EVENT_EXCEPTION:
		if (q->exception_pending || q->triple_fault ||
		    (q->interrupted_valid &&
		     q->interrupted.type == VMX_EVENT_EXCEPTION))
			return -EBUSY;
		q->exception = *ev;
		q->exception_pending = true;
		return 0;
	case VMX_EVENT_NMI:
		if (q->nmi_pending)
			return -EBUSY;
		q->nmi_pending = true;
		return 0;
	default:
		if (q->irq_pending || !vmx_ops->irq_window_open(vcpu) ||
		    (q->interrupted_valid &&
		     q->interrupted.type == VMX_EVENT_EXTINT))
			return -EBUSY;
		q->irq_pending = true;
		q->irq_vector = ev->vector;
		return 0;
	}
}

/*
 * Choose the event for this entry, in the order the CPU would take them:
 * an exception first (it belongs to the instruction at RIP or to the
 * delivery that was interrupted), then an interrupted delivery, then an
 * NMI when the guest can take one, then an interrupt when its window is
 * open.  Called by the backend with IRQs off, right before the entry.
 * False when the plan is empty (nothing to inject, no window to open):
 * the common case, which a backend whose windows are closed may skip.
 */
bool vmx_event_pick(struct vmx_vcpu *vcpu, struct vmx_event_plan *plan)
{
	struct vmx_event_queue *q = &vcpu->events;

	memset(plan, 0, sizeof(*plan));
	q->injected = VMX_INJECTED_NONE;
	if (likely(!q->exception_pending && !q->interrupted_valid &&
		   !q->nmi_pending && !q->irq_pending)) {
		plan->irq_window = READ_ONCE(vcpu->run->request_irq_window);
		return plan->irq_window;
	}
	if (q->exception_pending) {
		q->injected = VMX_INJECTED_EXCEPTION;
		plan->event = q->exception;
	} else if (q->interrupted_valid) {
		q->injected = VMX_INJECTED_INTERRUPTED;
		plan->event = q->interrupted;
	} else if (q->nmi_pending && vmx_ops->nmi_allowed(vcpu)) {
		q->injected = VMX_INJECTED_NMI;
		plan->event = (struct vmx_event) {
			.type = VMX_EVENT_NMI, .vector = X86_TRAP_NMI,
		};
	} else if (q->irq_pending && vmx_ops->irq_window_open(vcpu)) {
		q->injected = VMX_INJECTED_IRQ;
		plan->event = (struct vmx_event) {
			.type = VMX_EVENT_EXTINT, .vector = q->irq_vector,
		};
	}
	plan->inject = q->injected != VMX_INJECTED_NONE;
	vmx_stat_injected(vcpu, q->injected);
	plan->nmi_window = q->nmi_pending && q->injected != VMX_INJECTED_NMI;
	plan->irq_window = (q->irq_pending && q->injected != VMX_INJECTED_IRQ) ||
			   READ_ONCE(vcpu->run->request_irq_window);
	return true;
}

/*
 * The event picked for this entry was offered but not taken (a backend
 * that injects interrupts as a request the guest takes when its window
 * opens, and the exit came first): its slot stays as it was.
 */
void vmx_event_not_taken(struct vmx_vcpu *vcpu)
{
	vcpu->events.injected = VMX_INJECTED_NONE;
}

/* The slot the injected event came from is free: it was delivered. */
static void vmx_event_consume(struct vmx_event_queue *q)
{
	switch (q->injected) {
	case VMX_INJECTED_NONE:
		break;
	case VMX_INJECTED_EXCEPTION:
		q->exception_pending = false;
		break;
	case VMX_INJECTED_INTERRUPTED:
		q->interrupted_valid = false;
		break;
	case VMX_INJECTED_NMI:
		q->nmi_pending = false;
		break;
	case VMX_INJECTED_IRQ:
		q->irq_pending = false;
		break;
	}
}

/*
 * After an exit: @interrupted is the event the CPU was delivering when
 * it stopped (NULL if none).  It may be the one injected at this entry
 * or one the guest raised itself; either way it is delivered again,
 * before anything else.  Returns the type of the event injected at this
 * entry if it was delivered (the backend tracks NMI masking), else -1.
 */
int vmx_event_exit(struct vmx_vcpu *vcpu, const struct vmx_event *interrupted)
{
	struct vmx_event_queue *q = &vcpu->events;
	struct vmx_event again;
	int delivered;

	/* Most exits: nothing went in, nothing was being delivered. */
	if (q->injected == VMX_INJECTED_NONE && !interrupted) {
		q->exit_in_delivery = false;
		return -1;
	}
	switch (q->injected) {
	case VMX_INJECTED_EXCEPTION:
		delivered = VMX_EVENT_EXCEPTION;
		break;
	case VMX_INJECTED_INTERRUPTED:
		delivered = q->interrupted.type;
		break;
	case VMX_INJECTED_NMI:
		delivered = VMX_EVENT_NMI;
		break;
	case VMX_INJECTED_IRQ:
		delivered = VMX_EVENT_EXTINT;
		break;
	default:
		delivered = -1;
	}
	vmx_event_consume(q);
	q->exit_in_delivery = !!interrupted;
	if (!interrupted) {
		q->injected = VMX_INJECTED_NONE;
		return delivered;
	}
	again = *interrupted;
	vmx_event_normalize(&again);
	/*
	 * An exception injected ahead of an interrupted NMI or interrupt
	 * was cut short itself: it goes back to its own slot, so that the
	 * one waiting behind it is not overwritten.
	 */
	if (q->injected == VMX_INJECTED_EXCEPTION && q->interrupted_valid &&
	    again.type == VMX_EVENT_EXCEPTION) {
		q->exception = again;
		q->exception_pending = true;
	} else {
		q->interrupted = again;
		q->interrupted_valid = true;
	}
	q->injected = VMX_INJECTED_NONE;
	return -1;
}

/*
 * An MMIO access made by the CPU while delivering an event (to the IDT,
 * a TSS or the stack) is no instruction the VMM could complete: it ends
 * the run with an internal error naming the address, as KVM does.
 */
bool vmx_event_mmio_in_delivery(struct vmx_vcpu *vcpu, u64 gpa)
{
	if (!vcpu->events.exit_in_delivery)
		return false;
	vmx_vcpu_exit_internal(vcpu, VMX_INTERNAL_EVENT_DELIVERY, 1, &gpa);
	return true;
}

/*
 * Does a HLT end now?  Yes for anything the guest would take: an
 * exception or interrupted delivery, an NMI it is not blocking, an
 * interrupt its window lets in.
 */
bool vmx_event_wakes_hlt(struct vmx_vcpu *vcpu)
{
	struct vmx_event_queue *q = &vcpu->events;

	return q->exception_pending || q->interrupted_valid ||
	       (q->nmi_pending && vmx_ops->nmi_allowed(vcpu)) ||
	       (q->irq_pending && vmx_ops->irq_window_open(vcpu));
}

/*
 * The single-step trap after an instruction the hypervisor completed
 * (vmx_vcpu_insn_stepped()): DR6.BS and a #DB.  An exception the VMM
 * queued meanwhile goes in instead, as the fault of the same
 * instruction would have.
 */
void vmx_event_single_step(struct vmx_vcpu *vcpu)
{
	if (vcpu->events.exception_pending || vcpu->events.triple_fault)
		return;
	vmx_ops->note_single_step(vcpu);
	vmx_vcpu_queue_exception(vcpu, X86_TRAP_DB, false, 0);
}

/*
 * VMX_SET_EVENTS: the VMM states the whole queue.  A pending event of
 * any type is accepted in @pending (the form older VMMs use); NMI and
 * interrupt may also come in their own fields.
 */
int vmx_vcpu_set_event_queue(struct vmx_vcpu *vcpu, const struct vmx_events *ev)
{
	struct vmx_event_queue q = { };

	if (ev->pending_valid > 1 || ev->nmi_pending > 1 ||
	    ev->irq_pending > 1 || ev->interrupted_valid > 1 ||
	    (ev->pending_valid && vmx_event_check(&ev->pending)) ||
	    (ev->interrupted_valid && vmx_event_check(&ev->interrupted)) ||
	    (!ev->irq_pending && ev->irq_vector) ||
	    (ev->irq_pending && ev->irq_vector < 32))
		return -EINVAL;
	/* A slot marked empty must be all zero, so it can mean more later. */
	if ((!ev->pending_valid &&
	     !vmx_all_zero(&ev->pending, sizeof(ev->pending))) ||
	    (!ev->interrupted_valid &&
	     !vmx_all_zero(&ev->interrupted, sizeof(ev->interrupted))))
		return -EINVAL;
	q.nmi_pending = ev->nmi_pending;
	q.irq_pending = ev->irq_pending;
	q.irq_vector = ev->irq_vector;
	if (ev->pending_valid) {
		switch (ev->pending.type) {
		case VMX_EVENT_EXCEPTION:
			q.exception = ev->pending;
			q.exception_pending = true;
			break;
		case VMX_EVENT_NMI:
			q.nmi_pending = true;
			break;
		default:
			if (q.irq_pending)
				return -EINVAL;
			q.irq_pending = true;
			q.irq_vector = ev->pending.vector;
		}
	}
	if (ev->interrupted_valid) {
		q.interrupted = ev->interrupted;
		q.interrupted_valid = true;
	}
	vcpu->events = q;
	return 0;
}

void vmx_vcpu_get_event_queue(struct vmx_vcpu *vcpu, struct vmx_events *ev)
{
	struct vmx_event_queue *q = &vcpu->events;

	ev->pending_valid = q->exception_pending;
	if (q->exception_pending)
		ev->pending = q->exception;
	ev->nmi_pending = q->nmi_pending;
	ev->irq_pending = q->irq_pending;
	ev->irq_vector = q->irq_pending ? q->irq_vector : 0;
	ev->interrupted_valid = q->interrupted_valid;
	if (q->interrupted_valid)
		ev->interrupted = q->interrupted;
}

/*
 * A triple fault the double-fault rules produced ends the run like one
 * the CPU reports.
 */
bool vmx_event_triple_fault(struct vmx_vcpu *vcpu)
{
	if (!vcpu->events.triple_fault)
		return false;
	vcpu->events = (struct vmx_event_queue) { };
	vcpu->run->exit_reason = VMX_EXIT_SHUTDOWN;
	return true;
}
