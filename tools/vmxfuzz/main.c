// SPDX-License-Identifier: GPL-2.0
/*
 * vmxfuzz: options, worker threads, the time bound, and the TAP report.
 *
 *   vmxfuzz [--seed N] [--time SECONDS] [--threads N] [--verbose]
 *
 * Runs for --time seconds of CLOCK_MONOTONIC, then stops every thread
 * (each vCPU run is bounded by a timer signal, so this takes
 * milliseconds) and prints three TAP results: the ABI checks, the time
 * bound (no thread stuck in the kernel), and that the fuzzer did run
 * guests.  The seed is printed first; the same seed makes the same
 * choices in every thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "fuzz.h"

#define FZ_STOP_MARGIN_S	20

struct fz_global fz;

uint64_t fz_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static const char *const fz_class_names[FZC_NR] = {
	"slot", "mem", "cpuid", "poke", "fork", "close", "regs", "sregs", "fpu",
	"msrs", "events", "flip", "probe", "real", "prot32", "long", "user64",
	"raw",
};

static void fz_usage(void)
{
	unsigned int i;

	fprintf(stderr, "usage: vmxfuzz [--seed N] [--time SECONDS] [--threads N] [--verbose]\n"
		"               [--disable CLASS,...] [--replay MODE:HEXBYTES]\nclasses:");
	for (i = 0; i < FZC_NR; i++)
		fprintf(stderr, " %s", fz_class_names[i]);
	fprintf(stderr, "\n");
	exit(2);
}

/* --replay MODE:HEX, MODE as in the dumps (0 real ... 4 raw). */
static void fz_parse_replay(const char *arg)
{
	const char *hex = strchr(arg, ':');
	unsigned int b;

	if (!hex)
		fz_usage();
	fz.opts.replay_mode = atoi(arg);
	if (fz.opts.replay_mode < 0 || fz.opts.replay_mode >= FZ_NR_MODES)
		fz_usage();
	for (hex++; hex[0] && hex[1] && fz.opts.replay_len < sizeof(fz.opts.replay);
	     hex += 2) {
		if (sscanf(hex, "%2x", &b) != 1)
			fz_usage();
		fz.opts.replay[fz.opts.replay_len++] = b;
	}
}

static void fz_parse_disable(char *list)
{
	char *name;
	unsigned int i;

	for (name = strtok(list, ","); name; name = strtok(NULL, ",")) {
		for (i = 0; i < FZC_NR; i++)
			if (!strcmp(name, fz_class_names[i]))
				break;
		if (i == FZC_NR)
			fz_usage();
		fz.opts.disabled |= 1U << i;
	}
}

