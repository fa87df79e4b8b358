// SPDX-License-Identifier: GPL-2.0
/*
 * Guest isolation on the SVM backend, and what a guest sees of it on any
 * backend: exception loops that never reach an instruction boundary
 * (#AC, #DB) end with the VMM in control; debug exceptions and #AC reach
 * the guest's handlers as on bare metal; CR4 bits the module does not
 * virtualize raise #GP; SET_SREGS flushes the guest TLB; a vCPU works
 * again after a triple fault; RDPMC raises #GP; SVM turned off under a
 * running vCPU is an error for the VMM, not a host oops.
 *
 * Loop tests are bounded by alarm(): the run must end in EINTR (or a
 * SHUTDOWN exit) well within the harness timeout.
 */
#include "test_util.h"
#include "kselftest_harness.h"

#include <pthread.h>
#include <signal.h>
#include <time.h>

#include "vmx_harness.h"
#include "guest.h"

#define X86_EFLAGS_TF		(1ULL << 8)
#define X86_EFLAGS_IOPL3	(3ULL << 12)
#define X86_EFLAGS_AC		(1ULL << 18)
#define X86_CR0_PE		(1ULL << 0)
#define X86_CR0_ET		(1ULL << 4)
#define X86_CR0_NE		(1ULL << 5)
#define X86_CR0_AM		(1ULL << 18)

#define DR6_TRAP_MASK		0xe00fULL	/* BT BS BD B3..B0 */
#define DR7_FIXED		0x400ULL
#define DR7_L0			(1ULL << 0)
#define DR7_RW0_WRITE		(1ULL << 16)
#define DR7_LEN0_8		(2ULL << 18)

/* A run that may loop in the guest: alarm() makes it end in EINTR. */
static void on_alarm(int sig)
{
}

static void arm_alarm(unsigned int seconds)
{
	struct sigaction sa = { .sa_handler = on_alarm };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	alarm(seconds);
}

/* The VMM is in control again: EINTR from the alarm, or a SHUTDOWN. */
#define ASSERT_VMM_IN_CONTROL(vcpu)					\
	do {								\
		struct vmx_run *__run = libvmx_vcpu_run_area(vcpu);	\
		int __ret = libvmx_vcpu_run(vcpu);			\
		alarm(0);						\
		if (__ret == 0) {					\
			ASSERT_EQ(VMX_EXIT_SHUTDOWN, __run->exit_reason)	\
				TH_LOG("exit %s at 0x%llx",		\
				       test_exit_name(__run->exit_reason),	\
				       (unsigned long long)__run->rip);	\
		} else {						\
			ASSERT_EQ(-EINTR, __ret);			\
			ASSERT_EQ(VMX_EXIT_INTR, __run->exit_reason);	\
		}							\
	} while (0)

/* ---- 32-bit protected mode at CPL 3, for #AC (legacy frames) ---- */

#define PM_GDT		0x180000ULL
#define PM_TSS		0x181000ULL
#define PM_IDT		0x182000ULL
#define PM_CODE		0x200000ULL
#define PM_STACK0	0x190000ULL	/* ring-0 stack (TSS.ESP0) */
#define PM_STACK3	0x1f0000ULL
#define PM_SEL_CODE0	0x08
#define PM_SEL_DATA0	0x10
#define PM_SEL_CONFORM	0x18		/* DPL 0 conforming code */
#define PM_SEL_CODE3	0x23
#define PM_SEL_DATA3	0x2b
#define PM_SEL_TSS	0x30
#define AC_VECTOR	17

/*
 * ac_loop_entry: a push through a misaligned ESP (#AC).  ac_load_entry:
 * a misaligned load.  Port 0x14: no #AC came.  ac_loop_handler runs at
 * CPL 3 (conforming segment), ac_ring0_handler at CPL 0 and reports the
 * error code (0x15), the faulting EIP (0x16) and CS (0x17).
 */
extern const uint8_t ac_code_start[], ac_code_end[], ac_loop_entry[],
	ac_load_entry[], ac_load_insn[], ac_loop_handler[], ac_ring0_handler[];

__asm__(".pushsection .rodata\n"
	".code32\n"
	"ac_code_start:\n"
	"ac_loop_entry:\n"
	"	push %eax\n"
	"	mov $0x5a, %eax\n"
	"	out %eax, $0x14\n"
	"1:	jmp 1b\n"
	"ac_load_entry:\n"
	"ac_load_insn:\n"
	"	mov 0x300001, %eax\n"
	"	mov $0x5a, %eax\n"
	"	out %eax, $0x14\n"
	"2:	jmp 2b\n"
	"ac_loop_handler:\n"
	"	mov $0x77, %eax\n"
	"	out %eax, $0x15\n"
	"3:	jmp 3b\n"
	"ac_ring0_handler:\n"
	"	pop %eax\n"
	"	out %eax, $0x15\n"
	"	mov (%esp), %eax\n"
	"	out %eax, $0x16\n"
	"	mov 4(%esp), %eax\n"
	"	out %eax, $0x17\n"
	"	hlt\n"
	"ac_code_end:\n"
	".code64\n"
	".popsection\n");

static uint64_t pm_addr(const uint8_t *sym)
{
	return PM_CODE + (sym - ac_code_start);
}

static struct vmx_segment pm_seg(uint16_t sel, uint8_t type, uint8_t dpl)
{
	return (struct vmx_segment) {
		.base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
		.s = 1, .dpl = dpl, .present = 1, .db = 1, .g = 1,
	};
}

