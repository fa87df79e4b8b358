// SPDX-License-Identifier: GPL-2.0
/*
 * vCPU creation and the run area; register state through the vCPU fd:
 * GPRs, segment/control registers, FPU/XSAVE (and its isolation from the
 * host), MSR batches, the TSC offset and the per-VM CPUID table.
 */
#include "test_util.h"
#include "kselftest_harness.h"

#include <stddef.h>
#include <sys/mman.h>

#include "vmx_harness.h"
#include "guest.h"

#define MSR_IA32_TSC		0x10
#define MSR_EFER		0xc0000080
#define MSR_STAR		0xc0000081
#define MSR_LSTAR		0xc0000082
#define MSR_SYSCALL_MASK	0xc0000084
#define MSR_KERNEL_GS_BASE	0xc0000102
#define MSR_TSC_AUX		0xc0000103
#define MSR_BOGUS		0x4b564dff

#define XSAVE_MXCSR		24
#define XSAVE_XMM0		160
#define XSAVE_ST0		32
#define XSAVE_HDR		512

/* A VM with RAM but vCPUs created by hand through the raw ioctl. */
FIXTURE(vm) {
	struct test_vm *t;
	int vmfd;
};

FIXTURE_SETUP(vm)
{
	ASSERT_EQ(0, test_vm_create(&self->t, 1, NULL));
	self->vmfd = libvmx_vm_fd(self->t->vm);
}

FIXTURE_TEARDOWN(vm)
{
	test_vm_destroy(self->t);
}

static int create_vcpu(int vmfd, uint32_t id)
{
	struct vmx_vcpu_create args = { .id = id };

	return ioctl_err(vmfd, VMX_CREATE_VCPU, &args);
}

TEST_F(vm, vcpu_create_fd)
{
	struct vmx_vm_info info;
	int fd = create_vcpu(self->vmfd, 5);

	ASSERT_GE(fd, 0);
	EXPECT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	ASSERT_EQ(0, ioctl_err(self->vmfd, VMX_VM_GET_INFO, &info));
	EXPECT_EQ(2, info.nr_vcpus);
	/* A vCPU fd is not a VM fd and vice versa. */
	EXPECT_EQ(-ENOTTY, ioctl_err(fd, VMX_VM_GET_INFO, &info));
	EXPECT_EQ(-ENOTTY, ioctl_err(self->vmfd, VMX_RUN, NULL));
	EXPECT_EQ(-ENOTTY, ioctl_err(fd, _IO(VMX_IOC_MAGIC, 0x3f), NULL));
	close(fd);
}

TEST_F(vm, vcpu_create_errors)
{
	struct vmx_vcpu_create args;
	uint32_t max = self->t->caps.max_vcpus;

	ASSERT_GT(max, 1);
	/* id 0 exists already (the fixture's). */
	EXPECT_EQ(-EEXIST, create_vcpu(self->vmfd, 0));
	EXPECT_EQ(-EINVAL, create_vcpu(self->vmfd, max));
	EXPECT_EQ(-EINVAL, create_vcpu(self->vmfd, UINT32_MAX));
	for (int bit = 0; bit < 32; bit++) {
		memset(&args, 0, sizeof(args));
		args.id = 1;
		args.flags = 1U << bit;
		EXPECT_EQ(-EINVAL, ioctl_err(self->vmfd, VMX_CREATE_VCPU, &args))
			TH_LOG("flag bit %d", bit);
	}
	for (int i = 0; i < 3; i++) {
		memset(&args, 0, sizeof(args));
		args.id = 1;
		args.reserved[i] = 1;
		EXPECT_EQ(-EINVAL, ioctl_err(self->vmfd, VMX_CREATE_VCPU, &args));
	}
	EXPECT_EQ(-EFAULT, ioctl_err(self->vmfd, VMX_CREATE_VCPU, NULL));
	/* None of the refused ones was created: id 1 is still free. */
	int fd = create_vcpu(self->vmfd, 1);

	EXPECT_GE(fd, 0);
	EXPECT_EQ(-EEXIST, create_vcpu(self->vmfd, 1));
	close(fd);
	/* Closing a vCPU fd does not free its id: the VM still owns it. */
	EXPECT_EQ(-EEXIST, create_vcpu(self->vmfd, 1));
}

/* Every id up to max_vcpus, then no more. */
TEST_F(vm, vcpu_create_all_ids)
{
	uint32_t max = self->t->caps.max_vcpus;
	struct vmx_vm_info info;
	int *fds = calloc(max, sizeof(int));

	ASSERT_NE(NULL, fds);
	for (uint32_t id = 1; id < max; id++) {
		fds[id] = create_vcpu(self->vmfd, id);
		ASSERT_GE(fds[id], 0) TH_LOG("vcpu %u: %d", id, fds[id]);
	}
	EXPECT_EQ(-EINVAL, create_vcpu(self->vmfd, max));
	ASSERT_EQ(0, ioctl_err(self->vmfd, VMX_VM_GET_INFO, &info));
	EXPECT_EQ(max, info.nr_vcpus);
	for (uint32_t id = 1; id < max; id++)
		close(fds[id]);
	free(fds);
}

TEST_F(vm, run_area_mmap)
{
	int fd = libvmx_vcpu_fd(self->t->vcpus[0]);
	long page = sysconf(_SC_PAGESIZE);
	struct vmx_run *run;
	void *p;

	run = mmap(NULL, VMX_RUN_AREA_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, run);
	/* The same page as libvmx's mapping. */
	run->request_irq_window = 0x5a;
	EXPECT_EQ(0x5a, libvmx_vcpu_run_area(self->t->vcpus[0])->request_irq_window);
	run->request_irq_window = 0;
	munmap(run, VMX_RUN_AREA_SIZE);

	p = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, page);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	p = mmap(NULL, 2 * page, PROT_READ, MAP_SHARED, fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	p = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, 100 * page);
	EXPECT_EQ(MAP_FAILED, p);
	/*
	 * The next page right after a mapping of the run area must not be
	 * merged into it (found by vmxfuzz): EINVAL like any other offset.
	 */
	run = mmap(NULL, 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, run);
	munmap((char *)run + page, page);
	p = mmap(run, page, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	ASSERT_EQ((void *)run, p);
	p = mmap((char *)run + page, page, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED_NOREPLACE, fd, page);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	if (p != MAP_FAILED)
		munmap(p, page);
	munmap(run, page);
	/* The VM fd has nothing to map. */
	p = mmap(NULL, page, PROT_READ, MAP_SHARED, self->vmfd, 0);
	EXPECT_EQ(MAP_FAILED, p);
}

