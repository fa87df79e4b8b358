// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libvmx local APIC on the host: registers and reset values, priorities,
 * EOI, the three timer modes with clocks the test passes in, IPIs through
 * ICR, destination matching, the x2APIC MSR map, and hostile accesses.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmx/lapic.h"
#include "kselftest_harness.h"

#define TSC_KHZ 2000000ull	/* 2 GHz guest TSC: 2 ticks per ns */

struct rec {
	int nsend, neoi;
	struct libvmx_apic_msg msg;
	uint8_t eoi_vector;
};

static void rec_send(void *opaque, struct libvmx_lapic *from, const struct libvmx_apic_msg *msg)
{
	struct rec *r = opaque;

	r->nsend++;
	r->msg = *msg;
}

static void rec_eoi(void *opaque, struct libvmx_lapic *apic, uint8_t vector)
{
	struct rec *r = opaque;

	r->neoi++;
	r->eoi_vector = vector;
}

static const struct libvmx_lapic_ops rec_ops = { .send = rec_send, .eoi = rec_eoi };

static struct libvmx_apic_clock clk(uint64_t ns)
{
	return (struct libvmx_apic_clock){ .ns = ns, .tsc = ns * 2 };
}

static uint32_t rd_at(struct libvmx_lapic *a, uint32_t off, uint64_t ns)
{
	struct libvmx_apic_clock c = clk(ns);
	uint32_t v = 0xdeadbeef;

	if (libvmx_lapic_mmio(a, off, &v, 4, false, &c))
		return 0xbad0bad0;
	return v;
}

static void wr_at(struct libvmx_lapic *a, uint32_t off, uint32_t v, uint64_t ns)
{
	struct libvmx_apic_clock c = clk(ns);

	libvmx_lapic_mmio(a, off, &v, 4, true, &c);
}

#define rd(a, off) rd_at(a, off, 0)
#define wr(a, off, v) wr_at(a, off, v, 0)

static struct libvmx_lapic *mk(uint32_t id, struct rec *r)
{
	struct libvmx_lapic *a = NULL;

	if (libvmx_lapic_create(id, TSC_KHZ, &rec_ops, r, &a))
		return NULL;
	return a;
}

/* Software-enable with spurious vector 0xff. */
static struct libvmx_lapic *mk_on(uint32_t id, struct rec *r)
{
	struct libvmx_lapic *a = mk(id, r);

	if (a)
		wr(a, 0xf0, 0x1ff);
	return a;
}

TEST(create_args)
{
	struct libvmx_lapic *a = (void *)1;

	EXPECT_EQ(-EINVAL, libvmx_lapic_create(0, TSC_KHZ, NULL, NULL, NULL));
	EXPECT_EQ(-EINVAL, libvmx_lapic_create(0, 0, NULL, NULL, &a));
	EXPECT_EQ(-EINVAL, libvmx_lapic_create(0xffffffffu, TSC_KHZ, NULL, NULL, &a));
	EXPECT_EQ((void *)1, a);
	ASSERT_EQ(0, libvmx_lapic_create(3, TSC_KHZ, NULL, NULL, &a));
	EXPECT_EQ(3u, libvmx_lapic_id(a));
	libvmx_lapic_destroy(a);
	libvmx_lapic_destroy(NULL);
	/* NULL objects are harmless everywhere. */
	EXPECT_EQ(-1, libvmx_lapic_pending(NULL));
	libvmx_lapic_accept(NULL, 0x40, false);
	libvmx_lapic_ack(NULL, 0x40);
	libvmx_lapic_timer_update(NULL, NULL);
	EXPECT_EQ(0u, libvmx_lapic_timer_deadline(NULL));
	EXPECT_EQ(-EINVAL, libvmx_lapic_mmio(NULL, 0x20, &a, 4, false, NULL));
}

TEST(reset_values)
{
	struct rec r = { 0 };
	struct libvmx_lapic *a = mk(5, &r);
	uint64_t v;

	ASSERT_NE(NULL, a);
	EXPECT_EQ(5u << 24, rd(a, 0x20));
	EXPECT_EQ(0x00050014u, rd(a, 0x30));
	EXPECT_EQ(0u, rd(a, 0x80));
	EXPECT_EQ(0u, rd(a, 0x90));
	EXPECT_EQ(0u, rd(a, 0xa0));
	EXPECT_EQ(0u, rd(a, 0xd0));
	EXPECT_EQ(0xffffffffu, rd(a, 0xe0));
	EXPECT_EQ(0xffu, rd(a, 0xf0));
	for (uint32_t off = 0x100; off < 0x280; off += 0x10)
		EXPECT_EQ(0u, rd(a, off));
	EXPECT_EQ(0u, rd(a, 0x280));
	EXPECT_EQ(0u, rd(a, 0x300));
	EXPECT_EQ(0u, rd(a, 0x310));
	for (uint32_t off = 0x320; off <= 0x370; off += 0x10)
		EXPECT_EQ(0x10000u, rd(a, off));
	EXPECT_EQ(0u, rd(a, 0x380));
	EXPECT_EQ(0u, rd(a, 0x390));
	EXPECT_EQ(0u, rd(a, 0x3e0));
	EXPECT_FALSE(libvmx_lapic_enabled(a));
	EXPECT_EQ(0, libvmx_lapic_rdmsr(a, 0x6e0, &v, NULL));
	EXPECT_EQ(0u, v);

	/* Dirty everything, reset, same values again; the id stays. */
	wr(a, 0xf0, 0x1f0);
	wr(a, 0x80, 0x30);
	wr(a, 0xd0, 0x01000000);
	wr(a, 0xe0, 0x0fffffff);
	wr(a, 0x320, 0x20030);
	wr(a, 0x3e0, 0xb);
	wr(a, 0x380, 1000);
	libvmx_lapic_accept(a, 0x50, true);
	libvmx_lapic_reset(a);
	EXPECT_EQ(5u << 24, rd(a, 0x20));
	EXPECT_EQ(0u, rd(a, 0x80));
	EXPECT_EQ(0u, rd(a, 0xd0));
	EXPECT_EQ(0xffffffffu, rd(a, 0xe0));
	EXPECT_EQ(0xffu, rd(a, 0xf0));
	EXPECT_EQ(0x10000u, rd(a, 0x320));
	EXPECT_EQ(0u, rd(a, 0x380));
	EXPECT_EQ(0u, rd(a, 0x3e0));
	EXPECT_EQ(0u, rd(a, 0x200 + 0x20));
	EXPECT_EQ(0u, libvmx_lapic_timer_deadline(a));
	EXPECT_EQ(-1, libvmx_lapic_pending(a));
	libvmx_lapic_destroy(a);
}

