// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libvmx: a user-space local APIC (xAPIC MMIO, TSC-deadline MSR, x2APIC
 * MSRs), after the Intel SDM vol. 3 chapter "Advanced Programmable Interrupt
 * Controller (APIC)".
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmx/lapic.h"

/* xAPIC register offsets (x2APIC MSR = 0x800 + offset / 16). */
#define REG_ID		0x020
#define REG_VERSION	0x030
#define REG_TPR		0x080
#define REG_APR		0x090
#define REG_PPR		0x0a0
#define REG_EOI		0x0b0
#define REG_RRD		0x0c0
#define REG_LDR		0x0d0
#define REG_DFR		0x0e0
#define REG_SVR		0x0f0
#define REG_ISR		0x100
#define REG_TMR		0x180
#define REG_IRR		0x200
#define REG_ESR		0x280
#define REG_CMCI	0x2f0
#define REG_ICR_LO	0x300
#define REG_ICR_HI	0x310
#define REG_LVT0	0x320	/* timer; thermal, perf, LINT0, LINT1, error follow */
#define REG_LVT_ERR	0x370
#define REG_TMICT	0x380
#define REG_TMCCT	0x390
#define REG_TDCR	0x3e0
#define REG_SELF_IPI	0x3f0	/* x2APIC only */

#define MSR_TSC_DEADLINE	LIBVMX_MSR_TSC_DEADLINE
#define MSR_X2APIC_FIRST	0x800
#define MSR_X2APIC_LAST		0x8ff

#define NR_LVT		6
#define LVT_TIMER	0
#define LVT_ERROR	5
#define LVT_MASKED	(1u << 16)
#define LVT_MODE_SHIFT	17
#define TIMER_ONESHOT	0
#define TIMER_PERIODIC	1
#define TIMER_TSCDL	2

#define SVR_ENABLE	(1u << 8)
/* Vector, enable, focus disable; no EOI-broadcast suppression advertised. */
#define SVR_MASK	0x3ffu
/* Version 0x14, max LVT entry 5 (six LVTs, no CMCI). */
#define APIC_VERSION	(0x14u | ((NR_LVT - 1u) << 16))

#define ESR_SEND_ILLEGAL	(1u << 5)
#define ESR_RECV_ILLEGAL	(1u << 6)
#define ESR_ILLEGAL_REG		(1u << 7)

/* APIC bus clock: 1 GHz, one tick per ns before the divider. */
#define BUS_NS_PER_TICK	1u

struct libvmx_lapic {
	uint32_t id;
	uint64_t tsc_khz;
	struct libvmx_lapic_ops ops;
	void *opaque;
	bool x2apic;

	uint32_t tpr;
	uint32_t ldr;
	uint32_t dfr;
	uint32_t svr;
	uint32_t esr;		/* what the guest reads */
	uint32_t esr_pending;	/* errors since the last ESR write */
	uint32_t icr_lo;
	uint32_t icr_hi;
	uint32_t lvt[NR_LVT];
	uint32_t irr[8], isr[8], tmr[8];

	/* Timer. */
	uint32_t tmict;
	uint32_t tdcr;
	bool armed;
	uint64_t expire_ns;	/* next firing in host ns, when armed */
	uint64_t period_ns;	/* one-shot/periodic: TMICT * divisor */
	uint32_t timer_div;	/* the divisor TMICT was armed with */
	uint64_t tsc_deadline;	/* TSC-deadline mode: the armed value or 0 */

	struct libvmx_apic_clock last;	/* for NULL clocks */
};

static const uint32_t lvt_writable[NR_LVT] = {
	0x000700ffu,	/* timer: vector, mask, mode */
	0x000107ffu,	/* thermal: vector, delivery mode, mask */
	0x000107ffu,	/* perf */
	0x0001a7ffu,	/* LINT0: + polarity, trigger (remote IRR read-only) */
	0x0001a7ffu,	/* LINT1 */
	0x000100ffu,	/* error: vector, mask */
};

