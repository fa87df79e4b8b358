// SPDX-License-Identifier: GPL-2.0
/*
 * VMX_RUN and the thread that calls it: signals and immediate_exit stop
 * a guest that never exits by itself, a second caller gets EBUSY, and
 * many vCPUs and VMs run at once on their own threads.
 */
#include "test_util.h"
#include "kselftest_harness.h"

#include <pthread.h>
#include <signal.h>
#include <sys/time.h>
#include <time.h>

#include "vmx_harness.h"
#include "guest.h"

static void guest_spin(void)
{
	for (;;)
		;
}

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

static void catch(int sig)
{
	struct sigaction sa = { .sa_handler = on_signal };

	/* No SA_RESTART: VMX_RUN must come back with EINTR either way. */
	sigaction(sig, &sa, NULL);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Three times: a 50 ms timer signal ends VMX_RUN of a guest that never
 * exits to user space by itself, promptly (well within two seconds), with
 * RIP still inside @guest's first @span bytes.
 */
static void expect_signal_stops(struct __test_metadata *_metadata,
				void (*guest)(void), uint64_t span)
{
	struct itimerval it = { .it_value = { .tv_usec = 50000 } };
	struct test_vm *t;
	struct libvmx_vcpu *vcpu;
	struct vmx_run *run;
	struct vmx_regs regs;
	double start;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest));
	vcpu = t->vcpus[0];
	run = libvmx_vcpu_run_area(vcpu);
	catch(SIGALRM);
	for (int i = 0; i < 3; i++) {
		got_signal = 0;
		start = now();
		ASSERT_EQ(0, setitimer(ITIMER_REAL, &it, NULL));
		EXPECT_EQ(-EINTR, libvmx_vcpu_run(vcpu))
			TH_LOG("exit %s", test_exit_name(run->exit_reason));
		EXPECT_EQ(VMX_EXIT_INTR, run->exit_reason);
		EXPECT_EQ(SIGALRM, got_signal);
		EXPECT_LT(now() - start, 2.0);
		ASSERT_EQ(0, libvmx_vcpu_get_regs(vcpu, &regs));
		EXPECT_GE(regs.rip, (uint64_t)(uintptr_t)guest);
		EXPECT_LT(regs.rip, (uint64_t)(uintptr_t)guest + span);
	}
	test_vm_destroy(t);
}

TEST(signal_stops_spinning_guest)
{
	expect_signal_stops(_metadata, guest_spin, 64);
}

/*
 * A guest that only executes CPUID, which the kernel answers itself (on
 * VMX without leaving the entry's IRQs-off section): a signal still ends
 * the run at once, and every answer is the right one.
 */
static void guest_cpuid_spin(void)
{
	uint32_t a0, b0, c0, d0, a, b, c, d;

	guest_cpuid(0, 0, &a0, &b0, &c0, &d0);
	for (;;) {
		guest_cpuid(0, 0, &a, &b, &c, &d);
		GUEST_ASSERT_EQ(a, a0);
		GUEST_ASSERT_EQ(b, b0);
		GUEST_ASSERT_EQ(d, d0);
	}
}

TEST(signal_stops_cpuid_loop)
{
	expect_signal_stops(_metadata, guest_cpuid_spin, 256);
}

struct spin_ctx {
	struct libvmx_vcpu *vcpu;
	volatile int started;
	int ret;
	uint32_t exit_reason;
};

static void *spin_thread(void *arg)
{
	struct spin_ctx *c = arg;

	c->started = 1;
	c->ret = libvmx_vcpu_run(c->vcpu);
	c->exit_reason = libvmx_vcpu_run_area(c->vcpu)->exit_reason;
	return NULL;
}

TEST(signal_from_other_thread_and_ebusy)
{
	struct spin_ctx c = { 0 };
	struct test_vm *t;
	struct vmx_regs regs;
	pthread_t th;
	int fd;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_spin));
	c.vcpu = t->vcpus[0];
	fd = libvmx_vcpu_fd(c.vcpu);
	catch(SIGUSR1);
	ASSERT_EQ(0, pthread_create(&th, NULL, spin_thread, &c));
	while (!c.started)
		usleep(1000);
	usleep(100000);
	/* The vCPU is busy in the other thread. */
	EXPECT_EQ(-EBUSY, ioctl_err(fd, VMX_RUN, NULL));
	EXPECT_EQ(-EBUSY, ioctl_err(fd, VMX_GET_REGS, &regs));
	EXPECT_EQ(-EBUSY, ioctl_err(fd, VMX_SET_REGS, &regs));
	EXPECT_EQ(0, pthread_kill(th, SIGUSR1));
	pthread_join(th, NULL);
	EXPECT_EQ(-EINTR, c.ret);
	EXPECT_EQ(VMX_EXIT_INTR, c.exit_reason);
	/* Free again. */
	EXPECT_EQ(0, ioctl_err(fd, VMX_GET_REGS, &regs));
	test_vm_destroy(t);
}

static void guest_in_then_spin(void)
{
	GUEST_ASSERT_EQ(inb(0x61), 0x42);
	GUEST_SYNC(1);
	for (;;)
		;
}

