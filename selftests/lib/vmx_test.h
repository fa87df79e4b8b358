/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Host side of the selftest framework: a VM whose vCPUs run a C function
 * of this very program in 64-bit mode.
 *
 * Guest memory layout (slot 0, guest physical == guest virtual):
 *   0x1000 GDT, 0x2000 TSS, 0x3000 IDT, 0x4000-0x6fff page tables
 *   (1 GiB identity map with 2 MiB pages), 0x100000-0x3fffff scratch
 *   for tests, the program image at its link address (non-PIE,
 *   0x400000 up), vCPU stacks at the top of RAM.
 */
#ifndef VMX_TEST_H
#define VMX_TEST_H

#include <stdint.h>
#include <vmx/libvmx.h>

#include "ucall.h"

#define TEST_MAX_VCPUS		16
#define TEST_RAM_SLOT		0
#define TEST_RAM_SIZE		(64ULL << 20)
#define TEST_GDT		0x1000
#define TEST_TSS		0x2000
#define TEST_IDT		0x3000
#define TEST_PML4		0x4000
#define TEST_PDPT		0x5000
#define TEST_PD			0x6000
#define TEST_SCRATCH		0x100000ULL
#define TEST_SCRATCH_SIZE	0x300000ULL
#define TEST_STACK_SIZE		0x10000ULL

#define TEST_SEL_CODE		0x08
#define TEST_SEL_DATA		0x10
#define TEST_SEL_TSS		0x18

struct test_vm {
	struct libvmx *vmx;
	struct libvmx_vm *vm;
	struct vmx_caps caps;
	int nr_vcpus;
	struct libvmx_vcpu *vcpus[TEST_MAX_VCPUS];
	uint8_t *ram;
};

/*
 * test_vm_create() - VM with @nr_vcpus vCPUs in 64-bit mode at
 * @guest_code (NULL: leave the vCPUs at their reset state).
 * Returns 0 or -errno.
 */
int test_vm_create(struct test_vm **out, int nr_vcpus, void (*guest_code)(void));
void test_vm_destroy(struct test_vm *t);

/* Put @vcpu into 64-bit mode at @guest_code with its own stack. */
int test_vcpu_long_mode(struct test_vm *t, struct libvmx_vcpu *vcpu,
			void (*guest_code)(void));

/*
 * test_run() - run @vcpu once.  If it stopped at a ucall, fill @uc and
 * return its command; otherwise return UCALL_NONE and leave the exit in
 * the run area.  A failed VMX_RUN returns UCALL_NONE with errno set.
 */
enum ucall_cmd test_run(struct libvmx_vcpu *vcpu, struct ucall *uc);

/* Human-readable form of an ABORT/UNEXPECTED ucall or a stray exit. */
const char *test_describe(struct libvmx_vcpu *vcpu, const struct ucall *uc);
const char *test_exit_name(uint32_t reason);

/* Copy a global of this program to/from its copy in guest memory. */
#define sync_global_to_guest(t, var)					\
	libvmx_write_gpa((t)->vm, (uint64_t)(uintptr_t)&(var), &(var), sizeof(var))
#define sync_global_from_guest(t, var)					\
	libvmx_read_gpa((t)->vm, (uint64_t)(uintptr_t)&(var), &(var), sizeof(var))

/*
 * test_hang_report_arm() - if this process still runs @seconds from now,
 * print where its threads are (state, wait channel, kernel stack) and
 * two vmxstat snapshots a second apart to stderr, so that a test the
 * harness later kills for its timeout leaves a diagnosis in the log.
 * Call it once per test process, before starting vCPU threads.
 */
void test_hang_report_arm(unsigned int seconds);

/* Backend the loaded module drives, 0 if it cannot be opened. */
unsigned int test_backend(void);

#endif /* VMX_TEST_H */
