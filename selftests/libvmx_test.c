// SPDX-License-Identifier: GPL-2.0
/*
 * libvmx end to end, inside a VM: the long-mode set-up helper, guest
 * virtual address translation, and the run loop with its instruction
 * assist completing MMIO and string port I/O for C guest code.
 */
#include "test_util.h"
#include "kselftest_harness.h"

#include "vmx_test.h"
#include "guest.h"

#define DEV_GPA		0x3ff00000ULL
#define DEV_SIZE	4096
#define TABLES_GPA	(TEST_SCRATCH + 0x200000)

extern const uint64_t guest_idt_stubs[GUEST_NR_VECTORS];
void guest_return_stub(void);

/* The device behind DEV_GPA, and what the loop saw. */
struct bench {
	uint8_t regs[DEV_SIZE];
	unsigned int reads, writes;
	char out[256];
	unsigned int out_len;
	const char *in;
	struct ucall uc;
	struct libvmx_vm *vm;
};

static int bench_mmio(void *opaque, struct libvmx_vcpu *vcpu, uint64_t gpa,
		      void *data, unsigned int size, bool is_write)
{
	struct bench *b = opaque;
	uint64_t off = gpa - DEV_GPA;

	if (gpa < DEV_GPA || off + size > DEV_SIZE)
		return -EINVAL;
	if (is_write) {
		memcpy(b->regs + off, data, size);
		b->writes++;
	} else {
		memcpy(data, b->regs + off, size);
		b->reads++;
	}
	return 0;
}

static int bench_pio(void *opaque, struct libvmx_vcpu *vcpu, uint16_t port,
		     void *data, unsigned int size, bool is_out)
{
	struct bench *b = opaque;
	uint32_t ptr;

	if (port == UCALL_PORT && is_out && size == 4) {
		memcpy(&ptr, data, 4);
		if (libvmx_read_gpa(b->vm, ptr, &b->uc, sizeof(b->uc)))
			return -EFAULT;
		return b->uc.cmd == UCALL_SYNC ? 0 : 1;
	}
	if (port == 0x3f8 && is_out && b->out_len < sizeof(b->out) - 1) {
		b->out[b->out_len++] = *(char *)data;
		return 0;
	}
	if (port == 0x60 && !is_out) {
		*(char *)data = *b->in ? *b->in++ : 0;
		return 0;
	}
	return -EINVAL;
}

static const struct libvmx_exit_ops bench_ops = {
	.pio = bench_pio, .mmio = bench_mmio,
};

/* A VM whose vCPU 0 libvmx_setup_long_mode() put at @code. */
static struct test_vm *bench_vm(struct __test_metadata *_metadata,
				struct bench *b, void (*code)(void))
{
	struct libvmx_long_mode lm = {
		.tables_gpa = TABLES_GPA, .identity_size = 1ULL << 30,
		.idt_handlers = guest_idt_stubs, .nr_handlers = GUEST_NR_VECTORS,
		.entry = (uintptr_t)code,
		.stack = TEST_RAM_SIZE - 4096 - 8,
	};
	uint64_t ret_addr = (uintptr_t)guest_return_stub;
	struct test_vm *t;

	memset(b, 0, sizeof(*b));
	if (test_vm_create(&t, 1, NULL))
		return NULL;
	b->vm = t->vm;
	EXPECT_LE(libvmx_long_mode_tables_size(lm.identity_size), 0x100000);
	if (libvmx_write_gpa(t->vm, lm.stack, &ret_addr, 8) ||
	    libvmx_setup_long_mode(t->vcpus[0], &lm)) {
		test_vm_destroy(t);
		return NULL;
	}
	return t;
}

static int bench_run(struct test_vm *t, struct bench *b)
{
	return libvmx_vcpu_loop(t->vcpus[0], &bench_ops, b);
}

#define ASSERT_GUEST_DONE(t, b)						\
	do {								\
		int __r = bench_run((t), (b));				\
		ASSERT_EQ(1, __r) TH_LOG("loop returned %d: %s", __r,	\
			test_describe((t)->vcpus[0], &(b)->uc));	\
		ASSERT_EQ(UCALL_DONE, (b)->uc.cmd)			\
			TH_LOG("%s", test_describe((t)->vcpus[0], &(b)->uc)); \
	} while (0)

