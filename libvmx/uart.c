/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * An 8250/16550A serial port as a state machine; see <vmx/uart.h> for the
 * model and what is left out.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmx/uart.h"

/* Register offsets. */
#define REG_RBR_THR	0	/* DLL with LCR.DLAB */
#define REG_IER		1	/* DLM with LCR.DLAB */
#define REG_IIR_FCR	2
#define REG_LCR		3
#define REG_MCR		4
#define REG_LSR		5
#define REG_MSR		6
#define REG_SCR		7

#define IER_RDI		0x01	/* received data available */
#define IER_THRI	0x02	/* THR empty */
#define IER_RLSI	0x04	/* receiver line status */
#define IER_MSI		0x08	/* modem status */
#define IER_MASK	0x0f	/* the 16550A has no more bits */

#define IIR_NO_INT	0x01
#define IIR_MSI		0x00
#define IIR_THRI	0x02
#define IIR_RDI		0x04
#define IIR_RLSI	0x06
#define IIR_FIFOS	0xc0	/* both bits set: a 16550A with FIFOs on */

#define FCR_ENABLE	0x01
#define FCR_CLEAR_RX	0x02
#define FCR_CLEAR_TX	0x04

#define LCR_DLAB	0x80

#define MCR_DTR		0x01
#define MCR_RTS		0x02
#define MCR_OUT1	0x04
#define MCR_OUT2	0x08
#define MCR_LOOP	0x10
#define MCR_MASK	0x1f

#define LSR_DR		0x01
#define LSR_OE		0x02
#define LSR_THRE	0x20
#define LSR_TEMT	0x40

#define MSR_DCTS	0x01
#define MSR_DDSR	0x02
#define MSR_TERI	0x04
#define MSR_DDCD	0x08
#define MSR_CTS		0x10
#define MSR_DSR		0x20
#define MSR_RI		0x40
#define MSR_DCD		0x80
#define MSR_DELTAS	0x0f

/* The receive FIFO is a ring indexed modulo its power-of-two size. */
_Static_assert((LIBVMX_UART_FIFO_SIZE & (LIBVMX_UART_FIFO_SIZE - 1)) == 0,
	       "FIFO size must be a power of two");

struct libvmx_uart {
	struct libvmx_uart_ops ops;
	void *opaque;

	uint8_t fifo[LIBVMX_UART_FIFO_SIZE];
	unsigned int head;	/* index of the oldest byte */
	unsigned int count;	/* bytes in the FIFO */

	uint8_t ier, fcr, lcr, mcr, scr, dll, dlm;
	uint8_t msr;		/* inputs (bits 4-7) and deltas (bits 0-3) */
	bool overrun;		/* LSR.OE, until LSR is read */
	bool thre_pending;	/* THRE interrupt latched */
	int irq_level;		/* last level given to ops->irq */
};

static bool fifo_on(const struct libvmx_uart *u)
{
	return u->fcr & FCR_ENABLE;
}

static unsigned int fifo_capacity(const struct libvmx_uart *u)
{
	return fifo_on(u) ? LIBVMX_UART_FIFO_SIZE : 1;
}

static size_t space_left(const struct libvmx_uart *u)
{
	unsigned int cap = fifo_capacity(u);

	return u->count >= cap ? 0 : cap - u->count;
}

/* The pending source of highest priority, as IIR bits 0-3. */
static uint8_t pending_source(const struct libvmx_uart *u)
{
	if ((u->ier & IER_RLSI) && u->overrun)
		return IIR_RLSI;
	if ((u->ier & IER_RDI) && u->count)
		return IIR_RDI;
	if ((u->ier & IER_THRI) && u->thre_pending)
		return IIR_THRI;
	if ((u->ier & IER_MSI) && (u->msr & MSR_DELTAS))
		return IIR_MSI;
	return IIR_NO_INT;
}

/*
 * Drive the line from the state.  Called after every change; the callback
 * sees only edges.
 */
