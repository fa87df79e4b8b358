// SPDX-License-Identifier: GPL-2.0
/*
 * Event injection: exceptions (with and without error code), NMIs and
 * their masking until IRET, external interrupts through the interrupt
 * window, the errors of VMX_INJECT_EVENT and the GET/SET_EVENTS state.
 */
#include <time.h>

#include "test_util.h"
#include "kselftest_harness.h"

#include "vmx_harness.h"
#include "guest.h"

static volatile uint64_t seen_vector, seen_error, seen_count;

static uint64_t record_handler(uint64_t vector, uint64_t error, uint64_t rip)
{
	seen_vector = vector;
	seen_error = error;
	seen_count++;
	return rip;
}

static int inject(struct libvmx_vcpu *vcpu, uint32_t type, uint32_t vector,
		  uint32_t flags, uint32_t error)
{
	struct vmx_event ev = {
		.type = type, .vector = vector, .flags = flags,
		.error_code = error,
	};

	return ioctl_err(libvmx_vcpu_fd(vcpu), VMX_INJECT_EVENT, &ev);
}

static void guest_exceptions(void)
{
	guest_handlers[13] = record_handler;
	guest_handlers[6] = record_handler;
	guest_handlers[14] = record_handler;
	GUEST_SYNC(1);
	/* The #GP went in before the next instruction. */
	GUEST_SYNC3(2, seen_vector, seen_error);
	GUEST_SYNC3(3, seen_vector, seen_count);
	GUEST_SYNC3(4, seen_vector, seen_error);
	GUEST_DONE();
}

TEST(inject_exceptions)
{
	struct test_vm *t;
	struct libvmx_vcpu *vcpu;
	struct vmx_events ev;
	struct ucall uc;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_exceptions));
	vcpu = t->vcpus[0];
	ASSERT_SYNC(vcpu, 1);
	ASSERT_EQ(0, inject(vcpu, VMX_EVENT_EXCEPTION, 13, VMX_EVENT_HAS_ERROR_CODE, 0x1234));
	/* One exception at a time. */
	EXPECT_EQ(-EBUSY, inject(vcpu, VMX_EVENT_EXCEPTION, 6, 0, 0));
	ASSERT_EQ(0, ioctl_err(libvmx_vcpu_fd(vcpu), VMX_GET_EVENTS, &ev));
	EXPECT_EQ(1, ev.pending_valid);
	EXPECT_EQ(13, ev.pending.vector);
	EXPECT_EQ(0x1234, ev.pending.error_code);
	ASSERT_UCALL_INTO(vcpu, UCALL_SYNC, &uc);
	EXPECT_EQ(2, uc.args[0]);
	EXPECT_EQ(13, uc.args[1]);
	EXPECT_EQ(0x1234, uc.args[2]);
	ASSERT_EQ(0, ioctl_err(libvmx_vcpu_fd(vcpu), VMX_GET_EVENTS, &ev));
	EXPECT_EQ(0, ev.pending_valid);

	ASSERT_EQ(0, inject(vcpu, VMX_EVENT_EXCEPTION, 6, 0, 0));
	ASSERT_UCALL_INTO(vcpu, UCALL_SYNC, &uc);
	EXPECT_EQ(3, uc.args[0]);
	EXPECT_EQ(6, uc.args[1]);
	EXPECT_EQ(2, uc.args[2]);

	ASSERT_EQ(0, inject(vcpu, VMX_EVENT_EXCEPTION, 14, VMX_EVENT_HAS_ERROR_CODE, 0x7));
	ASSERT_UCALL_INTO(vcpu, UCALL_SYNC, &uc);
	EXPECT_EQ(4, uc.args[0]);
	EXPECT_EQ(14, uc.args[1]);
	EXPECT_EQ(7, uc.args[2]);
	ASSERT_UCALL(vcpu, UCALL_DONE);
	test_vm_destroy(t);
}

static volatile int nmi_count;

static uint64_t nmi_handler(uint64_t vector, uint64_t error, uint64_t rip)
{
	nmi_count++;
	/* Inside the handler: NMIs are masked until our IRET. */
	GUEST_SYNC2(100, nmi_count);
	GUEST_SYNC2(101, nmi_count);
	return rip;
}

static void guest_nmi(void)
{
	guest_handlers[2] = nmi_handler;
	GUEST_SYNC(1);
	GUEST_SYNC2(2, nmi_count);
	GUEST_DONE();
}