/*
 * Guest entered with the VMM's registers: it sums RBX..R15 into EAX and
 * reports it with an OUT, then halts.  Checks the world switch moves
 * every GPR both ways.
 */
void regs_guest(void);
__asm__(".pushsection .text\n"
	".globl regs_guest\n"
	"regs_guest:\n"
	"	mov %rbx, %rax\n"
	"	add %rcx, %rax\n"
	"	add %rdx, %rax\n"
	"	add %rsi, %rax\n"
	"	add %rdi, %rax\n"
	"	add %rbp, %rax\n"
	"	add %r8, %rax\n"
	"	add %r9, %rax\n"
	"	add %r10, %rax\n"
	"	add %r11, %rax\n"
	"	add %r12, %rax\n"
	"	add %r13, %rax\n"
	"	add %r14, %rax\n"
	"	add %r15, %rax\n"
	"	push %rdx\n"
	"	mov $0x80, %dx\n"
	"	outl %eax, %dx\n"
	"	pop %rdx\n"
	"	not %rbx\n"
	"	not %r15\n"
	"	hlt\n"
	".popsection\n");

TEST(regs_roundtrip_and_world_switch)
{
	struct vmx_regs regs, got;
	struct test_vm *t;
	struct libvmx_vcpu *vcpu;
	struct vmx_run *run;
	uint64_t *r = (uint64_t *)&regs, sum = 0;

	ASSERT_EQ(0, test_vm_create(&t, 1, regs_guest));
	vcpu = t->vcpus[0];
	run = libvmx_vcpu_run_area(vcpu);
	ASSERT_EQ(0, libvmx_vcpu_get_regs(vcpu, &regs));
	for (int i = 0; i < 16; i++) {
		if (i == 6)	/* RSP: keep the framework's stack */
			continue;
		r[i] = 0x1111111111111111ULL * (i + 1) + i;
		if (i)
			sum += r[i];
	}
	regs.rflags = 0x2 | (1 << 0) | (1 << 7);	/* CF, SF */
	ASSERT_EQ(0, libvmx_vcpu_set_regs(vcpu, &regs));
	ASSERT_EQ(0, libvmx_vcpu_get_regs(vcpu, &got));
	EXPECT_EQ(0, memcmp(&regs, &got, sizeof(regs)));

	ASSERT_EXIT(vcpu, VMX_EXIT_IO);
	EXPECT_EQ(0x80, run->io.port);
	EXPECT_EQ((uint32_t)sum, run->io.data);
	ASSERT_EXIT(vcpu, VMX_EXIT_HLT);
	ASSERT_EQ(0, libvmx_vcpu_get_regs(vcpu, &got));
	EXPECT_EQ(~regs.rbx, got.rbx);
	EXPECT_EQ(~regs.r15, got.r15);
	EXPECT_EQ(regs.rcx, got.rcx);
	EXPECT_EQ(regs.rsi, got.rsi);
	EXPECT_EQ(regs.rdi, got.rdi);
	EXPECT_EQ(regs.rbp, got.rbp);
	for (int i = 8; i < 15; i++) {
		EXPECT_EQ(r[i], ((uint64_t *)&got)[i]) TH_LOG("r%d", i);
	}
	EXPECT_EQ(regs.rsp, got.rsp);
	test_vm_destroy(t);
}

TEST_F(vm, regs_errors)
{
	struct libvmx_vcpu *vcpu = self->t->vcpus[0];
	int fd = libvmx_vcpu_fd(vcpu);
	struct vmx_regs regs;

	ASSERT_EQ(0, libvmx_vcpu_get_regs(vcpu, &regs));
	/* Reset state: RIP 0xfff0, RFLAGS 2. */
	EXPECT_EQ(0xfff0, regs.rip);
	EXPECT_EQ(2, regs.rflags);
	regs.rflags = 0x2 | (1ULL << 17);	/* VM: virtual-8086 */
	EXPECT_EQ(-EINVAL, ioctl_err(fd, VMX_SET_REGS, &regs));
	regs.rflags = 0x2 | (1ULL << 22);	/* reserved */
	EXPECT_EQ(-EINVAL, ioctl_err(fd, VMX_SET_REGS, &regs));
	regs.rflags = 0;			/* bit 1 is forced on */
	EXPECT_EQ(0, ioctl_err(fd, VMX_SET_REGS, &regs));
	ASSERT_EQ(0, libvmx_vcpu_get_regs(vcpu, &regs));
	EXPECT_EQ(2, regs.rflags);
	EXPECT_EQ(-EFAULT, ioctl_err(fd, VMX_SET_REGS, NULL));
	EXPECT_EQ(-EFAULT, ioctl_err(fd, VMX_GET_REGS, (void *)8));
}