/* 32-bit interrupt gate. */
static uint64_t pm_gate(uint16_t sel, uint64_t off)
{
	return (off & 0xffff) | ((uint64_t)sel << 16) |
	       (0x8e00ULL << 32) | ((off & 0xffff0000ULL) << 32);
}

/*
 * Put @vcpu in flat 32-bit protected mode at @cpl with @cr0 (PE is set),
 * @cr3 and the gate @gate for @vector, at @rip with @esp.  IOPL 3 and
 * EFLAGS.AC.
 */
static int pm_setup(struct test_vm *t, struct libvmx_vcpu *vcpu, uint64_t rip,
		    uint64_t esp, uint8_t cpl, uint64_t cr0, uint64_t cr3,
		    unsigned int vector, uint64_t gate)
{
	static const uint64_t gdt[8] = {
		0,
		0x00cf9a000000ffffULL,	/* 0x08 code, DPL 0 */
		0x00cf92000000ffffULL,	/* 0x10 data, DPL 0 */
		0x00cf9e000000ffffULL,	/* 0x18 conforming code, DPL 0 */
		0x00cffa000000ffffULL,	/* 0x20 code, DPL 3 */
		0x00cff2000000ffffULL,	/* 0x28 data, DPL 3 */
		/* 0x30 32-bit TSS at PM_TSS, limit 0x67 */
		0x0000890000000067ULL | ((PM_TSS & 0xffffff) << 16) |
			((PM_TSS >> 24) << 56),
		0,
	};
	uint32_t tss[26] = { [1] = PM_STACK0, [2] = PM_SEL_DATA0 };
	struct vmx_regs regs = { .rip = rip, .rsp = esp,
		.rflags = 2 | X86_EFLAGS_AC | X86_EFLAGS_IOPL3 };
	struct vmx_sregs s;
	int ret;

	memcpy(t->ram + PM_GDT, gdt, sizeof(gdt));
	memcpy(t->ram + PM_TSS, tss, sizeof(tss));
	memset(t->ram + PM_IDT, 0, 256 * 8);
	memcpy(t->ram + PM_IDT + vector * 8, &gate, 8);

	ret = libvmx_vcpu_get_sregs(vcpu, &s);
	if (ret)
		return ret;
	s.cs = pm_seg(cpl ? PM_SEL_CODE3 : PM_SEL_CODE0, 0xb, cpl);
	s.ds = s.es = s.fs = s.gs = s.ss =
		pm_seg(cpl ? PM_SEL_DATA3 : PM_SEL_DATA0, 0x3, cpl);
	s.tr = (struct vmx_segment) { .base = PM_TSS, .limit = 0x67,
		.selector = PM_SEL_TSS, .type = 0xb, .present = 1 };
	memset(&s.ldt, 0, sizeof(s.ldt));
	s.ldt.unusable = 1;
	s.gdt.base = PM_GDT;
	s.gdt.limit = sizeof(gdt) - 1;
	s.idt.base = PM_IDT;
	s.idt.limit = 256 * 8 - 1;
	s.cr0 = cr0 | X86_CR0_PE | X86_CR0_ET | X86_CR0_NE;
	s.cr3 = cr3;
	s.cr4 = 0;
	s.efer = 0;
	ret = libvmx_vcpu_set_sregs(vcpu, &s);
	return ret ? ret : libvmx_vcpu_set_regs(vcpu, &regs);
}

/* CPL 3 with CR0.AM (and EFLAGS.AC): alignment checks on. */
static int pm_cpl3_setup(struct test_vm *t, struct libvmx_vcpu *vcpu,
			 uint64_t rip, uint64_t esp, uint64_t ac_gate)
{
	memcpy(t->ram + PM_CODE, ac_code_start, ac_code_end - ac_code_start);
	return pm_setup(t, vcpu, rip, esp, 3, X86_CR0_AM, 0, AC_VECTOR, ac_gate);
}

/* The rig's CPU may not implement alignment checking at all. */
#define SKIP_IF_NO_AC(run)						\
	do {								\
		if ((run)->exit_reason == VMX_EXIT_IO &&		\
		    (run)->io.port == 0x14)				\
			SKIP(goto out, "this CPU (emulator) never raises #AC"); \
	} while (0)

/* CVE-2015-5307: delivering #AC pushes through the misaligned ESP. */
TEST(ac_delivery_loop_ends_in_vmm)
{
	struct test_vm *t;
	struct libvmx_vcpu *vcpu;
	struct vmx_run *run;
	int ret;

	ASSERT_EQ(0, test_vm_create(&t, 1, NULL));
	vcpu = t->vcpus[0];
	run = libvmx_vcpu_run_area(vcpu);
	ASSERT_EQ(0, pm_cpl3_setup(t, vcpu, pm_addr(ac_loop_entry),
				   PM_STACK3 + 1,
				   pm_gate(PM_SEL_CONFORM, pm_addr(ac_loop_handler))));
	arm_alarm(2);
	ret = libvmx_vcpu_run(vcpu);
	alarm(0);
	if (ret == 0) {
		SKIP_IF_NO_AC(run);
		ASSERT_EQ(VMX_EXIT_SHUTDOWN, run->exit_reason)
			TH_LOG("exit %s port 0x%x", test_exit_name(run->exit_reason),
			       run->io.port);
	} else {
		ASSERT_EQ(-EINTR, ret);
		ASSERT_EQ(VMX_EXIT_INTR, run->exit_reason);
	}
	/* The vCPU is still usable: a second bounded run. */
	arm_alarm(1);
	ASSERT_VMM_IN_CONTROL(vcpu);
out:
	test_vm_destroy(t);
}

