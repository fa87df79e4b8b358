// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The 16550A model: reset values, the divisor latch, loopback, the receive
 * FIFO and overruns, every IIR source and its priority, the THRE interrupt
 * semantics Linux's 8250 driver relies on, the OUT2-gated line, and random
 * register traffic.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmx/uart.h"
#include "kselftest_harness.h"

enum { RBR, IER, IIR, LCR, MCR, LSR, MSR, SCR };
#define FCR IIR
#define THR RBR

struct sink {
	int level;
	unsigned int edges;	/* ops->irq calls */
	bool bad_call;		/* ops->irq called without a change */
	uint8_t tx[256];
	unsigned int ntx;
};

static void sink_irq(void *opaque, int level)
{
	struct sink *s = opaque;

	if (level == s->level || (level != 0 && level != 1))
		s->bad_call = true;
	s->level = level;
	s->edges++;
}

static void sink_tx(void *opaque, uint8_t byte)
{
	struct sink *s = opaque;

	s->tx[s->ntx++ % sizeof(s->tx)] = byte;
}

static const struct libvmx_uart_ops sink_ops = {
	.irq = sink_irq,
	.tx = sink_tx,
};

static uint8_t rd(struct libvmx_uart *u, unsigned int off)
{
	uint8_t v = 0x5a;

	libvmx_uart_io(u, off, &v, false);
	return v;
}

static void wr(struct libvmx_uart *u, unsigned int off, uint8_t v)
{
	libvmx_uart_io(u, off, &v, true);
}

FIXTURE(uart) {
	struct libvmx_uart *u;
	struct sink s;
};

FIXTURE_SETUP(uart)
{
	memset(&self->s, 0, sizeof(self->s));
	ASSERT_EQ(0, libvmx_uart_create(&sink_ops, &self->s, &self->u));
}

FIXTURE_TEARDOWN(uart)
{
	EXPECT_FALSE(self->s.bad_call);
	libvmx_uart_destroy(self->u);
}

TEST(create_args)
{
	struct libvmx_uart *u = (void *)1;
	static const struct libvmx_uart_ops none;

	EXPECT_EQ(-EINVAL, libvmx_uart_create(NULL, NULL, &u));
	EXPECT_EQ(-EINVAL, libvmx_uart_create(&none, NULL, NULL));
	ASSERT_EQ(0, libvmx_uart_create(&none, NULL, &u));
	/* No callbacks at all still works. */
	wr(u, MCR, 0x08);
	wr(u, IER, 0x0f);
	wr(u, THR, 'x');
	EXPECT_EQ(1, libvmx_uart_receive(u, (const uint8_t *)"a", 1));
	libvmx_uart_destroy(u);
	libvmx_uart_destroy(NULL);
	EXPECT_EQ(0, libvmx_uart_rx_space(NULL));
	EXPECT_EQ(0, libvmx_uart_receive(NULL, (const uint8_t *)"a", 1));
	libvmx_uart_io(NULL, 0, NULL, false);
}

TEST_F(uart, reset_values)
{
	EXPECT_EQ(0x00, rd(self->u, IER));
	EXPECT_EQ(0x01, rd(self->u, IIR));
	EXPECT_EQ(0x00, rd(self->u, LCR));
	EXPECT_EQ(0x00, rd(self->u, MCR));
	EXPECT_EQ(0x60, rd(self->u, LSR));
	EXPECT_EQ(0xb0, rd(self->u, MSR));
	EXPECT_EQ(0x00, rd(self->u, SCR));
	EXPECT_EQ(0x00, rd(self->u, RBR));
	EXPECT_EQ(1, libvmx_uart_rx_space(self->u));
	EXPECT_EQ(0, self->s.edges);
	/* Out of range offsets read as a floating bus and change nothing. */
	EXPECT_EQ(0xff, rd(self->u, 8));
	wr(self->u, 1000, 0xff);
	EXPECT_EQ(0x00, rd(self->u, IER));
}

