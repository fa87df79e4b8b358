// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Guest page-table walker (libvmx/walk.c): page tables built in a fake
 * guest RAM for every paging mode; translations, large pages, permission
 * faults with their exact #PF error codes, reserved bits, canonical form,
 * Accessed/Dirty updates and unbacked tables.
 */
#include "assist_env.h"
#include "kselftest_harness.h"

#define PFEC_P		LV_PFEC_P
#define PFEC_W		LV_PFEC_W
#define PFEC_U		LV_PFEC_U
#define PFEC_RSVD	LV_PFEC_RSVD
#define PFEC_I		LV_PFEC_I

#define R		0
#define W		LV_ACC_WRITE
#define X		LV_ACC_FETCH
#define U		LV_ACC_USER

FIXTURE(walk)
{
	struct env e;
	struct lv_paging pg;
	struct lv_xlate x;
	struct lv_fault f;
};

FIXTURE_SETUP(walk)
{
	ASSERT_EQ(0, env_init(&self->e, MODE_P32));
}

FIXTURE_TEARDOWN(walk)
{
	env_free(&self->e);
}

/* Paging state from the env, with CR0/CR4/EFER replaced. */
static void pg_set(struct env *e, struct lv_paging *pg, uint64_t cr0,
		   uint64_t cr4, uint64_t efer)
{
	e->sregs.cr0 = cr0;
	e->sregs.cr4 = cr4;
	e->sregs.efer = efer;
	lv_paging_init(pg, &e->sregs, LV_RFLAGS_FIXED);
	pg->read_phys = env_read_phys;
	pg->write_phys = env_write_phys;
	pg->ctx = e;
}

/* Walk; 0 and the gpa, or the #PF error code + 0x1000, or -errno. */
static int64_t walk(struct lv_paging *pg, uint64_t la, unsigned int acc,
		    struct lv_xlate *x)
{
	struct lv_fault f;
	int ret = lv_walk(pg, la, acc, x, &f);

	if (ret == -EACCES && f.vector == LV_VEC_PF) {
		if (f.cr2 != la)
			return -1000;
		return 0x1000 + f.error_code;
	}
	if (ret == -EACCES)
		return 0x2000 + f.vector;
	return ret;
}

#define PF(ec)		(0x1000 + (ec))
#define GP		(0x2000 + LV_VEC_GP)

#define CR0_PG		(LV_CR0_PE | LV_CR0_PG)
#define CR0_PGWP	(CR0_PG | LV_CR0_WP)
#define LONG_EFER	(EFER_LME | LV_EFER_LMA | LV_EFER_NXE)

TEST_F(walk, paging_off_is_identity)
{
	pg_set(&self->e, &self->pg, LV_CR0_PE, 0, 0);
	ASSERT_EQ(0, walk(&self->pg, 0xfee00123, W | U | X, &self->x));
	EXPECT_EQ(0xfee00123, self->x.gpa);
	/* Linear addresses are 32 bits wide without paging. */
	ASSERT_EQ(0, walk(&self->pg, 0x100000010ULL, R, &self->x));
	EXPECT_EQ(0x10, self->x.gpa);
}

TEST_F(walk, legacy_32bit_4k)
{
	struct env *e = &self->e;

	e->sregs.cr3 = env_table(e);
	env_map_32(e, 0x40001000, 0, 0x123000, E_P | E_RW, false);
	env_map_32(e, 0x40002000, 0, 0x124000, E_P | E_US, false);
	pg_set(e, &self->pg, CR0_PGWP, 0, 0);

	ASSERT_EQ(0, walk(&self->pg, 0x40001abc, W, &self->x));
	EXPECT_EQ(0x123abc, self->x.gpa);
	EXPECT_EQ(4096, self->x.page_size);
	/* Supervisor page from user mode: present, user. */
	EXPECT_EQ(PF(PFEC_P | PFEC_U), walk(&self->pg, 0x40001000, U, &self->x));
	/* Read-only user page written by the supervisor with WP=1. */
	EXPECT_EQ(PF(PFEC_P | PFEC_W), walk(&self->pg, 0x40002000, W, &self->x));
	EXPECT_EQ(PF(PFEC_P | PFEC_W | PFEC_U),
		  walk(&self->pg, 0x40002000, W | U, &self->x));
	/* Not present: PDE and PTE level; no I/D bit without SMEP/NX. */
	EXPECT_EQ(PF(0), walk(&self->pg, 0x80000000, R, &self->x));
	EXPECT_EQ(PF(PFEC_W | PFEC_U), walk(&self->pg, 0x40003000, W | U, &self->x));
	EXPECT_EQ(PF(0), walk(&self->pg, 0x40003000, X, &self->x));

	/* WP=0: the supervisor may write read-only pages. */
	pg_set(e, &self->pg, CR0_PG, 0, 0);
	ASSERT_EQ(0, walk(&self->pg, 0x40002010, W, &self->x));
	EXPECT_EQ(0x124010, self->x.gpa);
}