TEST_F(vm, sregs_reset_state_and_roundtrip)
{
	struct libvmx_vcpu *vcpu = self->t->vcpus[0];
	struct vmx_sregs s, got;

	ASSERT_EQ(0, libvmx_vcpu_get_sregs(vcpu, &s));
	EXPECT_EQ(0xf000, s.cs.selector);
	EXPECT_EQ(0xffff0000ULL, s.cs.base);
	EXPECT_EQ(0xffff, s.cs.limit);
	EXPECT_EQ(0, s.cr0 & 1);
	EXPECT_EQ(0, s.efer);
	for (int i = 0; i < 4; i++)
		EXPECT_EQ(0, s.reserved[i]);
	ASSERT_EQ(0, libvmx_vcpu_set_sregs(vcpu, &s));
	ASSERT_EQ(0, libvmx_vcpu_get_sregs(vcpu, &got));
	EXPECT_EQ(0, memcmp(&s, &got, sizeof(s)));

	/* The framework's long-mode state round-trips too. */
	ASSERT_EQ(0, test_vcpu_long_mode(self->t, vcpu, regs_guest));
	ASSERT_EQ(0, libvmx_vcpu_get_sregs(vcpu, &s));
	EXPECT_EQ(0x500, s.efer & 0x500);	/* LME, LMA */
	s.cr2 = 0x1234000;
	s.cr8 = 7;
	ASSERT_EQ(0, libvmx_vcpu_set_sregs(vcpu, &s));
	ASSERT_EQ(0, libvmx_vcpu_get_sregs(vcpu, &got));
	EXPECT_EQ(0, memcmp(&s, &got, sizeof(s)));
}

