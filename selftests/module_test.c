// SPDX-License-Identifier: GPL-2.0
/*
 * The module stays loaded while anything refers to it: an open /dev/vmx
 * or any VM.  (The rig unloads it after all tests and fails if it can't.)
 */
#include "test_util.h"
#include "kselftest_harness.h"

#include <sys/wait.h>

static void expect_unload_refused(struct __test_metadata *_metadata)
{
	int ret = delete_module("vmx", O_NONBLOCK);

	ASSERT_EQ(-1, ret) TH_LOG("vmx unloaded while in use");
	EXPECT_EQ(EWOULDBLOCK, errno);
	EXPECT_GE(module_refcnt("vmx"), 1);
}

TEST(unload_refused_while_dev_open)
{
	int fd = vmx_test_open();

	ASSERT_GE(fd, 0);
	expect_unload_refused(_metadata);
	close(fd);
}

TEST(unload_refused_while_vm_exists)
{
	int devfd = vmx_test_open(), vmfd;

	ASSERT_GE(devfd, 0);
	vmfd = create_vm(devfd);
	ASSERT_GE(vmfd, 0);
	/* Only the VM fd is left. */
	close(devfd);
	expect_unload_refused(_metadata);
	close(vmfd);
}

TEST(refcnt_follows_vms)
{
	int base, devfd, vmfd[8];

	base = module_refcnt("vmx");
	ASSERT_GE(base, 0);
	devfd = vmx_test_open();
	ASSERT_GE(devfd, 0);
	for (int i = 0; i < 8; i++) {
		vmfd[i] = create_vm(devfd);
		ASSERT_GE(vmfd[i], 0);
	}
	EXPECT_EQ(base + 9, module_refcnt("vmx"));
	for (int i = 0; i < 8; i++)
		close(vmfd[i]);
	close(devfd);
	EXPECT_EQ(base, module_refcnt("vmx"));
}

TEST(unload_needs_privilege)
{
	pid_t pid = fork();
	int status;

	ASSERT_GE(pid, 0);
	if (pid == 0) {
		/* Drop CAP_SYS_MODULE by becoming nobody. */
		if (setgid(65534) || setuid(65534))
			_exit(2);
		_exit(delete_module("vmx", O_NONBLOCK) == -1 && errno == EPERM ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_GE(module_refcnt("vmx"), 0);
}

TEST_HARNESS_MAIN
