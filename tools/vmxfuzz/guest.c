// SPDX-License-Identifier: GPL-2.0
/*
 * vmxfuzz: guest memory layout, descriptor and page tables, and the
 * generator of guest programs: short instruction sequences that exit in
 * every way the ABI knows (port and string I/O, MMIO, HLT, CPUID, MSRs,
 * CR/DR moves, INT n, IRET, SVM/VMX instructions, XSETBV, triple faults)
 * mixed with random bytes.
 */
#include <string.h>

#include "fuzz.h"

/* ---- tables in slot 0 ---- */

static const uint64_t fz_gdt[] = {
	0,
	0x00af9b000000ffffULL,	/* 0x08 code64 */
	0x00cf93000000ffffULL,	/* 0x10 data */
	0x00cf9b000000ffffULL,	/* 0x18 code32 */
	0x00009b000000ffffULL,	/* 0x20 code16 */
	0x0000890000000067ULL | ((uint64_t)FZ_TSS << 16),	/* 0x28 TSS */
	0,			/* 0x30 TSS, high half */
	0x00affb000000ffffULL,	/* 0x38 user code64 */
	0x00cff3000000ffffULL,	/* 0x40 user data */
};

#define FZ_SEL_CODE64	0x08
#define FZ_SEL_DATA	0x10
#define FZ_SEL_CODE32	0x18
#define FZ_SEL_TSS	0x28
#define FZ_SEL_UCODE	0x3b
#define FZ_SEL_UDATA	0x43

static void fz_put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static void fz_idt_tables(uint8_t *ram0)
{
	const uint64_t h32 = FZ_HANDLERS + 0x10, h64 = FZ_HANDLERS + 0x20;
	unsigned int v;

	for (v = 0; v < 256; v++) {
		/* Real-mode IVT: 0000:handler. */
		uint32_t ivt = FZ_HANDLERS;
		/* DPL 3 gates, so that INT n works from user mode too. */
		uint64_t g32 = (h32 & 0xffff) | (uint64_t)FZ_SEL_CODE32 << 16 |
			       0xee00ULL << 32 | (h32 >> 16) << 48;
		uint64_t g64 = (h64 & 0xffff) | (uint64_t)FZ_SEL_CODE64 << 16 |
			       0xee00ULL << 32 | ((h64 >> 16) & 0xffff) << 48;

		memcpy(ram0 + v * 4, &ivt, 4);
		fz_put64(ram0 + FZ_IDT32 + v * 8, g32);
		fz_put64(ram0 + FZ_IDT64 + v * 16, g64);
		fz_put64(ram0 + FZ_IDT64 + v * 16 + 8, h64 >> 32);
	}
}

/* Handlers tell the VMM with OUT FZ_HANDLER_PORT, then IRET. */
static void fz_handlers(uint8_t *ram0)
{
	static const uint8_t h16[] = { 0xe6, FZ_HANDLER_PORT, 0xcf };
	static const uint8_t h32[] = { 0xe6, FZ_HANDLER_PORT, 0xcf };
	static const uint8_t h64[] = { 0xe6, FZ_HANDLER_PORT, 0x48, 0xcf };

	memcpy(ram0 + FZ_HANDLERS, h16, sizeof(h16));
	memcpy(ram0 + FZ_HANDLERS + 0x10, h32, sizeof(h32));
	memcpy(ram0 + FZ_HANDLERS + 0x20, h64, sizeof(h64));
}

void fz_guest_tables(uint8_t *ram0)
{
	unsigned int i;

	memcpy(ram0 + FZ_GDT, fz_gdt, sizeof(fz_gdt));
	fz_idt_tables(ram0);
	fz_handlers(ram0);
	/* 1 GiB identity map with 2 MiB pages, user accessible. */
	fz_put64(ram0 + FZ_PML4, FZ_PDPT | 0x7);
	fz_put64(ram0 + FZ_PDPT, FZ_PD | 0x7);
	for (i = 0; i < 512; i++)
		fz_put64(ram0 + FZ_PD + i * 8, ((uint64_t)i << 21) | 0x87);
	memset(ram0 + FZ_DATA, 0, 16);
	/* TSS: RSP0 and IST pointers to the stack. */
	memset(ram0 + FZ_TSS, 0, 0x68);
	fz_put64(ram0 + FZ_TSS + 4, FZ_STACK - 0x1000);
}

