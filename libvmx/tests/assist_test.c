// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Instruction assist (libvmx/assist.c) on a fake guest (assist_env.h):
 *  - every supported MOV form in real, 16/32-bit protected, compatibility
 *    and 64-bit mode, with the exact register and device effects;
 *  - ADD ADC SUB SBB CMP AND OR XOR TEST INC DEC NEG NOT: results and
 *    arithmetic flags compared with the host CPU running the same op;
 *  - XCHG, BT/BTS/BTR/BTC, MOVS/STOS/LODS (REP, DF, address sizes, REP
 *    chunks), INS/OUTS exits;
 *  - faults: #PF on data and fetch (page crossing), #GP/#SS for
 *    non-canonical addresses and segment violations, unsupported
 *    instructions, device errors, bad arguments;
 *  - a generated corpus cross-checked against capstone: length, memory
 *    operand address/size/direction and register operand must agree;
 *    run with the fast MOV decoder (quickdec.c) and without it;
 *  - the fast decoder against Zydis, field by field, over the corpus.
 */
#include <stdio.h>

#include <capstone/capstone.h>

#include "assist_env.h"
#include "corpus_gen.h"
#include "kselftest_harness.h"
#include "quickdec.h"


#define CODE_IP		ENV_CODE
#define DEV		ENV_MMIO	/* the device page used by the tables */

/* Register numbers in encoding order, for vmx_regs by index. */
enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13,
       R14, R15, NO_REG = -1 };

static __u64 *reg_ptr(struct vmx_regs *r, int num)
{
	__u64 *order[16] = {
		&r->rax, &r->rcx, &r->rdx, &r->rbx, &r->rsp, &r->rbp, &r->rsi,
		&r->rdi, &r->r8, &r->r9, &r->r10, &r->r11, &r->r12, &r->r13,
		&r->r14, &r->r15,
	};

	return order[num & 15];
}

static unsigned int hex_parse(const char *hex, uint8_t *out, unsigned int max)
{
	unsigned int n = 0, v;
	int used;

	while (n < max && sscanf(hex, " %2x%n", &v, &used) == 1) {
		out[n++] = v;
		hex += used;
	}
	return n;
}

/* Device pattern: 8 bytes at an 8-aligned address read 0xf1f2...f8. */
static void dev_pattern(struct env *e)
{
	unsigned int i;

	for (i = 0; i < ENV_DEV_SIZE; i++)
		e->dev[i] = 0xf8 - (i & 7);
}

static void std_regs(struct env *e, enum env_mode mode)
{
	struct vmx_regs *r = &e->regs;
	bool b16 = mode == MODE_REAL || mode == MODE_P16;

	r->rax = 0x1122334455667788ULL;
	r->rcx = 4;
	r->rdx = 0xa1a2a3a4a5a6a7a8ULL;
	r->rbx = DEV + 0x100;
	r->rsp = DEV + 0x5f0;
	r->rbp = DEV + 0x200;
	r->rsi = DEV + 0x300;
	r->rdi = DEV + 0x400;
	r->r8 = 0x8081828384858687ULL;
	r->r9 = 0x9091929394959697ULL;
	r->r15 = 0xf0f1f2f3f4f5f6f7ULL;
	e->sregs.fs.base = 0x10000;
	if (b16) {
		/* 16-bit addressing: the bases point at the device. */
		e->sregs.ds.base = DEV;
		e->sregs.es.base = DEV;
		e->sregs.ss.base = DEV + 0x10000;
		e->sregs.cs.base = 0x10000;
	} else if (mode != MODE_L64) {
		e->sregs.ds.base = 0x01000000;
		e->sregs.ss.base = 0x02000000;
	} else {
		/* Ignored in 64-bit mode. */
		e->sregs.ds.base = 0x01000000;
		e->sregs.ss.base = 0x02000000;
	}
}

static int setup(struct env *e, enum env_mode mode)
{
	int ret = env_init(e, mode);

	if (ret)
		return ret;
	dev_pattern(e);
	std_regs(e, mode);
	return 0;
}

/* Place @hex at CS:CODE_IP (CS:0 in 16-bit modes); its length. */
static unsigned int place(struct env *e, const char *hex)
{
	uint8_t code[16];
	unsigned int len = hex_parse(hex, code, sizeof(code));

	env_code(e, CODE_IP & 0xffff, code, len);
	if (e->sregs.cs.base == 0)
		env_code(e, CODE_IP, code, len);
	return len;
}

/* Run the MMIO assist for an exit at @gpa. */
static int mmio(struct env *e, uint64_t gpa)
{
	e->nlog = 0;
	memset(&e->fault, 0, sizeof(e->fault));
	return lv_assist_mmio(&e->regs, &e->sregs, gpa, NULL, 0, &e->ops,
			      &e->fault);
}

/* Place @hex and run the MMIO assist for @gpa. */
static int run_mmio(struct env *e, const char *hex, uint64_t gpa)
{
	place(e, hex);
	e->nlog = 0;
	memset(&e->fault, 0, sizeof(e->fault));
	return lv_assist_mmio(&e->regs, &e->sregs, gpa, NULL, 0, &e->ops,
			      &e->fault);
}

/* ------------------------------------------------------------------ */
/* MOV family, table-driven                                            */
/* ------------------------------------------------------------------ */

struct mov_case {
	enum env_mode mode;
	const char *code;
	uint64_t gpa;		/* the one device access */
	unsigned int size;
	bool write;
	uint64_t data;		/* written, or read from the device */
	int reg;		/* register loaded, or NO_REG */
	uint64_t reg_after;
};

#define W_	true
#define R_	false
#define RAX0	0x1122334455667788ULL
#define DEV8	0xf1f2f3f4f5f6f7f8ULL

static const struct mov_case mov_cases[] = {
	/* 64-bit: stores of every size, high-byte and REX registers */
	{ MODE_L64, "88 03", DEV + 0x100, 1, W_, 0x88, NO_REG, 0 },
	{ MODE_L64, "88 23", DEV + 0x100, 1, W_, 0x77, NO_REG, 0 },
	{ MODE_L64, "40 88 23", DEV + 0x100, 1, W_, 0xf0, NO_REG, 0 },
	{ MODE_L64, "66 89 03", DEV + 0x100, 2, W_, 0x7788, NO_REG, 0 },
	{ MODE_L64, "89 03", DEV + 0x100, 4, W_, 0x55667788, NO_REG, 0 },
	{ MODE_L64, "48 89 03", DEV + 0x100, 8, W_, RAX0, NO_REG, 0 },
	{ MODE_L64, "4c 89 03", DEV + 0x100, 8, W_, 0x8081828384858687ULL, NO_REG, 0 },
	{ MODE_L64, "66 48 89 03", DEV + 0x100, 8, W_, RAX0, NO_REG, 0 },
	{ MODE_L64, "0f c3 03", DEV + 0x100, 4, W_, 0x55667788, NO_REG, 0 },
	/* 64-bit: loads, partial and zero-extending register writes */
	{ MODE_L64, "8a 03", DEV + 0x100, 1, R_, 0xf8, RAX, 0x11223344556677f8ULL },
	{ MODE_L64, "8a 23", DEV + 0x100, 1, R_, 0xf8, RAX, 0x112233445566f888ULL },
	{ MODE_L64, "66 8b 03", DEV + 0x100, 2, R_, 0xf7f8, RAX, 0x112233445566f7f8ULL },
	{ MODE_L64, "8b 03", DEV + 0x100, 4, R_, 0xf5f6f7f8, RAX, 0xf5f6f7f8ULL },
	{ MODE_L64, "48 8b 03", DEV + 0x100, 8, R_, DEV8, RAX, DEV8 },
	{ MODE_L64, "44 8b 3b", DEV + 0x100, 4, R_, 0xf5f6f7f8, R15, 0xf5f6f7f8ULL },
	{ MODE_L64, "44 8a 3b", DEV + 0x100, 1, R_, 0xf8, R15, 0xf0f1f2f3f4f5f6f8ULL },
	/* 64-bit: immediates (sign-extended imm32 for 64-bit) */
	{ MODE_L64, "c6 03 5a", DEV + 0x100, 1, W_, 0x5a, NO_REG, 0 },
	{ MODE_L64, "66 c7 03 34 12", DEV + 0x100, 2, W_, 0x1234, NO_REG, 0 },
	{ MODE_L64, "c7 03 78 56 34 12", DEV + 0x100, 4, W_, 0x12345678, NO_REG, 0 },
	{ MODE_L64, "48 c7 03 ff ff ff 80", DEV + 0x100, 8, W_, 0xffffffff80ffffffULL, NO_REG, 0 },
	/* 64-bit: moffs, RIP-relative, SIB + disp8, FS, ignored DS base, 67 */
	{ MODE_L64, "48 a1 00 01 00 d0 00 00 00 00", DEV + 0x100, 8, R_, DEV8, RAX, DEV8 },
	{ MODE_L64, "a3 08 01 00 d0 00 00 00 00", DEV + 0x108, 4, W_, 0x55667788, NO_REG, 0 },
	{ MODE_L64, "8b 05 fa ff df 00", 0x1000000, 4, R_, 0xf5f6f7f8, RAX, 0xf5f6f7f8ULL },
	{ MODE_L64, "89 44 8b 10", DEV + 0x120, 4, W_, 0x55667788, NO_REG, 0 },
	{ MODE_L64, "64 89 03", DEV + 0x10100, 4, W_, 0x55667788, NO_REG, 0 },
	{ MODE_L64, "3e 89 03", DEV + 0x100, 4, W_, 0x55667788, NO_REG, 0 },
	{ MODE_L64, "67 89 04 24", DEV + 0x5f0, 4, W_, 0x55667788, NO_REG, 0 },
	/* 64-bit: MOVZX / MOVSX / MOVSXD */
	{ MODE_L64, "0f b6 03", DEV + 0x100, 1, R_, 0xf8, RAX, 0xf8 },
	{ MODE_L64, "66 0f b6 03", DEV + 0x100, 1, R_, 0xf8, RAX, 0x11223344556600f8ULL },
	{ MODE_L64, "0f b7 03", DEV + 0x100, 2, R_, 0xf7f8, RAX, 0xf7f8 },
	{ MODE_L64, "48 0f be 03", DEV + 0x100, 1, R_, 0xf8, RAX, ~0ULL - 7 },
	{ MODE_L64, "0f bf 03", DEV + 0x100, 2, R_, 0xf7f8, RAX, 0xfffff7f8ULL },
	{ MODE_L64, "48 63 03", DEV + 0x100, 4, R_, 0xf5f6f7f8, RAX, 0xfffffffff5f6f7f8ULL },
	{ MODE_L64, "63 03", DEV + 0x100, 4, R_, 0xf5f6f7f8, RAX, 0xf5f6f7f8ULL },
	/* compatibility mode: 32-bit addressing, DS base used */
	{ MODE_C32, "89 03", 0xd1000100, 4, W_, 0x55667788, NO_REG, 0 },
	{ MODE_C32, "8b 45 00", 0xd2000200, 4, R_, 0xf5f6f7f8, RAX, 0xf5f6f7f8ULL },
	/* 32-bit protected mode, paging off */
	{ MODE_P32, "89 03", 0xd1000100, 4, W_, 0x55667788, NO_REG, 0 },
	{ MODE_P32, "66 89 03", 0xd1000100, 2, W_, 0x7788, NO_REG, 0 },
	{ MODE_P32, "88 3b", 0xd1000100, 1, W_, 0x01, NO_REG, 0 },
	{ MODE_P32, "8a 3b", 0xd1000100, 1, R_, 0xf8, RBX, 0xd000f800ULL },
	{ MODE_P32, "8b 04 24", 0xd20005f0, 4, R_, 0xf5f6f7f8, RAX, 0xf5f6f7f8ULL },
	{ MODE_P32, "26 8b 03", 0xd0000100, 4, R_, 0xf5f6f7f8, RAX, 0xf5f6f7f8ULL },
	{ MODE_P32, "a1 00 02 00 00", 0x01000200, 4, R_, 0xf5f6f7f8, RAX, 0xf5f6f7f8ULL },
	{ MODE_P32, "67 89 07", 0x01000100, 4, W_, 0x55667788, NO_REG, 0 },
	{ MODE_P32, "0f be 03", 0xd1000100, 1, R_, 0xf8, RAX, 0xfffffff8ULL },
	/* 16-bit: real and protected mode */
	{ MODE_REAL, "89 07", DEV + 0x100, 2, W_, 0x7788, NO_REG, 0 },
	{ MODE_REAL, "66 89 07", DEV + 0x100, 4, W_, 0x55667788, NO_REG, 0 },
	{ MODE_REAL, "8b 42 04", DEV + 0x10504, 2, R_, 0xf3f4, RAX, 0x112233445566f3f4ULL },
	{ MODE_REAL, "8a 60 10", DEV + 0x410, 1, R_, 0xf8, RAX, 0x112233445566f888ULL },
	{ MODE_REAL, "64 c6 06 34 12 99", 0x11234, 1, W_, 0x99, NO_REG, 0 },
	{ MODE_REAL, "a0 08 00", DEV + 0x8, 1, R_, 0xf8, RAX, 0x11223344556677f8ULL },
	{ MODE_P16, "89 07", DEV + 0x100, 2, W_, 0x7788, NO_REG, 0 },
	{ MODE_P16, "66 8b 44 08", DEV + 0x308, 4, R_, 0xf5f6f7f8, RAX, 0xf5f6f7f8ULL },
	{ MODE_P16, "8b 46 08", DEV + 0x10208, 2, R_, 0xf7f8, RAX, 0x112233445566f7f8ULL },
};