/* A plain misaligned load at CPL 3: #AC(0) at the load, handled at CPL 0. */
TEST(ac_reaches_guest_handler)
{
	struct test_vm *t;
	struct libvmx_vcpu *vcpu;
	struct vmx_run *run;

	ASSERT_EQ(0, test_vm_create(&t, 1, NULL));
	vcpu = t->vcpus[0];
	run = libvmx_vcpu_run_area(vcpu);
	ASSERT_EQ(0, pm_cpl3_setup(t, vcpu, pm_addr(ac_load_entry), PM_STACK3,
				   pm_gate(PM_SEL_CODE0, pm_addr(ac_ring0_handler))));
	arm_alarm(5);
	ASSERT_EQ(0, libvmx_vcpu_run(vcpu));
	alarm(0);
	SKIP_IF_NO_AC(run);
	ASSERT_EQ(VMX_EXIT_IO, run->exit_reason)
		TH_LOG("exit %s", test_exit_name(run->exit_reason));
	EXPECT_EQ(0x15, run->io.port);
	EXPECT_EQ(0, run->io.data);			/* #AC error code */
	ASSERT_EXIT(vcpu, VMX_EXIT_IO);
	EXPECT_EQ(0x16, run->io.port);
	EXPECT_EQ(pm_addr(ac_load_insn), run->io.data);	/* fault: the load */
	ASSERT_EXIT(vcpu, VMX_EXIT_IO);
	EXPECT_EQ(0x17, run->io.port);
	EXPECT_EQ(PM_SEL_CODE3, run->io.data);
	ASSERT_EXIT(vcpu, VMX_EXIT_HLT);
out:
	test_vm_destroy(t);
}

/* ---- #DB (64-bit guests of the framework) ---- */

/* CVE-2015-8104: a data breakpoint on the #DB frame's own stack slot. */
#define DB_IST_TOP	(TEST_SCRATCH + 0x10000)
#define DB_IST_SLOT	(DB_IST_TOP - 8)	/* where delivery pushes SS */

static volatile uint64_t db_loop_handled;

static uint64_t db_loop_handler(uint64_t vector, uint64_t error, uint64_t rip)
{
	/* Only reached when the CPU did not loop: stop the breakpoint. */
	__asm__ volatile("mov %0, %%dr7" : : "r"(DR7_FIXED));
	db_loop_handled++;
	return rip;
}

static void guest_db_loop(void)
{
	guest_handlers[1] = db_loop_handler;
	__asm__ volatile("mov %0, %%dr0" : : "r"(DB_IST_SLOT));
	__asm__ volatile("mov %0, %%dr7" : : "r"(DR7_FIXED | DR7_L0 |
						DR7_RW0_WRITE | DR7_LEN0_8));
	*(volatile uint64_t *)DB_IST_SLOT = 1;
	GUEST_SYNC2(1, db_loop_handled);
}

/* QEMU's software CPU, which cannot take the #DB loop below. */
static bool cpu_is_qemu_tcg(void)
{
	char line[256];
	bool qemu = false;
	FILE *f = fopen("/proc/cpuinfo", "r");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "model name", 10)) {
			qemu = strstr(line, "QEMU Virtual CPU");
			break;
		}
	fclose(f);
	return qemu;
}

TEST(db_delivery_loop_ends_in_vmm)
{
	struct test_vm *t;
	struct libvmx_vcpu *vcpu;
	struct vmx_run *run;
	uint64_t gate, ist = DB_IST_TOP;
	struct ucall uc;
	int ret;

	if (cpu_is_qemu_tcg())
		SKIP(return, "QEMU TCG aborts (iothread lock assertion) on a data breakpoint hit while delivering #DB, with or without the intercept");
	ASSERT_EQ(0, test_vm_create(&t, 1, guest_db_loop));
	vcpu = t->vcpus[0];
	run = libvmx_vcpu_run_area(vcpu);
	/* #DB on IST1: every delivery pushes to the same slot. */
	memcpy(&gate, t->ram + TEST_IDT + 1 * 16, 8);
	gate |= 1ULL << 32;
	memcpy(t->ram + TEST_IDT + 1 * 16, &gate, 8);
	memcpy(t->ram + TEST_TSS + 0x24, &ist, 8);

	arm_alarm(2);
	ret = libvmx_vcpu_run(vcpu);
	alarm(0);
	if (ret == 0 && run->exit_reason == VMX_EXIT_IO &&
	    run->io.port == UCALL_PORT) {
		libvmx_read_gpa(t->vm, (uint32_t)run->io.data, &uc, sizeof(uc));
		if (uc.cmd == UCALL_SYNC && uc.args[0] == 1 && uc.args[1])
			SKIP(goto out, "this CPU (emulator) does not hit data breakpoints while delivering #DB");
	}
	if (ret == 0) {
		ASSERT_EQ(VMX_EXIT_SHUTDOWN, run->exit_reason)
			TH_LOG("exit %s", test_exit_name(run->exit_reason));
	} else {
		ASSERT_EQ(-EINTR, ret);
		ASSERT_EQ(VMX_EXIT_INTR, run->exit_reason);
	}
	arm_alarm(1);
	ASSERT_VMM_IN_CONTROL(vcpu);
out:
	test_vm_destroy(t);
}

#define DB_MAX	8
static volatile uint64_t db_count, db_dr6[DB_MAX], db_rip[DB_MAX];
static volatile uint64_t db_var __attribute__((aligned(8)));
extern const uint8_t db_data_after[], db_icebp_after[];