TEST_F(vm, sregs_reserved_bits)
{
	int fd = libvmx_vcpu_fd(self->t->vcpus[0]);
	struct vmx_sregs good, s;

	ASSERT_EQ(0, test_vcpu_long_mode(self->t, self->t->vcpus[0], regs_guest));
	ASSERT_EQ(0, ioctl_err(fd, VMX_GET_SREGS, &good));
#define BAD_SREGS(stmt)							\
	do {								\
		s = good;						\
		stmt;							\
		EXPECT_EQ(-EINVAL, ioctl_err(fd, VMX_SET_SREGS, &s))	\
			TH_LOG("%s", #stmt);				\
	} while (0)
	BAD_SREGS(s.cr0 |= 1ULL << 32);
	BAD_SREGS(s.cr0 |= 1ULL << 63);
	BAD_SREGS(s.cr4 |= 1ULL << 13);		/* VMXE */
	BAD_SREGS(s.cr4 |= 1ULL << 40);
	BAD_SREGS(s.efer |= 1ULL << 12);	/* SVME: never the guest's */
	BAD_SREGS(s.efer |= 1ULL << 20);
	BAD_SREGS(s.efer |= 1ULL << 63);
	BAD_SREGS(s.cr8 = 16);
	BAD_SREGS(s.reserved[0] = 1);
	BAD_SREGS(s.reserved[3] = 1);
	BAD_SREGS(s.cs.pad = 1);
	BAD_SREGS(s.ss.type = 16);
	BAD_SREGS(s.ds.dpl = 4);
	BAD_SREGS(s.gdt.pad[1] = 1);
	BAD_SREGS(s.idt.pad[0] = 1);
	/* Inconsistent paging modes. */
	BAD_SREGS(s.cr4 &= ~(1ULL << 5));	/* long mode without PAE */
	BAD_SREGS(s.cr0 &= ~1ULL);		/* paging without protection */
#undef BAD_SREGS
	EXPECT_EQ(-EFAULT, ioctl_err(fd, VMX_SET_SREGS, NULL));
	EXPECT_EQ(-EFAULT, ioctl_err(fd, VMX_GET_SREGS, NULL));
	/* Nothing of the refused ones stuck. */
	ASSERT_EQ(0, ioctl_err(fd, VMX_GET_SREGS, &s));
	EXPECT_EQ(0, memcmp(&good, &s, sizeof(s)));
}

static struct vmx_fpu *get_fpu(struct libvmx_vcpu *vcpu)
{
	struct vmx_fpu *fpu = aligned_alloc(64, sizeof(*fpu));

	if (fpu && libvmx_vcpu_get_fpu(vcpu, fpu)) {
		free(fpu);
		return NULL;
	}
	return fpu;
}

TEST_F(vm, fpu_reset_state_and_roundtrip)
{
	struct libvmx_vcpu *vcpu = self->t->vcpus[0];
	struct vmx_fpu *fpu = get_fpu(vcpu), *got;
	uint32_t mxcsr;

	ASSERT_NE(NULL, fpu);
	EXPECT_EQ(0x37f, *(uint16_t *)fpu->xsave);
	memcpy(&mxcsr, fpu->xsave + XSAVE_MXCSR, 4);
	EXPECT_EQ(0x1f80, mxcsr);
	EXPECT_EQ(1, fpu->xcr0 & 1);
	EXPECT_EQ(0, fpu->flags);
	/* A straight GET -> SET must always be accepted. */
	ASSERT_EQ(0, libvmx_vcpu_set_fpu(vcpu, fpu));

	for (int i = 0; i < 16 * 16; i++)
		fpu->xsave[XSAVE_XMM0 + i] = i * 7 + 1;
	mxcsr = 0x1f80 | (1 << 15);	/* FZ */
	memcpy(fpu->xsave + XSAVE_MXCSR, &mxcsr, 4);
	*(uint64_t *)(fpu->xsave + XSAVE_HDR) |= 3;	/* x87, SSE present */
	ASSERT_EQ(0, libvmx_vcpu_set_fpu(vcpu, fpu));
	got = get_fpu(vcpu);
	ASSERT_NE(NULL, got);
	EXPECT_EQ(fpu->xcr0, got->xcr0);
	EXPECT_EQ(0, memcmp(fpu->xsave + XSAVE_XMM0, got->xsave + XSAVE_XMM0, 256));
	EXPECT_EQ(0, memcmp(fpu->xsave + XSAVE_MXCSR, got->xsave + XSAVE_MXCSR, 4));
	free(got);
	free(fpu);
}

TEST_F(vm, fpu_bad_header)
{
	struct libvmx_vcpu *vcpu = self->t->vcpus[0];
	int fd = libvmx_vcpu_fd(vcpu);
	struct vmx_fpu *good = get_fpu(vcpu), *f = aligned_alloc(64, sizeof(*f));
	uint32_t bad_mxcsr = 0x1f80 | (1U << 20);

	ASSERT_NE(NULL, good);
	ASSERT_NE(NULL, f);
#define BAD_FPU(stmt)							\
	do {								\
		memcpy(f, good, sizeof(*f));				\
		stmt;							\
		EXPECT_EQ(-EINVAL, ioctl_err(fd, VMX_SET_FPU, f))	\
			TH_LOG("%s", #stmt);				\
	} while (0)
	BAD_FPU(f->flags = 1);
	BAD_FPU(f->pad = 1);
	BAD_FPU(f->reserved[1] = 1);
	BAD_FPU(f->xcr0 = 0);				/* x87 is mandatory */
	BAD_FPU(f->xcr0 |= 1ULL << 62);
	/* The architectural XCR0 rules, whatever the host supports. */
	BAD_FPU(f->xcr0 = 0x1 | 0x4);			/* AVX without SSE */
	BAD_FPU(f->xcr0 = 0x7 | 0x20);			/* AVX-512: all or none */
	BAD_FPU(f->xcr0 = 0x7 | 0x20 | 0x40);
	BAD_FPU(f->xcr0 = 0x3 | 0xe0);			/* AVX-512 needs AVX */
	BAD_FPU(f->xcr0 = 0x3 | 0x200);			/* PKRU is not guest XSAVE */
	BAD_FPU(*(uint64_t *)(f->xsave + XSAVE_HDR) |= 1ULL << 62);	/* XSTATE_BV */
	BAD_FPU(*(uint64_t *)(f->xsave + XSAVE_HDR + 8) = 1ULL << 63);	/* XCOMP_BV */
	BAD_FPU(f->xsave[XSAVE_HDR + 40] = 1);		/* header reserved */
	BAD_FPU(memcpy(f->xsave + XSAVE_MXCSR, &bad_mxcsr, 4));
#undef BAD_FPU
	EXPECT_EQ(-EFAULT, ioctl_err(fd, VMX_SET_FPU, NULL));
	EXPECT_EQ(-EFAULT, ioctl_err(fd, VMX_GET_FPU, NULL));
	free(f);
	free(good);
}

/*
 * The guest's x87 and SSE registers must survive exits to user space
 * (where the VMM uses SSE itself) and exits handled in the kernel.
 */
static uint8_t fpu_in[16 * 16], fpu_out[16 * 16];
static uint64_t fpu_x87[2];

static void guest_fpu_survives(void)
{
	__asm__ volatile(
		"movdqu 0(%0), %%xmm0\n\t"   "movdqu 16(%0), %%xmm1\n\t"
		"movdqu 32(%0), %%xmm2\n\t"  "movdqu 48(%0), %%xmm3\n\t"
		"movdqu 64(%0), %%xmm4\n\t"  "movdqu 80(%0), %%xmm5\n\t"
		"movdqu 96(%0), %%xmm6\n\t"  "movdqu 112(%0), %%xmm7\n\t"
		"movdqu 128(%0), %%xmm8\n\t" "movdqu 144(%0), %%xmm9\n\t"
		"movdqu 160(%0), %%xmm10\n\t" "movdqu 176(%0), %%xmm11\n\t"
		"movdqu 192(%0), %%xmm12\n\t" "movdqu 208(%0), %%xmm13\n\t"
		"movdqu 224(%0), %%xmm14\n\t" "movdqu 240(%0), %%xmm15\n\t"
		"fninit\n\t"
		"fldpi\n\t"
		"fld1\n\t"
		/* An exit to user space, an exit the kernel handles, again. */
		"mov $0x80, %%dx\n\t"
		"outb %%al, %%dx\n\t"
		"mov $0x40000000, %%eax\n\t"
		"xor %%ecx, %%ecx\n\t"
		"cpuid\n\t"
		"mov $0x80, %%dx\n\t"
		"outb %%al, %%dx\n\t"
		"movdqu %%xmm0, 0(%1)\n\t"   "movdqu %%xmm1, 16(%1)\n\t"
		"movdqu %%xmm2, 32(%1)\n\t"  "movdqu %%xmm3, 48(%1)\n\t"
		"movdqu %%xmm4, 64(%1)\n\t"  "movdqu %%xmm5, 80(%1)\n\t"
		"movdqu %%xmm6, 96(%1)\n\t"  "movdqu %%xmm7, 112(%1)\n\t"
		"movdqu %%xmm8, 128(%1)\n\t" "movdqu %%xmm9, 144(%1)\n\t"
		"movdqu %%xmm10, 160(%1)\n\t" "movdqu %%xmm11, 176(%1)\n\t"
		"movdqu %%xmm12, 192(%1)\n\t" "movdqu %%xmm13, 208(%1)\n\t"
		"movdqu %%xmm14, 224(%1)\n\t" "movdqu %%xmm15, 240(%1)\n\t"
		"fstpl 0(%2)\n\t"
		"fstpl 8(%2)\n\t"
		: : "r"(fpu_in), "r"(fpu_out), "r"(fpu_x87)
		: "rax", "rbx", "rcx", "rdx", "memory", "xmm0", "xmm1", "xmm2",
		  "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
		  "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
	GUEST_ASSERT(!memcmp(fpu_in, fpu_out, sizeof(fpu_in)));
	GUEST_ASSERT_EQ(fpu_x87[0], 0x3ff0000000000000ULL);	/* 1.0 */
	GUEST_ASSERT_EQ(fpu_x87[1], 0x400921fb54442d18ULL);	/* pi */
	GUEST_DONE();
}

/* Fill every host XMM register and the x87 stack with junk. */
static void host_scramble_fpu(uint8_t seed)
{
	uint8_t junk[16];

	memset(junk, seed, sizeof(junk));
	__asm__ volatile(
		"movdqu (%0), %%xmm0\n\t" "movdqa %%xmm0, %%xmm1\n\t"
		"movdqa %%xmm0, %%xmm2\n\t" "movdqa %%xmm0, %%xmm3\n\t"
		"movdqa %%xmm0, %%xmm4\n\t" "movdqa %%xmm0, %%xmm5\n\t"
		"movdqa %%xmm0, %%xmm6\n\t" "movdqa %%xmm0, %%xmm7\n\t"
		"movdqa %%xmm0, %%xmm8\n\t" "movdqa %%xmm0, %%xmm9\n\t"
		"movdqa %%xmm0, %%xmm10\n\t" "movdqa %%xmm0, %%xmm11\n\t"
		"movdqa %%xmm0, %%xmm12\n\t" "movdqa %%xmm0, %%xmm13\n\t"
		"movdqa %%xmm0, %%xmm14\n\t" "movdqa %%xmm0, %%xmm15\n\t"
		"fninit\n\t" "fldz\n\t" "fldz\n\t" "fldlg2\n\t"
		: : "r"(junk)
		: "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5",
		  "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",
		  "xmm13", "xmm14", "xmm15");
}

TEST(fpu_guest_state_survives_exits)
{
	struct test_vm *t;
	struct vmx_fpu *fpu;

	for (unsigned int i = 0; i < sizeof(fpu_in); i++)
		fpu_in[i] = 0x30 + i * 13;
	ASSERT_EQ(0, test_vm_create(&t, 1, guest_fpu_survives));
	sync_global_to_guest(t, fpu_in);
	for (int i = 0; i < 2; i++) {
		ASSERT_EXIT(t->vcpus[0], VMX_EXIT_IO);
		host_scramble_fpu(0xa0 + i);
		/* The saved guest state is what the guest loaded. */
		fpu = get_fpu(t->vcpus[0]);
		ASSERT_NE(NULL, fpu);
		EXPECT_EQ(0, memcmp(fpu->xsave + XSAVE_XMM0, fpu_in, sizeof(fpu_in)));
		free(fpu);
		host_scramble_fpu(0x55);
	}
	ASSERT_UCALL(t->vcpus[0], UCALL_DONE);
	test_vm_destroy(t);
}

static void guest_fpu_clobber(void)
{
	for (int i = 0;; i++) {
		__asm__ volatile("pcmpeqb %%xmm0, %%xmm0\n\t"
				 "pxor %%xmm7, %%xmm7\n\t"
				 "movdqa %%xmm0, %%xmm15\n\t"
				 "fninit\n\t" "fld1\n\t" "fldpi\n\t"
				 "mov $0x40000000, %%eax\n\t" "cpuid\n\t"
				 : : : "rax", "rbx", "rcx", "rdx", "xmm0",
				   "xmm7", "xmm15");
		GUEST_SYNC(i);
	}
}

/* VMX_RUN as a raw syscall between loading and reading all XMM regs. */
static long run_checking_host_sse(int fd, const uint8_t *pat, uint8_t *out)
{
	long ret;

	__asm__ volatile(
		"movdqu 0(%[p]), %%xmm0\n\t"   "movdqu 16(%[p]), %%xmm1\n\t"
		"movdqu 32(%[p]), %%xmm2\n\t"  "movdqu 48(%[p]), %%xmm3\n\t"
		"movdqu 64(%[p]), %%xmm4\n\t"  "movdqu 80(%[p]), %%xmm5\n\t"
		"movdqu 96(%[p]), %%xmm6\n\t"  "movdqu 112(%[p]), %%xmm7\n\t"
		"movdqu 128(%[p]), %%xmm8\n\t" "movdqu 144(%[p]), %%xmm9\n\t"
		"movdqu 160(%[p]), %%xmm10\n\t" "movdqu 176(%[p]), %%xmm11\n\t"
		"movdqu 192(%[p]), %%xmm12\n\t" "movdqu 208(%[p]), %%xmm13\n\t"
		"movdqu 224(%[p]), %%xmm14\n\t" "movdqu 240(%[p]), %%xmm15\n\t"
		"syscall\n\t"
		"movdqu %%xmm0, 0(%[o])\n\t"   "movdqu %%xmm1, 16(%[o])\n\t"
		"movdqu %%xmm2, 32(%[o])\n\t"  "movdqu %%xmm3, 48(%[o])\n\t"
		"movdqu %%xmm4, 64(%[o])\n\t"  "movdqu %%xmm5, 80(%[o])\n\t"
		"movdqu %%xmm6, 96(%[o])\n\t"  "movdqu %%xmm7, 112(%[o])\n\t"
		"movdqu %%xmm8, 128(%[o])\n\t" "movdqu %%xmm9, 144(%[o])\n\t"
		"movdqu %%xmm10, 160(%[o])\n\t" "movdqu %%xmm11, 176(%[o])\n\t"
		"movdqu %%xmm12, 192(%[o])\n\t" "movdqu %%xmm13, 208(%[o])\n\t"
		"movdqu %%xmm14, 224(%[o])\n\t" "movdqu %%xmm15, 240(%[o])\n\t"
		: "=a"(ret)
		: "a"((long)SYS_ioctl), "D"((long)fd), "S"((long)VMX_RUN),
		  "d"(0L), [p] "r"(pat), [o] "r"(out)
		: "rcx", "r11", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4",
		  "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
		  "xmm12", "xmm13", "xmm14", "xmm15");
	return ret;
}

TEST(fpu_host_sse_unchanged_across_run)
{
	uint8_t pat[256], out[256];
	struct test_vm *t;
	struct vmx_run *run;
	struct ucall uc;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_fpu_clobber));
	run = libvmx_vcpu_run_area(t->vcpus[0]);
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < 256; i++)
			pat[i] = i * 3 + round;
		memset(out, 0, sizeof(out));
		ASSERT_EQ(0, run_checking_host_sse(libvmx_vcpu_fd(t->vcpus[0]), pat, out));
		EXPECT_EQ(0, memcmp(pat, out, sizeof(pat))) TH_LOG("round %d", round);
		ASSERT_EQ(VMX_EXIT_IO, run->exit_reason);
		ASSERT_EQ(0, libvmx_read_gpa(t->vm, (uint32_t)run->io.data, &uc, sizeof(uc)));
		ASSERT_EQ(UCALL_SYNC, uc.cmd);
		EXPECT_EQ(round, uc.args[0]);
	}
	test_vm_destroy(t);
}