TEST(register_rw)
{
	struct rec r = { 0 };
	struct libvmx_lapic *a = mk_on(1, &r);
	uint8_t b = 0x55;
	uint64_t q = ~0ull;

	ASSERT_NE(NULL, a);
	/* Read-only registers ignore writes. */
	wr(a, 0x20, 0x07000000);
	EXPECT_EQ(1u << 24, rd(a, 0x20));
	wr(a, 0x30, 0);
	EXPECT_EQ(0x00050014u, rd(a, 0x30));
	wr(a, 0x80, 0xfff);
	EXPECT_EQ(0xffu, rd(a, 0x80));
	EXPECT_EQ(0xffu, libvmx_lapic_get_tpr(a));
	libvmx_lapic_set_tpr(a, 0x20);
	EXPECT_EQ(0x20u, rd(a, 0x80));
	wr(a, 0xd0, 0xffffffff);
	EXPECT_EQ(0xff000000u, rd(a, 0xd0));
	wr(a, 0xe0, 0);
	EXPECT_EQ(0x0fffffffu, rd(a, 0xe0));
	wr(a, 0xf0, 0xffffffff);
	EXPECT_EQ(0x3ffu, rd(a, 0xf0));
	wr(a, 0x310, 0xffffffff);
	EXPECT_EQ(0xff000000u, rd(a, 0x310));
	/* LVT writable bits: timer vector/mask/mode, LINT polarity/trigger. */
	wr(a, 0x320, 0xffffffff);
	EXPECT_EQ(0x000700ffu, rd(a, 0x320));
	wr(a, 0x330, 0xffffffff);
	EXPECT_EQ(0x000107ffu, rd(a, 0x330));
	wr(a, 0x350, 0xffffffff);
	EXPECT_EQ(0x0001a7ffu, rd(a, 0x350));
	wr(a, 0x370, 0xffffffff);
	EXPECT_EQ(0x000100ffu, rd(a, 0x370));
	wr(a, 0x3e0, 0xffffffff);
	EXPECT_EQ(0xbu, rd(a, 0x3e0));
	/* IRR/ISR/TMR are read-only. */
	wr(a, 0x200, 0xffffffff);
	wr(a, 0x100, 0xffffffff);
	EXPECT_EQ(0u, rd(a, 0x200));
	EXPECT_EQ(0u, rd(a, 0x100));
	/* Sub-dword and unaligned accesses read 0 and are ignored. */
	ASSERT_EQ(0, libvmx_lapic_mmio(a, 0x30, &b, 1, false, NULL));
	EXPECT_EQ(0, b);
	ASSERT_EQ(0, libvmx_lapic_mmio(a, 0x30, &q, 8, false, NULL));
	EXPECT_EQ(0ull, q);
	b = 0;
	libvmx_lapic_mmio(a, 0xf0, &b, 1, true, NULL);
	EXPECT_EQ(0x3ffu, rd(a, 0xf0));
	EXPECT_EQ(0u, rd(a, 0x34));
	/* Disabling masks every LVT, and the masks stick until re-enabled. */
	wr(a, 0xf0, 0xff);
	EXPECT_EQ(0x000100ffu | 0x10000u, rd(a, 0x370));
	wr(a, 0x370, 0x40);
	EXPECT_EQ(0x10040u, rd(a, 0x370));
	wr(a, 0xf0, 0x1ff);
	wr(a, 0x370, 0x40);
	EXPECT_EQ(0x40u, rd(a, 0x370));
	libvmx_lapic_destroy(a);
}

TEST(esr_latch)
{
	struct rec r = { 0 };
	struct libvmx_lapic *a = mk_on(0, &r);

	ASSERT_NE(NULL, a);
	/* An illegal vector received: bit 6, visible after an ESR write. */
	libvmx_lapic_accept(a, 5, false);
	EXPECT_EQ(-1, libvmx_lapic_pending(a));
	EXPECT_EQ(0u, rd(a, 0x280));
	wr(a, 0x280, 0);
	EXPECT_EQ(0x40u, rd(a, 0x280));
	wr(a, 0x280, 0);
	EXPECT_EQ(0u, rd(a, 0x280));
	/* Reserved register: bit 7; with LVT error unmasked, its vector. */
	wr(a, 0x370, 0x33);
	rd(a, 0x2f0);
	wr(a, 0x280, 0);
	EXPECT_EQ(0x80u, rd(a, 0x280));
	EXPECT_EQ(0x33, libvmx_lapic_pending(a));
	/* An IPI with an illegal vector: bit 5, nothing sent. */
	wr(a, 0x300, 0x00004003);
	EXPECT_EQ(0, r.nsend);
	wr(a, 0x280, 0);
	EXPECT_EQ(0x20u, rd(a, 0x280));
	libvmx_lapic_destroy(a);
}

