// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libvmx argument checking and error reporting, without the module: the
 * library must answer with documented negative errno values and print
 * nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "vmx/libvmx.h"
#include "internal.h"
#include "kselftest_harness.h"

TEST(null_arguments)
{
	struct vmx_caps caps;
	struct vmx_vm_info info;
	struct libvmx_vm *vm;

	EXPECT_EQ(-EINVAL, libvmx_open(NULL));
	EXPECT_EQ(-EINVAL, libvmx_get_caps(NULL, &caps));
	EXPECT_EQ(-EINVAL, libvmx_vm_create(NULL, 0, &vm));
	EXPECT_EQ(-EINVAL, libvmx_vm_get_info(NULL, &info));
	EXPECT_EQ(-EINVAL, libvmx_fd(NULL));
	EXPECT_EQ(-EINVAL, libvmx_vm_fd(NULL));
	/* Destroying nothing is allowed, like free(NULL). */
	libvmx_close(NULL);
	libvmx_vm_destroy(NULL);
}

TEST(open_without_module)
{
	struct libvmx *vmx = (void *)1;
	int ret;

	if (!access(LIBVMX_DEVICE_PATH, F_OK))
		SKIP(return, "%s exists on this host", LIBVMX_DEVICE_PATH);
	ret = libvmx_open(&vmx);
	EXPECT_EQ(-ENOENT, ret);
	/* The output is untouched on failure. */
	EXPECT_EQ((void *)1, vmx);
}

/* An fd that is not /dev/vmx: every ioctl is refused by the kernel. */
TEST(wrong_device)
{
	struct libvmx fake = { .fd = open("/dev/null", O_RDWR) };
	struct vmx_caps caps;
	struct libvmx_vm *vm = NULL;

	ASSERT_GE(fake.fd, 0);
	EXPECT_EQ(-ENOTTY, libvmx_get_caps(&fake, &caps));
	EXPECT_EQ(-ENOTTY, libvmx_vm_create(&fake, 0, &vm));
	EXPECT_EQ(NULL, vm);
	close(fake.fd);
}

TEST(library_prints_nothing)
{
	struct libvmx *vmx;
	int pipefd[2], saved_out, saved_err;
	char buf[64];

	ASSERT_EQ(0, pipe2(pipefd, O_NONBLOCK));
	saved_out = dup(1);
	saved_err = dup(2);
	dup2(pipefd[1], 1);
	dup2(pipefd[1], 2);
	libvmx_open(&vmx) == 0 ? libvmx_close(vmx) : (void)0;
	libvmx_get_caps(NULL, NULL);
	fflush(stdout);
	dup2(saved_out, 1);
	dup2(saved_err, 2);
	EXPECT_EQ(-1, read(pipefd[0], buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);
	close(pipefd[0]);
	close(pipefd[1]);
}

TEST_HARNESS_MAIN