/* ---- MSRs ---- */

struct msr_batch {
	struct vmx_msrs hdr;
	struct vmx_msr_data e[VMX_MAX_MSR_ENTRIES + 1];
};

TEST_F(vm, msrs_batch)
{
	int fd = libvmx_vcpu_fd(self->t->vcpus[0]);
	static struct msr_batch b;

	memset(&b, 0, sizeof(b));
	b.hdr.nmsrs = 4;
	b.e[0] = (struct vmx_msr_data){ .index = MSR_STAR, .data = 0x0023001000000000ULL };
	b.e[1] = (struct vmx_msr_data){ .index = MSR_LSTAR, .data = 0xffffffff81000000ULL };
	b.e[2] = (struct vmx_msr_data){ .index = MSR_BOGUS, .data = 1 };
	b.e[3] = (struct vmx_msr_data){ .index = MSR_SYSCALL_MASK, .data = 0x4700 };
	EXPECT_EQ(2, ioctl_err(fd, VMX_SET_MSRS, &b));

	memset(&b, 0, sizeof(b));
	b.hdr.nmsrs = 4;
	b.e[0].index = MSR_STAR;
	b.e[1].index = MSR_LSTAR;
	b.e[2].index = MSR_SYSCALL_MASK;
	b.e[3].index = MSR_BOGUS;
	b.e[2].data = b.e[3].data = 0xdead;
	EXPECT_EQ(3, ioctl_err(fd, VMX_GET_MSRS, &b));
	EXPECT_EQ(0x0023001000000000ULL, b.e[0].data);
	EXPECT_EQ(0xffffffff81000000ULL, b.e[1].data);
	EXPECT_EQ(0, b.e[2].data);		/* the SET stopped before it */
	EXPECT_EQ(0xdead, b.e[3].data);		/* not processed: untouched */

	/* A refused value stops the batch as well. */
	memset(&b, 0, sizeof(b));
	b.hdr.nmsrs = 2;
	b.e[0] = (struct vmx_msr_data){ .index = MSR_LSTAR, .data = 1ULL << 60 };
	b.e[1] = (struct vmx_msr_data){ .index = MSR_STAR, .data = 0 };
	EXPECT_EQ(0, ioctl_err(fd, VMX_SET_MSRS, &b));
	/* EFER.SVME is the host's business. */
	b.hdr.nmsrs = 1;
	b.e[0] = (struct vmx_msr_data){ .index = MSR_EFER, .data = 1ULL << 12 };
	EXPECT_EQ(0, ioctl_err(fd, VMX_SET_MSRS, &b));
	/* Reserved per-entry field. */
	b.e[0] = (struct vmx_msr_data){ .index = MSR_STAR, .reserved = 1 };
	EXPECT_EQ(0, ioctl_err(fd, VMX_SET_MSRS, &b));
	EXPECT_EQ(0, ioctl_err(fd, VMX_GET_MSRS, &b));

	b.hdr.nmsrs = 0;
	EXPECT_EQ(0, ioctl_err(fd, VMX_GET_MSRS, &b));
	b.hdr.nmsrs = VMX_MAX_MSR_ENTRIES + 1;
	EXPECT_EQ(-E2BIG, ioctl_err(fd, VMX_GET_MSRS, &b));
	EXPECT_EQ(-E2BIG, ioctl_err(fd, VMX_SET_MSRS, &b));
	b.hdr.nmsrs = UINT32_MAX;
	EXPECT_EQ(-E2BIG, ioctl_err(fd, VMX_SET_MSRS, &b));
	b.hdr.nmsrs = 1;
	b.hdr.flags = 1;
	EXPECT_EQ(-EINVAL, ioctl_err(fd, VMX_GET_MSRS, &b));
	b.hdr.flags = 0;
	b.hdr.reserved = 1;
	EXPECT_EQ(-EINVAL, ioctl_err(fd, VMX_SET_MSRS, &b));
	EXPECT_EQ(-EFAULT, ioctl_err(fd, VMX_GET_MSRS, NULL));
	EXPECT_EQ(-EFAULT, ioctl_err(fd, VMX_SET_MSRS, (void *)8));
	/* All VMX_MAX_MSR_ENTRIES at once. */
	memset(&b, 0, sizeof(b));
	b.hdr.nmsrs = VMX_MAX_MSR_ENTRIES;
	for (int i = 0; i < VMX_MAX_MSR_ENTRIES; i++)
		b.e[i].index = MSR_STAR;
	EXPECT_EQ(VMX_MAX_MSR_ENTRIES, ioctl_err(fd, VMX_GET_MSRS, &b));
}