TEST(priority_tpr_ppr)
{
	struct rec r = { 0 };
	struct libvmx_lapic *a = mk_on(0, &r);

	ASSERT_NE(NULL, a);
	libvmx_lapic_accept(a, 0x41, false);
	libvmx_lapic_accept(a, 0x82, false);
	EXPECT_EQ(0x82, libvmx_lapic_pending(a));
	EXPECT_EQ(1u << 2, rd(a, 0x200 + 0x40));
	/* TPR class 8 blocks 0x82 (same class) but nothing above. */
	wr(a, 0x80, 0x85);
	EXPECT_EQ(0x85u, rd(a, 0xa0));
	EXPECT_EQ(-1, libvmx_lapic_pending(a));
	wr(a, 0x80, 0x70);
	EXPECT_EQ(0x82, libvmx_lapic_pending(a));
	libvmx_lapic_ack(a, 0x82);
	/* ISR class 8 now rules PPR; 0x41 waits. */
	EXPECT_EQ(0x80u, rd(a, 0xa0));
	EXPECT_EQ(1u << 2, rd(a, 0x100 + 0x40));
	EXPECT_EQ(0u, rd(a, 0x200 + 0x40));
	EXPECT_EQ(-1, libvmx_lapic_pending(a));
	/* A higher class preempts. */
	libvmx_lapic_accept(a, 0x91, false);
	EXPECT_EQ(0x91, libvmx_lapic_pending(a));
	/* Ack of a vector not in IRR does nothing. */
	libvmx_lapic_ack(a, 0x99);
	EXPECT_EQ(0u, rd(a, 0x100 + 0x40) & (1u << 0x19));
	wr(a, 0xb0, 0);
	EXPECT_EQ(0x70u, rd(a, 0xa0));
	/* 0x41 is still below TPR class 7. */
	EXPECT_EQ(0x91, libvmx_lapic_pending(a));
	libvmx_lapic_ack(a, 0x91);
	wr(a, 0xb0, 0);
	EXPECT_EQ(-1, libvmx_lapic_pending(a));
	wr(a, 0x80, 0);
	EXPECT_EQ(0x41, libvmx_lapic_pending(a));
	EXPECT_EQ(0, r.neoi);
	libvmx_lapic_destroy(a);
}

TEST(eoi_nested_and_level)
{
	struct rec r = { 0 };
	struct libvmx_lapic *a = mk_on(0, &r);

	ASSERT_NE(NULL, a);
	libvmx_lapic_accept(a, 0x30, true);	/* level */
	libvmx_lapic_ack(a, libvmx_lapic_pending(a));
	libvmx_lapic_accept(a, 0x60, false);
	libvmx_lapic_ack(a, libvmx_lapic_pending(a));
	libvmx_lapic_accept(a, 0xa0, false);
	libvmx_lapic_ack(a, libvmx_lapic_pending(a));
	EXPECT_EQ(1u << 16, rd(a, 0x110));	/* 0x30 */
	EXPECT_EQ(1u << 16, rd(a, 0x180 + 0x10));	/* TMR 0x30 */
	EXPECT_EQ(0xa0u, rd(a, 0xa0));
	/* EOI takes the highest ISR first. */
	wr(a, 0xb0, 0);
	EXPECT_EQ(0x60u, rd(a, 0xa0));
	EXPECT_EQ(0, r.neoi);
	wr(a, 0xb0, 0);
	EXPECT_EQ(0x30u, rd(a, 0xa0));
	EXPECT_EQ(0, r.neoi);
	wr(a, 0xb0, 0);
	EXPECT_EQ(0u, rd(a, 0xa0));
	EXPECT_EQ(1, r.neoi);
	EXPECT_EQ(0x30, r.eoi_vector);
	/* EOI with nothing in service is harmless. */
	wr(a, 0xb0, 0);
	EXPECT_EQ(1, r.neoi);
	/* The same vector edge-triggered next time: TMR clears, no callback. */
	libvmx_lapic_accept(a, 0x30, false);
	EXPECT_EQ(0u, rd(a, 0x190));
	libvmx_lapic_ack(a, 0x30);
	wr(a, 0xb0, 0);
	EXPECT_EQ(1, r.neoi);
	libvmx_lapic_destroy(a);
}

TEST(software_disable_drops)
{
	struct rec r = { 0 };
	struct libvmx_lapic *a = mk(0, &r);

	ASSERT_NE(NULL, a);
	libvmx_lapic_accept(a, 0x40, false);
	EXPECT_EQ(-1, libvmx_lapic_pending(a));
	EXPECT_EQ(0u, rd(a, 0x220));
	wr(a, 0xf0, 0x1ff);
	libvmx_lapic_accept(a, 0x40, false);
	EXPECT_EQ(0x40, libvmx_lapic_pending(a));
	/* What is pending stays pending after a disable (SDM). */
	wr(a, 0xf0, 0xff);
	EXPECT_EQ(0x40, libvmx_lapic_pending(a));
	libvmx_lapic_accept(a, 0x50, false);
	EXPECT_EQ(0x40, libvmx_lapic_pending(a));
	libvmx_lapic_destroy(a);
}

static const struct { uint32_t tdcr, div; } divides[] = {
	{ 0x0, 2 }, { 0x1, 4 }, { 0x2, 8 }, { 0x3, 16 },
	{ 0x8, 32 }, { 0x9, 64 }, { 0xa, 128 }, { 0xb, 1 },
};

TEST(timer_oneshot_divides)
{
	struct rec r = { 0 };

	for (unsigned int i = 0; i < sizeof(divides) / sizeof(divides[0]); i++) {
		struct libvmx_lapic *a = mk_on(0, &r);
		uint64_t t0 = 1000000, div = divides[i].div;
		struct libvmx_apic_clock c;

		ASSERT_NE(NULL, a);
		wr(a, 0x3e0, divides[i].tdcr);
		wr(a, 0x320, 0x40);	/* one-shot, vector 0x40 */
		wr_at(a, 0x380, 1000, t0);
		EXPECT_EQ(1000u, rd_at(a, 0x390, t0));
		EXPECT_EQ(t0 + 1000 * div, libvmx_lapic_timer_deadline(a));
		EXPECT_EQ(750u, rd_at(a, 0x390, t0 + 250 * div));
		EXPECT_EQ(1u, rd_at(a, 0x390, t0 + 999 * div));
		c = clk(t0 + 1000 * div - 1);
		libvmx_lapic_timer_update(a, &c);
		EXPECT_EQ(-1, libvmx_lapic_pending(a));
		c = clk(t0 + 1000 * div);
		EXPECT_EQ(0u, rd_at(a, 0x390, c.ns));
		libvmx_lapic_timer_update(a, &c);
		EXPECT_EQ(0x40, libvmx_lapic_pending(a));
		EXPECT_EQ(0u, libvmx_lapic_timer_deadline(a));
		EXPECT_EQ(0u, rd_at(a, 0x390, c.ns + 5000));
		EXPECT_EQ(1000u, rd_at(a, 0x380, c.ns));
		/* One-shot fires once. */
		libvmx_lapic_ack(a, 0x40);
		wr(a, 0xb0, 0);
		c = clk(t0 + 100000 * div);
		libvmx_lapic_timer_update(a, &c);
		EXPECT_EQ(-1, libvmx_lapic_pending(a));
		libvmx_lapic_destroy(a);
	}
}

