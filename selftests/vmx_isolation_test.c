// SPDX-License-Identifier: GPL-2.0
/*
 * A guest cannot take the host's CPU or the VMM thread's state: exception
 * delivery loops (#AC, #DB) stay interruptible, guest debug registers
 * work without touching the host's, TSC_AUX and the VMM thread's FS/GS
 * come back intact, and SET_SREGS reads PAE PDPTEs from guest memory the
 * VMM has not touched yet.
 *
 * The 32-bit guests here are raw machine code, set up through SET_SREGS:
 * alignment checks need CPL 3 and a 32-bit stack (64-bit delivery
 * aligns RSP), and the PDPTE test needs PAE paging outside long mode.
 */
#include "test_util.h"
#include "kselftest_harness.h"

#include <sched.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <time.h>
#include <asm/prctl.h>
#include <linux/hw_breakpoint.h>
#include <linux/perf_event.h>

#include "vmx_harness.h"
#include "guest.h"

#define MSR_TSC_AUX		0xc0000103
#define DR6_B0			(1ULL << 0)
#define DR6_BMASK		0xfULL
#define X86_EFLAGS_TF		(1ULL << 8)

/* ---- 32-bit protected-mode guests ---- */

#define P32_GDT			0x10000
#define P32_IDT			0x10400
#define P32_TSS			0x10800
#define P32_CODE		0x11000
#define P32_AC_HANDLER		0x11100
#define P32_OTHER_HANDLER	0x11200
#define P32_STACK		0x12000
#define P32_PD			0x20000
#define P32_PDPT_GPA		0x8000000ULL	/* slot 1, above slot 0's 64 MiB */
#define P32_PDPT_SLOT		1

#define P32_SEL_CODE3		0x08	/* 32-bit code, DPL 3 */
#define P32_SEL_DATA3		0x10	/* 32-bit data, DPL 3 */
#define P32_SEL_CONF0		0x18	/* 32-bit conforming code, DPL 0 */
#define P32_SEL_TSS		0x20

#define PORT_NO_FAULT		0x80
#define PORT_ERROR		0x81
#define PORT_EIP		0x82
#define PORT_CS			0x83
#define PORT_OTHER		0x84

#define EFLAGS_AC		(1ULL << 18)
#define EFLAGS_IOPL3		(3ULL << 12)
#define CR0_PE			(1ULL << 0)
#define CR0_ET			(1ULL << 4)
#define CR0_NE			(1ULL << 5)
#define CR0_AM			(1ULL << 18)
#define CR0_PG			(1ULL << 31)
#define CR4_PAE			(1ULL << 5)

/* mov eax, [esp+1]; mov al, 0x99; out 0x80, al; jmp $ */
static const uint8_t p32_misaligned_load[] = {
	0x8b, 0x44, 0x24, 0x01, 0xb0, 0x99, 0xe6, PORT_NO_FAULT, 0xeb, 0xfe,
};

/* #AC handler: report error code, EIP and CS of the frame; jmp $ */
static const uint8_t p32_ac_handler[] = {
	0x8b, 0x04, 0x24, 0xe7, PORT_ERROR,		/* mov eax,[esp]; out */
	0x8b, 0x44, 0x24, 0x04, 0xe7, PORT_EIP,		/* mov eax,[esp+4]; out */
	0x8b, 0x44, 0x24, 0x08, 0xe7, PORT_CS,		/* mov eax,[esp+8]; out */
	0xeb, 0xfe,
};

/* Any other vector: out 0x84, eax (EAX is what it was); jmp $ */
static const uint8_t p32_other_handler[] = { 0xe7, PORT_OTHER, 0xeb, 0xfe };

static uint64_t p32_desc(uint32_t base, uint32_t limit, uint8_t access,
			 uint8_t flags)
{
	return (limit & 0xffff) | ((uint64_t)(base & 0xffffff) << 16) |
	       ((uint64_t)access << 40) | ((uint64_t)(limit >> 16 & 0xf) << 48) |
	       ((uint64_t)flags << 52) | ((uint64_t)(base >> 24) << 56);
}