static const char *const mode_names[] = { "real", "p16", "p32", "c32", "l64" };

TEST(mov_forms)
{
	struct env e = { 0 };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(mov_cases); i++) {
		const struct mov_case *c = &mov_cases[i];
		struct vmx_regs before;
		unsigned int len;
		int ret;

		ASSERT_EQ(0, setup(&e, c->mode));
		if (c->mode == MODE_L64 && !strcmp(c->code, "67 89 04 24"))
			e.regs.rsp |= 0x100000000ULL;	/* only ESP counts */
		len = place(&e, c->code);
		before = e.regs;
		ret = mmio(&e, c->gpa);
		TH_LOG("case %u: %s %s", i, mode_names[c->mode], c->code);
		ASSERT_EQ(0, ret);
		ASSERT_EQ(1, e.nlog);
		EXPECT_EQ(c->gpa, e.log[0].gpa);
		EXPECT_EQ(c->size, e.log[0].size);
		EXPECT_EQ(c->write, e.log[0].write);
		EXPECT_EQ(c->data, e.log[0].data);
		EXPECT_EQ(before.rip + len, e.regs.rip);
		EXPECT_EQ(before.rflags, e.regs.rflags);
		if (c->reg != NO_REG) {
			EXPECT_EQ(c->reg_after, *reg_ptr(&e.regs, c->reg));
			*reg_ptr(&e.regs, c->reg) = *reg_ptr(&before, c->reg);
		}
		e.regs.rip = before.rip;
		EXPECT_EQ(0, memcmp(&before, &e.regs, sizeof(before)));
	}
	env_free(&e);
}

/* ------------------------------------------------------------------ */
/* Arithmetic against the host CPU                                     */
/* ------------------------------------------------------------------ */

enum { OP_ADD, OP_OR, OP_ADC, OP_SBB, OP_AND, OP_SUB, OP_XOR, OP_CMP,
       OP_TEST, OP_INC, OP_DEC, OP_NOT, OP_NEG };

/* Run "op b, a" natively; the red zone is skipped around push/popf. */
#define NATIVE_ASM(insn, m)						\
	asm volatile("lea -128(%%rsp), %%rsp\n\t"			\
		     "push %[fl]\n\tpopfq\n\t"				\
		     insn " %" m "[b], %" m "[a]\n\t"			\
		     "pushfq\n\tpop %[fl]\n\t"				\
		     "lea 128(%%rsp), %%rsp"				\
		     : [a] "+q"(a), [fl] "+r"(fl) : [b] "q"(b) : "cc", "memory")
#define NATIVE_ASM1(insn, m)						\
	asm volatile("lea -128(%%rsp), %%rsp\n\t"			\
		     "push %[fl]\n\tpopfq\n\t"				\
		     insn " %" m "[a]\n\t"				\
		     "pushfq\n\tpop %[fl]\n\t"				\
		     "lea 128(%%rsp), %%rsp"				\
		     : [a] "+q"(a), [fl] "+r"(fl) : : "cc", "memory")
#define NATIVE_SIZES(insn, ASM)						\
	do {								\
		switch (size) {						\
		case 1: ASM(insn "b", "b"); break;			\
		case 2: ASM(insn "w", "w"); break;			\
		case 4: ASM(insn "l", "k"); break;			\
		default: ASM(insn "q", "q"); break;			\
		}							\
	} while (0)

static uint64_t native(int op, unsigned int size, uint64_t a, uint64_t b,
		       uint64_t *flags)
{
	uint64_t fl = *flags;

	switch (op) {
	case OP_ADD: NATIVE_SIZES("add", NATIVE_ASM); break;
	case OP_OR: NATIVE_SIZES("or", NATIVE_ASM); break;
	case OP_ADC: NATIVE_SIZES("adc", NATIVE_ASM); break;
	case OP_SBB: NATIVE_SIZES("sbb", NATIVE_ASM); break;
	case OP_AND: NATIVE_SIZES("and", NATIVE_ASM); break;
	case OP_SUB: NATIVE_SIZES("sub", NATIVE_ASM); break;
	case OP_XOR: NATIVE_SIZES("xor", NATIVE_ASM); break;
	case OP_CMP: NATIVE_SIZES("cmp", NATIVE_ASM); break;
	case OP_TEST: NATIVE_SIZES("test", NATIVE_ASM); break;
	case OP_INC: NATIVE_SIZES("inc", NATIVE_ASM1); break;
	case OP_DEC: NATIVE_SIZES("dec", NATIVE_ASM1); break;
	case OP_NOT: NATIVE_SIZES("not", NATIVE_ASM1); break;
	case OP_NEG: NATIVE_SIZES("neg", NATIVE_ASM1); break;
	}
	*flags = fl;
	return a & (size == 8 ? ~0ULL : (1ULL << (size * 8)) - 1);
}

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Operand values biased to the edges where flags change. */
static uint64_t alu_value(uint64_t *s, unsigned int size)
{
	static const uint64_t edges[] = { 0, 1, 2, 0xf, 0x10, 0x7f, 0x80, 0xff,
					  0x7fff, 0x8000, 0xffff, 0x7fffffff,
					  0x80000000, 0xffffffff,
					  0x7fffffffffffffffULL,
					  0x8000000000000000ULL, ~0ULL };
	uint64_t r = rng_next(s);

	if (r % 3 == 0)
		r = edges[(r >> 8) % ARRAY_SIZE(edges)] + ((r >> 20) % 3) - 1;
	return size == 8 ? r : r & ((1ULL << (size * 8)) - 1);
}

/*
 * Encode "op [rbx], dl/dx/edx/rdx" (@to_reg: "op dl.., [rbx]") or the
 * unary/immediate forms, 64-bit mode.
 */
static unsigned int alu_encode(uint8_t *c, int op, unsigned int size,
			       bool to_reg, int imm_kind, uint64_t imm)
{
	static const uint8_t unary[][2] = {
		[OP_INC] = { 0xfe, 0 }, [OP_DEC] = { 0xfe, 1 },
		[OP_NOT] = { 0xf6, 2 }, [OP_NEG] = { 0xf6, 3 },
	};
	unsigned int n = 0, i, imm_len = 0;

	if (size == 2)
		c[n++] = 0x66;
	if (size == 8)
		c[n++] = 0x48;
	if (op >= OP_INC) {
		c[n++] = unary[op][0] | (size > 1);
		c[n++] = (unary[op][1] << 3) | 3;
	} else if (imm_kind) {
		/* 80 ib, 81 iz, 83 ib sign-extended; TEST: F6/F7 /0 */
		if (op == OP_TEST) {
			c[n++] = size > 1 ? 0xf7 : 0xf6;
			c[n++] = 3;
			imm_len = size > 4 ? 4 : size;
		} else {
			c[n++] = size == 1 ? 0x80 : imm_kind == 1 ? 0x83 : 0x81;
			c[n++] = (op << 3) | 3;
			imm_len = size == 1 || imm_kind == 1 ? 1 :
				  size > 4 ? 4 : size;
		}
	} else if (op == OP_TEST) {
		c[n++] = size > 1 ? 0x85 : 0x84;
		c[n++] = 0x13;
	} else {
		c[n++] = (op << 3) | (size > 1) | (to_reg ? 2 : 0);
		c[n++] = 0x13;
	}
	for (i = 0; i < imm_len; i++)
		c[n++] = imm >> (8 * i);
	return n;
}

