/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvmx I/O APIC: a user-space model of an 82093AA-style I/O APIC (version
 * 0x11), a pure state machine for a VMM.  Interrupt messages go out through
 * ops->deliver as struct libvmx_apic_msg (see <vmx/lapic.h>); the VMM routes
 * them to local APICs with libvmx_lapic_match().
 *
 * Pins: @level given to libvmx_ioapic_set_irq() is the logical asserted
 * state (1 = asserted) after any inversion: the polarity bit (13) of a
 * redirection entry is stored and read back but not applied, because the
 * VMM's devices know whether they are asserting.  Delivery status (bit 12)
 * always reads idle: a message leaves at once.
 *
 * Remote IRR (bit 14) is set when a level-triggered fixed or lowest-priority
 * interrupt is delivered and cleared by libvmx_ioapic_eoi() with its vector
 * (other delivery modes get no EOI, so they set no remote IRR).  Switching an
 * entry to edge-triggered clears remote IRR too, as Linux's IO-APIC code
 * expects on some paths.
 *
 * Not thread-safe: the caller serialises all calls on one I/O APIC.
 * ops->deliver runs synchronously as the last step of the call that
 * triggered it (state complete), so it may call back into this I/O APIC.
 */
#ifndef LIBVMX_IOAPIC_H
#define LIBVMX_IOAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "vmx/lapic.h"

#ifdef __cplusplus
extern "C" {
#endif

struct libvmx_ioapic;

struct libvmx_ioapic_ops {
	void (*deliver)(void *opaque, const struct libvmx_apic_msg *msg);
};

/*
 * libvmx_ioapic_create() - an I/O APIC with every pin masked.
 * @id: I/O APIC id (bits 3-0 used, register 0 bits 27-24).
 * @nr_pins: 1..240; Linux expects 24.  IOREGSEL is 8 bits wide, so only
 *   pins 0..119 are reachable through the registers; higher pins stay masked
 *   and never deliver.
 *
 * Errors: -EINVAL (NULL @out, @nr_pins out of range), -ENOMEM.
 */
int libvmx_ioapic_create(uint8_t id, unsigned int nr_pins, const struct libvmx_ioapic_ops *ops,
			 void *opaque, struct libvmx_ioapic **out);
void libvmx_ioapic_destroy(struct libvmx_ioapic *ioapic);	/* NULL is fine */

/*
 * IOREGSEL at 0x00, IOWIN at 0x10, 32-bit accesses; any other size or
 * offset (up to 0xfff) reads zeros and ignores writes.  Registers: 0x00 ID
 * (bits 27-24 writable), 0x01 version (0x11 | (nr_pins - 1) << 16), 0x02
 * arbitration (the id, read-only), 0x10 + 2 * pin low/high halves of the
 * redirection entries; other indexes read 0 and ignore writes.
 * Returns 0, or -EINVAL for NULL @ioapic/@data, @size 0 or > 8, or an access
 * beyond 0xfff.
 */
int libvmx_ioapic_mmio(struct libvmx_ioapic *ioapic, uint64_t offset, void *data,
		       unsigned int size, bool is_write);

/*
 * Device line @pin is now at @level (1 asserted): edge pins deliver on a
 * rising edge; level pins while asserted and remote IRR clear.  Masked
 * pins deliver nothing (a masked rising edge is lost).  Out-of-range pins
 * are ignored.
 */
void libvmx_ioapic_set_irq(struct libvmx_ioapic *ioapic, unsigned int pin, int level);

/* A level-triggered @vector was EOI'd: clear remote IRR of pins with it, re-deliver if still asserted. */
void libvmx_ioapic_eoi(struct libvmx_ioapic *ioapic, uint8_t vector);

/* Addition: the raw 64-bit redirection entry of @pin (0 if out of range). */
uint64_t libvmx_ioapic_get_entry(const struct libvmx_ioapic *ioapic, unsigned int pin);

#ifdef __cplusplus
}
#endif

#endif /* LIBVMX_IOAPIC_H */