static uint64_t p32_gate(uint32_t offset, uint16_t sel)
{
	/* P, DPL 0, 32-bit interrupt gate. */
	return (offset & 0xffff) | ((uint64_t)sel << 16) | (0x8eULL << 40) |
	       ((uint64_t)(offset >> 16) << 48);
}

static struct vmx_segment p32_seg(uint16_t sel, uint8_t type, uint8_t dpl)
{
	return (struct vmx_segment) {
		.base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
		.s = 1, .dpl = dpl, .present = 1, .db = 1, .g = 1,
	};
}

/* GDT, IDT (#AC and the rest into a conforming segment) and handlers. */
static void p32_write_tables(struct test_vm *t)
{
	uint64_t gdt[5] = {
		0,
		p32_desc(0, 0xfffff, 0xfa, 0xc),	/* code, DPL 3 */
		p32_desc(0, 0xfffff, 0xf2, 0xc),	/* data, DPL 3 */
		p32_desc(0, 0xfffff, 0x9e, 0xc),	/* conforming code, DPL 0 */
		p32_desc(P32_TSS, 0x67, 0x8b, 0),	/* busy 32-bit TSS */
	};
	uint64_t idt[32];
	int i;

	for (i = 0; i < 32; i++)
		idt[i] = p32_gate(P32_OTHER_HANDLER, P32_SEL_CONF0);
	idt[17] = p32_gate(P32_AC_HANDLER, P32_SEL_CONF0);
	memcpy(t->ram + P32_GDT, gdt, sizeof(gdt));
	memcpy(t->ram + P32_IDT, idt, sizeof(idt));
	memset(t->ram + P32_TSS, 0, 0x68);
	memcpy(t->ram + P32_AC_HANDLER, p32_ac_handler, sizeof(p32_ac_handler));
	memcpy(t->ram + P32_OTHER_HANDLER, p32_other_handler,
	       sizeof(p32_other_handler));
}

/*
 * CPL 3, 32-bit protected mode without paging, CR0.AM and RFLAGS.AC set
 * (alignment checking on), IOPL 3 so the handlers can report by OUT.
 * Delivery through a conforming segment keeps CPL 3 and the stack.
 */
static int p32_user_mode(struct libvmx_vcpu *vcpu, uint32_t esp)
{
	struct vmx_sregs sregs;
	struct vmx_regs regs = { 0 };
	int ret;

	ret = libvmx_vcpu_get_sregs(vcpu, &sregs);
	if (ret)
		return ret;
	sregs.cs = p32_seg(P32_SEL_CODE3 | 3, 0xb, 3);
	sregs.ss = p32_seg(P32_SEL_DATA3 | 3, 0x3, 3);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss;
	sregs.tr = (struct vmx_segment) {
		.base = P32_TSS, .limit = 0x67, .selector = P32_SEL_TSS,
		.type = 0xb, .present = 1,
	};
	sregs.ldt = (struct vmx_segment) { .unusable = 1 };
	sregs.gdt.base = P32_GDT;
	sregs.gdt.limit = 5 * 8 - 1;
	sregs.idt.base = P32_IDT;
	sregs.idt.limit = 32 * 8 - 1;
	sregs.cr0 = CR0_PE | CR0_ET | CR0_NE | CR0_AM;
	sregs.cr3 = 0;
	sregs.cr4 = 0;
	sregs.efer = 0;
	ret = libvmx_vcpu_set_sregs(vcpu, &sregs);
	if (ret)
		return ret;
	regs.rip = P32_CODE;
	regs.rsp = esp;
	regs.rflags = 2 | EFLAGS_AC | EFLAGS_IOPL3;
	return libvmx_vcpu_set_regs(vcpu, &regs);
}

/* Run until a port I/O exit (or anything else); port or -exit reason. */
static int run_to_port(struct libvmx_vcpu *vcpu, uint64_t *data)
{
	struct vmx_run *run = libvmx_vcpu_run_area(vcpu);
	int ret = libvmx_vcpu_run(vcpu);

	if (ret)
		return ret == -EINTR ? -(int)VMX_EXIT_INTR : ret;
	if (run->exit_reason != VMX_EXIT_IO)
		return -(int)run->exit_reason;
	*data = run->io.data;
	return run->io.port;
}