static uint64_t sext(uint64_t v, unsigned int bytes)
{
	unsigned int sh = 64 - bytes * 8;

	return bytes >= 8 ? v : (uint64_t)((int64_t)(v << sh) >> sh);
}

/*
 * One ALU case: destination value @a (device, or RDX for the reg,mem
 * form), source @b (RDX or an immediate).  False (logged) on a mismatch.
 */
static bool alu_case(struct __test_metadata *_metadata, struct env *e, int op,
		     unsigned int size, int form, uint64_t *s)
{
	bool to_reg = form == 1;
	int imm_kind = form >= 2 ? form - 1 : 0;	/* 1: imm8, 2: full */
	uint64_t a = alu_value(s, size), b = alu_value(s, size), imm = 0;
	uint64_t m = size == 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
	uint64_t upper = 0x5a5a5a5a5a5a5a5aULL & ~m;
	uint64_t fl_in, fl_nat, want, got, fmask = LV_RFLAGS_ARITH;
	unsigned int len, ib;
	uint8_t code[16];
	int ret;

	if (imm_kind) {
		ib = imm_kind == 1 || size == 1 ? 1 : size > 4 ? 4 : size;
		if (op == OP_TEST)
			ib = size > 4 ? 4 : size;
		imm = rng_next(s);
		b = sext(imm & ((1ULL << (ib * 8)) - 1), ib) & m;
	}
	fl_in = LV_RFLAGS_FIXED | (rng_next(s) & LV_RFLAGS_ARITH);
	fl_nat = fl_in;
	want = native(op, size, a, b, &fl_nat);
	if (op == OP_CMP || op == OP_TEST)
		want = a;
	/* AF is undefined after logic ops: the assist clears it. */
	if (op == OP_AND || op == OP_OR || op == OP_XOR || op == OP_TEST)
		fmask &= ~LV_RFLAGS_AF;

	len = alu_encode(code, op, size, to_reg, imm_kind, imm);
	env_code(e, CODE_IP, code, len);
	e->regs.rbx = DEV;
	e->regs.rflags = fl_in;
	e->regs.rdx = upper | (to_reg ? a : b);
	env_dev_put(e, DEV, to_reg ? b : a, 8);
	e->nlog = 0;
	ret = lv_assist_mmio(&e->regs, &e->sregs, DEV, NULL, 0, &e->ops, &e->fault);
	got = to_reg ? e->regs.rdx & m : env_dev_get(e, DEV, size);
	if (ret || got != want || (e->regs.rflags & fmask) != (fl_nat & fmask) ||
	    e->regs.rip != CODE_IP + len) {
		TH_LOG("op %d size %u form %d a %#llx b %#llx: ret %d got %#llx want %#llx flags %#llx want %#llx",
		       op, size, form, (unsigned long long)a, (unsigned long long)b,
		       ret, (unsigned long long)got, (unsigned long long)want,
		       (unsigned long long)e->regs.rflags,
		       (unsigned long long)fl_nat);
		return false;
	}
	/* 32-bit register results zero-extend, narrower ones merge. */
	if (to_reg && op != OP_CMP &&
	    (e->regs.rdx & ~m) != (size == 4 ? 0 : upper)) {
		TH_LOG("op %d size %u: upper rdx bits %#llx", op, size,
		       (unsigned long long)e->regs.rdx);
		return false;
	}
	return true;
}

TEST(alu_flags_match_host_cpu)
{
	static const unsigned int sizes[] = { 1, 2, 4, 8 };
	struct env e = { 0 };
	uint64_t seed = 0x1234567887654321ULL;
	unsigned int si, n, checked = 0, failed = 0;
	int op, form;

	ASSERT_EQ(0, setup(&e, MODE_L64));
	for (op = OP_ADD; op <= OP_NEG; op++) {
		for (si = 0; si < ARRAY_SIZE(sizes); si++) {
			/* forms: 0 mem,reg  1 reg,mem  2 mem,imm8  3 mem,imm */
			for (form = 0; form < 4; form++) {
				if (op >= OP_INC && form)
					continue;
				if (op == OP_TEST && form == 1)
					continue;
				if (op == OP_TEST && form == 2)
					continue;
				for (n = 0; n < 300; n++) {
					checked++;
					if (!alu_case(_metadata, &e, op, sizes[si],
						      form, &seed))
						failed++;
					if (failed > 10)
						break;
				}
			}
		}
	}
	TH_LOG("%u ALU cases checked against the host CPU", checked);
	EXPECT_EQ(0, failed);
	env_free(&e);
}

/* ------------------------------------------------------------------ */
/* XCHG, BT family                                                     */
/* ------------------------------------------------------------------ */

TEST(xchg_and_bt)
{
	struct env e = { 0 };

	ASSERT_EQ(0, setup(&e, MODE_L64));
	/* xchg [rbx], eax */
	ASSERT_EQ(0, run_mmio(&e, "87 03", DEV + 0x100));
	EXPECT_EQ(0xf5f6f7f8ULL, e.regs.rax);
	EXPECT_EQ(2, e.nlog);
	EXPECT_EQ(0x55667788, env_dev_get(&e, DEV + 0x100, 4));
	EXPECT_EQ(true, e.log[1].write);

	/* bt [rbx], eax with eax = 35: dword at +4, bit 3 */
	e.regs.rax = 35;
	env_dev_put(&e, DEV + 0x104, 0x8, 4);
	ASSERT_EQ(0, run_mmio(&e, "0f a3 03", DEV + 0x104));
	EXPECT_EQ(DEV + 0x104, e.log[0].gpa);
	EXPECT_EQ(1, e.nlog);
	EXPECT_EQ(LV_RFLAGS_CF, e.regs.rflags & LV_RFLAGS_CF);

	/* bts [rbx], rax with rax = -1: qword at -8, bit 63 */
	e.regs.rax = ~0ULL;
	env_dev_put(&e, DEV + 0xf8, 0, 8);
	ASSERT_EQ(0, run_mmio(&e, "48 0f ab 03", DEV + 0xf8));
	EXPECT_EQ(0x8000000000000000ULL, env_dev_get(&e, DEV + 0xf8, 8));
	EXPECT_EQ(0, e.regs.rflags & LV_RFLAGS_CF);

	/* btr word [rbx], 0x13: immediate modulo 16 -> bit 3 */
	env_dev_put(&e, DEV + 0x100, 0xffff, 2);
	ASSERT_EQ(0, run_mmio(&e, "66 0f ba 33 13", DEV + 0x100));
	EXPECT_EQ(0xfff7, env_dev_get(&e, DEV + 0x100, 2));
	EXPECT_EQ(LV_RFLAGS_CF, e.regs.rflags & LV_RFLAGS_CF);
	EXPECT_EQ(1, e.log[0].write ? 0 : 1);

	/* btc dword [rbx], ecx (ecx = 4) */
	e.regs.rcx = 4;
	ASSERT_EQ(0, run_mmio(&e, "0f bb 0b", DEV + 0x100));
	EXPECT_EQ(0xffe7, env_dev_get(&e, DEV + 0x100, 2));
	EXPECT_EQ(LV_RFLAGS_CF, e.regs.rflags & LV_RFLAGS_CF);
	env_free(&e);
}

/* ------------------------------------------------------------------ */
/* String instructions on MMIO                                         */
/* ------------------------------------------------------------------ */

TEST(rep_movs_stos_lods)
{
	struct env e = { 0 };
	unsigned int i;

	ASSERT_EQ(0, setup(&e, MODE_L64));
	/* rep movsb: RAM -> device, 16 bytes */
	for (i = 0; i < 16; i++)
		e.ram[0x300000 + i] = i + 1;
	e.regs.rsi = 0x300000;
	e.regs.rdi = 0x1000000;
	e.regs.rcx = 16;
	ASSERT_EQ(0, run_mmio(&e, "f3 a4", 0x1000000));
	EXPECT_EQ(16, e.nlog);
	EXPECT_EQ(0x1000000 + 15, e.log[15].gpa);
	EXPECT_EQ(16, e.log[15].data);
	EXPECT_EQ(0x300010, e.regs.rsi);
	EXPECT_EQ(0x1000010, e.regs.rdi);
	EXPECT_EQ(0, e.regs.rcx);
	EXPECT_EQ(CODE_IP + 2, e.regs.rip);

	/* std; rep stosd: 4 dwords downwards */
	e.regs.rflags |= LV_RFLAGS_DF;
	e.regs.rdi = DEV + 0x40c;
	e.regs.rcx = 4;
	ASSERT_EQ(0, run_mmio(&e, "f3 ab", DEV + 0x400));
	EXPECT_EQ(4, e.nlog);
	EXPECT_EQ(DEV + 0x40c, e.log[0].gpa);
	EXPECT_EQ(DEV + 0x400, e.log[3].gpa);
	EXPECT_EQ(0x55667788, e.log[3].data);
	EXPECT_EQ(DEV + 0x3fc, e.regs.rdi);
	e.regs.rflags &= ~LV_RFLAGS_DF;

	/* movsw: device -> RAM; lodsq from the device */
	e.regs.rsi = DEV + 0x100;
	e.regs.rdi = 0x300100;
	ASSERT_EQ(0, run_mmio(&e, "66 a5", DEV + 0x100));
	EXPECT_EQ(0xf7f8, env_ram_get(&e, 0x300100, 2));
	EXPECT_EQ(DEV + 0x102, e.regs.rsi);
	e.regs.rsi = DEV + 0x100;
	ASSERT_EQ(0, run_mmio(&e, "48 ad", DEV + 0x100));
	EXPECT_EQ(DEV8, e.regs.rax);
	EXPECT_EQ(DEV + 0x108, e.regs.rsi);

	/* movs source segment override: fs */
	e.regs.rsi = DEV;
	e.regs.rdi = 0x300200;
	ASSERT_EQ(0, run_mmio(&e, "64 a4", DEV + 0x10000));
	EXPECT_EQ(DEV + 0x10000, e.log[0].gpa);

	/* 67: ECX/EDI, upper halves cleared as 32-bit writes do */
	e.regs.rdi = DEV + 0x400;
	e.regs.rcx = 0xffffffff00000002ULL;
	ASSERT_EQ(0, run_mmio(&e, "67 f3 aa", DEV + 0x400));
	EXPECT_EQ(2, e.nlog);
	EXPECT_EQ(0, e.regs.rcx);
	EXPECT_EQ(DEV + 0x402, e.regs.rdi);

	/* REP with count 0: nothing moves, RIP advances */
	e.regs.rcx = 0;
	ASSERT_EQ(0, run_mmio(&e, "f3 aa", DEV + 0x400));
	EXPECT_EQ(0, e.nlog);
	EXPECT_EQ(CODE_IP + 2, e.regs.rip);
	env_free(&e);
}