TEST(inject_nmi_masked_until_iret)
{
	struct test_vm *t;
	struct libvmx_vcpu *vcpu;
	struct vmx_events ev;
	struct ucall uc;
	int fd;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_nmi));
	vcpu = t->vcpus[0];
	fd = libvmx_vcpu_fd(vcpu);
	ASSERT_SYNC(vcpu, 1);
	ASSERT_EQ(0, ioctl_err(fd, VMX_GET_EVENTS, &ev));
	EXPECT_EQ(0, ev.nmi_masked);
	ASSERT_EQ(0, inject(vcpu, VMX_EVENT_NMI, 2, 0, 0));
	ASSERT_UCALL_INTO(vcpu, UCALL_SYNC, &uc);
	ASSERT_EQ(100, uc.args[0]);
	EXPECT_EQ(1, uc.args[1]);
	ASSERT_EQ(0, ioctl_err(fd, VMX_GET_EVENTS, &ev));
	EXPECT_EQ(1, ev.nmi_masked);
	/* A second NMI waits for the first handler's IRET. */
	ASSERT_EQ(0, inject(vcpu, VMX_EVENT_NMI, 2, 0, 0));
	ASSERT_UCALL_INTO(vcpu, UCALL_SYNC, &uc);
	ASSERT_EQ(101, uc.args[0]);
	EXPECT_EQ(1, uc.args[1]);
	/* IRET, then the second NMI. */
	ASSERT_UCALL_INTO(vcpu, UCALL_SYNC, &uc);
	ASSERT_EQ(100, uc.args[0]);
	EXPECT_EQ(2, uc.args[1]);
	ASSERT_SYNC(vcpu, 101);
	ASSERT_UCALL_INTO(vcpu, UCALL_SYNC, &uc);
	ASSERT_EQ(2, uc.args[0]);
	EXPECT_EQ(2, uc.args[1]);
	ASSERT_EQ(0, ioctl_err(fd, VMX_GET_EVENTS, &ev));
	EXPECT_EQ(0, ev.nmi_masked);
	ASSERT_UCALL(vcpu, UCALL_DONE);
	test_vm_destroy(t);
}

static volatile uint64_t irq_vector;

static uint64_t irq_handler(uint64_t vector, uint64_t error, uint64_t rip)
{
	irq_vector = vector;
	return rip;
}

static void guest_irq(void)
{
	guest_handlers[0x41] = irq_handler;
	guest_handlers[0xfe] = irq_handler;
	guest_cli();
	GUEST_SYNC(1);
	/* Interrupts on: the window opens right here. */
	guest_sti();
	while (!irq_vector)
		guest_pause();
	guest_cli();
	GUEST_SYNC2(2, irq_vector);
	irq_vector = 0;
	guest_sti();
	while (!irq_vector)
		guest_pause();
	GUEST_SYNC2(3, irq_vector);
	GUEST_DONE();
}

TEST(extint_through_irq_window)
{
	struct test_vm *t;
	struct libvmx_vcpu *vcpu;
	struct vmx_run *run;
	struct ucall uc;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_irq));
	vcpu = t->vcpus[0];
	run = libvmx_vcpu_run_area(vcpu);
	ASSERT_SYNC(vcpu, 1);
	EXPECT_EQ(0, run->if_flag);
	EXPECT_EQ(0, run->irq_window_open);
	/* IF is clear: not now. */
	EXPECT_EQ(-EBUSY, inject(vcpu, VMX_EVENT_EXTINT, 0x41, 0, 0));
	run->request_irq_window = 1;
	ASSERT_EXIT(vcpu, VMX_EXIT_IRQ_WINDOW);
	EXPECT_EQ(1, run->if_flag);
	EXPECT_EQ(1, run->irq_window_open);
	ASSERT_EQ(0, inject(vcpu, VMX_EVENT_EXTINT, 0x41, 0, 0));
	/* Already one pending. */
	EXPECT_EQ(-EBUSY, inject(vcpu, VMX_EVENT_EXTINT, 0x42, 0, 0));
	run->request_irq_window = 0;
	ASSERT_UCALL_INTO(vcpu, UCALL_SYNC, &uc);
	EXPECT_EQ(2, uc.args[0]);
	EXPECT_EQ(0x41, uc.args[1]);

	/* Requested while the guest has IF clear, opens at its STI. */
	EXPECT_EQ(-EBUSY, inject(vcpu, VMX_EVENT_EXTINT, 0xfe, 0, 0));
	run->request_irq_window = 1;
	ASSERT_EXIT(vcpu, VMX_EXIT_IRQ_WINDOW);
	ASSERT_EQ(0, inject(vcpu, VMX_EVENT_EXTINT, 0xfe, 0, 0));
	run->request_irq_window = 0;
	ASSERT_UCALL_INTO(vcpu, UCALL_SYNC, &uc);
	EXPECT_EQ(3, uc.args[0]);
	EXPECT_EQ(0xfe, uc.args[1]);
	ASSERT_UCALL(vcpu, UCALL_DONE);
	test_vm_destroy(t);
}

