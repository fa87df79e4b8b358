// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libvmx I/O APIC on the host: registers, redirection entries, edge and
 * level delivery, remote IRR with EOI, masking, hostile accesses.
 */
#include <errno.h>
#include <string.h>

#include "vmx/ioapic.h"
#include "kselftest_harness.h"

struct rec {
	int n;
	struct libvmx_apic_msg msg;
};

static void rec_deliver(void *opaque, const struct libvmx_apic_msg *msg)
{
	struct rec *r = opaque;

	r->n++;
	r->msg = *msg;
}

static const struct libvmx_ioapic_ops rec_ops = { .deliver = rec_deliver };

static uint32_t rd(struct libvmx_ioapic *io, uint32_t index)
{
	uint32_t v = index;

	libvmx_ioapic_mmio(io, 0x00, &v, 4, true);
	v = 0xdeadbeef;
	if (libvmx_ioapic_mmio(io, 0x10, &v, 4, false))
		return 0xbad0bad0;
	return v;
}

static void wr(struct libvmx_ioapic *io, uint32_t index, uint32_t val)
{
	libvmx_ioapic_mmio(io, 0x00, &index, 4, true);
	libvmx_ioapic_mmio(io, 0x10, &val, 4, true);
}

static void set_entry(struct libvmx_ioapic *io, unsigned int pin, uint64_t e)
{
	wr(io, 0x11 + 2 * pin, e >> 32);
	wr(io, 0x10 + 2 * pin, (uint32_t)e);
}

TEST(create_args)
{
	struct libvmx_ioapic *io = (void *)1;

	EXPECT_EQ(-EINVAL, libvmx_ioapic_create(0, 0, NULL, NULL, &io));
	EXPECT_EQ(-EINVAL, libvmx_ioapic_create(0, 241, NULL, NULL, &io));
	EXPECT_EQ(-EINVAL, libvmx_ioapic_create(0, 24, NULL, NULL, NULL));
	EXPECT_EQ((void *)1, io);
	ASSERT_EQ(0, libvmx_ioapic_create(0, 240, NULL, NULL, &io));
	libvmx_ioapic_set_irq(io, 5, 1);	/* no ops: nothing happens */
	libvmx_ioapic_destroy(io);
	libvmx_ioapic_destroy(NULL);
	libvmx_ioapic_set_irq(NULL, 0, 1);
	libvmx_ioapic_eoi(NULL, 0x30);
	EXPECT_EQ(0ull, libvmx_ioapic_get_entry(NULL, 0));
}

TEST(registers_and_reset)
{
	struct rec r = { 0 };
	struct libvmx_ioapic *io;
	uint32_t v;

	ASSERT_EQ(0, libvmx_ioapic_create(2, 24, &rec_ops, &r, &io));
	EXPECT_EQ(2u << 24, rd(io, 0));
	EXPECT_EQ(0x00170011u, rd(io, 1));
	EXPECT_EQ(2u << 24, rd(io, 2));
	for (unsigned int pin = 0; pin < 24; pin++) {
		EXPECT_EQ(0x10000u, rd(io, 0x10 + 2 * pin));
		EXPECT_EQ(0u, rd(io, 0x11 + 2 * pin));
	}
	/* ID: bits 27-24 only; version and arbitration read-only. */
	wr(io, 0, 0xffffffff);
	EXPECT_EQ(0x0f000000u, rd(io, 0));
	wr(io, 1, 0);
	EXPECT_EQ(0x00170011u, rd(io, 1));
	wr(io, 2, 0);
	EXPECT_EQ(0x0f000000u, rd(io, 2));
	/* IOREGSEL reads back its 8 bits. */
	v = 0x1234;
	libvmx_ioapic_mmio(io, 0, &v, 4, true);
	libvmx_ioapic_mmio(io, 0, &v, 4, false);
	EXPECT_EQ(0x34u, v);
	/* Unused indexes and pins beyond nr_pins read 0, take no writes. */
	EXPECT_EQ(0u, rd(io, 3));
	EXPECT_EQ(0u, rd(io, 0x10 + 2 * 24));
	wr(io, 0x10 + 2 * 24, 0x40);
	EXPECT_EQ(0u, rd(io, 0x10 + 2 * 24));
	EXPECT_EQ(0, r.n);
	libvmx_ioapic_destroy(io);
}