TEST(timer_periodic_and_stop)
{
	struct rec r = { 0 };
	struct libvmx_lapic *a = mk_on(0, &r);
	struct libvmx_apic_clock c;
	uint64_t t0 = 5000;

	ASSERT_NE(NULL, a);
	wr(a, 0x3e0, 0x3);			/* divide by 16 */
	wr(a, 0x320, 0x20000 | 0xec);		/* periodic */
	wr_at(a, 0x380, 10000, t0);		/* 160 us period */
	EXPECT_EQ(t0 + 160000, libvmx_lapic_timer_deadline(a));
	c = clk(t0 + 160000);
	libvmx_lapic_timer_update(a, &c);
	EXPECT_EQ(0xec, libvmx_lapic_pending(a));
	EXPECT_EQ(t0 + 320000, libvmx_lapic_timer_deadline(a));
	/* Reloaded: counts down from TMICT again. */
	EXPECT_EQ(10000u, rd_at(a, 0x390, t0 + 160000));
	EXPECT_EQ(5000u, rd_at(a, 0x390, t0 + 240000));
	/* Not updated for 3.5 periods: TMCCT is still right, one interrupt. */
	EXPECT_EQ(5000u, rd_at(a, 0x390, t0 + 720000));
	libvmx_lapic_ack(a, 0xec);
	wr(a, 0xb0, 0);
	c = clk(t0 + 720000);
	libvmx_lapic_timer_update(a, &c);
	EXPECT_EQ(0xec, libvmx_lapic_pending(a));
	EXPECT_EQ(t0 + 800000, libvmx_lapic_timer_deadline(a));
	/* Masked: keeps counting, no interrupt. */
	libvmx_lapic_ack(a, 0xec);
	wr(a, 0xb0, 0);
	wr(a, 0x320, 0x30000 | 0xec);
	c = clk(t0 + 800000);
	libvmx_lapic_timer_update(a, &c);
	EXPECT_EQ(-1, libvmx_lapic_pending(a));
	EXPECT_EQ(t0 + 960000, libvmx_lapic_timer_deadline(a));
	/* TMICT 0 stops it. */
	wr_at(a, 0x380, 0, t0 + 810000);
	EXPECT_EQ(0u, libvmx_lapic_timer_deadline(a));
	EXPECT_EQ(0u, rd_at(a, 0x390, t0 + 820000));
	libvmx_lapic_destroy(a);
}

TEST(timer_periodic_min_period)
{
	struct rec r = { 0 };
	struct libvmx_lapic *a = mk_on(0, &r);
	struct libvmx_apic_clock c = clk(100);

	ASSERT_NE(NULL, a);
	wr(a, 0x3e0, 0xb);
	wr(a, 0x320, 0x20000 | 0x40);
	wr_at(a, 0x380, 1, 99);
	libvmx_lapic_timer_update(a, &c);
	EXPECT_EQ(0x40, libvmx_lapic_pending(a));
	/* A 1 ns period is stretched: the VMM does not spin. */
	EXPECT_LE(100 + LIBVMX_LAPIC_MIN_PERIOD_NS - 1, libvmx_lapic_timer_deadline(a));
	libvmx_lapic_destroy(a);
}

