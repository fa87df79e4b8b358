// SPDX-License-Identifier: GPL-2.0
/*
 * Register sync through the run area (VMX_FEAT_SYNC_REGS): copies stored
 * at exits as asked, changed copies loaded by the next VMX_RUN with the
 * checks of the SET ioctls, and the errors.
 */
#include "test_util.h"
#include "kselftest_harness.h"

#include "vmx_harness.h"
#include "guest.h"

#define SYNC_PORT	0x80
#define MMIO_GPA	0x3f000000ULL

struct dtr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

static void guest_sync(void)
{
	uint64_t r12;
	struct dtr gdt;

	asm volatile("mov $0x1111, %%r12\n\t"
		     "outb %%al, %[port]\n\t"
		     "mov %%r12, %[r12]"
		     : [r12] "=r" (r12) : [port] "i" (SYNC_PORT) : "r12", "rax");
	GUEST_SYNC2(1, r12);
	asm volatile("sgdt %0" : "=m" (gdt));
	GUEST_SYNC2(2, gdt.limit);
	/* An MMIO read: ON_DECODE stores the copies here only. */
	GUEST_SYNC2(3, *(volatile uint32_t *)MMIO_GPA);
	GUEST_DONE();
}

static bool have_sync(struct test_vm *t)
{
	return t->caps.features & VMX_FEAT_SYNC_REGS;
}

TEST(copies_stored_and_loaded)
{
	struct test_vm *t;
	struct libvmx_vcpu *vcpu;
	struct vmx_regs regs;
	struct vmx_sregs sregs;
	struct vmx_run *run;
	struct ucall uc;
	int fd;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_sync));
	ASSERT_TRUE(have_sync(t));
	vcpu = t->vcpus[0];
	fd = libvmx_vcpu_fd(vcpu);
	run = libvmx_vcpu_run_area(vcpu);
	run->sync_want = VMX_SYNC_REGS | VMX_SYNC_SREGS;

	ASSERT_EQ(0, libvmx_vcpu_run(vcpu));
	ASSERT_EQ(VMX_EXIT_IO, run->exit_reason);
	ASSERT_EQ(SYNC_PORT, run->io.port);
	EXPECT_EQ(VMX_SYNC_REGS | VMX_SYNC_SREGS, run->sync_valid);
	ASSERT_EQ(0, ioctl_err(fd, VMX_GET_REGS, &regs));
	ASSERT_EQ(0, ioctl_err(fd, VMX_GET_SREGS, &sregs));
	EXPECT_EQ(0, memcmp(&regs, &run->regs, sizeof(regs)));
	EXPECT_EQ(0, memcmp(&sregs, &run->sregs, sizeof(sregs)));
	EXPECT_EQ(0x1111, run->regs.r12);

	/* Change R12 in the copy; the copy owns the OUT now: skip it. */
	run->regs.r12 = 0x2222;
	run->regs.rip += run->io.insn_len;
	run->sync_dirty = VMX_SYNC_REGS;
	ASSERT_EQ(UCALL_SYNC, test_run(vcpu, &uc));
	EXPECT_EQ(0, run->sync_dirty);
	EXPECT_EQ(1, uc.args[0]);
	EXPECT_EQ(0x2222, uc.args[1]);

	/* Segment state through the copy: a new GDT limit. */
	run->sregs.gdt.limit = 0x1ff;
	run->sync_dirty = VMX_SYNC_SREGS;
	ASSERT_EQ(UCALL_SYNC, test_run(vcpu, &uc));
	EXPECT_EQ(2, uc.args[0]);
	EXPECT_EQ(0x1ff, uc.args[1]);
	test_vm_destroy(t);
}