static void guest_just_done(void)
{
	GUEST_SYNC(1);
	GUEST_DONE();
}

TEST(long_mode_helper_runs_c_code)
{
	struct bench b;
	struct test_vm *t = bench_vm(_metadata, &b, guest_just_done);

	ASSERT_NE(NULL, t);
	ASSERT_GUEST_DONE(t, &b);
	test_vm_destroy(t);
}

TEST(long_mode_helper_bad_args)
{
	struct libvmx_long_mode lm = { .tables_gpa = 0x1001, .identity_size = 1ULL << 30 };
	struct test_vm *t;

	ASSERT_EQ(0, test_vm_create(&t, 1, NULL));
	EXPECT_EQ(-EINVAL, libvmx_setup_long_mode(t->vcpus[0], &lm));
	lm.tables_gpa = 0x1000;
	lm.identity_size = 12345;
	EXPECT_EQ(-EINVAL, libvmx_setup_long_mode(t->vcpus[0], &lm));
	lm.identity_size = 1ULL << 30;
	lm.tables_gpa = 0x7ff00000;	/* not RAM */
	EXPECT_EQ(-EFAULT, libvmx_setup_long_mode(t->vcpus[0], &lm));
	EXPECT_EQ(-EINVAL, libvmx_setup_long_mode(NULL, &lm));
	test_vm_destroy(t);
}

TEST(translate_identity_and_faults)
{
	struct libvmx_fault f = { 0 };
	struct bench b;
	struct test_vm *t = bench_vm(_metadata, &b, guest_just_done);
	uint64_t gpa = 0;

	ASSERT_NE(NULL, t);
	EXPECT_EQ(0, libvmx_vcpu_translate(t->vcpus[0], 0x123456, 0, &gpa, NULL));
	EXPECT_EQ(0x123456, gpa);
	EXPECT_EQ(0, libvmx_vcpu_translate(t->vcpus[0], 0x3fffffff,
					   LIBVMX_ACC_WRITE, &gpa, NULL));
	EXPECT_EQ(0x3fffffff, gpa);
	/* Beyond the 1 GiB mapped: not present. */
	EXPECT_EQ(-EACCES, libvmx_vcpu_translate(t->vcpus[0], 0x40001000, 0,
						 &gpa, &f));
	EXPECT_EQ(14, f.vector);
	EXPECT_EQ(0x40001000, f.cr2);
	EXPECT_EQ(0, f.error_code & 1);		/* not-present */
	/* Supervisor pages: a user access faults with P and U set. */
	EXPECT_EQ(-EACCES, libvmx_vcpu_translate(t->vcpus[0], 0x5000,
						 LIBVMX_ACC_USER, &gpa, &f));
	EXPECT_EQ(14, f.vector);
	EXPECT_EQ(5, f.error_code & 5);
	/* Non-canonical: #GP. */
	EXPECT_EQ(-EACCES, libvmx_vcpu_translate(t->vcpus[0], 0x0000800000000000ULL,
						 0, &gpa, &f));
	EXPECT_EQ(13, f.vector);
	EXPECT_EQ(-EINVAL, libvmx_vcpu_translate(t->vcpus[0], 0, 0x80, &gpa, NULL));
	test_vm_destroy(t);
}

