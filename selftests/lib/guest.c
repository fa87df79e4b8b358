// SPDX-License-Identifier: GPL-2.0
/*
 * Guest-side runtime of the selftest framework: ucall, assertions,
 * exception dispatch, and the string functions the compiler may emit
 * calls to (guest code cannot reach the host's libc).
 */
#include <stdarg.h>
#include <stddef.h>

#include "guest.h"

guest_handler_t guest_handlers[GUEST_NR_VECTORS];
int guest_is_amd;

void ucall(uint64_t cmd, int nargs, ...)
{
	struct ucall uc = { .cmd = cmd };
	va_list ap;
	int i;

	va_start(ap, nargs);
	for (i = 0; i < nargs && i < UCALL_MAX_ARGS; i++)
		uc.args[i] = va_arg(ap, uint64_t);
	va_end(ap);
	outl(UCALL_PORT, (uint32_t)(uintptr_t)&uc);
}

void __guest_assert_fail(const char *file, uint64_t line, const char *expr,
			 uint64_t a, uint64_t b)
{
	struct ucall uc = {
		.cmd = UCALL_ABORT, .file = file, .line = line, .expr = expr,
		.args = { a, b },
	};

	for (;;)
		outl(UCALL_PORT, (uint32_t)(uintptr_t)&uc);
}

volatile uint64_t guest_db_rip[GUEST_DB_MAX], guest_db_dr6[GUEST_DB_MAX];
volatile uint64_t guest_db_count;

uint64_t guest_db_record(uint64_t vector, uint64_t error, uint64_t rip)
{
	if (guest_db_count < GUEST_DB_MAX) {
		guest_db_rip[guest_db_count] = rip;
		guest_db_dr6[guest_db_count] = get_dr6();
	}
	guest_db_count++;
	set_dr6(0);
	return rip;
}

/* Called by the IDT stubs; returns the RIP to resume at. */
uint64_t guest_exception_dispatch(uint64_t vector, uint64_t error, uint64_t rip)
{
	if (vector < GUEST_NR_VECTORS && guest_handlers[vector])
		return guest_handlers[vector](vector, error, rip);
	for (;;)
		ucall(UCALL_UNEXPECTED, 3, vector, error, rip);
}

/* Where guest_code returns to: the test is over. */
void guest_return_stub(void)
{
	for (;;)
		GUEST_DONE();
}

/*
 * Guest-safe string functions.  The executable's own definitions win
 * over libc's, so they must also be correct for the host side.
 */
void *memset(void *s, int c, size_t n)
{
	unsigned char *p = s;

	while (n--)
		*p++ = c;
	return s;
}

void *memcpy(void *d, const void *s, size_t n)
{
	unsigned char *dp = d;
	const unsigned char *sp = s;

	while (n--)
		*dp++ = *sp++;
	return d;
}

void *memmove(void *d, const void *s, size_t n)
{
	unsigned char *dp = d;
	const unsigned char *sp = s;

	if (dp < sp) {
		while (n--)
			*dp++ = *sp++;
	} else {
		while (n--)
			dp[n] = sp[n];
	}
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}
