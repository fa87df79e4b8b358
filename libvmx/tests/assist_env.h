/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A fake guest for the walker and assist tests: RAM at guest-physical 0
 * (with the classic VGA hole), a recording device behind every address
 * that is not RAM, a recording port, page-table builders for every paging
 * mode and register set-ups for every CPU mode.  Header-only so that the
 * unit tests and the fuzz target share it.
 */
#ifndef LIBVMX_TESTS_ASSIST_ENV_H
#define LIBVMX_TESTS_ASSIST_ENV_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "assist.h"

#define ENV_RAM_SIZE		(4ULL << 20)
#define ENV_HOLE_START		0xa0000ULL	/* not RAM: device */
#define ENV_HOLE_END		0xc0000ULL
#define ENV_DEV_SIZE		0x10000ULL	/* device store, mirrored */
#define ENV_MMIO		0xd0000000ULL	/* a device address */
#define ENV_TABLES		0x100000ULL	/* page tables allocated here */
#define ENV_CODE		0x200000ULL	/* default code address */
#define ENV_LOG_MAX		64

/* Test page-table entry bits (the walker has its own). */
#define E_P			(1ULL << 0)
#define E_RW			(1ULL << 1)
#define E_US			(1ULL << 2)
#define E_A			(1ULL << 5)
#define E_D			(1ULL << 6)
#define E_PS			(1ULL << 7)
#define E_NX			(1ULL << 63)
#define E_TABLE			(E_P | E_RW | E_US)

#define EFER_LME		(1ULL << 8)

enum env_mode { MODE_REAL, MODE_P16, MODE_P32, MODE_C32, MODE_L64 };

struct env_access {
	uint64_t gpa;
	unsigned int size;
	bool write;
	uint64_t data;
};

struct env {
	uint8_t *ram;
	uint8_t dev[ENV_DEV_SIZE];
	struct env_access log[ENV_LOG_MAX];
	unsigned int nlog;
	struct env_access plog[ENV_LOG_MAX];
	unsigned int nplog;
	uint32_t port_in;		/* value IN returns, incremented */
	int dev_error;			/* returned by the device if set */
	uint64_t next_table;
	struct vmx_regs regs;
	struct vmx_sregs sregs;
	struct lv_assist_ops ops;
	struct lv_fault fault;
};

static inline bool env_is_ram(uint64_t gpa, size_t len)
{
	if (gpa >= ENV_RAM_SIZE || len > ENV_RAM_SIZE - gpa)
		return false;
	return gpa + len <= ENV_HOLE_START || gpa >= ENV_HOLE_END;
}

static inline int env_read_phys(void *ctx, uint64_t gpa, void *buf, size_t len)
{
	struct env *e = ctx;

	if (!env_is_ram(gpa, len))
		return -EFAULT;
	memcpy(buf, e->ram + gpa, len);
	return 0;
}

static inline int env_write_phys(void *ctx, uint64_t gpa, const void *buf,
				 size_t len)
{
	struct env *e = ctx;

	if (!env_is_ram(gpa, len))
		return -EFAULT;
	memcpy(e->ram + gpa, buf, len);
	return 0;
}

static inline void env_log(struct env_access *log, unsigned int *n,
			   uint64_t gpa, const void *data, unsigned int size,
			   bool write)
{
	struct env_access *a;

	if (*n >= ENV_LOG_MAX)
		return;
	a = &log[(*n)++];
	a->gpa = gpa;
	a->size = size;
	a->write = write;
	a->data = 0;
	memcpy(&a->data, data, size < 8 ? size : 8);
}

/* The device: a store indexed by the low address bits, and a log. */
static inline int env_mmio(void *ctx, uint64_t gpa, void *data,
			   unsigned int size, bool is_write)
{
	struct env *e = ctx;
	unsigned int i;

	if (size < 1 || size > 8)
		return -EINVAL;
	if (e->dev_error)
		return e->dev_error;
	for (i = 0; i < size; i++) {
		uint8_t *cell = &e->dev[(gpa + i) & (ENV_DEV_SIZE - 1)];

		if (is_write)
			*cell = ((uint8_t *)data)[i];
		else
			((uint8_t *)data)[i] = *cell;
	}
	env_log(e->log, &e->nlog, gpa, data, size, is_write);
	return 0;
}

