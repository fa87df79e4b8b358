// SPDX-License-Identifier: GPL-2.0
/*
 * Debug registers and single-stepping: VMX_GET/SET_DEBUGREGS (reset
 * values, the fixed bits, errors), breakpoints the VMM arms, the guest's
 * own writes as the VMM reads them (non-canonical addresses too, which
 * the host then loads itself), and the single-step trap after the
 * instructions the kernel or the VMM completes for the guest.
 */
#include "test_util.h"
#include "kselftest_harness.h"

#include "vmx_harness.h"
#include "guest.h"

#define DR7_FIXED		0x400ULL
#define DR7_L0			(1ULL << 0)
#define DR6_B0			(1ULL << 0)

static int get_dbg(struct libvmx_vcpu *vcpu, struct vmx_debugregs *dbg)
{
	return ioctl_err(libvmx_vcpu_fd(vcpu), VMX_GET_DEBUGREGS, dbg);
}

static int set_dbg(struct libvmx_vcpu *vcpu, const struct vmx_debugregs *dbg)
{
	return ioctl_err(libvmx_vcpu_fd(vcpu), VMX_SET_DEBUGREGS, (void *)dbg);
}

TEST(debugregs_reset_values)
{
	struct vmx_debugregs dbg;
	struct test_vm *t;
	int i;

	ASSERT_EQ(0, test_vm_create(&t, 1, NULL));
	EXPECT_NE(0, t->caps.features & VMX_FEAT_DEBUGREGS);
	memset(&dbg, 0xa5, sizeof(dbg));
	ASSERT_EQ(0, get_dbg(t->vcpus[0], &dbg));
	for (i = 0; i < 4; i++)
		EXPECT_EQ(0, dbg.db[i]);
	EXPECT_EQ(DR6_FIXED, dbg.dr6);
	EXPECT_EQ(DR7_FIXED, dbg.dr7);
	EXPECT_EQ(0, dbg.flags);
	EXPECT_EQ(0, dbg.pad);
	for (i = 0; i < 4; i++)
		EXPECT_EQ(0, dbg.reserved[i]);
	test_vm_destroy(t);
}

/* What is set comes back, with the reserved bits at their fixed values. */
TEST(debugregs_roundtrip_fixed_bits)
{
	struct vmx_debugregs in = {
		.db = { 0x1000, 0xffffffff81000000ULL, 0x8000000000000000ULL, 3 },
		/* BS and B1 on, reserved bit 12 set, bits 4-10 cleared. */
		.dr6 = DR6_BS | 2 | (1 << 12),
		/* L0 G1 GD on, reserved 11, 12, 14, 15 set, 10 clear. */
		.dr7 = DR7_L0 | (1 << 3) | (1 << 13) | 0xd800,
	}, out;
	struct test_vm *t;
	int i;

	ASSERT_EQ(0, test_vm_create(&t, 1, NULL));
	ASSERT_EQ(0, libvmx_vcpu_set_debugregs(t->vcpus[0], &in));
	ASSERT_EQ(0, libvmx_vcpu_get_debugregs(t->vcpus[0], &out));
	for (i = 0; i < 4; i++)
		EXPECT_EQ(in.db[i], out.db[i]);
	/* BLD and RTM (active low) stay as given: 0, i.e. reported. */
	EXPECT_EQ(0xfffe07f0ULL | DR6_BS | 2, out.dr6);
	EXPECT_EQ(DR7_FIXED | DR7_L0 | (1 << 3) | (1 << 13), out.dr7);
	test_vm_destroy(t);
}

