/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvmx internal: the assist's fast decoder for the MOVs of MMIO
 * (quickdec.c).  Not part of the library's API.
 */
#ifndef LIBVMX_QUICKDEC_H
#define LIBVMX_QUICKDEC_H

#include <stdbool.h>
#include <stdint.h>

#include <Zydis/Zydis.h>

/*
 * lv_quick_decode() - decode the MOV at @buf (@len bytes available) in
 * 32-bit (!@long64, default operand and address size 32) or 64-bit code.
 * On success fills @insn and @op[0..1] as Zydis would for what the assist
 * reads (mnemonic, length, opcode, widths, visible operands) and returns
 * 0; returns -1 for anything it does not handle, leaving both untouched.
 */
int lv_quick_decode(bool long64, const uint8_t *buf, unsigned int len,
		    ZydisDecodedInstruction *insn, ZydisDecodedOperand *op);

/* True by default; the tests turn it off to compare with Zydis alone. */
extern bool lv_quick_decode_enabled;

#endif /* LIBVMX_QUICKDEC_H */