TEST_F(walk, legacy_32bit_4m_and_pse36)
{
	struct env *e = &self->e;

	e->sregs.cr3 = env_table(e);
	env_map_32(e, 0x00400000, 0, 0, E_P | E_RW, true);
	/* PSE-36: PDE bits 13-16 are physical bits 32-35. */
	env_map_32(e, 0x00c00000, 0x00c00000 | (0x5ULL << 13), 0, E_P, true);
	env_map_32(e, 0x01000000, 0x01000000 | (1ULL << 21), 0, E_P, true);
	pg_set(e, &self->pg, CR0_PGWP, LV_CR4_PSE, 0);

	ASSERT_EQ(0, walk(&self->pg, 0x00512345, R, &self->x));
	EXPECT_EQ(0x00112345, self->x.gpa);
	EXPECT_EQ(4 << 20, self->x.page_size);
	ASSERT_EQ(0, walk(&self->pg, 0x00c00001, R, &self->x));
	EXPECT_EQ(0x500c00001ULL, self->x.gpa);
	/* Bit 21 is reserved in a 4 MiB PDE. */
	EXPECT_EQ(PF(PFEC_P | PFEC_RSVD), walk(&self->pg, 0x01000000, R, &self->x));
	/* MAXPHYADDR 34: PDE bits 15 and up are reserved. */
	self->pg.maxphyaddr = 34;
	EXPECT_EQ(PF(PFEC_P | PFEC_RSVD), walk(&self->pg, 0x00c00000, R, &self->x));

	/* Without CR4.PSE the PS bit is ignored: the PDE is a table. */
	*(uint32_t *)(e->ram + 0x112 * 4) = 0x5000 | E_P;
	pg_set(e, &self->pg, CR0_PGWP, 0, 0);
	ASSERT_EQ(0, walk(&self->pg, 0x00512345, R, &self->x));
	EXPECT_EQ(0x5345, self->x.gpa);
	EXPECT_EQ(4096, self->x.page_size);
}

TEST_F(walk, pae_4k_2m_nx_reserved)
{
	struct env *e = &self->e;
	uint64_t *pdpte;

	e->sregs.cr3 = env_table(e) + 0x20;	/* 32-byte aligned is enough */
	env_map_pae(e, 0x40000000, 0x1234000, 12, E_P | E_RW);
	env_map_pae(e, 0x40200000, 0x3e00000, 21, E_P | E_RW | E_US | E_NX);
	env_map_pae(e, 0x80000000, 0x5000, 12, E_P | (1ULL << 40));
	pg_set(e, &self->pg, CR0_PGWP, LV_CR4_PAE, LV_EFER_NXE);
	self->pg.maxphyaddr = 36;

	ASSERT_EQ(0, walk(&self->pg, 0x40000008, W, &self->x));
	EXPECT_EQ(0x1234008, self->x.gpa);
	ASSERT_EQ(0, walk(&self->pg, 0x40312345, R | U, &self->x));
	EXPECT_EQ(0x3f12345, self->x.gpa);
	EXPECT_EQ(2 << 20, self->x.page_size);
	EXPECT_EQ(PF(PFEC_P | PFEC_I | PFEC_U),
		  walk(&self->pg, 0x40200000, X | U, &self->x));
	/* Physical bit 40 is above MAXPHYADDR 36. */
	EXPECT_EQ(PF(PFEC_P | PFEC_RSVD), walk(&self->pg, 0x80000000, R, &self->x));

	/* Without EFER.NXE, bit 63 is reserved instead of no-execute. */
	pg_set(e, &self->pg, CR0_PGWP, LV_CR4_PAE, 0);
	EXPECT_EQ(PF(PFEC_P | PFEC_RSVD), walk(&self->pg, 0x40200000, R, &self->x));

	/* PDPTE: bits 1-2 and 5-8 are reserved, the RW bit among them. */
	pdpte = (uint64_t *)(e->ram + (e->sregs.cr3 & ~0x1fULL) + 8);
	*pdpte |= E_RW;
	EXPECT_EQ(PF(PFEC_P | PFEC_RSVD), walk(&self->pg, 0x40000000, R, &self->x));
	/* Not-present PDPTE. */
	EXPECT_EQ(PF(PFEC_W), walk(&self->pg, 0xc0000000, W, &self->x));
}