static void fz_parse(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "time", required_argument, NULL, 't' },
		{ "threads", required_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "disable", required_argument, NULL, 'd' },
		{ "replay", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	fz.opts.seed = fz_now_ns() % 1000000007ULL;
	fz.opts.time_s = 10;
	fz.opts.threads = 3;
	while ((c = getopt_long(argc, argv, "s:t:j:vd:r:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			fz.opts.seed = strtoull(optarg, NULL, 0);
			break;
		case 't':
			fz.opts.time_s = strtoul(optarg, NULL, 0);
			break;
		case 'j':
			fz.opts.threads = strtoul(optarg, NULL, 0);
			break;
		case 'v':
			fz.opts.verbose = true;
			break;
		case 'd':
			fz_parse_disable(optarg);
			break;
		case 'r':
			fz_parse_replay(optarg);
			break;
		default:
			fz_usage();
		}
	}
	if (optind != argc || !fz.opts.threads || fz.opts.threads > 64)
		fz_usage();
}

static int fz_setup(void)
{
	size_t sz = sizeof(struct vmx_cpuid) +
		    VMX_MAX_CPUID_ENTRIES * sizeof(struct vmx_cpuid_entry);

	fz.dev_fd = open("/dev/vmx", O_RDWR | O_CLOEXEC);
	if (fz.dev_fd < 0) {
		printf("not ok 1 vmxfuzz cannot open /dev/vmx: %s\n", strerror(errno));
		return -1;
	}
	fz.default_cpuid = calloc(1, sz);
	if (!fz.default_cpuid)
		return -1;
	fz.default_cpuid->nent = VMX_MAX_CPUID_ENTRIES;
	if (ioctl(fz.dev_fd, VMX_GET_CAPS, &fz.caps) ||
	    ioctl(fz.dev_fd, VMX_GET_DEFAULT_CPUID, fz.default_cpuid)) {
		printf("not ok 1 vmxfuzz GET_CAPS/GET_DEFAULT_CPUID: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/* Join the workers by @deadline; false if one is still in the kernel. */
static bool fz_join(pthread_t *th, unsigned int n, uint64_t deadline)
{
	unsigned int i;
	bool ok = true;

	for (i = 0; i < n; i++) {
		struct timespec ts;
		uint64_t rt;

		clock_gettime(CLOCK_REALTIME, &ts);
		rt = (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
		if (deadline > fz_now_ns())
			rt += deadline - fz_now_ns();
		ts.tv_sec = rt / 1000000000ULL;
		ts.tv_nsec = rt % 1000000000ULL;
		if (pthread_timedjoin_np(th[i], NULL, &ts)) {
			printf("# worker %u did not stop within %u s of the end\n", i,
			       FZ_STOP_MARGIN_S);
			ok = false;
		}
	}
	return ok;
}

static unsigned long fz_get(enum fz_counter c)
{
	return atomic_load(&fz.count[c]);
}

static int fz_report(bool stopped, uint64_t elapsed_ns)
{
	static const char *const names[] = {
		"none", "io", "mmio", "hlt", "shutdown", "hypercall", "fail_entry",
		"internal", "intr", "irq_window", "msr",
	};
	double secs = elapsed_ns / 1e9;
	unsigned long calls = fz_get(FZ_CALLS), bad = fz_get(FZ_MISMATCH);
	bool ran = fz_get(FZ_SCENARIOS) && fz_get(FZ_RUNS);
	unsigned int i;

	printf("%s 1 vmxfuzz abi seed=%llu calls=%lu mismatches=%lu\n",
	       bad ? "not ok" : "ok", (unsigned long long)fz.opts.seed, calls, bad);
	printf("%s 2 vmxfuzz bounded seed=%llu elapsed=%.1fs limit=%us\n",
	       stopped && !fz_get(FZ_HANGS) ? "ok" : "not ok",
	       (unsigned long long)fz.opts.seed, secs, fz.opts.time_s);
	printf("%s 3 vmxfuzz guests seed=%llu vms=%lu vcpus=%lu runs=%lu forks=%lu\n",
	       ran ? "ok" : "not ok", (unsigned long long)fz.opts.seed,
	       fz_get(FZ_SCENARIOS), fz_get(FZ_VCPUS), fz_get(FZ_RUNS),
	       fz_get(FZ_FORKS));
	printf("# calls/s=%.0f runs/s=%.0f eintr=%lu efault=%lu ebusy=%lu slotops=%lu memops=%lu\n",
	       calls / secs, fz_get(FZ_RUNS) / secs, fz_get(FZ_EINTR),
	       fz_get(FZ_EFAULT), fz_get(FZ_EBUSY), fz_get(FZ_SLOTOPS),
	       fz_get(FZ_MEMOPS));
	printf("# exits:");
	for (i = 1; i < ARRAY_SIZE(names); i++)
		printf(" %s=%lu", names[i], atomic_load(&fz.exits[i]));
	printf(" other=%lu\n", atomic_load(&fz.exits[15]));
	return bad || !stopped || !ran ? 1 : 0;
}

/* Every 5 s: how far we are, and what each worker is doing. */
static void fz_progress(uint64_t start)
{
	static uint64_t next = 5;
	uint64_t t = (fz_now_ns() - start) / 1000000000ULL;
	unsigned int i;

	if (t < next)
		return;
	next = t + 5;
	printf("# t=%llus calls=%lu runs=%lu vms=%lu mismatches=%lu workers:",
	       (unsigned long long)t, fz_get(FZ_CALLS), fz_get(FZ_RUNS),
	       fz_get(FZ_SCENARIOS), fz_get(FZ_MISMATCH));
	for (i = 0; i < fz.opts.threads; i++)
		printf(" %s", fz.worker_op[i] ?: "-");
	printf("\n");
}

int main(int argc, char **argv)
{
	pthread_t th[64];
	uint64_t start, end;
	unsigned int i, n = 0;
	bool stopped;
	int ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	fz_parse(argc, argv);
	printf("TAP version 13\n1..3\n");
	printf("# vmxfuzz: seed=%llu time=%us threads=%u disabled=0x%x\n",
	       (unsigned long long)fz.opts.seed, fz.opts.time_s, fz.opts.threads,
	       fz.opts.disabled);
	fz_signals_init();
	if (fz_setup())
		return 1;
	start = fz_now_ns();
	end = start + fz.opts.time_s * 1000000000ULL;
	for (i = 0; i < fz.opts.threads; i++)
		if (!pthread_create(&th[n], NULL, fz_worker, (void *)(uintptr_t)i))
			n++;
	while (fz_now_ns() < end && !fz_get(FZ_HANGS)) {
		usleep(50000);
		fz_progress(start);
	}
	atomic_store(&fz.stop, true);
	stopped = fz_join(th, n, fz_now_ns() + FZ_STOP_MARGIN_S * 1000000000ULL);
	ret = fz_report(stopped, fz_now_ns() - start);
	if (!stopped || fz_get(FZ_HANGS))
		_exit(1);	/* threads stuck in the kernel cannot be joined */
	fz_close_pool_drain(&(struct fz_rng){ 0 }, true);
	close(fz.dev_fd);
	free(fz.default_cpuid);
	return ret;
}