/* ---- mode state ---- */

int fz_mode_bits(enum fz_mode mode)
{
	switch (mode) {
	case FZ_REAL:
		return 16;
	case FZ_PROT32:
		return 32;
	default:
		return 64;
	}
}

static struct vmx_segment fz_seg(uint16_t sel, uint8_t type, uint8_t s,
				 uint8_t dpl, uint8_t l, uint8_t db, uint32_t limit,
				 uint8_t g, uint64_t base)
{
	return (struct vmx_segment) {
		.base = base, .limit = limit, .selector = sel, .type = type,
		.s = s, .dpl = dpl, .present = 1, .l = l, .db = db, .g = g,
	};
}

static void fz_mode_common(struct vmx_sregs *sr)
{
	sr->gdt.base = FZ_GDT;
	sr->gdt.limit = sizeof(fz_gdt) - 1;
	sr->tr = fz_seg(FZ_SEL_TSS, 0xb, 0, 0, 0, 0, 0x67, 0, FZ_TSS);
	memset(&sr->ldt, 0, sizeof(sr->ldt));
	sr->ldt.unusable = 1;
	sr->cr2 = 0;
	sr->cr8 = 0;
}

static void fz_mode_real(struct vmx_sregs *sr, struct vmx_regs *regs)
{
	struct vmx_segment d = fz_seg(0, 3, 1, 0, 0, 0, 0xffff, 0, 0);

	sr->cs = fz_seg(0, 0xb, 1, 0, 0, 0, 0xffff, 0, 0);
	sr->ds = sr->es = sr->fs = sr->gs = sr->ss = d;
	sr->idt.base = 0;
	sr->idt.limit = 0x3ff;
	sr->cr0 = 0x10;
	sr->cr3 = 0;
	sr->cr4 = 0;
	sr->efer = 0;
	regs->rsp = FZ_STACK16;
}

static void fz_mode_prot32(struct vmx_sregs *sr, struct vmx_regs *regs)
{
	struct vmx_segment d = fz_seg(FZ_SEL_DATA, 3, 1, 0, 0, 1, 0xffffffff, 1, 0);

	sr->cs = fz_seg(FZ_SEL_CODE32, 0xb, 1, 0, 0, 1, 0xffffffff, 1, 0);
	sr->ds = sr->es = sr->fs = sr->gs = sr->ss = d;
	sr->idt.base = FZ_IDT32;
	sr->idt.limit = 256 * 8 - 1;
	sr->cr0 = 0x11 | 0x20;	/* PE, ET, NE */
	sr->cr3 = 0;
	sr->cr4 = 0x600;	/* OSFXSR, OSXMMEXCPT */
	sr->efer = 0;
	regs->rsp = FZ_STACK;
}

static void fz_mode_long(struct vmx_sregs *sr, struct vmx_regs *regs, bool user)
{
	uint8_t dpl = user ? 3 : 0;
	struct vmx_segment d = fz_seg(user ? FZ_SEL_UDATA : FZ_SEL_DATA, 3, 1,
				      dpl, 0, 1, 0xffffffff, 1, 0);

	sr->cs = fz_seg(user ? FZ_SEL_UCODE : FZ_SEL_CODE64, 0xb, 1, dpl, 1, 0,
			0xffffffff, 1, 0);
	sr->ds = sr->es = sr->fs = sr->gs = sr->ss = d;
	sr->idt.base = FZ_IDT64;
	sr->idt.limit = 256 * 16 - 1;
	sr->cr0 = 0x80050033ULL;	/* PG, AM, WP, NE, ET, MP, PE */
	sr->cr3 = FZ_PML4;
	sr->cr4 = 0x620;		/* PAE, OSFXSR, OSXMMEXCPT */
	sr->efer = 0xd01;		/* NXE, LMA, LME, SCE */
	regs->rsp = FZ_STACK - (user ? 0x2000 : 0);
}

