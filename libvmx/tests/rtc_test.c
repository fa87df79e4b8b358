// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The CMOS clock: time and date from the caller's clock in BCD and binary,
 * 24- and 12-hour form, the century, a guest setting the clock (with SET
 * and one field at a time), status registers, CMOS RAM and bad arguments.
 */
#include <errno.h>
#include <stdlib.h>

#include "vmx/rtc.h"
#include "kselftest_harness.h"

/* 2026-12-07 08:05:09 UTC, a Monday. */
#define T0	1796630709LL

static int64_t fake_now(void *opaque)
{
	return *(int64_t *)opaque;
}

static uint8_t rd(struct libvmx_rtc *rtc, uint8_t reg)
{
	uint8_t v = 0xcc;

	libvmx_rtc_io(rtc, 0, &reg, true);
	libvmx_rtc_io(rtc, 1, &v, false);
	return v;
}

static void wr(struct libvmx_rtc *rtc, uint8_t reg, uint8_t v)
{
	libvmx_rtc_io(rtc, 0, &reg, true);
	libvmx_rtc_io(rtc, 1, &v, true);
}

FIXTURE(rtc) {
	struct libvmx_rtc *rtc;
	int64_t now;
};

FIXTURE_SETUP(rtc)
{
	self->now = T0;
	ASSERT_EQ(0, libvmx_rtc_create(fake_now, &self->now, &self->rtc));
}

FIXTURE_TEARDOWN(rtc)
{
	libvmx_rtc_destroy(self->rtc);
}

TEST_F(rtc, bcd_24h_at_reset)
{
	EXPECT_EQ(0x09, rd(self->rtc, 0x00));
	EXPECT_EQ(0x05, rd(self->rtc, 0x02));
	EXPECT_EQ(0x08, rd(self->rtc, 0x04));
	EXPECT_EQ(2, rd(self->rtc, 0x06));	/* Monday; Sunday is 1 */
	EXPECT_EQ(0x07, rd(self->rtc, 0x07));
	EXPECT_EQ(0x12, rd(self->rtc, 0x08));
	EXPECT_EQ(0x26, rd(self->rtc, 0x09));
	EXPECT_EQ(0x20, rd(self->rtc, 0x32));
	EXPECT_EQ(0x26, rd(self->rtc, 0x0a));
	EXPECT_EQ(0x02, rd(self->rtc, 0x0b));
	EXPECT_EQ(0, rd(self->rtc, 0x0c));
	EXPECT_EQ(0x80, rd(self->rtc, 0x0d));
	/* It runs with the clock it is given. */
	self->now += 3600 + 51;
	EXPECT_EQ(0x00, rd(self->rtc, 0x00));
	EXPECT_EQ(0x06, rd(self->rtc, 0x02));
	EXPECT_EQ(0x09, rd(self->rtc, 0x04));
}

TEST_F(rtc, binary_and_12_hour)
{
	self->now = T0 + 6 * 3600;	/* 14:05:09 */
	wr(self->rtc, 0x0b, 0x04);	/* binary, 12-hour */
	EXPECT_EQ(9, rd(self->rtc, 0x00));
	EXPECT_EQ(0x80 | 2, rd(self->rtc, 0x04));
	EXPECT_EQ(12, rd(self->rtc, 0x08));
	EXPECT_EQ(26, rd(self->rtc, 0x09));
	/* The century register stays BCD. */
	EXPECT_EQ(0x20, rd(self->rtc, 0x32));
	self->now = T0 - 8 * 3600 + 1800;	/* 00:35: 12 AM */
	EXPECT_EQ(12, rd(self->rtc, 0x04));
	wr(self->rtc, 0x0b, 0x06);	/* binary, 24-hour */
	EXPECT_EQ(0, rd(self->rtc, 0x04));
}