TEST_F(uart, scratch_and_ier_mask)
{
	wr(self->u, SCR, 0xa5);
	EXPECT_EQ(0xa5, rd(self->u, SCR));
	/* Linux probes IER bit 6 (XScale UUE): a 16550A keeps only 0-3. */
	wr(self->u, IER, 0xf0);
	EXPECT_EQ(0x00, rd(self->u, IER));
	wr(self->u, MCR, 0xff);
	EXPECT_EQ(0x1f, rd(self->u, MCR));
	/* LSR and MSR ignore writes. */
	wr(self->u, LSR, 0x00);
	EXPECT_EQ(0x60, rd(self->u, LSR));
}

TEST_F(uart, dlab)
{
	EXPECT_EQ(0, rd(self->u, SCR));
	wr(self->u, LCR, 0x83);
	EXPECT_EQ(12, rd(self->u, RBR));
	EXPECT_EQ(0, rd(self->u, IER));
	wr(self->u, RBR, 0x01);
	wr(self->u, IER, 0x02);
	EXPECT_EQ(0x01, rd(self->u, RBR));
	EXPECT_EQ(0x02, rd(self->u, IER));
	/* Neither went to THR/IER. */
	EXPECT_EQ(0, self->s.ntx);
	EXPECT_EQ(0x83, rd(self->u, LCR));
	wr(self->u, LCR, 0x03);
	EXPECT_EQ(0x00, rd(self->u, IER));
	EXPECT_EQ(0x03, rd(self->u, LCR));
	wr(self->u, THR, 'A');
	ASSERT_EQ(1, self->s.ntx);
	EXPECT_EQ('A', self->s.tx[0]);
	wr(self->u, LCR, 0x80);
	EXPECT_EQ(0x01, rd(self->u, RBR));
	EXPECT_EQ(0x02, rd(self->u, IER));
}

TEST_F(uart, transmit)
{
	const char *msg = "hello";

	for (const char *p = msg; *p; p++) {
		EXPECT_EQ(0x60, rd(self->u, LSR) & 0x60);
		wr(self->u, THR, *p);
	}
	ASSERT_EQ(5, self->s.ntx);
	EXPECT_EQ(0, memcmp(self->s.tx, msg, 5));
	EXPECT_EQ(0x60, rd(self->u, LSR));
}

TEST_F(uart, loopback)
{
	/* Linux's autoconfig check: MCR = LOOP|OUT2|RTS gives MSR 0x90. */
	wr(self->u, MCR, 0x1a);
	EXPECT_EQ(0x90, rd(self->u, MSR) & 0xf0);
	wr(self->u, MCR, 0x1f);
	EXPECT_EQ(0xf0, rd(self->u, MSR) & 0xf0);
	wr(self->u, MCR, 0x10);
	/* RI went 1 -> 0: TERI, and CTS, DSR, DCD all changed. */
	EXPECT_EQ(0x0f, rd(self->u, MSR));
	EXPECT_EQ(0x00, rd(self->u, MSR));
	/* Bytes loop to the receiver, not to the host. */
	wr(self->u, THR, 'Z');
	EXPECT_EQ(0, self->s.ntx);
	EXPECT_EQ(0x61, rd(self->u, LSR));
	EXPECT_EQ('Z', rd(self->u, RBR));
	EXPECT_EQ(0x60, rd(self->u, LSR));
	/* Non-FIFO mode: a second byte overruns and is lost. */
	wr(self->u, THR, '1');
	wr(self->u, THR, '2');
	EXPECT_EQ(0x63, rd(self->u, LSR));
	EXPECT_EQ(0x61, rd(self->u, LSR));
	EXPECT_EQ('1', rd(self->u, RBR));
	/* Leaving loopback: DCD, DSR, CTS come back asserted. */
	wr(self->u, MCR, 0x00);
	EXPECT_EQ(0xbb, rd(self->u, MSR));
	EXPECT_EQ(0xb0, rd(self->u, MSR));
	wr(self->u, THR, 'h');
	EXPECT_EQ(1, self->s.ntx);
}

