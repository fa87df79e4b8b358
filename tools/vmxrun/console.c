// SPDX-License-Identifier: GPL-2.0
/*
 * vmxrun: the console.  Guest serial output goes to stdout; stdin feeds
 * the UART's receive FIFO from a thread of its own.  On a terminal, stdin
 * is switched to raw mode (restored at exit) and Ctrl-A x quits, Ctrl-A
 * Ctrl-A sends one Ctrl-A, as in QEMU.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "vmxrun.h"

#define CTRL_A	0x01

static struct termios saved_tio;

/* Output is unbuffered: a crashing guest's last words must reach the log. */
void console_putc(struct machine *m, uint8_t byte)
{
	ssize_t ret;

	do {
		ret = write(m->console_out, &byte, 1);
	} while (ret < 0 && errno == EINTR);
}

void console_restore(struct machine *m)
{
	if (m->console_raw)
		tcsetattr(m->console_in, TCSAFLUSH, &saved_tio);
	m->console_raw = false;
}

static void console_make_raw(struct machine *m)
{
	struct termios tio;

	if (!isatty(m->console_in) || tcgetattr(m->console_in, &saved_tio))
		return;
	tio = saved_tio;
	cfmakeraw(&tio);
	tio.c_oflag |= OPOST | ONLCR;	/* keep "\n" doing a newline for stderr */
	if (!tcsetattr(m->console_in, TCSAFLUSH, &tio))
		m->console_raw = true;
}

/* Ctrl-A handling; returns false when the byte is not for the guest. */
static bool console_filter(struct machine *m, uint8_t byte)
{
	if (!m->console_raw)
		return true;
	if (m->escape_seen) {
		m->escape_seen = false;
		if (byte == 'x') {
			machine_stop(m, EXIT_GUEST_OFF);
			return false;
		}
		return byte == CTRL_A;
	}
	if (byte == CTRL_A) {
		m->escape_seen = true;
		return false;
	}
	return true;
}

/* Feed one byte, waiting (unlocked) while the guest's FIFO is full. */
static void console_feed(struct machine *m, uint8_t byte)
{
	pthread_mutex_lock(&m->lock);
	while (!m->stopping && !libvmx_uart_rx_space(m->uart)) {
		pthread_mutex_unlock(&m->lock);
		usleep(1000);
		pthread_mutex_lock(&m->lock);
	}
	if (!m->stopping && console_filter(m, byte))
		libvmx_uart_receive(m->uart, &byte, 1);
	pthread_mutex_unlock(&m->lock);
}

static void *console_thread(void *arg)
{
	struct machine *m = arg;
	struct pollfd pfd = { .fd = m->console_in, .events = POLLIN };
	uint8_t buf[64];
	ssize_t n, i;

	for (;;) {
		if (poll(&pfd, 1, 200) < 0 && errno != EINTR)
			break;
		pthread_mutex_lock(&m->lock);
		if (m->stopping) {
			pthread_mutex_unlock(&m->lock);
			break;
		}
		pthread_mutex_unlock(&m->lock);
		if (!(pfd.revents & (POLLIN | POLLHUP)))
			continue;
		n = read(m->console_in, buf, sizeof(buf));
		if (n <= 0)
			break;		/* end of input: the guest keeps running */
		for (i = 0; i < n; i++)
			console_feed(m, buf[i]);
	}
	return NULL;
}

int console_start(struct machine *m)
{
	pthread_t thread;
	int ret;

	m->console_in = STDIN_FILENO;
	m->console_out = STDOUT_FILENO;
	console_make_raw(m);
	ret = pthread_create(&thread, NULL, console_thread, m);
	if (ret)
		return -ret;
	pthread_detach(thread);
	return 0;
}
