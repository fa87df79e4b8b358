// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer target for the instruction assist and the page-table walker.
 *
 * Input: a header (CPU mode, control-register bits, registers, segments,
 * the exit record) followed by the first bytes of a 64 KiB guest RAM that
 * holds the page tables and the code.  Everything else is a device that
 * answers with input-derived bytes.  The target checks the assist's
 * contract: only documented return values, a fault record that makes
 * sense, device and port accesses of legal sizes; the sanitizers catch
 * the rest.
 *
 * Build and run: make -C libvmx/tests fuzz (FUZZ_TIME=seconds).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "assist.h"

#define RAM_SIZE	0x10000ULL

struct fuzz_seg {
	uint32_t base;
	uint32_t limit;
	uint8_t type;
	uint8_t bits;		/* s, present, db, l, unusable, dpl<<5 */
};

struct fuzz_hdr {
	uint8_t mode;		/* 0 real, 1 prot, 2 long */
	uint8_t cr;		/* PG WP PSE PAE LA57 SMEP SMAP NXE */
	uint8_t misc;		/* VM86, DF, AC, set-AD, string I/O, insn, dev error */
	uint8_t insn_len;
	uint8_t io_size, io_addr, io_seg, io_rep;
	uint16_t io_port;
	uint8_t maxphy;
	uint8_t io_len;
	uint32_t cr3;
	uint64_t gpa;
	uint64_t gpr[16];
	uint64_t rip, rflags;
	struct fuzz_seg seg[6];
	uint8_t insn[16];
};

static uint8_t ram[RAM_SIZE];
static uint8_t dev_byte;

static int f_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
	if (gpa >= RAM_SIZE || len > RAM_SIZE - gpa)
		return -EFAULT;
	memcpy(buf, ram + gpa, len);
	return 0;
}

static int f_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
	if (gpa >= RAM_SIZE || len > RAM_SIZE - gpa)
		return -EFAULT;
	memcpy(ram + gpa, buf, len);
	return 0;
}

static int f_mmio(void *ctx, uint64_t gpa, void *data, unsigned int size,
		  bool is_write)
{
	const struct fuzz_hdr *h = ctx;

	if (size < 1 || size > 8)
		abort();
	if ((h->misc & 0x40) && (gpa & 0xff) == 0x42)
		return -EACCES;		/* must come back as -EIO */
	if (!is_write)
		memset(data, dev_byte++, size);
	return 0;
}

static int f_pio(void *ctx, uint16_t port, void *data, unsigned int size,
		 bool is_out)
{
	if (size != 1 && size != 2 && size != 4)
		abort();
	if (!is_out)
		memset(data, dev_byte++, size);
	return 0;
}

static void seg_from(struct vmx_segment *s, const struct fuzz_seg *f)
{
	memset(s, 0, sizeof(*s));
	s->base = f->base;
	s->limit = f->limit;
	s->type = f->type & 0xf;
	s->s = f->bits & 1;
	s->present = !!(f->bits & 2);
	s->db = !!(f->bits & 4);
	s->l = !!(f->bits & 8);
	s->unusable = !!(f->bits & 16);
	s->dpl = f->bits >> 5 & 3;
}

static void sregs_from(struct vmx_sregs *s, const struct fuzz_hdr *h)
{
	static const uint64_t cr_bits[][2] = {
		{ 0, LV_CR0_PG }, { 0, LV_CR0_WP }, { 1, LV_CR4_PSE },
		{ 1, LV_CR4_PAE }, { 1, LV_CR4_LA57 }, { 1, LV_CR4_SMEP },
		{ 1, LV_CR4_SMAP }, { 2, LV_EFER_NXE },
	};
	__u64 *regs[3] = { &s->cr0, &s->cr4, &s->efer };
	unsigned int i;

	memset(s, 0, sizeof(*s));
	seg_from(&s->cs, &h->seg[0]);
	seg_from(&s->ds, &h->seg[1]);
	seg_from(&s->es, &h->seg[2]);
	seg_from(&s->ss, &h->seg[3]);
	seg_from(&s->fs, &h->seg[4]);
	seg_from(&s->gs, &h->seg[5]);
	for (i = 0; i < 8; i++)
		if (h->cr & (1U << i))
			*regs[cr_bits[i][0]] |= cr_bits[i][1];
	if (h->mode % 3)
		s->cr0 |= LV_CR0_PE;
	if (h->mode % 3 == 2) {
		/* Long mode needs paging with PAE. */
		s->cr0 |= LV_CR0_PG;
		s->cr4 |= LV_CR4_PAE;
		s->efer |= LV_EFER_LMA;
	}
	s->cr3 = h->cr3 & (RAM_SIZE - 1);
	if (h->cr & 0x80)
		s->cs.base |= (uint64_t)h->gpr[15] << 32;
}

