// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Encodings for the assist's cross-check against capstone (assist_test.c).
 * Covers the opcodes the assist handles plus their ModRM-group siblings
 * (which must be refused): each with all 192 memory ModRM bytes and
 * random SIB/displacement/immediate bytes and prefixes; the moffs MOVs and
 * the string instructions with all prefix mixes.  Register-only forms
 * (mod = 3) are not generated: they cannot cause an MMIO exit.
 */
#include <string.h>

#include "corpus_gen.h"

#define F_MODRM		(1U << 0)	/* has a ModRM byte */
#define F_LOCK		(1U << 1)	/* LOCK may be tried */

struct tmpl {
	uint8_t op[2];
	uint8_t oplen;
	uint8_t flags;
};

static const struct tmpl tmpls[] = {
	/* ALU r/m,reg and reg,r/m: ADD OR ADC SBB AND SUB XOR CMP */
	{ { 0x00 }, 1, F_MODRM | F_LOCK }, { { 0x01 }, 1, F_MODRM | F_LOCK },
	{ { 0x02 }, 1, F_MODRM }, { { 0x03 }, 1, F_MODRM },
	{ { 0x08 }, 1, F_MODRM | F_LOCK }, { { 0x09 }, 1, F_MODRM | F_LOCK },
	{ { 0x0a }, 1, F_MODRM }, { { 0x0b }, 1, F_MODRM },
	{ { 0x10 }, 1, F_MODRM | F_LOCK }, { { 0x11 }, 1, F_MODRM | F_LOCK },
	{ { 0x12 }, 1, F_MODRM }, { { 0x13 }, 1, F_MODRM },
	{ { 0x18 }, 1, F_MODRM | F_LOCK }, { { 0x19 }, 1, F_MODRM | F_LOCK },
	{ { 0x1a }, 1, F_MODRM }, { { 0x1b }, 1, F_MODRM },
	{ { 0x20 }, 1, F_MODRM | F_LOCK }, { { 0x21 }, 1, F_MODRM | F_LOCK },
	{ { 0x22 }, 1, F_MODRM }, { { 0x23 }, 1, F_MODRM },
	{ { 0x28 }, 1, F_MODRM | F_LOCK }, { { 0x29 }, 1, F_MODRM | F_LOCK },
	{ { 0x2a }, 1, F_MODRM }, { { 0x2b }, 1, F_MODRM },
	{ { 0x30 }, 1, F_MODRM | F_LOCK }, { { 0x31 }, 1, F_MODRM | F_LOCK },
	{ { 0x32 }, 1, F_MODRM }, { { 0x33 }, 1, F_MODRM },
	{ { 0x38 }, 1, F_MODRM }, { { 0x39 }, 1, F_MODRM },
	{ { 0x3a }, 1, F_MODRM }, { { 0x3b }, 1, F_MODRM },
	/* ALU r/m,imm (group 1), TEST, XCHG, MOV */
	{ { 0x80 }, 1, F_MODRM | F_LOCK }, { { 0x81 }, 1, F_MODRM | F_LOCK },
	{ { 0x83 }, 1, F_MODRM | F_LOCK },
	{ { 0x84 }, 1, F_MODRM }, { { 0x85 }, 1, F_MODRM },
	{ { 0x86 }, 1, F_MODRM | F_LOCK }, { { 0x87 }, 1, F_MODRM | F_LOCK },
	{ { 0x88 }, 1, F_MODRM }, { { 0x89 }, 1, F_MODRM },
	{ { 0x8a }, 1, F_MODRM }, { { 0x8b }, 1, F_MODRM },
	{ { 0xc6 }, 1, F_MODRM }, { { 0xc7 }, 1, F_MODRM },
	/* Group 3 (TEST NOT NEG, MUL...), group 4/5 (INC DEC, CALL...) */
	{ { 0xf6 }, 1, F_MODRM | F_LOCK }, { { 0xf7 }, 1, F_MODRM | F_LOCK },
	{ { 0xfe }, 1, F_MODRM | F_LOCK }, { { 0xff }, 1, F_MODRM | F_LOCK },
	/* MOVSXD (ARPL outside 64-bit mode), MOVZX, MOVSX, MOVNTI */
	{ { 0x63 }, 1, F_MODRM },
	{ { 0x0f, 0xb6 }, 2, F_MODRM }, { { 0x0f, 0xb7 }, 2, F_MODRM },
	{ { 0x0f, 0xbe }, 2, F_MODRM }, { { 0x0f, 0xbf }, 2, F_MODRM },
	{ { 0x0f, 0xc3 }, 2, F_MODRM },
	/* BT BTS BTR BTC with register, group 8 with immediate */
	{ { 0x0f, 0xa3 }, 2, F_MODRM }, { { 0x0f, 0xab }, 2, F_MODRM | F_LOCK },
	{ { 0x0f, 0xb3 }, 2, F_MODRM | F_LOCK },
	{ { 0x0f, 0xbb }, 2, F_MODRM | F_LOCK },
	{ { 0x0f, 0xba }, 2, F_MODRM | F_LOCK },
	/* MOV with moffs; MOVS STOS LODS */
	{ { 0xa0 }, 1, 0 }, { { 0xa1 }, 1, 0 }, { { 0xa2 }, 1, 0 },
	{ { 0xa3 }, 1, 0 },
	{ { 0xa4 }, 1, 0 }, { { 0xa5 }, 1, 0 }, { { 0xaa }, 1, 0 },
	{ { 0xab }, 1, 0 }, { { 0xac }, 1, 0 }, { { 0xad }, 1, 0 },
};

