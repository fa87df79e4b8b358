// SPDX-License-Identifier: GPL-2.0
/*
 * Processor modes: real mode from the reset vector and with the VMM's
 * own segments, the guest's switch from real to protected mode, 32-bit
 * protected mode set up by the VMM, and a 32-bit guest that enters long
 * mode by itself.  Guest code here is assembled in this file and copied
 * to its load address.
 */
#include "test_util.h"
#include "kselftest_harness.h"

#include <asm/prctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vmx_harness.h"
#include "guest.h"

#define RM_LOAD		0x7c00ULL
#define PM_LOAD		0x200000ULL
#define PM_GDT		0x180000ULL

/* Real mode: DS = 0x2000, store, read back, report, halt. */
extern const uint8_t rm_seg_start[], rm_seg_end[];
/* Real mode -> protected mode by the guest itself. */
extern const uint8_t rm_pm_start[], rm_pm_end[];
/* 32-bit protected mode -> long mode by the guest itself. */
extern const uint8_t pm_lm_start[], pm_lm_end[];
/* KERNEL_GS_BASE and LSTAR in 32-bit protected mode, then long mode. */
extern const uint8_t pm_msr_start[], pm_msr_end[];
/* 32-bit protected mode -> virtual-8086 mode at 0x2000:0 by IRET. */
extern const uint8_t pm_v86_start[], pm_v86_end[];

__asm__(".pushsection .rodata\n"
	".code16\n"
	"rm_seg_start:\n"
	"	mov $0x2000, %ax\n"
	"	mov %ax, %ds\n"
	"	movw $0xbeef, 0x10\n"
	"	mov 0x10, %ax\n"
	"	out %ax, $0x11\n"
	"	hlt\n"
	"rm_seg_end:\n"

	"rm_pm_start:\n"
	"	cli\n"
	"	xor %ax, %ax\n"
	"	mov %ax, %ds\n"
	"	lgdtl rm_pm_gdtr - rm_pm_start + 0x7c00\n"
	"	mov %cr0, %eax\n"
	"	or $1, %eax\n"
	"	mov %eax, %cr0\n"
	"	ljmpl $0x08, $(rm_pm_32 - rm_pm_start + 0x7c00)\n"
	".code32\n"
	"rm_pm_32:\n"
	"	mov $0x10, %ax\n"
	"	mov %ax, %ds\n"
	"	mov %ax, %ss\n"
	"	movl $0xc0ffee32, 0x300000\n"
	"	mov 0x300000, %eax\n"
	"	out %eax, $0x12\n"
	"	hlt\n"
	"	.p2align 3\n"
	"rm_pm_gdt:\n"
	"	.quad 0\n"
	"	.quad 0x00cf9a000000ffff\n"
	"	.quad 0x00cf92000000ffff\n"
	"rm_pm_gdtr:\n"
	"	.word 23\n"
	"	.long rm_pm_gdt - rm_pm_start + 0x7c00\n"
	"rm_pm_end:\n"

	"pm_lm_start:\n"
	"	mov $0x42, %eax\n"
	"	out %eax, $0x13\n"
	"	mov %cr4, %eax\n"
	"	or $0x20, %eax\n"		/* PAE */
	"	mov %eax, %cr4\n"
	"	mov $0x4000, %eax\n"		/* the framework's PML4 */
	"	mov %eax, %cr3\n"
	"	mov $0xc0000080, %ecx\n"
	"	rdmsr\n"
	"	or $0x100, %eax\n"		/* EFER.LME */
	"	wrmsr\n"
	"	mov %cr0, %eax\n"
	"	or $0x80000000, %eax\n"		/* PG: long mode now */
	"	mov %eax, %cr0\n"
	"	ljmp $0x18, $(pm_lm_64 - pm_lm_start + 0x200000)\n"
	".code64\n"
	"pm_lm_64:\n"
	"	movabs $0x123456789abcdef0, %rax\n"
	"	mov %rax, %rbx\n"
	"	shr $32, %rax\n"
	"	out %eax, $0x13\n"
	"	mov %ebx, %eax\n"
	"	out %eax, $0x13\n"
	"	hlt\n"
	"pm_lm_end:\n"

	".code32\n"
	"pm_msr_start:\n"
	"	mov $0xc0000102, %ecx\n"	/* KERNEL_GS_BASE */
	"	mov $0x5000, %eax\n"
	"	xor %edx, %edx\n"
	"	wrmsr\n"
	"	mov $0xc0000082, %ecx\n"	/* LSTAR */
	"	mov $0x6000, %eax\n"
	"	wrmsr\n"
	"	mov $0xc0000102, %ecx\n"
	"	rdmsr\n"
	"	out %eax, $0x15\n"
	"	mov %cr4, %eax\n"
	"	or $0x20, %eax\n"
	"	mov %eax, %cr4\n"
	"	mov $0x4000, %eax\n"
	"	mov %eax, %cr3\n"
	"	mov $0xc0000080, %ecx\n"
	"	rdmsr\n"
	"	or $0x100, %eax\n"
	"	wrmsr\n"
	"	mov %cr0, %eax\n"
	"	or $0x80000000, %eax\n"
	"	mov %eax, %cr0\n"
	"	ljmp $0x18, $(pm_msr_64 - pm_msr_start + 0x200000)\n"
	".code64\n"
	"pm_msr_64:\n"
	"	mov $0xc0000102, %ecx\n"
	"	rdmsr\n"
	"	out %eax, $0x15\n"
	"	hlt\n"
	"pm_msr_end:\n"

	".code32\n"
	"pm_v86_start:\n"
	"	push $0\n"			/* GS, FS, DS, ES */
	"	push $0\n"
	"	push $0\n"
	"	push $0\n"
	"	push $0x2000\n"		/* SS:ESP */
	"	push $0x800\n"
	"	push $0x23002\n"		/* EFLAGS: VM, IOPL 3 */
	"	push $0x2000\n"		/* CS:EIP, linear 0x20000 */
	"	push $0\n"
	"	iretl\n"
	"pm_v86_end:\n"
	".code64\n"
	".popsection\n");