TEST(timer_tsc_deadline)
{
	struct rec r = { 0 };
	struct libvmx_lapic *a = mk_on(0, &r);
	struct libvmx_apic_clock c = clk(1000);
	uint64_t v;

	ASSERT_NE(NULL, a);
	/* Not in TSC-deadline mode: writes ignored, reads 0. */
	EXPECT_EQ(0, libvmx_lapic_wrmsr(a, 0x6e0, 5000, &c));
	EXPECT_EQ(0, libvmx_lapic_rdmsr(a, 0x6e0, &v, &c));
	EXPECT_EQ(0ull, v);
	EXPECT_EQ(0u, libvmx_lapic_timer_deadline(a));
	/* A running one-shot is disarmed by the switch to TSC-deadline. */
	wr_at(a, 0x380, 1000000, 1000);
	EXPECT_NE(0u, libvmx_lapic_timer_deadline(a));
	wr(a, 0x320, 0x40000 | 0xef);
	EXPECT_EQ(0u, libvmx_lapic_timer_deadline(a));
	EXPECT_EQ(0u, rd(a, 0x380));
	/* TMICT is ignored in this mode. */
	wr_at(a, 0x380, 100, 1000);
	EXPECT_EQ(0u, rd(a, 0x380));
	EXPECT_EQ(0u, libvmx_lapic_timer_deadline(a));
	/* Future: 1 us later is 2000 TSC ticks at 2 GHz. */
	EXPECT_EQ(0, libvmx_lapic_wrmsr(a, 0x6e0, c.tsc + 2000, &c));
	EXPECT_EQ(0, libvmx_lapic_rdmsr(a, 0x6e0, &v, &c));
	EXPECT_EQ(c.tsc + 2000, v);
	EXPECT_EQ(2000u, libvmx_lapic_timer_deadline(a));
	EXPECT_EQ(0u, rd_at(a, 0x390, 1500));
	c = clk(1999);
	libvmx_lapic_timer_update(a, &c);
	EXPECT_EQ(-1, libvmx_lapic_pending(a));
	c = clk(2000);
	libvmx_lapic_timer_update(a, &c);
	EXPECT_EQ(0xef, libvmx_lapic_pending(a));
	EXPECT_EQ(0, libvmx_lapic_rdmsr(a, 0x6e0, &v, &c));
	EXPECT_EQ(0ull, v);
	EXPECT_EQ(0u, libvmx_lapic_timer_deadline(a));
	libvmx_lapic_ack(a, 0xef);
	wr(a, 0xb0, 0);
	/* Past: due at once, fires at the next update. */
	c = clk(10000);
	EXPECT_EQ(0, libvmx_lapic_wrmsr(a, 0x6e0, 5, &c));
	EXPECT_EQ(10000u, libvmx_lapic_timer_deadline(a));
	EXPECT_EQ(-1, libvmx_lapic_pending(a));
	libvmx_lapic_timer_update(a, &c);
	EXPECT_EQ(0xef, libvmx_lapic_pending(a));
	libvmx_lapic_ack(a, 0xef);
	wr(a, 0xb0, 0);
	/* 0 disarms. */
	EXPECT_EQ(0, libvmx_lapic_wrmsr(a, 0x6e0, c.tsc + 100, &c));
	EXPECT_NE(0u, libvmx_lapic_timer_deadline(a));
	EXPECT_EQ(0, libvmx_lapic_wrmsr(a, 0x6e0, 0, &c));
	EXPECT_EQ(0u, libvmx_lapic_timer_deadline(a));
	c = clk(1000000);
	libvmx_lapic_timer_update(a, &c);
	EXPECT_EQ(-1, libvmx_lapic_pending(a));
	/* An early wake-up (host ns ahead of the guest TSC) re-aims. */
	c = clk(2000000);
	EXPECT_EQ(0, libvmx_lapic_wrmsr(a, 0x6e0, c.tsc + 2000, &c));
	c.ns = 2001000;
	c.tsc = 4001000;	/* TSC 1000 ticks short */
	libvmx_lapic_timer_update(a, &c);
	EXPECT_EQ(-1, libvmx_lapic_pending(a));
	EXPECT_EQ(2001500u, libvmx_lapic_timer_deadline(a));
	/* Masked: fires silently and disarms. */
	wr(a, 0x320, 0x50000 | 0xef);
	c = clk(3000000);
	libvmx_lapic_timer_update(a, &c);
	EXPECT_EQ(-1, libvmx_lapic_pending(a));
	EXPECT_EQ(0u, libvmx_lapic_timer_deadline(a));
	/* Leaving TSC-deadline mode clears the MSR. */
	EXPECT_EQ(0, libvmx_lapic_wrmsr(a, 0x6e0, c.tsc + 100, &c));
	wr(a, 0x320, 0xef);
	EXPECT_EQ(0, libvmx_lapic_rdmsr(a, 0x6e0, &v, &c));
	EXPECT_EQ(0ull, v);
	EXPECT_EQ(0u, libvmx_lapic_timer_deadline(a));
	/* Far future saturates instead of wrapping. */
	wr(a, 0x320, 0x40000 | 0xef);
	EXPECT_EQ(0, libvmx_lapic_wrmsr(a, 0x6e0, ~0ull, &c));
	EXPECT_LT(c.ns, libvmx_lapic_timer_deadline(a));
	libvmx_lapic_destroy(a);
}

TEST(timer_mode_switches)
{
	struct rec r = { 0 };
	struct libvmx_lapic *a = mk_on(0, &r);
	struct libvmx_apic_clock c;

	ASSERT_NE(NULL, a);
	/* One-shot -> periodic while counting keeps the count and reloads. */
	wr(a, 0x3e0, 0xb);
	wr(a, 0x320, 0x40);
	wr_at(a, 0x380, 100000, 0);
	wr_at(a, 0x320, 0x20040, 50000);
	EXPECT_EQ(50000u, rd_at(a, 0x390, 50000));
	c = clk(100000);
	libvmx_lapic_timer_update(a, &c);
	EXPECT_EQ(0x40, libvmx_lapic_pending(a));
	EXPECT_EQ(200000u, libvmx_lapic_timer_deadline(a));
	/* TDCR changes apply from the next TMICT write. */
	wr(a, 0x3e0, 0x0);
	EXPECT_EQ(200000u, libvmx_lapic_timer_deadline(a));
	wr_at(a, 0x380, 100000, 100000);
	EXPECT_EQ(300000u, libvmx_lapic_timer_deadline(a));
	EXPECT_EQ(50000u, rd_at(a, 0x390, 200000));
	/* Reserved mode 3 counts like one-shot. */
	wr(a, 0x320, 0x60040);
	libvmx_lapic_ack(a, 0x40);
	wr(a, 0xb0, 0);
	c = clk(300000);
	libvmx_lapic_timer_update(a, &c);
	EXPECT_EQ(0x40, libvmx_lapic_pending(a));
	EXPECT_EQ(0u, libvmx_lapic_timer_deadline(a));
	/* INIT (reset) keeps x2APIC mode and re-derives LDR. */
	libvmx_lapic_set_x2apic(a, true);
	libvmx_lapic_reset(a);
	EXPECT_TRUE(libvmx_lapic_x2apic(a));
	EXPECT_EQ(0u, libvmx_lapic_timer_deadline(a));
	EXPECT_EQ(-1, libvmx_lapic_pending(a));
	libvmx_lapic_destroy(a);
}

