// SPDX-License-Identifier: GPL-2.0
/*
 * vCPUs run C guest code: ucalls, HLT, port I/O, hypercalls, CPUID, MSRs,
 * MMIO exits, and the errors around vCPU creation and running.
 */
#include "test_util.h"
#include "kselftest_harness.h"

#include <sys/mman.h>
#include <sys/wait.h>

#include "vmx_test.h"
#include "guest.h"

#define ASSERT_UCALL(t, vcpu, want)					\
	do {								\
		struct ucall __uc;					\
		enum ucall_cmd __cmd = test_run((vcpu), &__uc);		\
		ASSERT_EQ((want), __cmd) TH_LOG("%s", test_describe((vcpu), &__uc)); \
	} while (0)

static void guest_sync_stages(void)
{
	int i;

	for (i = 1; i <= 3; i++)
		GUEST_SYNC(i);
}

TEST(ucall_sync_and_done)
{
	struct test_vm *t;
	struct ucall uc;
	int i;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_sync_stages));
	for (i = 1; i <= 3; i++) {
		ASSERT_EQ(UCALL_SYNC, test_run(t->vcpus[0], &uc))
			TH_LOG("%s", test_describe(t->vcpus[0], &uc));
		EXPECT_EQ(i, uc.args[0]);
	}
	ASSERT_UCALL(t, t->vcpus[0], UCALL_DONE);
	test_vm_destroy(t);
}

static void guest_code_hlt(void)
{
	guest_hlt();
	GUEST_SYNC(1);
}

TEST(hlt_exits_to_user)
{
	struct test_vm *t;
	struct vmx_run *run;
	struct ucall uc;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_code_hlt));
	run = libvmx_vcpu_run_area(t->vcpus[0]);
	ASSERT_EQ(UCALL_NONE, test_run(t->vcpus[0], &uc));
	ASSERT_EQ(VMX_EXIT_HLT, run->exit_reason) TH_LOG("%s", test_describe(t->vcpus[0], &uc));
	/* RIP is past HLT: running again continues after it. */
	ASSERT_UCALL(t, t->vcpus[0], UCALL_SYNC);
	test_vm_destroy(t);
}

static void guest_pio(void)
{
	outb(0x80, 0x5a);
	outw(0x1234, 0xbeef);
	outl(0xcf8, 0x80001234);
	GUEST_ASSERT_EQ(inb(0x71), 0xa7);
	GUEST_ASSERT_EQ(inw(0x1ce), 0x1357);
	GUEST_ASSERT_EQ(inl(0xcfc), 0xdeadbeef);
	GUEST_DONE();
}

TEST(port_io)
{
	static const struct { uint16_t port; uint8_t dir, size; uint32_t data; } io[] = {
		{ 0x80, VMX_IO_OUT, 1, 0x5a }, { 0x1234, VMX_IO_OUT, 2, 0xbeef },
		{ 0xcf8, VMX_IO_OUT, 4, 0x80001234 }, { 0x71, VMX_IO_IN, 1, 0xa7 },
		{ 0x1ce, VMX_IO_IN, 2, 0x1357 }, { 0xcfc, VMX_IO_IN, 4, 0xdeadbeef },
	};
	struct test_vm *t;
	struct vmx_run *run;
	struct ucall uc;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_pio));
	run = libvmx_vcpu_run_area(t->vcpus[0]);
	for (unsigned int i = 0; i < sizeof(io) / sizeof(io[0]); i++) {
		ASSERT_EQ(UCALL_NONE, test_run(t->vcpus[0], &uc))
			TH_LOG("%s", test_describe(t->vcpus[0], &uc));
		ASSERT_EQ(VMX_EXIT_IO, run->exit_reason);
		EXPECT_EQ(io[i].port, run->io.port);
		EXPECT_EQ(io[i].dir, run->io.direction);
		EXPECT_EQ(io[i].size, run->io.size);
		EXPECT_EQ(0, run->io.string);
		EXPECT_EQ(0, run->io.rep);
		if (io[i].dir == VMX_IO_OUT) {
			EXPECT_EQ(io[i].data, run->io.data);
		} else {
			run->io.data = io[i].data;
		}
	}
	ASSERT_UCALL(t, t->vcpus[0], UCALL_DONE);
	test_vm_destroy(t);
}

static void guest_code_hypercall(void)
{
	GUEST_ASSERT_EQ(guest_hypercall(42, 7, 9), 0x1234);
	GUEST_DONE();
}

TEST(hypercall)
{
	struct test_vm *t;
	struct vmx_run *run;
	struct ucall uc;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_code_hypercall));
	run = libvmx_vcpu_run_area(t->vcpus[0]);
	ASSERT_EQ(UCALL_NONE, test_run(t->vcpus[0], &uc));
	ASSERT_EQ(VMX_EXIT_HYPERCALL, run->exit_reason) TH_LOG("%s", test_describe(t->vcpus[0], &uc));
	EXPECT_EQ(42, run->hypercall.nr);
	EXPECT_EQ(7, run->hypercall.args[0]);
	EXPECT_EQ(9, run->hypercall.args[1]);
	run->hypercall.ret = 0x1234;
	ASSERT_UCALL(t, t->vcpus[0], UCALL_DONE);
	test_vm_destroy(t);
}

