// SPDX-License-Identifier: GPL-2.0
/*
 * vmxrun: the vCPU threads.  Each thread owns one vCPU: before every
 * VMX_RUN it fires its APIC timer if due and injects the highest pending
 * interrupt (or asks for an interrupt window); HLT sleeps on the thread's
 * condition variable until an interrupt is pending.  Other threads reach
 * a running vCPU through a kick: run->immediate_exit plus a signal, the
 * pattern KVM users know (the flag closes the race with a signal that
 * arrives just before the ioctl).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <x86intrin.h>

#include "vmxrun.h"

/*
 * Kicks and APIC timers reach one vCPU thread (pthread_kill, SIGEV_THREAD_ID)
 * with a real-time signal; SIGUSR1 stays the user's (vmxrun.c), since a
 * process-directed signal goes to any thread that does not block it.
 */
#define SIG_KICK	(SIGRTMIN)

static __thread struct vcpu *this_vcpu;

static void kick_handler(int sig)
{
	(void)sig;
	if (this_vcpu)
		__atomic_store_n(&this_vcpu->run->immediate_exit, 1,
				 __ATOMIC_RELAXED);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

void apic_clock_now(struct machine *m, struct libvmx_apic_clock *now)
{
	now->ns = now_ns();
	now->tsc = __rdtsc() + m->tsc_offset;
}

/* Called with m->lock held. */
void vcpu_kick(struct vcpu *c)
{
	if (c->state != VCPU_RUNNING) {
		pthread_cond_signal(&c->wake);
		return;
	}
	if (c->in_guest) {
		__atomic_store_n(&c->run->immediate_exit, 1, __ATOMIC_RELAXED);
		pthread_kill(c->thread, SIG_KICK);
	}
}

/* Called with m->lock held: the first stop wins. */
void machine_stop(struct machine *m, int code)
{
	unsigned int i;

	if (m->stopping)
		return;
	m->stopping = true;
	m->exit_code = code;
	for (i = 0; i < m->nr_cpus; i++)
		vcpu_kick(&m->cpus[i]);
}

static const char *const vcpu_state_names[] = {
	[VCPU_WAIT_SIPI] = "waiting for SIPI",
	[VCPU_RUNNING] = "running",
	[VCPU_HALTED] = "halted",
};

/* One line per vCPU on stderr: what a hung guest was doing. */
void vcpus_report(struct machine *m)
{
	unsigned int i;

	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->nr_cpus; i++) {
		struct vcpu *c = &m->cpus[i];

		warnx_("vCPU %u: %s%s, %llu exits, the last %u at RIP %#llx",
		       c->id, vcpu_state_names[c->state],
		       c->in_guest ? " (in the guest)" : "",
		       (unsigned long long)c->exits, c->run->exit_reason,
		       (unsigned long long)c->run->rip);
	}
	pthread_mutex_unlock(&m->lock);
}

struct vcpu *vcpu_by_apic_id(struct machine *m, uint32_t id)
{
	return id < m->nr_cpus ? &m->cpus[id] : NULL;
}

static void deliver_one(struct vcpu *c, const struct libvmx_apic_msg *msg)
{
	switch (msg->delivery) {
	case LIBVMX_APIC_FIXED:
	case LIBVMX_APIC_LOWEST:
		libvmx_lapic_accept(c->lapic, msg->vector, msg->trigger_level);
		break;
	case LIBVMX_APIC_NMI:
		c->nmi_pending = true;
		break;
	case LIBVMX_APIC_INIT:
		/* The de-assert form (level 0, trigger level) is a no-op. */
		if (!msg->level && msg->trigger_level)
			return;
		/*
		 * The vCPU waits for a SIPI from now on, even before its
		 * thread has seen the INIT: Linux sends INIT and both SIPIs
		 * within microseconds, and a SIPI that came before the
		 * thread woke up must start it.
		 */
		c->init_pending = true;
		c->sipi_vector = -1;
		break;
	case LIBVMX_APIC_SIPI:
		if ((c->state != VCPU_WAIT_SIPI && !c->init_pending) ||
		    c->sipi_vector >= 0)
			return;
		c->sipi_vector = msg->vector;
		break;
	default:
		return;		/* SMI, ExtINT: nothing models them */
	}
	vcpu_kick(c);
}

static bool msg_targets(struct vcpu *c, struct vcpu *from,
			const struct libvmx_apic_msg *msg)
{
	switch (msg->shorthand) {
	case 1:
		return c == from;
	case 2:
		return true;
	case 3:
		return c != from;
	}
	return libvmx_lapic_match(c->lapic, msg);
}