/* Flip a few bits of the fields SET_SREGS does not refuse outright. */
static void fz_mode_raw(struct fz_rng *r, struct vmx_sregs *sr)
{
	struct vmx_segment *segs[] = {
		&sr->cs, &sr->ds, &sr->es, &sr->fs, &sr->gs, &sr->ss, &sr->tr,
		&sr->ldt,
	};
	unsigned int n = 1 + fz_below(r, 4);

	while (n--) {
		struct vmx_segment *g = FZ_PICK(r, segs);

		switch (fz_below(r, 10)) {
		case 0:
			g->base ^= 1ULL << fz_below(r, 64);
			break;
		case 1:
			g->limit ^= 1U << fz_below(r, 32);
			break;
		case 2:
			g->selector ^= 1U << fz_below(r, 16);
			break;
		case 3:
			g->type = fz_below(r, 16);
			break;
		case 4:
			g->dpl = fz_below(r, 4);
			break;
		case 5:
			g->present ^= 1;
			g->s ^= fz_below(r, 2);
			break;
		case 6:
			g->l ^= 1;
			g->db ^= fz_below(r, 2);
			break;
		case 7:
			sr->cr0 ^= 1ULL << fz_below(r, 32);
			break;
		case 8:
			sr->cr4 ^= 1ULL << fz_below(r, 23);
			break;
		default:
			sr->efer ^= FZ_PICK(r, ((const uint64_t[]){ 1, 0x100, 0x400, 0x800 }));
			sr->cr3 = fz_interesting(r) & ~0xfffULL;
			break;
		}
	}
}

void fz_mode_state(struct fz_rng *r, enum fz_mode mode, struct vmx_sregs *sr,
		   struct vmx_regs *regs)
{
	memset(regs, 0, sizeof(*regs));
	regs->rip = FZ_CODE;
	regs->rflags = 2;
	fz_mode_common(sr);
	switch (mode) {
	case FZ_REAL:
		fz_mode_real(sr, regs);
		break;
	case FZ_PROT32:
		fz_mode_prot32(sr, regs);
		break;
	case FZ_LONG:
	case FZ_USER64:
		fz_mode_long(sr, regs, mode == FZ_USER64);
		break;
	default:
		fz_mode_state(r, (enum fz_mode)fz_below(r, FZ_RAW), sr, regs);
		fz_mode_raw(r, sr);
		break;
	}
	if (fz_chance(r, 20))
		regs->rflags |= 0x200;	/* IF */
	if (fz_chance(r, 3))
		regs->rflags |= 0x100;	/* TF */
}

/* ---- values ---- */

static const uint32_t fz_msrs[] = {
	0x10, 0x1b, 0x3a, 0x8b, 0xfe, 0x174, 0x175, 0x176, 0x179, 0x17a,
	0x1a0, 0x1d9, 0x277, 0x2ff, 0x48, 0x49, 0x480, 0x48d, 0x491, 0x6e0,
	0xc0000080, 0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084,
	0xc0000100, 0xc0000101, 0xc0000102, 0xc0000103, 0xc0010000,
	0xc0010004, 0xc0010010, 0xc0010015, 0xc0010114, 0xc0010117,
	0xc0011020, 0x40000000, 0x4b564d00, 0xffffffff, 0,
};

uint64_t fz_pick_msr(struct fz_rng *r)
{
	if (fz_chance(r, 85))
		return FZ_PICK(r, fz_msrs);
	if (fz_chance(r, 50))
		return 0xc0010000 + fz_below(r, 0x200);
	return (uint32_t)fz_rand(r);
}

uint64_t fz_interesting(struct fz_rng *r)
{
	static const uint64_t v[] = {
		0, 1, 2, 0x7f, 0x80, 0xff, 0xffff, 0x10000, 0x7fffffff,
		0x80000000, 0xffffffff, 0x100000000ULL, 0x7fffffffffffULL,
		0x800000000000ULL, 0xffff800000000000ULL, ~0ULL, 0xfee00900,
		0x0007040600070406ULL, 0x60000010, 0x80000011, 0xd01,
		0x8000000000000000ULL, FZ_STACK, FZ_CODE, 0xfffff000,
	};
	uint64_t x = FZ_PICK(r, v);

	if (fz_chance(r, 30))
		x ^= 1ULL << fz_below(r, 64);
	if (fz_chance(r, 15))
		x = fz_rand(r);
	return x;
}

