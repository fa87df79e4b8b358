// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The CMOS real-time clock; see <vmx/rtc.h>.
 *
 * Nothing ticks here: each read of a time register converts the clock
 * (@now + @offset) into the register's format.  A write to a time
 * register, or clearing register B's SET bit, converts the registers back
 * and moves @offset.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmx/rtc.h"

enum {
	REG_SEC = 0x00, REG_MIN = 0x02, REG_HOUR = 0x04, REG_WDAY = 0x06,
	REG_MDAY = 0x07, REG_MON = 0x08, REG_YEAR = 0x09,
	REG_A = 0x0a, REG_B = 0x0b, REG_C = 0x0c, REG_D = 0x0d,
	REG_CENTURY = 0x32,
	NR_REGS = 128,
};

#define A_UIP		0x80
#define B_SET		0x80
#define B_BINARY	0x04
#define B_24H		0x02
#define D_VRT		0x80	/* valid RAM and time */
#define HOUR_PM		0x80

struct libvmx_rtc {
	int64_t (*now)(void *opaque);
	void *opaque;
	int64_t offset;		/* guest clock - @now, in seconds */
	uint8_t index;
	uint8_t reg[NR_REGS];	/* time registers: only while B.SET */
};

static int64_t host_now(void *opaque)
{
	(void)opaque;
	return time(NULL);
}

int libvmx_rtc_create(int64_t (*now)(void *opaque), void *opaque,
		      struct libvmx_rtc **out)
{
	struct libvmx_rtc *rtc;

	if (!out)
		return -EINVAL;
	rtc = calloc(1, sizeof(*rtc));
	if (!rtc)
		return -ENOMEM;
	rtc->now = now ? now : host_now;
	rtc->opaque = opaque;
	rtc->reg[REG_A] = 0x26;		/* 32.768 kHz base, 1024 Hz rate */
	rtc->reg[REG_B] = B_24H;	/* BCD, 24-hour */
	*out = rtc;
	return 0;
}

void libvmx_rtc_destroy(struct libvmx_rtc *rtc)
{
	free(rtc);
}

static bool is_time_reg(uint8_t r)
{
	return r == REG_SEC || r == REG_MIN || r == REG_HOUR ||
	       (r >= REG_WDAY && r <= REG_YEAR) || r == REG_CENTURY;
}

static uint8_t to_bcd(unsigned int v)
{
	return ((v / 10) << 4) | (v % 10);
}

static unsigned int from_bcd(uint8_t v)
{
	return (v >> 4) * 10 + (v & 0xf);
}

/* A value in the format register B asks for (the century is always BCD). */
static uint8_t encode(const struct libvmx_rtc *rtc, unsigned int v)
{
	return rtc->reg[REG_B] & B_BINARY ? v : to_bcd(v);
}

static unsigned int decode(const struct libvmx_rtc *rtc, uint8_t v)
{
	return rtc->reg[REG_B] & B_BINARY ? v : from_bcd(v);
}

static uint8_t encode_hour(const struct libvmx_rtc *rtc, unsigned int h)
{
	if (rtc->reg[REG_B] & B_24H)
		return encode(rtc, h);
	return encode(rtc, h % 12 ? h % 12 : 12) | (h >= 12 ? HOUR_PM : 0);
}

static unsigned int decode_hour(const struct libvmx_rtc *rtc, uint8_t v)
{
	unsigned int h;

	if (rtc->reg[REG_B] & B_24H)
		return decode(rtc, v);
	h = decode(rtc, v & ~HOUR_PM) % 12;
	return v & HOUR_PM ? h + 12 : h;
}

/* The clock as it stands, into the time registers. */
static void clock_to_regs(struct libvmx_rtc *rtc)
{
	time_t t = rtc->now(rtc->opaque) + rtc->offset;
	struct tm tm;
	unsigned int year;

	if (!gmtime_r(&t, &tm))
		memset(&tm, 0, sizeof(tm));
	year = tm.tm_year + 1900;
	rtc->reg[REG_SEC] = encode(rtc, tm.tm_sec);
	rtc->reg[REG_MIN] = encode(rtc, tm.tm_min);
	rtc->reg[REG_HOUR] = encode_hour(rtc, tm.tm_hour);
	rtc->reg[REG_WDAY] = encode(rtc, tm.tm_wday + 1);
	rtc->reg[REG_MDAY] = encode(rtc, tm.tm_mday);
	rtc->reg[REG_MON] = encode(rtc, tm.tm_mon + 1);
	rtc->reg[REG_YEAR] = encode(rtc, year % 100);
	rtc->reg[REG_CENTURY] = to_bcd(year / 100 % 100);
}

/* The time registers, as the guest left them, become the clock. */
static void regs_to_clock(struct libvmx_rtc *rtc)
{
	unsigned int century = from_bcd(rtc->reg[REG_CENTURY]);
	struct tm tm = {
		.tm_sec = decode(rtc, rtc->reg[REG_SEC]),
		.tm_min = decode(rtc, rtc->reg[REG_MIN]),
		.tm_hour = decode_hour(rtc, rtc->reg[REG_HOUR]),
		.tm_mday = decode(rtc, rtc->reg[REG_MDAY]),
		.tm_mon = (int)decode(rtc, rtc->reg[REG_MON]) - 1,
	};

	/* A guest that never sets the century means this one. */
	if (century < 19)
		century = 20;
	tm.tm_year = century * 100 + decode(rtc, rtc->reg[REG_YEAR]) - 1900;
	rtc->offset = (int64_t)timegm(&tm) - rtc->now(rtc->opaque);
}

static uint8_t rtc_read(struct libvmx_rtc *rtc, uint8_t r)
{
	if (is_time_reg(r) && !(rtc->reg[REG_B] & B_SET))
		clock_to_regs(rtc);
	switch (r) {
	case REG_A:
		return rtc->reg[REG_A] & ~A_UIP;
	case REG_C:
		return 0;
	case REG_D:
		return D_VRT;
	}
	return rtc->reg[r];
}

static void rtc_write(struct libvmx_rtc *rtc, uint8_t r, uint8_t v)
{
	bool set = rtc->reg[REG_B] & B_SET;

	if (is_time_reg(r)) {
		/* One field of a running clock: the others stay as they are. */
		if (!set)
			clock_to_regs(rtc);
		rtc->reg[r] = v;
		if (!set)
			regs_to_clock(rtc);
		return;
	}
	switch (r) {
	case REG_A:
		rtc->reg[REG_A] = v & ~A_UIP;
		return;
	case REG_B:
		rtc->reg[REG_B] = v;
		if (!set && (v & B_SET))
			clock_to_regs(rtc);	/* freeze it as it is now */
		else if (set && !(v & B_SET))
			regs_to_clock(rtc);
		return;
	case REG_C:
	case REG_D:
		return;			/* read-only */
	}
	rtc->reg[r] = v;
}

int libvmx_rtc_io(struct libvmx_rtc *rtc, unsigned int port, uint8_t *data,
		  bool is_out)
{
	if (!rtc || !data || port > 1)
		return -EINVAL;
	if (port == 0) {
		if (is_out)
			rtc->index = *data & (NR_REGS - 1);
		else
			*data = rtc->index;
		return 0;
	}
	if (is_out)
		rtc_write(rtc, rtc->index, *data);
	else
		*data = rtc_read(rtc, rtc->index);
	return 0;
}