TEST_F(uart, fifo)
{
	uint8_t buf[40];
	size_t i;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = 'a' + i;
	/* FIFOs off: one byte holds. */
	EXPECT_EQ(1, libvmx_uart_receive(self->u, buf, 3));
	EXPECT_EQ(0x63, rd(self->u, LSR));
	EXPECT_EQ(0, libvmx_uart_rx_space(self->u));
	EXPECT_EQ('a', rd(self->u, RBR));
	EXPECT_EQ(1, libvmx_uart_rx_space(self->u));

	/* Enable and clear: IIR shows the FIFO bits. */
	wr(self->u, FCR, 0x07);
	EXPECT_EQ(0xc1, rd(self->u, IIR));
	EXPECT_EQ(16, libvmx_uart_rx_space(self->u));
	EXPECT_EQ(10, libvmx_uart_receive(self->u, buf, 10));
	EXPECT_EQ(6, libvmx_uart_rx_space(self->u));
	EXPECT_EQ(0x61, rd(self->u, LSR));
	EXPECT_EQ(6, libvmx_uart_receive(self->u, buf + 10, 30));
	EXPECT_EQ(0, libvmx_uart_rx_space(self->u));
	EXPECT_EQ(0, libvmx_uart_receive(self->u, buf, 1));
	EXPECT_EQ(0x63, rd(self->u, LSR));
	EXPECT_EQ(0x61, rd(self->u, LSR));
	for (i = 0; i < 16; i++)
		EXPECT_EQ(buf[i], rd(self->u, RBR));
	EXPECT_EQ(0x60, rd(self->u, LSR));
	/* Reading an empty FIFO gives 0 and is harmless. */
	EXPECT_EQ(0, rd(self->u, RBR));
	EXPECT_EQ(16, libvmx_uart_rx_space(self->u));

	/* Wrap the ring around several times. */
	EXPECT_EQ(7, libvmx_uart_receive(self->u, buf, 7));
	for (i = 0; i < 100; i++) {
		uint8_t b = i;

		ASSERT_EQ(1, libvmx_uart_receive(self->u, &b, 1));
		ASSERT_EQ(i < 7 ? buf[i] : (uint8_t)(i - 7), rd(self->u, RBR));
	}
	EXPECT_EQ(9, libvmx_uart_rx_space(self->u));
	while (rd(self->u, LSR) & 1)
		rd(self->u, RBR);

	/* Clear RX empties it; a 0-length receive does nothing. */
	EXPECT_EQ(5, libvmx_uart_receive(self->u, buf, 5));
	wr(self->u, FCR, 0x03);
	EXPECT_EQ(0x60, rd(self->u, LSR));
	EXPECT_EQ(0, libvmx_uart_receive(self->u, buf, 0));
	/* Turning FIFOs off empties them too. */
	EXPECT_EQ(5, libvmx_uart_receive(self->u, buf, 5));
	wr(self->u, FCR, 0x00);
	EXPECT_EQ(0x01, rd(self->u, IIR));
	EXPECT_EQ(0x60, rd(self->u, LSR));
	EXPECT_EQ(1, libvmx_uart_rx_space(self->u));
}

TEST_F(uart, iir_sources_and_priority)
{
	uint8_t b = 'q';

	wr(self->u, FCR, 0x01);
	wr(self->u, MCR, 0x0b);	/* DTR RTS OUT2 */
	EXPECT_EQ(0xc1, rd(self->u, IIR));
	EXPECT_EQ(0, self->s.level);

	/* All four sources pending at once. */
	wr(self->u, IER, 0x0f);	/* THRE pending (0 -> 1) */
	EXPECT_EQ(1, self->s.level);
	for (int i = 0; i < 17; i++)
		libvmx_uart_receive(self->u, &b, 1);	/* 17th overruns */
	wr(self->u, MCR, 0x19);	/* loopback without RTS: CTS drops */
	wr(self->u, MCR, 0x0b);
	/* Line status first; reading LSR clears it. */
	EXPECT_EQ(0xc6, rd(self->u, IIR));
	EXPECT_EQ(0xc6, rd(self->u, IIR));
	EXPECT_EQ(0x63, rd(self->u, LSR));
	/* Then data available, until the FIFO is empty. */
	EXPECT_EQ(0xc4, rd(self->u, IIR));
	for (int i = 0; i < 15; i++)
		rd(self->u, RBR);
	EXPECT_EQ(0xc4, rd(self->u, IIR));
	rd(self->u, RBR);
	/* Then THRE, which the IIR read acknowledges. */
	EXPECT_EQ(1, self->s.level);
	EXPECT_EQ(0xc2, rd(self->u, IIR));
	/* Then modem status, until MSR is read. */
	EXPECT_EQ(0xc0, rd(self->u, IIR));
	EXPECT_EQ(0xc0, rd(self->u, IIR));
	EXPECT_EQ(1, self->s.level);
	EXPECT_NE(0, rd(self->u, MSR) & 0x0f);
	EXPECT_EQ(0xc1, rd(self->u, IIR));
	EXPECT_EQ(0, self->s.level);
}