TEST(immediate_exit)
{
	struct test_vm *t;
	struct libvmx_vcpu *vcpu;
	struct vmx_run *run;
	struct vmx_regs before, after;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_in_then_spin));
	vcpu = t->vcpus[0];
	run = libvmx_vcpu_run_area(vcpu);
	/* Set before the first run: the guest does not run at all. */
	ASSERT_EQ(0, libvmx_vcpu_get_regs(vcpu, &before));
	run->immediate_exit = 1;
	EXPECT_EQ(-EINTR, libvmx_vcpu_run(vcpu));
	EXPECT_EQ(VMX_EXIT_INTR, run->exit_reason);
	ASSERT_EQ(0, libvmx_vcpu_get_regs(vcpu, &after));
	EXPECT_EQ(before.rip, after.rip);
	run->immediate_exit = 0;

	/* An IN in flight is completed before the immediate exit. */
	ASSERT_EXIT(vcpu, VMX_EXIT_IO);
	EXPECT_EQ(0x61, run->io.port);
	ASSERT_EQ(0, libvmx_vcpu_get_regs(vcpu, &before));
	run->io.data = 0x42;
	run->immediate_exit = 1;
	EXPECT_EQ(-EINTR, libvmx_vcpu_run(vcpu));
	ASSERT_EQ(0, libvmx_vcpu_get_regs(vcpu, &after));
	EXPECT_EQ(before.rip + 2, after.rip);
	EXPECT_EQ(0x42, after.rax & 0xff);
	run->immediate_exit = 0;
	ASSERT_SYNC(vcpu, 1);

	/* The VMM's own thread sets it while the guest spins. */
	for (int i = 0; i < 3; i++) {
		struct spin_ctx c = { .vcpu = vcpu };
		pthread_t th;

		catch(SIGUSR2);
		ASSERT_EQ(0, pthread_create(&th, NULL, spin_thread, &c));
		while (!c.started)
			usleep(1000);
		usleep(20000);
		run->immediate_exit = 1;
		/* A kick: immediate_exit alone is read only at entry. */
		pthread_kill(th, SIGUSR2);
		pthread_join(th, NULL);
		EXPECT_EQ(-EINTR, c.ret);
		EXPECT_EQ(VMX_EXIT_INTR, c.exit_reason);
		run->immediate_exit = 0;
	}
	test_vm_destroy(t);
}

/* ---- many vCPUs, many VMs ---- */

#define ITERS		50
#define MAX_THREADS	16

static uint64_t per_vcpu_sum[MAX_THREADS];

static uint32_t my_id(void)
{
	uint32_t a, b, c, d;

	guest_cpuid(1, 0, &a, &b, &c, &d);
	return b >> 24;
}

static void guest_worker(void)
{
	uint32_t id = my_id();

	for (int i = 1; i <= ITERS; i++) {
		per_vcpu_sum[id] += i * (id + 1);
		GUEST_SYNC2(i, per_vcpu_sum[id]);
	}
	GUEST_DONE();
}

struct worker {
	struct libvmx_vcpu *vcpu;
	int failed;
	char why[256];
};

static void *worker_thread(void *arg)
{
	struct worker *w = arg;
	uint32_t id = libvmx_vcpu_id(w->vcpu);
	uint64_t sum = 0;
	struct ucall uc;

	for (int i = 1; i <= ITERS; i++) {
		sum += i * (id + 1);
		if (test_run(w->vcpu, &uc) != UCALL_SYNC || uc.args[0] != i ||
		    uc.args[1] != sum) {
			snprintf(w->why, sizeof(w->why), "vcpu %u iter %d: %s", id, i,
				 test_describe(w->vcpu, &uc));
			w->failed = 1;
			return NULL;
		}
	}
	if (test_run(w->vcpu, &uc) != UCALL_DONE) {
		snprintf(w->why, sizeof(w->why), "vcpu %u: %s", id,
			 test_describe(w->vcpu, &uc));
		w->failed = 1;
	}
	return NULL;
}

static void run_workers(struct __test_metadata *_metadata,
			struct test_vm **vms, int nr_vms, int vcpus_per_vm)
{
	struct worker w[MAX_THREADS * 4] = { 0 };
	pthread_t th[MAX_THREADS * 4];
	int n = 0;

	for (int v = 0; v < nr_vms; v++)
		for (int i = 0; i < vcpus_per_vm; i++) {
			w[n].vcpu = vms[v]->vcpus[i];
			ASSERT_EQ(0, pthread_create(&th[n], NULL, worker_thread, &w[n]));
			n++;
		}
	for (int i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		EXPECT_EQ(0, w[i].failed) TH_LOG("%s", w[i].why);
	}
}

TEST(eight_vcpus_on_threads)
{
	struct test_vm *t;

	test_hang_report_arm(20);
	ASSERT_EQ(0, test_vm_create(&t, 8, guest_worker));
	run_workers(_metadata, &t, 1, 8);
	/* Each vCPU wrote only its own slot of the shared array. */
	sync_global_from_guest(t, per_vcpu_sum);
	for (int id = 0; id < 8; id++)
		EXPECT_EQ((uint64_t)(id + 1) * ITERS * (ITERS + 1) / 2, per_vcpu_sum[id]);
	test_vm_destroy(t);
}

TEST(several_vms_at_once)
{
	struct test_vm *vms[4];

	test_hang_report_arm(20);
	for (int v = 0; v < 4; v++)
		ASSERT_EQ(0, test_vm_create(&vms[v], 3, guest_worker));
	run_workers(_metadata, vms, 4, 3);
	for (int v = 0; v < 4; v++) {
		sync_global_from_guest(vms[v], per_vcpu_sum);
		for (int id = 0; id < 3; id++)
			EXPECT_EQ((uint64_t)(id + 1) * ITERS * (ITERS + 1) / 2,
				  per_vcpu_sum[id]);
		test_vm_destroy(vms[v]);
	}
}

TEST_HARNESS_MAIN