TEST(rep_chunks_leave_rip)
{
	struct env e = { 0 };

	ASSERT_EQ(0, setup(&e, MODE_L64));
	e.regs.rdi = 0x1000000;
	e.regs.rcx = LV_ASSIST_REP_MAX + 3;
	ASSERT_EQ(0, run_mmio(&e, "f3 aa", 0x1000000));
	EXPECT_EQ(3, e.regs.rcx);
	EXPECT_EQ(CODE_IP, e.regs.rip);
	EXPECT_EQ(0x1000000 + LV_ASSIST_REP_MAX, e.regs.rdi);
	/* The guest re-executes and exits again for the rest. */
	ASSERT_EQ(0, run_mmio(&e, "f3 aa", e.regs.rdi));
	EXPECT_EQ(0, e.regs.rcx);
	EXPECT_EQ(3, e.nlog);
	EXPECT_EQ(CODE_IP + 2, e.regs.rip);
	env_free(&e);
}

TEST(string_16bit_wraps)
{
	struct env e = { 0 };

	ASSERT_EQ(0, setup(&e, MODE_REAL));
	/* rep stosb with DI wrapping at 64 KiB; upper EDI bits kept. */
	e.regs.rdi = 0x1234fffe;
	e.regs.rcx = 0xabcd0003;
	ASSERT_EQ(0, run_mmio(&e, "f3 aa", DEV + 0xfffe));
	EXPECT_EQ(3, e.nlog);
	EXPECT_EQ(DEV + 0xffff, e.log[1].gpa);
	EXPECT_EQ(DEV, e.log[2].gpa);
	EXPECT_EQ(0x12340001, e.regs.rdi);
	EXPECT_EQ(0xabcd0000, e.regs.rcx);
	/* IP wraps at 64 KiB too. */
	env_code(&e, 0xfffe, "\x88\x07", 2);
	e.regs.rdi = 0;
	ASSERT_EQ(0, lv_assist_mmio(&e.regs, &e.sregs, DEV, NULL, 0, &e.ops,
				    &e.fault));
	EXPECT_EQ(0, e.regs.rip);
	env_free(&e);
}

/* ------------------------------------------------------------------ */
/* String port I/O                                                     */
/* ------------------------------------------------------------------ */

TEST(ins_outs)
{
	struct env e = { 0 };
	struct lv_string_io io = {
		.port = 0x3f8, .size = 1, .is_out = true, .rep = true,
		.addr_size = 64, .seg = 3, .insn_len = 2,
	};
	struct vmx_run run;

	ASSERT_EQ(0, setup(&e, MODE_L64));
	memcpy(e.ram + 0x300000, "hello", 5);
	e.regs.rsi = 0x300000;
	e.regs.rcx = 5;
	e.regs.rip = CODE_IP;
	ASSERT_EQ(0, lv_assist_string_io(&e.regs, &e.sregs, &io, &e.ops, &e.fault));
	EXPECT_EQ(5, e.nplog);
	EXPECT_EQ('o', e.plog[4].data);
	EXPECT_EQ(0x3f8, e.plog[4].gpa);
	EXPECT_EQ(0x300005, e.regs.rsi);
	EXPECT_EQ(0, e.regs.rcx);
	EXPECT_EQ(CODE_IP + 2, e.regs.rip);

	/* rep insw downwards into RAM, through lv_assist() */
	memset(&run, 0, sizeof(run));
	run.exit_reason = VMX_EXIT_IO;
	run.io.port = 0x60;
	run.io.direction = VMX_IO_IN;
	run.io.size = 2;
	run.io.string = 1;
	run.io.rep = 1;
	run.io.addr_size = 64;
	run.io.insn_len = 3;
	e.regs.rflags |= LV_RFLAGS_DF;
	e.regs.rdi = 0x300104;
	e.regs.rcx = 3;
	e.port_in = 0x1111;
	ASSERT_EQ(0, lv_assist(&e.regs, &e.sregs, &run, &e.ops, &e.fault));
	EXPECT_EQ(0x1111, env_ram_get(&e, 0x300104, 2));
	EXPECT_EQ(0x1113, env_ram_get(&e, 0x300100, 2));
	EXPECT_EQ(0x3000fe, e.regs.rdi);
	EXPECT_EQ(CODE_IP + 5, e.regs.rip);
	e.regs.rflags &= ~LV_RFLAGS_DF;

	/* outsd from FS:ESI into a port, no REP, 32-bit addresses */
	io = (struct lv_string_io){ .port = 0xcfc, .size = 4, .is_out = true,
				    .addr_size = 32, .seg = 4, .insn_len = 3 };
	e.nplog = 0;
	e.regs.rsi = 0x2f0000;
	env_ram_put(&e, 0x300000, 0xdeadbeef, 4);
	ASSERT_EQ(0, lv_assist_string_io(&e.regs, &e.sregs, &io, &e.ops, &e.fault));
	EXPECT_EQ(0xdeadbeef, e.plog[0].data);
	EXPECT_EQ(0x2f0004, e.regs.rsi);

	/* No length in the exit: the assist decodes "rep insb" itself. */
	env_code(&e, CODE_IP, "\xf3\x6c", 2);
	io = (struct lv_string_io){ .port = 0x71, .size = 1, .rep = true };
	e.regs.rdi = DEV + 0x800;		/* INS into MMIO */
	e.regs.rcx = 2;
	e.nlog = 0;
	ASSERT_EQ(0, lv_assist_string_io(&e.regs, &e.sregs, &io, &e.ops, &e.fault));
	EXPECT_EQ(2, e.nlog);
	EXPECT_EQ(CODE_IP + 2, e.regs.rip);
	/* ... and refuses an exit that does not match the instruction. */
	io.is_out = true;
	EXPECT_EQ(-EINVAL, lv_assist_string_io(&e.regs, &e.sregs, &io, &e.ops,
					       &e.fault));
	io.size = 3;
	EXPECT_EQ(-EINVAL, lv_assist_string_io(&e.regs, &e.sregs, &io, &e.ops,
					       &e.fault));
	env_free(&e);
}

/* ------------------------------------------------------------------ */
/* Faults and errors                                                   */
/* ------------------------------------------------------------------ */

static void expect_fault(struct __test_metadata *_metadata, struct env *e,
			 int ret, uint8_t vec, uint32_t ec, uint64_t cr2)
{
	EXPECT_EQ(-EACCES, ret);
	EXPECT_EQ(vec, e->fault.vector);
	EXPECT_EQ(ec, e->fault.error_code);
	if (vec == LV_VEC_PF)
		EXPECT_EQ(cr2, e->fault.cr2);
}

TEST(page_faults)
{
	struct env e = { 0 };
	struct vmx_regs before;
	uint64_t *pdpte;

	ASSERT_EQ(0, setup(&e, MODE_L64));
	/* Data: above the 4 GiB identity map. */
	e.regs.rbx = 0x100000010ULL;
	before = e.regs;
	expect_fault(_metadata, &e, run_mmio(&e, "89 03", 0), LV_VEC_PF,
		     LV_PFEC_W, 0x100000010ULL);
	before.rip = e.regs.rip;
	EXPECT_EQ(0, memcmp(&before, &e.regs, sizeof(before)));
	EXPECT_EQ(0, e.nlog);

	/* User mode, supervisor page: P|U (|W). */
	pdpte = (uint64_t *)(e.ram + (*(uint64_t *)(e.ram + e.sregs.cr3) &
				      ~0xfffULL) + 3 * 8);
	*pdpte &= ~E_US;
	e.sregs.ss.dpl = 3;
	e.sregs.cs.dpl = 3;
	e.regs.rbx = DEV;
	expect_fault(_metadata, &e, run_mmio(&e, "8b 03", DEV), LV_VEC_PF,
		     LV_PFEC_P | LV_PFEC_U, DEV);
	e.sregs.ss.dpl = 0;

	/* Fetch from unmapped memory: I/D set (NXE). */
	e.regs.rip = 0x200000000ULL;
	EXPECT_EQ(-EACCES, lv_assist_mmio(&e.regs, &e.sregs, DEV, NULL, 0,
					  &e.ops, &e.fault));
	EXPECT_EQ(LV_PFEC_I, e.fault.error_code);
	EXPECT_EQ(0x200000000ULL, e.fault.cr2);
	/* The bytes from the exit are enough without a fetch. */
	e.nlog = 0;
	ASSERT_EQ(0, lv_assist_mmio(&e.regs, &e.sregs, DEV, (uint8_t *)"\x89\x03",
				    2, &e.ops, &e.fault));
	EXPECT_EQ(1, e.nlog);
	EXPECT_EQ(0x200000002ULL, e.regs.rip);
	/* Too few bytes from the exit: fetch, which faults here. */
	EXPECT_EQ(-EACCES, lv_assist_mmio(&e.regs, &e.sregs, DEV,
					  (uint8_t *)"\xc7\x03", 2, &e.ops,
					  &e.fault));
	env_free(&e);
}

TEST(fetch_across_pages)
{
	struct env e = { 0 };

	ASSERT_EQ(0, setup(&e, MODE_P32));
	/* 32-bit paging, 4 KiB pages: code page, device pages. */
	e.sregs.cr0 |= LV_CR0_PG;
	e.sregs.cr3 = env_table(&e);
	env_map_32(&e, 0x200000, 0, 0x200000, E_P | E_RW, false);
	env_map_32(&e, 0xd1000000, 0, 0xd1000000, E_P | E_RW, false);
	e.regs.rbx = 0xd0000100;	/* + DS base 0x01000000 */

	/* A short instruction at the end of the page needs no next page. */
	env_code(&e, 0x200ffe, "\x89\x03", 2);
	ASSERT_EQ(0, lv_assist_mmio(&e.regs, &e.sregs, 0xd1000100, NULL, 0,
				    &e.ops, &e.fault));
	EXPECT_EQ(0x201000, e.regs.rip);
	/* One that crosses faults on the next page (no I/D: no NX, SMEP). */
	env_code(&e, 0x200ffc, "\xc7\x03\x78\x56\x34\x12", 6);
	expect_fault(_metadata, &e,
		     lv_assist_mmio(&e.regs, &e.sregs, 0xd1000100, NULL, 0,
				    &e.ops, &e.fault),
		     LV_VEC_PF, 0, 0x201000);
	env_map_32(&e, 0x201000, 0, 0x201000, E_P, false);
	ASSERT_EQ(0, lv_assist_mmio(&e.regs, &e.sregs, 0xd1000100, NULL, 0,
				    &e.ops, &e.fault));
	EXPECT_EQ(0x12345678, env_dev_get(&e, 0xd1000100, 4));
	EXPECT_EQ(0x201002, e.regs.rip);
	env_free(&e);
}