/*
 * Route an interrupt message (an IPI from @from, or an I/O APIC
 * redirection with @from NULL) to its destinations.  Lowest priority goes
 * to the first match: any choice is architecturally valid.  Called with
 * m->lock held.
 */
void apic_route(struct machine *m, struct vcpu *from,
		const struct libvmx_apic_msg *msg)
{
	unsigned int i;

	for (i = 0; i < m->nr_cpus; i++) {
		struct vcpu *c = &m->cpus[i];

		if (!msg_targets(c, from, msg))
			continue;
		deliver_one(c, msg);
		if (msg->delivery == LIBVMX_APIC_LOWEST)
			return;
	}
}

/* Keep the host timer that kicks this thread in step with its APIC. */
static void vcpu_arm_timer(struct vcpu *c)
{
	uint64_t deadline = libvmx_lapic_timer_deadline(c->lapic);
	struct itimerspec its = { 0 };

	if (deadline == c->timer_armed_ns)
		return;
	c->timer_armed_ns = deadline;
	its.it_value.tv_sec = deadline / 1000000000ULL;
	its.it_value.tv_nsec = deadline % 1000000000ULL;
	timer_settime(c->timer, TIMER_ABSTIME, &its, NULL);
}

static void vcpu_update_timer(struct vcpu *c)
{
	struct libvmx_apic_clock now;

	apic_clock_now(c->m, &now);
	libvmx_lapic_timer_update(c->lapic, &now);
	vcpu_arm_timer(c);
}

/* Something that ends a HLT: an interrupt the guest can take, NMI, INIT. */
static bool vcpu_has_wake_event(struct vcpu *c, bool if_flag)
{
	if (c->m->stopping || c->nmi_pending || c->init_pending)
		return true;
	return if_flag && libvmx_lapic_pending(c->lapic) >= 0;
}

static void vcpu_timed_wait(struct vcpu *c)
{
	uint64_t deadline = libvmx_lapic_timer_deadline(c->lapic);
	struct timespec ts;

	if (!deadline) {
		pthread_cond_wait(&c->wake, &c->m->lock);
		return;
	}
	ts.tv_sec = deadline / 1000000000ULL;
	ts.tv_nsec = deadline % 1000000000ULL;
	pthread_cond_timedwait(&c->wake, &c->m->lock, &ts);
}

/* HLT: sleep until the guest has something to do.  m->lock held. */
static void vcpu_halt(struct vcpu *c, bool if_flag)
{
	c->state = VCPU_HALTED;
	for (;;) {
		vcpu_update_timer(c);
		if (vcpu_has_wake_event(c, if_flag))
			break;
		vcpu_timed_wait(c);
	}
	c->state = VCPU_RUNNING;
}

/*
 * INIT puts the vCPU in its reset state and waits for a start-up IPI; the
 * first SIPI starts it in real mode at vector << 12 (SDM "MP
 * Initialization Protocol").  An AP begins here.  m->lock held; > 0 when
 * the machine stops meanwhile.
 */
static int vcpu_wait_sipi(struct vcpu *c)
{
	struct vmx_sregs sregs = c->reset_sregs;
	struct vmx_regs regs;
	int vector, ret;

	for (;;) {
		if (c->m->stopping)
			return 1;
		/* sipi_vector is not reset here: see deliver_one(). */
		if (c->init_pending) {
			c->init_pending = false;
			c->nmi_pending = false;
			c->state = VCPU_WAIT_SIPI;
			libvmx_lapic_reset(c->lapic);
		}
		if (c->sipi_vector >= 0)
			break;
		pthread_cond_wait(&c->wake, &c->m->lock);
	}
	vector = c->sipi_vector;
	c->sipi_vector = -1;
	c->state = VCPU_RUNNING;

	sregs.cs.selector = vector << 8;
	sregs.cs.base = (uint64_t)vector << 12;
	memset(&regs, 0, sizeof(regs));
	regs.rflags = 2;
	ret = libvmx_vcpu_set_sregs(c->vcpu, &sregs);
	return ret ? ret : libvmx_vcpu_set_regs(c->vcpu, &regs);
}

/*
 * Before an entry: NMI first, then the APIC's best vector if the guest
 * can take it now, else ask the kernel for an interrupt-window exit.
 * m->lock held.
 */