TEST_F(uart, ier_masks_sources)
{
	uint8_t b = 'x';

	wr(self->u, MCR, 0x08);
	EXPECT_EQ(1, libvmx_uart_receive(self->u, &b, 1));
	EXPECT_EQ(0x01, rd(self->u, IIR));
	EXPECT_EQ(0, self->s.level);
	wr(self->u, IER, 0x01);
	EXPECT_EQ(0x04, rd(self->u, IIR));
	EXPECT_EQ(1, self->s.level);
	wr(self->u, IER, 0x00);
	EXPECT_EQ(0, self->s.level);
	EXPECT_EQ(0x01, rd(self->u, IIR));
	wr(self->u, IER, 0x01);
	EXPECT_EQ(1, self->s.level);
	EXPECT_EQ('x', rd(self->u, RBR));
	EXPECT_EQ(0, self->s.level);
	EXPECT_EQ(0x01, rd(self->u, IIR));

	/* Overrun without RLSI enabled: only LSR shows it. */
	libvmx_uart_receive(self->u, (const uint8_t *)"ab", 2);
	EXPECT_EQ(0x04, rd(self->u, IIR));
	wr(self->u, IER, 0x05);
	EXPECT_EQ(0x06, rd(self->u, IIR));
	EXPECT_EQ(0x63, rd(self->u, LSR));
	EXPECT_EQ(0x04, rd(self->u, IIR));
}

TEST_F(uart, thre_semantics)
{
	wr(self->u, MCR, 0x08);
	/* A THR write with THRI off: nothing reported. */
	wr(self->u, THR, 'a');
	EXPECT_EQ(0x01, rd(self->u, IIR));
	EXPECT_EQ(0, self->s.level);

	/* IER bit 1 0 -> 1 raises it. */
	wr(self->u, IER, 0x02);
	EXPECT_EQ(1, self->s.level);
	/* Reading IIR reports it and clears it. */
	EXPECT_EQ(0x02, rd(self->u, IIR));
	EXPECT_EQ(0, self->s.level);
	EXPECT_EQ(0x01, rd(self->u, IIR));
	/* Rewriting IER with bit 1 already set is not a 0 -> 1 edge. */
	wr(self->u, IER, 0x02);
	EXPECT_EQ(0x01, rd(self->u, IIR));
	EXPECT_EQ(0, self->s.level);

	/* A THR write makes it pending again. */
	wr(self->u, THR, 'b');
	EXPECT_EQ(1, self->s.level);
	/* Another THR write: still pending, no extra edge. */
	unsigned int edges = self->s.edges;

	wr(self->u, THR, 'c');
	EXPECT_EQ(edges, self->s.edges);
	EXPECT_EQ(0x02, rd(self->u, IIR));
	EXPECT_EQ(0, self->s.level);

	/* Off and on again: pending again (Linux's UART_BUG_THRE probe). */
	wr(self->u, IER, 0x00);
	wr(self->u, IER, 0x02);
	EXPECT_EQ(0x02, rd(self->u, IIR));
	wr(self->u, IER, 0x00);
	wr(self->u, IER, 0x02);
	EXPECT_EQ(0x02, rd(self->u, IIR));

	/* A THR write while masked leaves it latched, seen on unmask. */
	wr(self->u, IER, 0x00);
	wr(self->u, THR, 'd');
	EXPECT_EQ(0x01, rd(self->u, IIR));
	wr(self->u, IER, 0x02);
	EXPECT_EQ(0x02, rd(self->u, IIR));

	/* THRE is not cleared by an IIR read reporting something else. */
	wr(self->u, IER, 0x03);
	wr(self->u, THR, 'e');
	libvmx_uart_receive(self->u, (const uint8_t *)"z", 1);
	EXPECT_EQ(0x04, rd(self->u, IIR));
	EXPECT_EQ(0x04, rd(self->u, IIR));
	rd(self->u, RBR);
	EXPECT_EQ(0x02, rd(self->u, IIR));
	EXPECT_EQ(0x01, rd(self->u, IIR));
	EXPECT_EQ(5, self->s.ntx);
}