TEST(inject_errors)
{
	struct test_vm *t;
	struct libvmx_vcpu *vcpu;
	struct vmx_event ev;
	int fd;

	ASSERT_EQ(0, test_vm_create(&t, 1, NULL));
	vcpu = t->vcpus[0];
	fd = libvmx_vcpu_fd(vcpu);
	/* Bad types and vectors. */
	EXPECT_EQ(-EINVAL, inject(vcpu, 1, 32, 0, 0));
	EXPECT_EQ(-EINVAL, inject(vcpu, 4, 3, 0, 0));
	EXPECT_EQ(-EINVAL, inject(vcpu, 0xffffffff, 3, 0, 0));
	EXPECT_EQ(-EINVAL, inject(vcpu, VMX_EVENT_EXTINT, 31, 0, 0));
	EXPECT_EQ(-EINVAL, inject(vcpu, VMX_EVENT_EXTINT, 256, 0, 0));
	EXPECT_EQ(-EINVAL, inject(vcpu, VMX_EVENT_EXTINT, 0x40,
				  VMX_EVENT_HAS_ERROR_CODE, 1));
	EXPECT_EQ(-EINVAL, inject(vcpu, VMX_EVENT_NMI, 3, 0, 0));
	EXPECT_EQ(-EINVAL, inject(vcpu, VMX_EVENT_NMI, 2, VMX_EVENT_HAS_ERROR_CODE, 0));
	EXPECT_EQ(-EINVAL, inject(vcpu, VMX_EVENT_EXCEPTION, 2, 0, 0));
	EXPECT_EQ(-EINVAL, inject(vcpu, VMX_EVENT_EXCEPTION, 32, 0, 0));
	/* The error code goes with the vector. */
	EXPECT_EQ(-EINVAL, inject(vcpu, VMX_EVENT_EXCEPTION, 13, 0, 0));
	EXPECT_EQ(-EINVAL, inject(vcpu, VMX_EVENT_EXCEPTION, 6, VMX_EVENT_HAS_ERROR_CODE, 0));
	EXPECT_EQ(-EINVAL, inject(vcpu, VMX_EVENT_EXCEPTION, 6, 0, 5));
	EXPECT_EQ(-EINVAL, inject(vcpu, VMX_EVENT_EXCEPTION, 6, 2, 0));
	memset(&ev, 0, sizeof(ev));
	ev.type = VMX_EVENT_EXCEPTION;
	ev.vector = 6;
	ev.reserved[1] = 1;
	EXPECT_EQ(-EINVAL, ioctl_err(fd, VMX_INJECT_EVENT, &ev));
	EXPECT_EQ(-EFAULT, ioctl_err(fd, VMX_INJECT_EVENT, NULL));
	/* Reset state: IF clear, so no external interrupt. */
	EXPECT_EQ(-EBUSY, inject(vcpu, VMX_EVENT_EXTINT, 0x40, 0, 0));
	/* Nothing of that was queued. */
	EXPECT_EQ(0, inject(vcpu, VMX_EVENT_NMI, 2, 0, 0));
	test_vm_destroy(t);
}