static void update_irq(struct libvmx_uart *u)
{
	int level = pending_source(u) != IIR_NO_INT &&
		    (u->mcr & (MCR_OUT2 | MCR_LOOP)) == MCR_OUT2;

	if (level == u->irq_level)
		return;
	u->irq_level = level;
	if (u->ops.irq)
		u->ops.irq(u->opaque, level);
}

/* MSR's input bits as the current MCR makes them. */
static uint8_t modem_inputs(const struct libvmx_uart *u)
{
	uint8_t in = 0;

	if (!(u->mcr & MCR_LOOP))
		return MSR_DCD | MSR_DSR | MSR_CTS;
	if (u->mcr & MCR_RTS)
		in |= MSR_CTS;
	if (u->mcr & MCR_DTR)
		in |= MSR_DSR;
	if (u->mcr & MCR_OUT1)
		in |= MSR_RI;
	if (u->mcr & MCR_OUT2)
		in |= MSR_DCD;
	return in;
}

/* Latch the deltas of a change of the modem inputs. */
static void update_msr(struct libvmx_uart *u)
{
	uint8_t old = u->msr & ~MSR_DELTAS, new = modem_inputs(u);
	uint8_t changed = old ^ new, deltas = u->msr & MSR_DELTAS;

	if (changed & MSR_CTS)
		deltas |= MSR_DCTS;
	if (changed & MSR_DSR)
		deltas |= MSR_DDSR;
	if (changed & MSR_DCD)
		deltas |= MSR_DDCD;
	/* TERI flags only the trailing edge of RI. */
	if ((old & MSR_RI) && !(new & MSR_RI))
		deltas |= MSR_TERI;
	u->msr = new | deltas;
}

static void fifo_clear(struct libvmx_uart *u)
{
	u->head = 0;
	u->count = 0;
}

/* Add one received byte; a full FIFO loses it and flags an overrun. */
static bool fifo_push(struct libvmx_uart *u, uint8_t byte)
{
	if (!space_left(u)) {
		u->overrun = true;
		return false;
	}
	u->fifo[(u->head + u->count) % LIBVMX_UART_FIFO_SIZE] = byte;
	u->count++;
	return true;
}

static uint8_t fifo_pop(struct libvmx_uart *u)
{
	uint8_t byte;

	if (!u->count)
		return 0;
	byte = u->fifo[u->head];
	u->head = (u->head + 1) % LIBVMX_UART_FIFO_SIZE;
	u->count--;
	return byte;
}

static void reset(struct libvmx_uart *u)
{
	fifo_clear(u);
	u->ier = 0;
	u->fcr = 0;
	u->lcr = 0;
	u->mcr = 0;
	u->scr = 0;
	u->dll = 12;	/* 115200 / 12 = 9600 baud */
	u->dlm = 0;
	u->msr = modem_inputs(u);
	u->overrun = false;
	u->thre_pending = false;
	u->irq_level = 0;
}

int libvmx_uart_create(const struct libvmx_uart_ops *ops, void *opaque,
		       struct libvmx_uart **out)
{
	struct libvmx_uart *u;

	if (!ops || !out)
		return -EINVAL;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->ops = *ops;
	u->opaque = opaque;
	reset(u);
	*out = u;
	return 0;
}

void libvmx_uart_destroy(struct libvmx_uart *uart)
{
	free(uart);
}

static void write_thr(struct libvmx_uart *u, uint8_t byte)
{
	if (u->mcr & MCR_LOOP)
		fifo_push(u, byte);
	else if (u->ops.tx)
		u->ops.tx(u->opaque, byte);
	/* Sent at once: the THR is empty again, so THRE is pending anew. */
	u->thre_pending = true;
}

static void write_ier(struct libvmx_uart *u, uint8_t val)
{
	uint8_t old = u->ier;

	u->ier = val & IER_MASK;
	/* The THR is always empty, so enabling THRI raises it at once. */
	if (!(old & IER_THRI) && (u->ier & IER_THRI))
		u->thre_pending = true;
}