static inline int env_pio(void *ctx, uint16_t port, void *data,
			  unsigned int size, bool is_out)
{
	struct env *e = ctx;

	if (!is_out) {
		memcpy(data, &e->port_in, size);
		e->port_in++;
	}
	env_log(e->plog, &e->nplog, port, data, size, is_out);
	return 0;
}

static inline uint64_t env_dev_get(const struct env *e, uint64_t gpa,
				   unsigned int size)
{
	uint64_t v = 0;
	unsigned int i;

	for (i = 0; i < size; i++)
		v |= (uint64_t)e->dev[(gpa + i) & (ENV_DEV_SIZE - 1)] << (8 * i);
	return v;
}

static inline void env_dev_put(struct env *e, uint64_t gpa, uint64_t v,
			       unsigned int size)
{
	unsigned int i;

	for (i = 0; i < size; i++)
		e->dev[(gpa + i) & (ENV_DEV_SIZE - 1)] = v >> (8 * i);
}

static inline uint64_t env_ram_get(const struct env *e, uint64_t gpa,
				   unsigned int size)
{
	uint64_t v = 0;

	memcpy(&v, e->ram + gpa, size);
	return v;
}

static inline void env_ram_put(struct env *e, uint64_t gpa, uint64_t v,
			       unsigned int size)
{
	memcpy(e->ram + gpa, &v, size);
}

/* ---- page tables ------------------------------------------------- */

static inline uint64_t env_table(struct env *e)
{
	uint64_t t = e->next_table;

	e->next_table += 4096;
	memset(e->ram + t, 0, 4096);
	return t;
}

/*
 * Map @la -> @pa with 8-byte entries: @levels below CR3 (2 for the PAE
 * page directory level down, 4, 5), leaf at @leaf_shift (12, 21, 30).
 * Tables get E_TABLE; the leaf gets @flags.  Returns the leaf's gpa.
 */
static inline uint64_t env_map_wide(struct env *e, uint64_t root,
				    unsigned int top_shift, uint64_t la,
				    uint64_t pa, unsigned int leaf_shift,
				    uint64_t flags)
{
	uint64_t table = root, *ent;
	unsigned int shift;

	for (shift = top_shift; shift > leaf_shift; shift -= 9) {
		ent = (uint64_t *)(e->ram + table + ((la >> shift) & 511) * 8);
		if (!(*ent & E_P))
			*ent = env_table(e) | E_TABLE;
		table = *ent & 0x000ffffffffff000ULL;
	}
	ent = (uint64_t *)(e->ram + table + ((la >> leaf_shift) & 511) * 8);
	*ent = pa | flags | (leaf_shift > 12 ? E_PS : 0);
	return table + ((la >> leaf_shift) & 511) * 8;
}

/* 32-bit paging: 4 KiB (@big false) or 4 MiB pages. */
static inline uint64_t env_map_32(struct env *e, uint64_t la, uint64_t pde_val,
				  uint64_t pa, uint64_t flags, bool big)
{
	uint32_t *pde = (uint32_t *)(e->ram + (e->sregs.cr3 & ~0xfffULL) +
				     ((la >> 22) & 1023) * 4);
	uint32_t *pte;

	if (big) {
		*pde = (uint32_t)(pde_val | flags | E_PS);
		return (uint64_t)((uint8_t *)pde - e->ram);
	}
	if (!(*pde & E_P))
		*pde = (uint32_t)(env_table(e) | E_TABLE);
	pte = (uint32_t *)(e->ram + (*pde & ~0xfffU) + ((la >> 12) & 1023) * 4);
	*pte = (uint32_t)(pa | flags);
	return (uint64_t)((uint8_t *)pte - e->ram);
}