TEST_F(uart, out2_gates_the_line)
{
	uint8_t b = 'x';

	wr(self->u, IER, 0x01);
	libvmx_uart_receive(self->u, &b, 1);
	EXPECT_EQ(0x04, rd(self->u, IIR));
	EXPECT_EQ(0, self->s.level);
	EXPECT_EQ(0, self->s.edges);
	wr(self->u, MCR, 0x08);
	EXPECT_EQ(1, self->s.level);
	EXPECT_EQ(1, self->s.edges);
	/* Loopback takes the line off the bus. */
	wr(self->u, MCR, 0x18);
	EXPECT_EQ(0, self->s.level);
	wr(self->u, MCR, 0x08);
	EXPECT_EQ(1, self->s.level);
	wr(self->u, MCR, 0x03);
	EXPECT_EQ(0, self->s.level);
	EXPECT_EQ(4, self->s.edges);
	EXPECT_EQ(0x04, rd(self->u, IIR));
}

TEST_F(uart, irq_only_on_changes)
{
	uint8_t buf[16] = { 0 };

	wr(self->u, MCR, 0x08);
	wr(self->u, FCR, 0x01);
	wr(self->u, IER, 0x01);
	EXPECT_EQ(0, self->s.edges);
	for (int i = 0; i < 16; i++)
		libvmx_uart_receive(self->u, buf, 1);
	EXPECT_EQ(1, self->s.edges);
	for (int i = 0; i < 15; i++)
		rd(self->u, RBR);
	EXPECT_EQ(1, self->s.edges);
	rd(self->u, RBR);
	EXPECT_EQ(2, self->s.edges);
	EXPECT_EQ(0, self->s.level);
	for (int i = 0; i < 100; i++) {
		rd(self->u, LSR);
		rd(self->u, IIR);
		wr(self->u, SCR, i);
	}
	EXPECT_EQ(2, self->s.edges);
}

/* The probe sequence of Linux's 8250 autoconfig(), step by step. */
TEST_F(uart, linux_autoconfig)
{
	uint8_t b;
	int n;

	/* IER scratch test. */
	wr(self->u, IER, 0x00);
	EXPECT_EQ(0x00, rd(self->u, IER) & 0x0f);
	wr(self->u, IER, 0x0f);
	EXPECT_EQ(0x0f, rd(self->u, IER));
	wr(self->u, IER, 0x00);
	/* Loopback test. */
	wr(self->u, MCR, 0x1a);
	EXPECT_EQ(0x90, rd(self->u, MSR) & 0xf0);
	wr(self->u, MCR, 0x00);
	/* EFR at LCR 0xbf is FCR here; then FIFOs on: IIR bits 6-7 = 11. */
	wr(self->u, LCR, 0xbf);
	wr(self->u, 2, 0x00);
	wr(self->u, LCR, 0x00);
	wr(self->u, FCR, 0x01);
	EXPECT_EQ(3, rd(self->u, IIR) >> 6);
	/* autoconfig_16550a(): EFR reads (really IIR) are not 0. */
	wr(self->u, LCR, 0xbf);
	EXPECT_NE(0, rd(self->u, 2));
	wr(self->u, LCR, 0x80);
	EXPECT_NE(0, rd(self->u, 2));
	/* Not a National SuperIO: "EXCR1" (IIR) does not follow MCR.LOOP. */
	wr(self->u, LCR, 0x00);
	b = rd(self->u, MCR);
	wr(self->u, LCR, 0xe0);
	EXPECT_EQ(0, (rd(self->u, 2) ^ b) & 0x10);
	wr(self->u, LCR, 0x00);
	wr(self->u, MCR, b ^ 0x10);
	wr(self->u, LCR, 0xe0);
	EXPECT_EQ(0, (rd(self->u, 2) ^ b) & 0x10);
	wr(self->u, LCR, 0x00);
	wr(self->u, MCR, b);
	/* Not a 16750: no 64-byte FIFO bit. */
	wr(self->u, LCR, 0x80);
	wr(self->u, FCR, 0x21);
	EXPECT_EQ(0, rd(self->u, IIR) & 0x20);
	wr(self->u, LCR, 0x00);
	/* Not an XScale: IER bit 6 does not stick. */
	wr(self->u, IER, 0x40);
	EXPECT_EQ(0, rd(self->u, IER) & 0x40);
	wr(self->u, IER, 0x00);
	/* size_fifo(): in loopback 256 bytes leave 16 in the FIFO. */
	wr(self->u, MCR, 0x10);
	wr(self->u, FCR, 0x07);
	for (int i = 0; i < 256; i++)
		wr(self->u, THR, i);
	for (n = 0; (rd(self->u, LSR) & 0x01) && n < 256; n++)
		rd(self->u, RBR);
	EXPECT_EQ(16, n);
	EXPECT_EQ(0, self->s.ntx);
	wr(self->u, MCR, 0x00);
	EXPECT_EQ(0, self->s.edges);
}

