// SPDX-License-Identifier: GPL-2.0
/*
 * VM creation and teardown through VMX_CREATE_VM and the VM fd.
 */
#include "test_util.h"
#include "kselftest_harness.h"

#include <sys/wait.h>

FIXTURE(vm) {
	int devfd;
};

FIXTURE_SETUP(vm)
{
	self->devfd = vmx_test_open();
	ASSERT_GE(self->devfd, 0);
}

FIXTURE_TEARDOWN(vm)
{
	close(self->devfd);
}

TEST_F(vm, create_and_info)
{
	struct vmx_vm_info info;
	int vmfd = create_vm(self->devfd);

	ASSERT_GE(vmfd, 0);
	EXPECT_EQ(FD_CLOEXEC, fcntl(vmfd, F_GETFD) & FD_CLOEXEC);
	memset(&info, 0xa5, sizeof(info));
	ASSERT_EQ(0, ioctl_err(vmfd, VMX_VM_GET_INFO, &info));
	EXPECT_EQ(0, info.flags);
	EXPECT_EQ(0, info.nr_vcpus);
	EXPECT_NE(0, info.id);
	for (int i = 0; i < 4; i++)
		EXPECT_EQ(0, info.reserved[i]);
	close(vmfd);
}

TEST_F(vm, ids_are_unique)
{
	struct vmx_vm_info a, b;
	int fa = create_vm(self->devfd), fb = create_vm(self->devfd);

	ASSERT_GE(fa, 0);
	ASSERT_GE(fb, 0);
	ASSERT_EQ(0, ioctl_err(fa, VMX_VM_GET_INFO, &a));
	ASSERT_EQ(0, ioctl_err(fb, VMX_VM_GET_INFO, &b));
	EXPECT_NE(a.id, b.id);
	close(fa);
	close(fb);
}

TEST_F(vm, bad_flags_pad_reserved)
{
	struct vmx_vm_create args;

	for (int bit = 0; bit < 32; bit++) {
		memset(&args, 0, sizeof(args));
		args.flags = 1u << bit;
		EXPECT_EQ(-EINVAL, create_vm_args(self->devfd, &args))
			TH_LOG("flag bit %d", bit);
	}
	memset(&args, 0, sizeof(args));
	args.pad = 1;
	EXPECT_EQ(-EINVAL, create_vm_args(self->devfd, &args));
	for (int i = 0; i < 3; i++) {
		memset(&args, 0, sizeof(args));
		args.reserved[i] = 1ULL << 63;
		EXPECT_EQ(-EINVAL, create_vm_args(self->devfd, &args))
			TH_LOG("reserved[%d]", i);
	}
}

TEST_F(vm, bad_pointer)
{
	EXPECT_EQ(-EFAULT, create_vm_args(self->devfd, NULL));
	EXPECT_EQ(-EFAULT, create_vm_args(self->devfd, (void *)8));
}

TEST_F(vm, info_bad_pointer)
{
	int vmfd = create_vm(self->devfd);

	ASSERT_GE(vmfd, 0);
	EXPECT_EQ(-EFAULT, ioctl_err(vmfd, VMX_VM_GET_INFO, NULL));
	close(vmfd);
}

TEST_F(vm, unknown_vm_ioctls)
{
	static const unsigned long bad[] = {
		VMX_GET_API_VERSION, VMX_GET_CAPS, VMX_CREATE_VM,
		_IO(VMX_IOC_MAGIC, 0x7f), _IOR(VMX_IOC_MAGIC, 0x10, __u64),
		0xAE41 /* KVM_CREATE_VCPU */, ~0UL,
	};
	char buf[128] = { 0 };
	int vmfd = create_vm(self->devfd);

	ASSERT_GE(vmfd, 0);
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-ENOTTY, ioctl_err(vmfd, bad[i], buf))
			TH_LOG("ioctl 0x%lx", bad[i]);
	}
	close(vmfd);
}

/* Many VMs at once, several rounds: nothing may leak or pile up. */
TEST_F(vm, create_destroy_many)
{
	enum { NR = 512, ROUNDS = 4 };
	static int fds[NR];
	int before = count_open_fds();

	for (int round = 0; round < ROUNDS; round++) {
		for (int i = 0; i < NR; i++) {
			fds[i] = create_vm(self->devfd);
			ASSERT_GE(fds[i], 0) TH_LOG("round %d vm %d: %d", round, i, fds[i]);
		}
		for (int i = 0; i < NR; i++)
			ASSERT_EQ(0, close(fds[i]));
	}
	EXPECT_EQ(before, count_open_fds());
}

/* The VM outlives the /dev/vmx fd it was created from. */
TEST(vm_outlives_dev_fd)
{
	struct vmx_vm_info info;
	int devfd = vmx_test_open(), vmfd;

	ASSERT_GE(devfd, 0);
	vmfd = create_vm(devfd);
	ASSERT_GE(vmfd, 0);
	ASSERT_EQ(0, close(devfd));
	EXPECT_EQ(0, ioctl_err(vmfd, VMX_VM_GET_INFO, &info));
	EXPECT_EQ(0, close(vmfd));
}

/* dup()ed and inherited VM fds keep the VM alive until the last close. */
TEST(vm_fd_shared_by_fork_and_dup)
{
	struct vmx_vm_info info;
	int devfd = vmx_test_open(), vmfd, dupfd, status;
	pid_t pid;

	ASSERT_GE(devfd, 0);
	vmfd = create_vm(devfd);
	ASSERT_GE(vmfd, 0);
	dupfd = dup(vmfd);
	ASSERT_GE(dupfd, 0);
	close(vmfd);
	EXPECT_EQ(0, ioctl_err(dupfd, VMX_VM_GET_INFO, &info));

	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		/* The child sees the same VM and may close it. */
		struct vmx_vm_info child;

		_exit(ioctl_err(dupfd, VMX_VM_GET_INFO, &child) ||
		      child.id != info.id);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_EQ(0, ioctl_err(dupfd, VMX_VM_GET_INFO, &info));
	close(dupfd);
	close(devfd);
}

/* A process that dies with VMs open frees them (checked by refcnt). */
TEST(exit_with_vms_open)
{
	int refs_before = module_refcnt("vmx"), status;
	pid_t pid;

	ASSERT_GE(refs_before, 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int devfd = vmx_test_open();

		for (int i = 0; i < 32; i++)
			if (create_vm(devfd) < 0)
				_exit(1);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_EQ(refs_before, module_refcnt("vmx"));
}

TEST_HARNESS_MAIN