TEST(events_get_set_roundtrip)
{
	struct test_vm *t;
	struct vmx_events ev, got;
	int fd;

	ASSERT_EQ(0, test_vm_create(&t, 1, NULL));
	fd = libvmx_vcpu_fd(t->vcpus[0]);
	memset(&ev, 0xff, sizeof(ev));
	ASSERT_EQ(0, ioctl_err(fd, VMX_GET_EVENTS, &ev));
	EXPECT_EQ(0, ev.pending_valid);
	EXPECT_EQ(0, ev.int_shadow);
	EXPECT_EQ(0, ev.nmi_masked);
	EXPECT_EQ(0, ev.flags);

	memset(&ev, 0, sizeof(ev));
	ev.pending_valid = 1;
	ev.pending.type = VMX_EVENT_EXCEPTION;
	ev.pending.vector = 14;
	ev.pending.flags = VMX_EVENT_HAS_ERROR_CODE;
	ev.pending.error_code = 0x15;
	ev.int_shadow = 1;
	ev.nmi_masked = 1;
	ASSERT_EQ(0, ioctl_err(fd, VMX_SET_EVENTS, &ev));
	memset(&got, 0xff, sizeof(got));
	ASSERT_EQ(0, ioctl_err(fd, VMX_GET_EVENTS, &got));
	EXPECT_EQ(0, memcmp(&ev, &got, sizeof(ev)));
	/* A queued exception blocks another one, not an NMI. */
	EXPECT_EQ(-EBUSY, inject(t->vcpus[0], VMX_EVENT_EXCEPTION, 6, 0, 0));
	EXPECT_EQ(0, inject(t->vcpus[0], VMX_EVENT_NMI, 2, 0, 0));
	ASSERT_EQ(0, ioctl_err(fd, VMX_GET_EVENTS, &got));
	EXPECT_EQ(1, got.nmi_pending);
	EXPECT_EQ(1, got.pending_valid);
	EXPECT_EQ(14, got.pending.vector);

	/* Every slot round-trips. */
	memset(&ev, 0, sizeof(ev));
	ev.nmi_pending = 1;
	ev.irq_pending = 1;
	ev.irq_vector = 0x33;
	ev.interrupted_valid = 1;
	ev.interrupted.type = VMX_EVENT_EXCEPTION;
	ev.interrupted.vector = 13;
	ev.interrupted.flags = VMX_EVENT_HAS_ERROR_CODE;
	ev.interrupted.error_code = 8;
	ASSERT_EQ(0, ioctl_err(fd, VMX_SET_EVENTS, &ev));
	memset(&got, 0xff, sizeof(got));
	ASSERT_EQ(0, ioctl_err(fd, VMX_GET_EVENTS, &got));
	EXPECT_EQ(0, memcmp(&ev, &got, sizeof(ev)));
	/* The older form: an NMI in @pending lands in its own slot. */
	memset(&ev, 0, sizeof(ev));
	ev.pending_valid = 1;
	ev.pending.type = VMX_EVENT_NMI;
	ev.pending.vector = 2;
	ASSERT_EQ(0, ioctl_err(fd, VMX_SET_EVENTS, &ev));
	ASSERT_EQ(0, ioctl_err(fd, VMX_GET_EVENTS, &got));
	EXPECT_EQ(0, got.pending_valid);
	EXPECT_EQ(1, got.nmi_pending);

	memset(&ev, 0, sizeof(ev));
	ASSERT_EQ(0, ioctl_err(fd, VMX_SET_EVENTS, &ev));
	ASSERT_EQ(0, ioctl_err(fd, VMX_GET_EVENTS, &got));
	EXPECT_EQ(0, memcmp(&ev, &got, sizeof(ev)));

#define BAD_EVENTS(stmt)						\
	do {								\
		memset(&ev, 0, sizeof(ev));				\
		stmt;							\
		EXPECT_EQ(-EINVAL, ioctl_err(fd, VMX_SET_EVENTS, &ev))	\
			TH_LOG("%s", #stmt);				\
	} while (0)
	BAD_EVENTS(ev.flags = 1);
	BAD_EVENTS(ev.pad2 = 1);
	BAD_EVENTS(ev.pad = 1);
	BAD_EVENTS(ev.nmi_pending = 2);
	BAD_EVENTS(ev.irq_pending = 2);
	BAD_EVENTS(ev.interrupted_valid = 2);
	BAD_EVENTS(ev.irq_vector = 0x40);
	BAD_EVENTS((ev.irq_pending = 1, ev.irq_vector = 31));
	BAD_EVENTS(ev.interrupted.vector = 6);
	BAD_EVENTS(ev.pending.vector = 6);
	BAD_EVENTS((ev.interrupted_valid = 1, ev.interrupted.type = 7));
	BAD_EVENTS((ev.interrupted_valid = 1,
		    ev.interrupted.type = VMX_EVENT_EXCEPTION,
		    ev.interrupted.vector = 13));
	BAD_EVENTS((ev.interrupted_valid = 1, ev.interrupted.type = VMX_EVENT_NMI,
		    ev.interrupted.vector = 2, ev.interrupted.reserved[1] = 1));
	BAD_EVENTS((ev.pending_valid = 1, ev.pending.type = VMX_EVENT_EXTINT,
		    ev.pending.vector = 0x40, ev.irq_pending = 1,
		    ev.irq_vector = 0x41));
	BAD_EVENTS(ev.pending_valid = 2);
	BAD_EVENTS(ev.int_shadow = 2);
	BAD_EVENTS(ev.nmi_masked = 2);
	BAD_EVENTS((ev.pending_valid = 1, ev.pending.type = 9));
	BAD_EVENTS((ev.pending_valid = 1, ev.pending.type = VMX_EVENT_EXTINT,
		    ev.pending.vector = 3));
#undef BAD_EVENTS
	EXPECT_EQ(-EFAULT, ioctl_err(fd, VMX_SET_EVENTS, NULL));
	EXPECT_EQ(-EFAULT, ioctl_err(fd, VMX_GET_EVENTS, NULL));
	/* The refused ones changed nothing. */
	ASSERT_EQ(0, ioctl_err(fd, VMX_GET_EVENTS, &got));
	EXPECT_EQ(0, got.pending_valid | got.int_shadow | got.nmi_masked |
		  got.nmi_pending | got.irq_pending | got.interrupted_valid);
	test_vm_destroy(t);
}

/* The window opens at the first instruction after STI. */
static volatile uint64_t gp_seen;

static uint64_t gp_skip_rdmsr(uint64_t vector, uint64_t error, uint64_t rip)
{
	gp_seen++;
	return rip + 2;		/* rdmsr is 0f 32 */
}

static void guest_irq_displaced(void)
{
	guest_handlers[13] = gp_skip_rdmsr;
	guest_handlers[0x44] = irq_handler;
	guest_sti();
	GUEST_SYNC(1);
	/* IF is clear now (the VMM cleared it): the interrupt must wait. */
	guest_rdmsr(0x12345678);
	GUEST_ASSERT_EQ(gp_seen, 1);
	GUEST_ASSERT_EQ(irq_vector, 0);
	guest_sti();
	while (!irq_vector)
		guest_pause();
	GUEST_SYNC2(2, irq_vector);
	GUEST_DONE();
}

/*
 * An external interrupt waiting for its window is not lost when the
 * kernel raises an exception (#GP for an unknown MSR) in the meantime.
 */
TEST(exception_does_not_displace_waiting_irq)
{
	struct test_vm *t;
	struct libvmx_vcpu *vcpu;
	struct vmx_regs regs;
	struct ucall uc;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_irq_displaced));
	vcpu = t->vcpus[0];
	ASSERT_SYNC(vcpu, 1);
	ASSERT_EQ(0, inject(vcpu, VMX_EVENT_EXTINT, 0x44, 0, 0));
	ASSERT_EQ(0, libvmx_vcpu_get_regs(vcpu, &regs));
	regs.rflags &= ~(1ULL << 9);
	/* SET_REGS takes over the ucall's OUT: step over it ourselves. */
	regs.rip += libvmx_vcpu_run_area(vcpu)->io.insn_len;
	ASSERT_EQ(0, libvmx_vcpu_set_regs(vcpu, &regs));
	ASSERT_UCALL_INTO(vcpu, UCALL_SYNC, &uc);
	EXPECT_EQ(2, uc.args[0]);
	EXPECT_EQ(0x44, uc.args[1]);
	ASSERT_UCALL(vcpu, UCALL_DONE);
	test_vm_destroy(t);
}