/* ---- the program generator ---- */

struct fz_gen {
	struct fz_prog *p;
	struct fz_rng *r;
	int bits;
	uint32_t start;		/* offset of the current instruction */
	const uint64_t *targets;
	unsigned int ntargets;
};

static bool fz_room(struct fz_gen *g, uint32_t n)
{
	return g->p->size + n + 16 < FZ_PROG_MAX;
}

static void fz_b(struct fz_gen *g, uint8_t b)
{
	g->p->code[g->p->size++] = b;
}

static void fz_imm(struct fz_gen *g, uint64_t v, unsigned int bytes)
{
	while (bytes--) {
		fz_b(g, v & 0xff);
		v >>= 8;
	}
}

static void fz_begin(struct fz_gen *g)
{
	g->start = g->p->size;
}

static void fz_end(struct fz_gen *g)
{
	g->p->len_at[g->start] = g->p->size - g->start;
}

/* One instruction from a byte string. */
static void fz_insn(struct fz_gen *g, const uint8_t *b, unsigned int n)
{
	fz_begin(g);
	while (n--)
		fz_b(g, *b++);
	fz_end(g);
}

#define FZ_INSN(g, ...) \
	fz_insn(g, (const uint8_t[]){ __VA_ARGS__ }, sizeof((uint8_t[]){ __VA_ARGS__ }))

/* mov r32, imm32 (register 0-7); zero-extends in 64-bit mode. */
static void fz_mov_imm(struct fz_gen *g, unsigned int reg, uint32_t v)
{
	fz_begin(g);
	if (g->bits == 16)
		fz_b(g, 0x66);
	fz_b(g, 0xb8 + reg);
	fz_imm(g, v, 4);
	fz_end(g);
}

/* mov rax, imm64 where there is one, else the low 32 bits. */
static void fz_mov_addr(struct fz_gen *g, uint64_t v)
{
	if (g->bits != 64) {
		fz_mov_imm(g, 0, (uint32_t)v);
		return;
	}
	fz_begin(g);
	fz_b(g, 0x48);
	fz_b(g, 0xb8);
	fz_imm(g, v, 8);
	fz_end(g);
}

static void fz_prefix16(struct fz_gen *g, bool addr)
{
	if (g->bits != 16)
		return;
	if (addr)
		fz_b(g, 0x67);
	fz_b(g, 0x66);
}

static uint64_t fz_target(struct fz_gen *g)
{
	if (g->ntargets && fz_chance(g->r, 80))
		return g->targets[fz_below(g->r, g->ntargets)] +
		       (fz_below(g->r, 0x2000) & ~3U);
	return fz_interesting(g->r);
}

/* A load, store or read-modify-write at a RAM, MMIO or unmapped address. */
static void fz_gen_mem(struct fz_gen *g)
{
	static const uint8_t ops[][3] = {
		{ 0x89, 0x00 }, { 0x8b, 0x00 }, { 0x88, 0x00 }, { 0x8a, 0x00 },
		{ 0x01, 0x00 }, { 0x87, 0x00 }, { 0xff, 0x00 }, { 0x0f, 0xc1, 0x00 },
	};
	const uint8_t *op = ops[fz_below(g->r, 8)];
	uint64_t a = fz_target(g);

	if (g->bits == 16) {
		/* Real mode: DS:BX, DS from the high bits of the address. */
		a &= 0xfffff;
		FZ_INSN(g, 0xb8, (a >> 4) & 0xff, (a >> 12) & 0xff);
		FZ_INSN(g, 0x8e, 0xd8);
		FZ_INSN(g, 0xbb, a & 0xf, 0);
		FZ_INSN(g, 0x88 | (fz_below(g->r, 4) & 3), 0x07);
		return;
	}
	fz_mov_addr(g, a);
	fz_begin(g);
	if (fz_chance(g->r, 10))
		fz_b(g, 0xf0);		/* LOCK */
	if (g->bits == 64 && fz_chance(g->r, 30))
		fz_b(g, 0x48);
	fz_b(g, op[0]);
	fz_b(g, op[1]);
	if (op[0] == 0x0f)
		fz_b(g, op[2]);
	fz_end(g);
}