FIXTURE(bare) {
	struct test_vm *t;
	struct libvmx_vcpu *vcpu;
	struct vmx_run *run;
};

FIXTURE_SETUP(bare)
{
	/* vCPU at its reset state; guest RAM at 0 with the long-mode tables. */
	ASSERT_EQ(0, test_vm_create(&self->t, 1, NULL));
	self->vcpu = self->t->vcpus[0];
	self->run = libvmx_vcpu_run_area(self->vcpu);
}

FIXTURE_TEARDOWN(bare)
{
	test_vm_destroy(self->t);
}

#define ASSERT_IO(self, port_, size_, data_)				\
	do {								\
		ASSERT_EXIT((self)->vcpu, VMX_EXIT_IO);			\
		EXPECT_EQ((port_), (self)->run->io.port);		\
		EXPECT_EQ((size_), (self)->run->io.size);		\
		EXPECT_EQ(VMX_IO_OUT, (self)->run->io.direction);	\
		EXPECT_EQ((uint64_t)(data_), (self)->run->io.data);	\
	} while (0)

TEST_F(bare, reset_vector)
{
	/* mov $0x1234, %ax; out %ax, $0x10; hlt -- at 0xfffffff0. */
	static const uint8_t code[] = { 0xb8, 0x34, 0x12, 0xe7, 0x10, 0xf4 };
	struct vmx_regs regs;
	uint8_t *rom = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, rom);
	memcpy(rom + 0xfff0, code, sizeof(code));
	ASSERT_EQ(0, libvmx_vm_map(self->t->vm, 1, 0xffff0000ULL, 0x10000,
				   VMX_MEM_READONLY, rom));
	ASSERT_IO(self, 0x10, 2, 0x1234);
	ASSERT_EXIT(self->vcpu, VMX_EXIT_HLT);
	ASSERT_EQ(0, libvmx_vcpu_get_regs(self->vcpu, &regs));
	EXPECT_EQ(0xfff6, regs.rip);
	EXPECT_EQ(0x1234, regs.rax & 0xffff);
}

static void real_mode_at(struct __test_metadata *_metadata,
			 struct libvmx_vcpu *vcpu, uint64_t rip)
{
	struct vmx_sregs s;
	struct vmx_regs regs = { .rip = rip, .rflags = 2, .rsp = 0x7000 };

	ASSERT_EQ(0, libvmx_vcpu_get_sregs(vcpu, &s));
	s.cs.base = 0;
	s.cs.selector = 0;
	ASSERT_EQ(0, libvmx_vcpu_set_sregs(vcpu, &s));
	ASSERT_EQ(0, libvmx_vcpu_set_regs(vcpu, &regs));
}