TEST(ipi_icr)
{
	struct rec r = { 0 };
	struct libvmx_lapic *a = mk_on(0, &r);
	int n;

	ASSERT_NE(NULL, a);
	/* Fixed, physical, to APIC 2; ICR high alone sends nothing. */
	wr(a, 0x310, 2u << 24);
	EXPECT_EQ(0, r.nsend);
	wr(a, 0x300, 0x000040fd);
	ASSERT_EQ(1, r.nsend);
	EXPECT_EQ(2u, r.msg.dest);
	EXPECT_EQ(0xfd, r.msg.vector);
	EXPECT_EQ(LIBVMX_APIC_FIXED, r.msg.delivery);
	EXPECT_EQ(0, r.msg.logical);
	EXPECT_EQ(0, r.msg.shorthand);
	EXPECT_EQ(0, r.msg.trigger_level);
	/* Delivery status always reads idle. */
	EXPECT_EQ(0u, rd(a, 0x300) & (1u << 12));
	EXPECT_EQ(0x000040fdu, rd(a, 0x300));
	/* INIT assert, level-triggered, then de-assert. */
	wr(a, 0x310, 1u << 24);
	wr(a, 0x300, 0x0000c500);
	EXPECT_EQ(LIBVMX_APIC_INIT, r.msg.delivery);
	EXPECT_EQ(1, r.msg.level);
	EXPECT_EQ(1, r.msg.trigger_level);
	EXPECT_EQ(1u, r.msg.dest);
	wr(a, 0x300, 0x00008500);
	EXPECT_EQ(LIBVMX_APIC_INIT, r.msg.delivery);
	EXPECT_EQ(0, r.msg.level);
	/* SIPI with vector 0x9a (start at 0x9a000). */
	wr(a, 0x300, 0x0000069a);
	EXPECT_EQ(LIBVMX_APIC_SIPI, r.msg.delivery);
	EXPECT_EQ(0x9a, r.msg.vector);
	EXPECT_EQ(4, r.nsend);
	/* Shorthands. */
	wr(a, 0x300, 0x000440f0);
	EXPECT_EQ(1, r.msg.shorthand);
	wr(a, 0x300, 0x000840f0);
	EXPECT_EQ(2, r.msg.shorthand);
	wr(a, 0x300, 0x000c40f0);
	EXPECT_EQ(3, r.msg.shorthand);
	EXPECT_EQ(0xf0, r.msg.vector);
	/* Logical flat to mask 0x0c; NMI. */
	wr(a, 0x310, 0x0c000000);
	wr(a, 0x300, 0x00000c00 | 0x400);
	EXPECT_EQ(1, r.msg.logical);
	EXPECT_EQ(0x0cu, r.msg.dest);
	EXPECT_EQ(LIBVMX_APIC_NMI, r.msg.delivery);
	/* Reserved delivery mode 3 sends nothing. */
	n = r.nsend;
	wr(a, 0x300, 0x000003f0);
	EXPECT_EQ(n, r.nsend);
	libvmx_lapic_destroy(a);
}

TEST(match_destinations)
{
	struct rec r = { 0 };
	struct libvmx_lapic *a = mk_on(0x13, &r);
	struct libvmx_apic_msg m = { 0 };

	ASSERT_NE(NULL, a);
	m.dest = 0x13;
	EXPECT_TRUE(libvmx_lapic_match(a, &m));
	m.dest = 0x12;
	EXPECT_FALSE(libvmx_lapic_match(a, &m));
	m.dest = 0xff;
	EXPECT_TRUE(libvmx_lapic_match(a, &m));
	EXPECT_FALSE(libvmx_lapic_match(a, NULL));
	/* Logical flat: LDR bit 2. */
	m.logical = 1;
	wr(a, 0xd0, 0x04000000);
	m.dest = 0x04;
	EXPECT_TRUE(libvmx_lapic_match(a, &m));
	m.dest = 0x0b;
	EXPECT_FALSE(libvmx_lapic_match(a, &m));
	m.dest = 0xff;
	EXPECT_TRUE(libvmx_lapic_match(a, &m));
	/* Logical cluster: cluster 2, member bit 1 (LDR 0x22). */
	wr(a, 0xe0, 0x0fffffff);
	wr(a, 0xd0, 0x22000000);
	m.dest = 0x23;
	EXPECT_TRUE(libvmx_lapic_match(a, &m));
	m.dest = 0x21;
	EXPECT_FALSE(libvmx_lapic_match(a, &m));
	m.dest = 0x32;
	EXPECT_FALSE(libvmx_lapic_match(a, &m));
	m.dest = 0xff;
	EXPECT_TRUE(libvmx_lapic_match(a, &m));
	/* An undefined DFR model matches nothing but broadcast. */
	wr(a, 0xe0, 0x5fffffff);
	m.dest = 0x22;
	EXPECT_FALSE(libvmx_lapic_match(a, &m));
	/* x2APIC: 32-bit physical, cluster (id >> 4) with member bit id & 15. */
	libvmx_lapic_set_x2apic(a, true);
	m.logical = 0;
	m.dest = 0x13;
	EXPECT_TRUE(libvmx_lapic_match(a, &m));
	m.dest = 0xff;
	EXPECT_FALSE(libvmx_lapic_match(a, &m));
	m.dest = 0xffffffff;
	EXPECT_TRUE(libvmx_lapic_match(a, &m));
	m.logical = 1;
	m.dest = (1u << 16) | (1u << 3);
	EXPECT_TRUE(libvmx_lapic_match(a, &m));
	m.dest = (1u << 16) | (1u << 2);
	EXPECT_FALSE(libvmx_lapic_match(a, &m));
	m.dest = (2u << 16) | (1u << 3);
	EXPECT_FALSE(libvmx_lapic_match(a, &m));
	libvmx_lapic_destroy(a);
}

