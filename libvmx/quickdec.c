// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The assist's fast path: a decoder for the MOVs that MMIO is made of.
 *
 * Linux's readb()..writeq() and nearly every driver's register access are
 * one MOV between a general register (or an immediate) and memory.  Zydis
 * spends about 1100 instructions on such a MOV, as much as the kernel's
 * whole round trip for a port write; this file decodes those encodings
 * in 32- and 64-bit code straight into Zydis's structures, so that the
 * assist executes them unchanged.  Anything else (another opcode, a
 * register-only form, LOCK/REP, 67h, two segment prefixes, 16-bit code,
 * bytes running out) is refused and goes to Zydis, which stays the
 * authority.  tests/assist_test.c compares the two over the decoder
 * corpus, field by field and by what the assist then does.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "quickdec.h"

bool lv_quick_decode_enabled = true;

/* What the prefixes said. */
struct quick_pfx {
	bool osize;			/* 66h */
	ZydisRegister seg;		/* segment override, or NONE */
	uint8_t rex;			/* 0 when none */
};

static ZydisRegister seg_override(uint8_t b)
{
	switch (b) {
	case 0x26: return ZYDIS_REGISTER_ES;
	case 0x2e: return ZYDIS_REGISTER_CS;
	case 0x36: return ZYDIS_REGISTER_SS;
	case 0x3e: return ZYDIS_REGISTER_DS;
	case 0x64: return ZYDIS_REGISTER_FS;
	case 0x65: return ZYDIS_REGISTER_GS;
	default:   return ZYDIS_REGISTER_NONE;
	}
}

/*
 * Read 66h, one segment override and, in 64-bit mode, a REX right before
 * the opcode.  Returns the opcode's position, or NULL to leave it to Zydis.
 */
static const uint8_t *read_prefixes(const uint8_t *p, const uint8_t *end,
				    bool long64, struct quick_pfx *pfx)
{
	ZydisRegister seg;

	memset(pfx, 0, sizeof(*pfx));
	pfx->seg = ZYDIS_REGISTER_NONE;
	for (; p < end; p++) {
		if (*p == 0x66) {
			pfx->osize = true;
			continue;
		}
		seg = seg_override(*p);
		if (seg == ZYDIS_REGISTER_NONE)
			break;
		if (pfx->seg != ZYDIS_REGISTER_NONE)
			return NULL;
		pfx->seg = seg;
	}
	if (p < end && long64 && (*p & 0xf0) == 0x40)
		pfx->rex = *p++;
	return p < end ? p : NULL;
}

/* Zydis's name of general register @num (0-15) used at @bytes. */
static ZydisRegister gpr_reg(unsigned int num, unsigned int bytes, bool rex)
{
	switch (bytes) {
	case 1:
		/* AL..BL, then AH..BH without REX, SPL..DIL and R8B.. with. */
		return ZYDIS_REGISTER_AL + num + (rex && num >= 4 ? 4 : 0);
	case 2:
		return ZYDIS_REGISTER_AX + num;
	case 4:
		return ZYDIS_REGISTER_EAX + num;
	default:
		return ZYDIS_REGISTER_RAX + num;
	}
}

/* A little-endian signed or unsigned field of @n bytes. */
static uint64_t read_le(const uint8_t *p, unsigned int n, bool sign)
{
	uint64_t v = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	if (sign && n < 8 && (v >> (8 * n - 1)) & 1)
		v |= ~0ULL << (8 * n);
	return v;
}

/* The default segment of a memory operand: SS for xSP/xBP bases. */
static ZydisRegister default_seg(ZydisRegister base, unsigned int abytes)
{
	ZydisRegister sp = gpr_reg(4, abytes, false);

	return base == sp || base == sp + 1 ? ZYDIS_REGISTER_SS :
					      ZYDIS_REGISTER_DS;
}

/*
 * Decode ModRM (and SIB and displacement) of a memory operand into @m.
 * Returns the position after them, or NULL (register form, too short).
 */
static const uint8_t *read_modrm_mem(const uint8_t *p, const uint8_t *end,
				     bool long64, uint8_t rex,
				     ZydisDecodedOperandMem *m, unsigned int *reg)
{
	unsigned int abytes = long64 ? 8 : 4;
	unsigned int mod = p[0] >> 6, rm = p[0] & 7, dbytes;

	*reg = ((p[0] >> 3) & 7) | (rex & 4 ? 8 : 0);
	if (mod == 3)
		return NULL;
	p++;
	m->type = ZYDIS_MEMOP_TYPE_MEM;
	m->base = ZYDIS_REGISTER_NONE;
	m->index = ZYDIS_REGISTER_NONE;
	dbytes = mod == 1 ? 1 : mod == 2 ? 4 : 0;
	if (rm == 4) {
		unsigned int sib, index, base;

		if (p >= end)
			return NULL;
		sib = *p++;
		index = ((sib >> 3) & 7) | (rex & 2 ? 8 : 0);
		base = sib & 7;
		if (index != 4) {
			m->index = gpr_reg(index, abytes, false);
			m->scale = 1 << (sib >> 6);
		}
		if (base == 5 && mod == 0)
			dbytes = 4;	/* no base, disp32 */
		else
			m->base = gpr_reg(base | (rex & 1 ? 8 : 0), abytes, false);
	} else if (rm == 5 && mod == 0) {
		/* disp32: RIP-relative in 64-bit mode, absolute otherwise. */
		m->base = long64 ? ZYDIS_REGISTER_RIP : ZYDIS_REGISTER_NONE;
		dbytes = 4;
	} else {
		m->base = gpr_reg(rm | (rex & 1 ? 8 : 0), abytes, false);
	}
	if (dbytes > end - p)
		return NULL;
	if (dbytes) {
		m->disp.has_displacement = ZYAN_TRUE;
		m->disp.value = (ZyanI64)read_le(p, dbytes, true);
	}
	return p + dbytes;
}