static volatile sig_atomic_t got_alarm;

static void on_alarm(int sig)
{
	got_alarm = 1;
}

static void catch_alarm(void)
{
	struct sigaction sa = { .sa_handler = on_alarm };

	/* No SA_RESTART: VMX_RUN must come back with EINTR. */
	sigaction(SIGALRM, &sa, NULL);
}

static void arm_alarm(long usec)
{
	struct itimerval it = { .it_value = { .tv_usec = usec } };

	got_alarm = 0;
	setitimer(ITIMER_REAL, &it, NULL);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * A misaligned load at CPL 3 with alignment checks on: is there an #AC
 * at all on this CPU (emulators may not implement alignment checking)?
 * 1 yes, 0 no, -1 something else happened.
 */
static int ac_probe(struct test_vm *t, uint64_t *err, uint64_t *eip,
		    uint64_t *cs)
{
	struct libvmx_vcpu *vcpu = t->vcpus[0];
	uint64_t data = 0;
	int port;

	p32_write_tables(t);
	memcpy(t->ram + P32_CODE, p32_misaligned_load, sizeof(p32_misaligned_load));
	if (p32_user_mode(vcpu, P32_STACK))
		return -1;
	port = run_to_port(vcpu, &data);
	if (port == PORT_NO_FAULT)
		return 0;
	if (port != PORT_ERROR)
		return -1;
	*err = data;
	if (run_to_port(vcpu, eip) != PORT_EIP ||
	    run_to_port(vcpu, cs) != PORT_CS)
		return -1;
	return 1;
}

TEST(ac_reaches_guest_handler)
{
	uint64_t err = ~0ULL, eip = 0, cs = 0;
	struct test_vm *t;
	int found;

	ASSERT_EQ(0, test_vm_create(&t, 1, NULL));
	found = ac_probe(t, &err, &eip, &cs);
	ASSERT_LE(0, found) TH_LOG("%s", test_describe(t->vcpus[0], &(struct ucall){ 0 }));
	if (!found) {
		test_vm_destroy(t);
		SKIP(return, "this CPU (emulator) raises no #AC for a misaligned CPL-3 load");
	}
	EXPECT_EQ(0, err);
	EXPECT_EQ(P32_CODE, eip);
	EXPECT_EQ(P32_SEL_CODE3 | 3, cs & 0xffff);
	test_vm_destroy(t);
}

/* ---- #DB ---- */

static inline void set_dr7(uint64_t v)
{
	__asm__ volatile("mov %0, %%dr7" : : "r"(v));
}

static inline void set_dr0(uint64_t v)
{
	__asm__ volatile("mov %0, %%dr0" : : "r"(v));
}

static volatile uint64_t ud_seen;

extern char icebp_next[];

static void guest_single_step(void)
{
	int i;

	guest_handlers[1] = guest_db_record;
	set_dr6(0);
	/* TF on: #DB after nop, pushf, and, popf (which clears it). */
	__asm__ volatile(GUEST_ASM_TF_ON
			 "nop\n\t"
			 "pushf\n\t"
			 "andq $~0x100, (%%rsp)\n\t"
			 "popf\n\t" : : : "memory", "cc");
	GUEST_ASSERT_EQ(guest_db_count, 4);
	for (i = 0; i < 4; i++)
		GUEST_SYNC3(i, guest_db_dr6[i], guest_db_rip[i]);
	GUEST_DONE();
}

TEST(db_single_step_reaches_guest)
{
	struct test_vm *t;
	struct ucall uc;
	int i;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_single_step));
	for (i = 0; i < 4; i++) {
		ASSERT_UCALL_INTO(t->vcpus[0], UCALL_SYNC, &uc);
		ASSERT_EQ(i, uc.args[0]);
		/* Single-step: BS, no breakpoint hits, fixed bits set. */
		EXPECT_EQ(DR6_FIXED | DR6_BS, uc.args[1])
			TH_LOG("step %d at 0x%lx", i, (unsigned long)uc.args[2]);
	}
	ASSERT_UCALL(t->vcpus[0], UCALL_DONE);
	test_vm_destroy(t);
}