TEST(debugregs_errors)
{
	struct vmx_debugregs dbg;
	struct test_vm *t;
	int fd;

	ASSERT_EQ(0, test_vm_create(&t, 1, NULL));
	fd = libvmx_vcpu_fd(t->vcpus[0]);
#define EXPECT_REFUSED(field, value)					\
	do {								\
		ASSERT_EQ(0, get_dbg(t->vcpus[0], &dbg));		\
		dbg.field = (value);					\
		EXPECT_EQ(-EINVAL, set_dbg(t->vcpus[0], &dbg))		\
			TH_LOG(#field " = %#llx", (unsigned long long)(value)); \
	} while (0)
	EXPECT_REFUSED(flags, 1);
	EXPECT_REFUSED(pad, 1);
	EXPECT_REFUSED(reserved[0], 1);
	EXPECT_REFUSED(reserved[3], 1ULL << 63);
	EXPECT_REFUSED(dr6, 1ULL << 32);
	EXPECT_REFUSED(dr6, DR6_FIXED | (1ULL << 63));
	EXPECT_REFUSED(dr7, 1ULL << 32);
	EXPECT_REFUSED(dr7, DR7_FIXED | (1ULL << 63));
#undef EXPECT_REFUSED
	EXPECT_EQ(-EFAULT, ioctl_err(fd, VMX_SET_DEBUGREGS, NULL));
	EXPECT_EQ(-EFAULT, ioctl_err(fd, VMX_GET_DEBUGREGS, NULL));
	EXPECT_EQ(-EFAULT, ioctl_err(fd, VMX_GET_DEBUGREGS, (void *)1));
	EXPECT_EQ(-EINVAL, libvmx_vcpu_set_debugregs(NULL, &dbg));
	EXPECT_EQ(-EINVAL, libvmx_vcpu_get_debugregs(t->vcpus[0], NULL));
	/* A refused SET changed nothing. */
	ASSERT_EQ(0, get_dbg(t->vcpus[0], &dbg));
	EXPECT_EQ(DR6_FIXED, dbg.dr6);
	EXPECT_EQ(DR7_FIXED, dbg.dr7);
	test_vm_destroy(t);
}

/* ---- breakpoints ---- */

static volatile uint64_t bp_rip, bp_dr6, bp_count;

/* An instruction breakpoint is a fault: disarm it, or it fires again. */
static uint64_t bp_handler(uint64_t vector, uint64_t error, uint64_t rip)
{
	bp_rip = rip;
	bp_dr6 = get_dr6();
	bp_count++;
	__asm__ volatile("mov %0, %%dr7" : : "r"(DR7_FIXED));
	set_dr6(DR6_FIXED);
	return rip;
}

extern char bp_target[];

static void guest_breakpoint(void)
{
	uint64_t dr0, dr7;

	guest_handlers[1] = bp_handler;
	GUEST_SYNC(1);
	__asm__ volatile("mov %%dr0, %0\n\t"
			 "mov %%dr7, %1" : "=r"(dr0), "=r"(dr7));
	GUEST_SYNC3(4, dr0, dr7);
	/*
	 * QEMU's SVM arms breakpoints only when a MOV changes DR7, not
	 * from the VMCB's DR7 at VMRUN as the CPU does: there, change it
	 * and back.  The breakpoint still matches the VMM's DR0, which only
	 * the kernel loaded.
	 */
	if (guest_is_amd)
		__asm__ volatile("mov %0, %%dr7\n\t"
				 "mov %1, %%dr7" : : "r"(DR7_FIXED), "r"(dr7));
	__asm__ volatile("nop\n\t"
			 ".globl bp_target\n"
			 "bp_target:\n\t"
			 "nop" : : : "memory");
	GUEST_SYNC3(2, bp_count, bp_rip);
	GUEST_SYNC2(3, bp_dr6);
	GUEST_DONE();
}

/*
 * An execute breakpoint the VMM arms: the guest reads the VMM's DR0 and
 * DR7, and it fires in the guest, at the target.
 */
TEST(vmm_breakpoint_fires_in_guest)
{
	struct vmx_debugregs dbg;
	struct libvmx_vcpu *vcpu;
	struct test_vm *t;
	struct ucall uc;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_breakpoint));
	vcpu = t->vcpus[0];
	ASSERT_SYNC(vcpu, 1);
	ASSERT_EQ(0, get_dbg(vcpu, &dbg));
	dbg.db[0] = (uintptr_t)bp_target;
	dbg.dr7 = DR7_FIXED | DR7_L0;	/* execute, length 1 */
	ASSERT_EQ(0, set_dbg(vcpu, &dbg));
	ASSERT_UCALL_INTO(vcpu, UCALL_SYNC, &uc);
	ASSERT_EQ(4, uc.args[0]);
	EXPECT_EQ((uintptr_t)bp_target, uc.args[1]);
	EXPECT_EQ(DR7_FIXED | DR7_L0, uc.args[2]);
	ASSERT_UCALL_INTO(vcpu, UCALL_SYNC, &uc);
	ASSERT_EQ(2, uc.args[0]);
	EXPECT_EQ(1, uc.args[1]);
	EXPECT_EQ((uintptr_t)bp_target, uc.args[2]);
	ASSERT_UCALL_INTO(vcpu, UCALL_SYNC, &uc);
	ASSERT_EQ(3, uc.args[0]);
	EXPECT_EQ(DR6_FIXED | DR6_B0, uc.args[1])
		TH_LOG("DR6 %#llx", (unsigned long long)uc.args[1]);
	/* The handler's writes are what the VMM reads now. */
	ASSERT_EQ(0, get_dbg(vcpu, &dbg));
	EXPECT_EQ(DR7_FIXED, dbg.dr7);
	EXPECT_EQ((uintptr_t)bp_target, dbg.db[0]);
	ASSERT_UCALL(vcpu, UCALL_DONE);
	test_vm_destroy(t);
}