static void guest_mmio_forms(void)
{
	volatile uint8_t *d8 = (volatile uint8_t *)DEV_GPA;
	volatile uint16_t *d16 = (volatile uint16_t *)(DEV_GPA + 0x10);
	volatile uint32_t *d32 = (volatile uint32_t *)(DEV_GPA + 0x20);
	volatile uint64_t *d64 = (volatile uint64_t *)(DEV_GPA + 0x30);
	volatile uint32_t *bits = (volatile uint32_t *)(DEV_GPA + 0x60);
	uint64_t v;
	int64_t s;

	/* Plain loads and stores of every size. */
	GUEST_ASSERT_EQ(*d8, 0x11);
	GUEST_ASSERT_EQ(*d16, 0x2222);
	GUEST_ASSERT_EQ(*d32, 0x33333333);
	GUEST_ASSERT_EQ(*d64, 0x4444444444444444ULL);
	d8[1] = 0xa1;
	d16[1] = 0xb2b2;
	d32[1] = 0xc3c3c3c3;
	d64[1] = 0xd4d4d4d4d4d4d4d4ULL;
	/* Immediate store, zero/sign extension. */
	__asm__ volatile("movl $0x12345678, (%0)" : : "r"(d32 + 2) : "memory");
	__asm__ volatile("movzbq (%1), %0" : "=r"(v) : "r"(d8 + 3) : "memory");
	GUEST_ASSERT_EQ(v, 0x80);
	__asm__ volatile("movsbq (%1), %0" : "=r"(s) : "r"(d8 + 3) : "memory");
	GUEST_ASSERT_EQ(s, -128);
	__asm__ volatile("movswq (%1), %0" : "=r"(s) : "r"(d16 + 2) : "memory");
	GUEST_ASSERT_EQ(s, -2);
	/* Read-modify-write ALU ops, and a compare whose flags matter. */
	__asm__ volatile("orl $0xf0, (%0)" : : "r"(d32 + 3) : "memory");
	__asm__ volatile("andl $0x0ff, (%0)" : : "r"(d32 + 3) : "memory");
	__asm__ volatile("addl $5, (%0)" : : "r"(d32 + 3) : "memory");
	__asm__ volatile("xorq %1, (%0)" : : "r"(d64 + 2), "r"(0xffULL) : "memory");
	v = 0;
	__asm__ volatile("cmpl $0x100, (%1)\n\tsete %b0" : "+r"(v) : "r"(d32 + 3) : "memory", "cc");
	GUEST_ASSERT_EQ(v, 1);
	v = 0;
	__asm__ volatile("testb $0x80, (%1)\n\tsetnz %b0" : "+r"(v) : "r"(d8 + 3) : "memory", "cc");
	GUEST_ASSERT_EQ(v, 1);
	/* Exchange and bit operations. */
	v = 0x77;
	__asm__ volatile("xchgb %b0, (%1)" : "+r"(v) : "r"(d8 + 4) : "memory");
	GUEST_ASSERT_EQ(v & 0xff, 0x55);
	v = 0;
	__asm__ volatile("btsl $3, (%1)\n\tsetc %b0" : "+r"(v) : "r"(bits) : "memory", "cc");
	GUEST_ASSERT_EQ(v, 0);
	/* REP STOSB and REP MOVSB into the device. */
	{
		volatile uint8_t *dst = d8 + 0x100;
		const char *src = "copied!";
		uint64_t n = 64;

		/* String instructions move RDI/RSI/RCX: tell the compiler. */
		__asm__ volatile("rep stosb" : "+D"(dst), "+c"(n) : "a"(0x5a) : "memory");
		dst = d8 + 0x200;
		n = 8;
		__asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
	}
	GUEST_DONE();
}

TEST(mmio_assist_instruction_forms)
{
	struct bench b;
	struct test_vm *t = bench_vm(_metadata, &b, guest_mmio_forms);
	uint32_t v32;
	uint64_t v64;

	ASSERT_NE(NULL, t);
	b.regs[0] = 0x11;
	memcpy(b.regs + 0x10, "\x22\x22", 2);
	memset(b.regs + 0x20, 0x33, 4);
	memset(b.regs + 0x30, 0x44, 8);
	b.regs[3] = 0x80;
	memcpy(b.regs + 0x14, "\xfe\xff", 2);
	b.regs[4] = 0x55;
	b.regs[0x2c] = 0x0b;	/* ((0x0b | 0xf0) & 0xff) + 5 == 0x100 */
	ASSERT_GUEST_DONE(t, &b);

	EXPECT_EQ(0xa1, b.regs[1]);
	EXPECT_EQ(0xb2, b.regs[0x12]);
	memcpy(&v32, b.regs + 0x24, 4);
	EXPECT_EQ(0xc3c3c3c3, v32);
	memcpy(&v64, b.regs + 0x38, 8);
	EXPECT_EQ(0xd4d4d4d4d4d4d4d4ULL, v64);
	memcpy(&v32, b.regs + 0x28, 4);
	EXPECT_EQ(0x12345678, v32);
	memcpy(&v32, b.regs + 0x2c, 4);
	EXPECT_EQ(0x100, v32);
	memcpy(&v64, b.regs + 0x40, 8);
	EXPECT_EQ(0xff, v64);
	EXPECT_EQ(0x77, b.regs[4]);
	memcpy(&v32, b.regs + 0x60, 4);
	EXPECT_EQ(8, v32);
	for (int i = 0; i < 64; i++)
		EXPECT_EQ(0x5a, b.regs[0x100 + i]);
	EXPECT_EQ(0, memcmp(b.regs + 0x200, "copied!", 8));
	EXPECT_GT(b.reads, 10);
	EXPECT_GT(b.writes, 64);
	test_vm_destroy(t);
}