TEST(data_across_pages)
{
	struct env e = { 0 };

	ASSERT_EQ(0, setup(&e, MODE_P32));
	e.sregs.ds.base = 0;
	/* A dword at the end of RAM, half in the VGA hole. */
	e.regs.rbx = ENV_HOLE_START - 2;
	ASSERT_EQ(0, run_mmio(&e, "89 03", ENV_HOLE_START));
	EXPECT_EQ(0x7788, env_ram_get(&e, ENV_HOLE_START - 2, 2));
	ASSERT_EQ(1, e.nlog);
	EXPECT_EQ(ENV_HOLE_START, e.log[0].gpa);
	EXPECT_EQ(2, e.log[0].size);
	EXPECT_EQ(0x5566, e.log[0].data);
	env_free(&e);
}

TEST(gp_and_ss_faults)
{
	struct env e = { 0 };

	ASSERT_EQ(0, setup(&e, MODE_L64));
	e.regs.rbx = 0x0000800000000000ULL;
	expect_fault(_metadata, &e, run_mmio(&e, "89 03", 0), LV_VEC_GP, 0, 0);
	e.regs.rsp = 0xffff7ffffffffff0ULL;
	expect_fault(_metadata, &e, run_mmio(&e, "89 04 24", 0), LV_VEC_SS, 0, 0);
	/* Last byte non-canonical. */
	e.regs.rbx = 0x00007ffffffffffeULL;
	expect_fault(_metadata, &e, run_mmio(&e, "89 03", 0), LV_VEC_GP, 0, 0);

	/* 32-bit: limits, expand-down, read-only, code segment writes. */
	ASSERT_EQ(0, setup(&e, MODE_P32));
	e.sregs.ds.limit = 0xfff;
	e.regs.rbx = 0xffe;
	expect_fault(_metadata, &e, run_mmio(&e, "89 03", 0), LV_VEC_GP, 0, 0);
	EXPECT_EQ(0, run_mmio(&e, "66 89 03", 0x01000ffe));
	e.sregs.ds.type = 0x7;		/* expand-down: valid above limit */
	expect_fault(_metadata, &e, run_mmio(&e, "66 89 03", 0), LV_VEC_GP, 0, 0);
	e.regs.rbx = 0x1000;
	EXPECT_EQ(0, run_mmio(&e, "89 03", 0x01001000));
	e.sregs.ds.type = 0x1;		/* read-only */
	e.sregs.ds.limit = 0xffffffff;
	expect_fault(_metadata, &e, run_mmio(&e, "89 03", 0), LV_VEC_GP, 0, 0);
	EXPECT_EQ(0, run_mmio(&e, "8b 03", 0x01001000));
	e.sregs.ss.limit = 0xff;
	expect_fault(_metadata, &e, run_mmio(&e, "8b 04 24", 0), LV_VEC_SS, 0, 0);
	expect_fault(_metadata, &e, run_mmio(&e, "2e 89 03", 0), LV_VEC_GP, 0, 0);
	e.sregs.es.unusable = 1;
	expect_fault(_metadata, &e, run_mmio(&e, "26 8b 03", 0), LV_VEC_GP, 0, 0);

	/* Real mode: a 32-bit offset beyond the 64 KiB limit. */
	ASSERT_EQ(0, setup(&e, MODE_REAL));
	expect_fault(_metadata, &e, run_mmio(&e, "67 89 03", 0), LV_VEC_GP, 0, 0);
	env_free(&e);
}

TEST(unsupported_and_errors)
{
	static const char *const refused[] = {
		"0f b0 0b",		/* cmpxchg [rbx], cl */
		"66 0f 6f 03",		/* movdqa xmm0, [rbx] */
		"0f 0b",		/* ud2 */
		"8e 1b",		/* mov ds, [rbx] */
		"f0 89 03",		/* lock mov: #UD */
		"ff 33",		/* push [rbx] */
		"a6",			/* cmpsb */
		"0f 90 03",		/* seto [rbx] */
		"c5 f8 10 03",		/* vmovups xmm0, [rbx] */
		"8d 03",		/* lea: no memory access */
	};
	struct env e = { 0 };
	struct vmx_regs before;
	struct vmx_run run;
	unsigned int i;

	ASSERT_EQ(0, setup(&e, MODE_L64));
	for (i = 0; i < ARRAY_SIZE(refused); i++) {
		before = e.regs;
		EXPECT_EQ(-EOPNOTSUPP, run_mmio(&e, refused[i], DEV + 0x100));
		before.rip = e.regs.rip;
		EXPECT_EQ(0, memcmp(&before, &e.regs, sizeof(before)));
		EXPECT_EQ(0, e.nlog);
	}

	/* Device errors come back as they are; -EACCES is made -EIO. */
	e.dev_error = -ENXIO;
	EXPECT_EQ(-ENXIO, run_mmio(&e, "89 03", DEV + 0x100));
	e.dev_error = -EACCES;
	EXPECT_EQ(-EIO, run_mmio(&e, "89 03", DEV + 0x100));
	e.dev_error = 0;

	/* Bad arguments and exit records. */
	EXPECT_EQ(-EINVAL, lv_assist_mmio(NULL, &e.sregs, 0, NULL, 0, &e.ops,
					  &e.fault));
	EXPECT_EQ(-EINVAL, lv_assist(&e.regs, &e.sregs, NULL, &e.ops, &e.fault));
	memset(&run, 0, sizeof(run));
	run.exit_reason = VMX_EXIT_HLT;
	EXPECT_EQ(-EINVAL, lv_assist(&e.regs, &e.sregs, &run, &e.ops, &e.fault));
	run.exit_reason = VMX_EXIT_IO;
	EXPECT_EQ(-EINVAL, lv_assist(&e.regs, &e.sregs, &run, &e.ops, &e.fault));
	run.exit_reason = VMX_EXIT_MMIO;
	run.mmio.is_fetch = 1;
	EXPECT_EQ(-EFAULT, lv_assist(&e.regs, &e.sregs, &run, &e.ops, &e.fault));
	/* Through lv_assist() with the bytes in the exit record. */
	run.mmio.is_fetch = 0;
	run.mmio.gpa = DEV + 0x100;
	run.mmio.insn_len = 2;
	memcpy(run.mmio.insn, "\x89\x03", 2);
	e.regs.rip = 0x300000000ULL;		/* unmapped: no fetch needed */
	EXPECT_EQ(0, lv_assist(&e.regs, &e.sregs, &run, &e.ops, &e.fault));
	EXPECT_EQ(0x300000002ULL, e.regs.rip);
	/* Code not in RAM. */
	e.regs.rip = ENV_HOLE_START;
	EXPECT_EQ(-EFAULT, lv_assist_mmio(&e.regs, &e.sregs, DEV, NULL, 0,
					  &e.ops, &e.fault));
	env_free(&e);
}

/* ------------------------------------------------------------------ */
/* Corpus cross-check against capstone                                 */
/* ------------------------------------------------------------------ */

/* What the cross-check knows about a capstone instruction. */
enum kind { K_OTHER, K_MOV, K_MOVZX, K_MOVSX, K_ALU, K_RO, K_XCHG, K_BT,
	    K_MOVS, K_STOS, K_LODS };

static enum kind cs_kind(unsigned int id)
{
	switch (id) {
	case X86_INS_MOV: case X86_INS_MOVABS: case X86_INS_MOVNTI:
		return K_MOV;
	case X86_INS_MOVZX:
		return K_MOVZX;
	case X86_INS_MOVSX: case X86_INS_MOVSXD:
		return K_MOVSX;
	case X86_INS_ADD: case X86_INS_ADC: case X86_INS_SUB: case X86_INS_SBB:
	case X86_INS_AND: case X86_INS_OR: case X86_INS_XOR: case X86_INS_INC:
	case X86_INS_DEC: case X86_INS_NOT: case X86_INS_NEG:
		return K_ALU;
	case X86_INS_CMP: case X86_INS_TEST: case X86_INS_BT:
		return K_RO;
	case X86_INS_XCHG:
		return K_XCHG;
	case X86_INS_BTS: case X86_INS_BTR: case X86_INS_BTC:
		return K_BT;
	case X86_INS_MOVSB: case X86_INS_MOVSW: case X86_INS_MOVSD:
	case X86_INS_MOVSQ:
		return K_MOVS;
	case X86_INS_STOSB: case X86_INS_STOSW: case X86_INS_STOSD:
	case X86_INS_STOSQ:
		return K_STOS;
	case X86_INS_LODSB: case X86_INS_LODSW: case X86_INS_LODSD:
	case X86_INS_LODSQ:
		return K_LODS;
	default:
		return K_OTHER;
	}
}

/* A capstone register by name: number, bit shift, bytes; false if none. */
static bool cs_gpr(const char *name, int *num, unsigned int *shift,
		   unsigned int *bytes)
{
	static const char *const n64[] = { "rax", "rcx", "rdx", "rbx", "rsp",
					   "rbp", "rsi", "rdi" };
	static const char *const n32[] = { "eax", "ecx", "edx", "ebx", "esp",
					   "ebp", "esi", "edi" };
	static const char *const n16[] = { "ax", "cx", "dx", "bx", "sp", "bp",
					   "si", "di" };
	static const char *const n8[] = { "al", "cl", "dl", "bl", "spl", "bpl",
					  "sil", "dil" };
	static const char *const n8h[] = { "ah", "ch", "dh", "bh" };
	unsigned int i;
	int r;
	char sfx[4] = "";

	*shift = 0;
	for (i = 0; i < 8; i++) {
		if (!strcmp(name, n64[i]))
			return *num = i, *bytes = 8, true;
		if (!strcmp(name, n32[i]))
			return *num = i, *bytes = 4, true;
		if (!strcmp(name, n16[i]))
			return *num = i, *bytes = 2, true;
		if (!strcmp(name, n8[i]))
			return *num = i, *bytes = 1, true;
		if (i < 4 && !strcmp(name, n8h[i]))
			return *num = i, *shift = 8, *bytes = 1, true;
	}
	if (sscanf(name, "r%d%3s", &r, sfx) >= 1 && r >= 8 && r <= 15) {
		*num = r;
		*bytes = !sfx[0] ? 8 : sfx[0] == 'd' ? 4 : sfx[0] == 'w' ? 2 : 1;
		return true;
	}
	return false;
}