static void fz_gen_io(struct fz_gen *g)
{
	uint16_t port = fz_chance(g->r, 70) ? fz_below(g->r, 0x400) : fz_rand(g->r);

	switch (fz_below(g->r, 6)) {
	case 0:
		FZ_INSN(g, 0xe6, port & 0xff);		/* out imm8, al */
		break;
	case 1:
		FZ_INSN(g, 0xe4 + fz_below(g->r, 2), port & 0xff);	/* in al/eax */
		break;
	case 2:
	case 3:
		fz_mov_imm(g, 2, port);
		fz_begin(g);
		if (fz_chance(g->r, 30))
			fz_b(g, 0x66);
		fz_b(g, 0xec + fz_below(g->r, 4));	/* in/out dx */
		fz_end(g);
		break;
	default:
		/* String I/O: REP INS/OUTS over a few elements of scratch. */
		fz_mov_imm(g, 2, port);
		fz_mov_imm(g, 1, fz_below(g->r, 4));
		fz_mov_imm(g, 6, FZ_SCRATCH);
		fz_mov_imm(g, 7, FZ_SCRATCH + 0x100);
		fz_begin(g);
		if (g->bits == 16)
			fz_b(g, 0x67);
		if (fz_chance(g->r, 70))
			fz_b(g, 0xf3);
		fz_b(g, 0x6c + fz_below(g->r, 4));
		fz_end(g);
		break;
	}
}

static void fz_gen_msr(struct fz_gen *g)
{
	uint64_t v = fz_interesting(g->r);
	uint32_t msr = fz_pick_msr(g->r);

	/* See fz_rig_quirks(): no guest EFER.LME on the QEMU/SVM rig. */
	if (msr == 0xc0000080 && fz.caps.backend == VMX_BACKEND_SVM)
		v &= ~(uint64_t)FZ_EFER_LME;
	fz_mov_imm(g, 1, msr);
	fz_mov_imm(g, 0, v);
	fz_mov_imm(g, 2, v >> 32);
	FZ_INSN(g, 0x0f, fz_chance(g->r, 50) ? 0x30 : 0x32);
}

static void fz_gen_cpuid(struct fz_gen *g)
{
	static const uint32_t leaves[] = {
		0, 1, 2, 4, 6, 7, 0xb, 0xd, 0x40000000, 0x40000001, 0x80000000,
		0x80000001, 0x80000008, 0x8000000a, 0xffffffff,
	};

	fz_mov_imm(g, 0, fz_chance(g->r, 90) ? FZ_PICK(g->r, leaves) : fz_rand(g->r));
	fz_mov_imm(g, 1, fz_below(g->r, 3));
	FZ_INSN(g, 0x0f, 0xa2);
}

/* MOV to/from CR0, CR2, CR3, CR4, CR8 and DR0-7. */
static void fz_gen_crdr(struct fz_gen *g)
{
	static const uint8_t crs[] = { 0, 2, 3, 4, 8 };
	unsigned int cr = FZ_PICK(g->r, crs);
	bool dr = fz_chance(g->r, 30);
	bool to = fz_chance(g->r, 60);
	uint64_t v = fz_interesting(g->r);

	if (dr)
		cr = fz_below(g->r, 8);
	/*
	 * QEMU 7.2 TCG aborts (iothread lock assertion) when an SVM guest's
	 * data breakpoint hits during event delivery, intercept or not: no
	 * breakpoint enables in DR7 on that rig.  Real CPUs have no such bug.
	 */
	if (dr && to && cr == 7 && fz.caps.backend == VMX_BACKEND_SVM)
		v &= ~0xffULL;
	fz_mov_imm(g, 0, v);
	fz_begin(g);
	if (cr == 8) {
		if (g->bits != 64)
			cr = 0;
		else
			fz_b(g, 0x44);
	}
	fz_b(g, 0x0f);
	fz_b(g, (dr ? 0x21 : 0x20) | (to ? 2 : 0));
	fz_b(g, 0xc0 | (cr & 7) << 3);
	fz_end(g);
}