static uint64_t db_record_handler(uint64_t vector, uint64_t error, uint64_t rip)
{
	uint64_t dr6;

	dr6 = get_dr6();
	if (db_count < DB_MAX) {
		db_dr6[db_count] = dr6;
		db_rip[db_count] = rip;
	}
	db_count++;
	/* DR6 bits are sticky: software clears them. */
	set_dr6(DR6_FIXED);
	return rip;
}

static void guest_debug_exceptions(void)
{
	uint64_t i;

	guest_handlers[1] = db_record_handler;
	set_dr6(DR6_FIXED);

	/* Single-step: nop, pushf, andq and the popf that clears TF. */
	__asm__ volatile("pushfq\n\t"
			 "orq $0x100, (%%rsp)\n\t"
			 "popfq\n\t"
			 "nop\n\t"
			 "pushfq\n\t"
			 "andq $~0x100, (%%rsp)\n\t"
			 "popfq\n\t" : : : "memory", "cc");
	GUEST_ASSERT_EQ(db_count, 4);
	for (i = 0; i < 4; i++)
		GUEST_ASSERT_EQ(db_dr6[i] & DR6_TRAP_MASK, DR6_BS);
	GUEST_SYNC(1);

	/* Data breakpoint 0 on a write: a trap after the store. */
	db_count = 0;
	__asm__ volatile("mov %0, %%dr0" : : "r"(&db_var));
	__asm__ volatile("mov %0, %%dr7" : : "r"(DR7_FIXED | DR7_L0 |
						DR7_RW0_WRITE | DR7_LEN0_8));
	__asm__ volatile("movq $5, (%0)\n\t"
			 ".globl db_data_after\n"
			 "db_data_after:\n\t" : : "r"(&db_var) : "memory");
	__asm__ volatile("mov %0, %%dr7" : : "r"(DR7_FIXED));
	GUEST_ASSERT_EQ(db_count, 1);
	GUEST_ASSERT_EQ(db_dr6[0] & DR6_TRAP_MASK, 1);
	GUEST_ASSERT_EQ(db_rip[0], (uint64_t)db_data_after);
	GUEST_SYNC(2);
	GUEST_DONE();
}

TEST(debug_exceptions_reach_guest)
{
	struct test_vm *t;
	struct libvmx_vcpu *vcpu;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_debug_exceptions));
	vcpu = t->vcpus[0];
	ASSERT_SYNC(vcpu, 1);
	ASSERT_SYNC(vcpu, 2);
	ASSERT_UCALL(vcpu, UCALL_DONE);
	test_vm_destroy(t);
}

static volatile uint64_t int1_ud;

static uint64_t int1_ud_handler(uint64_t vector, uint64_t error, uint64_t rip)
{
	int1_ud++;
	return rip + 1;
}

static void guest_int1(void)
{
	guest_handlers[1] = db_record_handler;
	guest_handlers[6] = int1_ud_handler;
	set_dr6(DR6_FIXED);
	/* INT1 (ICEBP): #DB as a trap, no DR6 status bit. */
	__asm__ volatile(".byte 0xf1\n\t"
			 ".globl db_icebp_after\n"
			 "db_icebp_after:\n\t" : : : "memory");
	GUEST_SYNC2(1, int1_ud);
	GUEST_ASSERT_EQ(db_count, 1);
	GUEST_ASSERT_EQ(db_rip[0], (uint64_t)db_icebp_after);
	GUEST_ASSERT_EQ(db_dr6[0] & DR6_TRAP_MASK, 0);
	GUEST_DONE();
}

TEST(int1_reaches_guest)
{
	struct test_vm *t;
	struct ucall uc;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_int1));
	ASSERT_UCALL_INTO(t->vcpus[0], UCALL_SYNC, &uc);
	if (uc.args[1])
		SKIP(goto out, "this CPU (emulator) raises #UD for INT1");
	ASSERT_UCALL(t->vcpus[0], UCALL_DONE);
out:
	test_vm_destroy(t);
}

/* ---- CR4: bits the module does not virtualize raise #GP ---- */

#define CR4_PSE_BIT		(1ULL << 4)
#define CR4_PAE			(1ULL << 5)
#define CR4_PGE			(1ULL << 7)
#define CR4_OSFXSR		(1ULL << 9)
#define CR4_OSXSAVE		(1ULL << 18)
#define CPUID1_EDX_PGE		(1U << 13)
#define CPUID1_ECX_XSAVE	(1U << 26)
#define CPUID1_ECX_OSXSAVE	(1U << 27)

static volatile uint64_t gp_count, gp_skip;

static uint64_t gp_skip_handler(uint64_t vector, uint64_t error, uint64_t rip)
{
	gp_count++;
	return rip + gp_skip;
}

static uint64_t read_cr4(void)
{
	uint64_t v;

	__asm__ volatile("mov %%cr4, %0" : "=r"(v));
	return v;
}

/* MOV %rax, %cr4 (0f 22 e0): 1 if it raised #GP. */
static int try_cr4(uint64_t v)
{
	uint64_t before = gp_count;

	gp_skip = 3;
	__asm__ volatile("mov %0, %%cr4" : : "a"(v) : "memory");
	return gp_count != before;
}

/* MOV %r9, %cr4 (41 0f 22 e1): the same with a REX prefix. */
static int try_cr4_r9(uint64_t v)
{
	uint64_t before = gp_count;

	gp_skip = 4;
	__asm__ volatile("mov %0, %%r9\n\t"
			 ".byte 0x41, 0x0f, 0x22, 0xe1" : : "r"(v) : "r9", "memory");
	return gp_count != before;
}