struct xcheck {
	struct __test_metadata *meta;
	struct env *e;
	csh cs;
	cs_insn *ci;
	enum env_mode mode;
	const uint8_t *bytes;			/* the entry, for messages */
	struct vmx_regs start;			/* registers before the assist */
	struct env_access log[ENV_LOG_MAX];	/* device log, fragments merged */
	unsigned int nlog;
	unsigned long checked, cs_invalid, cs_invalid_done, refused, failed;
	unsigned long faults, skipped;
};

/* Where an expected access goes: the device, or an exception. */
enum { ADDR_OK, ADDR_GP = LV_VEC_GP, ADDR_SS = LV_VEC_SS, ADDR_PF = LV_VEC_PF };

static uint64_t bmask(unsigned int bytes)
{
	return bytes >= 8 ? ~0ULL : (1ULL << (bytes * 8)) - 1;
}

/* Value of a capstone register in the starting state. */
static uint64_t cs_reg_value(struct xcheck *x, unsigned int reg, bool *ok)
{
	unsigned int shift, bytes;
	int num;

	if (reg == X86_REG_INVALID)
		return 0;
	if (!cs_gpr(cs_reg_name(x->cs, reg), &num, &shift, &bytes)) {
		*ok = false;
		return 0;
	}
	return (*reg_ptr(&x->start, num) >> shift) & bmask(bytes);
}

static bool is_stack_base(const char *n)
{
	return !strcmp(n, "rsp") || !strcmp(n, "rbp") || !strcmp(n, "esp") ||
	       !strcmp(n, "ebp") || !strcmp(n, "sp") || !strcmp(n, "bp");
}

static bool canon48(uint64_t la)
{
	return (uint64_t)((int64_t)(la << 16) >> 16) == la;
}

/* 64-bit mode: canonical, and inside the corpus' +-512 GiB map? */
static int xcheck_la64(uint64_t la, unsigned int size, unsigned int seg)
{
	uint64_t last = la + size - 1, lim = 1ULL << 39;

	if (!canon48(la) || !canon48(last))
		return seg == X86_REG_SS ? ADDR_SS : ADDR_GP;
	if ((la >= lim && la < -lim) || (last >= lim && last < -lim))
		return ADDR_PF;
	return ADDR_OK;
}

static uint64_t seg_base(const struct vmx_sregs *s, unsigned int seg)
{
	switch (seg) {
	case X86_REG_ES: return s->es.base;
	case X86_REG_CS: return s->cs.base;
	case X86_REG_SS: return s->ss.base;
	case X86_REG_FS: return s->fs.base;
	case X86_REG_GS: return s->gs.base;
	default: return s->ds.base;
	}
}

/*
 * The guest-physical address capstone's memory operand designates, moved
 * by @adj bytes, computed independently of the assist.  Returns ADDR_*,
 * or -1 if the operand is not understood.
 */
static int cs_mem_addr(struct xcheck *x, const cs_x86_op *o, int64_t adj,
		       uint64_t *gpa)
{
	const cs_x86 *d = &x->ci->detail->x86;
	const struct vmx_sregs *s = &x->e->sregs;
	uint64_t ea = (uint64_t)o->mem.disp + (uint64_t)adj;
	unsigned int seg = o->mem.segment;
	bool ok = true, write = o->access & CS_AC_WRITE;

	if (o->mem.base == X86_REG_RIP || o->mem.base == X86_REG_EIP)
		ea += x->start.rip + x->ci->size;
	else
		ea += cs_reg_value(x, o->mem.base, &ok);
	ea += cs_reg_value(x, o->mem.index, &ok) * o->mem.scale;
	if (!ok)
		return -1;
	ea &= bmask(d->addr_size);
	/* 64-bit mode ignores ES/CS/SS/DS overrides. */
	if (x->mode == MODE_L64 && seg != X86_REG_FS && seg != X86_REG_GS)
		seg = X86_REG_INVALID;
	if (seg == X86_REG_INVALID)
		seg = o->mem.base != X86_REG_INVALID &&
		      is_stack_base(cs_reg_name(x->cs, o->mem.base)) ?
		      X86_REG_SS : X86_REG_DS;
	if (x->mode == MODE_L64) {
		if (seg == X86_REG_FS || seg == X86_REG_GS)
			ea += seg_base(s, seg);
		*gpa = ea & ((1ULL << 39) - 1);	/* the corpus identity map */
		return xcheck_la64(ea, o->size, seg);
	}
	*gpa = (seg_base(s, seg) + ea) & 0xffffffffULL;
	/* capstone 4.0.2 marks TEST/BT as writing, MOVNTI as reading. */
	if (x->ci->id == X86_INS_TEST || x->ci->id == X86_INS_BT)
		write = false;
	if (x->ci->id == X86_INS_MOVNTI)
		write = true;
	/* Protected mode: a code segment is never writable. */
	if (x->mode != MODE_REAL && seg == X86_REG_CS && write)
		return ADDR_GP;
	return ADDR_OK;
}