static void fz_gen_int(struct fz_gen *g)
{
	switch (fz_below(g->r, 6)) {
	case 0:
		FZ_INSN(g, 0xcc);
		break;
	case 1:
		FZ_INSN(g, 0xf1);
		break;
	case 2:
		if (g->bits != 64) {
			FZ_INSN(g, 0xce);
			break;
		}
		/* fall through */
	case 3:
		FZ_INSN(g, 0x0f, 0x0b);
		break;
	default:
		FZ_INSN(g, 0xcd, fz_rand(g->r) & 0xff);
		break;
	}
}

/* An IRET with whatever is on the stack, or with a pushed frame. */
static void fz_gen_iret(struct fz_gen *g)
{
	if (fz_chance(g->r, 50))
		FZ_INSN(g, 0x9c);	/* pushf: a frame of sorts */
	if (g->bits == 64)
		FZ_INSN(g, 0x48, 0xcf);
	else
		FZ_INSN(g, 0xcf);
}

/* LIDT/LGDT of a zero descriptor, then an exception: shutdown. */
static void fz_gen_triple(struct fz_gen *g)
{
	uint8_t modrm = fz_chance(g->r, 70) ? 0x18 : 0x10;	/* /3 LIDT, /2 LGDT */

	fz_begin(g);
	fz_prefix16(g, false);
	fz_b(g, 0x0f);
	fz_b(g, 0x01);
	if (g->bits == 16) {
		fz_b(g, modrm | 0x06);
		fz_imm(g, FZ_DATA, 2);
	} else if (g->bits == 32) {
		fz_b(g, modrm | 0x05);
		fz_imm(g, FZ_DATA, 4);
	} else {
		fz_b(g, modrm | 0x04);
		fz_b(g, 0x25);
		fz_imm(g, FZ_DATA, 4);
	}
	fz_end(g);
	fz_gen_int(g);
}

/* Instructions with one fixed encoding. */
static void fz_gen_misc(struct fz_gen *g)
{
	static const uint8_t ops[][4] = {
		{ 1, 0xf4 },			/* hlt */
		{ 1, 0xfa }, { 1, 0xfb },	/* cli, sti */
		{ 2, 0xfb, 0xf4 },		/* sti; hlt (shadow) */
		{ 3, 0x0f, 0x01, 0xd9 },	/* vmmcall */
		{ 3, 0x0f, 0x01, 0xc1 },	/* vmcall */
		{ 3, 0x0f, 0x01, 0xd8 },	/* vmrun */
		{ 3, 0x0f, 0x01, 0xda },	/* vmload */
		{ 3, 0x0f, 0x01, 0xdb },	/* vmsave */
		{ 3, 0x0f, 0x01, 0xdc },	/* stgi */
		{ 3, 0x0f, 0x01, 0xdd },	/* clgi */
		{ 3, 0x0f, 0x01, 0xde },	/* skinit */
		{ 3, 0x0f, 0x01, 0xdf },	/* invlpga */
		{ 3, 0x0f, 0x01, 0xc8 },	/* monitor */
		{ 3, 0x0f, 0x01, 0xc9 },	/* mwait */
		{ 3, 0x0f, 0x01, 0xfd },	/* rdpru */
		{ 3, 0x0f, 0x01, 0xc4 },	/* vmxoff */
		{ 3, 0x0f, 0x01, 0xc2 },	/* vmlaunch */
		{ 3, 0x0f, 0x01, 0xd0 },	/* xgetbv */
		{ 3, 0x0f, 0x01, 0xf9 },	/* rdtscp */
		{ 3, 0x0f, 0x01, 0xf8 },	/* swapgs */
		{ 2, 0x0f, 0x31 },		/* rdtsc */
		{ 2, 0x0f, 0x33 },		/* rdpmc */
		{ 2, 0x0f, 0x08 },		/* invd */
		{ 2, 0x0f, 0x09 },		/* wbinvd */
		{ 2, 0x0f, 0x05 },		/* syscall */
		{ 2, 0x0f, 0x34 },		/* sysenter */
		{ 2, 0x0f, 0x06 },		/* clts */
		{ 2, 0xf3, 0x90 },		/* pause */
		{ 2, 0x8e, 0xd0 },		/* mov ss, ax */
		{ 1, 0x9d },			/* popf */
		{ 3, 0x0f, 0x00, 0xd8 },	/* ltr ax */
		{ 3, 0x0f, 0x00, 0xd0 },	/* lldt ax */
		{ 3, 0x0f, 0x01, 0x38 },	/* invlpg [rax] */
		{ 3, 0x0f, 0xae, 0x00 },	/* fxsave [rax] */
		{ 3, 0x0f, 0xae, 0x08 },	/* fxrstor [rax] */
		{ 3, 0x0f, 0xae, 0x28 },	/* xrstor [rax] */
	};
	const uint8_t *op = ops[fz_below(g->r, ARRAY_SIZE(ops))];

	if (op[2] == 0xae || (op[2] == 0x01 && op[3] == 0x38))
		fz_mov_addr(g, fz_chance(g->r, 70) ? FZ_SCRATCH : fz_target(g));
	if (op[1] == 0x8e || (op[1] == 0x0f && op[2] == 0x00))
		fz_mov_imm(g, 0, fz_below(g->r, 0x50));
	fz_insn(g, op + 1, op[0]);
}

