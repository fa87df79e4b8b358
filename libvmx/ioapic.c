// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libvmx: a user-space I/O APIC after the Intel 82093AA datasheet
 * (IOREGSEL/IOWIN, version 0x11 redirection table).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmx/ioapic.h"

#define MAX_PINS	240

#define IOREGSEL	0x00
#define IOWIN		0x10

#define REG_ID		0x00
#define REG_VERSION	0x01
#define REG_ARB		0x02
#define REG_REDIR	0x10

#define RTE_VECTOR	0xffull
#define RTE_DELIVERY(e)	(((e) >> 8) & 7)
#define RTE_LOGICAL	(1ull << 11)
#define RTE_DELIVS	(1ull << 12)
#define RTE_POLARITY	(1ull << 13)
#define RTE_REMOTE_IRR	(1ull << 14)
#define RTE_LEVEL	(1ull << 15)
#define RTE_MASKED	(1ull << 16)
/* Writable: vector, delivery mode, dest mode, polarity, trigger, mask, dest. */
#define RTE_WRITABLE	(0xff00000000000000ull | 0x1afffull)

struct libvmx_ioapic {
	uint8_t id;
	uint8_t ioregsel;
	unsigned int nr_pins;
	struct libvmx_ioapic_ops ops;
	void *opaque;
	uint64_t rte[MAX_PINS];
	uint8_t asserted[MAX_PINS];	/* the line's level (1 asserted) */
};

/* Send the message of @pin's entry; level fixed/lowest set remote IRR. */
static void deliver(struct libvmx_ioapic *io, unsigned int pin)
{
	uint64_t e = io->rte[pin];
	struct libvmx_apic_msg msg = {
		.dest = e >> 56,
		.vector = e & RTE_VECTOR,
		.delivery = RTE_DELIVERY(e),
		.logical = !!(e & RTE_LOGICAL),
		.shorthand = 0,
		.level = 1,
		.trigger_level = !!(e & RTE_LEVEL),
	};

	/* Delivery modes 3 and 6 are reserved in a redirection entry. */
	if (msg.delivery == 3 || msg.delivery == 6)
		return;
	if ((e & RTE_LEVEL) && (msg.delivery == LIBVMX_APIC_FIXED ||
				msg.delivery == LIBVMX_APIC_LOWEST))
		io->rte[pin] |= RTE_REMOTE_IRR;
	if (io->ops.deliver)
		io->ops.deliver(io->opaque, &msg);
}

/* A level pin delivers while asserted, unmasked and not awaiting EOI. */
static void level_check(struct libvmx_ioapic *io, unsigned int pin)
{
	uint64_t e = io->rte[pin];

	if ((e & RTE_LEVEL) && !(e & (RTE_MASKED | RTE_REMOTE_IRR)) && io->asserted[pin])
		deliver(io, pin);
}

static uint32_t reg_read(const struct libvmx_ioapic *io, uint8_t index)
{
	unsigned int pin;

	switch (index) {
	case REG_ID:
		return (uint32_t)(io->id & 0xf) << 24;
	case REG_VERSION:
		return 0x11u | (uint32_t)(io->nr_pins - 1) << 16;
	case REG_ARB:
		return (uint32_t)(io->id & 0xf) << 24;
	}
	if (index < REG_REDIR)
		return 0;
	pin = (index - REG_REDIR) / 2;
	if (pin >= io->nr_pins)
		return 0;
	return index & 1 ? io->rte[pin] >> 32 : (uint32_t)io->rte[pin];
}

static void reg_write(struct libvmx_ioapic *io, uint8_t index, uint32_t val)
{
	unsigned int pin;
	uint64_t e, w;

	if (index == REG_ID) {
		io->id = (val >> 24) & 0xf;
		return;
	}
	if (index < REG_REDIR)
		return;
	pin = (index - REG_REDIR) / 2;
	if (pin >= io->nr_pins)
		return;
	e = io->rte[pin];
	if (index & 1)
		w = (e & 0xffffffffull) | (uint64_t)val << 32;
	else
		w = (e & 0xffffffff00000000ull) | val;
	e = (e & ~RTE_WRITABLE) | (w & RTE_WRITABLE);
	/* Edge-triggered entries have no remote IRR. */
	if (!(e & RTE_LEVEL))
		e &= ~RTE_REMOTE_IRR;
	io->rte[pin] = e;
	/* Unmasking (or retargeting) an asserted level pin delivers now. */
	level_check(io, pin);
}

int libvmx_ioapic_mmio(struct libvmx_ioapic *ioapic, uint64_t offset, void *data,
		       unsigned int size, bool is_write)
{
	uint32_t val;

	if (!ioapic || !data || !size || size > 8 || offset > 0xfff || offset + size > 0x1000)
		return -EINVAL;
	if (!is_write)
		memset(data, 0, size);
	if (size != 4 || (offset != IOREGSEL && offset != IOWIN))
		return 0;
	if (is_write) {
		memcpy(&val, data, 4);
		if (offset == IOREGSEL)
			ioapic->ioregsel = val & 0xff;
		else
			reg_write(ioapic, ioapic->ioregsel, val);
	} else {
		val = offset == IOREGSEL ? ioapic->ioregsel : reg_read(ioapic, ioapic->ioregsel);
		memcpy(data, &val, 4);
	}
	return 0;
}

void libvmx_ioapic_set_irq(struct libvmx_ioapic *ioapic, unsigned int pin, int level)
{
	bool was;
	uint64_t e;

	if (!ioapic || pin >= ioapic->nr_pins)
		return;
	was = ioapic->asserted[pin];
	ioapic->asserted[pin] = level != 0;
	e = ioapic->rte[pin];
	if (e & RTE_LEVEL)
		level_check(ioapic, pin);
	else if (level && !was && !(e & RTE_MASKED))
		deliver(ioapic, pin);
}

void libvmx_ioapic_eoi(struct libvmx_ioapic *ioapic, uint8_t vector)
{
	if (!ioapic)
		return;
	for (unsigned int pin = 0; pin < ioapic->nr_pins; pin++) {
		uint64_t e = ioapic->rte[pin];

		if ((e & RTE_VECTOR) != vector || !(e & RTE_REMOTE_IRR))
			continue;
		ioapic->rte[pin] &= ~RTE_REMOTE_IRR;
		level_check(ioapic, pin);
	}
}

uint64_t libvmx_ioapic_get_entry(const struct libvmx_ioapic *ioapic, unsigned int pin)
{
	return ioapic && pin < ioapic->nr_pins ? ioapic->rte[pin] : 0;
}

int libvmx_ioapic_create(uint8_t id, unsigned int nr_pins, const struct libvmx_ioapic_ops *ops,
			 void *opaque, struct libvmx_ioapic **out)
{
	struct libvmx_ioapic *io;

	if (!out || !nr_pins || nr_pins > MAX_PINS)
		return -EINVAL;
	io = calloc(1, sizeof(*io));
	if (!io)
		return -ENOMEM;
	io->id = id & 0xf;
	io->nr_pins = nr_pins;
	if (ops)
		io->ops = *ops;
	io->opaque = opaque;
	for (unsigned int pin = 0; pin < MAX_PINS; pin++)
		io->rte[pin] = RTE_MASKED;
	*out = io;
	return 0;
}

void libvmx_ioapic_destroy(struct libvmx_ioapic *ioapic)
{
	free(ioapic);
}