TEST_F(bare, real_mode_segments)
{
	uint16_t v = 0;

	ASSERT_EQ(0, libvmx_write_gpa(self->t->vm, RM_LOAD, rm_seg_start,
				      rm_seg_end - rm_seg_start));
	real_mode_at(_metadata, self->vcpu, RM_LOAD);
	ASSERT_IO(self, 0x11, 2, 0xbeef);
	ASSERT_EXIT(self->vcpu, VMX_EXIT_HLT);
	/* DS.base = 0x20000. */
	ASSERT_EQ(0, libvmx_read_gpa(self->t->vm, 0x20010, &v, 2));
	EXPECT_EQ(0xbeef, v);
}

TEST_F(bare, real_to_protected_mode)
{
	struct vmx_sregs s;
	uint32_t v = 0;

	ASSERT_EQ(0, libvmx_write_gpa(self->t->vm, RM_LOAD, rm_pm_start,
				      rm_pm_end - rm_pm_start));
	real_mode_at(_metadata, self->vcpu, RM_LOAD);
	ASSERT_IO(self, 0x12, 4, 0xc0ffee32);
	ASSERT_EXIT(self->vcpu, VMX_EXIT_HLT);
	ASSERT_EQ(0, libvmx_read_gpa(self->t->vm, 0x300000, &v, 4));
	EXPECT_EQ(0xc0ffee32, v);
	ASSERT_EQ(0, libvmx_vcpu_get_sregs(self->vcpu, &s));
	EXPECT_EQ(1, s.cr0 & 1);
	EXPECT_EQ(0x08, s.cs.selector);
	EXPECT_EQ(1, s.cs.db);
	EXPECT_EQ(0x10, s.ds.selector);
}

static struct vmx_segment flat(uint16_t sel, uint8_t type, uint8_t l, uint8_t db)
{
	return (struct vmx_segment) {
		.base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
		.s = 1, .present = 1, .l = l, .db = db, .g = 1,
	};
}

/* Flat 32-bit protected mode, no paging, with a GDT at PM_GDT. */
static void protected_mode_at(struct __test_metadata *_metadata,
			      struct test_vm *t, struct libvmx_vcpu *vcpu,
			      uint64_t rip)
{
	static const uint64_t gdt[] = {
		0, 0x00cf9a000000ffffULL, 0x00cf92000000ffffULL,
		0x00af9a000000ffffULL,
	};
	struct vmx_regs regs = { .rip = rip, .rflags = 2, .rsp = 0x7000 };
	struct vmx_sregs s;

	ASSERT_EQ(0, libvmx_write_gpa(t->vm, PM_GDT, gdt, sizeof(gdt)));
	ASSERT_EQ(0, libvmx_vcpu_get_sregs(vcpu, &s));
	s.cs = flat(0x08, 0xb, 0, 1);
	s.ds = s.es = s.fs = s.gs = s.ss = flat(0x10, 0x3, 0, 1);
	s.gdt.base = PM_GDT;
	s.gdt.limit = sizeof(gdt) - 1;
	s.cr0 = 0x11;		/* PE, ET */
	s.cr4 = 0;
	s.efer = 0;
	ASSERT_EQ(0, libvmx_vcpu_set_sregs(vcpu, &s));
	ASSERT_EQ(0, libvmx_vcpu_set_regs(vcpu, &regs));
}

TEST_F(bare, protected_mode_32)
{
	/* mov $0xdeadbeef,%eax; mov %eax,0x300004; cpuid; out %eax,$0x14; hlt */
	static const uint8_t code[] = {
		0xb8, 0xef, 0xbe, 0xad, 0xde,
		0xa3, 0x04, 0x00, 0x30, 0x00,
		0x31, 0xc0, 0x0f, 0xa2,
		0xe7, 0x14, 0xf4,
	};
	struct vmx_sregs s;
	uint32_t v = 0;

	ASSERT_EQ(0, libvmx_write_gpa(self->t->vm, PM_LOAD, code, sizeof(code)));
	protected_mode_at(_metadata, self->t, self->vcpu, PM_LOAD);
	ASSERT_EXIT(self->vcpu, VMX_EXIT_IO);
	EXPECT_EQ(0x14, self->run->io.port);
	/* CPUID leaf 0 answered in the kernel: EAX is the max leaf. */
	EXPECT_GE(self->run->io.data, 1);
	EXPECT_LT(self->run->io.data, 0x100);
	ASSERT_EXIT(self->vcpu, VMX_EXIT_HLT);
	ASSERT_EQ(0, libvmx_read_gpa(self->t->vm, 0x300004, &v, 4));
	EXPECT_EQ(0xdeadbeef, v);
	ASSERT_EQ(0, libvmx_vcpu_get_sregs(self->vcpu, &s));
	EXPECT_EQ(0, s.efer & 0x500);
}