static void write_fcr(struct libvmx_uart *u, uint8_t val)
{
	/* Switching the FIFOs on or off empties them, as on the 16550. */
	if ((val ^ u->fcr) & FCR_ENABLE)
		fifo_clear(u);
	else if (val & FCR_CLEAR_RX)
		fifo_clear(u);
	/* The transmit side holds nothing: FCR_CLEAR_TX has no effect. */
	u->fcr = val & ~(FCR_CLEAR_RX | FCR_CLEAR_TX);
}

static void write_mcr(struct libvmx_uart *u, uint8_t val)
{
	u->mcr = val & MCR_MASK;
	update_msr(u);
}

static void reg_write(struct libvmx_uart *u, unsigned int offset, uint8_t val)
{
	bool dlab = u->lcr & LCR_DLAB;

	switch (offset) {
	case REG_RBR_THR:
		if (dlab)
			u->dll = val;
		else
			write_thr(u, val);
		break;
	case REG_IER:
		if (dlab)
			u->dlm = val;
		else
			write_ier(u, val);
		break;
	case REG_IIR_FCR:
		write_fcr(u, val);
		break;
	case REG_LCR:
		u->lcr = val;
		break;
	case REG_MCR:
		write_mcr(u, val);
		break;
	case REG_SCR:
		u->scr = val;
		break;
	default:
		/* LSR and MSR are read-only (factory test writes ignored). */
		break;
	}
}

static uint8_t read_iir(struct libvmx_uart *u)
{
	uint8_t src = pending_source(u);

	/* Reading IIR acknowledges THRE when it is what IIR reports. */
	if (src == IIR_THRI)
		u->thre_pending = false;
	return src | (fifo_on(u) ? IIR_FIFOS : 0);
}

static uint8_t read_lsr(struct libvmx_uart *u)
{
	uint8_t lsr = LSR_THRE | LSR_TEMT;

	if (u->count)
		lsr |= LSR_DR;
	if (u->overrun)
		lsr |= LSR_OE;
	u->overrun = false;
	return lsr;
}

static uint8_t read_msr(struct libvmx_uart *u)
{
	uint8_t msr = u->msr;

	u->msr &= ~MSR_DELTAS;
	return msr;
}

static uint8_t reg_read(struct libvmx_uart *u, unsigned int offset)
{
	bool dlab = u->lcr & LCR_DLAB;

	switch (offset) {
	case REG_RBR_THR:
		return dlab ? u->dll : fifo_pop(u);
	case REG_IER:
		return dlab ? u->dlm : u->ier;
	case REG_IIR_FCR:
		return read_iir(u);
	case REG_LCR:
		return u->lcr;
	case REG_MCR:
		return u->mcr;
	case REG_LSR:
		return read_lsr(u);
	case REG_MSR:
		return read_msr(u);
	case REG_SCR:
		return u->scr;
	}
	return 0xff;
}

void libvmx_uart_io(struct libvmx_uart *uart, unsigned int offset,
		    uint8_t *data, bool is_write)
{
	if (!uart || !data)
		return;
	if (offset >= LIBVMX_UART_NR_REGS) {
		if (!is_write)
			*data = 0xff;
		return;
	}
	if (is_write)
		reg_write(uart, offset, *data);
	else
		*data = reg_read(uart, offset);
	update_irq(uart);
}

size_t libvmx_uart_receive(struct libvmx_uart *uart, const uint8_t *buf,
			   size_t len)
{
	size_t n = 0;

	if (!uart || !buf || !len)
		return 0;
	while (n < len && fifo_push(uart, buf[n]))
		n++;
	update_irq(uart);
	return n;
}

size_t libvmx_uart_rx_space(const struct libvmx_uart *uart)
{
	return uart ? space_left(uart) : 0;
}