/* Set by the host: TSC ticks the handler below spins (about 2 ms). */
static uint64_t once_spin_ticks;
static volatile uint64_t once_entries;

static uint64_t spinning_irq_handler(uint64_t vector, uint64_t error,
				     uint64_t rip)
{
	uint64_t t0 = guest_rdtsc();

	/* No PAUSE: QEMU ends its CPU loop at each one, which hides the bug. */
	while (guest_rdtsc() - t0 < once_spin_ticks)
		__asm__ volatile("" ::: "memory");
	once_entries++;
	return rip;
}

static void guest_irq_once(void)
{
	guest_handlers[0x41] = spinning_irq_handler;
	for (;;) {
		guest_sti();
		guest_hlt();
		guest_cli();
		GUEST_SYNC2(1, once_entries);
	}
}

static uint64_t tsc_ticks_per_ms(void)
{
	struct timespec a, b;
	uint64_t t0, t1, ns;

	clock_gettime(CLOCK_MONOTONIC, &a);
	t0 = __builtin_ia32_rdtsc();
	usleep(20000);
	clock_gettime(CLOCK_MONOTONIC, &b);
	t1 = __builtin_ia32_rdtsc();
	ns = (b.tv_sec - a.tv_sec) * 1000000000ULL + b.tv_nsec - a.tv_nsec;
	return ns ? (t1 - t0) * 1000000ULL / ns : 0;
}

/*
 * Each injected interrupt runs its handler once, however long the
 * handler runs before the next exit.  The handler spins ~2 ms so that
 * the emulator of the SVM rig gets to stop its CPU loop meanwhile: QEMU
 * 7.2 then delivered an interrupt injected through EVENTINJ a second
 * time (see svm_inject_pending()).
 */
