/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvmx_uart: an 8250/16550A serial port (one COM port, 8 registers) that
 * Linux's 8250 driver drives unmodified, as a state machine with no I/O of
 * its own.  The VMM forwards the guest's port accesses to libvmx_uart_io(),
 * host input to libvmx_uart_receive(), and gets the guest's output and the
 * interrupt line through the callbacks.
 *
 * The model:
 *  - Transmission is instant: a THR write calls ops->tx at once and THRE and
 *    TEMT in LSR are always set.  So the THRE interrupt (IER bit 1) becomes
 *    pending after every THR write and whenever IER bit 1 goes from 0 to 1;
 *    it is cleared by reading IIR while it is the reported source, or by a
 *    THR write (which makes it pending again at once).
 *  - The receive FIFO holds 16 bytes (1 with FIFOs off, FCR bit 0 clear).
 *    Host bytes that do not fit are not taken and count as an overrun for
 *    the guest (LSR OE, receiver line status interrupt), as when a
 *    character arrives at a full FIFO; a VMM that loses no input offers at
 *    most libvmx_uart_rx_space() bytes.
 *  - Interrupt sources, in the 16550's priority order: receiver line status
 *    (OE; IER bit 2), received data available (any byte in the FIFO; IER
 *    bit 0), THR empty (IER bit 1), modem status (a delta bit in MSR; IER
 *    bit 3).  The character timeout indication is never reported: data
 *    available is reported whenever the FIFO is not empty.
 *  - The interrupt line as the PC wires it: driven only while MCR bit 3
 *    (OUT2) is set and loopback (MCR bit 4) is off, since the port's OUT2
 *    pin gates the ISA IRQ and loopback forces the pin inactive.  Linux sets
 *    OUT2 when it opens the port.  IIR reports pending sources regardless.
 *  - Loopback (MCR bit 4): THR bytes go to the receive FIFO instead of
 *    ops->tx, and MSR's inputs follow MCR (CTS=RTS, DSR=DTR, RI=OUT1,
 *    DCD=OUT2).  Outside loopback DCD, DSR and CTS are asserted and RI is
 *    not, so a getty sees a connected line.  Host input is taken in both.
 *  - No parity, framing or break errors; the divisor latch and LCR are
 *    stored and read back but do not change anything.  Reset values: IER 0,
 *    IIR 0x01, LCR 0, MCR 0, LSR 0x60, MSR 0xb0, SCR 0, divisor 12 (9600
 *    baud).
 *
 * Every guest value is accepted; nothing the guest writes can crash the
 * model or make it call back without bound.
 *
 * Not thread-safe: the caller serialises all calls on one object (e.g. one
 * mutex around io and receive).  The callbacks run inside libvmx_uart_io()
 * and libvmx_uart_receive() with that serialisation held, so they must not
 * call back into the same object.
 */
#ifndef LIBVMX_UART_H
#define LIBVMX_UART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Register offsets from the port's base (0x3f8 for COM1). */
#define LIBVMX_UART_NR_REGS	8
/* Receive FIFO size with FIFOs enabled. */
#define LIBVMX_UART_FIFO_SIZE	16

struct libvmx_uart;

struct libvmx_uart_ops {
	/* The interrupt line: 1 asserted, 0 not; called on every change. */
	void (*irq)(void *opaque, int level);
	/* The guest sent @byte. */
	void (*tx)(void *opaque, uint8_t byte);
};

/*
 * Create a port in its reset state.  @ops is copied; either callback may be
 * NULL.  Returns 0, -EINVAL (@ops or @out NULL) or -ENOMEM.
 */
int libvmx_uart_create(const struct libvmx_uart_ops *ops, void *opaque,
		       struct libvmx_uart **out);
/* Free @uart; NULL is allowed. */
void libvmx_uart_destroy(struct libvmx_uart *uart);
/*
 * One byte access to register @offset (0-7) of the port.  Offsets above 7
 * are ignored (reads give 0xff, like an unconnected bus).
 */
void libvmx_uart_io(struct libvmx_uart *uart, unsigned int offset,
		    uint8_t *data, bool is_write);
/*
 * Host input for the guest: returns how many of @len bytes fit the receive
 * FIFO (16 bytes, or 1 with FIFOs off).  Refused bytes set OE (see above).
 */
size_t libvmx_uart_receive(struct libvmx_uart *uart, const uint8_t *buf,
			   size_t len);
/* Bytes of receive FIFO space left (the VMM's input thread waits while 0). */
size_t libvmx_uart_rx_space(const struct libvmx_uart *uart);

#ifdef __cplusplus
}
#endif

#endif /* LIBVMX_UART_H */