static uint64_t ud_skip(uint64_t vector, uint64_t error, uint64_t rip)
{
	ud_seen = 1;
	return rip + 1;
}

static void guest_icebp(void)
{
	guest_handlers[1] = guest_db_record;
	guest_handlers[6] = ud_skip;
	set_dr6(0);
	__asm__ volatile(".byte 0xf1\n\t"
			 ".globl icebp_next\n"
			 "icebp_next:" : : : "memory");
	GUEST_SYNC3(1, guest_db_count, guest_db_dr6[0]);
	GUEST_SYNC3(2, guest_db_rip[0], ud_seen);
	GUEST_DONE();
}

TEST(db_icebp_reaches_guest)
{
	struct test_vm *t;
	struct ucall uc;
	uint64_t count, dr6;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_icebp));
	ASSERT_UCALL_INTO(t->vcpus[0], UCALL_SYNC, &uc);
	count = uc.args[1];
	dr6 = uc.args[2];
	ASSERT_UCALL_INTO(t->vcpus[0], UCALL_SYNC, &uc);
	if (uc.args[2] && !count) {
		test_vm_destroy(t);
		SKIP(return, "INT1 (0xf1) is #UD on this CPU (emulator)");
	}
	EXPECT_EQ(1, count);
	/* INT1 reports no condition in DR6. */
	EXPECT_EQ(DR6_FIXED, dr6);
	/* A trap: the frame points past the instruction. */
	EXPECT_EQ((uint64_t)(uintptr_t)icebp_next, uc.args[1]);
	ASSERT_UCALL(t->vcpus[0], UCALL_DONE);
	test_vm_destroy(t);
}

static __attribute__((noinline)) void breakpoint_target(void)
{
	__asm__ volatile("nop");
}

static uint64_t db_disarm(uint64_t vector, uint64_t error, uint64_t rip)
{
	/* A fault-class #DB: turn the breakpoint off to get past it. */
	set_dr7(0x400);
	return guest_db_record(vector, error, rip);
}

static void guest_exec_breakpoint(void)
{
	guest_handlers[1] = db_disarm;
	set_dr6(0);
	set_dr0((uint64_t)(uintptr_t)breakpoint_target);
	/* L0, execute, length 1. */
	set_dr7(0x401);
	breakpoint_target();
	GUEST_SYNC3(1, guest_db_count, guest_db_dr6[0]);
	GUEST_SYNC2(2, guest_db_rip[0]);
	GUEST_DONE();
}

static volatile uint64_t host_watched;

/* A perf write breakpoint on host_watched; -1 if the kernel has none. */
static int host_breakpoint(void)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_BREAKPOINT, .size = sizeof(attr),
		.bp_type = HW_BREAKPOINT_W, .bp_len = HW_BREAKPOINT_LEN_8,
		.bp_addr = (uintptr_t)&host_watched, .exclude_kernel = 1,
		.exclude_hv = 1,
	};

	return syscall(__NR_perf_event_open, &attr, 0, -1, -1, 0);
}

static uint64_t host_hits(int fd)
{
	uint64_t n = 0;

	if (read(fd, &n, sizeof(n)) != sizeof(n))
		return ~0ULL;
	return n;
}

TEST(db_exec_breakpoint)
{
	struct test_vm *t;
	struct ucall uc;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_exec_breakpoint));
	ASSERT_UCALL_INTO(t->vcpus[0], UCALL_SYNC, &uc);
	ASSERT_EQ(1, uc.args[0]);
	EXPECT_EQ(1, uc.args[1]);
	EXPECT_EQ(DR6_FIXED | DR6_B0, uc.args[2] & ~(DR6_BMASK & ~DR6_B0))
		TH_LOG("DR6 0x%lx", (unsigned long)uc.args[2]);
	ASSERT_UCALL_INTO(t->vcpus[0], UCALL_SYNC, &uc);
	EXPECT_EQ((uint64_t)(uintptr_t)breakpoint_target, uc.args[1]);
	ASSERT_UCALL(t->vcpus[0], UCALL_DONE);
	test_vm_destroy(t);
}