TEST_F(bare, protected_to_long_mode)
{
	struct vmx_sregs s;
	uint64_t efer;

	ASSERT_EQ(0, libvmx_write_gpa(self->t->vm, PM_LOAD, pm_lm_start,
				      pm_lm_end - pm_lm_start));
	protected_mode_at(_metadata, self->t, self->vcpu, PM_LOAD);
	ASSERT_IO(self, 0x13, 4, 0x42);
	ASSERT_IO(self, 0x13, 4, 0x12345678);
	ASSERT_IO(self, 0x13, 4, 0x9abcdef0);
	ASSERT_EXIT(self->vcpu, VMX_EXIT_HLT);
	ASSERT_EQ(0, libvmx_vcpu_get_sregs(self->vcpu, &s));
	EXPECT_EQ(0x500, s.efer & 0x500);	/* LME and LMA */
	EXPECT_EQ(1, s.cs.l);
	EXPECT_EQ(0x18, s.cs.selector);
	EXPECT_NE(0, s.cr0 & (1ULL << 31));
	ASSERT_EQ(0, libvmx_vcpu_get_msr(self->vcpu, 0xc0000080, &efer));
	EXPECT_EQ(0x500, efer & 0x500);
}

/*
 * Outside long mode a guest's KERNEL_GS_BASE and SYSCALL MSRs are not
 * switched into the CPU (nothing there can use them): its RDMSR/WRMSR
 * are answered from the kernel's copy, the VMM thread's own GS base
 * stays as it was, and once the guest enters long mode the values it
 * wrote are in the CPU, where it reads KERNEL_GS_BASE without an exit.
 */
TEST_F(bare, msrs_outside_long_mode_stay_the_guests)
{
	unsigned long gs_before = 0, gs_after = 0;
	uint64_t v;

	ASSERT_EQ(0, syscall(SYS_arch_prctl, ARCH_SET_GS, 0x7f0000001000UL));
	ASSERT_EQ(0, syscall(SYS_arch_prctl, ARCH_GET_GS, &gs_before));
	ASSERT_EQ(0, libvmx_write_gpa(self->t->vm, PM_LOAD, pm_msr_start,
				      pm_msr_end - pm_msr_start));
	protected_mode_at(_metadata, self->t, self->vcpu, PM_LOAD);
	ASSERT_IO(self, 0x15, 4, 0x5000);
	ASSERT_EQ(0, syscall(SYS_arch_prctl, ARCH_GET_GS, &gs_after));
	EXPECT_EQ(gs_before, gs_after);
	ASSERT_EQ(0, libvmx_vcpu_get_msr(self->vcpu, 0xc0000102, &v));
	EXPECT_EQ(0x5000, v);
	ASSERT_EQ(0, libvmx_vcpu_get_msr(self->vcpu, 0xc0000082, &v));
	EXPECT_EQ(0x6000, v);
	/* In long mode now. */
	ASSERT_IO(self, 0x15, 4, 0x5000);
	ASSERT_EXIT(self->vcpu, VMX_EXIT_HLT);
	ASSERT_EQ(0, syscall(SYS_arch_prctl, ARCH_GET_GS, &gs_after));
	EXPECT_EQ(gs_before, gs_after);
	ASSERT_EQ(0, libvmx_vcpu_get_msr(self->vcpu, 0xc0000102, &v));
	EXPECT_EQ(0x5000, v);
	syscall(SYS_arch_prctl, ARCH_SET_GS, 0UL);
}

/* The framework's own 64-bit guest: long mode set up by the VMM. */
/*
 * A hardware task switch (far jump to a TSS) is something the kernel does
 * not do for a guest: the VMM gets an internal-error exit naming it.
 */
/*
 * A guest that entered virtual-8086 mode itself: VMX_GET_REGS shows
 * RFLAGS.VM and VMX_SET_REGS takes those registers back (advancing RIP,
 * as a VMM completing an exit does); a reset may clear VM, and setting
 * it again is refused (regs_test checks the refusal from protected
 * mode).  The exit to user space is a hypercall, which exits before the
 * CPU's virtual-8086 checks.
 */