#define XFAIL(x, fmt, ...)						\
	do {								\
		if ((x)->failed++ < 20) {				\
			struct __test_metadata *_metadata = (x)->meta;	\
			TH_LOG("%s %s [%s %02x %02x %02x %02x %02x]: " fmt, \
			       (x)->ci->mnemonic, (x)->ci->op_str,	\
			       mode_names[(x)->mode], (x)->bytes[0],	\
			       (x)->bytes[1], (x)->bytes[2], (x)->bytes[3], \
			       (x)->bytes[4], ##__VA_ARGS__);		\
		}							\
		return;							\
	} while (0)

/* Registers as the corpus starts them: distinct bytes, upper bits set. */
static void xcheck_regs(struct env *e, uint32_t seed)
{
	unsigned int i;

	for (i = 0; i < 16; i++) {
		uint64_t v = ((uint64_t)((i & 3) + 1) << 32) |
			     (0x10 + i) << 24 | (0x20 + i) << 16 |
			     (0x40 + i) << 8 | (0x80 + i);
		*reg_ptr(&e->regs, i) = v;
	}
	e->regs.rflags = LV_RFLAGS_FIXED | (seed & LV_RFLAGS_ARITH) |
			 (seed & 0x100000 ? LV_RFLAGS_DF : 0);
	e->regs.rip = e->sregs.cs.base ? 0 : CODE_IP;
}

/*
 * Merge the fragments of page-crossing accesses back into one access of
 * at most @size bytes each.
 */
static void xcheck_merge_log(struct xcheck *x, unsigned int size)
{
	const struct env *e = x->e;
	unsigned int i;

	x->nlog = 0;
	for (i = 0; i < e->nlog; i++) {
		struct env_access *prev = x->nlog ? &x->log[x->nlog - 1] : NULL;
		const struct env_access *a = &e->log[i];

		if (prev && prev->write == a->write &&
		    prev->size + a->size <= size && !(a->gpa & 0xfff)) {
			prev->data |= a->data << (8 * prev->size);
			prev->size += a->size;
			continue;
		}
		x->log[x->nlog++] = *a;
	}
}

/* Check one supported instruction with an explicit memory operand. */
static void xcheck_mem(struct xcheck *x, enum kind k, const cs_x86_op *mem,
		       const cs_x86_op *reg, const cs_x86_op *imm, uint64_t gpa)
{
	const struct env_access *l = x->log;
	unsigned int size = mem->size;
	bool rd = mem->access & CS_AC_READ, wr = mem->access & CS_AC_WRITE;
	bool ok = true;

	/* capstone 4.0.2 marks TEST as writing and MOVNTI as reading. */
	if (x->ci->id == X86_INS_TEST)
		wr = false;
	if (x->ci->id == X86_INS_MOVNTI) {
		rd = false;
		wr = true;
	}
	if (x->e->regs.rip != x->start.rip + x->ci->size)
		XFAIL(x, "length %llu, capstone %u",
		      (unsigned long long)(x->e->regs.rip - x->start.rip),
		      x->ci->size);
	if (x->nlog != (unsigned int)rd + wr)
		XFAIL(x, "%u accesses, expected %d", x->nlog, rd + wr);
	if (l[0].gpa != gpa)
		XFAIL(x, "address %#llx, capstone %#llx",
		      (unsigned long long)l[0].gpa, (unsigned long long)gpa);
	if (l[0].size != size || (wr && l[rd].size != size))
		XFAIL(x, "size %u, capstone %u", l[0].size, size);
	if (l[0].write != !rd || (rd && wr && !l[1].write))
		XFAIL(x, "direction mismatch");
	/* The register or immediate stored is the one capstone names. */
	if ((k == K_MOV || k == K_XCHG) && wr) {
		uint64_t want = reg ? cs_reg_value(x, reg->reg, &ok) :
				      (uint64_t)imm->imm;

		if (!ok || (l[rd].data & bmask(size)) != (want & bmask(size)))
			XFAIL(x, "stored %#llx, capstone's operand %#llx",
			      (unsigned long long)l[rd].data,
			      (unsigned long long)want);
	}
}

/* Only the register capstone names (if any) may have changed. */
static void xcheck_regs_changed(struct xcheck *x, enum kind k,
				const cs_x86_op *reg)
{
	struct vmx_regs after = x->e->regs;
	unsigned int shift = 0, bytes = 0;
	int num = -1;

	if (reg && (reg->access & CS_AC_WRITE) && k != K_RO &&
	    !cs_gpr(cs_reg_name(x->cs, reg->reg), &num, &shift, &bytes))
		XFAIL(x, "capstone register %s", cs_reg_name(x->cs, reg->reg));
	/*
	 * capstone 4.0.2: MOVSXD without REX.W loads a 32-bit register (a
	 * 16-bit one with 66), not a 64-bit one.
	 */
	if (x->ci->id == X86_INS_MOVSXD && !(x->ci->detail->x86.rex & 8))
		bytes = x->ci->detail->x86.prefix[2] ? 2 : 4;
	if (num >= 0 && (k == K_MOV || k == K_MOVZX || k == K_MOVSX)) {
		uint64_t loaded = x->log[0].data & bmask(x->log[0].size);
		uint64_t slot = *reg_ptr(&x->start, num);
		uint64_t m = bmask(bytes) << shift, want;

		if (k == K_MOVSX)
			loaded = sext(loaded, x->log[0].size);
		want = bytes == 4 ? loaded & 0xffffffffULL :
		       (slot & ~m) | ((loaded << shift) & m);
		if (*reg_ptr(&after, num) != want)
			XFAIL(x, "register %d = %#llx, expected %#llx", num,
			      (unsigned long long)*reg_ptr(&after, num),
			      (unsigned long long)want);
	}
	if (num >= 0)
		*reg_ptr(&after, num) = *reg_ptr(&x->start, num);
	after.rip = x->start.rip;
	if (k == K_ALU || k == K_RO || k == K_BT)
		after.rflags = (after.rflags & ~LV_RFLAGS_ARITH) |
			       (x->start.rflags & LV_RFLAGS_ARITH);
	if (memcmp(&after, &x->start, sizeof(after)))
		XFAIL(x, "a register capstone does not name changed");
}

/* Expected value of RSI/RDI/RCX after @n iterations, address-sized. */
static uint64_t str_reg_after(uint64_t v, int64_t delta, unsigned int abytes)
{
	uint64_t m = bmask(abytes), nv = (v + (uint64_t)delta) & m;

	return abytes == 4 ? nv : (v & ~m) | nv;
}

/* String instructions: REP count 3, addresses stepping with DF. */
static void xcheck_string(struct xcheck *x, enum kind k, const cs_x86_op *dst,
			  const cs_x86_op *src, uint64_t gdst, uint64_t gsrc,
			  bool rep)
{
	const struct vmx_regs *r = &x->e->regs, *s = &x->start;
	unsigned int n = rep ? 3 : 1, per = k == K_MOVS ? 2 : 1, i;
	unsigned int abytes = x->ci->detail->x86.addr_size;
	unsigned int size = (dst ? dst : src)->size;
	int64_t step = s->rflags & LV_RFLAGS_DF ? -(int64_t)size : size;
	uint64_t wrap = x->mode == MODE_L64 ? (1ULL << 39) - 1 : 0xffffffffULL;
	bool ok = true;

	if (x->nlog != n * per)
		XFAIL(x, "%u accesses, expected %u", x->nlog, n * per);
	for (i = 0; i < n; i++) {
		const struct env_access *a = &x->log[i * per];

		if (src && (a->gpa != ((gsrc + i * step) & wrap) || a->write ||
			    a->size != size))
			XFAIL(x, "source access %u at %#llx, expected %#llx", i,
			      (unsigned long long)a->gpa,
			      (unsigned long long)((gsrc + i * step) & wrap));
		if (src)
			a++;
		if (dst && (a->gpa != ((gdst + i * step) & wrap) ||
			    !a->write || a->size != size))
			XFAIL(x, "destination access %u at %#llx, expected %#llx",
			      i, (unsigned long long)a->gpa,
			      (unsigned long long)((gdst + i * step) & wrap));
		if (k == K_STOS && (a->data & bmask(size)) !=
				   (cs_reg_value(x, X86_REG_RAX, &ok) & bmask(size)))
			XFAIL(x, "stored %#llx", (unsigned long long)a->data);
	}
	if (r->rip != s->rip + x->ci->size)
		XFAIL(x, "length %llu, capstone %u",
		      (unsigned long long)(r->rip - s->rip), x->ci->size);
	if (src && r->rsi != str_reg_after(s->rsi, n * step, abytes))
		XFAIL(x, "rsi %#llx", (unsigned long long)r->rsi);
	if (dst && r->rdi != str_reg_after(s->rdi, n * step, abytes))
		XFAIL(x, "rdi %#llx", (unsigned long long)r->rdi);
	if (rep && r->rcx != str_reg_after(s->rcx, -3, abytes))
		XFAIL(x, "rcx %#llx", (unsigned long long)r->rcx);
}

/* BT family with a register offset: the operand moves by whole units. */
static int64_t xcheck_bt_adj(struct xcheck *x, const cs_x86_op *mem,
			     const cs_x86_op *reg)
{
	bool ok = true;
	int64_t off;

	if (!reg || (x->ci->id != X86_INS_BT && x->ci->id != X86_INS_BTS &&
		     x->ci->id != X86_INS_BTR && x->ci->id != X86_INS_BTC))
		return 0;
	off = (int64_t)sext(cs_reg_value(x, reg->reg, &ok), mem->size);
	return (off >> __builtin_ctz(mem->size * 8)) * mem->size;
}

/* capstone 4.0.2 accepts these; the CPU (and Zydis) raise #UD. */
static bool cs_accepts_ud(struct xcheck *x, const struct corpus_entry *ent,
			  enum kind k)
{
	const cs_x86 *d = &x->ci->detail->x86;
	bool lockable = k == K_ALU || k == K_XCHG || k == K_BT;

	if (ent->lock && !lockable)
		return true;
	/* MOVNTI takes no 66/F2/F3 prefix. */
	if (x->ci->id == X86_INS_MOVNTI && ent->osize_before_rep)
		return true;
	return x->ci->id == X86_INS_MOVNTI && (d->prefix[2] || ent->rep);
}

static void xcheck_entry(void *ctx, const struct corpus_entry *ent)
{
	struct xcheck *x = ctx;
	struct env *e = x->e;
	const uint8_t *code = ent->bytes;
	size_t size = CORPUS_BYTES;
	uint64_t addr, gpa = 0, gpa2 = 0;
	const cs_x86_op *mem = NULL, *mem2 = NULL, *reg = NULL, *imm = NULL;
	int st = ADDR_OK, st2 = ADDR_OK, ret;
	enum kind k;
	unsigned int i;
	bool rep;

	x->bytes = ent->bytes;
	xcheck_regs(e, ent->seed);
	env_code(e, e->regs.rip, ent->bytes, CORPUS_BYTES);
	addr = e->regs.rip;
	e->nlog = 0;
	if (!cs_disasm_iter(x->cs, &code, &size, &addr, x->ci)) {
		/* capstone refuses: nothing to compare, but no crash. */
		x->cs_invalid++;
		if (!lv_assist_mmio(&e->regs, &e->sregs, DEV, NULL, 0, &e->ops,
				    &e->fault)) {
			x->cs_invalid_done++;
			if (getenv("XCHECK_DEBUG"))
				printf("# cs-invalid emulated: %02x %02x %02x %02x %02x %02x\n",
				       ent->bytes[0], ent->bytes[1], ent->bytes[2],
				       ent->bytes[3], ent->bytes[4], ent->bytes[5]);
		}
		return;
	}
	k = cs_kind(x->ci->id);
	for (i = 0; i < x->ci->detail->x86.op_count; i++) {
		const cs_x86_op *o = &x->ci->detail->x86.operands[i];

		if (o->type == X86_OP_MEM && !mem)
			mem = o;
		else if (o->type == X86_OP_MEM)
			mem2 = o;
		else if (o->type == X86_OP_REG)
			reg = o;
		else if (o->type == X86_OP_IMM)
			imm = o;
	}
	/* F2 is REP too on string instructions; capstone may not say so. */
	rep = ent->rep;
	if (k >= K_MOVS && rep)
		e->regs.rcx = (e->regs.rcx & ~bmask(x->ci->detail->x86.addr_size)) | 3;
	x->start = e->regs;
	if (mem)
		st = cs_mem_addr(x, mem, xcheck_bt_adj(x, mem, reg), &gpa);
	if (mem2)
		st2 = cs_mem_addr(x, mem2, 0, &gpa2);
	if (st < 0 || st2 < 0)
		XFAIL(x, "operand not understood");

	ret = lv_assist_mmio(&e->regs, &e->sregs, mem2 ? gpa2 : gpa, NULL, 0,
			     &e->ops, &e->fault);

	/* capstone 4.0.2 drops a 66 prefix that precedes F2/F3. */
	if (ent->osize_before_rep && !cs_accepts_ud(x, ent, k)) {
		x->skipped++;
		return;
	}
	if (k == K_OTHER || !mem || cs_accepts_ud(x, ent, k)) {
		/* Not ours (or #UD): must be refused. */
		if (ret == -EOPNOTSUPP || (ret == -EACCES && k == K_OTHER)) {
			x->refused++;
			return;
		}
		XFAIL(x, "not refused: %d", ret);
	}
	x->checked++;
	/* MOVS reads its source (mem2) first. */
	if (k == K_MOVS && st2 != ADDR_OK)
		st = st2;
	if (st != ADDR_OK) {
		if (ret != -EACCES || e->fault.vector != st)
			XFAIL(x, "expected exception %d, got %d (vector %u)", st,
			      ret, e->fault.vector);
		x->faults++;
		return;
	}
	if (ret)
		XFAIL(x, "assist returned %d (vector %u)", ret, e->fault.vector);
	xcheck_merge_log(x, mem->size);
	if (k == K_MOVS)
		xcheck_string(x, k, mem, mem2, gpa, gpa2, rep);
	else if (k == K_STOS)
		xcheck_string(x, k, mem, NULL, gpa, 0, rep);
	else if (k == K_LODS)
		xcheck_string(x, k, NULL, mem, 0, gpa, rep);
	else
		xcheck_mem(x, k, mem, reg, imm, gpa);
	if (k < K_MOVS && x->failed == 0)
		xcheck_regs_changed(x, k, reg);
}

/*
 * Corpus environment: RAM only where tables and code live, so that every
 * data access reaches the recording device; in long mode 512 GiB identity
 * mapped at both ends of the address space with 1 GiB pages.
 */
static int xcheck_env(struct env *e, enum env_mode mode)
{
	uint64_t pdpt, i, *pml4;
	int ret = setup(e, mode);

	if (ret)
		return ret;
	/* Real mode: IP is 16 bits, so CS points at the code. */
	e->sregs.cs.base = mode == MODE_REAL ? ENV_CODE : 0;
	e->sregs.ds.base = 0x01000000;
	e->sregs.es.base = 0x02000000;
	e->sregs.ss.base = 0x03000000;
	e->sregs.fs.base = mode == MODE_L64 ? 0x1000000000ULL : 0x04000000;
	e->sregs.gs.base = mode == MODE_L64 ? 0x2000000000ULL : 0x05000000;
	/* "Unreal" limits: no limit faults in the corpus. */
	e->sregs.ds.limit = e->sregs.es.limit = e->sregs.ss.limit = 0xffffffff;
	e->sregs.fs.limit = e->sregs.gs.limit = e->sregs.cs.limit = 0xffffffff;
	if (mode == MODE_L64 || mode == MODE_C32) {
		memset(e->ram + ENV_TABLES, 0, 0x10000);
		e->next_table = ENV_TABLES;
		e->sregs.cr3 = env_table(e);
		pdpt = env_table(e);
		for (i = 0; i < 512; i++)
			*(uint64_t *)(e->ram + pdpt + i * 8) =
				(i << 30) | E_P | E_RW | E_PS;
		pml4 = (uint64_t *)(e->ram + e->sregs.cr3);
		pml4[0] = pdpt | E_TABLE;
		pml4[511] = pdpt | E_TABLE;
	}
	return 0;
}

static int sparse_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
	bool tables = gpa >= ENV_TABLES && gpa + len <= ENV_TABLES + 0x10000;
	bool code = gpa >= ENV_CODE && gpa + len <= ENV_CODE + 0x1000;

	return tables || code ? env_read_phys(ctx, gpa, buf, len) : -EFAULT;
}