TEST(injected_irq_delivered_once)
{
	const int rounds = test_backend() == VMX_BACKEND_SVM ? 300 : 30;
	struct test_vm *t;
	struct libvmx_vcpu *vcpu;
	struct ucall uc;
	int i;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_irq_once));
	vcpu = t->vcpus[0];
	once_spin_ticks = 2 * tsc_ticks_per_ms();
	ASSERT_NE(0, once_spin_ticks);
	sync_global_to_guest(t, once_spin_ticks);
	for (i = 1; i <= rounds; i++) {
		ASSERT_EXIT(vcpu, VMX_EXIT_HLT);
		ASSERT_EQ(0, inject(vcpu, VMX_EVENT_EXTINT, 0x41, 0, 0));
		ASSERT_UCALL_INTO(vcpu, UCALL_SYNC, &uc);
		ASSERT_EQ(1, uc.args[0]);
		ASSERT_EQ((uint64_t)i, uc.args[1])
			TH_LOG("round %d: the handler ran %llu times", i,
			       (unsigned long long)uc.args[1]);
	}
	test_vm_destroy(t);
}

static void guest_shadow(void)
{
	guest_handlers[0x50] = irq_handler;
	guest_sti();
	for (;;) {
		if (irq_vector)
			break;
		guest_pause();
	}
	GUEST_SYNC2(1, irq_vector);
	GUEST_DONE();
}

TEST(irq_window_right_after_sti)
{
	struct test_vm *t;
	struct libvmx_vcpu *vcpu;
	struct vmx_run *run;
	struct ucall uc;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_shadow));
	vcpu = t->vcpus[0];
	run = libvmx_vcpu_run_area(vcpu);
	run->request_irq_window = 1;
	ASSERT_EXIT(vcpu, VMX_EXIT_IRQ_WINDOW);
	run->request_irq_window = 0;
	ASSERT_EQ(0, inject(vcpu, VMX_EVENT_EXTINT, 0x50, 0, 0));
	ASSERT_UCALL_INTO(vcpu, UCALL_SYNC, &uc);
	EXPECT_EQ(0x50, uc.args[1]);
	ASSERT_UCALL(vcpu, UCALL_DONE);
	test_vm_destroy(t);
}

static volatile uint64_t irq_rip;

static uint64_t irq_rip_handler(uint64_t vector, uint64_t error, uint64_t rip)
{
	irq_rip = rip;
	return rip;
}

/*
 * STI, then CPUID in its shadow: the kernel answers the CPUID (on VMX
 * in the exit fast path, without leaving the entry's IRQs-off section),
 * and completing it ends the shadow, so the window opens right after it.
 */
static void guest_sti_cpuid(void)
{
	uint32_t a = 0, b, c = 0, d;
	uint64_t after;

	guest_handlers[0x51] = irq_rip_handler;
	guest_cli();
	GUEST_SYNC(1);
	asm volatile("lea 1f(%%rip), %[after]\n\t"
		     "sti\n\t"
		     "cpuid\n"
		     "1:\tnop\n\tnop\n\tnop"
		     : [after] "=&r" (after), "+a" (a), "=b" (b), "+c" (c),
		       "=d" (d));
	while (!irq_rip)
		guest_pause();
	GUEST_SYNC3(2, irq_rip, after);
	GUEST_DONE();
}

TEST(irq_window_right_after_cpuid_in_sti_shadow)
{
	struct test_vm *t;
	struct libvmx_vcpu *vcpu;
	struct vmx_run *run;
	struct ucall uc;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_sti_cpuid));
	vcpu = t->vcpus[0];
	run = libvmx_vcpu_run_area(vcpu);
	ASSERT_SYNC(vcpu, 1);
	run->request_irq_window = 1;
	ASSERT_EXIT(vcpu, VMX_EXIT_IRQ_WINDOW);
	run->request_irq_window = 0;
	ASSERT_EQ(0, inject(vcpu, VMX_EVENT_EXTINT, 0x51, 0, 0));
	ASSERT_UCALL_INTO(vcpu, UCALL_SYNC, &uc);
	EXPECT_EQ(2, uc.args[0]);
	/* Taken at the first NOP: not in the shadow, not one later. */
	EXPECT_EQ(uc.args[2], uc.args[1])
		TH_LOG("interrupt at %#llx, CPUID ends at %#llx",
		       (unsigned long long)uc.args[1],
		       (unsigned long long)uc.args[2]);
	ASSERT_UCALL(vcpu, UCALL_DONE);
	test_vm_destroy(t);
}

#define STEP_PORT	0x80

/*
 * STI, then an OUT the VMM completes: handing the instruction to the
 * VMM ends the shadow, so the interrupt window opens right after it,
 * not one instruction later.
 */
