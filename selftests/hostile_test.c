// SPDX-License-Identifier: GPL-2.0
/*
 * A guest can at worst kill itself: triple faults, SVM instructions,
 * host-sensitive MSRs, unknown MSRs, and invalid state set by the VMM
 * end in an exit or a fault injected into the guest.
 */
#include "test_util.h"
#include "kselftest_harness.h"

#include "vmx_harness.h"
#include "guest.h"

#define MSR_EFER		0xc0000080
#define MSR_VM_CR		0xc0010114
#define MSR_VM_HSAVE_PA		0xc0010117
#define MSR_BOGUS		0x4b564dff
#define EFER_SVME		(1ULL << 12)

static volatile uint64_t fault_vector, fault_count, fault_error;

/* Count the fault and step over the faulting instruction. */
static uint64_t skip_handler(uint64_t vector, uint64_t error, uint64_t rip)
{
	fault_vector = vector;
	fault_error = error;
	fault_count++;
	/* All instructions faulting here are 3 (SVM) or 2 (MSR) bytes. */
	return rip + (vector == 6 ? 3 : 2);
}

static void guest_triple_fault(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) idtr = { 0, 0 };

	GUEST_SYNC(1);
	__asm__ volatile("lidt %0\n\tud2" : : "m"(idtr));
	GUEST_SYNC(2);
}

TEST(triple_fault_is_shutdown)
{
	struct test_vm *t;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_triple_fault));
	ASSERT_SYNC(t->vcpus[0], 1);
	ASSERT_EXIT(t->vcpus[0], VMX_EXIT_SHUTDOWN);
	test_vm_destroy(t);
}

static void guest_svm_insns(void)
{
	guest_handlers[6] = skip_handler;
	__asm__ volatile("mov %0, %%rax\n\t"
			 "vmrun\n\t"
			 "vmload\n\t"
			 "vmsave\n\t"
			 "stgi\n\t"
			 "clgi\n\t"
			 "skinit\n\t"
			 "invlpga\n\t"
			 : : "i"(0x200000) : "rax", "rcx", "memory");
	GUEST_SYNC2(1, fault_count);
	GUEST_DONE();
}

TEST(svm_instructions_are_ud)
{
	struct test_vm *t;
	struct ucall uc;

	if (test_backend() != VMX_BACKEND_SVM)
		SKIP(return, "SVM instructions: AMD only");
	ASSERT_EQ(0, test_vm_create(&t, 1, guest_svm_insns));
	ASSERT_UCALL_INTO(t->vcpus[0], UCALL_SYNC, &uc);
	EXPECT_EQ(7, uc.args[1]);
	ASSERT_UCALL(t->vcpus[0], UCALL_DONE);
	test_vm_destroy(t);
}

static void guest_host_msrs(void)
{
	uint64_t efer;

	guest_handlers[13] = skip_handler;
	efer = guest_rdmsr(MSR_EFER);
	GUEST_ASSERT(!(efer & EFER_SVME));
	GUEST_ASSERT_EQ(fault_count, 0);
	guest_wrmsr(MSR_EFER, efer | EFER_SVME);
	GUEST_ASSERT_EQ(fault_count, 1);
	GUEST_ASSERT_EQ(fault_vector, 13);
	guest_wrmsr(MSR_VM_HSAVE_PA, 0x100000);
	GUEST_ASSERT_EQ(fault_count, 2);
	guest_wrmsr(MSR_VM_HSAVE_PA, 0);
	GUEST_ASSERT_EQ(fault_count, 3);
	guest_wrmsr(MSR_VM_CR, 0);
	GUEST_ASSERT_EQ(fault_count, 4);
	/* SVM is locked off as far as the guest can tell. */
	GUEST_ASSERT(guest_rdmsr(MSR_VM_CR) & (1ULL << 4));
	/* EFER writes without SVME still work, and SVME stays hidden. */
	guest_wrmsr(MSR_EFER, efer);
	GUEST_ASSERT_EQ(fault_count, 4);
	GUEST_ASSERT_EQ(guest_rdmsr(MSR_EFER), efer);
	GUEST_SYNC(1);
	GUEST_DONE();
}

TEST(host_msrs_refused_with_gp)
{
	struct test_vm *t;
	uint64_t efer;

	if (test_backend() != VMX_BACKEND_SVM)
		SKIP(return, "VM_HSAVE_PA, VM_CR, EFER.SVME: AMD only");
	ASSERT_EQ(0, test_vm_create(&t, 1, guest_host_msrs));
	ASSERT_SYNC(t->vcpus[0], 1);
	ASSERT_EQ(0, libvmx_vcpu_get_msr(t->vcpus[0], MSR_EFER, &efer));
	EXPECT_EQ(0, efer & EFER_SVME);
	ASSERT_UCALL(t->vcpus[0], UCALL_DONE);
	test_vm_destroy(t);
}