TEST(entry_round_trip_ro_bits)
{
	struct rec r = { 0 };
	struct libvmx_ioapic *io;

	ASSERT_EQ(0, libvmx_ioapic_create(0, 24, &rec_ops, &r, &io));
	/* Vector, lowest, logical, active-low, level, masked, dest 0x5a. */
	set_entry(io, 3, 0x5a00000000000000ull | 0x1a9f1);
	EXPECT_EQ(0x1a9f1u, rd(io, 0x16));
	EXPECT_EQ(0x5a000000u, rd(io, 0x17));
	EXPECT_EQ(0x5a0000000001a9f1ull, libvmx_ioapic_get_entry(io, 3));
	/* Delivery status (12) and remote IRR (14) are read-only; bits 17-55 reserved. */
	wr(io, 0x16, 0xffffffff);
	EXPECT_EQ(0x1afffu, rd(io, 0x16));
	wr(io, 0x17, 0xffffffff);
	EXPECT_EQ(0xff000000u, rd(io, 0x17));
	EXPECT_EQ(0, r.n);
	libvmx_ioapic_destroy(io);
}

TEST(edge_delivery)
{
	struct rec r = { 0 };
	struct libvmx_ioapic *io;

	ASSERT_EQ(0, libvmx_ioapic_create(0, 24, &rec_ops, &r, &io));
	/* Masked: a rising edge is lost. */
	libvmx_ioapic_set_irq(io, 4, 1);
	libvmx_ioapic_set_irq(io, 4, 0);
	EXPECT_EQ(0, r.n);
	set_entry(io, 4, (1ull << 56) | 0x24);
	EXPECT_EQ(0, r.n);
	libvmx_ioapic_set_irq(io, 4, 1);
	ASSERT_EQ(1, r.n);
	EXPECT_EQ(1u, r.msg.dest);
	EXPECT_EQ(0x24, r.msg.vector);
	EXPECT_EQ(LIBVMX_APIC_FIXED, r.msg.delivery);
	EXPECT_EQ(0, r.msg.logical);
	EXPECT_EQ(0, r.msg.trigger_level);
	EXPECT_EQ(0, r.msg.shorthand);
	/* Held high: no more; a new edge: again. */
	libvmx_ioapic_set_irq(io, 4, 1);
	EXPECT_EQ(1, r.n);
	libvmx_ioapic_set_irq(io, 4, 0);
	libvmx_ioapic_set_irq(io, 4, 7);
	EXPECT_EQ(2, r.n);
	/* Edge entries have no remote IRR; EOI does nothing. */
	EXPECT_EQ(0u, rd(io, 0x18) & (1u << 14));
	libvmx_ioapic_eoi(io, 0x24);
	EXPECT_EQ(2, r.n);
	/* Logical destination mode and lowest priority go out as set. */
	libvmx_ioapic_set_irq(io, 4, 0);
	set_entry(io, 4, (0x0full << 56) | 0x900 | 0x31);
	libvmx_ioapic_set_irq(io, 4, 1);
	EXPECT_EQ(3, r.n);
	EXPECT_EQ(1, r.msg.logical);
	EXPECT_EQ(LIBVMX_APIC_LOWEST, r.msg.delivery);
	EXPECT_EQ(0x0fu, r.msg.dest);
	/* Reserved delivery modes send nothing. */
	libvmx_ioapic_set_irq(io, 4, 0);
	set_entry(io, 4, 0x300 | 0x31);
	libvmx_ioapic_set_irq(io, 4, 1);
	EXPECT_EQ(3, r.n);
	libvmx_ioapic_destroy(io);
}

TEST(level_remote_irr_eoi)
{
	struct rec r = { 0 };
	struct libvmx_ioapic *io;

	ASSERT_EQ(0, libvmx_ioapic_create(0, 24, &rec_ops, &r, &io));
	set_entry(io, 9, 0x8000 | 0x39);	/* level, fixed, unmasked */
	libvmx_ioapic_set_irq(io, 9, 1);
	ASSERT_EQ(1, r.n);
	EXPECT_EQ(1, r.msg.trigger_level);
	EXPECT_EQ(0x39, r.msg.vector);
	EXPECT_NE(0u, rd(io, 0x22) & (1u << 14));
	/* Still asserted, remote IRR set: nothing more. */
	libvmx_ioapic_set_irq(io, 9, 1);
	EXPECT_EQ(1, r.n);
	/* EOI of another vector: nothing. */
	libvmx_ioapic_eoi(io, 0x38);
	EXPECT_EQ(1, r.n);
	EXPECT_NE(0u, rd(io, 0x22) & (1u << 14));
	/* EOI while still asserted: delivered again. */
	libvmx_ioapic_eoi(io, 0x39);
	EXPECT_EQ(2, r.n);
	EXPECT_NE(0u, rd(io, 0x22) & (1u << 14));
	/* De-asserted, then EOI: remote IRR clear, silence. */
	libvmx_ioapic_set_irq(io, 9, 0);
	libvmx_ioapic_eoi(io, 0x39);
	EXPECT_EQ(2, r.n);
	EXPECT_EQ(0u, rd(io, 0x22) & (1u << 14));
	/* Masked and asserted: waits; unmasking delivers. */
	set_entry(io, 9, 0x18000 | 0x39);
	libvmx_ioapic_set_irq(io, 9, 1);
	EXPECT_EQ(2, r.n);
	wr(io, 0x22, 0x8000 | 0x39);
	EXPECT_EQ(3, r.n);
	/* Linux's remote-IRR clearing: switch to edge and back (masked). */
	wr(io, 0x22, 0x10000 | 0x39);
	EXPECT_EQ(0u, rd(io, 0x22) & (1u << 14));
	wr(io, 0x22, 0x18000 | 0x39);
	EXPECT_EQ(3, r.n);
	wr(io, 0x22, 0x8000 | 0x39);
	EXPECT_EQ(4, r.n);
	/* Two pins sharing a vector: one EOI serves both. */
	set_entry(io, 10, 0x8000 | 0x39);
	libvmx_ioapic_set_irq(io, 10, 1);
	EXPECT_EQ(5, r.n);
	libvmx_ioapic_set_irq(io, 9, 0);
	libvmx_ioapic_eoi(io, 0x39);
	EXPECT_EQ(6, r.n);	/* pin 10 only */
	EXPECT_EQ(0u, rd(io, 0x22) & (1u << 14));
	EXPECT_NE(0u, rd(io, 0x24) & (1u << 14));
	/* NMI entries set no remote IRR (edge semantics). */
	set_entry(io, 11, 0x8000 | 0x400);
	libvmx_ioapic_set_irq(io, 11, 1);
	EXPECT_EQ(7, r.n);
	EXPECT_EQ(LIBVMX_APIC_NMI, r.msg.delivery);
	EXPECT_EQ(0u, rd(io, 0x26) & (1u << 14));
	libvmx_ioapic_destroy(io);
}