static void guest_string_pio(void)
{
	static const char msg[] = "string I/O";
	static char buf[8];
	const char *src = msg;
	char *dst = buf;
	uint64_t n = sizeof(msg) - 1;

	__asm__ volatile("rep outsb" : "+S"(src), "+c"(n) : "d"(0x3f8) : "memory");
	n = 5;
	__asm__ volatile("rep insb" : "+D"(dst), "+c"(n) : "d"(0x60) : "memory");
	GUEST_ASSERT(!memcmp(buf, "keys!", 5));
	GUEST_DONE();
}

TEST(string_port_io_assist)
{
	struct bench b;
	struct test_vm *t = bench_vm(_metadata, &b, guest_string_pio);

	ASSERT_NE(NULL, t);
	b.in = "keys!";
	ASSERT_EQ(1, bench_run(t, &b));
	ASSERT_EQ(UCALL_DONE, b.uc.cmd) TH_LOG("%s; %u bytes out '%.*s', input left '%s'",
		test_describe(t->vcpus[0], &b.uc), b.out_len, (int)b.out_len, b.out, b.in);
	EXPECT_EQ(10, b.out_len);
	EXPECT_EQ(0, memcmp(b.out, "string I/O", 10));
	test_vm_destroy(t);
}

static void guest_rep_outsb(void)
{
	static const char msg[] = "ab";
	const char *src = msg;
	uint64_t n = 2;

	__asm__ volatile("rep outsb" : "+S"(src), "+c"(n) : "d"(0x3f8) : "memory");
	GUEST_DONE();
}

/* What the kernel reports for a string instruction (no data moved). */
TEST(string_io_exit_fields)
{
	struct test_vm *t;
	struct vmx_run *run;
	struct vmx_regs regs;
	struct ucall uc;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_rep_outsb));
	run = libvmx_vcpu_run_area(t->vcpus[0]);
	ASSERT_EQ(UCALL_NONE, test_run(t->vcpus[0], &uc));
	ASSERT_EQ(VMX_EXIT_IO, run->exit_reason);
	ASSERT_EQ(0, libvmx_vcpu_get_regs(t->vcpus[0], &regs));
	EXPECT_EQ(0x3f8, run->io.port);
	EXPECT_EQ(VMX_IO_OUT, run->io.direction);
	EXPECT_EQ(1, run->io.size);
	EXPECT_EQ(1, run->io.string);
	EXPECT_EQ(1, run->io.rep);
	/* Known only where the CPU tells (SVM decode assists). */
	if (run->io.addr_size) {
		EXPECT_EQ(64, run->io.addr_size);
		EXPECT_EQ(3, run->io.seg);	/* DS */
	} else {
		EXPECT_EQ(0, run->io.seg);
	}
	EXPECT_EQ(2, run->io.insn_len);		/* f3 6e */
	EXPECT_EQ(run->rip, regs.rip);		/* nothing done yet */
	EXPECT_EQ(2, regs.rcx);
	test_vm_destroy(t);
}

static int stop_mmio(void *opaque, struct libvmx_vcpu *vcpu, uint64_t gpa,
		     void *data, unsigned int size, bool is_write)
{
	struct bench *b = opaque;

	/* Stop the loop on the first access; serve it when resumed. */
	if (!b->reads++)
		return 1;
	memset(data, 0x42, size);
	return 0;
}

static void guest_one_mmio_read(void)
{
	GUEST_ASSERT_EQ(*(volatile uint32_t *)DEV_GPA, 0x42424242);
	GUEST_DONE();
}