/* serial8250_do_startup()'s THRE and TXEN probes must find no bug. */
TEST_F(uart, linux_startup_probes)
{
	uint8_t iir1, iir, lsr;

	/* UART_BUG_THRE: THRE must be reasserted on re-enabling. */
	wr(self->u, IER, 0x02);
	iir1 = rd(self->u, IIR);
	wr(self->u, IER, 0x00);
	wr(self->u, IER, 0x02);
	iir = rd(self->u, IIR);
	wr(self->u, IER, 0x00);
	EXPECT_EQ(0, iir1 & 0x01);
	EXPECT_EQ(0, iir & 0x01);
	/* UART_BUG_TXEN, with OUT2 now set: one pulse on the line. */
	wr(self->u, LCR, 0x03);
	wr(self->u, MCR, 0x0b);
	wr(self->u, IER, 0x02);
	EXPECT_EQ(1, self->s.level);
	lsr = rd(self->u, LSR);
	iir = rd(self->u, IIR);
	wr(self->u, IER, 0x00);
	EXPECT_EQ(0x40, lsr & 0x40);
	EXPECT_EQ(0x02, iir & 0x0f);
	EXPECT_EQ(0, self->s.level);
	EXPECT_EQ(2, self->s.edges);
}

/* A guest writing and reading anything, the host pushing at random. */
TEST_F(uart, hostile_random)
{
	unsigned int seed = 12345;

	for (int i = 0; i < 100000; i++) {
		unsigned int r = rand_r(&seed);
		uint8_t v = r >> 8, buf[32];

		switch (r % 5) {
		case 0:
		case 1:
			libvmx_uart_io(self->u, (r >> 16) % 10, &v, true);
			break;
		case 2:
		case 3:
			libvmx_uart_io(self->u, (r >> 16) % 10, &v, false);
			break;
		default:
			memset(buf, v, sizeof(buf));
			size_t space = libvmx_uart_rx_space(self->u);
			size_t n = libvmx_uart_receive(self->u, buf,
						       (r >> 16) % 33);

			ASSERT_LE(n, space);
			ASSERT_LE(libvmx_uart_rx_space(self->u), 16);
			break;
		}
		ASSERT_FALSE(self->s.bad_call);
		/* The line is off the bus without OUT2 or in loopback. */
		v = 0;
		libvmx_uart_io(self->u, 4, &v, false);
		if ((v & 0x18) != 0x08)
			ASSERT_EQ(0, self->s.level);
		/* A driven line always has a source IIR can name. */
		if (self->s.level && !(r & 0x300)) {
			libvmx_uart_io(self->u, 2, &v, false);
			ASSERT_EQ(0, v & 0x01);
			ASSERT_EQ(0, v & 0x08);
		}
		/* THRE and TEMT never drop; IIR bit 3 (timeout) never set. */
		v = 0;
		libvmx_uart_io(self->u, 5, &v, false);
		ASSERT_EQ(0x60, v & 0x60);
	}
}

TEST_HARNESS_MAIN