/* Running under QEMU (the SVM rig is its software emulation), per DMI. */
static bool under_qemu_tcg(void)
{
	char vendor[32] = "";
	FILE *f = fopen("/sys/class/dmi/id/sys_vendor", "r");

	if (f) {
		if (!fgets(vendor, sizeof(vendor), f))
			vendor[0] = 0;
		fclose(f);
	}
	return !strncmp(vendor, "QEMU", 4);
}

/* The VMM thread's own write breakpoint still fires after the guest used its DRs. */
TEST(host_breakpoint_survives_guest_breakpoints)
{
	struct test_vm *t;
	struct ucall uc;
	int fd = host_breakpoint();
	uint64_t before;

	if (test_backend() == VMX_BACKEND_SVM && under_qemu_tcg()) {
		if (fd >= 0)
			close(fd);
		SKIP(return, "QEMU 7.2 TCG segfaults with a host watchpoint armed across an SVM guest's breakpoints");
	}
	if (fd < 0)
		SKIP(return, "no perf hardware breakpoint: %s", strerror(errno));
	host_watched = 1;
	before = host_hits(fd);
	if (before != 1) {
		close(fd);
		SKIP(return, "a host write breakpoint counted %lu writes of 1",
		     (unsigned long)before);
	}
	ASSERT_EQ(0, test_vm_create(&t, 1, guest_exec_breakpoint));
	ASSERT_UCALL_INTO(t->vcpus[0], UCALL_SYNC, &uc);
	EXPECT_EQ(1, uc.args[1]);
	host_watched = 2;
	EXPECT_EQ(before + 1, host_hits(fd));
	ASSERT_UCALL_INTO(t->vcpus[0], UCALL_SYNC, &uc);
	ASSERT_UCALL(t->vcpus[0], UCALL_DONE);
	host_watched = 3;
	EXPECT_EQ(before + 2, host_hits(fd));
	close(fd);
	test_vm_destroy(t);
}

#define TSS_IST1		0x24
#define IDT_GATE_IST		4

static uint8_t db_ist_stack[4096] __attribute__((aligned(64)));

static uint64_t db_count_only(uint64_t vector, uint64_t error, uint64_t rip)
{
	guest_db_count++;
	return rip;
}

/*
 * CVE-2015-8104: a write breakpoint on the IST slot where the #DB frame
 * is pushed.  Each delivery hits the breakpoint again, and the #DB trap
 * it raises comes before anything else at the next boundary.
 */
static void guest_db_loop(void)
{
	uint64_t top = (uint64_t)(uintptr_t)(db_ist_stack + sizeof(db_ist_stack));

	guest_handlers[1] = db_count_only;
	*(volatile uint64_t *)(TEST_TSS + TSS_IST1) = top;
	*(volatile uint8_t *)(TEST_IDT + 1 * 16 + IDT_GATE_IST) = 1;
	set_dr0(top - 8);
	/* L0, write, 8 bytes. */
	set_dr7(0x400 | 1 | (1 << 16) | (3 << 18));
	*(volatile uint64_t *)(top - 8) = 0;
	GUEST_SYNC2(1, guest_db_count);
	GUEST_DONE();
}