static void guest_sti_out(void)
{
	uint64_t after;

	guest_handlers[0x52] = irq_rip_handler;
	irq_rip = 0;
	guest_cli();
	GUEST_SYNC(1);
	asm volatile("lea 1f(%%rip), %[after]\n\t"
		     "sti\n\t"
		     "outb %%al, %[port]\n"
		     "1:\tnop\n\tnop\n\tnop"
		     : [after] "=&r" (after) : [port] "i"(STEP_PORT));
	while (!irq_rip)
		guest_pause();
	GUEST_SYNC3(2, irq_rip, after);
	GUEST_DONE();
}

TEST(irq_window_right_after_out_in_sti_shadow)
{
	struct test_vm *t;
	struct libvmx_vcpu *vcpu;
	struct vmx_run *run;
	struct ucall uc;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_sti_out));
	vcpu = t->vcpus[0];
	run = libvmx_vcpu_run_area(vcpu);
	ASSERT_SYNC(vcpu, 1);
	ASSERT_EXIT(vcpu, VMX_EXIT_IO);
	EXPECT_EQ(STEP_PORT, run->io.port);
	run->request_irq_window = 1;
	ASSERT_EXIT(vcpu, VMX_EXIT_IRQ_WINDOW);
	run->request_irq_window = 0;
	ASSERT_EQ(0, inject(vcpu, VMX_EVENT_EXTINT, 0x52, 0, 0));
	ASSERT_UCALL_INTO(vcpu, UCALL_SYNC, &uc);
	EXPECT_EQ(2, uc.args[0]);
	EXPECT_EQ(uc.args[2], uc.args[1])
		TH_LOG("interrupt at %#llx, OUT ends at %#llx",
		       (unsigned long long)uc.args[1],
		       (unsigned long long)uc.args[2]);
	ASSERT_UCALL(vcpu, UCALL_DONE);
	test_vm_destroy(t);
}

/* The order in which the guest saw its handlers run. */
static volatile uint64_t order[8];
static volatile int norder;

static uint64_t order_handler(uint64_t vector, uint64_t error, uint64_t rip)
{
	if (norder < 8)
		order[norder++] = vector;
	return rip;
}

static void guest_all_slots(void)
{
	guest_handlers[2] = order_handler;
	guest_handlers[6] = order_handler;
	guest_handlers[0x45] = order_handler;
	guest_sti();
	GUEST_SYNC(1);
	while (norder < 3)
		guest_pause();
	GUEST_SYNC3(2, norder, order[0] | order[1] << 8 | order[2] << 16);
	GUEST_DONE();
}

/*
 * One exception, one NMI and one interrupt queued together: each has a
 * slot of its own and all three arrive, in the CPU's priority order.
 */
TEST(exception_nmi_irq_queued_together)
{
	struct test_vm *t;
	struct libvmx_vcpu *vcpu;
	struct vmx_events ev;
	struct ucall uc;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_all_slots));
	vcpu = t->vcpus[0];
	ASSERT_SYNC(vcpu, 1);
	ASSERT_EQ(0, inject(vcpu, VMX_EVENT_EXTINT, 0x45, 0, 0));
	ASSERT_EQ(0, inject(vcpu, VMX_EVENT_NMI, 2, 0, 0));
	ASSERT_EQ(0, inject(vcpu, VMX_EVENT_EXCEPTION, 6, 0, 0));
	EXPECT_EQ(-EBUSY, inject(vcpu, VMX_EVENT_EXTINT, 0x46, 0, 0));
	EXPECT_EQ(-EBUSY, inject(vcpu, VMX_EVENT_NMI, 2, 0, 0));
	ASSERT_EQ(0, ioctl_err(libvmx_vcpu_fd(vcpu), VMX_GET_EVENTS, &ev));
	EXPECT_EQ(1, ev.pending_valid);
	EXPECT_EQ(1, ev.nmi_pending);
	EXPECT_EQ(1, ev.irq_pending);
	EXPECT_EQ(0x45, ev.irq_vector);
	ASSERT_UCALL_INTO(vcpu, UCALL_SYNC, &uc);
	EXPECT_EQ(2, uc.args[0]);
	EXPECT_EQ(3, uc.args[1]);
	/*
	 * #UD goes in first, then the NMI, which may run nested at the #UD
	 * handler's first instruction (an NMI ignores IF): either order of
	 * those two handlers is right.  The interrupt waits for IF, which
	 * the #UD gate cleared, so it comes last.
	 */
	EXPECT_EQ(0x45, uc.args[2] >> 16);
	EXPECT_TRUE((uc.args[2] & 0xffff) == (6 | 2 << 8) ||
		    (uc.args[2] & 0xffff) == (2 | 6 << 8))
		TH_LOG("order %#lx", (unsigned long)uc.args[2]);
	ASSERT_UCALL(vcpu, UCALL_DONE);
	test_vm_destroy(t);
}