/* Long-mode fixture helper: 4-level tables with a few mappings. */
static void long4_setup(struct env *e)
{
	e->sregs.cr3 = env_table(e);
	env_map_wide(e, e->sregs.cr3, 39, 0x1000, 0x7000, 12, E_P | E_RW);
	env_map_wide(e, e->sregs.cr3, 39, 0x2000, 0x8000, 12, E_P | E_RW | E_US);
	env_map_wide(e, e->sregs.cr3, 39, 0x3000, 0x9000, 12, E_P | E_US);
	env_map_wide(e, e->sregs.cr3, 39, 0x4000, 0xa000, 12,
		     E_P | E_RW | E_NX);
	env_map_wide(e, e->sregs.cr3, 39, 0x40000000, 0x80000000, 30,
		     E_P | E_RW);
	env_map_wide(e, e->sregs.cr3, 39, 0x600000, 0xe00000, 21, E_P | E_RW);
	env_map_wide(e, e->sregs.cr3, 39, 0xffffffff80000000ULL, 0x200000, 21,
		     E_P | E_RW);
}

TEST_F(walk, long4_pages)
{
	struct env *e = &self->e;

	long4_setup(e);
	pg_set(e, &self->pg, CR0_PGWP, LV_CR4_PAE, LONG_EFER);

	ASSERT_EQ(0, walk(&self->pg, 0x1ff8, W, &self->x));
	EXPECT_EQ(0x7ff8, self->x.gpa);
	ASSERT_EQ(0, walk(&self->pg, 0x7fedcba9, R, &self->x));
	EXPECT_EQ(0xbfedcba9ULL, self->x.gpa);
	EXPECT_EQ(1 << 30, self->x.page_size);
	ASSERT_EQ(0, walk(&self->pg, 0x6abcde, X, &self->x));
	EXPECT_EQ(0xeabcde, self->x.gpa);
	EXPECT_EQ(2 << 20, self->x.page_size);
	ASSERT_EQ(0, walk(&self->pg, 0xffffffff80001234ULL, R, &self->x));
	EXPECT_EQ(0x201234, self->x.gpa);
	/* Not present at the PML4 level and at the PT level. */
	EXPECT_EQ(PF(PFEC_I), walk(&self->pg, 0x7f0000000000ULL, X, &self->x));
	EXPECT_EQ(PF(PFEC_W), walk(&self->pg, 0x5000, W, &self->x));
}

TEST_F(walk, long4_rights)
{
	struct env *e = &self->e;
	struct lv_paging *pg = &self->pg;

	long4_setup(e);
	pg_set(e, pg, CR0_PGWP, LV_CR4_PAE, LONG_EFER);

	/* U/S: the tables have US, the leaf decides. */
	EXPECT_EQ(PF(PFEC_P | PFEC_U), walk(pg, 0x1000, U, &self->x));
	EXPECT_EQ(0, walk(pg, 0x2000, W | U, &self->x));
	EXPECT_EQ(PF(PFEC_P | PFEC_W | PFEC_U), walk(pg, 0x3000, W | U, &self->x));
	EXPECT_EQ(PF(PFEC_P | PFEC_W), walk(pg, 0x3000, W, &self->x));
	/* NX. */
	EXPECT_EQ(PF(PFEC_P | PFEC_I), walk(pg, 0x4000, X, &self->x));
	EXPECT_EQ(0, walk(pg, 0x4000, W, &self->x));
	/* User pages are fine for the supervisor without SMEP/SMAP. */
	EXPECT_EQ(0, walk(pg, 0x2000, X, &self->x));
	EXPECT_EQ(0, walk(pg, 0x2000, W, &self->x));

	/* SMEP: no supervisor fetch from a user page. */
	pg_set(e, pg, CR0_PGWP, LV_CR4_PAE | LV_CR4_SMEP, LONG_EFER);
	EXPECT_EQ(PF(PFEC_P | PFEC_I), walk(pg, 0x2000, X, &self->x));
	EXPECT_EQ(0, walk(pg, 0x2000, X | U, &self->x));

	/* SMAP: no supervisor data access to a user page unless AC. */
	pg_set(e, pg, CR0_PGWP, LV_CR4_PAE | LV_CR4_SMAP, LONG_EFER);
	EXPECT_EQ(PF(PFEC_P), walk(pg, 0x2000, R, &self->x));
	EXPECT_EQ(PF(PFEC_P | PFEC_W), walk(pg, 0x2000, W, &self->x));
	EXPECT_EQ(0, walk(pg, 0x2000, X, &self->x));
	pg->rflags |= LV_RFLAGS_AC;
	EXPECT_EQ(0, walk(pg, 0x2000, W, &self->x));
	/* AC does not make a read-only page writable (WP=1). */
	EXPECT_EQ(PF(PFEC_P | PFEC_W), walk(pg, 0x3000, W, &self->x));

	/* A supervisor-only table above makes the whole range supervisor. */
	*(uint64_t *)(e->ram + e->sregs.cr3) &= ~E_US;
	pg_set(e, pg, CR0_PGWP, LV_CR4_PAE, LONG_EFER);
	EXPECT_EQ(PF(PFEC_P | PFEC_U), walk(pg, 0x2000, U, &self->x));
}