TEST(x2apic_msrs)
{
	struct rec r = { 0 };
	struct libvmx_lapic *a = mk(0x25, &r);
	struct libvmx_apic_clock c = clk(0);
	uint64_t v;
	uint32_t m;

	ASSERT_NE(NULL, a);
	/* xAPIC mode: the x2APIC range is #GP, other MSRs are not ours. */
	EXPECT_EQ(-EINVAL, libvmx_lapic_rdmsr(a, 0x802, &v, &c));
	EXPECT_EQ(-EINVAL, libvmx_lapic_wrmsr(a, 0x808, 0, &c));
	EXPECT_EQ(-ENOENT, libvmx_lapic_rdmsr(a, 0x1b, &v, &c));
	EXPECT_EQ(-ENOENT, libvmx_lapic_wrmsr(a, 0x900, 0, &c));
	EXPECT_EQ(-EINVAL, libvmx_lapic_rdmsr(a, 0x6e0, NULL, &c));

	libvmx_lapic_set_x2apic(a, true);
	EXPECT_TRUE(libvmx_lapic_x2apic(a));
	EXPECT_EQ(0, libvmx_lapic_rdmsr(a, 0x802, &v, &c));
	EXPECT_EQ(0x25ull, v);
	EXPECT_EQ(0, libvmx_lapic_rdmsr(a, 0x803, &v, &c));
	EXPECT_EQ(0x50014ull, v);
	EXPECT_EQ(0, libvmx_lapic_rdmsr(a, 0x80d, &v, &c));
	EXPECT_EQ((2ull << 16) | (1u << 5), v);
	EXPECT_EQ(-EINVAL, libvmx_lapic_wrmsr(a, 0x80d, 0, &c));
	EXPECT_EQ(-EINVAL, libvmx_lapic_wrmsr(a, 0x802, 0, &c));
	/* The xAPIC page is gone. */
	m = 0x1234;
	EXPECT_EQ(0, libvmx_lapic_mmio(a, 0x20, &m, 4, false, &c));
	EXPECT_EQ(0u, m);
	EXPECT_EQ(0, libvmx_lapic_wrmsr(a, 0x80f, 0x1ff, &c));
	EXPECT_EQ(0, libvmx_lapic_rdmsr(a, 0x80f, &v, &c));
	EXPECT_EQ(0x1ffull, v);
	EXPECT_EQ(0, libvmx_lapic_wrmsr(a, 0x808, 0x20, &c));
	EXPECT_EQ(0, libvmx_lapic_rdmsr(a, 0x80a, &v, &c));
	EXPECT_EQ(0x20ull, v);
	EXPECT_EQ(-EINVAL, libvmx_lapic_wrmsr(a, 0x808, 0x100, &c));
	EXPECT_EQ(-EINVAL, libvmx_lapic_wrmsr(a, 0x808, 1ull << 32, &c));
	/* ICR: one 64-bit MSR, destination in the high half. */
	EXPECT_EQ(0, libvmx_lapic_wrmsr(a, 0x830, (0x1234ull << 32) | 0x40fd, &c));
	ASSERT_EQ(1, r.nsend);
	EXPECT_EQ(0x1234u, r.msg.dest);
	EXPECT_EQ(0xfd, r.msg.vector);
	EXPECT_EQ(0, libvmx_lapic_rdmsr(a, 0x830, &v, &c));
	EXPECT_EQ((0x1234ull << 32) | 0x40fd, v);
	EXPECT_EQ(-EINVAL, libvmx_lapic_rdmsr(a, 0x831, &v, &c));
	EXPECT_EQ(-EINVAL, libvmx_lapic_wrmsr(a, 0x831, 0, &c));
	EXPECT_EQ(-EINVAL, libvmx_lapic_wrmsr(a, 0x830, 1ull << 20, &c));
	EXPECT_EQ(1, r.nsend);
	/* SELF IPI: write-only, straight into IRR. */
	EXPECT_EQ(0, libvmx_lapic_wrmsr(a, 0x83f, 0x91, &c));
	EXPECT_EQ(0x91, libvmx_lapic_pending(a));
	EXPECT_EQ(-EINVAL, libvmx_lapic_rdmsr(a, 0x83f, &v, &c));
	EXPECT_EQ(-EINVAL, libvmx_lapic_wrmsr(a, 0x83f, 0x100, &c));
	EXPECT_EQ(0, libvmx_lapic_rdmsr(a, 0x824, &v, &c));
	EXPECT_EQ(1ull << 17, v);
	/* EOI: write 0 only, not readable. */
	libvmx_lapic_ack(a, 0x91);
	EXPECT_EQ(-EINVAL, libvmx_lapic_wrmsr(a, 0x80b, 1, &c));
	EXPECT_EQ(-EINVAL, libvmx_lapic_rdmsr(a, 0x80b, &v, &c));
	EXPECT_EQ(0, libvmx_lapic_rdmsr(a, 0x814, &v, &c));
	EXPECT_EQ(1ull << 17, v);
	EXPECT_EQ(0, libvmx_lapic_wrmsr(a, 0x80b, 0, &c));
	EXPECT_EQ(0, libvmx_lapic_rdmsr(a, 0x814, &v, &c));
	EXPECT_EQ(0ull, v);
	/* Reserved and xAPIC-only registers #GP. */
	static const uint32_t gp[] = { 0x800, 0x801, 0x804, 0x809, 0x80c, 0x80e,
				       0x82f, 0x831, 0x83a, 0x840, 0x8ff };
	for (unsigned int i = 0; i < sizeof(gp) / sizeof(gp[0]); i++) {
		EXPECT_EQ(-EINVAL, libvmx_lapic_rdmsr(a, gp[i], &v, &c));
		EXPECT_EQ(-EINVAL, libvmx_lapic_wrmsr(a, gp[i], 0, &c));
	}
	/* Read-only ones #GP on write. */
	EXPECT_EQ(-EINVAL, libvmx_lapic_wrmsr(a, 0x803, 0, &c));
	EXPECT_EQ(-EINVAL, libvmx_lapic_wrmsr(a, 0x80a, 0, &c));
	EXPECT_EQ(-EINVAL, libvmx_lapic_wrmsr(a, 0x820, 0, &c));
	EXPECT_EQ(-EINVAL, libvmx_lapic_wrmsr(a, 0x839, 0, &c));
	/* ESR: write 0 latches. */
	EXPECT_EQ(-EINVAL, libvmx_lapic_wrmsr(a, 0x828, 1, &c));
	EXPECT_EQ(0, libvmx_lapic_wrmsr(a, 0x828, 0, &c));
	/* Timer by MSR; TSC_DEADLINE works in both modes. */
	EXPECT_EQ(0, libvmx_lapic_wrmsr(a, 0x83e, 0xb, &c));
	EXPECT_EQ(0, libvmx_lapic_wrmsr(a, 0x832, 0x40, &c));
	EXPECT_EQ(0, libvmx_lapic_wrmsr(a, 0x838, 500, &c));
	c = clk(100);
	EXPECT_EQ(0, libvmx_lapic_rdmsr(a, 0x839, &v, &c));
	EXPECT_EQ(400ull, v);
	EXPECT_EQ(-EINVAL, libvmx_lapic_wrmsr(a, 0x832, 0x80000, &c));
	EXPECT_EQ(0, libvmx_lapic_wrmsr(a, 0x832, 0x40040, &c));
	EXPECT_EQ(0, libvmx_lapic_wrmsr(a, 0x6e0, c.tsc + 4, &c));
	EXPECT_EQ(0, libvmx_lapic_rdmsr(a, 0x6e0, &v, &c));
	EXPECT_EQ(c.tsc + 4, v);
	/* Back to xAPIC goes through a reset. */
	libvmx_lapic_set_x2apic(a, false);
	EXPECT_FALSE(libvmx_lapic_x2apic(a));
	EXPECT_EQ(0x25u << 24, rd(a, 0x20));
	EXPECT_EQ(0xffu, rd(a, 0xf0));
	EXPECT_EQ(0u, rd(a, 0xd0));
	EXPECT_EQ(-1, libvmx_lapic_pending(a));
	libvmx_lapic_destroy(a);
}

