// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libvmx: instruction assist for MMIO and string port I/O exits.
 *
 * The kernel exits to user space with the guest-physical address of an
 * MMIO access, or with the port of an INS/OUTS; this file finishes the
 * instruction: fetch it at CS:RIP through the guest page tables, decode it
 * with Zydis, compute the memory operand's address (segments, overrides,
 * address size, RIP-relative), check it as the CPU would (segment type and
 * limit outside long mode, canonical form in long mode, paging rights),
 * perform the access through the VMM's callbacks and update GPRs, RFLAGS
 * and RIP.
 *
 * Covers: MOV r/m<->reg, MOV mem<-imm, MOV moffs (A0-A3), MOVNTI, MOVZX,
 * MOVSX, MOVSXD; ADD ADC SUB SBB CMP AND OR XOR TEST with exact arithmetic
 * flags; INC DEC NOT NEG; XCHG; BT BTS BTR BTC (register and immediate bit
 * offset); MOVS STOS LODS and INS OUTS, with REP, DF and 16/32/64-bit
 * address size.  Real mode, virtual-8086 mode, 16/32-bit protected mode,
 * compatibility mode and 64-bit mode.
 *
 * Does not cover (gives -EOPNOTSUPP): SSE/AVX moves, CMPXCHG, XADD,
 * SETcc, PUSH/POP to memory, CMPS/SCAS, far pointers.  Not modelled:
 * atomicity of LOCKed read-modify-write against other vCPUs, single-step
 * (#DB after the instruction) and RFLAGS.RF, alignment checks (#AC), I/O
 * permission checks (the CPU makes them before the exit).  AF after the
 * logic instructions (undefined on hardware) is cleared.
 *
 * REP instructions run in chunks of LV_ASSIST_REP_MAX iterations; RIP stays
 * on the instruction until RCX reaches zero, see assist.h.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <Zydis/Zydis.h>

#include "assist.h"
#include "quickdec.h"

#define PAGE_SIZE		4096ULL
#define PAGE_MASK		(~(PAGE_SIZE - 1))
#define MAX_INSN_LEN		ZYDIS_MAX_INSTRUCTION_LENGTH

/* Segment descriptor type field (vmx_segment.type). */
#define SEG_TYPE_CODE		(1U << 3)
#define SEG_TYPE_WRITABLE	(1U << 1)	/* data segments */
#define SEG_TYPE_READABLE	(1U << 1)	/* code segments */
#define SEG_TYPE_EXPDOWN	(1U << 2)	/* data segments */

/* String instruction opcodes (one-byte map); the odd ones are 16/32/64. */
#define OP_INS			0x6c
#define OP_OUTS			0x6e
#define OP_MOVS			0xa4
#define OP_STOS			0xaa
#define OP_LODS			0xac

/* GPR numbers as encoded in instructions. */
enum { GPR_RAX, GPR_RCX, GPR_RDX, GPR_RBX, GPR_RSP, GPR_RBP, GPR_RSI, GPR_RDI };

static const size_t gpr_offset[16] = {
	offsetof(struct vmx_regs, rax), offsetof(struct vmx_regs, rcx),
	offsetof(struct vmx_regs, rdx), offsetof(struct vmx_regs, rbx),
	offsetof(struct vmx_regs, rsp), offsetof(struct vmx_regs, rbp),
	offsetof(struct vmx_regs, rsi), offsetof(struct vmx_regs, rdi),
	offsetof(struct vmx_regs, r8), offsetof(struct vmx_regs, r9),
	offsetof(struct vmx_regs, r10), offsetof(struct vmx_regs, r11),
	offsetof(struct vmx_regs, r12), offsetof(struct vmx_regs, r13),
	offsetof(struct vmx_regs, r14), offsetof(struct vmx_regs, r15),
};

/* A GPR operand: which register, which bytes of it. */
struct gpr {
	unsigned int num;	/* 0-15, encoding order */
	unsigned int shift;	/* 8 for AH/CH/DH/BH */
	unsigned int bytes;	/* 1, 2, 4, 8 */
};

/* A data access split at page boundaries: at most two fragments. */
struct span {
	unsigned int n;
	uint64_t gpa[2];
	unsigned int len[2];
};

/* Everything about the instruction being emulated. */
struct emu {
	struct vmx_regs *regs;		/* working copy */
	const struct vmx_sregs *sregs;
	const struct lv_assist_ops *ops;
	struct lv_fault *fault;
	struct lv_paging pg;
	ZydisMachineMode mode;
	bool long64;			/* 64-bit mode (not compat) */
	bool prot;			/* protected mode, not virtual-8086 */
	unsigned int cpl;
	bool has_exit_page;
	uint64_t exit_page;		/* gpa page the MMIO exit reported */
	ZydisDecodedInstruction insn;
	ZydisDecodedOperand op[ZYDIS_MAX_OPERAND_COUNT];
};

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

static uint64_t mask_bytes(unsigned int bytes)
{
	return bytes >= 8 ? ~0ULL : (1ULL << (bytes * 8)) - 1;
}

static uint64_t sign_extend(uint64_t v, unsigned int bytes)
{
	unsigned int sh = 64 - bytes * 8;

	return bytes >= 8 ? v : (uint64_t)((int64_t)(v << sh) >> sh);
}

static int raise(struct emu *e, uint8_t vector)
{
	e->fault->vector = vector;
	e->fault->has_error_code = true;
	e->fault->error_code = 0;
	e->fault->cr2 = 0;
	return -EACCES;
}

/* A callback error, kept distinct from the assist's own -EACCES. */
static int cb_error(int ret)
{
	return ret == -EACCES ? -EIO : ret;
}

static uint64_t *gpr_slot(struct emu *e, unsigned int num)
{
	return (uint64_t *)((char *)e->regs + gpr_offset[num & 15]);
}

static uint64_t gpr_get(struct emu *e, const struct gpr *g)
{
	return (*gpr_slot(e, g->num) >> g->shift) & mask_bytes(g->bytes);
}

/* Writes as the CPU does: 32-bit results zero-extend, 8/16-bit merge. */
static void gpr_set(struct emu *e, const struct gpr *g, uint64_t v)
{
	uint64_t *slot = gpr_slot(e, g->num);
	uint64_t m = mask_bytes(g->bytes) << g->shift;

	if (g->bytes == 4)
		*slot = v & 0xffffffffULL;
	else
		*slot = (*slot & ~m) | ((v << g->shift) & m);
}

/* Decode a Zydis GPR; false for any other register. */
static bool gpr_decode(ZydisRegister r, struct gpr *g)
{
	g->shift = 0;
	if (r >= ZYDIS_REGISTER_AL && r <= ZYDIS_REGISTER_R15B) {
		unsigned int n = r - ZYDIS_REGISTER_AL;

		/* Enum order: AL..BL, AH..BH, SPL..DIL, R8B..R15B. */
		g->bytes = 1;
		if (n < 4) {
			g->num = n;
		} else if (n < 8) {
			g->num = n - 4;
			g->shift = 8;
		} else {
			g->num = n - 4;
		}
	} else if (r >= ZYDIS_REGISTER_AX && r <= ZYDIS_REGISTER_R15W) {
		g->num = r - ZYDIS_REGISTER_AX;
		g->bytes = 2;
	} else if (r >= ZYDIS_REGISTER_EAX && r <= ZYDIS_REGISTER_R15D) {
		g->num = r - ZYDIS_REGISTER_EAX;
		g->bytes = 4;
	} else if (r >= ZYDIS_REGISTER_RAX && r <= ZYDIS_REGISTER_R15) {
		g->num = r - ZYDIS_REGISTER_RAX;
		g->bytes = 8;
	} else {
		return false;
	}
	return true;
}

static struct gpr gpr_sized(unsigned int num, unsigned int bytes)
{
	return (struct gpr){ .num = num, .bytes = bytes };
}

static unsigned int addr_bytes(const struct emu *e)
{
	return e->insn.address_width / 8;
}

static uint64_t next_rip(const struct emu *e)
{
	uint64_t rip = e->regs->rip + e->insn.length;

	if (e->long64)
		return rip;
	return rip & (e->sregs->cs.db && e->mode != ZYDIS_MACHINE_MODE_REAL_16 ?
		      0xffffffffULL : 0xffffULL);
}

static void update_flags(struct emu *e, uint64_t mask, uint64_t flags)
{
	e->regs->rflags = (e->regs->rflags & ~mask) | (flags & mask);
}

/* ------------------------------------------------------------------ */
/* Machine state                                                       */
/* ------------------------------------------------------------------ */

/*
 * Derive the decoder mode and CPL.  CPL is SS.DPL, which both SVM and VMX
 * keep equal to the current privilege level.
 */
static void emu_init_mode(struct emu *e)
{
	const struct vmx_sregs *s = e->sregs;

	e->long64 = false;
	e->prot = false;
	e->cpl = 0;
	if (!(s->cr0 & LV_CR0_PE)) {
		e->mode = ZYDIS_MACHINE_MODE_REAL_16;
	} else if (e->regs->rflags & LV_RFLAGS_VM) {
		e->mode = ZYDIS_MACHINE_MODE_REAL_16;
		e->cpl = 3;
	} else if (s->efer & LV_EFER_LMA) {
		e->prot = true;
		e->cpl = s->ss.dpl & 3;
		if (s->cs.l) {
			e->mode = ZYDIS_MACHINE_MODE_LONG_64;
			e->long64 = true;
		} else {
			e->mode = s->cs.db ? ZYDIS_MACHINE_MODE_LONG_COMPAT_32 :
					     ZYDIS_MACHINE_MODE_LONG_COMPAT_16;
		}
	} else {
		e->prot = true;
		e->cpl = s->ss.dpl & 3;
		e->mode = s->cs.db ? ZYDIS_MACHINE_MODE_LEGACY_32 :
				     ZYDIS_MACHINE_MODE_LEGACY_16;
	}
}

static int emu_init(struct emu *e, struct vmx_regs *regs,
		    const struct vmx_sregs *sregs,
		    const struct lv_assist_ops *ops, struct lv_fault *fault)
{
	if (!regs || !sregs || !ops || !fault || !ops->read_phys)
		return -EINVAL;
	memset(e, 0, sizeof(*e));
	e->regs = regs;
	e->sregs = sregs;
	e->ops = ops;
	e->fault = fault;
	lv_paging_init(&e->pg, sregs, regs->rflags);
	e->pg.maxphyaddr = ops->maxphyaddr;
	e->pg.flags = ops->walk_flags;
	e->pg.read_phys = ops->read_phys;
	e->pg.write_phys = ops->write_phys;
	e->pg.ctx = ops->ctx;
	emu_init_mode(e);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Segmentation and translation                                        */
/* ------------------------------------------------------------------ */

static const struct vmx_segment *seg_get(const struct emu *e, ZydisRegister r)
{
	const struct vmx_sregs *s = e->sregs;

	switch (r) {
	case ZYDIS_REGISTER_ES: return &s->es;
	case ZYDIS_REGISTER_CS: return &s->cs;
	case ZYDIS_REGISTER_SS: return &s->ss;
	case ZYDIS_REGISTER_FS: return &s->fs;
	case ZYDIS_REGISTER_GS: return &s->gs;
	default: return &s->ds;
	}
}

/* Segment type rules of protected mode for a data access. */
static bool seg_type_ok(const struct vmx_segment *seg, unsigned int acc)
{
	if (seg->unusable || !seg->present)
		return false;
	if (seg->type & SEG_TYPE_CODE)
		return !(acc & LV_ACC_WRITE) && (seg->type & SEG_TYPE_READABLE);
	return !(acc & LV_ACC_WRITE) || (seg->type & SEG_TYPE_WRITABLE);
}

static bool seg_limit_ok(const struct vmx_segment *seg, uint64_t ea,
			 unsigned int size, bool prot)
{
	uint64_t last = ea + size - 1;

	if (prot && !(seg->type & SEG_TYPE_CODE) &&
	    (seg->type & SEG_TYPE_EXPDOWN)) {
		uint64_t top = seg->db ? 0xffffffffULL : 0xffffULL;

		return ea > seg->limit && last <= top;
	}
	return last <= seg->limit;
}

static bool canonical(const struct emu *e, uint64_t la)
{
	unsigned int bits = e->sregs->cr4 & LV_CR4_LA57 ? 57 : 48;
	int64_t s = (int64_t)(la << (64 - bits)) >> (64 - bits);

	return (uint64_t)s == la;
}

/* Offset @ea of a @size-byte access in segment @sr -> linear address. */
static int seg_linear(struct emu *e, ZydisRegister sr, uint64_t ea,
		      unsigned int size, unsigned int acc, uint64_t *la)
{
	const struct vmx_segment *seg = seg_get(e, sr);
	uint8_t vec = sr == ZYDIS_REGISTER_SS ? LV_VEC_SS : LV_VEC_GP;

	if (e->long64) {
		/* Only FS and GS have a base in 64-bit mode, and no limit. */
		*la = ea;
		if (sr == ZYDIS_REGISTER_FS || sr == ZYDIS_REGISTER_GS)
			*la += seg->base;
		if (!canonical(e, *la) || !canonical(e, *la + size - 1))
			return raise(e, vec);
		return 0;
	}
	if (e->prot && !seg_type_ok(seg, acc))
		return raise(e, vec);
	if (!seg_limit_ok(seg, ea, size, e->prot))
		return raise(e, vec);
	*la = (seg->base + ea) & 0xffffffffULL;
	return 0;
}

static int xlate(struct emu *e, uint64_t la, unsigned int acc, uint64_t *gpa)
{
	struct lv_xlate x;
	int ret;

	if (e->cpl == 3)
		acc |= LV_ACC_USER;
	ret = lv_walk(&e->pg, la, acc, &x, e->fault);
	if (ret)
		return ret;
	*gpa = x.gpa;
	return 0;
}

/*
 * Check and translate a whole access before any byte moves, so that a
 * fault on its second page leaves nothing half done.
 */
static int mem_map(struct emu *e, ZydisRegister sr, uint64_t ea,
		   unsigned int size, unsigned int acc, struct span *sp)
{
	uint64_t la, la2, lamask = e->long64 ? ~0ULL : 0xffffffffULL;
	unsigned int first;
	int ret;

	ret = seg_linear(e, sr, ea, size, acc, &la);
	if (ret)
		return ret;
	first = PAGE_SIZE - (la & (PAGE_SIZE - 1));
	if (first > size)
		first = size;
	sp->n = 1;
	sp->len[0] = first;
	ret = xlate(e, la, acc, &sp->gpa[0]);
	if (ret || first == size)
		return ret;
	la2 = (la + first) & lamask;
	sp->n = 2;
	sp->len[1] = size - first;
	return xlate(e, la2, acc, &sp->gpa[1]);
}

/*
 * One fragment of a data access.  The page the exit reported is the
 * device; elsewhere RAM is tried first and the device gets what is not
 * RAM (an MMIO access that crosses into another device page, MOVS
 * between two devices, INS/OUTS on MMIO).
 */
static int phys_access(struct emu *e, uint64_t gpa, void *buf,
		       unsigned int len, bool write)
{
	const struct lv_assist_ops *o = e->ops;
	int ret = -EFAULT;

	if (!e->has_exit_page || (gpa & PAGE_MASK) != e->exit_page) {
		if (write && o->write_phys)
			ret = o->write_phys(o->ctx, gpa, buf, len);
		else if (!write)
			ret = o->read_phys(o->ctx, gpa, buf, len);
		if (ret != -EFAULT)
			return cb_error(ret);
	}
	if (!o->mmio)
		return -EFAULT;
	return cb_error(o->mmio(o->ctx, gpa, buf, len, write));
}

static int span_io(struct emu *e, const struct span *sp, uint64_t *val,
		   bool write)
{
	uint8_t buf[8] = { 0 };
	unsigned int i, off = 0;
	int ret;

	if (write)
		memcpy(buf, val, sizeof(buf));
	for (i = 0; i < sp->n; i++) {
		ret = phys_access(e, sp->gpa[i], buf + off, sp->len[i], write);
		if (ret)
			return ret;
		off += sp->len[i];
	}
	if (!write) {
		*val = 0;
		memcpy(val, buf, off);
	}
	return 0;
}

static int span_read(struct emu *e, const struct span *sp, uint64_t *val)
{
	return span_io(e, sp, val, false);
}

static int span_write(struct emu *e, const struct span *sp, uint64_t val)
{
	return span_io(e, sp, &val, true);
}

/* ------------------------------------------------------------------ */
/* Fetch and decode                                                    */
/* ------------------------------------------------------------------ */

static int fetch_bytes(struct emu *e, uint64_t la, uint8_t *buf,
		       unsigned int len)
{
	uint64_t gpa;
	int ret;

	ret = xlate(e, la, LV_ACC_FETCH, &gpa);
	if (ret)
		return ret;
	return cb_error(e->ops->read_phys(e->ops->ctx, gpa, buf, len));
}

/*
 * Zydis 4.0.0 decodes SIB.base = 101 with ModRM.mod = 00 under a 67 prefix
 * and REX.B in 64-bit mode as [r13d] with no displacement; the CPU takes
 * it as "no base, disp32" like every other SIB.base = 101, mod = 00 form.
 * Repair the operand from the raw fields.
 */
static void decode_fixup(struct emu *e)
{
	const ZydisDecodedInstruction *in = &e->insn;
	unsigned int i;

	if (!(in->attributes & ZYDIS_ATTRIB_HAS_SIB) || in->raw.modrm.mod != 0 ||
	    (in->raw.sib.base & 7) != 5 || in->raw.disp.size != 32)
		return;
	for (i = 0; i < in->operand_count_visible; i++) {
		ZydisDecodedOperandMem *m = &e->op[i].mem;

		if (e->op[i].type != ZYDIS_OPERAND_TYPE_MEMORY ||
		    m->base == ZYDIS_REGISTER_NONE)
			continue;
		m->base = ZYDIS_REGISTER_NONE;
		m->disp.has_displacement = ZYAN_TRUE;
		m->disp.value = in->raw.disp.value;
	}
}

static bool code32(const struct emu *e)
{
	return e->mode == ZYDIS_MACHINE_MODE_LEGACY_32 ||
	       e->mode == ZYDIS_MACHINE_MODE_LONG_COMPAT_32;
}

/* The common MOVs through quickdec.c, everything else through Zydis. */
static ZyanStatus decode(struct emu *e, const uint8_t *buf, unsigned int len)
{
	ZydisDecoder dec;
	ZydisStackWidth sw;
	ZyanStatus st;

	if ((e->long64 || code32(e)) &&
	    !lv_quick_decode(e->long64, buf, len, &e->insn, e->op))
		return ZYAN_STATUS_SUCCESS;
	if (e->long64)
		sw = ZYDIS_STACK_WIDTH_64;
	else
		sw = e->sregs->ss.db ? ZYDIS_STACK_WIDTH_32 : ZYDIS_STACK_WIDTH_16;
	st = ZydisDecoderInit(&dec, e->mode, sw);
	if (!ZYAN_SUCCESS(st))
		return st;
	st = ZydisDecoderDecodeFull(&dec, buf, len, &e->insn, e->op);
	if (ZYAN_SUCCESS(st))
		decode_fixup(e);
	return st;
}

/*
 * How many bytes may be fetched at CS:RIP: 15, less what lies beyond the
 * CS limit outside 64-bit mode.  Sets *la.
 */
static int fetch_window(struct emu *e, uint64_t *la, unsigned int *avail)
{
	const struct vmx_segment *cs = &e->sregs->cs;
	uint64_t ip = e->regs->rip;

	*avail = MAX_INSN_LEN;
	if (e->long64) {
		*la = ip;
		return 0;
	}
	ip &= 0xffffffffULL;
	if (ip > cs->limit)
		return raise(e, LV_VEC_GP);
	if (cs->limit - ip + 1 < *avail)
		*avail = cs->limit - ip + 1;
	*la = (cs->base + ip) & 0xffffffffULL;
	return 0;
}

/*
 * Fetch what is on RIP's page and decode; fetch the next page only if the
 * instruction needs it, so that a short instruction at the end of a page
 * does not fault on the page after it.
 */
static int fetch_decode(struct emu *e)
{
	uint8_t buf[MAX_INSN_LEN];
	unsigned int avail, n;
	uint64_t la;
	ZyanStatus st;
	int ret;

	ret = fetch_window(e, &la, &avail);
	if (ret)
		return ret;
	n = PAGE_SIZE - (la & (PAGE_SIZE - 1));
	if (n > avail)
		n = avail;
	ret = fetch_bytes(e, la, buf, n);
	if (ret)
		return ret;
	st = decode(e, buf, n);
	if (st == ZYDIS_STATUS_NO_MORE_DATA && n < avail) {
		uint64_t la2 = (la + n) & (e->long64 ? ~0ULL : 0xffffffffULL);

		ret = fetch_bytes(e, la2, buf + n, avail - n);
		if (ret)
			return ret;
		n = avail;
		st = decode(e, buf, n);
	}
	/* Running into the CS limit mid-instruction is a #GP. */
	if (st == ZYDIS_STATUS_NO_MORE_DATA && avail < MAX_INSN_LEN)
		return raise(e, LV_VEC_GP);
	return ZYAN_SUCCESS(st) ? 0 : -EOPNOTSUPP;
}

/* Use the bytes the CPU gave with the exit, else fetch them. */
static int get_insn(struct emu *e, const uint8_t *insn, unsigned int len)
{
	ZyanStatus st;

	if (insn && len) {
		if (len > MAX_INSN_LEN)
			len = MAX_INSN_LEN;
		st = decode(e, insn, len);
		if (ZYAN_SUCCESS(st))
			return 0;
		if (st != ZYDIS_STATUS_NO_MORE_DATA)
			return -EOPNOTSUPP;
	}
	return fetch_decode(e);
}

/* ------------------------------------------------------------------ */
/* Operands                                                            */
/* ------------------------------------------------------------------ */

static bool opnd_is_mem(const ZydisDecodedOperand *op)
{
	return op->type == ZYDIS_OPERAND_TYPE_MEMORY;
}

/* Only GPRs, immediates and plain memory operands are ours. */
static bool opnds_supported(const struct emu *e)
{
	unsigned int i, nmem = 0;
	struct gpr g;

	for (i = 0; i < e->insn.operand_count_visible; i++) {
		const ZydisDecodedOperand *op = &e->op[i];

		switch (op->type) {
		case ZYDIS_OPERAND_TYPE_REGISTER:
			if (!gpr_decode(op->reg.value, &g))
				return false;
			break;
		case ZYDIS_OPERAND_TYPE_MEMORY:
			if (op->mem.type != ZYDIS_MEMOP_TYPE_MEM)
				return false;
			nmem++;
			break;
		case ZYDIS_OPERAND_TYPE_IMMEDIATE:
			break;
		default:
			return false;
		}
	}
	return nmem == 1;
}

static uint64_t reg_or_imm(struct emu *e, const ZydisDecodedOperand *op,
			   unsigned int bytes)
{
	struct gpr g;

	if (op->type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
		return op->imm.value.u & mask_bytes(bytes);
	gpr_decode(op->reg.value, &g);
	return gpr_get(e, &g);
}

static void reg_store(struct emu *e, const ZydisDecodedOperand *op,
		      uint64_t v)
{
	struct gpr g;

	gpr_decode(op->reg.value, &g);
	gpr_set(e, &g, v);
}

static uint64_t reg_value(struct emu *e, ZydisRegister r)
{
	struct gpr g;

	return gpr_decode(r, &g) ? gpr_get(e, &g) : 0;
}

/* Effective address (offset in the segment) of a memory operand. */
static uint64_t mem_ea(struct emu *e, const ZydisDecodedOperand *op)
{
	const ZydisDecodedOperandMem *m = &op->mem;
	uint64_t ea = (uint64_t)m->disp.value;

	if (m->base == ZYDIS_REGISTER_RIP || m->base == ZYDIS_REGISTER_EIP)
		ea += e->regs->rip + e->insn.length;
	else
		ea += reg_value(e, m->base);
	if (m->index != ZYDIS_REGISTER_NONE)
		ea += reg_value(e, m->index) * m->scale;
	return ea & mask_bytes(addr_bytes(e));
}

/*
 * The segment of a memory operand.  64-bit mode ignores ES/CS/SS/DS
 * overrides; what remains matters only for the fault a non-canonical
 * address raises: #SS for RSP/RBP-based addresses, else #GP.
 */
static ZydisRegister mem_seg(const struct emu *e, const ZydisDecodedOperand *op)
{
	ZydisRegister b = op->mem.base;

	if (!e->long64 || op->mem.segment == ZYDIS_REGISTER_FS ||
	    op->mem.segment == ZYDIS_REGISTER_GS)
		return op->mem.segment;
	if (b == ZYDIS_REGISTER_RSP || b == ZYDIS_REGISTER_RBP ||
	    b == ZYDIS_REGISTER_ESP || b == ZYDIS_REGISTER_EBP)
		return ZYDIS_REGISTER_SS;
	return ZYDIS_REGISTER_DS;
}

/* Map the memory operand @op, moved @adj bytes (BT's bit offset). */
static int mem_map_op(struct emu *e, const ZydisDecodedOperand *op,
		      int64_t adj, unsigned int acc, struct span *sp)
{
	uint64_t ea = (mem_ea(e, op) + (uint64_t)adj) &
		      mask_bytes(addr_bytes(e));

	if (op->size == 0 || op->size > 64 || op->size % 8)
		return -EOPNOTSUPP;
	return mem_map(e, mem_seg(e, op), ea, op->size / 8, acc, sp);
}

static int mem_load(struct emu *e, const ZydisDecodedOperand *op,
		    uint64_t *v)
{
	struct span sp;
	int ret;

	ret = mem_map_op(e, op, 0, 0, &sp);
	return ret ? ret : span_read(e, &sp, v);
}

/* ------------------------------------------------------------------ */
/* Arithmetic                                                          */
/* ------------------------------------------------------------------ */

enum alu_op {
	ALU_ADD, ALU_ADC, ALU_SUB, ALU_SBB, ALU_CMP, ALU_AND, ALU_OR, ALU_XOR,
	ALU_TEST, ALU_INC, ALU_DEC, ALU_NEG, ALU_NOT,
};

static bool parity_even(uint64_t v)
{
	return !__builtin_parity((unsigned int)(v & 0xff));
}

/* ZF, SF, PF of a result. */
static uint64_t flags_szp(uint64_t res, unsigned int bytes)
{
	uint64_t f = 0;

	res &= mask_bytes(bytes);
	if (!res)
		f |= LV_RFLAGS_ZF;
	if (res >> (bytes * 8 - 1))
		f |= LV_RFLAGS_SF;
	if (parity_even(res))
		f |= LV_RFLAGS_PF;
	return f;
}

static uint64_t alu_add(uint64_t a, uint64_t b, unsigned int c,
			unsigned int bytes, uint64_t *flags)
{
	unsigned int top = bytes * 8 - 1;
	unsigned __int128 wide = (unsigned __int128)a + b + c;
	uint64_t res = (uint64_t)wide & mask_bytes(bytes);
	uint64_t f = flags_szp(res, bytes);

	if ((wide >> (top + 1)) & 1)
		f |= LV_RFLAGS_CF;
	if ((((a ^ res) & (b ^ res)) >> top) & 1)
		f |= LV_RFLAGS_OF;
	if ((a ^ b ^ res) & 0x10)
		f |= LV_RFLAGS_AF;
	*flags = f;
	return res;
}

static uint64_t alu_sub(uint64_t a, uint64_t b, unsigned int c,
			unsigned int bytes, uint64_t *flags)
{
	unsigned int top = bytes * 8 - 1;
	uint64_t res = (a - b - c) & mask_bytes(bytes);
	uint64_t f = flags_szp(res, bytes);

	if ((unsigned __int128)a < (unsigned __int128)b + c)
		f |= LV_RFLAGS_CF;
	if ((((a ^ b) & (a ^ res)) >> top) & 1)
		f |= LV_RFLAGS_OF;
	if ((a ^ b ^ res) & 0x10)
		f |= LV_RFLAGS_AF;
	*flags = f;
	return res;
}

/*
 * a OP b on @bytes-wide operands.  Returns the result; *fmask receives
 * which RFLAGS bits the operation defines and *flags their values.
 */
static uint64_t alu(enum alu_op op, uint64_t a, uint64_t b, unsigned int bytes,
		    uint64_t rflags, uint64_t *flags, uint64_t *fmask)
{
	unsigned int cf = !!(rflags & LV_RFLAGS_CF);
	uint64_t res;

	*fmask = LV_RFLAGS_ARITH;
	switch (op) {
	case ALU_ADD: return alu_add(a, b, 0, bytes, flags);
	case ALU_ADC: return alu_add(a, b, cf, bytes, flags);
	case ALU_SUB:
	case ALU_CMP: return alu_sub(a, b, 0, bytes, flags);
	case ALU_SBB: return alu_sub(a, b, cf, bytes, flags);
	case ALU_NEG: return alu_sub(0, a, 0, bytes, flags);
	case ALU_INC:
	case ALU_DEC:
		/* INC and DEC leave CF alone. */
		*fmask &= ~LV_RFLAGS_CF;
		if (op == ALU_INC)
			return alu_add(a, 1, 0, bytes, flags);
		return alu_sub(a, 1, 0, bytes, flags);
	case ALU_NOT:
		*fmask = 0;
		*flags = 0;
		return ~a & mask_bytes(bytes);
	case ALU_AND:
	case ALU_TEST: res = a & b; break;
	case ALU_OR: res = a | b; break;
	default: res = a ^ b; break;
	}
	/* Logic: CF = OF = 0; AF undefined, cleared. */
	*flags = flags_szp(res, bytes);
	return res & mask_bytes(bytes);
}

/* ------------------------------------------------------------------ */
/* Instructions with one explicit memory operand                       */
/* ------------------------------------------------------------------ */

static int ex_mov(struct emu *e)
{
	const ZydisDecodedOperand *dst = &e->op[0], *src = &e->op[1];
	struct span sp;
	uint64_t v;
	int ret;

	if (opnd_is_mem(dst)) {
		ret = mem_map_op(e, dst, 0, LV_ACC_WRITE, &sp);
		if (ret)
			return ret;
		return span_write(e, &sp, reg_or_imm(e, src, dst->size / 8));
	}
	ret = mem_load(e, src, &v);
	if (ret)
		return ret;
	reg_store(e, dst, v);
	return 0;
}

/* MOVZX, MOVSX, MOVSXD: load and widen into the register. */
static int ex_movx(struct emu *e, bool sign)
{
	const ZydisDecodedOperand *dst = &e->op[0], *src = &e->op[1];
	uint64_t v;
	int ret;

	if (opnd_is_mem(dst))
		return -EOPNOTSUPP;
	ret = mem_load(e, src, &v);
	if (ret)
		return ret;
	if (sign)
		v = sign_extend(v, src->size / 8);
	reg_store(e, dst, v);
	return 0;
}

static int ex_alu(struct emu *e, enum alu_op op)
{
	const ZydisDecodedOperand *dst = &e->op[0], *src = &e->op[1];
	bool unary = op == ALU_INC || op == ALU_DEC || op == ALU_NEG ||
		     op == ALU_NOT;
	bool writes = op != ALU_CMP && op != ALU_TEST;
	unsigned int bytes = dst->size / 8;
	uint64_t a, b = 0, res, flags, fmask;
	struct span sp;
	int ret;

	if (opnd_is_mem(dst)) {
		ret = mem_map_op(e, dst, 0, writes ? LV_ACC_WRITE : 0, &sp);
		if (!ret)
			ret = span_read(e, &sp, &a);
		if (ret)
			return ret;
		if (!unary)
			b = reg_or_imm(e, src, bytes);
	} else {
		a = reg_or_imm(e, dst, bytes);
		ret = mem_load(e, src, &b);
		if (ret)
			return ret;
	}
	res = alu(op, a, b, bytes, e->regs->rflags, &flags, &fmask);
	if (writes && opnd_is_mem(dst)) {
		ret = span_write(e, &sp, res);
		if (ret)
			return ret;
	} else if (writes) {
		reg_store(e, dst, res);
	}
	update_flags(e, fmask, flags);
	return 0;
}

static int ex_xchg(struct emu *e)
{
	const ZydisDecodedOperand *mem = &e->op[0], *reg = &e->op[1];
	struct span sp;
	uint64_t old;
	int ret;

	if (!opnd_is_mem(mem)) {
		mem = &e->op[1];
		reg = &e->op[0];
	}
	ret = mem_map_op(e, mem, 0, LV_ACC_WRITE, &sp);
	if (!ret)
		ret = span_read(e, &sp, &old);
	if (!ret)
		ret = span_write(e, &sp, reg_or_imm(e, reg, mem->size / 8));
	if (ret)
		return ret;
	reg_store(e, reg, old);
	return 0;
}

enum bt_op { BT_TEST, BT_SET, BT_RESET, BT_COMPLEMENT };

/*
 * BT family on memory.  A register bit offset is signed and may reach
 * outside the operand: the access moves by whole operands.  An immediate
 * offset is taken modulo the operand width.
 */
static int ex_bt(struct emu *e, enum bt_op op)
{
	const ZydisDecodedOperand *base = &e->op[0], *off = &e->op[1];
	unsigned int bytes = base->size / 8, bits = base->size;
	int64_t adj = 0, bitoff;
	uint64_t v, bit, cf;
	struct span sp;
	int ret;

	if (!opnd_is_mem(base) || !bytes)
		return -EOPNOTSUPP;
	bitoff = (int64_t)sign_extend(reg_or_imm(e, off, bytes), bytes);
	if (off->type == ZYDIS_OPERAND_TYPE_REGISTER) {
		/* Floor division by the width: arithmetic shift. */
		adj = (bitoff >> __builtin_ctz(bits)) * (int64_t)bytes;
	}
	bit = 1ULL << ((uint64_t)bitoff & (bits - 1));
	ret = mem_map_op(e, base, adj, op == BT_TEST ? 0 : LV_ACC_WRITE, &sp);
	if (!ret)
		ret = span_read(e, &sp, &v);
	if (ret)
		return ret;
	cf = v & bit ? LV_RFLAGS_CF : 0;
	if (op == BT_SET)
		ret = span_write(e, &sp, v | bit);
	else if (op == BT_RESET)
		ret = span_write(e, &sp, v & ~bit);
	else if (op == BT_COMPLEMENT)
		ret = span_write(e, &sp, v ^ bit);
	if (ret)
		return ret;
	update_flags(e, LV_RFLAGS_CF, cf);
	return 0;
}

/* ------------------------------------------------------------------ */
/* String instructions                                                 */
/* ------------------------------------------------------------------ */

struct str_op {
	uint8_t opcode;			/* OP_* (even form) */
	unsigned int size;		/* element bytes */
	unsigned int abytes;		/* address size, bytes */
	bool rep;
	ZydisRegister src_seg;		/* DS or override: MOVS/LODS/OUTS */
	uint16_t port;			/* INS/OUTS */
};

static int64_t str_step(const struct emu *e, const struct str_op *s)
{
	return e->regs->rflags & LV_RFLAGS_DF ? -(int64_t)s->size : s->size;
}

/* RSI/RDI += step, at the address size (SI/ESI writes as the CPU does). */
static void str_advance(struct emu *e, const struct str_op *s,
			unsigned int num)
{
	struct gpr g = gpr_sized(num, s->abytes);

	gpr_set(e, &g, gpr_get(e, &g) + (uint64_t)str_step(e, s));
}

static int str_map(struct emu *e, const struct str_op *s, unsigned int num,
		   ZydisRegister seg, unsigned int acc, struct span *sp)
{
	struct gpr g = gpr_sized(num, s->abytes);

	return mem_map(e, seg, gpr_get(e, &g), s->size, acc, sp);
}

/* One iteration; all checks and translations before any data moves. */
static int str_iter(struct emu *e, const struct str_op *s)
{
	struct gpr acc = gpr_sized(GPR_RAX, s->size);
	struct span src, dst;
	uint64_t v = 0;
	int ret = 0;

	if (s->opcode == OP_MOVS || s->opcode == OP_LODS || s->opcode == OP_OUTS)
		ret = str_map(e, s, GPR_RSI, s->src_seg, 0, &src);
	if (!ret && (s->opcode == OP_MOVS || s->opcode == OP_STOS ||
		     s->opcode == OP_INS))
		ret = str_map(e, s, GPR_RDI, ZYDIS_REGISTER_ES, LV_ACC_WRITE,
			      &dst);
	if (ret)
		return ret;

	switch (s->opcode) {
	case OP_MOVS:
		ret = span_read(e, &src, &v);
		if (!ret)
			ret = span_write(e, &dst, v);
		break;
	case OP_STOS:
		ret = span_write(e, &dst, gpr_get(e, &acc));
		break;
	case OP_LODS:
		ret = span_read(e, &src, &v);
		if (!ret)
			gpr_set(e, &acc, v);
		break;
	case OP_INS:
		ret = cb_error(e->ops->pio(e->ops->ctx, s->port, &v, s->size,
					   false));
		if (!ret)
			ret = span_write(e, &dst, v);
		break;
	case OP_OUTS:
		ret = span_read(e, &src, &v);
		if (!ret)
			ret = cb_error(e->ops->pio(e->ops->ctx, s->port, &v,
						   s->size, true));
		break;
	}
	if (ret)
		return ret;
	if (s->opcode != OP_STOS && s->opcode != OP_INS)
		str_advance(e, s, GPR_RSI);
	if (s->opcode != OP_LODS && s->opcode != OP_OUTS)
		str_advance(e, s, GPR_RDI);
	return 0;
}

/* str_run(): a REP chunk is done but RCX is not zero yet. */
#define STR_MORE		1

/*
 * Run a string instruction: once, or with REP up to LV_ASSIST_REP_MAX
 * iterations.  RIP moves on only when the instruction is complete.
 */
static int str_run(struct emu *e, const struct str_op *s)
{
	struct gpr cnt = gpr_sized(GPR_RCX, s->abytes);
	unsigned int i;
	int ret;

	if (!s->rep)
		return str_iter(e, s);
	for (i = 0; i < LV_ASSIST_REP_MAX && gpr_get(e, &cnt); i++) {
		ret = str_iter(e, s);
		if (ret)
			return ret;
		gpr_set(e, &cnt, gpr_get(e, &cnt) - 1);
	}
	return gpr_get(e, &cnt) ? STR_MORE : 0;
}

static bool insn_has_rep(const struct emu *e)
{
	/* F2 acts as REP too on MOVS/STOS/LODS/INS/OUTS. */
	return e->insn.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE |
				     ZYDIS_ATTRIB_HAS_REPNE);
}

/* Source segment of MOVS/LODS/OUTS: DS unless overridden. */
static ZydisRegister insn_src_seg(const struct emu *e)
{
	static const struct {
		ZyanU64 attr;
		ZydisRegister seg;
	} ovr[] = {
		{ ZYDIS_ATTRIB_HAS_SEGMENT_ES, ZYDIS_REGISTER_ES },
		{ ZYDIS_ATTRIB_HAS_SEGMENT_CS, ZYDIS_REGISTER_CS },
		{ ZYDIS_ATTRIB_HAS_SEGMENT_SS, ZYDIS_REGISTER_SS },
		{ ZYDIS_ATTRIB_HAS_SEGMENT_FS, ZYDIS_REGISTER_FS },
		{ ZYDIS_ATTRIB_HAS_SEGMENT_GS, ZYDIS_REGISTER_GS },
	};
	unsigned int i;

	for (i = 0; i < sizeof(ovr) / sizeof(ovr[0]); i++)
		if (e->insn.attributes & ovr[i].attr)
			return ovr[i].seg;
	return ZYDIS_REGISTER_DS;
}

/* The one-byte string opcodes, even (byte) form; 0 if not one. */
static uint8_t insn_string_opcode(const struct emu *e)
{
	uint8_t op = e->insn.opcode & ~1;

	if (e->insn.encoding != ZYDIS_INSTRUCTION_ENCODING_LEGACY ||
	    e->insn.opcode_map != ZYDIS_OPCODE_MAP_DEFAULT)
		return 0;
	switch (op) {
	case OP_INS: case OP_OUTS: case OP_MOVS: case OP_STOS: case OP_LODS:
		return op;
	}
	return 0;
}

static int ex_string(struct emu *e, uint8_t opcode)
{
	struct str_op s = {
		.opcode = opcode,
		.abytes = addr_bytes(e),
		.rep = insn_has_rep(e),
		.src_seg = insn_src_seg(e),
	};

	/* Only MMIO string instructions come here; INS/OUTS exit as I/O. */
	if (opcode == OP_INS || opcode == OP_OUTS)
		return -EOPNOTSUPP;
	s.size = e->insn.opcode & 1 ? e->insn.operand_width / 8 : 1;
	return str_run(e, &s);
}

/* ------------------------------------------------------------------ */
/* Dispatch                                                            */
/* ------------------------------------------------------------------ */

static int ex_dispatch(struct emu *e)
{
	uint8_t sop = insn_string_opcode(e);

	if (sop)
		return ex_string(e, sop);
	if (e->insn.encoding != ZYDIS_INSTRUCTION_ENCODING_LEGACY ||
	    !opnds_supported(e))
		return -EOPNOTSUPP;

	switch (e->insn.mnemonic) {
	case ZYDIS_MNEMONIC_MOV:
	case ZYDIS_MNEMONIC_MOVNTI:	return ex_mov(e);
	case ZYDIS_MNEMONIC_MOVZX:	return ex_movx(e, false);
	case ZYDIS_MNEMONIC_MOVSX:
	case ZYDIS_MNEMONIC_MOVSXD:	return ex_movx(e, true);
	case ZYDIS_MNEMONIC_ADD:	return ex_alu(e, ALU_ADD);
	case ZYDIS_MNEMONIC_ADC:	return ex_alu(e, ALU_ADC);
	case ZYDIS_MNEMONIC_SUB:	return ex_alu(e, ALU_SUB);
	case ZYDIS_MNEMONIC_SBB:	return ex_alu(e, ALU_SBB);
	case ZYDIS_MNEMONIC_CMP:	return ex_alu(e, ALU_CMP);
	case ZYDIS_MNEMONIC_AND:	return ex_alu(e, ALU_AND);
	case ZYDIS_MNEMONIC_OR:		return ex_alu(e, ALU_OR);
	case ZYDIS_MNEMONIC_XOR:	return ex_alu(e, ALU_XOR);
	case ZYDIS_MNEMONIC_TEST:	return ex_alu(e, ALU_TEST);
	case ZYDIS_MNEMONIC_INC:	return ex_alu(e, ALU_INC);
	case ZYDIS_MNEMONIC_DEC:	return ex_alu(e, ALU_DEC);
	case ZYDIS_MNEMONIC_NEG:	return ex_alu(e, ALU_NEG);
	case ZYDIS_MNEMONIC_NOT:	return ex_alu(e, ALU_NOT);
	case ZYDIS_MNEMONIC_XCHG:	return ex_xchg(e);
	case ZYDIS_MNEMONIC_BT:		return ex_bt(e, BT_TEST);
	case ZYDIS_MNEMONIC_BTS:	return ex_bt(e, BT_SET);
	case ZYDIS_MNEMONIC_BTR:	return ex_bt(e, BT_RESET);
	case ZYDIS_MNEMONIC_BTC:	return ex_bt(e, BT_COMPLEMENT);
	default:			return -EOPNOTSUPP;
	}
}

/*
 * Commit the working copy.  Handlers change registers only once all their
 * memory accesses are done, so after an error the copy holds either the
 * original values or, for a REP instruction, the iterations completed.
 * RIP moves only when the instruction is complete.
 */
static int emu_finish(struct emu *e, struct vmx_regs *out, int ret)
{
	if (!ret)
		e->regs->rip = next_rip(e);
	*out = *e->regs;
	/* A REP chunk is done: the guest executes the instruction again. */
	return ret == STR_MORE ? 0 : ret;
}

int lv_assist_mmio(struct vmx_regs *regs, const struct vmx_sregs *sregs,
		   uint64_t gpa, const uint8_t *insn, unsigned int insn_len,
		   const struct lv_assist_ops *ops, struct lv_fault *fault)
{
	struct vmx_regs work;
	struct emu e;
	int ret;

	if (!regs)
		return -EINVAL;
	work = *regs;
	ret = emu_init(&e, &work, sregs, ops, fault);
	if (ret)
		return ret;
	e.has_exit_page = true;
	e.exit_page = gpa & PAGE_MASK;
	ret = get_insn(&e, insn, insn_len);
	if (ret)
		return ret;
	return emu_finish(&e, regs, ex_dispatch(&e));
}

/* ------------------------------------------------------------------ */
/* String port I/O                                                     */
/* ------------------------------------------------------------------ */

static const ZydisRegister io_seg[6] = {
	ZYDIS_REGISTER_ES, ZYDIS_REGISTER_CS, ZYDIS_REGISTER_SS,
	ZYDIS_REGISTER_DS, ZYDIS_REGISTER_FS, ZYDIS_REGISTER_GS,
};

static bool string_io_valid(const struct lv_string_io *io,
			    const struct lv_assist_ops *ops)
{
	if (!io || !ops || !ops->pio)
		return false;
	if (io->size != 1 && io->size != 2 && io->size != 4)
		return false;
	if (io->addr_size && io->addr_size != 16 && io->addr_size != 32 &&
	    io->addr_size != 64)
		return false;
	return io->seg < 6 && io->insn_len <= MAX_INSN_LEN;
}

/*
 * Without a length or address size in the exit, decode the instruction
 * for them, and check that it is the INS/OUTS the exit describes.
 */
static int string_io_decode(struct emu *e, const struct lv_string_io *io,
			    struct str_op *s)
{
	uint8_t want = io->is_out ? OP_OUTS : OP_INS;
	int ret;

	ret = fetch_decode(e);
	if (ret)
		return ret;
	if (insn_string_opcode(e) != want)
		return -EINVAL;
	s->abytes = addr_bytes(e);
	s->src_seg = insn_src_seg(e);
	s->rep = insn_has_rep(e);
	return 0;
}

int lv_assist_string_io(struct vmx_regs *regs, const struct vmx_sregs *sregs,
			const struct lv_string_io *io,
			const struct lv_assist_ops *ops, struct lv_fault *fault)
{
	struct vmx_regs work;
	struct str_op s;
	struct emu e;
	int ret;

	if (!regs || !string_io_valid(io, ops))
		return -EINVAL;
	work = *regs;
	ret = emu_init(&e, &work, sregs, ops, fault);
	if (ret)
		return ret;
	s = (struct str_op){
		.opcode = io->is_out ? OP_OUTS : OP_INS,
		.size = io->size,
		.abytes = io->addr_size / 8,
		.rep = io->rep,
		.src_seg = io_seg[io->seg],
		.port = io->port,
	};
	if (!io->insn_len || !io->addr_size) {
		ret = string_io_decode(&e, io, &s);
		if (ret)
			return ret;
	} else {
		e.insn.length = io->insn_len;
		e.insn.address_width = io->addr_size;
	}
	if (s.abytes == 8 && !e.long64)
		return -EINVAL;
	ret = str_run(&e, &s);
	return emu_finish(&e, regs, ret);
}

int lv_assist(struct vmx_regs *regs, const struct vmx_sregs *sregs,
	      const struct vmx_run *run, const struct lv_assist_ops *ops,
	      struct lv_fault *fault)
{
	struct lv_string_io io;

	if (!run)
		return -EINVAL;
	switch (run->exit_reason) {
	case VMX_EXIT_MMIO:
		/* Code in MMIO cannot be emulated. */
		if (run->mmio.is_fetch)
			return -EFAULT;
		return lv_assist_mmio(regs, sregs, run->mmio.gpa, run->mmio.insn,
				      run->mmio.insn_len, ops, fault);
	case VMX_EXIT_IO:
		if (!run->io.string)
			return -EINVAL;
		io = (struct lv_string_io){
			.port = run->io.port,
			.size = run->io.size,
			.is_out = run->io.direction == VMX_IO_OUT,
			.rep = run->io.rep,
			.addr_size = run->io.addr_size,
			.seg = run->io.seg,
			.insn_len = run->io.insn_len,
		};
		return lv_assist_string_io(regs, sregs, &io, ops, fault);
	default:
		return -EINVAL;
	}
}