/* Bits no guest of this module may set (VMXE SMXE 15 KL PKE CET PKS ...). */
static const uint64_t cr4_refused[] = {
	1ULL << 13, 1ULL << 14, 1ULL << 15, 1ULL << 19, 1ULL << 22,
	1ULL << 23, 1ULL << 24, 1ULL << 25, 1ULL << 26, 1ULL << 27,
	1ULL << 28, 1ULL << 31, 1ULL << 32, 1ULL << 63,
};

static void guest_cr4(void)
{
	uint32_t a, b, c, d;
	uint64_t cr4, i;

	guest_handlers[13] = gp_skip_handler;
	cr4 = read_cr4();
	for (i = 0; i < sizeof(cr4_refused) / sizeof(cr4_refused[0]); i++) {
		GUEST_ASSERT_EQ(try_cr4(cr4 | cr4_refused[i]) ? 0 : cr4_refused[i], 0);
		GUEST_ASSERT_EQ(read_cr4(), cr4);
	}
	GUEST_ASSERT(try_cr4_r9(cr4 | (1ULL << 22)));
	/* Architectural: LA57 cannot change and PAE cannot go in long mode. */
	GUEST_ASSERT(try_cr4(cr4 ^ (1ULL << 12)));
	GUEST_ASSERT(try_cr4(cr4 & ~CR4_PAE));
	GUEST_ASSERT_EQ(read_cr4(), cr4);
	GUEST_ASSERT_EQ(gp_count, sizeof(cr4_refused) / sizeof(cr4_refused[0]) + 3);
	GUEST_SYNC(1);

	/* What the CPUID the guest sees offers works. */
	gp_count = 0;
	guest_cpuid(1, 0, &a, &b, &c, &d);
	GUEST_ASSERT(!try_cr4(cr4));
	GUEST_ASSERT(cr4 & CR4_OSFXSR);
	if (d & CPUID1_EDX_PGE) {
		GUEST_ASSERT(!try_cr4(cr4 | CR4_PGE));
		GUEST_ASSERT_EQ(read_cr4(), cr4 | CR4_PGE);
		GUEST_ASSERT(!try_cr4_r9(cr4));
		GUEST_ASSERT_EQ(read_cr4(), cr4);
	}
	if (c & CPUID1_ECX_XSAVE) {
		GUEST_ASSERT(!try_cr4(cr4 | CR4_OSXSAVE));
		guest_cpuid(1, 0, &a, &b, &c, &d);
		GUEST_ASSERT(c & CPUID1_ECX_OSXSAVE);
		GUEST_ASSERT(!try_cr4(cr4));
	} else {
		GUEST_ASSERT(try_cr4(cr4 | CR4_OSXSAVE));
		GUEST_ASSERT_EQ(read_cr4(), cr4);
	}
	GUEST_SYNC2(2, gp_count);
	GUEST_DONE();
}

TEST(cr4_unsupported_bits_gp)
{
	struct test_vm *t;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_cr4));
	ASSERT_SYNC(t->vcpus[0], 1);
	ASSERT_SYNC(t->vcpus[0], 2);
	ASSERT_UCALL(t->vcpus[0], UCALL_DONE);
	test_vm_destroy(t);
}

struct cpuid_table {
	struct vmx_cpuid hdr;
	struct vmx_cpuid_entry e[VMX_MAX_CPUID_ENTRIES];
};

static void guest_cr4_pge_hidden(void)
{
	uint32_t a, b, c, d;

	guest_handlers[13] = gp_skip_handler;
	guest_cpuid(1, 0, &a, &b, &c, &d);
	GUEST_ASSERT(!(d & CPUID1_EDX_PGE));
	GUEST_ASSERT(try_cr4(read_cr4() | CR4_PGE));
	GUEST_ASSERT(!(read_cr4() & CR4_PGE));
	GUEST_DONE();
}

/* The VM's CPUID decides: PGE hidden by the VMM is refused. */
TEST(cr4_follows_vm_cpuid)
{
	static struct cpuid_table tab;
	struct test_vm *t;
	uint32_t i;

	if (test_backend() != VMX_BACKEND_SVM)
		SKIP(return, "CR4 checked against the VM's CPUID: SVM backend (VMX follows the host)");
	ASSERT_EQ(0, test_vm_create(&t, 1, guest_cr4_pge_hidden));
	tab.hdr.nent = VMX_MAX_CPUID_ENTRIES;
	ASSERT_EQ(0, ioctl_err(libvmx_fd(t->vmx), VMX_GET_DEFAULT_CPUID, &tab));
	for (i = 0; i < tab.hdr.nent; i++)
		if (tab.e[i].function == 1)
			tab.e[i].edx &= ~CPUID1_EDX_PGE;
	ASSERT_EQ(0, ioctl_err(libvmx_vm_fd(t->vm), VMX_SET_CPUID, &tab));
	ASSERT_UCALL(t->vcpus[0], UCALL_DONE);
	test_vm_destroy(t);
}

/*
 * The same from 32-bit protected mode with 4 KiB paging (the decoder and
 * the legacy page walk): PSE goes in, PKE is #GP(0) at the MOV.
 */
#define CR4_PM_PD	0x184000ULL
#define CR4_PM_PT	0x185000ULL
#define X86_CR0_PG	(1ULL << 31)

extern const uint8_t cr4_pm_start[], cr4_pm_end[], cr4_pm_pke[], cr4_pm_gp[];