TEST(on_decode_only_at_mmio)
{
	struct vmx_regs a, b;
	struct test_vm *t;
	struct libvmx_vcpu *vcpu;
	struct vmx_run *run;
	struct ucall uc;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_sync));
	vcpu = t->vcpus[0];
	run = libvmx_vcpu_run_area(vcpu);
	run->sync_want = VMX_SYNC_ON_DECODE;
	ASSERT_EQ(0, libvmx_vcpu_run(vcpu));
	ASSERT_EQ(VMX_EXIT_IO, run->exit_reason);
	EXPECT_EQ(0, run->sync_valid);
	ASSERT_EQ(UCALL_SYNC, test_run(vcpu, &uc));
	EXPECT_EQ(0, run->sync_valid);
	ASSERT_EQ(UCALL_SYNC, test_run(vcpu, &uc));
	ASSERT_EQ(0, libvmx_vcpu_run(vcpu));
	ASSERT_EQ(VMX_EXIT_MMIO, run->exit_reason);
	EXPECT_EQ(MMIO_GPA, run->mmio.gpa);
	EXPECT_EQ(VMX_SYNC_REGS | VMX_SYNC_SREGS, run->sync_valid);
	/* libvmx reads the copies; they match what the ioctl says. */
	ASSERT_EQ(0, libvmx_vcpu_get_regs(vcpu, &a));
	ASSERT_EQ(0, ioctl_err(libvmx_vcpu_fd(vcpu), VMX_GET_REGS, &b));
	EXPECT_EQ(0, memcmp(&a, &b, sizeof(a)));
	EXPECT_EQ(a.rip, run->rip);
	test_vm_destroy(t);
}

TEST(set_ioctl_wins)
{
	struct test_vm *t;
	struct libvmx_vcpu *vcpu;
	struct vmx_regs regs;
	struct vmx_run *run;
	int fd;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_sync));
	vcpu = t->vcpus[0];
	fd = libvmx_vcpu_fd(vcpu);
	run = libvmx_vcpu_run_area(vcpu);
	run->sync_want = VMX_SYNC_REGS;
	ASSERT_EQ(0, libvmx_vcpu_run(vcpu));
	ASSERT_EQ(VMX_SYNC_REGS, run->sync_valid);
	run->sync_dirty = VMX_SYNC_REGS;
	ASSERT_EQ(0, ioctl_err(fd, VMX_GET_REGS, &regs));
	ASSERT_EQ(0, ioctl_err(fd, VMX_SET_REGS, &regs));
	EXPECT_EQ(0, run->sync_dirty);
	EXPECT_EQ(0, run->sync_valid);
	test_vm_destroy(t);
}

TEST(bad_sync_fields)
{
	struct test_vm *t;
	struct libvmx_vcpu *vcpu;
	struct vmx_run *run;
	int fd;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_sync));
	vcpu = t->vcpus[0];
	fd = libvmx_vcpu_fd(vcpu);
	run = libvmx_vcpu_run_area(vcpu);
	run->sync_want = VMX_SYNC_REGS | VMX_SYNC_SREGS;
	ASSERT_EQ(0, libvmx_vcpu_run(vcpu));

	run->sync_want = 1U << 7;
	EXPECT_EQ(-EINVAL, ioctl_err(fd, VMX_RUN, NULL));
	run->sync_want = VMX_SYNC_REGS | VMX_SYNC_SREGS;
	run->sync_dirty = 1U << 5;
	EXPECT_EQ(-EINVAL, ioctl_err(fd, VMX_RUN, NULL));
	run->sync_dirty = VMX_SYNC_ON_DECODE;
	EXPECT_EQ(-EINVAL, ioctl_err(fd, VMX_RUN, NULL));
	/* The copies get the checks of VMX_SET_REGS and VMX_SET_SREGS. */
	run->regs.rflags |= 1ULL << 17;		/* virtual-8086 */
	run->sync_dirty = VMX_SYNC_REGS;
	EXPECT_EQ(-EINVAL, ioctl_err(fd, VMX_RUN, NULL));
	run->regs.rflags &= ~(1ULL << 17);
	run->sregs.reserved[0] = 1;
	run->sync_dirty = VMX_SYNC_SREGS;
	EXPECT_EQ(-EINVAL, ioctl_err(fd, VMX_RUN, NULL));
	run->sregs.reserved[0] = 0;
	run->sregs.cs.type = 16;
	EXPECT_EQ(-EINVAL, ioctl_err(fd, VMX_RUN, NULL));
	run->sregs.cs.type = 0xb;
	run->sregs.cr4 |= 1ULL << 63;
	EXPECT_EQ(-EINVAL, ioctl_err(fd, VMX_RUN, NULL));
	run->sync_dirty = 0;
	/* Nothing of that reached the vCPU: it runs on from its OUT. */
	ASSERT_EQ(0, libvmx_vcpu_run(vcpu));
	EXPECT_EQ(VMX_EXIT_IO, run->exit_reason);
	test_vm_destroy(t);
}

TEST_HARNESS_MAIN