static int sparse_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
	return -EFAULT;
}

static void run_capstone_corpus(struct __test_metadata *_metadata)
{
	static const struct {
		enum env_mode mode;
		unsigned int bits;
		cs_mode csm;
	} modes[] = {
		{ MODE_REAL, 16, CS_MODE_16 }, { MODE_P32, 32, CS_MODE_32 },
		{ MODE_C32, 32, CS_MODE_32 }, { MODE_L64, 64, CS_MODE_64 },
	};
	struct env e = { 0 };
	struct xcheck x = { .meta = _metadata, .e = &e };
	unsigned long total = 0;
	unsigned int m;

	for (m = 0; m < ARRAY_SIZE(modes); m++) {
		ASSERT_EQ(CS_ERR_OK, cs_open(CS_ARCH_X86, modes[m].csm, &x.cs));
		cs_option(x.cs, CS_OPT_DETAIL, CS_OPT_ON);
		x.ci = cs_malloc(x.cs);
		ASSERT_EQ(0, xcheck_env(&e, modes[m].mode));
		e.ops.read_phys = sparse_read;
		e.ops.write_phys = sparse_write;
		x.mode = modes[m].mode;
		total += corpus_generate(modes[m].bits, 6, xcheck_entry, &x);
		cs_free(x.ci, 1);
		cs_close(&x.cs);
	}
	printf("# capstone corpus: %lu generated, %lu cross-checked (%lu of them faulting as expected), %lu refused by both, %lu capstone-invalid (%lu emulated), %lu skipped (capstone 66/F3 order bug), %lu mismatches\n",
	       total, x.checked, x.faults, x.refused, x.cs_invalid,
	       x.cs_invalid_done, x.skipped, x.failed);
	EXPECT_EQ(0, x.failed);
	EXPECT_LT(100000, x.checked);
	env_free(&e);
}

TEST(capstone_corpus)
{
	run_capstone_corpus(_metadata);
}

/* The same with every instruction decoded by Zydis. */
TEST(capstone_corpus_zydis_only)
{
	lv_quick_decode_enabled = false;
	run_capstone_corpus(_metadata);
	lv_quick_decode_enabled = true;
}

/* ---- The fast MOV decoder against Zydis ---- */

struct qcheck {
	struct __test_metadata *meta;
	ZydisDecoder dec;
	bool long64;
	unsigned long taken, failed;
};

#define QFAIL(q, ent, what) do {					\
	if ((q)->failed++ < 10)						\
		printf("# quickdec %s: %02x %02x %02x %02x %02x %02x %02x %02x\n", \
		       what, (ent)->bytes[0], (ent)->bytes[1],		\
		       (ent)->bytes[2], (ent)->bytes[3], (ent)->bytes[4],	\
		       (ent)->bytes[5], (ent)->bytes[6], (ent)->bytes[7]);	\
	return;								\
} while (0)

static bool qcheck_mem(const struct qcheck *q, const ZydisDecodedOperandMem *a,
		       const ZydisDecodedOperandMem *b)
{
	if (a->type != b->type || a->base != b->base || a->index != b->index ||
	    a->disp.value != b->disp.value)
		return false;
	if (a->index != ZYDIS_REGISTER_NONE && a->scale != b->scale)
		return false;
	/* 64-bit mode ignores ES/CS/SS/DS, and so does the assist there. */
	if (q->long64 && a->segment != ZYDIS_REGISTER_FS &&
	    a->segment != ZYDIS_REGISTER_GS &&
	    b->segment != ZYDIS_REGISTER_FS && b->segment != ZYDIS_REGISTER_GS)
		return true;
	return a->segment == b->segment;
}

static bool qcheck_op(const struct qcheck *q, const ZydisDecodedOperand *a,
		      const ZydisDecodedOperand *b)
{
	if (a->type != b->type || a->size != b->size)
		return false;
	switch (a->type) {
	case ZYDIS_OPERAND_TYPE_REGISTER:
		return a->reg.value == b->reg.value;
	case ZYDIS_OPERAND_TYPE_MEMORY:
		return qcheck_mem(q, &a->mem, &b->mem);
	case ZYDIS_OPERAND_TYPE_IMMEDIATE:
		/* Sign-extended in full: a 64-bit store takes all of it. */
		return a->imm.value.u == b->imm.value.u;
	default:
		return false;
	}
}

static void qcheck_entry(void *ctx, const struct corpus_entry *ent)
{
	struct qcheck *q = ctx;
	ZydisDecodedInstruction qi, zi;
	ZydisDecodedOperand qo[ZYDIS_MAX_OPERAND_COUNT];
	ZydisDecodedOperand zo[ZYDIS_MAX_OPERAND_COUNT];
	unsigned int len;

	/* Every length, so that running out of bytes is covered too. */
	for (len = 1; len <= CORPUS_BYTES; len++) {
		if (lv_quick_decode(q->long64, ent->bytes, len, &qi, qo))
			continue;
		q->taken++;
		if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&q->dec, ent->bytes,
							 len, &zi, zo)))
			QFAIL(q, ent, "taken, Zydis refuses");
		/* Taken with too few bytes: Zydis refused above. */
		if (zi.length != qi.length)
			QFAIL(q, ent, "length");
		if (zi.mnemonic != ZYDIS_MNEMONIC_MOV || zi.opcode != qi.opcode ||
		    zi.operand_width != qi.operand_width ||
		    zi.address_width != qi.address_width ||
		    zi.operand_count_visible != 2 ||
		    zi.attributes & (ZYDIS_ATTRIB_HAS_LOCK |
				     ZYDIS_ATTRIB_HAS_REP |
				     ZYDIS_ATTRIB_HAS_REPNE))
			QFAIL(q, ent, "instruction");
		if (!qcheck_op(q, &qo[0], &zo[0]) || !qcheck_op(q, &qo[1], &zo[1]))
			QFAIL(q, ent, "operands");
		return;
	}
}

TEST(quick_decode_matches_zydis)
{
	struct qcheck q = { .meta = _metadata };
	unsigned long total = 0;

	ASSERT_TRUE(ZYAN_SUCCESS(ZydisDecoderInit(&q.dec,
						   ZYDIS_MACHINE_MODE_LEGACY_32,
						   ZYDIS_STACK_WIDTH_32)));
	total += corpus_generate(32, 6, qcheck_entry, &q);
	q.long64 = true;
	ASSERT_TRUE(ZYAN_SUCCESS(ZydisDecoderInit(&q.dec,
						   ZYDIS_MACHINE_MODE_LONG_64,
						   ZYDIS_STACK_WIDTH_64)));
	total += corpus_generate(64, 6, qcheck_entry, &q);
	printf("# quickdec: %lu corpus entries, %lu decodes taken, %lu differ from Zydis\n",
	       total, q.taken, q.failed);
	EXPECT_EQ(0, q.failed);
	EXPECT_LT(5000, q.taken);
}

/* What it takes and what it leaves to Zydis, in both code sizes. */
TEST(quick_decode_forms)
{
	static const struct {
		bool long64;
		const char *hex;
		int want;	/* 0: taken, -1: left to Zydis */
		unsigned int len;
	} cases[] = {
		{ false, "a2 00 00 00 d0", 0, 5 },	/* mov %al, moffs */
		{ true, "89 02", 0, 2 },		/* mov %eax, (%rdx) */
		{ true, "48 8b 47 08", 0, 4 },		/* mov 8(%rdi), %rax */
		{ true, "66 89 02", 0, 3 },		/* mov %ax, (%rdx) */
		{ true, "40 88 32", 0, 3 },		/* mov %sil, (%rdx) */
		{ true, "65 c7 00 01 02 03 04", 0, 7 },	/* gs: movl $imm */
		{ true, "89 05 10 00 00 00", 0, 6 },	/* RIP-relative */
		{ false, "8b 04 25 00 10 00 00", 0, 7 },	/* SIB, no base */
		{ true, "89 c0", -1, 0 },		/* register form */
		{ true, "f0 89 02", -1, 0 },		/* LOCK: #UD */
		{ true, "67 89 02", -1, 0 },		/* 67h */
		{ true, "64 65 89 02", -1, 0 },		/* two segments */
		{ true, "48 66 89 02", -1, 0 },		/* REX not last */
		{ true, "c7 48 08 00 00 00 00", -1, 0 },/* C7 /1 */
		{ true, "01 02", -1, 0 },		/* ADD: Zydis's */
		{ true, "8b 04", -1, 0 },		/* SIB cut off */
		{ false, "a1 00 00 00", -1, 0 },	/* moffs cut off */
		{ false, "48 89 02", -1, 0 },		/* 48 is DEC here */
	};
	ZydisDecodedInstruction in;
	ZydisDecodedOperand op[ZYDIS_MAX_OPERAND_COUNT];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		uint8_t buf[16];
		unsigned int n = hex_parse(cases[i].hex, buf, sizeof(buf));

		EXPECT_EQ(cases[i].want,
			  lv_quick_decode(cases[i].long64, buf, n, &in, op))
			TH_LOG("%s", cases[i].hex);
		if (!cases[i].want)
			EXPECT_EQ(cases[i].len, in.length) TH_LOG("%s", cases[i].hex);
	}
}

TEST_HARNESS_MAIN