static void guest_cpuid_checks(void)
{
	uint32_t a, b, c, d;

	guest_cpuid(0x40000000, 0, &a, &b, &c, &d);
	GUEST_ASSERT_EQ(a, 0x40000000);
	GUEST_ASSERT_EQ(b, 0x76786d76);		/* "vmxv" */
	GUEST_ASSERT_EQ(c, 0x6d76786d);		/* "mxvm" */
	GUEST_ASSERT_EQ(d, 0x786d7678);		/* "xvmx" */
	guest_cpuid(1, 0, &a, &b, &c, &d);
	GUEST_ASSERT(c & (1U << 31));		/* hypervisor present */
	GUEST_ASSERT(!(c & (1U << 5)));		/* no VMX */
	guest_cpuid(0x80000001, 0, &a, &b, &c, &d);
	GUEST_ASSERT(!(c & (1U << 2)));		/* no SVM */
	GUEST_DONE();
}

TEST(cpuid_default_table)
{
	struct test_vm *t;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_cpuid_checks));
	ASSERT_UCALL(t, t->vcpus[0], UCALL_DONE);
	test_vm_destroy(t);
}

static void guest_mmio_read(void)
{
	volatile uint32_t *mmio = (volatile uint32_t *)0x3ff00000UL;
	uint32_t v;

	/* mov (%rax), %eax: 2 bytes, so the host can step over it. */
	__asm__ volatile("mov (%1), %0" : "=a"(v) : "a"(mmio) : "memory");
	GUEST_ASSERT_EQ(v, 0xcafe);
	GUEST_DONE();
}

TEST(mmio_exit_outside_ram)
{
	struct test_vm *t;
	struct vmx_run *run;
	struct vmx_regs regs;
	struct ucall uc;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_mmio_read));
	run = libvmx_vcpu_run_area(t->vcpus[0]);
	ASSERT_EQ(UCALL_NONE, test_run(t->vcpus[0], &uc));
	ASSERT_EQ(VMX_EXIT_MMIO, run->exit_reason) TH_LOG("%s", test_describe(t->vcpus[0], &uc));
	EXPECT_EQ(0x3ff00000ULL, run->mmio.gpa);
	EXPECT_EQ(0, run->mmio.is_write);
	/* Complete the load by hand: EAX = device value, skip the insn. */
	ASSERT_EQ(0, libvmx_vcpu_get_regs(t->vcpus[0], &regs));
	EXPECT_EQ(run->rip, regs.rip);
	regs.rax = 0xcafe;
	regs.rip += 2;
	ASSERT_EQ(0, libvmx_vcpu_set_regs(t->vcpus[0], &regs));
	ASSERT_UCALL(t, t->vcpus[0], UCALL_DONE);
	test_vm_destroy(t);
}

static uint64_t guest_gp_count;

static uint64_t guest_on_gp(uint64_t vector, uint64_t error, uint64_t rip)
{
	guest_gp_count++;
	return rip + 2;		/* rdpmc is 0f 33 */
}

static void guest_rdpmc(void)
{
	uint32_t lo, hi;

	guest_handlers[13] = guest_on_gp;
	__asm__ volatile("rdpmc" : "=a"(lo), "=d"(hi) : "c"(0));
	GUEST_ASSERT_EQ(guest_gp_count, 1);
	GUEST_DONE();
}

/* The host's performance counters are not the guest's to read. */
TEST(rdpmc_gets_gp)
{
	struct test_vm *t;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_rdpmc));
	ASSERT_UCALL(t, t->vcpus[0], UCALL_DONE);
	test_vm_destroy(t);
}

static uint64_t guest_dr_base = 0x1000;

static void guest_debug_regs(void)
{
	uint64_t base = guest_dr_base, v;

	__asm__ volatile("mov %0, %%dr0" : : "r"(base));
	__asm__ volatile("mov %0, %%dr3" : : "r"(base + 3));
	GUEST_SYNC(1);
	__asm__ volatile("mov %%dr0, %0" : "=r"(v));
	GUEST_ASSERT_EQ(v, base);
	__asm__ volatile("mov %%dr3, %0" : "=r"(v));
	GUEST_ASSERT_EQ(v, base + 3);
	GUEST_DONE();
}

/*
 * DR0-3 belong to each guest: two VMs with different values, run in
 * turns on the same CPU, each read back their own across exits.
 */
TEST(debug_registers_are_per_vcpu)
{
	struct test_vm *a, *b;
	struct ucall uc;

	ASSERT_EQ(0, test_vm_create(&a, 1, guest_debug_regs));
	ASSERT_EQ(0, test_vm_create(&b, 1, guest_debug_regs));
	/* Give the second guest other values. */
	guest_dr_base = 0x2000;
	ASSERT_EQ(0, sync_global_to_guest(b, guest_dr_base));
	ASSERT_EQ(UCALL_SYNC, test_run(a->vcpus[0], &uc)) TH_LOG("%s", test_describe(a->vcpus[0], &uc));
	ASSERT_EQ(UCALL_SYNC, test_run(b->vcpus[0], &uc)) TH_LOG("%s", test_describe(b->vcpus[0], &uc));
	ASSERT_UCALL(a, a->vcpus[0], UCALL_DONE);
	ASSERT_UCALL(b, b->vcpus[0], UCALL_DONE);
	test_vm_destroy(a);
	test_vm_destroy(b);
}

TEST_HARNESS_MAIN
