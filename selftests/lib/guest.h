/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest side of the selftest framework: what C guest code may use.
 * Guest code runs in 64-bit mode, CPL 0, with guest virtual == guest
 * physical for the low 1 GiB; it must not call libc (it runs without
 * the host's libraries), only what is declared here.
 */
#ifndef VMX_GUEST_H
#define VMX_GUEST_H

#include <stdint.h>
#include "ucall.h"

void ucall(uint64_t cmd, int nargs, ...);
void __guest_assert_fail(const char *file, uint64_t line, const char *expr,
			 uint64_t a, uint64_t b);

#define GUEST_SYNC(stage)		ucall(UCALL_SYNC, 1, (uint64_t)(stage))
#define GUEST_SYNC2(stage, v)		ucall(UCALL_SYNC, 2, (uint64_t)(stage), (uint64_t)(v))
#define GUEST_SYNC3(stage, v, w)	\
	ucall(UCALL_SYNC, 3, (uint64_t)(stage), (uint64_t)(v), (uint64_t)(w))
#define GUEST_DONE()			ucall(UCALL_DONE, 0)

#define GUEST_ASSERT(e)							\
	do {								\
		if (!(e))						\
			__guest_assert_fail(__FILE__, __LINE__, #e, 0, 0);	\
	} while (0)

#define GUEST_ASSERT_EQ(a, b)						\
	do {								\
		uint64_t __a = (uint64_t)(a), __b = (uint64_t)(b);	\
		if (__a != __b)						\
			__guest_assert_fail(__FILE__, __LINE__,		\
					    #a " == " #b, __a, __b);	\
	} while (0)

/*
 * Exception and interrupt handlers the guest may install (vectors
 * 0-255): called with the vector, the error code (0 if none) and the
 * RIP the CPU pushed; return the RIP to resume at.  Vectors without a
 * handler end the test with UCALL_UNEXPECTED.
 */
#define GUEST_NR_VECTORS	256
typedef uint64_t (*guest_handler_t)(uint64_t vector, uint64_t error,
				    uint64_t rip);
extern guest_handler_t guest_handlers[GUEST_NR_VECTORS];

static inline void guest_cli(void)
{
	__asm__ volatile("cli" ::: "memory");
}

static inline void guest_sti(void)
{
	__asm__ volatile("sti" ::: "memory");
}

static inline void guest_pause(void)
{
	__asm__ volatile("pause" ::: "memory");
}

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint16_t inw(uint16_t port)
{
	uint16_t v;

	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void guest_cpuid(uint32_t leaf, uint32_t sub, uint32_t *a,
			       uint32_t *b, uint32_t *c, uint32_t *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d)
			 : "a"(leaf), "c"(sub));
}

static inline uint64_t guest_rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return lo | ((uint64_t)hi << 32);
}

static inline void guest_wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v),
			 "d"((uint32_t)(v >> 32)) : "memory");
}

static inline uint64_t guest_rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return lo | ((uint64_t)hi << 32);
}

static inline void guest_hlt(void)
{
	__asm__ volatile("hlt");
}

/* DR6 with no condition reported (reserved bits 1, RTM active low). */
#define DR6_FIXED		0xffff0ff0ULL
#define DR6_BS			(1ULL << 14)	/* single step */

static inline uint64_t get_dr6(void)
{
	uint64_t v;

	__asm__ volatile("mov %%dr6, %0" : "=r"(v));
	return v;
}

static inline void set_dr6(uint64_t v)
{
	__asm__ volatile("mov %0, %%dr6" : : "r"(v));
}

/*
 * Inline asm that sets RFLAGS.TF: the CPU traps after each instruction
 * from the one after this POPF on.
 */
#define GUEST_ASM_TF_ON		"pushf\n\torq $0x100, (%%rsp)\n\tpopf\n\t"

/*
 * A #DB handler for guest_handlers[1]: notes the RIP and DR6 of each
 * trap (the first GUEST_DB_MAX), counts them all and clears DR6 for the
 * next one.
 */
#define GUEST_DB_MAX		8
extern volatile uint64_t guest_db_rip[GUEST_DB_MAX], guest_db_dr6[GUEST_DB_MAX];
extern volatile uint64_t guest_db_count;
uint64_t guest_db_record(uint64_t vector, uint64_t error, uint64_t rip);

/* VMMCALL on AMD, VMCALL on Intel: the framework patches nothing, the
 * guest asks which one via guest_is_amd (set by the host). */
extern int guest_is_amd;

static inline uint64_t guest_hypercall(uint64_t nr, uint64_t a0, uint64_t a1)
{
	uint64_t ret;

	if (guest_is_amd)
		__asm__ volatile("vmmcall" : "=a"(ret) : "a"(nr), "b"(a0), "c"(a1) : "memory");
	else
		__asm__ volatile("vmcall" : "=a"(ret) : "a"(nr), "b"(a0), "c"(a1) : "memory");
	return ret;
}

#endif /* VMX_GUEST_H */
