// SPDX-License-Identifier: GPL-2.0
/*
 * Lifetimes: fork children get EIO, VM and vCPU fds and the run area go
 * away in any order, a process killed while its vCPUs run frees it all,
 * and many VMs and vCPUs come and go without leaks (module refcount).
 */
#include "test_util.h"
#include "kselftest_harness.h"

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "vmx_harness.h"
#include "guest.h"

#define MODNAME "vmx"

static void guest_sync_forever(void)
{
	for (uint64_t i = 0;; i++)
		GUEST_SYNC(i);
}

static void guest_spin(void)
{
	for (;;)
		;
}

TEST(fork_child_gets_eio)
{
	struct vmx_vcpu_create vc = { .id = 1 };
	struct vmx_memslot m = { .slot = 3 };
	struct test_vm *t;
	int status, vmfd, vcpufd;
	pid_t pid;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_sync_forever));
	vmfd = libvmx_vm_fd(t->vm);
	vcpufd = libvmx_vcpu_fd(t->vcpus[0]);
	ASSERT_SYNC(t->vcpus[0], 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct vmx_regs regs;
		struct vmx_vm_info info;
		int bad = 0;

		bad |= ioctl_err(vcpufd, VMX_RUN, NULL) != -EIO;
		bad |= (ioctl_err(vcpufd, VMX_GET_REGS, &regs) != -EIO) << 1;
		bad |= (ioctl_err(vcpufd, VMX_SET_REGS, &regs) != -EIO) << 2;
		bad |= (ioctl_err(vmfd, VMX_CREATE_VCPU, &vc) != -EIO) << 3;
		bad |= (ioctl_err(vmfd, VMX_SET_MEMSLOT, &m) != -EIO) << 4;
		/* Looking is fine. */
		bad |= (ioctl_err(vmfd, VMX_VM_GET_INFO, &info) != 0) << 5;
		_exit(bad);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	/* The parent goes on as before. */
	ASSERT_SYNC(t->vcpus[0], 1);
	test_vm_destroy(t);
}

/* A VM with one vCPU by raw ioctls; RAM stays ours, so any order works. */
struct raw_vm {
	int dev, vm, vcpu;
	struct vmx_run *run;
};

static int raw_vm_create(struct raw_vm *r, void *ram, uint64_t size)
{
	struct vmx_vcpu_create vc = { 0 };
	struct vmx_memslot m = {
		.size = size, .user_addr = (uint64_t)(uintptr_t)ram,
	};

	r->dev = vmx_test_open();
	if (r->dev < 0)
		return -1;
	r->vm = create_vm(r->dev);
	if (r->vm < 0 || ioctl_err(r->vm, VMX_SET_MEMSLOT, &m))
		return -1;
	r->vcpu = ioctl_err(r->vm, VMX_CREATE_VCPU, &vc);
	if (r->vcpu < 0)
		return -1;
	r->run = mmap(NULL, VMX_RUN_AREA_SIZE, PROT_READ | PROT_WRITE,
		      MAP_SHARED, r->vcpu, 0);
	return r->run == MAP_FAILED ? -1 : 0;
}

/*
 * Real-mode guest at the reset vector alias 0xffff0 of a 1 MiB slot at 0
 * does "out %al, $0x10; jmp back": one I/O exit per run.
 */
static void *real_mode_ram(void)
{
	uint8_t *ram = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	static const uint8_t code[] = { 0xe6, 0x10, 0xeb, 0xfc };

	if (ram == MAP_FAILED)
		return NULL;
	memcpy(ram + 0xfff0, code, sizeof(code));
	return ram;
}

static int raw_run_io(struct raw_vm *r)
{
	int ret = ioctl_err(r->vcpu, VMX_RUN, NULL);

	if (ret)
		return ret;
	return r->run->exit_reason == VMX_EXIT_IO && r->run->io.port == 0x10 ? 0 : -1;
}

/* Real mode at CS.base 0 / RIP 0xfff0, inside the 1 MiB slot. */
static int raw_to_low_reset_vector(struct raw_vm *r)
{
	struct vmx_sregs s;

	if (ioctl_err(r->vcpu, VMX_GET_SREGS, &s))
		return -1;
	s.cs.base = 0;
	s.cs.selector = 0;
	return ioctl_err(r->vcpu, VMX_SET_SREGS, &s);
}