TEST_F(bare, virtual_8086_registers_round_trip)
{
	const uint8_t vmcall[] = { 0x0f, 0x01,
		test_backend() == VMX_BACKEND_SVM ? 0xd9 : 0xc1, 0xf4 };
	struct vmx_regs regs, again;

	ASSERT_EQ(0, libvmx_write_gpa(self->t->vm, PM_LOAD, pm_v86_start,
				      pm_v86_end - pm_v86_start));
	ASSERT_EQ(0, libvmx_write_gpa(self->t->vm, 0x20000, vmcall,
				      sizeof(vmcall)));
	protected_mode_at(_metadata, self->t, self->vcpu, PM_LOAD);
	ASSERT_EXIT(self->vcpu, VMX_EXIT_HYPERCALL);
	ASSERT_EQ(0, libvmx_vcpu_get_regs(self->vcpu, &regs));
	ASSERT_NE(0, regs.rflags & 0x20000)
		TH_LOG("rflags %#llx rip %#llx", (unsigned long long)regs.rflags,
		       (unsigned long long)regs.rip);
	EXPECT_EQ(0, regs.rip);
	regs.rip += 3;
	EXPECT_EQ(0, libvmx_vcpu_set_regs(self->vcpu, &regs));
	ASSERT_EQ(0, libvmx_vcpu_get_regs(self->vcpu, &again));
	EXPECT_EQ(3, again.rip);
	EXPECT_EQ(regs.rflags, again.rflags);
	regs.rflags &= ~0x20000ULL;
	EXPECT_EQ(0, libvmx_vcpu_set_regs(self->vcpu, &regs));
	regs.rflags |= 0x20000ULL;
	EXPECT_EQ(-EINVAL, libvmx_vcpu_set_regs(self->vcpu, &regs));
}

TEST_F(bare, task_switch_is_internal_error)
{
	/* ljmp $0x20, $0 */
	static const uint8_t code[] = { 0xea, 0, 0, 0, 0, 0x20, 0x00 };
	static const uint64_t gdt[] = {
		0, 0x00cf9a000000ffffULL, 0x00cf92000000ffffULL,
		0x00af9a000000ffffULL,
		0x0000891900000067ULL,	/* 32-bit TSS at 0x190000 */
	};
	struct vmx_sregs s;
	struct ucall uc;

	/*
	 * Seen on the QEMU SVM rig: its emulated SVM never raises the
	 * TASK_SWITCH intercept, the guest triple-faults instead.
	 */
	if (self->t->caps.backend == VMX_BACKEND_SVM)
		SKIP(return, "QEMU's SVM emulation does not intercept task switches");
	ASSERT_EQ(0, libvmx_write_gpa(self->t->vm, PM_LOAD, code, sizeof(code)));
	protected_mode_at(_metadata, self->t, self->vcpu, PM_LOAD);
	ASSERT_EQ(0, libvmx_write_gpa(self->t->vm, PM_GDT, gdt, sizeof(gdt)));
	ASSERT_EQ(0, libvmx_vcpu_get_sregs(self->vcpu, &s));
	s.gdt.limit = sizeof(gdt) - 1;
	ASSERT_EQ(0, libvmx_vcpu_set_sregs(self->vcpu, &s));
	ASSERT_EQ(UCALL_NONE, test_run(self->vcpu, &uc));
	ASSERT_EQ(VMX_EXIT_INTERNAL_ERROR, self->run->exit_reason)
		TH_LOG("%s", test_describe(self->vcpu, &uc));
	EXPECT_EQ(VMX_INTERNAL_UNKNOWN_EXIT, self->run->internal.suberror);
	EXPECT_GE(self->run->internal.ndata, 1);
	/* The exit code of the CPU: Intel reason 9 (SVM would say 0x7d). */
	EXPECT_EQ(9, self->run->internal.data[0]);
}

static void guest_long(void)
{
	uint64_t cr0, cr4, efer = guest_rdmsr(0xc0000080);

	__asm__ volatile("mov %%cr0, %0\n\tmov %%cr4, %1" : "=r"(cr0), "=r"(cr4));
	GUEST_ASSERT(cr0 & (1ULL << 31));
	GUEST_ASSERT(cr4 & (1ULL << 5));
	GUEST_ASSERT_EQ(efer & 0x500, 0x500);
	/* A 64-bit value through a 64-bit register. */
	GUEST_SYNC2(1, 0xfedcba9876543210ULL);
	GUEST_DONE();
}

TEST(long_mode)
{
	struct test_vm *t;
	struct ucall uc;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_long));
	ASSERT_UCALL_INTO(t->vcpus[0], UCALL_SYNC, &uc);
	EXPECT_EQ(0xfedcba9876543210ULL, uc.args[1]);
	ASSERT_UCALL(t->vcpus[0], UCALL_DONE);
	test_vm_destroy(t);
}

TEST_HARNESS_MAIN
