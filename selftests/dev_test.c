// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/vmx: open, API version, capabilities, and refusal of bad ioctls.
 */
#include "test_util.h"
#include "kselftest_harness.h"

#include <sys/mman.h>

FIXTURE(dev) {
	int fd;
};

FIXTURE_SETUP(dev)
{
	self->fd = vmx_test_open();
	ASSERT_GE(self->fd, 0) TH_LOG("open %s: %s", VMX_DEV, strerror(errno));
}

FIXTURE_TEARDOWN(dev)
{
	close(self->fd);
}

TEST_F(dev, api_version)
{
	EXPECT_EQ(VMX_API_VERSION, ioctl(self->fd, VMX_GET_API_VERSION, 0));
	/* The argument is ignored, whatever it is. */
	EXPECT_EQ(VMX_API_VERSION, ioctl(self->fd, VMX_GET_API_VERSION, -1L));
}

TEST_F(dev, caps)
{
	struct vmx_caps caps;
	long online = sysconf(_SC_NPROCESSORS_ONLN);

	memset(&caps, 0xa5, sizeof(caps));
	ASSERT_EQ(0, ioctl_err(self->fd, VMX_GET_CAPS, &caps));
	EXPECT_EQ(cpu_backend(), caps.backend);
	EXPECT_EQ(0, caps.flags);
	EXPECT_GE(caps.max_vcpus, 1);
	EXPECT_GE(caps.max_memslots, 509);
	EXPECT_TRUE(caps.features & VMX_FEAT_NESTED_PAGING);
	EXPECT_EQ(online, caps.nr_cpus_enabled);
	EXPECT_EQ(0, caps.reserved32);
	for (int i = 0; i < 4; i++)
		EXPECT_EQ(0, caps.reserved[i]);
}

TEST_F(dev, caps_bad_pointer)
{
	EXPECT_EQ(-EFAULT, ioctl_err(self->fd, VMX_GET_CAPS, NULL));
	EXPECT_EQ(-EFAULT, ioctl_err(self->fd, VMX_GET_CAPS, (void *)1));
	/* A kernel address must not be written through. */
	EXPECT_EQ(-EFAULT, ioctl_err(self->fd, VMX_GET_CAPS,
				     (void *)0xffff888000000000UL));
}

TEST_F(dev, caps_read_only_buffer)
{
	void *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, ro);
	EXPECT_EQ(-EFAULT, ioctl_err(self->fd, VMX_GET_CAPS, ro));
	munmap(ro, 4096);
}

TEST_F(dev, unknown_ioctls)
{
	static const unsigned long bad[] = {
		0,
		_IO(VMX_IOC_MAGIC, 0x7f),
		_IOR(VMX_IOC_MAGIC, 0x01, __u32),	/* right nr, wrong size */
		_IOW(VMX_IOC_MAGIC, 0x02, __u64),
		_IOWR(VMX_IOC_MAGIC, 0x01, struct vmx_caps), /* wrong dir */
		VMX_VM_GET_INFO,			/* VM ioctl on /dev */
		0xAE00,					/* KVM_GET_API_VERSION */
		0xAE01,					/* KVM_CREATE_VM */
		~0UL,
	};
	struct vmx_caps buf;

	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-ENOTTY, ioctl_err(self->fd, bad[i], &buf))
			TH_LOG("ioctl 0x%lx", bad[i]);
	}
}

TEST_F(dev, read_write_mmap_refused)
{
	char buf[8];

	EXPECT_EQ(-1, read(self->fd, buf, sizeof(buf)));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, write(self->fd, buf, sizeof(buf)));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 4096, PROT_READ, MAP_SHARED,
				   self->fd, 0));
	EXPECT_EQ(ENODEV, errno);
}

TEST(open_read_only)
{
	/* ioctls do not depend on the open mode, as with KVM. */
	int fd = open(VMX_DEV, O_RDONLY);

	ASSERT_GE(fd, 0);
	EXPECT_EQ(VMX_API_VERSION, ioctl(fd, VMX_GET_API_VERSION, 0));
	close(fd);
}

TEST(open_many)
{
	int fds[64];

	for (int i = 0; i < 64; i++) {
		fds[i] = vmx_test_open();
		ASSERT_GE(fds[i], 0);
	}
	for (int i = 0; i < 64; i++)
		EXPECT_EQ(0, close(fds[i]));
}

TEST_HARNESS_MAIN