static void guest_msrs(void)
{
	GUEST_ASSERT_EQ(guest_rdmsr(MSR_STAR), 0x0023001000000000ULL);
	GUEST_ASSERT_EQ(guest_rdmsr(MSR_TSC_AUX), 0x1234);
	GUEST_ASSERT_EQ(guest_rdmsr(MSR_KERNEL_GS_BASE), 0xffff888000000000ULL);
	guest_wrmsr(MSR_STAR, 0x0033002000000000ULL);
	guest_wrmsr(MSR_TSC_AUX, 0x77);
	guest_wrmsr(MSR_KERNEL_GS_BASE, 0x5000);
	GUEST_SYNC(1);
	GUEST_DONE();
}

TEST(msrs_shared_with_guest)
{
	struct test_vm *t;
	struct libvmx_vcpu *vcpu;
	uint64_t v;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_msrs));
	vcpu = t->vcpus[0];
	ASSERT_EQ(0, libvmx_vcpu_set_msr(vcpu, MSR_STAR, 0x0023001000000000ULL));
	ASSERT_EQ(0, libvmx_vcpu_set_msr(vcpu, MSR_TSC_AUX, 0x1234));
	ASSERT_EQ(0, libvmx_vcpu_set_msr(vcpu, MSR_KERNEL_GS_BASE, 0xffff888000000000ULL));
	ASSERT_SYNC(vcpu, 1);
	ASSERT_EQ(0, libvmx_vcpu_get_msr(vcpu, MSR_STAR, &v));
	EXPECT_EQ(0x0033002000000000ULL, v);
	ASSERT_EQ(0, libvmx_vcpu_get_msr(vcpu, MSR_TSC_AUX, &v));
	EXPECT_EQ(0x77, v);
	ASSERT_EQ(0, libvmx_vcpu_get_msr(vcpu, MSR_KERNEL_GS_BASE, &v));
	EXPECT_EQ(0x5000, v);
	ASSERT_UCALL(vcpu, UCALL_DONE);
	test_vm_destroy(t);
}

