/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvmx_rtc: the PC's CMOS real-time clock (an MC146818 at ports 0x70,
 * index, and 0x71, data), enough for a guest to read the wall clock at
 * boot and to set it (hwclock): time and date in BCD or binary, 24- or
 * 12-hour form (register B), the century at CMOS offset 0x32, the SET bit
 * freezing the clock while the guest writes it, and the rest of the 128
 * bytes as CMOS RAM.  No interrupts: register C reads 0 and the alarm,
 * periodic and update-ended interrupts never fire; register A's
 * update-in-progress bit always reads 0.
 *
 * The clock is the host's UTC time (or the caller's @now) plus an offset
 * that a guest write moves, as a guest keeping its RTC in UTC expects.
 *
 * Not thread-safe: the caller serialises all calls on one object.
 */
#ifndef LIBVMX_RTC_H
#define LIBVMX_RTC_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LIBVMX_RTC_PORT_INDEX	0x70
#define LIBVMX_RTC_PORT_DATA	0x71

struct libvmx_rtc;

/*
 * @now: seconds since the epoch (UTC) the clock runs from, called with
 * @opaque on every read; NULL for the host's time().
 * Returns 0, -EINVAL (@out NULL) or -ENOMEM.
 */
int libvmx_rtc_create(int64_t (*now)(void *opaque), void *opaque,
		      struct libvmx_rtc **out);
/* Free @rtc; NULL is allowed. */
void libvmx_rtc_destroy(struct libvmx_rtc *rtc);
/*
 * A one-byte access to @port (0: index, 1: data).  The index port keeps
 * bits 0-6 (bit 7, the NMI mask, is ignored) and reads back what was
 * written.  Returns 0 or -EINVAL (@rtc or @data NULL, @port above 1).
 */
int libvmx_rtc_io(struct libvmx_rtc *rtc, unsigned int port, uint8_t *data,
		  bool is_out);

#ifdef __cplusplus
}
#endif

#endif /* LIBVMX_RTC_H */
