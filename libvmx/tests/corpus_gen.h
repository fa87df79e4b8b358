/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Generator of instruction encodings for the assist's decoder cross-check:
 * every supported opcode with every memory ModRM byte, random SIB,
 * displacement and immediate bytes, and random legacy/REX prefixes.
 */
#ifndef LIBVMX_TESTS_CORPUS_GEN_H
#define LIBVMX_TESTS_CORPUS_GEN_H

#include <stdbool.h>
#include <stdint.h>

#define CORPUS_BYTES		15

struct corpus_entry {
	uint8_t bytes[CORPUS_BYTES];	/* instruction, then random filler */
	bool lock;			/* has an F0 prefix */
	bool rep;			/* has an F2/F3 prefix */
	bool osize_before_rep;		/* 66 comes before F2/F3 */
	uint32_t seed;			/* per-entry randomness for the checker */
};

typedef void (*corpus_fn)(void *ctx, const struct corpus_entry *ent);

/*
 * Call @fn for each generated entry for a CPU with @bits-bit default
 * operand/address size (16, 32, 64); @variants random variants of each
 * opcode/ModRM pair.  Deterministic.  Returns the number of entries.
 */
unsigned long corpus_generate(unsigned int bits, unsigned int variants,
			      corpus_fn fn, void *ctx);

#endif /* LIBVMX_TESTS_CORPUS_GEN_H */