static void set_reg(ZydisDecodedOperand *op, ZydisRegister r,
		    unsigned int bits)
{
	op->type = ZYDIS_OPERAND_TYPE_REGISTER;
	op->reg.value = r;
	op->size = bits;
}

static void set_mem(ZydisDecodedOperand *op, const ZydisDecodedOperandMem *m,
		    ZydisRegister seg, unsigned int abytes, unsigned int bits)
{
	op->type = ZYDIS_OPERAND_TYPE_MEMORY;
	op->mem = *m;
	op->mem.segment = seg != ZYDIS_REGISTER_NONE ? seg :
			  default_seg(m->base, abytes);
	op->size = bits;
}

/* The operand size of a non-byte form: REX.W, else 66h, else 32 bits. */
static unsigned int operand_bits(const struct quick_pfx *pfx)
{
	if (pfx->rex & 8)
		return 64;
	return pfx->osize ? 16 : 32;
}

/* MOV moffs forms A0-A3: no ModRM, an address-sized absolute offset. */
static const uint8_t *decode_moffs(const uint8_t *p, const uint8_t *end,
				   bool long64, const struct quick_pfx *pfx,
				   ZydisDecodedOperand *op)
{
	unsigned int abytes = long64 ? 8 : 4;
	unsigned int bits = *p & 1 ? operand_bits(pfx) : 8;
	bool store = *p & 2;
	ZydisDecodedOperandMem m = { .type = ZYDIS_MEMOP_TYPE_MEM };

	p++;
	if (abytes > end - p)
		return NULL;
	m.base = ZYDIS_REGISTER_NONE;
	m.index = ZYDIS_REGISTER_NONE;
	m.disp.has_displacement = ZYAN_TRUE;
	/* Sign-extended as Zydis does; the assist wraps it to 32 bits. */
	m.disp.value = (ZyanI64)read_le(p, abytes, true);
	set_mem(&op[store ? 0 : 1], &m, pfx->seg, abytes, bits);
	set_reg(&op[store ? 1 : 0], gpr_reg(0, bits / 8, pfx->rex), bits);
	return p + abytes;
}

/* MOV with ModRM: 88/89 store, 8A/8B load, C6/C7 /0 store an immediate. */
static const uint8_t *decode_modrm_mov(const uint8_t *p, const uint8_t *end,
				       bool long64, const struct quick_pfx *pfx,
				       ZydisDecodedOperand *op)
{
	unsigned int abytes = long64 ? 8 : 4, reg, ibytes;
	unsigned int bits = *p & 1 ? operand_bits(pfx) : 8;
	uint8_t opcode = *p++;
	ZydisDecodedOperandMem m = { 0 };

	if (p >= end)
		return NULL;
	p = read_modrm_mem(p, end, long64, pfx->rex, &m, &reg);
	if (!p)
		return NULL;
	if (opcode >= 0xc6) {
		/* /1../7 (REX.R does not count) are #UD or XABORT/XBEGIN. */
		if (reg & 7)
			return NULL;
		ibytes = bits == 8 ? 1 : bits == 16 ? 2 : 4;
		if (ibytes > end - p)
			return NULL;
		set_mem(&op[0], &m, pfx->seg, abytes, bits);
		op[1].type = ZYDIS_OPERAND_TYPE_IMMEDIATE;
		op[1].size = ibytes * 8;	/* as encoded, like Zydis */
		op[1].imm.is_signed = ZYAN_TRUE;
		op[1].imm.value.u = read_le(p, ibytes, true);
		return p + ibytes;
	}
	/* 88/89: memory is the destination; 8A/8B: the source. */
	set_mem(&op[opcode & 2 ? 1 : 0], &m, pfx->seg, abytes, bits);
	set_reg(&op[opcode & 2 ? 0 : 1], gpr_reg(reg, bits / 8, pfx->rex),
		bits);
	return p;
}

int lv_quick_decode(bool long64, const uint8_t *buf, unsigned int len,
		    ZydisDecodedInstruction *insn, ZydisDecodedOperand *op)
{
	const uint8_t *end = buf + len, *p;
	ZydisDecodedOperand ops[2];
	struct quick_pfx pfx;
	uint8_t opcode;

	if (!lv_quick_decode_enabled)
		return -1;
	p = read_prefixes(buf, end, long64, &pfx);
	if (!p)
		return -1;
	opcode = *p;
	memset(ops, 0, sizeof(ops));
	switch (opcode) {
	case 0x88: case 0x89: case 0x8a: case 0x8b: case 0xc6: case 0xc7:
		p = decode_modrm_mov(p, end, long64, &pfx, ops);
		break;
	case 0xa0: case 0xa1: case 0xa2: case 0xa3:
		p = decode_moffs(p, end, long64, &pfx, ops);
		break;
	default:
		return -1;
	}
	if (!p || p - buf > ZYDIS_MAX_INSTRUCTION_LENGTH)
		return -1;

	memset(insn, 0, sizeof(*insn));
	insn->mnemonic = ZYDIS_MNEMONIC_MOV;
	insn->length = p - buf;
	insn->encoding = ZYDIS_INSTRUCTION_ENCODING_LEGACY;
	insn->opcode_map = ZYDIS_OPCODE_MAP_DEFAULT;
	insn->opcode = opcode;
	insn->operand_width = ops[0].size;
	insn->address_width = long64 ? 64 : 32;
	insn->operand_count = 2;
	insn->operand_count_visible = 2;
	memcpy(op, ops, sizeof(ops));
	return 0;
}