TEST(close_in_every_order)
{
	int base = module_refcnt(MODNAME);
	void *ram = real_mode_ram();

	ASSERT_GE(base, 0);
	ASSERT_NE(NULL, ram);
	for (int order = 0; order < 6; order++) {
		struct raw_vm r;

		ASSERT_EQ(0, raw_vm_create(&r, ram, 1 << 20));
		ASSERT_EQ(0, raw_to_low_reset_vector(&r));
		ASSERT_EQ(0, raw_run_io(&r));
		switch (order) {
		case 0:	/* vCPU, VM, dev, run area */
			close(r.vcpu);
			close(r.vm);
			close(r.dev);
			munmap(r.run, VMX_RUN_AREA_SIZE);
			break;
		case 1:	/* dev, VM first: the vCPU still runs */
			close(r.dev);
			close(r.vm);
			ASSERT_EQ(0, raw_run_io(&r));
			close(r.vcpu);
			/* The run area outlives the fd. */
			EXPECT_EQ(VMX_EXIT_IO, r.run->exit_reason);
			munmap(r.run, VMX_RUN_AREA_SIZE);
			break;
		case 2:	/* run area first */
			munmap(r.run, VMX_RUN_AREA_SIZE);
			ASSERT_EQ(0, ioctl_err(r.vcpu, VMX_RUN, NULL));
			close(r.vm);
			close(r.vcpu);
			close(r.dev);
			break;
		case 3:	/* VM, run area, vCPU */
			close(r.vm);
			munmap(r.run, VMX_RUN_AREA_SIZE);
			close(r.vcpu);
			close(r.dev);
			break;
		case 4:	/* dup()ed fds, closed out of order */
		{
			int vm2 = dup(r.vm), vcpu2 = dup(r.vcpu);

			close(r.vcpu);
			close(r.vm);
			r.vcpu = vcpu2;
			ASSERT_EQ(0, raw_run_io(&r));
			close(vcpu2);
			ASSERT_EQ(0, ioctl_err(vm2, VMX_VM_GET_INFO,
					       &(struct vmx_vm_info){ 0 }));
			close(vm2);
			munmap(r.run, VMX_RUN_AREA_SIZE);
			close(r.dev);
			break;
		}
		case 5:	/* guest RAM unmapped before everything else */
			munmap(ram, 1 << 20);
			EXPECT_EQ(-EFAULT, ioctl_err(r.vcpu, VMX_RUN, NULL));
			close(r.vcpu);
			munmap(r.run, VMX_RUN_AREA_SIZE);
			close(r.vm);
			close(r.dev);
			break;
		}
		EXPECT_EQ(base, module_refcnt(MODNAME)) TH_LOG("order %d", order);
	}
}

struct spinner {
	struct libvmx_vcpu *vcpu;
};

static void *spinner_thread(void *arg)
{
	struct spinner *s = arg;

	for (;;)
		libvmx_vcpu_run(s->vcpu);
	return NULL;
}

/* Fork a child whose @nr vCPUs spin in the guest; returns its pid. */
static pid_t spawn_spinning_vm(int nr, int *ready_fd)
{
	int p[2];
	pid_t pid;

	if (pipe(p))
		return -1;
	pid = fork();
	if (pid == 0) {
		struct spinner s[TEST_MAX_VCPUS];
		struct test_vm *t;
		pthread_t th;

		close(p[0]);
		if (test_vm_create(&t, nr, guest_spin))
			_exit(1);
		for (int i = 0; i < nr; i++) {
			s[i].vcpu = t->vcpus[i];
			if (pthread_create(&th, NULL, spinner_thread, &s[i]))
				_exit(1);
		}
		usleep(50000);
		if (write(p[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	*ready_fd = p[0];
	return pid;
}

TEST(kill9_while_running)
{
	int base = module_refcnt(MODNAME), status, fd;
	char c;

	ASSERT_GE(base, 0);
	for (int round = 0; round < 4; round++) {
		pid_t pid = spawn_spinning_vm(1 + round, &fd);

		ASSERT_GT(pid, 0);
		ASSERT_EQ(1, read(fd, &c, 1));
		close(fd);
		/* The module is pinned while the VM lives. */
		EXPECT_GT(module_refcnt(MODNAME), base);
		usleep(20000 * round);
		ASSERT_EQ(0, kill(pid, SIGKILL));
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		EXPECT_EQ(base, module_refcnt(MODNAME)) TH_LOG("round %d", round);
	}
}

/* exit() from main while other threads are inside VMX_RUN. */
TEST(exit_while_vcpus_run)
{
	int base = module_refcnt(MODNAME), status;
	pid_t pid;

	ASSERT_GE(base, 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct spinner s[4];
		struct test_vm *t;
		pthread_t th;

		if (test_vm_create(&t, 4, guest_spin))
			_exit(1);
		for (int i = 0; i < 4; i++) {
			s[i].vcpu = t->vcpus[i];
			pthread_create(&th, NULL, spinner_thread, &s[i]);
		}
		usleep(100000);
		exit(7);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 7);
	EXPECT_EQ(base, module_refcnt(MODNAME));
}

/* Many VMs with a vCPU each, all alive at once, each running. */
/* A fixture only for the longer time limit. */
FIXTURE(slow) {
	int unused;
};

FIXTURE_SETUP(slow)
{
}

FIXTURE_TEARDOWN(slow)
{
}

/* Bochs is slow: fewer VMs there (and a longer limit for both). */
TEST_F_TIMEOUT(slow, many_vms_with_vcpus, 120)
{
	enum { MAX_VMS = 40 };
	int base = module_refcnt(MODNAME);
	static struct test_vm *vms[MAX_VMS];
	const int NR = test_backend() == VMX_BACKEND_INTEL ? 12 : MAX_VMS;

	ASSERT_GE(base, 0);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < NR; i++) {
			ASSERT_EQ(0, test_vm_create(&vms[i], 1 + i % 3,
						    guest_sync_forever))
				TH_LOG("vm %d", i);
		}
		for (int i = 0; i < NR; i++)
			for (int v = 0; v < vms[i]->nr_vcpus; v++)
				ASSERT_SYNC(vms[i]->vcpus[v], 0);
		for (int i = NR - 1; i >= 0; i--)
			for (int v = 0; v < vms[i]->nr_vcpus; v++)
				ASSERT_SYNC(vms[i]->vcpus[v], 1);
		for (int i = 0; i < NR; i++)
			test_vm_destroy(vms[i]);
		EXPECT_EQ(base, module_refcnt(MODNAME));
	}
}

TEST_HARNESS_MAIN