TEST_F(walk, long4_reserved_bits)
{
	struct env *e = &self->e;
	struct lv_paging *pg = &self->pg;
	uint64_t pml4e, leaf;

	long4_setup(e);
	leaf = env_map_wide(e, e->sregs.cr3, 39, 0x10000, 0x9000, 12, E_P);
	pg_set(e, pg, CR0_PGWP, LV_CR4_PAE, LONG_EFER);
	pg->maxphyaddr = 40;

	/* Above MAXPHYADDR. */
	*(uint64_t *)(e->ram + leaf) |= 1ULL << 45;
	EXPECT_EQ(PF(PFEC_P | PFEC_RSVD), walk(pg, 0x10000, R, &self->x));
	/* Bits 52-62 are ignored in long mode. */
	*(uint64_t *)(e->ram + leaf) = 0x9000 | E_P | (0x7ffULL << 52);
	EXPECT_EQ(0, walk(pg, 0x10000, R, &self->x));
	/* NX without EFER.NXE. */
	*(uint64_t *)(e->ram + leaf) = 0x9000 | E_P | E_NX;
	pg_set(e, pg, CR0_PGWP, LV_CR4_PAE, EFER_LME | LV_EFER_LMA);
	EXPECT_EQ(PF(PFEC_P | PFEC_RSVD | PFEC_U),
		  walk(pg, 0x10000, U, &self->x));
	/* ... and with it no I/D bit, as neither NXE nor SMEP is on. */
	EXPECT_EQ(PF(PFEC_P | PFEC_RSVD), walk(pg, 0x10000, X, &self->x));

	pg_set(e, pg, CR0_PGWP, LV_CR4_PAE, LONG_EFER);
	/* 2 MiB page with bit 13 set; 1 GiB page with bit 29 set. */
	env_map_wide(e, e->sregs.cr3, 39, 0x800000, 0xe00000 | (1 << 13), 21,
		     E_P);
	EXPECT_EQ(PF(PFEC_P | PFEC_RSVD), walk(pg, 0x800000, R, &self->x));
	env_map_wide(e, e->sregs.cr3, 39, 0x80000000, 0x80000000 | (1 << 29),
		     30, E_P);
	EXPECT_EQ(PF(PFEC_P | PFEC_RSVD), walk(pg, 0x80000000, R, &self->x));
	/* Bit 12 of a large page is PAT, not reserved. */
	env_map_wide(e, e->sregs.cr3, 39, 0xc0000000, 0xc0000000 | (1 << 12),
		     30, E_P);
	ASSERT_EQ(0, walk(pg, 0xc0000004, R, &self->x));
	EXPECT_EQ(0xc0000004, self->x.gpa);
	/* PS in a PML4E is reserved. */
	pml4e = *(uint64_t *)(e->ram + e->sregs.cr3);
	*(uint64_t *)(e->ram + e->sregs.cr3) = pml4e | E_PS;
	EXPECT_EQ(PF(PFEC_P | PFEC_RSVD | PFEC_W), walk(pg, 0x1000, W, &self->x));
}