#define EFER_SCE	(1ULL << 0)

static void guest_syscall_target(void)
{
	GUEST_SYNC(2);
	GUEST_DONE();
	for (;;)
		;
}

/*
 * The SYSCALL MSRs are switched lazily on VMX (the guest's stay in the
 * CPU across exits handled in the kernel): a WRMSR handled there must
 * reach the CPU at once, not at the next return to user space.  No exit
 * to user space between the writes and the SYSCALL.
 */
static void guest_syscall_after_wrmsr(void)
{
	guest_wrmsr(MSR_EFER, guest_rdmsr(MSR_EFER) | EFER_SCE);
	guest_wrmsr(MSR_STAR, (uint64_t)TEST_SEL_CODE << 32);
	guest_wrmsr(MSR_LSTAR, (uint64_t)(uintptr_t)guest_syscall_target);
	__asm__ volatile("syscall" : : : "rcx", "r11", "memory");
	GUEST_SYNC(1);		/* SYSCALL went nowhere */
	GUEST_DONE();
}

TEST(syscall_uses_lstar_written_in_guest)
{
	struct test_vm *t;
	uint64_t v;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_syscall_after_wrmsr));
	ASSERT_SYNC(t->vcpus[0], 2);
	ASSERT_EQ(0, libvmx_vcpu_get_msr(t->vcpus[0], MSR_LSTAR, &v));
	EXPECT_EQ((uint64_t)(uintptr_t)guest_syscall_target, v);
	ASSERT_UCALL(t->vcpus[0], UCALL_DONE);
	test_vm_destroy(t);
}

#define TSC_BASE	(1ULL << 50)
#define TSC_SLACK	(1ULL << 40)

static void guest_tsc(void)
{
	uint64_t tsc = guest_rdtsc(), tsc2;

	GUEST_ASSERT(tsc >= TSC_BASE && tsc < TSC_BASE + TSC_SLACK);
	GUEST_SYNC2(1, tsc);
	tsc2 = guest_rdtsc();
	/* The VMM moved it back by a lot. */
	GUEST_ASSERT(tsc2 < TSC_BASE);
	GUEST_ASSERT(tsc2 >= 1000);
	/* A guest write moves it too. */
	guest_wrmsr(MSR_IA32_TSC, 5ULL << 40);
	tsc2 = guest_rdtsc();
	GUEST_ASSERT(tsc2 >= (5ULL << 40) && tsc2 < (5ULL << 40) + TSC_SLACK);
	GUEST_DONE();
}

TEST(tsc_offset_via_msr)
{
	struct test_vm *t;
	struct libvmx_vcpu *vcpu;
	struct ucall uc;
	uint64_t v;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_tsc));
	vcpu = t->vcpus[0];
	ASSERT_EQ(0, libvmx_vcpu_set_msr(vcpu, MSR_IA32_TSC, TSC_BASE));
	ASSERT_EQ(0, libvmx_vcpu_get_msr(vcpu, MSR_IA32_TSC, &v));
	EXPECT_GE(v, TSC_BASE);
	EXPECT_LT(v, TSC_BASE + TSC_SLACK);
	ASSERT_UCALL_INTO(vcpu, UCALL_SYNC, &uc);
	EXPECT_GE(uc.args[1], TSC_BASE);
	ASSERT_EQ(0, libvmx_vcpu_set_msr(vcpu, MSR_IA32_TSC, 1000));
	ASSERT_UCALL(vcpu, UCALL_DONE);
	ASSERT_EQ(0, libvmx_vcpu_get_msr(vcpu, MSR_IA32_TSC, &v));
	EXPECT_GE(v, 5ULL << 40);
	test_vm_destroy(t);
}

/* ---- CPUID ---- */

struct cpuid_table {
	struct vmx_cpuid hdr;
	struct vmx_cpuid_entry e[VMX_MAX_CPUID_ENTRIES + 1];
};

static void guest_custom_cpuid(void)
{
	uint32_t a, b, c, d;

	guest_cpuid(0, 0, &a, &b, &c, &d);
	GUEST_ASSERT_EQ(a, 0xd);
	GUEST_ASSERT_EQ(b, 0x74736554);		/* "Test" */
	GUEST_ASSERT_EQ(d, 0x646e6556);		/* "Vend" */
	GUEST_ASSERT_EQ(c, 0x2152726f);		/* "orR!" */
	guest_cpuid(0x40000000, 0, &a, &b, &c, &d);
	GUEST_ASSERT_EQ(a, 0x40000001);
	GUEST_ASSERT_EQ(b, 0x11111111);
	/*
	 * Indexed leaf: each subleaf its own entry.  Topology leaf 0xB is
	 * information a VMM may set freely (feature leaves are checked).
	 */
	guest_cpuid(0xb, 0, &a, &b, &c, &d);
	GUEST_ASSERT_EQ(b, 0x70);
	guest_cpuid(0xb, 1, &a, &b, &c, &d);
	GUEST_ASSERT_EQ(b, 0x71);
	guest_cpuid(0xb, 2, &a, &b, &c, &d);
	GUEST_ASSERT_EQ(b, 0);
	/* Not in the table: all zeros. */
	guest_cpuid(0x80000001, 0, &a, &b, &c, &d);
	GUEST_ASSERT_EQ(a | b | c | d, 0);
	GUEST_SYNC(1);
	/* The VMM replaced the table meanwhile. */
	guest_cpuid(0, 0, &a, &b, &c, &d);
	GUEST_ASSERT_EQ(a, 1);
	guest_cpuid(0x40000000, 0, &a, &b, &c, &d);
	GUEST_ASSERT_EQ(a | b | c | d, 0);
	GUEST_DONE();
}

