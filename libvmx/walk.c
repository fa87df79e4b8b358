// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libvmx: guest page-table walker (linear -> guest-physical).
 *
 * Covers: paging off (identity, 32-bit linear addresses), 32-bit paging
 * (4 KiB pages, 4 MiB pages with CR4.PSE including PSE-36 high bits),
 * PAE paging (4 KiB, 2 MiB), 4-level and 5-level long-mode paging (4 KiB,
 * 2 MiB, 1 GiB).  Checks present, R/W with CR0.WP, U/S, NX with EFER.NXE,
 * SMEP, SMAP with RFLAGS.AC, reserved bits below MAXPHYADDR and in large
 * page entries, canonical form in long mode; reports the #PF error code
 * the CPU would.  Optionally sets Accessed/Dirty bits (LV_PG_SET_AD).
 *
 * Does not cover: protection keys, shadow stacks, the PAE PDPTE register
 * cache (PDPTEs are read from memory at each walk, and reserved bits in
 * them fault as #PF/RSVD rather than #GP at MOV CR3), PAT/caching, TLBs,
 * implicit supervisor accesses (SMAP ignores AC for those), atomicity of
 * A/D updates against other vCPUs.
 */
#include <errno.h>
#include <string.h>

#include "assist.h"

/* Page-table entry bits. */
#define PTE_P			(1ULL << 0)
#define PTE_RW			(1ULL << 1)
#define PTE_US			(1ULL << 2)
#define PTE_A			(1ULL << 5)
#define PTE_D			(1ULL << 6)
#define PTE_PS			(1ULL << 7)
#define PTE_NX			(1ULL << 63)
/* Bits of a PAE PDPTE that must be zero besides those above MAXPHYADDR. */
#define PAE_PDPTE_RSVD		0x1e6ULL
/* Bits 21:13 of a 32-bit 4 MiB PDE: PSE-36 address bits, then reserved. */
#define PSE36_SHIFT		13
#define PSE36_MAX_BITS		8

#define PAGE_SHIFT		12
#define PAGE_SIZE_4K		(1ULL << PAGE_SHIFT)
#define MAX_LEVELS		5

#define GENMASK64(h, l)		((~0ULL >> (63 - (h))) & (~0ULL << (l)))

enum lv_pg_mode { PG_OFF, PG_32, PG_PAE, PG_LONG4, PG_LONG5 };

/* One walk in progress. */
struct walk {
	const struct lv_paging *pg;
	uint64_t la;
	unsigned int access;
	unsigned int maxphy;
	bool wide;			/* 8-byte entries */
	/* Entries read, for the A/D update. */
	uint64_t ent_gpa[MAX_LEVELS];
	uint64_t ent[MAX_LEVELS];
	bool ent_has_ad[MAX_LEVELS];
	unsigned int nent;
};

static enum lv_pg_mode walk_mode(const struct lv_paging *pg)
{
	if (!(pg->cr0 & LV_CR0_PG))
		return PG_OFF;
	if (!(pg->cr4 & LV_CR4_PAE))
		return PG_32;
	if (!(pg->efer & LV_EFER_LMA))
		return PG_PAE;
	return pg->cr4 & LV_CR4_LA57 ? PG_LONG5 : PG_LONG4;
}

void lv_paging_init(struct lv_paging *pg, const struct vmx_sregs *sregs,
		    uint64_t rflags)
{
	memset(pg, 0, sizeof(*pg));
	pg->cr0 = sregs->cr0;
	pg->cr3 = sregs->cr3;
	pg->cr4 = sregs->cr4;
	pg->efer = sregs->efer;
	pg->rflags = rflags;
}

static int walk_fault(struct walk *w, uint32_t extra, struct lv_fault *fault)
{
	const struct lv_paging *pg = w->pg;
	uint32_t ec = extra;
	bool fetch = w->access & LV_ACC_FETCH;

	if (w->access & LV_ACC_WRITE)
		ec |= LV_PFEC_W;
	if (w->access & LV_ACC_USER)
		ec |= LV_PFEC_U;
	/* I/D is reported only where the CPU could enforce it (SDM 4.7). */
	if (fetch && ((pg->cr4 & LV_CR4_SMEP) ||
		      ((pg->cr4 & LV_CR4_PAE) && (pg->efer & LV_EFER_NXE))))
		ec |= LV_PFEC_I;
	fault->vector = LV_VEC_PF;
	fault->has_error_code = true;
	fault->error_code = ec;
	fault->cr2 = w->la;
	return -EACCES;
}

static int walk_gp(struct lv_fault *fault)
{
	fault->vector = LV_VEC_GP;
	fault->has_error_code = true;
	fault->error_code = 0;
	fault->cr2 = 0;
	return -EACCES;
}

/* A callback error, kept distinct from the walker's own -EACCES. */
static int cb_error(int ret)
{
	return ret == -EACCES ? -EIO : ret;
}

static int walk_read_entry(struct walk *w, uint64_t gpa, uint64_t *ent)
{
	uint32_t e32;
	int ret;

	if (w->wide) {
		ret = w->pg->read_phys(w->pg->ctx, gpa, ent, sizeof(*ent));
	} else {
		ret = w->pg->read_phys(w->pg->ctx, gpa, &e32, sizeof(e32));
		*ent = e32;
	}
	if (ret)
		return cb_error(ret);
	if (w->nent < MAX_LEVELS) {
		w->ent_gpa[w->nent] = gpa;
		w->ent[w->nent] = *ent;
		w->ent_has_ad[w->nent] = true;
		w->nent++;
	}
	return 0;
}

/* Bits [51:MAXPHYADDR], reserved in every 8-byte entry's address. */
static uint64_t rsvd_addr_bits(const struct walk *w)
{
	return w->maxphy >= 52 ? 0 : GENMASK64(51, w->maxphy);
}

static uint64_t rsvd_nx_bit(const struct walk *w)
{
	return w->pg->efer & LV_EFER_NXE ? 0 : PTE_NX;
}

/*
 * Set Accessed in every entry used and Dirty in the leaf for a write, as
 * the CPU does once a translation succeeds.
 */
static int walk_set_ad(struct walk *w)
{
	unsigned int i, size = w->wide ? 8 : 4;
	int ret;

	for (i = 0; i < w->nent; i++) {
		uint64_t e = w->ent[i];

		if (!w->ent_has_ad[i])
			continue;
		e |= PTE_A;
		if (i == w->nent - 1 && (w->access & LV_ACC_WRITE))
			e |= PTE_D;
		if (e == w->ent[i])
			continue;
		if (!w->pg->write_phys)
			return -EINVAL;
		ret = w->pg->write_phys(w->pg->ctx, w->ent_gpa[i], &e, size);
		if (ret)
			return cb_error(ret);
	}
	return 0;
}

/* Permission checks on the combined rights of all levels (SDM 4.6). */
static int walk_check_rights(struct walk *w, const struct lv_xlate *x,
			     struct lv_fault *fault)
{
	const struct lv_paging *pg = w->pg;
	bool user = w->access & LV_ACC_USER;
	bool write = w->access & LV_ACC_WRITE;
	bool fetch = w->access & LV_ACC_FETCH;

	if (user && !x->user)
		return walk_fault(w, LV_PFEC_P, fault);
	if (write && !x->writable && (user || (pg->cr0 & LV_CR0_WP)))
		return walk_fault(w, LV_PFEC_P, fault);
	if (fetch && x->nx)
		return walk_fault(w, LV_PFEC_P, fault);
	if (!user && x->user) {
		if (fetch && (pg->cr4 & LV_CR4_SMEP))
			return walk_fault(w, LV_PFEC_P, fault);
		if (!fetch && (pg->cr4 & LV_CR4_SMAP) &&
		    !(pg->rflags & LV_RFLAGS_AC))
			return walk_fault(w, LV_PFEC_P, fault);
	}
	return 0;
}

static void walk_rights_init(struct lv_xlate *x)
{
	x->writable = true;
	x->user = true;
	x->nx = false;
}

static void walk_rights_add(const struct walk *w, struct lv_xlate *x,
			    uint64_t ent)
{
	x->writable &= !!(ent & PTE_RW);
	x->user &= !!(ent & PTE_US);
	if (w->wide && (w->pg->efer & LV_EFER_NXE))
		x->nx |= !!(ent & PTE_NX);
}

/* 32-bit paging: two levels of 4-byte entries. */
static int walk_32(struct walk *w, struct lv_xlate *x, struct lv_fault *fault)
{
	uint64_t pde, pte, table;
	unsigned int hi_bits;
	int ret;

	table = w->pg->cr3 & GENMASK64(31, PAGE_SHIFT);
	ret = walk_read_entry(w, table + ((w->la >> 22) & 0x3ff) * 4, &pde);
	if (ret)
		return ret;
	if (!(pde & PTE_P))
		return walk_fault(w, 0, fault);
	walk_rights_add(w, x, pde);

	if ((pde & PTE_PS) && (w->pg->cr4 & LV_CR4_PSE)) {
		/* PSE-36: PDE bits 13+ hold physical bits 32+. */
		hi_bits = (w->maxphy < 40 ? w->maxphy : 40) - 32;
		if (pde & GENMASK64(21, PSE36_SHIFT + hi_bits))
			return walk_fault(w, LV_PFEC_P | LV_PFEC_RSVD, fault);
		x->page_size = 1ULL << 22;
		x->gpa = (pde & GENMASK64(31, 22)) |
			 (((pde >> PSE36_SHIFT) & GENMASK64(PSE36_MAX_BITS - 1, 0)) << 32);
		return 0;
	}

	table = pde & GENMASK64(31, PAGE_SHIFT);
	ret = walk_read_entry(w, table + ((w->la >> PAGE_SHIFT) & 0x3ff) * 4, &pte);
	if (ret)
		return ret;
	if (!(pte & PTE_P))
		return walk_fault(w, 0, fault);
	walk_rights_add(w, x, pte);
	x->page_size = PAGE_SIZE_4K;
	x->gpa = pte & GENMASK64(31, PAGE_SHIFT);
	return 0;
}

/* PAE paging: the four PDPTEs carry no rights and have their own rules. */
static int walk_pae_pdpte(struct walk *w, uint64_t *table,
			  struct lv_fault *fault)
{
	uint64_t base = w->pg->cr3 & GENMASK64(31, 5);
	uint64_t pdpte;
	int ret;

	ret = walk_read_entry(w, base + ((w->la >> 30) & 3) * 8, &pdpte);
	if (ret)
		return ret;
	/* The CPU never sets A in a PDPTE: bit 5 is reserved there. */
	w->ent_has_ad[w->nent - 1] = false;
	if (!(pdpte & PTE_P))
		return walk_fault(w, 0, fault);
	if (pdpte & (PAE_PDPTE_RSVD | GENMASK64(63, w->maxphy)))
		return walk_fault(w, LV_PFEC_P | LV_PFEC_RSVD, fault);
	*table = pdpte & GENMASK64(w->maxphy - 1, PAGE_SHIFT);
	return 0;
}

/*
 * The levels below the top of PAE and long-mode paging, 9 bits each:
 * @shift of the first level to walk, @table its base.
 */
static int walk_wide(struct walk *w, uint64_t table, unsigned int shift,
		     bool pae, struct lv_xlate *x, struct lv_fault *fault)
{
	uint64_t ent, rsvd_base, rsvd, page;
	int ret;

	/* PAE has no ignored bits 62:52: they are reserved there. */
	rsvd_base = rsvd_nx_bit(w) |
		    (pae ? GENMASK64(62, w->maxphy) : rsvd_addr_bits(w));
	for (;; shift -= 9) {
		ret = walk_read_entry(w, table + ((w->la >> shift) & 0x1ff) * 8,
				      &ent);
		if (ret)
			return ret;
		if (!(ent & PTE_P))
			return walk_fault(w, 0, fault);
		rsvd = rsvd_base;
		/* PS is reserved in PML5Es and PML4Es. */
		if (shift > 30)
			rsvd |= PTE_PS;
		/* Large pages: address bits below the page size, above PAT. */
		else if (shift > PAGE_SHIFT && (ent & PTE_PS))
			rsvd |= GENMASK64(shift - 1, PAGE_SHIFT + 1);
		if (ent & rsvd)
			return walk_fault(w, LV_PFEC_P | LV_PFEC_RSVD, fault);
		walk_rights_add(w, x, ent);
		if (shift == PAGE_SHIFT || (shift <= 30 && (ent & PTE_PS)))
			break;
		table = ent & GENMASK64(51, PAGE_SHIFT);
	}
	page = 1ULL << shift;
	x->page_size = page;
	x->gpa = ent & GENMASK64(51, shift);
	return 0;
}

static bool canonical(uint64_t la, unsigned int bits)
{
	int64_t s = (int64_t)(la << (64 - bits)) >> (64 - bits);

	return (uint64_t)s == la;
}

static int walk_dispatch(struct walk *w, enum lv_pg_mode mode,
			 struct lv_xlate *x, struct lv_fault *fault)
{
	uint64_t cr3_base = w->pg->cr3 & GENMASK64(w->maxphy - 1, PAGE_SHIFT);
	uint64_t table = 0;
	int ret;

	switch (mode) {
	case PG_32:
		return walk_32(w, x, fault);
	case PG_PAE:
		ret = walk_pae_pdpte(w, &table, fault);
		if (ret)
			return ret;
		return walk_wide(w, table, 21, true, x, fault);
	case PG_LONG4:
		if (!canonical(w->la, 48))
			return walk_gp(fault);
		return walk_wide(w, cr3_base, 39, false, x, fault);
	case PG_LONG5:
		if (!canonical(w->la, 57))
			return walk_gp(fault);
		return walk_wide(w, cr3_base, 48, false, x, fault);
	default:
		return -EINVAL;
	}
}

int lv_walk(const struct lv_paging *pg, uint64_t la, unsigned int access,
	    struct lv_xlate *out, struct lv_fault *fault)
{
	enum lv_pg_mode mode;
	struct walk w = { .pg = pg, .la = la, .access = access };
	struct lv_xlate x;
	int ret;

	if (!pg || !out || !fault || !pg->read_phys)
		return -EINVAL;
	w.maxphy = pg->maxphyaddr ? pg->maxphyaddr : 52;
	if (w.maxphy < 32 || w.maxphy > 52)
		return -EINVAL;
	mode = walk_mode(pg);
	walk_rights_init(&x);
	if (mode == PG_OFF) {
		x.page_size = 1ULL << 32;
		x.gpa = la & GENMASK64(31, 0);
		*out = x;
		return 0;
	}
	w.wide = mode != PG_32;
	ret = walk_dispatch(&w, mode, &x, fault);
	if (ret)
		return ret;
	ret = walk_check_rights(&w, &x, fault);
	if (ret)
		return ret;
	if (pg->flags & LV_PG_SET_AD) {
		ret = walk_set_ad(&w);
		if (ret)
			return ret;
	}
	x.gpa |= la & (x.page_size - 1);
	*out = x;
	return 0;
}