__asm__(".pushsection .rodata\n"
	".code32\n"
	"cr4_pm_start:\n"
	"	mov %cr4, %eax\n"
	"	or $0x10, %eax\n"		/* PSE */
	"	mov %eax, %cr4\n"
	"	mov %cr4, %eax\n"
	"	out %eax, $0x10\n"
	"	or $0x400000, %eax\n"		/* PKE */
	"cr4_pm_pke:\n"
	"	mov %eax, %cr4\n"
	"	mov $0x5a, %eax\n"
	"	out %eax, $0x14\n"
	"	hlt\n"
	"cr4_pm_gp:\n"
	"	pop %eax\n"
	"	out %eax, $0x11\n"
	"	pop %eax\n"
	"	out %eax, $0x12\n"
	"	hlt\n"
	"cr4_pm_end:\n"
	".code64\n"
	".popsection\n");

TEST(cr4_from_32bit_paging)
{
	struct test_vm *t;
	struct libvmx_vcpu *vcpu;
	struct vmx_run *run;
	uint32_t pde = CR4_PM_PT | 3, pte;
	uint64_t gp = PM_CODE + (cr4_pm_gp - cr4_pm_start);
	int i;

	ASSERT_EQ(0, test_vm_create(&t, 1, NULL));
	vcpu = t->vcpus[0];
	run = libvmx_vcpu_run_area(vcpu);
	/* 0-4 MiB identity-mapped with 4 KiB pages. */
	memset(t->ram + CR4_PM_PD, 0, 4096);
	memcpy(t->ram + CR4_PM_PD, &pde, 4);
	for (i = 0; i < 1024; i++) {
		pte = (i << 12) | 3;
		memcpy(t->ram + CR4_PM_PT + i * 4, &pte, 4);
	}
	memcpy(t->ram + PM_CODE, cr4_pm_start, cr4_pm_end - cr4_pm_start);
	ASSERT_EQ(0, pm_setup(t, vcpu, PM_CODE, PM_STACK0, 0, X86_CR0_PG,
			      CR4_PM_PD, 13, pm_gate(PM_SEL_CODE0, gp)));
	ASSERT_EXIT(vcpu, VMX_EXIT_IO);
	EXPECT_EQ(0x10, run->io.port);
	EXPECT_EQ(CR4_PSE_BIT, run->io.data);
	ASSERT_EXIT(vcpu, VMX_EXIT_IO);
	EXPECT_EQ(0x11, run->io.port);		/* #GP, not the OUT to 0x14 */
	EXPECT_EQ(0, run->io.data);
	ASSERT_EXIT(vcpu, VMX_EXIT_IO);
	EXPECT_EQ(0x12, run->io.port);
	EXPECT_EQ(PM_CODE + (cr4_pm_pke - cr4_pm_start), run->io.data);
	ASSERT_EXIT(vcpu, VMX_EXIT_HLT);
	test_vm_destroy(t);
}

/* ---- SET_SREGS flushes the guest TLB ---- */

#define TLB_VA		0x40000000ULL	/* just above the 1 GiB identity map */
#define TLB_PD		0x190000ULL
#define TLB_PT		0x191000ULL
#define TLB_PAGE_A	0x1a0000ULL
#define TLB_PAGE_B	0x1a1000ULL
#define PTE_P_RW	3ULL

static void guest_tlb(void)
{
	GUEST_SYNC2(1, *(volatile uint64_t *)TLB_VA);
	GUEST_SYNC2(2, *(volatile uint64_t *)TLB_VA);
	GUEST_DONE();
}

/*
 * The VMM points the guest's mapping at another page and reloads the
 * same CR3 with SET_SREGS: like a MOV to CR3, no stale translation may
 * survive it.
 */
TEST(set_sregs_flushes_guest_tlb)
{
	uint64_t pte, a = 0xaaaaaaaaaaaaaaaaULL, b = 0xbbbbbbbbbbbbbbbbULL;
	struct test_vm *t;
	struct vmx_sregs s;
	struct ucall uc;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_tlb));
	pte = TLB_PD | PTE_P_RW;
	memcpy(t->ram + TEST_PDPT + 8, &pte, 8);
	pte = TLB_PT | PTE_P_RW;
	memcpy(t->ram + TLB_PD, &pte, 8);
	pte = TLB_PAGE_A | PTE_P_RW;
	memcpy(t->ram + TLB_PT, &pte, 8);
	memcpy(t->ram + TLB_PAGE_A, &a, 8);
	memcpy(t->ram + TLB_PAGE_B, &b, 8);

	ASSERT_UCALL_INTO(t->vcpus[0], UCALL_SYNC, &uc);
	ASSERT_EQ(1, uc.args[0]);
	ASSERT_EQ(a, uc.args[1]);
	pte = TLB_PAGE_B | PTE_P_RW;
	memcpy(t->ram + TLB_PT, &pte, 8);
	ASSERT_EQ(0, libvmx_vcpu_get_sregs(t->vcpus[0], &s));
	ASSERT_EQ(0, libvmx_vcpu_set_sregs(t->vcpus[0], &s));
	ASSERT_UCALL_INTO(t->vcpus[0], UCALL_SYNC, &uc);
	ASSERT_EQ(2, uc.args[0]);
	EXPECT_EQ(b, uc.args[1]);
	test_vm_destroy(t);
}

/* ---- After a triple fault the vCPU works again ---- */

#define RM_LOAD		0x7c00ULL

/* mov $0x1234, %ax; out %ax, $0x10; hlt */
static const uint8_t rm_code[] = { 0xb8, 0x34, 0x12, 0xe7, 0x10, 0xf4 };