TEST(cpuid_set_table)
{
	static struct cpuid_table tab;
	struct test_vm *t;
	int vmfd;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_custom_cpuid));
	vmfd = libvmx_vm_fd(t->vm);
	memset(&tab, 0, sizeof(tab));
	tab.hdr.nent = 4;
	tab.e[0] = (struct vmx_cpuid_entry){ .function = 0, .eax = 0xd,
		.ebx = 0x74736554, .edx = 0x646e6556, .ecx = 0x2152726f };
	tab.e[1] = (struct vmx_cpuid_entry){ .function = 0x40000000,
		.eax = 0x40000001, .ebx = 0x11111111 };
	tab.e[2] = (struct vmx_cpuid_entry){ .function = 0xb, .index = 0,
		.flags = VMX_CPUID_INDEXED, .ebx = 0x70 };
	tab.e[3] = (struct vmx_cpuid_entry){ .function = 0xb, .index = 1,
		.flags = VMX_CPUID_INDEXED, .ebx = 0x71 };
	ASSERT_EQ(0, ioctl_err(vmfd, VMX_SET_CPUID, &tab));
	ASSERT_SYNC(t->vcpus[0], 1);
	tab.hdr.nent = 1;
	tab.e[0].eax = 1;
	ASSERT_EQ(0, ioctl_err(vmfd, VMX_SET_CPUID, &tab));
	ASSERT_UCALL(t->vcpus[0], UCALL_DONE);
	test_vm_destroy(t);
}

TEST_F(vm, cpuid_set_errors)
{
	static struct cpuid_table tab;

	memset(&tab, 0, sizeof(tab));
	tab.hdr.nent = VMX_MAX_CPUID_ENTRIES + 1;
	EXPECT_EQ(-E2BIG, ioctl_err(self->vmfd, VMX_SET_CPUID, &tab));
	tab.hdr.nent = UINT32_MAX;
	EXPECT_EQ(-E2BIG, ioctl_err(self->vmfd, VMX_SET_CPUID, &tab));
	tab.hdr.nent = VMX_MAX_CPUID_ENTRIES;
	EXPECT_EQ(0, ioctl_err(self->vmfd, VMX_SET_CPUID, &tab));
	tab.hdr.nent = 1;
	tab.hdr.flags = 1;
	EXPECT_EQ(-EINVAL, ioctl_err(self->vmfd, VMX_SET_CPUID, &tab));
	tab.hdr.flags = 0;
	tab.hdr.reserved = 1;
	EXPECT_EQ(-EINVAL, ioctl_err(self->vmfd, VMX_SET_CPUID, &tab));
	tab.hdr.reserved = 0;
	tab.e[0].flags = 2;
	EXPECT_EQ(-EINVAL, ioctl_err(self->vmfd, VMX_SET_CPUID, &tab));
	tab.e[0].flags = 0;
	tab.e[0].pad = 1;
	EXPECT_EQ(-EINVAL, ioctl_err(self->vmfd, VMX_SET_CPUID, &tab));
	EXPECT_EQ(-EFAULT, ioctl_err(self->vmfd, VMX_SET_CPUID, NULL));
	/* Entries beyond a readable range. */
	char *page = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct vmx_cpuid *edge;

	ASSERT_NE(MAP_FAILED, page);
	ASSERT_EQ(0, munmap(page + 4096, 4096));
	edge = (struct vmx_cpuid *)(page + 4096 - sizeof(*edge));
	memset(edge, 0, sizeof(*edge));
	edge->nent = 2;
	EXPECT_EQ(-EFAULT, ioctl_err(self->vmfd, VMX_SET_CPUID, edge));
	munmap(page, 4096);
}

TEST(cpuid_get_default)
{
	static struct cpuid_table tab;
	int devfd = vmx_test_open();
	uint32_t need;
	int found = 0;

	ASSERT_GE(devfd, 0);
	memset(&tab, 0, sizeof(tab));
	EXPECT_EQ(-E2BIG, ioctl_err(devfd, VMX_GET_DEFAULT_CPUID, &tab));
	need = tab.hdr.nent;
	ASSERT_GT(need, 1);
	ASSERT_LE(need, VMX_MAX_CPUID_ENTRIES);
	tab.hdr.nent = need - 1;
	EXPECT_EQ(-E2BIG, ioctl_err(devfd, VMX_GET_DEFAULT_CPUID, &tab));
	EXPECT_EQ(need, tab.hdr.nent);
	tab.hdr.nent = VMX_MAX_CPUID_ENTRIES;
	ASSERT_EQ(0, ioctl_err(devfd, VMX_GET_DEFAULT_CPUID, &tab));
	EXPECT_EQ(need, tab.hdr.nent);
	for (uint32_t i = 0; i < tab.hdr.nent; i++) {
		if (tab.e[i].function == 0x40000000) {
			found = 1;
			EXPECT_EQ(0x76786d76, tab.e[i].ebx);
		}
		if (tab.e[i].function == 0x80000001)
			EXPECT_EQ(0, tab.e[i].ecx & (1U << 2));	/* no SVM */
		if (tab.e[i].function == 1)
			EXPECT_EQ(0, tab.e[i].ecx & (1U << 5));	/* no VMX */
	}
	EXPECT_TRUE(found);
	tab.hdr.flags = 1;
	EXPECT_EQ(-EINVAL, ioctl_err(devfd, VMX_GET_DEFAULT_CPUID, &tab));
	EXPECT_EQ(-EFAULT, ioctl_err(devfd, VMX_GET_DEFAULT_CPUID, NULL));
	close(devfd);
}

TEST_HARNESS_MAIN