static void vcpu_inject(struct vcpu *c)
{
	int vector, ret;

	c->run->request_irq_window = 0;
	if (c->nmi_pending &&
	    !libvmx_vcpu_inject(c->vcpu, VMX_EVENT_NMI, 2, 0, 0))
		c->nmi_pending = false;
	vector = libvmx_lapic_pending(c->lapic);
	if (vector < 0)
		return;
	ret = libvmx_vcpu_inject(c->vcpu, VMX_EVENT_EXTINT, vector, 0, 0);
	if (!ret)
		libvmx_lapic_ack(c->lapic, vector);
	else
		c->run->request_irq_window = 1;
}

/* The steps before each VMX_RUN; > 0: the machine is stopping. */
static int vcpu_prepare_entry(struct vcpu *c)
{
	int ret = 0;

	pthread_mutex_lock(&c->m->lock);
	__atomic_store_n(&c->run->immediate_exit, 0, __ATOMIC_RELAXED);
	if (c->init_pending || c->state == VCPU_WAIT_SIPI)
		ret = vcpu_wait_sipi(c);
	if (!ret && c->m->stopping)
		ret = 1;
	if (!ret) {
		vcpu_update_timer(c);
		vcpu_inject(c);
		c->in_guest = true;
	}
	pthread_mutex_unlock(&c->m->lock);
	return ret;
}

/* The guest jumped to a device or to nothing: no instruction to run. */
static bool fetch_outside_ram(const struct vmx_run *run)
{
	return run->exit_reason == VMX_EXIT_MMIO && run->mmio.is_fetch;
}

static void report_failure(struct vcpu *c, struct vmx_run *run)
{
	struct vmx_sregs sregs;
	struct vmx_regs regs;
	unsigned int i;

	switch (run->exit_reason) {
	case VMX_EXIT_SHUTDOWN:
		warnx_("vCPU %u: the guest triple-faulted (shutdown) at RIP %#llx",
		       c->id, (unsigned long long)run->rip);
		break;
	case VMX_EXIT_FAIL_ENTRY:
		warnx_("vCPU %u: the CPU refused the guest state (hardware reason %#llx)",
		       c->id, (unsigned long long)run->fail_entry.hardware_reason);
		break;
	case VMX_EXIT_INTERNAL_ERROR:
		fprintf(stderr, "vmxrun: vCPU %u: internal error %u:", c->id,
			run->internal.suberror);
		for (i = 0; i < run->internal.ndata && i < 8; i++)
			fprintf(stderr, " %#llx",
				(unsigned long long)run->internal.data[i]);
		fputc('\n', stderr);
		break;
	case VMX_EXIT_MMIO:
		warnx_("vCPU %u: the guest fetched code outside RAM (gpa %#llx) at RIP %#llx",
		       c->id, (unsigned long long)run->mmio.gpa,
		       (unsigned long long)run->rip);
		break;
	default:
		warnx_("vCPU %u: unexpected exit %u at RIP %#llx", c->id,
		       run->exit_reason, (unsigned long long)run->rip);
	}
	if (!libvmx_vcpu_get_regs(c->vcpu, &regs))
		warnx_("vCPU %u: rip %#llx rsp %#llx rax %#llx rflags %#llx",
		       c->id, (unsigned long long)regs.rip,
		       (unsigned long long)regs.rsp,
		       (unsigned long long)regs.rax,
		       (unsigned long long)regs.rflags);
	if (!libvmx_vcpu_get_sregs(c->vcpu, &sregs))
		warnx_("vCPU %u: cr0 %#llx cr2 %#llx cr3 %#llx cr4 %#llx efer %#llx cs %#x:%#llx",
		       c->id, (unsigned long long)sregs.cr0,
		       (unsigned long long)sregs.cr2,
		       (unsigned long long)sregs.cr3,
		       (unsigned long long)sregs.cr4,
		       (unsigned long long)sregs.efer, sregs.cs.selector,
		       (unsigned long long)sregs.cs.base);
}

static int vcpu_cb_pio(void *opaque, struct libvmx_vcpu *v, uint16_t port,
		       void *data, unsigned int size, bool is_out)
{
	struct vcpu *c = opaque;

	(void)v;
	return bus_pio(c->m, c, port, data, size, is_out);
}

static int vcpu_cb_mmio(void *opaque, struct libvmx_vcpu *v, uint64_t gpa,
			void *data, unsigned int size, bool is_write)
{
	struct vcpu *c = opaque;

	(void)v;
	return bus_mmio(c->m, c, gpa, data, size, is_write);
}

/* No hypercalls are offered: the guest gets KVM's -ENOSYS (-1000). */
static int vcpu_cb_hypercall(void *opaque, struct libvmx_vcpu *v, uint64_t nr,
			     const uint64_t args[5], uint64_t *ret)
{
	(void)opaque; (void)v; (void)nr; (void)args;
	*ret = (uint64_t)-1000;
	return 0;
}