/* hwclock's way: SET, all fields, SET off; the clock runs on from there. */
TEST_F(rtc, guest_sets_clock_with_set_bit)
{
	wr(self->rtc, 0x0b, 0x82);
	self->now += 100;		/* frozen meanwhile */
	EXPECT_EQ(0x09, rd(self->rtc, 0x00));
	wr(self->rtc, 0x00, 0x30);
	wr(self->rtc, 0x02, 0x59);
	wr(self->rtc, 0x04, 0x23);
	wr(self->rtc, 0x07, 0x31);
	wr(self->rtc, 0x08, 0x12);
	wr(self->rtc, 0x09, 0x99);
	wr(self->rtc, 0x32, 0x19);
	wr(self->rtc, 0x0b, 0x02);
	EXPECT_EQ(0x30, rd(self->rtc, 0x00));
	EXPECT_EQ(0x19, rd(self->rtc, 0x32));
	self->now += 30;		/* 1999-12-31 23:59:60 is 2000-01-01 */
	EXPECT_EQ(0x00, rd(self->rtc, 0x00));
	EXPECT_EQ(0x00, rd(self->rtc, 0x02));
	EXPECT_EQ(0x01, rd(self->rtc, 0x08));
	EXPECT_EQ(0x00, rd(self->rtc, 0x09));
	EXPECT_EQ(0x20, rd(self->rtc, 0x32));
	EXPECT_EQ(7, rd(self->rtc, 0x06));	/* 2000-01-01 was a Saturday */
}

/* One field of a running clock moves only that field. */
TEST_F(rtc, guest_writes_one_field)
{
	wr(self->rtc, 0x04, 0x10);
	EXPECT_EQ(0x10, rd(self->rtc, 0x04));
	EXPECT_EQ(0x05, rd(self->rtc, 0x02));
	EXPECT_EQ(0x07, rd(self->rtc, 0x07));
	self->now += 60;
	EXPECT_EQ(0x06, rd(self->rtc, 0x02));
	EXPECT_EQ(0x10, rd(self->rtc, 0x04));
}

TEST_F(rtc, status_ram_and_index)
{
	uint8_t v = 0x8e;

	/* UIP never reads 1; C and D are read-only. */
	wr(self->rtc, 0x0a, 0xa6);
	EXPECT_EQ(0x26, rd(self->rtc, 0x0a));
	wr(self->rtc, 0x0c, 0xff);
	wr(self->rtc, 0x0d, 0x00);
	EXPECT_EQ(0, rd(self->rtc, 0x0c));
	EXPECT_EQ(0x80, rd(self->rtc, 0x0d));
	/* CMOS RAM keeps what is written, index bit 7 (NMI mask) ignored. */
	libvmx_rtc_io(self->rtc, 0, &v, true);
	v = 0x5a;
	libvmx_rtc_io(self->rtc, 1, &v, true);
	EXPECT_EQ(0x5a, rd(self->rtc, 0x0e));
	EXPECT_EQ(0, rd(self->rtc, 0x7f));
	v = 0;
	libvmx_rtc_io(self->rtc, 0, &v, false);
	EXPECT_EQ(0x7f, v);
}

TEST(rtc_bad_arguments)
{
	struct libvmx_rtc *rtc;
	uint8_t v = 0;

	EXPECT_EQ(-EINVAL, libvmx_rtc_create(NULL, NULL, NULL));
	ASSERT_EQ(0, libvmx_rtc_create(NULL, NULL, &rtc));
	EXPECT_EQ(-EINVAL, libvmx_rtc_io(NULL, 0, &v, false));
	EXPECT_EQ(-EINVAL, libvmx_rtc_io(rtc, 0, NULL, false));
	EXPECT_EQ(-EINVAL, libvmx_rtc_io(rtc, 2, &v, false));
	/* The host's clock: some year of this century. */
	v = 0x32;
	libvmx_rtc_io(rtc, 0, &v, true);
	libvmx_rtc_io(rtc, 1, &v, false);
	EXPECT_EQ(0x20, v);
	libvmx_rtc_destroy(rtc);
	libvmx_rtc_destroy(NULL);
}

TEST_HARNESS_MAIN