/*
 * A device callback's positive result stops the loop even in the middle
 * of an assisted instruction, which is then done again, whole.
 */
TEST(callback_stops_loop_inside_assist)
{
	const struct libvmx_exit_ops ops = { .pio = bench_pio, .mmio = stop_mmio };
	struct vmx_regs before, after;
	struct bench b;
	struct test_vm *t = bench_vm(_metadata, &b, guest_one_mmio_read);

	ASSERT_NE(NULL, t);
	ASSERT_EQ(1, libvmx_vcpu_loop(t->vcpus[0], &ops, &b));
	ASSERT_EQ(VMX_EXIT_MMIO, libvmx_vcpu_run_area(t->vcpus[0])->exit_reason);
	ASSERT_EQ(0, libvmx_vcpu_get_regs(t->vcpus[0], &before));
	EXPECT_EQ(libvmx_vcpu_run_area(t->vcpus[0])->rip, before.rip);
	ASSERT_EQ(1, libvmx_vcpu_loop(t->vcpus[0], &ops, &b));
	ASSERT_EQ(UCALL_DONE, b.uc.cmd) TH_LOG("%s", test_describe(t->vcpus[0], &b.uc));
	ASSERT_EQ(0, libvmx_vcpu_get_regs(t->vcpus[0], &after));
	EXPECT_EQ(2, b.reads);
	test_vm_destroy(t);
}

static uint64_t guest_ud_seen;

static uint64_t guest_on_ud(uint64_t vector, uint64_t error, uint64_t rip)
{
	guest_ud_seen = vector;
	/* Skip the 4-byte CMPXCHG below. */
	return rip + 4;
}

static void guest_unsupported_mmio(void)
{
	uint32_t old = 0;

	guest_handlers[6] = guest_on_ud;
	/* lock cmpxchg %ecx, (%rdx): not something the assist does. */
	__asm__ volatile("lock cmpxchgl %%ecx, (%%rdx)"
			 : "+a"(old) : "c"(1), "d"(DEV_GPA) : "memory");
	GUEST_ASSERT_EQ(guest_ud_seen, 6);
	GUEST_DONE();
}

TEST(unsupported_instruction_gets_ud)
{
	struct bench b;
	struct test_vm *t = bench_vm(_metadata, &b, guest_unsupported_mmio);

	ASSERT_NE(NULL, t);
	ASSERT_GUEST_DONE(t, &b);
	test_vm_destroy(t);
}

/*
 * A guest that single-steps over an MMIO load: the loop's assist
 * completes it, so the loop raises the trap after it (DR6.BS, RIP past
 * the load), then the CPU traps after each instruction up to the POPF
 * that clears TF.
 */
extern char mmio_step_load_end[];

static void guest_single_step_mmio(void)
{
	uint32_t val;

	guest_handlers[1] = guest_db_record;
	set_dr6(0);
	__asm__ volatile(GUEST_ASM_TF_ON
			 "movl (%%rdx), %%eax\n"
			 "mmio_step_load_end:\n\t"
			 "pushf\n\t"
			 "andq $~0x100, (%%rsp)\n\t"
			 "popf"
			 : "=a"(val) : "d"(DEV_GPA) : "memory", "cc");
	GUEST_ASSERT_EQ(val, 0x42424242);
	GUEST_ASSERT_EQ(guest_db_count, 4);
	GUEST_ASSERT_EQ(guest_db_rip[0], (uintptr_t)mmio_step_load_end);
	GUEST_ASSERT_EQ(guest_db_dr6[0], DR6_FIXED | DR6_BS);
	GUEST_ASSERT_EQ(guest_db_dr6[3], DR6_FIXED | DR6_BS);
	GUEST_DONE();
}

TEST(single_step_over_assisted_mmio)
{
	struct bench b;
	struct test_vm *t = bench_vm(_metadata, &b, guest_single_step_mmio);

	ASSERT_NE(NULL, t);
	memset(b.regs, 0x42, 4);
	ASSERT_GUEST_DONE(t, &b);
	EXPECT_EQ(1, b.reads);
	test_vm_destroy(t);
}

TEST_HARNESS_MAIN