static int vcpu_cb_exit(void *opaque, struct libvmx_vcpu *v,
			struct vmx_run *run)
{
	struct vcpu *c = opaque;

	(void)v;
	switch (run->exit_reason) {
	case VMX_EXIT_HLT:
		pthread_mutex_lock(&c->m->lock);
		vcpu_halt(c, run->if_flag);
		pthread_mutex_unlock(&c->m->lock);
		return 0;
	case VMX_EXIT_IRQ_WINDOW:
	case VMX_EXIT_INTR:
		return 0;
	case VMX_EXIT_MSR:
		return bus_msr(c->m, c, run);
	}
	report_failure(c, run);
	return EXIT_GUEST_FAILED;
}

static const struct libvmx_exit_ops vcpu_exit_ops = {
	.pio = vcpu_cb_pio,
	.mmio = vcpu_cb_mmio,
	.hypercall = vcpu_cb_hypercall,
	.exit = vcpu_cb_exit,
};

/* A positive code stops the machine with it; 1 means "already stopping". */
static int vcpu_loop(struct vcpu *c)
{
	int ret;

	for (;;) {
		ret = vcpu_prepare_entry(c);
		if (ret)
			return ret;
		ret = libvmx_vcpu_run(c->vcpu);
		pthread_mutex_lock(&c->m->lock);
		c->in_guest = false;
		pthread_mutex_unlock(&c->m->lock);
		if (ret && !(ret == -EINTR && c->run->exit_reason == VMX_EXIT_INTR))
			return ret;
		c->exits++;
		if (fetch_outside_ram(c->run)) {
			report_failure(c, c->run);
			return EXIT_GUEST_FAILED;
		}
		ret = libvmx_vcpu_dispatch(c->vcpu, &vcpu_exit_ops, c);
		if (ret)
			return ret;
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *c = arg;
	struct sigevent sev = {
		.sigev_notify = SIGEV_THREAD_ID,
		.sigev_signo = SIG_KICK,
	};
	sigset_t set;
	int ret;

	this_vcpu = c;
	sev._sigev_un._tid = gettid();
	if (timer_create(CLOCK_MONOTONIC, &sev, &c->timer)) {
		ret = -errno;
		goto out;
	}
	sigemptyset(&set);
	sigaddset(&set, SIG_KICK);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	ret = vcpu_loop(c);
	timer_delete(c->timer);
out:
	pthread_mutex_lock(&c->m->lock);
	if (ret < 0) {
		warnx_("vCPU %u: %s", c->id, strerror(-ret));
		machine_stop(c->m, EXIT_GUEST_FAILED);
	} else if (ret > 1) {
		machine_stop(c->m, ret);
	}
	pthread_mutex_unlock(&c->m->lock);
	return NULL;
}

int vcpus_create(struct machine *m)
{
	struct sigaction sa = { .sa_handler = kick_handler };
	pthread_condattr_t attr;
	unsigned int i;
	int ret;

	sigaction(SIG_KICK, &sa, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	for (i = 0; i < m->nr_cpus; i++) {
		struct vcpu *c = &m->cpus[i];

		c->m = m;
		c->id = i;
		c->sipi_vector = -1;
		c->state = i ? VCPU_WAIT_SIPI : VCPU_RUNNING;
		pthread_cond_init(&c->wake, &attr);
		ret = libvmx_vcpu_create(m->vm, i, &c->vcpu);
		if (ret)
			return ret;
		c->run = libvmx_vcpu_run_area(c->vcpu);
		c->run->msr_exits = 1;
		/* A new vCPU is in the reset state: what INIT returns to. */
		ret = libvmx_vcpu_get_sregs(c->vcpu, &c->reset_sregs);
		if (ret)
			return ret;
	}
	pthread_condattr_destroy(&attr);
	return 0;
}

/*
 * Start every vCPU thread; the signal the kick uses stays blocked in all
 * other threads so that it always lands on the vCPU it is meant for.
 */
int vcpus_start(struct machine *m)
{
	sigset_t set, old;
	unsigned int i;
	int ret = 0;

	sigemptyset(&set);
	sigaddset(&set, SIG_KICK);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	for (i = 0; i < m->nr_cpus && !ret; i++) {
		ret = -pthread_create(&m->cpus[i].thread, NULL, vcpu_thread,
				      &m->cpus[i]);
		m->cpus[i].thread_started = !ret;
	}
	return ret;
}