/* Every offset and size, both directions: no crash, defined results. */
TEST(hostile_every_offset)
{
	struct rec r = { 0 };
	struct libvmx_lapic *a = mk_on(0, &r);
	struct libvmx_apic_clock c = clk(12345);
	uint8_t buf[8];

	ASSERT_NE(NULL, a);
	for (uint64_t off = 0; off <= 0x1000; off++) {
		for (unsigned int size = 1; size <= 8; size++) {
			memset(buf, 0xa5, sizeof(buf));
			EXPECT_EQ(0, libvmx_lapic_mmio(a, off, buf, size, false, &c));
			if (size != 4 || (off & 0xf))
				for (unsigned int i = 0; i < size; i++)
					ASSERT_EQ(0, buf[i]);
			memset(buf, 0xff, sizeof(buf));
			EXPECT_EQ(0, libvmx_lapic_mmio(a, off, buf, size, true, &c));
		}
	}
	EXPECT_EQ(-EINVAL, libvmx_lapic_mmio(a, 0, buf, 0, false, &c));
	EXPECT_EQ(-EINVAL, libvmx_lapic_mmio(a, 0, buf, 9, false, &c));
	EXPECT_EQ(-EINVAL, libvmx_lapic_mmio(a, 0, NULL, 4, false, &c));
	EXPECT_EQ(0, libvmx_lapic_mmio(a, ~0ull, buf, 8, true, &c));
	EXPECT_GE(libvmx_lapic_pending(a), -1);
	EXPECT_LE(libvmx_lapic_pending(a), 255);
	libvmx_lapic_destroy(a);
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Random callbacks reach back into the APIC, like a VMM would. */
static struct libvmx_lapic *fuzz_apic;

static void fuzz_send(void *opaque, struct libvmx_lapic *from, const struct libvmx_apic_msg *msg)
{
	if (libvmx_lapic_match(from, msg) || msg->shorthand == 1 || msg->shorthand == 2)
		libvmx_lapic_accept(from, msg->vector, msg->trigger_level);
}

static void fuzz_eoi(void *opaque, struct libvmx_lapic *apic, uint8_t vector)
{
	(*(int *)opaque)++;
}

TEST(hostile_random_ops)
{
	static const struct libvmx_lapic_ops ops = { .send = fuzz_send, .eoi = fuzz_eoi };
	uint64_t seed = 0x9e3779b97f4a7c15ull, ns = 0;
	int eois = 0, p;

	ASSERT_EQ(0, libvmx_lapic_create(1, TSC_KHZ, &ops, &eois, &fuzz_apic));
	for (int i = 0; i < 100000; i++) {
		uint64_t x = xorshift(&seed), val = xorshift(&seed);
		struct libvmx_apic_clock c = { .ns = ns, .tsc = ns * 2 };
		uint32_t off = (x >> 8) & 0xff0;
		uint64_t v;

		ns += x & 0xffff;
		if (x & (1ull << 40))
			val &= 0xffffffffull;
		/* Make the interesting registers likelier. */
		if ((x & 7) == 0)
			off = 0xf0;
		switch ((x >> 3) & 7) {
		case 0:
			libvmx_lapic_mmio(fuzz_apic, off, &val, 4, true, &c);
			break;
		case 1:
			libvmx_lapic_mmio(fuzz_apic, x >> 20 & 0x1fff, &val, (x >> 33) % 8 + 1,
					  x & (1ull << 36), &c);
			break;
		case 2:
			libvmx_lapic_wrmsr(fuzz_apic, 0x800 + (off >> 4), val, &c);
			break;
		case 3:
			libvmx_lapic_rdmsr(fuzz_apic, x & (1ull << 37) ? 0x6e0 : 0x800 + (off >> 4),
					   &v, &c);
			libvmx_lapic_wrmsr(fuzz_apic, 0x6e0, val, &c);
			break;
		case 4:
			libvmx_lapic_accept(fuzz_apic, val & 0xff, val & 0x100);
			break;
		case 5:
			p = libvmx_lapic_pending(fuzz_apic);
			if (p >= 0)
				libvmx_lapic_ack(fuzz_apic, p);
			break;
		case 6:
			libvmx_lapic_timer_update(fuzz_apic, &c);
			break;
		case 7:
			if ((x & 0xff00) == 0)
				libvmx_lapic_set_x2apic(fuzz_apic, x & (1ull << 50));
			else if ((x & 0xff00) == 0x100)
				libvmx_lapic_reset(fuzz_apic);
			else
				libvmx_lapic_mmio(fuzz_apic, 0xb0, &val, 4, true, &c);
			break;
		}
		p = libvmx_lapic_pending(fuzz_apic);
		ASSERT_GE(p, -1);
		ASSERT_LE(p, 255);
		if (libvmx_lapic_timer_deadline(fuzz_apic) == 0)
			continue;
	}
	libvmx_lapic_destroy(fuzz_apic);
}

TEST_HARNESS_MAIN