/* Bit helpers over the 256-bit IRR/ISR/TMR banks. */
static bool bit_test(const uint32_t *bank, uint8_t v)
{
	return bank[v >> 5] & (1u << (v & 31));
}

static void bit_set(uint32_t *bank, uint8_t v)
{
	bank[v >> 5] |= 1u << (v & 31);
}

static void bit_clear(uint32_t *bank, uint8_t v)
{
	bank[v >> 5] &= ~(1u << (v & 31));
}

static int bank_highest(const uint32_t *bank)
{
	for (int i = 7; i >= 0; i--)
		if (bank[i])
			return i * 32 + 31 - __builtin_clz(bank[i]);
	return -1;
}

static struct libvmx_apic_clock clock_of(struct libvmx_lapic *apic,
					 const struct libvmx_apic_clock *now)
{
	if (now)
		apic->last = *now;
	return apic->last;
}

static uint32_t ppr_of(const struct libvmx_lapic *apic)
{
	int isrv = bank_highest(apic->isr);
	uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xf0;

	if ((apic->tpr & 0xf0) >= isr_class)
		return apic->tpr & 0xff;
	return isr_class;
}

static uint32_t apr_of(const struct libvmx_lapic *apic)
{
	int irrv = bank_highest(apic->irr), isrv = bank_highest(apic->isr);
	uint32_t irr_class = irrv < 0 ? 0 : (uint32_t)irrv & 0xf0;
	uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xf0;
	uint32_t tpr_class = apic->tpr & 0xf0;

	if (tpr_class >= irr_class && tpr_class > isr_class)
		return apic->tpr & 0xff;
	if (irr_class > isr_class)
		return irr_class > tpr_class ? irr_class : tpr_class;
	return isr_class > tpr_class ? isr_class : tpr_class;
}

static uint32_t x2apic_ldr(uint32_t id)
{
	return ((id >> 4) << 16) | (1u << (id & 15));
}

static bool sw_enabled(const struct libvmx_lapic *apic)
{
	return apic->svr & SVR_ENABLE;
}

static unsigned int timer_mode(const struct libvmx_lapic *apic)
{
	unsigned int mode = (apic->lvt[LVT_TIMER] >> LVT_MODE_SHIFT) & 3;

	/* Mode 3 is reserved: it counts like one-shot. */
	return mode == 3 ? TIMER_ONESHOT : mode;
}

static uint32_t divisor_of(uint32_t tdcr)
{
	uint32_t code = (tdcr & 3) | ((tdcr >> 1) & 4);

	return 1u << ((code + 1) & 7);	/* 0b111 divides by 1 */
}

static void timer_disarm(struct libvmx_lapic *apic)
{
	apic->armed = false;
	apic->expire_ns = 0;
	apic->period_ns = 0;
	apic->tsc_deadline = 0;
}

/* Record an error in ESR and raise the LVT error interrupt if unmasked. */
static void raise_error(struct libvmx_lapic *apic, uint32_t bits)
{
	uint32_t lvt = apic->lvt[LVT_ERROR];
	uint8_t vector = lvt & 0xff;

	apic->esr_pending |= bits;
	/* An illegal error vector would recurse into another error: drop it. */
	if (!(lvt & LVT_MASKED) && vector >= 16 && sw_enabled(apic)) {
		bit_set(apic->irr, vector);
		bit_clear(apic->tmr, vector);
	}
}

void libvmx_lapic_accept(struct libvmx_lapic *apic, uint8_t vector, bool trigger_level)
{
	if (!apic || !sw_enabled(apic))
		return;
	if (vector < 16) {
		raise_error(apic, ESR_RECV_ILLEGAL);
		return;
	}
	bit_set(apic->irr, vector);
	if (trigger_level)
		bit_set(apic->tmr, vector);
	else
		bit_clear(apic->tmr, vector);
}

int libvmx_lapic_pending(const struct libvmx_lapic *apic)
{
	int v;

	if (!apic)
		return -1;
	v = bank_highest(apic->irr);
	if (v < 0 || ((uint32_t)v & 0xf0) <= (ppr_of(apic) & 0xf0))
		return -1;
	return v;
}