static const uint8_t seg_prefixes[] = { 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65 };

/* xorshift32: deterministic, seeded per mode. */
static uint32_t rnd(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*s = x;
	return x;
}

static bool chance(uint32_t *s, unsigned int percent)
{
	return rnd(s) % 100 < percent;
}

/* Random legacy prefixes (in random order), then REX in 64-bit mode. */
static unsigned int gen_prefixes(struct corpus_entry *ent, const struct tmpl *t,
				 unsigned int bits, uint32_t *s)
{
	uint8_t pfx[5];
	unsigned int n = 0, i, len = 0;

	if (chance(s, 30))
		pfx[n++] = 0x66;
	if (chance(s, 20))
		pfx[n++] = 0x67;
	if (chance(s, 35))
		pfx[n++] = seg_prefixes[rnd(s) % 6];
	if (chance(s, t->flags & F_MODRM ? 8 : 40)) {
		pfx[n++] = rnd(s) & 1 ? 0xf3 : 0xf2;
		ent->rep = true;
	}
	if ((t->flags & F_LOCK) && chance(s, 25)) {
		pfx[n++] = 0xf0;
		ent->lock = true;
	}
	/* Shuffle: prefix order must not matter. */
	for (i = n; i > 1; i--) {
		unsigned int j = rnd(s) % i;
		uint8_t tmp = pfx[i - 1];

		pfx[i - 1] = pfx[j];
		pfx[j] = tmp;
	}
	for (i = 0; i < n; i++) {
		if (pfx[i] == 0xf2 || pfx[i] == 0xf3)
			break;
		if (pfx[i] == 0x66 && ent->rep)
			ent->osize_before_rep = true;
	}
	memcpy(ent->bytes, pfx, n);
	len = n;
	if (bits == 64 && chance(s, 50))
		ent->bytes[len++] = 0x40 | (rnd(s) & 0xf);
	return len;
}

static unsigned long gen_one(const struct tmpl *t, unsigned int bits, int modrm,
			     uint32_t *s, corpus_fn fn, void *ctx)
{
	struct corpus_entry ent;
	unsigned int len, i;

	memset(&ent, 0, sizeof(ent));
	len = gen_prefixes(&ent, t, bits, s);
	memcpy(ent.bytes + len, t->op, t->oplen);
	len += t->oplen;
	if (modrm >= 0)
		ent.bytes[len++] = modrm;
	/* SIB, displacement, immediate: whatever the decoder takes. */
	for (i = len; i < CORPUS_BYTES; i++)
		ent.bytes[i] = rnd(s);
	ent.seed = rnd(s);
	fn(ctx, &ent);
	return 1;
}

unsigned long corpus_generate(unsigned int bits, unsigned int variants,
			      corpus_fn fn, void *ctx)
{
	uint32_t s = 0x9e3779b9u ^ bits;
	unsigned long n = 0;
	unsigned int i, v;
	int modrm;

	for (i = 0; i < sizeof(tmpls) / sizeof(tmpls[0]); i++) {
		const struct tmpl *t = &tmpls[i];

		if (!(t->flags & F_MODRM)) {
			/* No ModRM: many more prefix mixes instead. */
			for (v = 0; v < variants * 64; v++)
				n += gen_one(t, bits, -1, &s, fn, ctx);
			continue;
		}
		for (modrm = 0; modrm < 0xc0; modrm++)
			for (v = 0; v < variants; v++)
				n += gen_one(t, bits, modrm, &s, fn, ctx);
	}
	return n;
}