TEST(db_delivery_loop_is_interruptible)
{
	struct test_vm *t;
	struct ucall uc;
	enum ucall_cmd cmd;
	struct vmx_run *run;
	int i;

	/*
	 * The SVM backend does not intercept #DB: under QEMU the loop then
	 * runs inside the emulator, which aborts (a QEMU assertion), and
	 * takes the whole rig down.  Real AMD hardware would hang the CPU.
	 */
	if (test_backend() == VMX_BACKEND_SVM && under_qemu_tcg())
		SKIP(return, "QEMU 7.2 TCG aborts (iothread assertion) on a data breakpoint hit during event delivery under SVM");
	ASSERT_EQ(0, test_vm_create(&t, 1, guest_db_loop));
	run = libvmx_vcpu_run_area(t->vcpus[0]);
	catch_alarm();
	for (i = 0; i < 3; i++) {
		double start = now();

		arm_alarm(100000);
		cmd = test_run(t->vcpus[0], &uc);
		if (cmd == UCALL_SYNC) {
			/* Breakpoints work but delivery writes do not hit them. */
			ASSERT_LT(0, uc.args[1])
				TH_LOG("the guest's data breakpoint never fired");
			test_vm_destroy(t);
			SKIP(return, "this CPU (emulator) does not match data breakpoints on event-delivery writes");
		}
		ASSERT_EQ(UCALL_NONE, cmd) TH_LOG("%s", test_describe(t->vcpus[0], &uc));
		if (run->exit_reason == VMX_EXIT_SHUTDOWN)
			break;
		ASSERT_EQ(VMX_EXIT_INTR, run->exit_reason)
			TH_LOG("%s", test_describe(t->vcpus[0], &uc));
		EXPECT_TRUE(got_alarm);
		EXPECT_LT(now() - start, 5.0);
	}
	test_vm_destroy(t);
}

/* ---- TSC_AUX ---- */

static volatile uint64_t gp_count, ud_count;

static uint64_t count_skip(uint64_t vector, uint64_t error, uint64_t rip)
{
	if (vector == 13) {
		gp_count++;
		return rip + 2;		/* rdmsr/wrmsr */
	}
	ud_count++;
	return rip + 3;			/* rdtscp */
}

static void guest_tsc_aux(void)
{
	uint32_t lo, hi, aux = 0xdead;

	guest_handlers[6] = count_skip;
	guest_handlers[13] = count_skip;
	__asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux) : "c"(0xdead));
	GUEST_SYNC3(1, ud_count, aux);
	GUEST_DONE();
}

static void guest_msr0(void)
{
	guest_handlers[13] = count_skip;
	/* MSR 0 is nothing this VM has: both accesses fault. */
	guest_rdmsr(0);
	guest_wrmsr(0, 0x5a5a);
	GUEST_SYNC2(1, gp_count);
	GUEST_DONE();
}

/* The backend once kept TSC_AUX in a slot whose MSR index was 0. */
TEST(msr0_is_not_a_guest_msr)
{
	struct test_vm *t;
	struct ucall uc;
	uint64_t v;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_msr0));
	EXPECT_NE(0, libvmx_vcpu_set_msr(t->vcpus[0], 0, 0x5a5a));
	EXPECT_NE(0, libvmx_vcpu_get_msr(t->vcpus[0], 0, &v));
	ASSERT_UCALL_INTO(t->vcpus[0], UCALL_SYNC, &uc);
	EXPECT_EQ(2, uc.args[1]);
	ASSERT_UCALL(t->vcpus[0], UCALL_DONE);
	test_vm_destroy(t);
}

static unsigned int host_rdtscp_aux(void)
{
	uint32_t lo, hi, aux;

	__asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux));
	return aux;
}

TEST(tsc_aux_is_the_guests_and_comes_back)
{
	struct test_vm *t;
	struct ucall uc;
	cpu_set_t set;
	uint64_t v;

	/* One CPU, so that RDTSCP's CPU number is comparable. */
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(set), &set));
	ASSERT_EQ(0, test_vm_create(&t, 1, guest_tsc_aux));
	ASSERT_EQ(0, libvmx_vcpu_set_msr(t->vcpus[0], MSR_TSC_AUX, 0x1234));
	ASSERT_EQ(0, libvmx_vcpu_get_msr(t->vcpus[0], MSR_TSC_AUX, &v));
	EXPECT_EQ(0x1234, v);
	ASSERT_UCALL_INTO(t->vcpus[0], UCALL_SYNC, &uc);
	if (uc.args[1]) {
		test_vm_destroy(t);
		SKIP(return, "RDTSCP is #UD in this guest (no RDTSCP on this CPU)");
	}
	/* The host's RDTSCP must not have seen the guest's value either. */
	EXPECT_EQ(0x1234, uc.args[2]);
	EXPECT_EQ(0, sched_getcpu());
	EXPECT_EQ(0, host_rdtscp_aux() & 0xfff);
	ASSERT_UCALL(t->vcpus[0], UCALL_DONE);
	EXPECT_EQ(0, sched_getcpu());
	EXPECT_EQ(0, host_rdtscp_aux() & 0xfff);
	test_vm_destroy(t);
}