/* The assist's contract, checked on every input. */
static void check_result(int ret, const struct lv_fault *f)
{
	switch (ret) {
	case 0: case -EOPNOTSUPP: case -EFAULT: case -EINVAL: case -EIO:
		return;
	case -EACCES:
		if (f->vector != LV_VEC_PF && f->vector != LV_VEC_GP &&
		    f->vector != LV_VEC_SS)
			abort();
		if (f->vector != LV_VEC_PF && f->error_code)
			abort();
		if (f->error_code & ~0x1fU)
			abort();
		return;
	default:
		abort();
	}
}

static void fuzz_walk(const struct vmx_sregs *s, const struct fuzz_hdr *h)
{
	struct lv_paging pg;
	struct lv_xlate x;
	struct lv_fault f;
	int ret;

	lv_paging_init(&pg, s, h->rflags);
	pg.read_phys = f_read;
	pg.write_phys = f_write;
	pg.maxphyaddr = h->maxphy % 22 + 32;
	pg.flags = h->misc & 0x08 ? LV_PG_SET_AD : 0;
	ret = lv_walk(&pg, h->gpa, h->io_size & 7, &x, &f);
	if (ret == 0 && (x.page_size & (x.page_size - 1)))
		abort();
	check_result(ret, &f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lv_assist_ops ops = {
		.read_phys = f_read, .write_phys = f_write, .mmio = f_mmio,
		.pio = f_pio,
	};
	struct fuzz_hdr h;
	struct vmx_regs regs;
	struct vmx_sregs sregs;
	struct lv_string_io io;
	struct lv_fault fault;
	int ret;

	if (size < sizeof(h))
		return 0;
	memcpy(&h, data, sizeof(h));
	memset(ram, 0, sizeof(ram));
	memcpy(ram, data + sizeof(h), size - sizeof(h) < RAM_SIZE ?
					size - sizeof(h) : RAM_SIZE);
	dev_byte = (uint8_t)h.gpa;
	ops.ctx = &h;
	ops.maxphyaddr = h.maxphy % 22 + 32;
	ops.walk_flags = h.misc & 0x08 ? LV_PG_SET_AD : 0;

	sregs_from(&sregs, &h);
	memcpy(&regs, h.gpr, sizeof(h.gpr));
	/* Keep RIP near the RAM often, so that fetches find code. */
	regs.rip = h.misc & 0x80 ? h.rip : h.rip & (RAM_SIZE - 1);
	regs.rflags = (h.rflags & ~(LV_RFLAGS_VM | LV_RFLAGS_DF | LV_RFLAGS_AC)) |
		      (h.misc & 1 ? LV_RFLAGS_VM : 0) |
		      (h.misc & 2 ? LV_RFLAGS_DF : 0) |
		      (h.misc & 4 ? LV_RFLAGS_AC : 0);
	/* Big REP counts are bounded by chunking; keep runs short anyway. */
	if (!(h.misc & 0x20))
		regs.rcx &= 0xff;

	fuzz_walk(&sregs, &h);
	memset(&fault, 0, sizeof(fault));
	if (h.misc & 0x10) {
		io = (struct lv_string_io){
			.port = h.io_port, .size = h.io_size, .is_out = h.io_rep & 1,
			.rep = h.io_rep & 2, .addr_size = h.io_addr,
			.seg = h.io_seg, .insn_len = h.io_len,
		};
		ret = lv_assist_string_io(&regs, &sregs, &io, &ops, &fault);
	} else {
		ret = lv_assist_mmio(&regs, &sregs, h.gpa, h.insn,
				     h.insn_len % 17, &ops, &fault);
	}
	check_result(ret, &fault);
	return 0;
}