/* PAE: CR3 -> 4 PDPTEs (32-byte aligned) -> PD -> PT. */
static inline uint64_t env_map_pae(struct env *e, uint64_t la, uint64_t pa,
				   unsigned int leaf_shift, uint64_t flags)
{
	uint64_t *pdpte = (uint64_t *)(e->ram + (e->sregs.cr3 & ~0x1fULL) +
				       ((la >> 30) & 3) * 8);

	if (!(*pdpte & E_P))
		*pdpte = env_table(e) | E_P;
	return env_map_wide(e, *pdpte & 0x000ffffffffff000ULL, 21, la, pa,
			    leaf_shift, flags);
}

/* ---- CPU modes ----------------------------------------------------- */

static inline void env_seg(struct vmx_segment *s, uint64_t base, uint32_t limit,
			   uint8_t type, bool db)
{
	memset(s, 0, sizeof(*s));
	s->base = base;
	s->limit = limit;
	s->selector = (uint16_t)(base >> 4);
	s->type = type;
	s->s = 1;
	s->present = 1;
	s->db = db;
	s->g = limit > 0xfffff;
}

#define SEG_CODE	0xb	/* execute/read, accessed */
#define SEG_DATA	0x3	/* read/write, accessed */

/* Long mode: identity map the first 4 GiB with 1 GiB pages. */
static inline void env_long_tables(struct env *e)
{
	uint64_t gb;

	e->sregs.cr3 = env_table(e);
	for (gb = 0; gb < 4; gb++)
		env_map_wide(e, e->sregs.cr3, 39, gb << 30, gb << 30, 30,
			     E_P | E_RW | E_US);
}

static inline void env_set_mode(struct env *e, enum env_mode mode)
{
	struct vmx_sregs *s = &e->sregs;
	bool wide = mode == MODE_P32 || mode == MODE_C32;
	uint32_t lim = mode == MODE_REAL || mode == MODE_P16 ? 0xffff : 0xffffffff;

	memset(s, 0, sizeof(*s));
	e->next_table = ENV_TABLES;
	env_seg(&s->cs, 0, lim, SEG_CODE, wide);
	env_seg(&s->ds, 0, lim, SEG_DATA, wide);
	env_seg(&s->es, 0, lim, SEG_DATA, wide);
	env_seg(&s->ss, 0, lim, SEG_DATA, wide);
	env_seg(&s->fs, 0, lim, SEG_DATA, wide);
	env_seg(&s->gs, 0, lim, SEG_DATA, wide);
	e->regs.rflags = LV_RFLAGS_FIXED;
	if (mode != MODE_REAL)
		s->cr0 = LV_CR0_PE;
	if (mode == MODE_C32 || mode == MODE_L64) {
		s->cr0 |= LV_CR0_PG | LV_CR0_WP;
		s->cr4 = LV_CR4_PAE;
		s->efer = EFER_LME | LV_EFER_LMA | LV_EFER_NXE;
		env_long_tables(e);
		s->cs.l = mode == MODE_L64;
		s->cs.db = mode == MODE_C32;
	}
}

static inline int env_init(struct env *e, enum env_mode mode)
{
	uint8_t *ram = e->ram;

	memset(e, 0, sizeof(*e));
	e->ram = ram ? ram : calloc(1, ENV_RAM_SIZE);
	if (!e->ram)
		return -ENOMEM;
	memset(e->ram, 0, ENV_RAM_SIZE);
	e->ops.read_phys = env_read_phys;
	e->ops.write_phys = env_write_phys;
	e->ops.mmio = env_mmio;
	e->ops.pio = env_pio;
	e->ops.ctx = e;
	env_set_mode(e, mode);
	return 0;
}

static inline void env_free(struct env *e)
{
	free(e->ram);
	e->ram = NULL;
}

/* Put code at linear CS:@ip (identity-mapped or paging off) and go there. */
static inline void env_code(struct env *e, uint64_t ip, const void *code,
			    size_t len)
{
	memcpy(e->ram + ((e->sregs.cs.base + ip) & 0xffffffffULL), code, len);
	e->regs.rip = ip;
}

#endif /* LIBVMX_TESTS_ASSIST_ENV_H */