/*
 * The guest's own values, as the VMM reads them after an exit.  DR2 is
 * not canonical: the CPU takes any value, and the host loads it back
 * into the CPU before every entry from then on (the run after the
 * SYNC), which must not fault.  So does one the VMM sets.
 */
#define GUEST_DR0	0x12345000ULL
#define GUEST_DR2	0x8000000000000000ULL

static void guest_writes_drs(void)
{
	__asm__ volatile("mov %0, %%dr0\n\t"
			 "mov %1, %%dr2\n\t"
			 "mov %2, %%dr7"
			 : : "r"(GUEST_DR0), "r"(GUEST_DR2),
			     "r"(DR7_FIXED | (1ULL << 4) | (3ULL << 20)));
	GUEST_SYNC(1);
	GUEST_SYNC(2);
	__asm__ volatile("mov %0, %%dr7" : : "r"(DR7_FIXED));
	GUEST_DONE();
}

TEST(guest_debugregs_seen_by_vmm)
{
	struct vmx_debugregs dbg;
	struct libvmx_vcpu *vcpu;
	struct test_vm *t;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_writes_drs));
	vcpu = t->vcpus[0];
	ASSERT_SYNC(vcpu, 1);
	ASSERT_EQ(0, get_dbg(vcpu, &dbg));
	EXPECT_EQ(GUEST_DR0, dbg.db[0]);
	EXPECT_EQ(GUEST_DR2, dbg.db[2]);
	/* L2 (bit 4), RW2 = 11 (data read/write; bits 20-21). */
	EXPECT_EQ(DR7_FIXED | (1ULL << 4) | (3ULL << 20), dbg.dr7);
	/* The VMM's own non-canonical value goes into the CPU the same way. */
	dbg.db[3] = 0xdead000000000000ULL;
	ASSERT_EQ(0, set_dbg(vcpu, &dbg));
	ASSERT_SYNC(vcpu, 2);
	ASSERT_EQ(0, get_dbg(vcpu, &dbg));
	EXPECT_EQ(0xdead000000000000ULL, dbg.db[3]);
	EXPECT_EQ(GUEST_DR2, dbg.db[2]);
	ASSERT_UCALL(vcpu, UCALL_DONE);
	test_vm_destroy(t);
}

/* ---- single-stepping ---- */

/*
 * The CPU never finishes in the guest the instructions the hypervisor
 * completes, so the trap after each one (a #DB with DR6.BS, RIP past it)
 * is the hypervisor's to raise, whether it answered in the kernel (RDMSR
 * of the APIC base, CPUID) or the VMM did (OUT, hypercall).  Without it
 * the guest's debugger steps over two instructions at once.
 */
#define STEP_PORT	0x80
extern char step_after_rdmsr[], step_after_cpuid[], step_after_out[],
	    step_after_pushf[], step_after_and[], step_after_popf[];

static void guest_single_step(void)
{
	uint32_t a, c = 0x1b, d;
	int i;

	guest_handlers[1] = guest_db_record;
	set_dr6(0);
	/*
	 * TF on: a trap after every instruction from the one after the
	 * POPF that sets it to the POPF that clears it.
	 */
	__asm__ volatile(GUEST_ASM_TF_ON
			 "rdmsr\n"
			 "step_after_rdmsr:\n\t"
			 "cpuid\n"
			 "step_after_cpuid:\n\t"
			 "outb %%al, %[port]\n"
			 "step_after_out:\n\t"
			 "pushf\n"
			 "step_after_pushf:\n\t"
			 "andq $~0x100, (%%rsp)\n"
			 "step_after_and:\n\t"
			 "popf\n"
			 "step_after_popf:"
			 : "=a"(a), "+c"(c), "=d"(d)
			 : [port] "i"(STEP_PORT)
			 : "rbx", "memory", "cc");
	GUEST_SYNC2(1, guest_db_count);
	for (i = 0; i < guest_db_count && i < GUEST_DB_MAX; i++)
		GUEST_SYNC3(2, guest_db_rip[i], guest_db_dr6[i]);
	GUEST_DONE();
}

