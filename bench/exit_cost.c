// SPDX-License-Identifier: GPL-2.0
/*
 * exit_cost: what one guest exit costs, measured from the VMM.
 *
 * The guest executes N CPUIDs (handled inside the kernel: one VMX_RUN
 * covers all of them) and then N OUTs to a port nobody handles (each a
 * round trip to this program and back).  Time is CLOCK_MONOTONIC in the
 * machine this program runs on; under QEMU -icount shift=0 one
 * nanosecond is one instruction, so the figures read as instructions
 * per exit (guest loop and the OUT's user-space turn included).
 *
 *   exit_cost [N]     default N = 20000
 *
 * It prints one line per kind and the active speculation measures
 * (/sys/module/vmx/parameters/spec_active).  No pass/fail meaning: it
 * exits non-zero only if the VM itself misbehaves.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmx_test.h"
#include "guest.h"

#define BENCH_PORT	0x3f0

#define MSR_IA32_SPEC_CTRL	0x48
#define SPEC_CTRL_SSBD		(1ULL << 2)

static uint64_t iterations = 20000;
/* Non-zero: the guest sets this SPEC_CTRL first (host value differs). */
static uint64_t guest_spec_ctrl;

static void guest_bench(void)
{
	uint32_t a, b, c, d;
	uint64_t i;

	if (guest_spec_ctrl)
		guest_wrmsr(MSR_IA32_SPEC_CTRL, guest_spec_ctrl);
	GUEST_SYNC(1);
	for (i = 0; i < iterations; i++)
		guest_cpuid(0, 0, &a, &b, &c, &d);
	GUEST_SYNC(2);
	for (i = 0; i < iterations; i++)
		outb(BENCH_PORT, (uint8_t)i);
	GUEST_SYNC(3);
	/* The loops alone, to subtract. */
	for (i = 0; i < iterations; i++)
		__asm__ volatile("" ::: "memory");
	GUEST_SYNC(4);
	GUEST_DONE();
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Run until GUEST_SYNC(@stage); returns the OUT exits seen on the way. */
static long run_to_sync(struct libvmx_vcpu *vcpu, uint64_t stage)
{
	struct vmx_run *run = libvmx_vcpu_run_area(vcpu);
	struct ucall uc;
	long outs = 0;

	for (;;) {
		enum ucall_cmd cmd = test_run(vcpu, &uc);

		if (cmd == UCALL_SYNC && uc.args[0] == stage)
			return outs;
		if (cmd == UCALL_NONE && run->exit_reason == VMX_EXIT_IO &&
		    run->io.port == BENCH_PORT) {
			outs++;
			continue;
		}
		fprintf(stderr, "exit_cost: stage %llu: %s\n",
			(unsigned long long)stage, test_describe(vcpu, &uc));
		return -1;
	}
}

/* The active measures, "" if unknown. */
static void read_measures(char *buf, size_t len)
{
	FILE *f = fopen("/sys/module/vmx/parameters/spec_active", "r");

	buf[0] = 0;
	if (f) {
		if (!fgets(buf, len, f))
			buf[0] = 0;
		fclose(f);
	}
	buf[strcspn(buf, "\n")] = 0;
}

/* One VM, both loops; prints the results.  0 or 1 (VM misbehaved). */
static int measure(const char *label)
{
	uint64_t t0, t1, t2, t3, loop;
	struct libvmx_vcpu *vcpu;
	struct test_vm *t;
	struct ucall uc;
	long outs;
	int ret;

	ret = test_vm_create(&t, 1, guest_bench);
	if (ret) {
		fprintf(stderr, "exit_cost: VM: %s\n", strerror(-ret));
		return 1;
	}
	vcpu = t->vcpus[0];
	sync_global_to_guest(t, iterations);
	sync_global_to_guest(t, guest_spec_ctrl);
	if (run_to_sync(vcpu, 1))
		return 1;
	t0 = now_ns();
	if (run_to_sync(vcpu, 2))
		return 1;
	t1 = now_ns();
	outs = run_to_sync(vcpu, 3);
	t2 = now_ns();
	if (outs != (long)iterations) {
		fprintf(stderr, "exit_cost: %ld OUT exits, expected %llu\n",
			outs, (unsigned long long)iterations);
		return 1;
	}
	if (run_to_sync(vcpu, 4))
		return 1;
	t3 = now_ns();
	if (test_run(vcpu, &uc) != UCALL_DONE)
		return 1;
	test_vm_destroy(t);

	/* The empty loop's time includes one ucall round trip, as each stage. */
	loop = t3 - t2;
	printf("exit_cost:%s cpuid %llu exits: %.0f ns/exit (%.0f less the loop)\n",
	       label, (unsigned long long)iterations,
	       (double)(t1 - t0) / iterations,
	       (double)(t1 - t0 - loop) / iterations);
	printf("exit_cost:%s pio %llu round trips: %.0f ns/exit (%.0f less the loop)\n",
	       label, (unsigned long long)iterations,
	       (double)(t2 - t1) / iterations,
	       (double)(t2 - t1 - loop) / iterations);
	printf("exit_cost:%s empty loop: %.1f ns/iteration\n", label,
	       (double)loop / iterations);
	return 0;
}

int main(int argc, char **argv)
{
	char measures[512];

	if (argc > 1)
		iterations = strtoull(argv[1], NULL, 0);
	if (!iterations) {
		fprintf(stderr, "usage: exit_cost [N > 0]\n");
		return 2;
	}
	read_measures(measures, sizeof(measures));
	printf("exit_cost: measures: %s\n", measures[0] ? measures : "(unknown)");
	if (measure(""))
		return 1;
	/* Guest SPEC_CTRL unlike the host's: the MSR is written twice per exit. */
	if (strstr(measures, "spec-ctrl")) {
		guest_spec_ctrl = SPEC_CTRL_SSBD;
		if (measure(" [guest SPEC_CTRL=SSBD]"))
			return 1;
	}
	return 0;
}