static void triple_fault(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) idtr = { 0, 0 };

	__asm__ volatile("lidt %0\n\tud2" : : "m"(idtr));
}

static void guest_triple_fault(void)
{
	GUEST_SYNC(1);
	triple_fault();
}

#define MSR_LSTAR		0xc0000082
#define MSR_KERNEL_GS_BASE	0xc0000102
#define MSR_SYSENTER_EIP	0x176

static int crash_sets_breakpoint;

/*
 * Leave state SET_SREGS/SET_REGS do not cover, then die inside an NMI
 * handler: NMIs masked, MSRs set, (optionally) an execute breakpoint on
 * the code the next guest runs.
 */
static uint64_t crash_in_nmi(uint64_t vector, uint64_t error, uint64_t rip)
{
	triple_fault();
	return rip;
}

static void guest_dirty_then_triple_fault(void)
{
	guest_wrmsr(MSR_LSTAR, 0xffffffff81000000ULL);
	guest_wrmsr(MSR_KERNEL_GS_BASE, 0x12345000);
	guest_wrmsr(MSR_SYSENTER_EIP, 0x4000);
	if (crash_sets_breakpoint) {
		__asm__ volatile("mov %0, %%dr0" : : "r"(RM_LOAD));
		__asm__ volatile("mov %0, %%dr7" : : "r"(DR7_FIXED | DR7_L0));
	}
	guest_handlers[2] = crash_in_nmi;
	GUEST_SYNC(1);
	for (;;)
		guest_pause();
}

static struct vmx_segment rm_seg(uint8_t type)
{
	return (struct vmx_segment) { .limit = 0xffff, .type = type, .s = 1,
				      .present = 1 };
}

/* The VMM sets every register of a real-mode guest itself. */
TEST(shutdown_then_fresh_real_mode_guest)
{
	struct vmx_regs regs = { .rip = RM_LOAD, .rsp = 0x7000, .rflags = 2 };
	struct test_vm *t;
	struct libvmx_vcpu *vcpu;
	struct vmx_run *run;
	struct vmx_sregs s;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_triple_fault));
	vcpu = t->vcpus[0];
	run = libvmx_vcpu_run_area(vcpu);
	ASSERT_SYNC(vcpu, 1);
	ASSERT_EXIT(vcpu, VMX_EXIT_SHUTDOWN);

	memcpy(t->ram + RM_LOAD, rm_code, sizeof(rm_code));
	memset(&s, 0, sizeof(s));
	s.cs = rm_seg(0xb);
	s.ds = s.es = s.fs = s.gs = s.ss = rm_seg(0x3);
	s.tr = (struct vmx_segment) { .limit = 0xffff, .type = 0xb, .present = 1 };
	s.ldt = (struct vmx_segment) { .limit = 0xffff, .type = 0x2, .present = 1 };
	s.gdt.limit = 0xffff;
	s.idt.limit = 0xffff;
	s.cr0 = X86_CR0_ET;
	ASSERT_EQ(0, libvmx_vcpu_set_sregs(vcpu, &s));
	ASSERT_EQ(0, libvmx_vcpu_set_regs(vcpu, &regs));
	ASSERT_EXIT(vcpu, VMX_EXIT_IO);
	EXPECT_EQ(0x10, run->io.port);
	EXPECT_EQ(0x1234, run->io.data);
	ASSERT_EXIT(vcpu, VMX_EXIT_HLT);
	EXPECT_EQ(RM_LOAD + sizeof(rm_code) - 1, run->rip);
	test_vm_destroy(t);
}

/*
 * SVM: the APM leaves the VMCB undefined after a SHUTDOWN intercept; the
 * backend puts the vCPU back into its reset state (what VMX_CREATE_VCPU
 * gave), so nothing of the crashed guest reaches the next one: NMI
 * masking, MSRs, debug registers.  (QEMU TCG keeps a guest's execute
 * breakpoint armed after VMRUN loads a DR7 that disables it, so the
 * breakpoint part runs on hardware only.)
 */
TEST(shutdown_resets_vcpu)
{
	struct test_vm *t;
	struct libvmx_vcpu *vcpu;
	struct vmx_run *run;
	struct vmx_events ev;
	struct vmx_sregs s;
	struct vmx_regs regs;
	uint64_t v;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_dirty_then_triple_fault));
	vcpu = t->vcpus[0];
	run = libvmx_vcpu_run_area(vcpu);
	crash_sets_breakpoint = !cpu_is_qemu_tcg();
	sync_global_to_guest(t, crash_sets_breakpoint);
	ASSERT_SYNC(vcpu, 1);
	ASSERT_EQ(0, libvmx_vcpu_inject(vcpu, VMX_EVENT_NMI, 2, 0, 0));
	ASSERT_EXIT(vcpu, VMX_EXIT_SHUTDOWN);

	ASSERT_EQ(0, libvmx_vcpu_get_sregs(vcpu, &s));
	EXPECT_EQ(0xf000, s.cs.selector);
	EXPECT_EQ(0xffff0000ULL, s.cs.base);
	EXPECT_EQ(0x60000010ULL, s.cr0);
	EXPECT_EQ(0, s.cr3);
	EXPECT_EQ(0, s.cr4);
	EXPECT_EQ(0, s.efer);
	ASSERT_EQ(0, libvmx_vcpu_get_regs(vcpu, &regs));
	EXPECT_EQ(0xfff0, regs.rip);
	EXPECT_EQ(2, regs.rflags);
	ASSERT_EQ(0, ioctl_err(libvmx_vcpu_fd(vcpu), VMX_GET_EVENTS, &ev));
	EXPECT_EQ(0, ev.nmi_masked);
	EXPECT_EQ(0, ev.pending_valid);
	EXPECT_EQ(0, ev.int_shadow);
	ASSERT_EQ(0, libvmx_vcpu_get_msr(vcpu, MSR_LSTAR, &v));
	EXPECT_EQ(0, v);
	ASSERT_EQ(0, libvmx_vcpu_get_msr(vcpu, MSR_KERNEL_GS_BASE, &v));
	EXPECT_EQ(0, v);
	ASSERT_EQ(0, libvmx_vcpu_get_msr(vcpu, MSR_SYSENTER_EIP, &v));
	EXPECT_EQ(0, v);

	/* What a VMM does with a reset vCPU: move CS, set RIP, run. */
	memcpy(t->ram + RM_LOAD, rm_code, sizeof(rm_code));
	s.cs.base = 0;
	s.cs.selector = 0;
	ASSERT_EQ(0, libvmx_vcpu_set_sregs(vcpu, &s));
	regs.rip = RM_LOAD;
	ASSERT_EQ(0, libvmx_vcpu_set_regs(vcpu, &regs));
	ASSERT_EXIT(vcpu, VMX_EXIT_IO);
	EXPECT_EQ(0x10, run->io.port);
	EXPECT_EQ(0x1234, run->io.data);
	ASSERT_EXIT(vcpu, VMX_EXIT_HLT);
	test_vm_destroy(t);
}