static volatile int nmi2_count, nmi2_gp;
static volatile uint64_t nmi2_rip;
extern const char guest_exception_iret[];

static uint64_t nmi2_gp_handler(uint64_t vector, uint64_t error, uint64_t rip)
{
	nmi2_gp++;
	return rip + 2;		/* rdmsr is 0f 32 */
}

static uint64_t nmi2_handler(uint64_t vector, uint64_t error, uint64_t rip)
{
	if (++nmi2_count == 1) {
		GUEST_SYNC(10);
		/* The VMM queued a second NMI: the kernel's #GP must not eat it. */
		guest_rdmsr(0x12345678);
		GUEST_SYNC2(11, nmi2_gp);
	} else {
		nmi2_rip = rip;
	}
	return rip;
}

static void guest_nmi_and_gp(void)
{
	guest_handlers[2] = nmi2_handler;
	guest_handlers[13] = nmi2_gp_handler;
	GUEST_SYNC(1);
	GUEST_SYNC3(2, nmi2_count, nmi2_gp);
	/* The second NMI came after the first handler's IRET had run. */
	GUEST_ASSERT(nmi2_rip != (uint64_t)guest_exception_iret);
	GUEST_DONE();
}

/*
 * A held NMI survives an exception the kernel raises while it waits,
 * and goes in right after the first handler's IRET (on SVM, which has
 * no NMI window, that is the single-stepped IRET).
 */
TEST(kernel_exception_keeps_held_nmi)
{
	struct test_vm *t;
	struct libvmx_vcpu *vcpu;
	struct ucall uc;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_nmi_and_gp));
	vcpu = t->vcpus[0];
	ASSERT_SYNC(vcpu, 1);
	ASSERT_EQ(0, inject(vcpu, VMX_EVENT_NMI, 2, 0, 0));
	ASSERT_SYNC(vcpu, 10);
	ASSERT_EQ(0, inject(vcpu, VMX_EVENT_NMI, 2, 0, 0));
	ASSERT_UCALL_INTO(vcpu, UCALL_SYNC, &uc);
	EXPECT_EQ(11, uc.args[0]);
	EXPECT_EQ(1, uc.args[1]);
	ASSERT_UCALL_INTO(vcpu, UCALL_SYNC, &uc);
	EXPECT_EQ(2, uc.args[0]);
	EXPECT_EQ(2, uc.args[1]);
	EXPECT_EQ(1, uc.args[2]);
	ASSERT_UCALL(vcpu, UCALL_DONE);
	test_vm_destroy(t);
}

/* An IDT in a hole of the guest-physical map: #UD delivery hits MMIO. */
#define MMIO_IDT	0x3f000000ULL

static void guest_idt_in_mmio(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) idtr = { 0xfff, MMIO_IDT };

	asm volatile("lidt %0" : : "m" (idtr));
	asm volatile("ud2");
	GUEST_DONE();
}

/*
 * An MMIO access the CPU makes while delivering an event is no
 * instruction the VMM could complete: an internal error naming the
 * address, not an MMIO exit that libvmx would decode at the wrong RIP.
 */
TEST(mmio_during_event_delivery)
{
	struct test_vm *t;
	struct libvmx_vcpu *vcpu;
	struct vmx_events ev;
	struct vmx_run *run;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_idt_in_mmio));
	vcpu = t->vcpus[0];
	run = libvmx_vcpu_run_area(vcpu);
	ASSERT_EQ(0, libvmx_vcpu_run(vcpu));
	ASSERT_EQ(VMX_EXIT_INTERNAL_ERROR, run->exit_reason)
		TH_LOG("exit %s", test_exit_name(run->exit_reason));
	EXPECT_EQ(VMX_INTERNAL_EVENT_DELIVERY, run->internal.suberror);
	EXPECT_EQ(1, run->internal.ndata);
	/* The #UD gate: 16 bytes per vector. */
	EXPECT_EQ(MMIO_IDT + 6 * 16, run->internal.data[0] & ~0xfULL);
	/* The #UD is still owed to the guest. */
	ASSERT_EQ(0, ioctl_err(libvmx_vcpu_fd(vcpu), VMX_GET_EVENTS, &ev));
	EXPECT_EQ(1, ev.interrupted_valid);
	EXPECT_EQ(VMX_EVENT_EXCEPTION, ev.interrupted.type);
	EXPECT_EQ(6, ev.interrupted.vector);
	test_vm_destroy(t);
}

TEST_HARNESS_MAIN