static void guest_unknown_msr(void)
{
	guest_handlers[13] = skip_handler;
	guest_rdmsr(MSR_BOGUS);
	GUEST_ASSERT_EQ(fault_count, 1);
	guest_wrmsr(MSR_BOGUS, 5);
	GUEST_ASSERT_EQ(fault_count, 2);
	GUEST_SYNC(1);
	/* Now the VMM handles them. */
	GUEST_ASSERT_EQ(guest_rdmsr(MSR_BOGUS), 0x1122334455667788ULL);
	guest_wrmsr(MSR_BOGUS, 0xaabbccdd00112233ULL);
	GUEST_ASSERT_EQ(fault_count, 2);
	/* And refuses one. */
	guest_wrmsr(MSR_BOGUS + 1, 1);
	GUEST_ASSERT_EQ(fault_count, 3);
	GUEST_ASSERT_EQ(fault_vector, 13);
	GUEST_DONE();
}

TEST(unknown_msr_gp_or_exit)
{
	struct test_vm *t;
	struct libvmx_vcpu *vcpu;
	struct vmx_run *run;
	struct vmx_regs regs;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_unknown_msr));
	vcpu = t->vcpus[0];
	run = libvmx_vcpu_run_area(vcpu);
	ASSERT_SYNC(vcpu, 1);
	run->msr_exits = 1;
	ASSERT_EXIT(vcpu, VMX_EXIT_MSR);
	EXPECT_EQ(MSR_BOGUS, run->msr.index);
	EXPECT_EQ(0, run->msr.is_write);
	ASSERT_EQ(0, libvmx_vcpu_get_regs(vcpu, &regs));
	EXPECT_EQ(run->rip, regs.rip);
	run->msr.data = 0x1122334455667788ULL;
	ASSERT_EXIT(vcpu, VMX_EXIT_MSR);
	EXPECT_EQ(MSR_BOGUS, run->msr.index);
	EXPECT_EQ(1, run->msr.is_write);
	EXPECT_EQ(0xaabbccdd00112233ULL, run->msr.data);
	ASSERT_EXIT(vcpu, VMX_EXIT_MSR);
	EXPECT_EQ(MSR_BOGUS + 1, run->msr.index);
	run->msr.error = 1;
	ASSERT_UCALL(vcpu, UCALL_DONE);
	test_vm_destroy(t);
}

static void guest_nothing(void)
{
	GUEST_SYNC(1);
	GUEST_DONE();
}

TEST(fail_entry_on_invalid_state)
{
	struct test_vm *t;
	struct libvmx_vcpu *vcpu;
	struct vmx_sregs good, bad;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_nothing));
	vcpu = t->vcpus[0];
	ASSERT_EQ(0, libvmx_vcpu_get_sregs(vcpu, &good));
	bad = good;
	/* CR0.NW without CR0.CD: accepted as bits, refused by VMRUN. */
	bad.cr0 |= 1ULL << 29;
	bad.cr0 &= ~(1ULL << 30);
	ASSERT_EQ(0, libvmx_vcpu_set_sregs(vcpu, &bad));
	ASSERT_EXIT(vcpu, VMX_EXIT_FAIL_ENTRY);
	EXPECT_NE(0, libvmx_vcpu_run_area(vcpu)->fail_entry.hardware_reason);
	/* Again: the state did not fix itself. */
	ASSERT_EXIT(vcpu, VMX_EXIT_FAIL_ENTRY);
	/* The VMM repairs it and the guest runs. */
	ASSERT_EQ(0, libvmx_vcpu_set_sregs(vcpu, &good));
	ASSERT_SYNC(vcpu, 1);
	ASSERT_UCALL(vcpu, UCALL_DONE);
	test_vm_destroy(t);
}

/* A guest that kills itself over and over does not hurt the host. */
static void guest_crash_loop(void)
{
	__asm__ volatile("lidt %0\n\tint3" : : "m"(*(const char *)0x200000));
}

TEST(shutdown_then_reset_state)
{
	struct test_vm *t;
	struct libvmx_vcpu *vcpu;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_crash_loop));
	vcpu = t->vcpus[0];
	/* An IDT with limit 0 at 0x200000 (scratch is zeroed). */
	for (int i = 0; i < 20; i++) {
		ASSERT_EXIT(vcpu, VMX_EXIT_SHUTDOWN);
		ASSERT_EQ(0, test_vcpu_long_mode(t, vcpu, guest_crash_loop));
	}
	ASSERT_EQ(0, test_vcpu_long_mode(t, vcpu, guest_nothing));
	ASSERT_SYNC(vcpu, 1);
	test_vm_destroy(t);
}

TEST_HARNESS_MAIN