TEST_F(walk, long5_and_canonical)
{
	struct env *e = &self->e;
	struct lv_paging *pg = &self->pg;
	uint64_t la = 0x00ab000000001000ULL;	/* above 48 bits */

	e->sregs.cr3 = env_table(e);
	env_map_wide(e, e->sregs.cr3, 48, la, 0x55000, 12, E_P | E_RW);
	env_map_wide(e, e->sregs.cr3, 48, 0xff00000000000000ULL, 0x200000, 21,
		     E_P | E_RW);
	pg_set(e, pg, CR0_PGWP, LV_CR4_PAE | LV_CR4_LA57, LONG_EFER);

	ASSERT_EQ(0, walk(pg, la + 0x10, W, &self->x));
	EXPECT_EQ(0x55010, self->x.gpa);
	ASSERT_EQ(0, walk(pg, 0xff00000000012345ULL, R, &self->x));
	EXPECT_EQ(0x212345, self->x.gpa);
	EXPECT_EQ(PF(0), walk(pg, 0x0001000000000000ULL, R, &self->x));
	/* Non-canonical for 57 bits. */
	EXPECT_EQ(GP, walk(pg, 0x0100000000000000ULL, R, &self->x));

	/* The same address is non-canonical with 4 levels. */
	pg_set(e, pg, CR0_PGWP, LV_CR4_PAE, LONG_EFER);
	EXPECT_EQ(GP, walk(pg, la, R, &self->x));
	EXPECT_EQ(GP, walk(pg, 0x0000800000000000ULL, R, &self->x));
	EXPECT_EQ(GP, walk(pg, 0xffff7fffffffffffULL, R, &self->x));
}

TEST_F(walk, accessed_dirty)
{
	struct env *e = &self->e;
	struct lv_paging *pg = &self->pg;
	uint64_t leaf, pml4e;

	e->sregs.cr3 = env_table(e);
	leaf = env_map_wide(e, e->sregs.cr3, 39, 0x1000, 0x7000, 12, E_P | E_RW);
	pg_set(e, pg, CR0_PGWP, LV_CR4_PAE, LONG_EFER);

	/* Off by default. */
	ASSERT_EQ(0, walk(pg, 0x1000, W, &self->x));
	EXPECT_EQ(0, *(uint64_t *)(e->ram + leaf) & (E_A | E_D));

	pg->flags = LV_PG_SET_AD;
	ASSERT_EQ(0, walk(pg, 0x1000, R, &self->x));
	EXPECT_EQ(E_A, *(uint64_t *)(e->ram + leaf) & (E_A | E_D));
	pml4e = *(uint64_t *)(e->ram + e->sregs.cr3);
	EXPECT_EQ(E_A, pml4e & (E_A | E_D));
	ASSERT_EQ(0, walk(pg, 0x1000, W, &self->x));
	EXPECT_EQ(E_A | E_D, *(uint64_t *)(e->ram + leaf) & (E_A | E_D));
	/* Only the leaf gets D. */
	EXPECT_EQ(E_A, *(uint64_t *)(e->ram + e->sregs.cr3) & (E_A | E_D));
	/* Nothing is set on a fault. */
	*(uint64_t *)(e->ram + leaf) = 0x7000 | E_P;
	EXPECT_EQ(PF(PFEC_P | PFEC_W), walk(pg, 0x1000, W, &self->x));
	EXPECT_EQ(0, *(uint64_t *)(e->ram + leaf) & (E_A | E_D));
}

TEST_F(walk, unbacked_tables_and_bad_args)
{
	struct env *e = &self->e;
	struct lv_paging *pg = &self->pg;

	/* CR3 beyond guest RAM: a VMM-level error, not a guest #PF. */
	e->sregs.cr3 = 0x40000000;
	pg_set(e, pg, CR0_PGWP, LV_CR4_PAE, LONG_EFER);
	EXPECT_EQ(-EFAULT, walk(pg, 0x1000, R, &self->x));
	pg_set(e, pg, CR0_PGWP, 0, 0);
	EXPECT_EQ(-EFAULT, walk(pg, 0x1000, R, &self->x));
	/* A table in the VGA hole. */
	e->sregs.cr3 = env_table(e);
	*(uint32_t *)(e->ram + e->sregs.cr3) = ENV_HOLE_START | E_TABLE;
	EXPECT_EQ(-EFAULT, walk(pg, 0x1000, R, &self->x));

	EXPECT_EQ(-EINVAL, lv_walk(NULL, 0, 0, &self->x, &self->f));
	pg->maxphyaddr = 64;
	EXPECT_EQ(-EINVAL, lv_walk(pg, 0, 0, &self->x, &self->f));
}

TEST_HARNESS_MAIN
