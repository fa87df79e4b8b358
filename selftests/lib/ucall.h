/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ucall: how guest code talks to its test.  The guest fills a struct
 * ucall on its stack and writes its address to UCALL_PORT; the host reads
 * it from guest memory (guest virtual == guest physical in the test
 * layout) and answers by running the vCPU again.
 */
#ifndef VMX_UCALL_H
#define VMX_UCALL_H

#include <stdint.h>

#define UCALL_PORT	0xe7

enum ucall_cmd {
	UCALL_NONE,
	UCALL_SYNC,		/* args[0]: stage, args[1..]: values */
	UCALL_DONE,
	UCALL_ABORT,		/* a GUEST_ASSERT failed */
	UCALL_UNEXPECTED,	/* args[0]: vector, [1]: error code, [2]: RIP */
};

#define UCALL_MAX_ARGS	6

struct ucall {
	uint64_t cmd;
	uint64_t args[UCALL_MAX_ARGS];
	const char *file;	/* same address in guest and host image */
	uint64_t line;
	const char *expr;
};

#endif /* VMX_UCALL_H */