/* ---- the VMM thread's FS and GS ---- */

#define USER_DS			0x2b	/* __USER_DS, valid in 64-bit user space */
#define HWCAP2_FSGSBASE		(1 << 1)
#define GS_BASE_VALUE		0x7f0012340000ULL

static void guest_many_exits(void)
{
	uint32_t a, b, c, d;
	int i, j;

	for (i = 0; i < 8; i++) {
		/* Exits handled in the kernel, then one to user space. */
		for (j = 0; j < 4; j++)
			guest_cpuid(0, 0, &a, &b, &c, &d);
		GUEST_SYNC(i);
	}
	GUEST_DONE();
}

static uint16_t read_gs(void)
{
	uint16_t sel;

	__asm__ volatile("mov %%gs, %0" : "=rm"(sel));
	return sel;
}

static uint16_t read_fs(void)
{
	uint16_t sel;

	__asm__ volatile("mov %%fs, %0" : "=rm"(sel));
	return sel;
}

static uint64_t arch_get(int code)
{
	unsigned long v = 0;

	syscall(__NR_arch_prctl, code, &v);
	return v;
}

TEST(vmm_fs_gs_survive_run)
{
	bool fsgsbase = getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE;
	uint64_t fs_base = arch_get(ARCH_GET_FS), gs_base;
	uint16_t fs_sel = read_fs();
	struct test_vm *t;
	struct ucall uc;
	int i;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_many_exits));
	__asm__ volatile("mov %0, %%gs" : : "r"((uint16_t)USER_DS));
	if (fsgsbase)
		__asm__ volatile("wrgsbase %0" : : "r"(GS_BASE_VALUE));
	gs_base = arch_get(ARCH_GET_GS);
	if (fsgsbase)
		EXPECT_EQ(GS_BASE_VALUE, gs_base);
	for (i = 0; i < 8; i++) {
		ASSERT_UCALL_INTO(t->vcpus[0], UCALL_SYNC, &uc);
		EXPECT_EQ(USER_DS, read_gs()) TH_LOG("after run %d", i);
		EXPECT_EQ(gs_base, arch_get(ARCH_GET_GS)) TH_LOG("after run %d", i);
		EXPECT_EQ(fs_sel, read_fs());
		EXPECT_EQ(fs_base, arch_get(ARCH_GET_FS));
	}
	ASSERT_UCALL(t->vcpus[0], UCALL_DONE);
	__asm__ volatile("mov %0, %%gs" : : "r"((uint16_t)0));
	test_vm_destroy(t);
	if (!fsgsbase)
		TH_LOG("no FSGSBASE for user space: GS base checked through arch_prctl only");
}

/* ---- PAE PDPTEs read by SET_SREGS ---- */

/* mov al, 0x42; out 0x80, al; jmp $ */
static const uint8_t p32_report[] = { 0xb0, 0x42, 0xe6, PORT_NO_FAULT, 0xeb, 0xfe };

/*
 * The PDPT lives in a shared memfd page that is in the page cache but
 * not mapped by the VMM's page tables (MADV_DONTNEED on a fresh shared
 * mapping): reading it from SET_SREGS takes a page fault, which must be
 * allowed to sleep.
 */
static void *unfaulted_pdpt(void)
{
	uint64_t pdpt[4] = { P32_PD | 1, 0, 0, 0 };
	void *p;
	int fd = memfd_create("pdpt", 0);

	if (fd < 0)
		return NULL;
	if (pwrite(fd, pdpt, sizeof(pdpt), 0) != sizeof(pdpt) ||
	    ftruncate(fd, 4096)) {
		close(fd);
		return NULL;
	}
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_NORESERVE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return NULL;
	madvise(p, 4096, MADV_DONTNEED);
	return p;
}