void libvmx_lapic_ack(struct libvmx_lapic *apic, uint8_t vector)
{
	if (!apic || !bit_test(apic->irr, vector))
		return;
	bit_clear(apic->irr, vector);
	bit_set(apic->isr, vector);
}

static void do_eoi(struct libvmx_lapic *apic)
{
	int v = bank_highest(apic->isr);

	if (v < 0)
		return;
	bit_clear(apic->isr, v);
	if (bit_test(apic->tmr, v) && apic->ops.eoi)
		apic->ops.eoi(apic->opaque, apic, (uint8_t)v);
}

/* Nanoseconds for @ticks TSC ticks at @khz, saturating. */
static uint64_t tsc_to_ns(uint64_t ticks, uint64_t khz)
{
	unsigned __int128 ns = (unsigned __int128)ticks * 1000000u / khz;

	return ns > UINT64_MAX ? UINT64_MAX : (uint64_t)ns;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

static void set_tsc_deadline(struct libvmx_lapic *apic, uint64_t deadline,
			     const struct libvmx_apic_clock *now)
{
	/* Outside TSC-deadline mode the MSR write is ignored (SDM). */
	if (timer_mode(apic) != TIMER_TSCDL)
		return;
	timer_disarm(apic);
	if (!deadline)
		return;
	apic->tsc_deadline = deadline;
	apic->armed = true;
	/* A deadline already passed fires at the next update. */
	if (deadline <= now->tsc)
		apic->expire_ns = now->ns;
	else
		apic->expire_ns = add_sat(now->ns, tsc_to_ns(deadline - now->tsc,
							     apic->tsc_khz));
}

static void set_tmict(struct libvmx_lapic *apic, uint32_t count,
		      const struct libvmx_apic_clock *now)
{
	/* TMICT is not used in TSC-deadline mode: writes are ignored. */
	if (timer_mode(apic) == TIMER_TSCDL)
		return;
	apic->tmict = count;
	timer_disarm(apic);
	if (!count)
		return;
	/* A TDCR change applies from the next TMICT write. */
	apic->timer_div = divisor_of(apic->tdcr);
	apic->period_ns = (uint64_t)count * apic->timer_div * BUS_NS_PER_TICK;
	apic->expire_ns = add_sat(now->ns, apic->period_ns);
	apic->armed = true;
}

static uint32_t get_tmcct(const struct libvmx_lapic *apic, uint64_t now_ns)
{
	uint64_t left, div;

	if (!apic->armed || timer_mode(apic) == TIMER_TSCDL || !apic->period_ns)
		return 0;
	if (now_ns < apic->expire_ns) {
		left = apic->expire_ns - now_ns;
	} else if (timer_mode(apic) == TIMER_PERIODIC) {
		/* Not updated yet since it expired: where the count would be. */
		left = apic->period_ns - (now_ns - apic->expire_ns) % apic->period_ns;
	} else {
		return 0;
	}
	div = (uint64_t)apic->timer_div * BUS_NS_PER_TICK;
	left = (left + div - 1) / div;
	return left > apic->tmict ? apic->tmict : (uint32_t)left;
}

void libvmx_lapic_timer_update(struct libvmx_lapic *apic, const struct libvmx_apic_clock *now)
{
	struct libvmx_apic_clock c;
	uint32_t lvt;

	if (!apic)
		return;
	c = clock_of(apic, now);
	if (!apic->armed)
		return;
	if (timer_mode(apic) == TIMER_TSCDL) {
		/* The guest's TSC decides; an early call re-aims the host time. */
		if (c.tsc < apic->tsc_deadline) {
			if (c.ns >= apic->expire_ns)
				apic->expire_ns = add_sat(c.ns, tsc_to_ns(apic->tsc_deadline - c.tsc,
									  apic->tsc_khz));
			return;
		}
	} else if (c.ns < apic->expire_ns) {
		return;
	}
	lvt = apic->lvt[LVT_TIMER];
	if (!(lvt & LVT_MASKED))
		libvmx_lapic_accept(apic, lvt & 0xff, false);
	switch (timer_mode(apic)) {
	case TIMER_PERIODIC:
		if (apic->period_ns) {
			/* Missed periods coalesce; a guest cannot make us spin. */
			uint64_t p = apic->period_ns < LIBVMX_LAPIC_MIN_PERIOD_NS ?
				     LIBVMX_LAPIC_MIN_PERIOD_NS : apic->period_ns;
			uint64_t k = (c.ns - apic->expire_ns) / p + 1;
			unsigned __int128 next = (unsigned __int128)p * k + apic->expire_ns;

			apic->expire_ns = next > UINT64_MAX ? UINT64_MAX : (uint64_t)next;
			break;
		}
		/* fall through */
	default:
		/* One-shot: TMCCT stays 0; TSC deadline: the MSR reads 0 again. */
		timer_disarm(apic);
		break;
	}
}

uint64_t libvmx_lapic_timer_deadline(const struct libvmx_lapic *apic)
{
	if (!apic || !apic->armed)
		return 0;
	/* 0 means "not armed": a timer due at ns 0 is due at 1. */
	return apic->expire_ns ? apic->expire_ns : 1;
}

static void write_lvt(struct libvmx_lapic *apic, unsigned int i, uint32_t val)
{
	bool was_tscdl = timer_mode(apic) == TIMER_TSCDL;

	val &= lvt_writable[i];
	/* Software-disabled: mask bits are set and stay set. */
	if (!sw_enabled(apic))
		val |= LVT_MASKED;
	apic->lvt[i] = (apic->lvt[i] & ~lvt_writable[i]) | val;
	/*
	 * Switching into or out of TSC-deadline mode disarms the timer
	 * (TMICT and the deadline read 0 again); one-shot <-> periodic keeps
	 * counting.
	 */
	if (i == LVT_TIMER && was_tscdl != (timer_mode(apic) == TIMER_TSCDL)) {
		timer_disarm(apic);
		apic->tmict = 0;
	}
}

static void write_svr(struct libvmx_lapic *apic, uint32_t val)
{
	apic->svr = val & SVR_MASK;
	if (!sw_enabled(apic))
		for (int i = 0; i < NR_LVT; i++)
			apic->lvt[i] |= LVT_MASKED;
}

static void send_ipi(struct libvmx_lapic *apic)
{
	struct libvmx_apic_msg msg = {
		.vector = apic->icr_lo & 0xff,
		.delivery = (apic->icr_lo >> 8) & 7,
		.logical = (apic->icr_lo >> 11) & 1,
		.level = (apic->icr_lo >> 14) & 1,
		.trigger_level = (apic->icr_lo >> 15) & 1,
		.shorthand = (apic->icr_lo >> 18) & 3,
		.dest = apic->x2apic ? apic->icr_hi : apic->icr_hi >> 24,
	};

	if (msg.delivery == 3)
		return;	/* reserved */
	if ((msg.delivery == LIBVMX_APIC_FIXED || msg.delivery == LIBVMX_APIC_LOWEST) &&
	    msg.vector < 16) {
		raise_error(apic, ESR_SEND_ILLEGAL);
		return;
	}
	if (apic->ops.send)
		apic->ops.send(apic->opaque, apic, &msg);
}

/* ICR low: delivery status (bit 12) always reads idle. */
#define ICR_LO_MASK	0x000ccfffu
/* x2APIC ICR low bits that #GP when set: 13, 16-17, 20-31 (bit 12 is dropped). */
#define ICR_X2_RESERVED	0xfff32000ull

/*
 * Register read by xAPIC offset (bits 3-0 clear).  Returns false for a
 * register that does not exist (or not in this mode).
 */
static bool reg_read(struct libvmx_lapic *apic, uint32_t reg, uint32_t *val, uint64_t now_ns)
{
	switch (reg) {
	case REG_ID:
		*val = apic->x2apic ? apic->id : apic->id << 24;
		return true;
	case REG_VERSION:
		*val = APIC_VERSION;
		return true;
	case REG_TPR:
		*val = apic->tpr;
		return true;
	case REG_APR:
		*val = apr_of(apic);
		return !apic->x2apic;
	case REG_PPR:
		*val = ppr_of(apic);
		return true;
	case REG_LDR:
		*val = apic->ldr;
		return true;
	case REG_DFR:
		*val = apic->dfr;
		return !apic->x2apic;
	case REG_SVR:
		*val = apic->svr;
		return true;
	case REG_ISR ... REG_ISR + 0x70:
		*val = apic->isr[(reg - REG_ISR) >> 4];
		return true;
	case REG_TMR ... REG_TMR + 0x70:
		*val = apic->tmr[(reg - REG_TMR) >> 4];
		return true;
	case REG_IRR ... REG_IRR + 0x70:
		*val = apic->irr[(reg - REG_IRR) >> 4];
		return true;
	case REG_ESR:
		*val = apic->esr;
		return true;
	case REG_ICR_LO:
		*val = apic->icr_lo;
		return true;
	case REG_ICR_HI:
		*val = apic->icr_hi;
		return !apic->x2apic;
	case REG_LVT0 ... REG_LVT_ERR:
		*val = apic->lvt[(reg - REG_LVT0) >> 4];
		return true;
	case REG_TMICT:
		*val = apic->tmict;
		return true;
	case REG_TMCCT:
		*val = get_tmcct(apic, now_ns);
		return true;
	case REG_TDCR:
		*val = apic->tdcr;
		return true;
	case REG_EOI:
		/* Write-only: xAPIC reads 0, x2APIC #GP. */
		*val = 0;
		return !apic->x2apic;
	default:
		*val = 0;
		return false;
	}
}

/*
 * Register write by xAPIC offset.  Returns false for a register that does
 * not exist or is read-only (x2APIC turns that into #GP; xAPIC ignores it).
 */
static bool reg_write(struct libvmx_lapic *apic, uint32_t reg, uint32_t val,
		      const struct libvmx_apic_clock *now)
{
	switch (reg) {
	case REG_TPR:
		apic->tpr = val & 0xff;
		return true;
	case REG_EOI:
		do_eoi(apic);
		return true;
	case REG_LDR:
		if (apic->x2apic)
			return false;
		apic->ldr = val & 0xff000000u;
		return true;
	case REG_DFR:
		if (apic->x2apic)
			return false;
		apic->dfr = val | 0x0fffffffu;
		return true;
	case REG_SVR:
		write_svr(apic, val);
		return true;
	case REG_ESR:
		/* A write latches the errors seen since the last write. */
		apic->esr = apic->esr_pending;
		apic->esr_pending = 0;
		return true;
	case REG_ICR_LO:
		apic->icr_lo = val & ICR_LO_MASK;
		send_ipi(apic);
		return true;
	case REG_ICR_HI:
		if (apic->x2apic)
			return false;
		apic->icr_hi = val & 0xff000000u;
		return true;
	case REG_LVT0 ... REG_LVT_ERR:
		write_lvt(apic, (reg - REG_LVT0) >> 4, val);
		return true;
	case REG_TMICT:
		set_tmict(apic, val, now);
		return true;
	case REG_TDCR:
		apic->tdcr = val & 0xb;
		return true;
	case REG_ID:
	case REG_VERSION:
	case REG_APR:
	case REG_PPR:
	case REG_ISR ... REG_ISR + 0x70:
	case REG_TMR ... REG_TMR + 0x70:
	case REG_IRR ... REG_IRR + 0x70:
	case REG_TMCCT:
		return false;	/* read-only */
	default:
		return false;
	}
}

/* Is @reg an implemented xAPIC register offset (read-only ones included)? */
static bool xapic_reg_exists(uint32_t reg)
{
	uint32_t dummy;
	struct libvmx_lapic probe = { 0 };

	return reg_read(&probe, reg, &dummy, 0) || reg == REG_EOI;
}

int libvmx_lapic_mmio(struct libvmx_lapic *apic, uint64_t offset, void *data,
		      unsigned int size, bool is_write,
		      const struct libvmx_apic_clock *now)
{
	struct libvmx_apic_clock c;
	uint32_t reg = offset & ~0xfu, val;

	if (!apic || !data || !size || size > 8)
		return -EINVAL;
	c = clock_of(apic, now);
	if (!is_write)
		memset(data, 0, size);
	if (apic->x2apic || size != 4 || (offset & 0xf) || offset > 0xff0)
		return 0;
	if (!xapic_reg_exists(reg)) {
		raise_error(apic, ESR_ILLEGAL_REG);
		return 0;
	}
	if (is_write) {
		memcpy(&val, data, 4);
		reg_write(apic, reg, val, &c);
	} else {
		reg_read(apic, reg, &val, c.ns);
		memcpy(data, &val, 4);
	}
	return 0;
}

static int x2apic_rdmsr(struct libvmx_lapic *apic, uint32_t index, uint64_t *value,
			const struct libvmx_apic_clock *c)
{
	uint32_t reg = (index - MSR_X2APIC_FIRST) << 4, val;

	if (reg == REG_ICR_LO) {
		*value = (uint64_t)apic->icr_hi << 32 | apic->icr_lo;
		return 0;
	}
	if (!reg_read(apic, reg, &val, c->ns))
		return -EINVAL;
	*value = val;
	return 0;
}

static int x2apic_wrmsr(struct libvmx_lapic *apic, uint32_t index, uint64_t value,
			const struct libvmx_apic_clock *c)
{
	uint32_t reg = (index - MSR_X2APIC_FIRST) << 4;

	if (reg == REG_ICR_LO) {
		if (value & ICR_X2_RESERVED)
			return -EINVAL;
		apic->icr_hi = value >> 32;
		apic->icr_lo = (uint32_t)value & ICR_LO_MASK;
		send_ipi(apic);
		return 0;
	}
	/* The upper halves of every other x2APIC MSR are reserved. */
	if (value >> 32)
		return -EINVAL;
	switch (reg) {
	case REG_EOI:
	case REG_ESR:
		/* Both must be written with 0 in x2APIC mode. */
		if (value)
			return -EINVAL;
		break;
	case REG_SELF_IPI:
		if (value & ~0xffull)
			return -EINVAL;
		libvmx_lapic_accept(apic, value & 0xff, false);
		return 0;
	case REG_TPR:
		if (value & ~0xffull)
			return -EINVAL;
		break;
	case REG_SVR:
		if (value & ~(uint64_t)SVR_MASK)
			return -EINVAL;
		break;
	case REG_TDCR:
		if (value & ~0xbull)
			return -EINVAL;
		break;
	case REG_LVT0 ... REG_LVT_ERR:
		if (value & ~(uint64_t)lvt_writable[(reg - REG_LVT0) >> 4])
			return -EINVAL;
		break;
	}
	return reg_write(apic, reg, (uint32_t)value, c) ? 0 : -EINVAL;
}

int libvmx_lapic_rdmsr(struct libvmx_lapic *apic, uint32_t index, uint64_t *value,
		       const struct libvmx_apic_clock *now)
{
	struct libvmx_apic_clock c;

	if (!apic || !value)
		return -EINVAL;
	c = clock_of(apic, now);
	if (index == MSR_TSC_DEADLINE) {
		*value = timer_mode(apic) == TIMER_TSCDL && apic->armed ? apic->tsc_deadline : 0;
		return 0;
	}
	if (index < MSR_X2APIC_FIRST || index > MSR_X2APIC_LAST)
		return -ENOENT;
	if (!apic->x2apic)
		return -EINVAL;
	return x2apic_rdmsr(apic, index, value, &c);
}

int libvmx_lapic_wrmsr(struct libvmx_lapic *apic, uint32_t index, uint64_t value,
		       const struct libvmx_apic_clock *now)
{
	struct libvmx_apic_clock c;

	if (!apic)
		return -EINVAL;
	c = clock_of(apic, now);
	if (index == MSR_TSC_DEADLINE) {
		set_tsc_deadline(apic, value, &c);
		return 0;
	}
	if (index < MSR_X2APIC_FIRST || index > MSR_X2APIC_LAST)
		return -ENOENT;
	if (!apic->x2apic)
		return -EINVAL;
	return x2apic_wrmsr(apic, index, value, &c);
}

void libvmx_lapic_reset(struct libvmx_lapic *apic)
{
	if (!apic)
		return;
	apic->tpr = 0;
	apic->ldr = apic->x2apic ? x2apic_ldr(apic->id) : 0;
	apic->dfr = 0xffffffffu;
	apic->svr = 0xff;
	apic->esr = 0;
	apic->esr_pending = 0;
	apic->icr_lo = 0;
	apic->icr_hi = 0;
	for (int i = 0; i < NR_LVT; i++)
		apic->lvt[i] = LVT_MASKED;
	memset(apic->irr, 0, sizeof(apic->irr));
	memset(apic->isr, 0, sizeof(apic->isr));
	memset(apic->tmr, 0, sizeof(apic->tmr));
	apic->tmict = 0;
	apic->tdcr = 0;
	timer_disarm(apic);
}

void libvmx_lapic_set_x2apic(struct libvmx_lapic *apic, bool on)
{
	if (!apic || apic->x2apic == on)
		return;
	apic->x2apic = on;
	if (on) {
		apic->ldr = x2apic_ldr(apic->id);
		apic->icr_hi = 0;
	} else {
		libvmx_lapic_reset(apic);
	}
}

bool libvmx_lapic_match(const struct libvmx_lapic *apic, const struct libvmx_apic_msg *msg)
{
	uint32_t dest, model;

	if (!apic || !msg)
		return false;
	if (apic->x2apic) {
		dest = msg->dest;
		if (dest == 0xffffffffu)
			return true;
		if (!msg->logical)
			return dest == apic->id;
		return (dest >> 16) == (apic->ldr >> 16) && (dest & apic->ldr & 0xffff);
	}
	dest = msg->dest & 0xff;
	if (dest == 0xff)
		return true;
	if (!msg->logical)
		return dest == (apic->id & 0xff);
	model = apic->dfr >> 28;
	if (model == 0xf)
		return dest & (apic->ldr >> 24);
	if (model == 0)
		return (dest >> 4) == (apic->ldr >> 28) && (dest & (apic->ldr >> 24) & 0xf);
	return false;
}

uint32_t libvmx_lapic_id(const struct libvmx_lapic *apic)
{
	return apic ? apic->id : 0;
}

uint8_t libvmx_lapic_get_tpr(const struct libvmx_lapic *apic)
{
	return apic ? apic->tpr : 0;
}

void libvmx_lapic_set_tpr(struct libvmx_lapic *apic, uint8_t tpr)
{
	if (apic)
		apic->tpr = tpr;
}

bool libvmx_lapic_x2apic(const struct libvmx_lapic *apic)
{
	return apic && apic->x2apic;
}

bool libvmx_lapic_enabled(const struct libvmx_lapic *apic)
{
	return apic && sw_enabled(apic);
}

uint32_t libvmx_lapic_get_lvt(const struct libvmx_lapic *apic, unsigned int i)
{
	return apic && i < NR_LVT ? apic->lvt[i] : 0;
}

int libvmx_lapic_create(uint32_t apic_id, uint64_t tsc_khz, const struct libvmx_lapic_ops *ops,
			void *opaque, struct libvmx_lapic **out)
{
	struct libvmx_lapic *apic;

	if (!out || !tsc_khz || apic_id == 0xffffffffu)
		return -EINVAL;
	apic = calloc(1, sizeof(*apic));
	if (!apic)
		return -ENOMEM;
	apic->id = apic_id;
	apic->tsc_khz = tsc_khz;
	if (ops)
		apic->ops = *ops;
	apic->opaque = opaque;
	libvmx_lapic_reset(apic);
	*out = apic;
	return 0;
}

void libvmx_lapic_destroy(struct libvmx_lapic *apic)
{
	free(apic);
}