/* Re-entrant deliver: the VMM EOIs immediately (as a disabled LAPIC might). */
static struct libvmx_ioapic *reent_io;
static int reent_n;

static void reent_deliver(void *opaque, const struct libvmx_apic_msg *msg)
{
	if (++reent_n < 1000)
		libvmx_ioapic_eoi(reent_io, msg->vector);
}

TEST(reentrant_eoi_bounded)
{
	static const struct libvmx_ioapic_ops ops = { .deliver = reent_deliver };

	ASSERT_EQ(0, libvmx_ioapic_create(0, 24, &ops, NULL, &reent_io));
	set_entry(reent_io, 1, 0x8000 | 0x41);
	libvmx_ioapic_set_irq(reent_io, 1, 1);
	/* Each nested EOI re-delivers: bounded only by the VMM itself. */
	EXPECT_EQ(1000, reent_n);
	libvmx_ioapic_destroy(reent_io);
}

TEST(hostile)
{
	struct rec r = { 0 };
	struct libvmx_ioapic *io;
	uint64_t seed = 0x2545f4914f6cdd1dull;
	uint8_t buf[8];

	ASSERT_EQ(0, libvmx_ioapic_create(0, 24, &rec_ops, &r, &io));
	/* Every offset and size in the page. */
	for (uint64_t off = 0; off < 0x1000; off++) {
		for (unsigned int size = 1; size <= 8; size++) {
			int want = off + size > 0x1000 ? -EINVAL : 0;

			memset(buf, 0xa5, sizeof(buf));
			EXPECT_EQ(want, libvmx_ioapic_mmio(io, off, buf, size, false));
			if (!want && (size != 4 || (off != 0 && off != 0x10)))
				for (unsigned int i = 0; i < size; i++)
					ASSERT_EQ(0, buf[i]);
			memset(buf, 0, sizeof(buf));
			libvmx_ioapic_mmio(io, off, buf, size, true);
		}
	}
	EXPECT_EQ(-EINVAL, libvmx_ioapic_mmio(io, 0x10, NULL, 4, false));
	EXPECT_EQ(-EINVAL, libvmx_ioapic_mmio(io, 0x10, buf, 0, false));
	EXPECT_EQ(-EINVAL, libvmx_ioapic_mmio(io, ~0ull, buf, 4, false));
	/* Every IOREGSEL value, read and written. */
	for (uint32_t i = 0; i < 0x300; i++) {
		rd(io, i);
		wr(io, i, 0x55aa55aa);
	}
	/* Pins out of range and random lines, EOIs and writes. */
	for (int i = 0; i < 100000; i++) {
		uint64_t x;

		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		x = seed;
		switch (x & 3) {
		case 0:
			libvmx_ioapic_set_irq(io, (x >> 8) % 300, (x >> 20) & 1);
			break;
		case 1:
			libvmx_ioapic_eoi(io, x >> 8);
			break;
		case 2:
			wr(io, (x >> 8) & 0xff, x >> 32);
			break;
		case 3:
			rd(io, (x >> 8) & 0xff);
			break;
		}
	}
	libvmx_ioapic_set_irq(io, ~0u, 1);
	EXPECT_EQ(0ull, libvmx_ioapic_get_entry(io, 24));
	libvmx_ioapic_destroy(io);
}

TEST_HARNESS_MAIN