TEST(single_step_traps_after_emulated_insns)
{
	const uint64_t want[] = {
		(uintptr_t)step_after_rdmsr, (uintptr_t)step_after_cpuid,
		(uintptr_t)step_after_out, (uintptr_t)step_after_pushf,
		(uintptr_t)step_after_and, (uintptr_t)step_after_popf,
	};
	struct libvmx_vcpu *vcpu;
	struct test_vm *t;
	struct ucall uc;
	unsigned int i;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_single_step));
	vcpu = t->vcpus[0];
	ASSERT_EXIT(vcpu, VMX_EXIT_IO);
	EXPECT_EQ(STEP_PORT, libvmx_vcpu_run_area(vcpu)->io.port);
	ASSERT_UCALL_INTO(vcpu, UCALL_SYNC, &uc);
	ASSERT_EQ(1, uc.args[0]);
	EXPECT_EQ(ARRAY_SIZE(want), uc.args[1]);
	for (i = 0; i < ARRAY_SIZE(want) && i < uc.args[1]; i++) {
		struct ucall step;

		ASSERT_UCALL_INTO(vcpu, UCALL_SYNC, &step);
		ASSERT_EQ(2, step.args[0]);
		EXPECT_EQ(want[i], step.args[1])
			TH_LOG("trap %u at %#llx, want %#llx", i,
			       (unsigned long long)step.args[1],
			       (unsigned long long)want[i]);
		EXPECT_EQ(DR6_FIXED | DR6_BS, step.args[2])
			TH_LOG("trap %u: DR6 %#llx", i,
			       (unsigned long long)step.args[2]);
	}
	test_vm_destroy(t);
}

/*
 * A hypercall the VMM answers, single-stepped: one trap, after the
 * VMCALL/VMMCALL, with the VMM's result in RAX.
 */
extern char step_after_vmcall[], step_after_vmmcall[];

static void guest_step_hypercall(void)
{
	uint64_t ret;

	guest_handlers[1] = guest_db_record;
	set_dr6(0);
	__asm__ volatile(GUEST_ASM_TF_ON
			 "cmpl $0, guest_is_amd(%%rip)\n\t"
			 "jne 1f\n\t"
			 "vmcall\n"
			 "step_after_vmcall:\n\t"
			 "jmp 2f\n"
			 "1:\tvmmcall\n"
			 "step_after_vmmcall:\n"
			 "2:\tpushf\n\t"
			 "andq $~0x100, (%%rsp)\n\t"
			 "popf"
			 : "=a"(ret) : "a"(0x77ULL) : "memory", "cc");
	GUEST_SYNC3(1, ret, guest_db_count);
	for (int i = 0; i < guest_db_count && i < GUEST_DB_MAX; i++)
		GUEST_SYNC3(2, guest_db_rip[i], guest_db_dr6[i]);
	GUEST_DONE();
}

TEST(single_step_over_hypercall)
{
	struct libvmx_vcpu *vcpu;
	struct vmx_run *run;
	struct test_vm *t;
	struct ucall uc;
	int i, vmcall_trap = -1;
	uint64_t after;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_step_hypercall));
	vcpu = t->vcpus[0];
	run = libvmx_vcpu_run_area(vcpu);
	after = t->caps.backend == VMX_BACKEND_SVM ?
		(uintptr_t)step_after_vmmcall : (uintptr_t)step_after_vmcall;
	ASSERT_EXIT(vcpu, VMX_EXIT_HYPERCALL);
	EXPECT_EQ(0x77, run->hypercall.nr);
	run->hypercall.ret = 0x1234;
	ASSERT_UCALL_INTO(vcpu, UCALL_SYNC, &uc);
	ASSERT_EQ(1, uc.args[0]);
	EXPECT_EQ(0x1234, uc.args[1]);
	/* cmpl, jne, the call (then jmp on Intel), pushf, and, popf. */
	for (i = 0; i < GUEST_DB_MAX && i < (int)uc.args[2]; i++) {
		struct ucall step;

		ASSERT_UCALL_INTO(vcpu, UCALL_SYNC, &step);
		ASSERT_EQ(2, step.args[0]);
		EXPECT_EQ(DR6_FIXED | DR6_BS, step.args[2]);
		if (step.args[1] == after)
			vmcall_trap = i;
	}
	EXPECT_LE(0, vmcall_trap) TH_LOG("no trap right after the hypercall");
	ASSERT_UCALL(vcpu, UCALL_DONE);
	test_vm_destroy(t);
}

TEST_HARNESS_MAIN
