/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvmx local APIC: a user-space xAPIC (MMIO page at 0xfee00000) with the
 * TSC-deadline MSR, and the x2APIC MSR interface behind an explicit mode
 * switch.  A pure state machine: the VMM passes the time in, routes IPIs
 * (ops->send + libvmx_lapic_match()) and injects what libvmx_lapic_pending()
 * says.  Authority: Intel SDM vol. 3, "Advanced Programmable Interrupt
 * Controller (APIC)".
 *
 * Choices (documented in libvmx_lapic(3)):
 *  - Timer base frequency: 1 GHz (one count per nanosecond before the
 *    divider), so TMICT * divide = ns.  Linux calibrates it against the TSC.
 *    If the VMM advertises CPUID 0x15, its crystal must say 1 GHz too (Linux
 *    then takes the APIC timer rate from it).
 *  - Version register 0x00050014: version 0x14, max LVT entry 5 (timer,
 *    thermal, perf, LINT0, LINT1, error; no CMCI), no EOI-broadcast
 *    suppression.
 *  - The APIC ID register is read-only (the VMM routes by libvmx_lapic_id()).
 *  - Periodic mode fires at most every LIBVMX_LAPIC_MIN_PERIOD_NS.
 *
 * Not thread-safe: the caller serialises all calls on one APIC (callbacks
 * run inside the call that caused them, with that APIC's state consistent).
 */
#ifndef LIBVMX_LAPIC_H
#define LIBVMX_LAPIC_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LIBVMX_APIC_FIXED 0
#define LIBVMX_APIC_LOWEST 1
#define LIBVMX_APIC_SMI 2
#define LIBVMX_APIC_NMI 4
#define LIBVMX_APIC_INIT 5
#define LIBVMX_APIC_SIPI 6
#define LIBVMX_APIC_EXTINT 7

/* Where the guest sees the xAPIC page and the I/O APIC by default. */
#define LIBVMX_LAPIC_DEFAULT_BASE	0xfee00000ULL
#define LIBVMX_IOAPIC_DEFAULT_BASE	0xfec00000ULL
/* The APIC timer counts at this rate before the divider. */
#define LIBVMX_LAPIC_TIMER_HZ		1000000000ULL
/* Shortest period of periodic mode (a guest cannot make the VMM spin). */
#define LIBVMX_LAPIC_MIN_PERIOD_NS	50000ULL
/* IA32_TSC_DEADLINE */
#define LIBVMX_MSR_TSC_DEADLINE		0x6e0

/* An interrupt message: an IPI from ICR, or an I/O APIC redirection. */
struct libvmx_apic_msg {
	uint32_t dest;		/* xAPIC: 8-bit id or logical mask; x2APIC: 32 bit */
	uint8_t vector;
	uint8_t delivery;	/* LIBVMX_APIC_* */
	uint8_t logical;	/* destination mode: 1 logical */
	uint8_t shorthand;	/* 0 none, 1 self, 2 all including self, 3 all excluding self */
	uint8_t level;		/* INIT level: 1 assert, 0 de-assert */
	uint8_t trigger_level;	/* 1 level-triggered */
};

/* The time in both units the APIC needs: host CLOCK_MONOTONIC ns and the guest's TSC at that instant. */
struct libvmx_apic_clock { uint64_t ns; uint64_t tsc; };

struct libvmx_lapic;

struct libvmx_lapic_ops {
	/* The guest wrote ICR: route @msg (the VMM finds targets with libvmx_lapic_match()). */
	void (*send)(void *opaque, struct libvmx_lapic *from, const struct libvmx_apic_msg *msg);
	/* EOI of a level-triggered vector (TMR bit set): the I/O APIC clears its remote IRR. */
	void (*eoi)(void *opaque, struct libvmx_lapic *apic, uint8_t vector);
};

/*
 * libvmx_lapic_create() - a local APIC in its power-on state (xAPIC mode,
 * software-disabled).
 * @apic_id: the APIC ID (0xffffffff, the x2APIC broadcast, is refused; ids
 *	above 255 are reachable in x2APIC mode only, xAPIC sees the low 8 bits).
 * @tsc_khz: guest TSC rate (converts TSC deadlines to ns), not 0.
 * @ops: callbacks, may be NULL (then IPIs and EOIs go nowhere); copied.
 * @bsp: id 0 boot CPU (the BSP flag itself lives in IA32_APIC_BASE, which
 *	the kernel module keeps).
 * Errors: -EINVAL, -ENOMEM.
 */
int libvmx_lapic_create(uint32_t apic_id, uint64_t tsc_khz, const struct libvmx_lapic_ops *ops,
			void *opaque, struct libvmx_lapic **out);
void libvmx_lapic_destroy(struct libvmx_lapic *apic);

/*
 * libvmx_lapic_reset() - the power-on / INIT state (SDM "Local APIC State
 * After Power-Up or Reset" / "After It Receives an INIT"): IRR, ISR, TMR,
 * ICR, LDR, TPR, ESR, timer counts and divide 0; DFR 0xffffffff; every LVT
 * 0x00010000 (masked); SVR 0x000000ff (software-disabled); timer and TSC
 * deadline disarmed.  Keeps the id and the xAPIC/x2APIC mode (INIT does;
 * for a full power-on also call libvmx_lapic_set_x2apic(apic, false)).
 */
void libvmx_lapic_reset(struct libvmx_lapic *apic);
uint32_t libvmx_lapic_id(const struct libvmx_lapic *apic);

/*
 * libvmx_lapic_mmio() - an xAPIC page access.
 * @offset: within the 4 KiB page (>= 0x1000: reads 0, writes ignored).
 * @size: 1-8.  Only aligned 4-byte accesses (offset % 16 == 0) are
 *	architectural; any other access reads 0 and writes are ignored.
 * In x2APIC mode the page is not the APIC: reads 0, writes ignored.
 * Aligned accesses to reserved registers set ESR bit 7 (illegal register).
 * Errors: -EINVAL (NULL argument, size 0 or > 8) -- never for guest values.
 *
 * @now (here and below) may be NULL: the last clock passed in is used (0
 * before any).  TDCR changes apply from the next TMICT write.
 */
int libvmx_lapic_mmio(struct libvmx_lapic *apic, uint64_t offset, void *data, unsigned int size,
		      bool is_write, const struct libvmx_apic_clock *now);

/*
 * MSR 0x6E0 (TSC_DEADLINE) always; 0x800-0x8ff only in x2APIC mode.
 * 0 handled, -EINVAL: the guest gets #GP (also for a NULL @apic/@value),
 * -ENOENT: not an APIC MSR.
 * In x2APIC mode: ICR is the one 64-bit MSR 0x830 (dest in bits 63:32),
 * SELF IPI 0x83f (write-only, accepted directly as a fixed edge vector on
 * this APIC), LDR 0x80d read-only and derived from the id, DFR/APR/ICR2/
 * CMCI and other reserved indices #GP, writes to read-only registers #GP,
 * reads of EOI/SELF IPI #GP, nonzero bits 63:32 (except ICR) #GP, EOI and
 * ESR writes of nonzero values #GP.
 */
int libvmx_lapic_rdmsr(struct libvmx_lapic *apic, uint32_t index, uint64_t *value, const struct libvmx_apic_clock *now);
int libvmx_lapic_wrmsr(struct libvmx_lapic *apic, uint32_t index, uint64_t value, const struct libvmx_apic_clock *now);

/*
 * libvmx_lapic_set_x2apic() - the VMM saw IA32_APIC_BASE.EXTD change.
 * On: the ID becomes the full 32-bit id and LDR is derived from it.
 * Off (x2APIC -> xAPIC goes through the disabled state on real hardware):
 * the APIC is reset as by libvmx_lapic_reset() in xAPIC mode.
 * Setting the current mode again does nothing.
 */
void libvmx_lapic_set_x2apic(struct libvmx_lapic *apic, bool on);
bool libvmx_lapic_x2apic(const struct libvmx_lapic *apic);
/* Is the APIC software-enabled (SVR bit 8)? */
bool libvmx_lapic_enabled(const struct libvmx_lapic *apic);
/* LVT entry @i (0 timer, 1 thermal, 2 perf, 3 LINT0, 4 LINT1, 5 error), 0 if out of range. */
uint32_t libvmx_lapic_get_lvt(const struct libvmx_lapic *apic, unsigned int i);

/* Does @msg's destination include @apic (physical id, broadcast 0xff / 0xffffffff, logical flat/cluster via LDR/DFR)? Shorthands are the router's job. */
bool libvmx_lapic_match(const struct libvmx_lapic *apic, const struct libvmx_apic_msg *msg);

/*
 * A fixed/lowest-priority interrupt arrives: set IRR (and TMR if level, TMR
 * cleared if edge). Ignored while the APIC is software-disabled (SVR bit 8
 * clear), as the SDM says.  Vectors 0-15 are illegal: dropped, ESR bit 6.
 */
void libvmx_lapic_accept(struct libvmx_lapic *apic, uint8_t vector, bool trigger_level);

/* The highest vector to inject now (IRR above PPR), or -1. */
int libvmx_lapic_pending(const struct libvmx_lapic *apic);

/* The VMM injected @vector: IRR -> ISR (updates PPR). A vector not in IRR is ignored. */
void libvmx_lapic_ack(struct libvmx_lapic *apic, uint8_t vector);

/* Fire the timer if it is due at @now (sets the LVT timer vector in IRR unless masked; reloads periodic mode). */
void libvmx_lapic_timer_update(struct libvmx_lapic *apic, const struct libvmx_apic_clock *now);

/*
 * Host ns at which the timer next fires, or 0 when it is not armed (a timer
 * due at ns 0 reports 1).  A TSC deadline is converted with @tsc_khz at the
 * time it was written or last updated; libvmx_lapic_timer_update() decides
 * by the TSC and recomputes this if it was called early.
 */
uint64_t libvmx_lapic_timer_deadline(const struct libvmx_lapic *apic);

/* The TPR (bits 7:0), e.g. to sync with CR8 / the TPR shadow. */
uint8_t libvmx_lapic_get_tpr(const struct libvmx_lapic *apic);
void libvmx_lapic_set_tpr(struct libvmx_lapic *apic, uint8_t tpr);

#ifdef __cplusplus
}
#endif

#endif /* LIBVMX_LAPIC_H */