TEST(set_sregs_pae_pdptes_from_unfaulted_memory)
{
	struct vmx_regs regs = { .rip = P32_CODE, .rflags = 2 };
	struct vmx_sregs sregs;
	struct test_vm *t;
	uint64_t data = 0;
	void *pdpt;

	ASSERT_EQ(0, test_vm_create(&t, 1, NULL));
	pdpt = unfaulted_pdpt();
	ASSERT_TRUE(pdpt != NULL);
	ASSERT_EQ(0, libvmx_vm_map(t->vm, P32_PDPT_SLOT, P32_PDPT_GPA, 4096, 0, pdpt));
	/* One 2 MiB page: 0 -> 0, present, writable. */
	*(uint64_t *)(t->ram + P32_PD) = 0x83;
	memcpy(t->ram + P32_CODE, p32_report, sizeof(p32_report));

	ASSERT_EQ(0, libvmx_vcpu_get_sregs(t->vcpus[0], &sregs));
	sregs.cs = p32_seg(0x08, 0xb, 0);
	sregs.ss = p32_seg(0x10, 0x3, 0);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss;
	sregs.cr0 = CR0_PE | CR0_ET | CR0_NE | CR0_PG;
	sregs.cr4 = CR4_PAE;
	sregs.cr3 = P32_PDPT_GPA;
	sregs.efer = 0;
	ASSERT_EQ(0, libvmx_vcpu_set_sregs(t->vcpus[0], &sregs));
	ASSERT_EQ(0, libvmx_vcpu_set_regs(t->vcpus[0], &regs));
	ASSERT_EQ(PORT_NO_FAULT, run_to_port(t->vcpus[0], &data))
		TH_LOG("%s", test_describe(t->vcpus[0], &(struct ucall){ 0 }));
	EXPECT_EQ(0x42, data & 0xff);
	test_vm_destroy(t);
	munmap(pdpt, 4096);
}

/*
 * CVE-2015-5307: with a misaligned stack, delivering #AC raises #AC,
 * whose delivery raises #AC ... without ever reaching an instruction
 * boundary, where the host's interrupts would be taken.  The VMM must
 * get control back on a signal (or the guest triple-faults); the host
 * must survive either way.
 */
TEST(ac_delivery_loop_is_interruptible)
{
	uint64_t err, eip, cs;
	struct test_vm *t;
	int i, port, found;
	uint64_t data = 0;
	double start;

	ASSERT_EQ(0, test_vm_create(&t, 1, NULL));
	found = ac_probe(t, &err, &eip, &cs);
	ASSERT_LE(0, found);
	if (!found) {
		test_vm_destroy(t);
		SKIP(return, "this CPU (emulator) raises no #AC for a misaligned CPL-3 load");
	}
	/* A fresh VM: the probe left an OUT to complete. */
	test_vm_destroy(t);
	ASSERT_EQ(0, test_vm_create(&t, 1, NULL));
	p32_write_tables(t);
	memcpy(t->ram + P32_CODE, p32_misaligned_load, sizeof(p32_misaligned_load));
	ASSERT_EQ(0, p32_user_mode(t->vcpus[0], P32_STACK + 1));
	catch_alarm();
	for (i = 0; i < 3; i++) {
		start = now();
		arm_alarm(100000);
		port = run_to_port(t->vcpus[0], &data);
		if (port == -(int)VMX_EXIT_SHUTDOWN)
			break;
		ASSERT_EQ(-(int)VMX_EXIT_INTR, port)
			TH_LOG("round %d: port/exit %d", i, port);
		EXPECT_TRUE(got_alarm);
		EXPECT_LT(now() - start, 5.0);
	}
	TH_LOG("%s after %d interrupted rounds",
	       i < 3 ? "triple fault" : "still looping", i);
	test_vm_destroy(t);
}

TEST_HARNESS_MAIN
