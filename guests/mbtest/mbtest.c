// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mbtest: a multiboot v1 test kernel for vmxrun's boot path, its 16550
 * console, fw_cfg and the isa-debug-exit port.
 *
 * It prints, through the COM1 16550 at 0x3f8 by polling LSR.THRE,
 *
 *   mbtest: cpus=N ram=M mem_upper=K cmdline="..."
 *
 * (N: fw_cfg NB_CPUS; M: fw_cfg RAM_SIZE in MiB; K: the multiboot
 * mem_upper in KiB), then a PASS/FAIL line, and ends by writing one byte
 * to port 0xf4 (QEMU's isa-debug-exit: the VMM exits with (v << 1) | 1):
 * 0 when every check passed, else the OR of the failed checks' bits below.
 * An `exit=N` word on the command line (decimal, or hex with 0x) makes it
 * write N instead, to test the VMM's exit-status path.  A `wait` word
 * makes it print "mbtest: waiting for input" after the checks and then,
 * forever, "mbtest: got C" for each byte C the UART receives, to test
 * the VMM's console input (and its quit key).  An `smp` word makes it
 * start every other CPU SMP_ROUNDS times the way Linux does (INIT, SIPI,
 * SIPI, back to back, each CPU halted in between) and print
 * "mbtest: smp N of M starts" (check FAIL_SMP).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MB_BOOT_MAGIC	0x2badb002
#define MB_INFO_MEM	(1u << 0)
#define MB_INFO_CMDLINE	(1u << 2)

#define COM1		0x3f8
#define FW_CFG_SEL	0x510
#define FW_CFG_DATA	0x511
#define EXIT_PORT	0xf4

#define FW_CFG_SIGNATURE	0x00
#define FW_CFG_ID		0x01
#define FW_CFG_RAM_SIZE		0x03
#define FW_CFG_NB_CPUS		0x05

/* One bit per check, so the exit value names every failure. */
#define FAIL_MAGIC	0x02	/* EAX was not the multiboot magic */
#define FAIL_MEMINFO	0x04	/* no mem_lower/mem_upper in the info */
#define FAIL_SIGNATURE	0x08	/* fw_cfg signature not "QEMU" */
#define FAIL_CPUS	0x10	/* fw_cfg NB_CPUS is 0 */
#define FAIL_RAM	0x20	/* fw_cfg RAM_SIZE below 1 MiB */
#define FAIL_SMP	0x40	/* an AP did not start after INIT-SIPI-SIPI */

/* The local APIC (xAPIC mode, paging is off) and its ICR. */
#define LAPIC_BASE	0xfee00000u
#define LAPIC_ID	0x020
#define LAPIC_ICR_LO	0x300
#define LAPIC_ICR_HI	0x310
#define ICR_INIT	0x00004500u	/* INIT, assert, edge */
#define ICR_SIPI	0x00004600u	/* start-up, vector in bits 0-7 */

/* Where APs start: real-mode page AP_TRAMP_PAGE << 12. */
#define AP_TRAMP_PAGE	0x10
#define SMP_ROUNDS	20
/* Polls of the UART status (each an exit to the VMM) an AP may take. */
#define SMP_WAIT_POLLS	200000

#define CMDLINE_MAX	256

/* The part of the multiboot information this kernel reads. */
struct mb_info {
	uint32_t flags;
	uint32_t mem_lower;
	uint32_t mem_upper;
	uint32_t boot_device;
	uint32_t cmdline;
};

static inline void outb(uint16_t port, uint8_t v)
{
	asm volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outw(uint16_t port, uint16_t v)
{
	asm volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static void serial_init(void)
{
	outb(COM1 + 1, 0x00);	/* IER: polling only */
	outb(COM1 + 3, 0x80);	/* LCR: DLAB */
	outb(COM1 + 0, 0x01);	/* 115200 baud */
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03);	/* 8N1 */
	outb(COM1 + 2, 0x07);	/* FIFOs on and cleared */
	outb(COM1 + 4, 0x03);	/* DTR, RTS */
}

static void putc_serial(char c)
{
	/* Bounded: a missing UART must not hang the test. */
	for (unsigned int i = 0; i < 1000000; i++)
		if (inb(COM1 + 5) & 0x20)
			break;
	outb(COM1, c);
}

static void puts_serial(const char *s)
{
	for (; *s; s++) {
		if (*s == '\n')
			putc_serial('\r');
		putc_serial(*s);
	}
}

static void put_dec(uint32_t v)
{
	char buf[11];
	int i = sizeof(buf) - 1;

	buf[i] = 0;
	do {
		buf[--i] = '0' + v % 10;
		v /= 10;
	} while (v);
	puts_serial(&buf[i]);
}

static void put_hex(uint32_t v)
{
	static const char digits[] = "0123456789abcdef";

	puts_serial("0x");
	for (int shift = 28; shift >= 0; shift -= 4)
		putc_serial(digits[(v >> shift) & 0xf]);
}

static void fw_cfg_read(uint16_t key, void *buf, unsigned int len)
{
	uint8_t *p = buf;

	outw(FW_CFG_SEL, key);
	for (unsigned int i = 0; i < len; i++)
		p[i] = inb(FW_CFG_DATA);
}

static uint64_t fw_cfg_le(uint16_t key, unsigned int len)
{
	uint8_t b[8] = { 0 };
	uint64_t v = 0;

	fw_cfg_read(key, b, len);
	for (int i = len - 1; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

/* The command line, copied (at most CMDLINE_MAX - 1 bytes) and bounded. */
static void get_cmdline(const struct mb_info *mbi, char *out)
{
	const char *src;
	int i = 0;

	if (mbi && (mbi->flags & MB_INFO_CMDLINE) && mbi->cmdline) {
		src = (const char *)(uintptr_t)mbi->cmdline;
		for (; i < CMDLINE_MAX - 1 && src[i]; i++)
			out[i] = src[i];
	}
	out[i] = 0;
}

static void put_quoted(const char *s)
{
	putc_serial('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			putc_serial('\\');
		putc_serial(*s >= 0x20 && *s < 0x7f ? *s : '?');
	}
	putc_serial('"');
}

static int digit(char c, unsigned int base)
{
	int d;

	if (c >= '0' && c <= '9')
		d = c - '0';
	else if (c >= 'a' && c <= 'f')
		d = c - 'a' + 10;
	else if (c >= 'A' && c <= 'F')
		d = c - 'A' + 10;
	else
		return -1;
	return d < (int)base ? d : -1;
}

/* Find a word `exit=N`; true and *val if there is one with a number. */
static bool find_exit(const char *s, uint32_t *val)
{
	for (const char *p = s; *p; p++) {
		const char *q = p + 5;
		unsigned int base = 10;
		uint32_t v = 0;
		int d;

		if ((p != s && p[-1] != ' ') || p[0] != 'e' || p[1] != 'x' ||
		    p[2] != 'i' || p[3] != 't' || p[4] != '=')
			continue;
		if (q[0] == '0' && (q[1] == 'x' || q[1] == 'X')) {
			base = 16;
			q += 2;
		}
		if (digit(*q, base) < 0)
			continue;
		for (; (d = digit(*q, base)) >= 0; q++)
			v = v * base + d;
		*val = v;
		return true;
	}
	return false;
}

/* Is @word one of the space-separated words of @s? */
static bool has_word(const char *s, const char *word)
{
	size_t len = 0;

	while (word[len])
		len++;
	for (const char *p = s; *p; p++) {
		size_t i = 0;

		if (p != s && p[-1] != ' ')
			continue;
		while (i < len && p[i] == word[i])
			i++;
		if (i == len && (p[i] == ' ' || !p[i]))
			return true;
	}
	return false;
}

extern const uint8_t ap_tramp[], ap_tramp_end[], ap_tramp_count[];

static void lapic_write(uint32_t reg, uint32_t v)
{
	*(volatile uint32_t *)(uintptr_t)(LAPIC_BASE + reg) = v;
}

static uint32_t lapic_read(uint32_t reg)
{
	return *(volatile uint32_t *)(uintptr_t)(LAPIC_BASE + reg);
}

static void send_ipi(uint32_t apic_id, uint32_t icr)
{
	lapic_write(LAPIC_ICR_HI, apic_id << 24);
	lapic_write(LAPIC_ICR_LO, icr);
}

/*
 * Start @apic_id SMP_ROUNDS times; how many starts its trampoline
 * counted.  Each round waits (bounded) for the count to move: an AP that
 * missed its SIPI stays halted, so the rounds after it fail too.
 */
static uint32_t start_ap(uint32_t apic_id, volatile uint32_t *count)
{
	uint32_t round, started = 0;

	for (round = 1; round <= SMP_ROUNDS; round++) {
		send_ipi(apic_id, ICR_INIT);
		send_ipi(apic_id, ICR_SIPI | AP_TRAMP_PAGE);
		send_ipi(apic_id, ICR_SIPI | AP_TRAMP_PAGE);
		for (uint32_t i = 0; i < SMP_WAIT_POLLS && *count < round; i++)
			(void)inb(COM1 + 5);
		if (*count < round)
			break;
		started++;
	}
	return started;
}

/* The smp check: every CPU but this one, SMP_ROUNDS starts each. */
static uint32_t smp_check(uint32_t cpus)
{
	uint8_t *tramp = (uint8_t *)(uintptr_t)(AP_TRAMP_PAGE << 12);
	uint32_t self = lapic_read(LAPIC_ID) >> 24, id, started = 0;
	volatile uint32_t *count;

	for (uint32_t i = 0; i < (uint32_t)(ap_tramp_end - ap_tramp); i++)
		tramp[i] = ap_tramp[i];
	count = (volatile uint32_t *)(tramp + (ap_tramp_count - ap_tramp));
	for (id = 0; id < cpus; id++) {
		if (id == self)
			continue;
		*count = 0;
		started += start_ap(id, count);
	}
	puts_serial("mbtest: smp ");
	put_dec(started);
	puts_serial(" of ");
	put_dec((cpus - 1) * SMP_ROUNDS);
	puts_serial(" starts\n");
	return started == (cpus - 1) * SMP_ROUNDS ? 0 : FAIL_SMP;
}

/* Echo what the UART receives, polling LSR.DR; never returns. */
static void echo_input(void)
{
	puts_serial("mbtest: waiting for input\n");
	for (;;) {
		if (!(inb(COM1 + 5) & 0x01)) {
			__asm__ volatile("pause");
			continue;
		}
		puts_serial("mbtest: got ");
		putc_serial(inb(COM1));
		puts_serial("\n");
	}
}

void mbmain(uint32_t magic, const struct mb_info *mbi);

void mbmain(uint32_t magic, const struct mb_info *mbi)
{
	static char cmdline[CMDLINE_MAX];
	uint32_t fail = 0, mem_upper = 0, cpus, exit_val;
	uint64_t ram;
	char sig[5] = { 0 };

	serial_init();
	puts_serial("mbtest: start\n");

	if (magic != MB_BOOT_MAGIC) {
		fail |= FAIL_MAGIC;
		mbi = NULL;	/* EBX means nothing then */
	}
	if (mbi && (mbi->flags & MB_INFO_MEM))
		mem_upper = mbi->mem_upper;
	else
		fail |= FAIL_MEMINFO;
	get_cmdline(mbi, cmdline);

	fw_cfg_read(FW_CFG_SIGNATURE, sig, 4);
	if (sig[0] != 'Q' || sig[1] != 'E' || sig[2] != 'M' || sig[3] != 'U')
		fail |= FAIL_SIGNATURE;
	cpus = fw_cfg_le(FW_CFG_NB_CPUS, 2);
	if (!cpus)
		fail |= FAIL_CPUS;
	ram = fw_cfg_le(FW_CFG_RAM_SIZE, 8);
	if (ram < (1u << 20))
		fail |= FAIL_RAM;

	puts_serial("mbtest: cpus=");
	put_dec(cpus);
	puts_serial(" ram=");
	/* MiB by shifting: a 32-bit freestanding kernel has no __udivdi3. */
	put_dec(ram >> 20);
	puts_serial(" mem_upper=");
	put_dec(mem_upper);
	puts_serial(" cmdline=");
	put_quoted(cmdline);
	puts_serial("\n");

	if (has_word(cmdline, "smp"))
		fail |= smp_check(cpus);

	puts_serial("mbtest: signature=");
	put_quoted(sig);
	puts_serial(fail ? " FAIL checks=" : " PASS checks=");
	put_hex(fail);
	puts_serial("\n");

	if (has_word(cmdline, "wait"))
		echo_input();
	exit_val = fail;
	if (find_exit(cmdline, &exit_val))
		puts_serial("mbtest: exit= from the command line\n");
	puts_serial("mbtest: exit ");
	put_dec(exit_val);
	puts_serial("\n");
	outb(EXIT_PORT, exit_val);
}