static void fz_gen_xsetbv(struct fz_gen *g)
{
	fz_mov_imm(g, 1, fz_chance(g->r, 90) ? 0 : fz_below(g->r, 3));
	fz_mov_imm(g, 0, FZ_PICK(g->r, ((const uint32_t[]){ 1, 3, 7, 2, 0, 0xe7 })));
	fz_mov_imm(g, 2, 0);
	FZ_INSN(g, 0x0f, 0x01, 0xd1);
}

static void fz_gen_random(struct fz_gen *g)
{
	unsigned int n = 1 + fz_below(g->r, 12);

	while (n--)
		fz_b(g, fz_rand(g->r));
}

static void fz_gen_one(struct fz_gen *g)
{
	switch (fz_below(g->r, 20)) {
	case 0: case 1: case 2:
		fz_gen_io(g);
		break;
	case 3: case 4: case 5:
		fz_gen_mem(g);
		break;
	case 6:
		fz_gen_cpuid(g);
		break;
	case 7: case 8:
		fz_gen_msr(g);
		break;
	case 9:
		fz_gen_crdr(g);
		break;
	case 10:
		fz_gen_int(g);
		break;
	case 11:
		fz_gen_iret(g);
		break;
	case 12:
		fz_gen_triple(g);
		break;
	case 13: case 14: case 15:
		fz_gen_misc(g);
		break;
	case 16:
		fz_gen_xsetbv(g);
		break;
	case 17:
		fz_gen_random(g);
		break;
	default:
		fz_mov_imm(g, fz_below(g->r, 8), fz_interesting(g->r));
		break;
	}
}

/* Jump back to the start: the guest loops until something stops it. */
static void fz_gen_loop(struct fz_gen *g)
{
	int32_t rel;

	fz_begin(g);
	fz_b(g, 0xe9);
	if (g->bits == 16) {
		rel = -(int32_t)(g->p->size + 2);
		fz_imm(g, (uint32_t)rel, 2);
	} else {
		rel = -(int32_t)(g->p->size + 4);
		fz_imm(g, (uint32_t)rel, 4);
	}
	fz_end(g);
}

void fz_gen_prog(struct fz_rng *r, struct fz_prog *p, enum fz_mode mode,
		 const uint64_t *targets, unsigned int ntargets)
{
	struct fz_gen g = {
		.p = p, .r = r, .bits = fz_mode_bits(mode), .targets = targets,
		.ntargets = ntargets,
	};
	unsigned int n;

	memset(p->len_at, 0, sizeof(p->len_at));
	p->size = 0;
	if (fz_chance(r, 8)) {
		/* Pure noise. */
		n = 16 + fz_below(r, 256);
		while (n--)
			fz_b(&g, fz_rand(r));
		return;
	}
	n = 1 + fz_below(r, 40);
	while (n-- && fz_room(&g, 64))
		fz_gen_one(&g);
	if (fz_chance(r, 80))
		fz_gen_loop(&g);
	else
		FZ_INSN(&g, 0xf4);
}