/* ---- RDPMC: no PMU for guests ---- */

static void guest_rdpmc(void)
{
	guest_handlers[13] = gp_skip_handler;
	gp_skip = 2;
	__asm__ volatile("rdpmc" : : "c"(0) : "rax", "rdx", "memory");
	GUEST_ASSERT_EQ(gp_count, 1);
	GUEST_DONE();
}

TEST(rdpmc_is_gp)
{
	struct test_vm *t;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_rdpmc));
	ASSERT_UCALL(t->vcpus[0], UCALL_DONE);
	test_vm_destroy(t);
}

/* ---- SVM turned off under a running vCPU ---- */

static const char *path_or_default(const char *env, const char *def)
{
	const char *v = getenv(env);

	return v && *v ? v : def;
}

static int load_module(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = finit_module(fd, "", 0) ? -errno : 0;
	close(fd);
	return ret;
}

struct spinner {
	struct libvmx_vcpu *vcpu;
	volatile int done;
	int ret;
};

static void guest_spin(void)
{
	for (;;)
		guest_pause();
}

static void *spin_vcpu(void *arg)
{
	struct spinner *s = arg;

	do {
		s->ret = libvmx_vcpu_run(s->vcpu);
	} while (s->ret == -EINTR);
	s->done = 1;
	return NULL;
}

/*
 * The reboot notifier (and kexec, and a crash) turns SVM off on every
 * CPU by IPI while vCPU threads still run.  vmx_hog plays that part: it
 * finds EFER.SVME set (ours), refuses to load, and on its way out clears
 * EFER.SVME on every CPU under our feet.  The vCPU's next CLGI/VMRUN
 * faults: VMX_RUN must fail with EIO, not oops the host.  Afterwards
 * vmx.ko is reloaded so that the CPUs are ours again for later tests.
 */
TEST(svm_turned_off_under_running_vcpu)
{
	const char *hog = path_or_default("VMX_HOG_KO", "/lib/modules/vmx_hog.ko");
	const char *vmx = path_or_default("VMX_KO", "/lib/modules/vmx.ko");
	struct spinner spin = { 0 };
	struct test_vm *t;
	pthread_t thread;
	int i, ret;

	if (test_backend() != VMX_BACKEND_SVM)
		SKIP(return, "EFER.SVME cleared under a vCPU: AMD only");
	if (access(hog, R_OK) || access(vmx, R_OK))
		SKIP(return, "needs %s and %s", hog, vmx);
	arm_alarm(0);	/* SIGALRM only kicks the vCPU thread */
	ASSERT_EQ(0, test_vm_create(&t, 1, guest_spin));
	spin.vcpu = t->vcpus[0];
	ASSERT_EQ(0, pthread_create(&thread, NULL, spin_vcpu, &spin));
	usleep(200 * 1000);
	ASSERT_EQ(0, spin.done) TH_LOG("VMX_RUN returned %d early", spin.ret);

	EXPECT_EQ(-EBUSY, load_module(hog));
	for (i = 0; i < 100 && !spin.done; i++)
		usleep(50 * 1000);
	if (!spin.done) {
		/* Kick it out of the guest to its next entry. */
		pthread_kill(thread, SIGALRM);
		for (i = 0; i < 100 && !spin.done; i++)
			usleep(50 * 1000);
	}
	ASSERT_EQ(1, spin.done) TH_LOG("the vCPU still runs with SVM off");
	pthread_join(thread, NULL);
	EXPECT_EQ(-EIO, spin.ret);
	/* And keeps failing, without touching SVM state again. */
	EXPECT_EQ(-EIO, libvmx_vcpu_run(spin.vcpu));
	test_vm_destroy(t);

	/* Give the CPUs back to a freshly loaded vmx.ko. */
	for (i = 0; i < 50; i++) {
		ret = delete_module("vmx", O_NONBLOCK) ? -errno : 0;
		if (ret != -EAGAIN && ret != -EWOULDBLOCK)
			break;
		usleep(100 * 1000);
	}
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, load_module(vmx));
	ASSERT_EQ(VMX_BACKEND_SVM, test_backend());
}

TEST_HARNESS_MAIN
