// SPDX-License-Identifier: GPL-2.0
/*
 * hvbench: the same workloads on vmx.ko and on KVM, for a fair table.
 *
 *   hvbench vmx|kvm [-n exits] [-m touch-MiB] [-k vms] [-s word,...]
 *
 * -s skips the figures whose names contain one of the words.  -p adds
 * the profile: vmx's MMIO exit without libvmx's assist, and one
 * first-touch fault through ftrace's function_graph (depth 3).
 *
 * Every workload is written once, here and in guest.S, and runs through
 * struct hv_ops (hv_vmx.c, hv_kvm.c).  Time is CLOCK_MONOTONIC in the
 * machine this program runs in: under QEMU -icount shift=0 one ns is one
 * executed instruction of that machine, under Bochs a fixed number of
 * instructions, so the figures are guest time, not host wall time.  The
 * exit workloads subtract the guest's empty loop of the same length.
 *
 * Output, one line per figure: "hvbench: SIDE NAME VALUE UNIT".  It exits
 * non-zero if a VM misbehaves (wrong exit, wrong count of exits).
 */
#include <cpuid.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <time.h>
#include <unistd.h>

#include <Zydis/Zydis.h>
#include <linux/vmx.h>

#include "hv.h"

extern const uint8_t guest_blob[], guest_blob_end[];

static const struct hv_ops *hv;
static uint32_t iters = 2000;
static uint64_t touch_size = 64ULL << 20;
static unsigned int nr_vms = 8;
/* -s: skip the figures whose names contain one of these words. */
static const char *skip_list = "";
/* -p: where vmx's MMIO round trip and a first-touch fault spend time. */
static bool profile;
/* Slot 0 of every VM: GDT and code, populated once and shared. */
static uint8_t *low;

struct box {
	struct hv_vm *vm;
	struct hv_vcpu *vcpu;
};

#define MEM_VCPUS_EXTRA	3
#define DUMMY_GPA	0x100000000ULL

static uint64_t now(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static bool skipped(const char *name)
{
	char word[64];
	const char *p = skip_list;
	int n;

	while (sscanf(p, " %63[^,]%n", word, &n) == 1) {
		if (strstr(name, word))
			return true;
		p += n;
		if (*p == ',')
			p++;
	}
	return false;
}

static void report(const char *name, double value, const char *unit)
{
	printf("hvbench: %s %s %.1f %s\n", hv->name, name, value, unit);
	fflush(stdout);
}

static void info(const char *what, const char *value)
{
	printf("hvbench: %s info %s=%s\n", hv->name, what, value);
}

static int fail(const char *what, int err)
{
	fprintf(stderr, "hvbench: %s: %s: %s\n", hv->name, what, strerror(-err));
	return -1;
}

/* A VM whose slot 0 is @size bytes of @mem (GDT and code in place). */
static int box_create_on(struct box *b, void *mem, uint64_t size)
{
	int ret;

	b->vm = NULL;
	b->vcpu = NULL;
	ret = hv->vm_create(&b->vm);
	if (ret)
		return fail("VM", ret);
	ret = hv->map(b->vm, 0, 0, size, mem, false);
	if (ret)
		return fail("slot 0", ret);
	ret = hv->vcpu_create(b->vm, 0, &b->vcpu);
	return ret ? fail("vCPU", ret) : 0;
}

static int box_create(struct box *b)
{
	return box_create_on(b, low, LOW_SIZE);
}

/* Also for a box that box_create() left half made. */
static void box_destroy(struct box *b)
{
	if (b->vcpu)
		hv->vcpu_destroy(b->vcpu);
	if (b->vm)
		hv->vm_destroy(b->vm);
}

/* Guest time of one run of @work over @count; -1 on a failure. */
static int64_t run_work(struct hv_vcpu *vcpu, enum guest_work work,
			uint32_t count, struct hv_exits *exits)
{
	uint64_t t0;
	int ret;

	memset(exits, 0, sizeof(*exits));
	ret = hv->vcpu_start(vcpu, work, count);
	if (ret)
		return fail("start", ret);
	t0 = now(CLOCK_MONOTONIC);
	ret = hv->vcpu_run(vcpu, exits);
	if (ret)
		return fail("run", ret);
	return now(CLOCK_MONOTONIC) - t0;
}

/* *@v: guest time per iteration of @work beyond the empty loop. */
static int per_iteration(struct hv_vcpu *vcpu, enum guest_work work,
			 uint32_t count, struct hv_exits *exits, double *v)
{
	struct hv_exits none;
	int64_t empty, t;

	empty = run_work(vcpu, W_EMPTY, count, &none);
	t = run_work(vcpu, work, count, exits);
	if (empty < 0 || t < 0)
		return -1;
	*v = (double)(t - empty) / count;
	return 0;
}

static bool is_amd(void)
{
	unsigned int a, b, c, d;

	__cpuid(0, a, b, c, d);
	return b == 0x68747541;		/* "Auth" */
}

/* One exit workload; @count_offset: the hv_exits counter it must raise N times. */
static int bench_exit(const char *name, enum guest_work work,
		      size_t count_offset)
{
	struct hv_exits exits;
	struct box b;
	double v;
	uint64_t seen;
	int ret = -1;

	if (skipped(name))
		return 0;
	if (box_create(&b))
		goto out;
	/* Warm up: code page mapped, KVM's MMIO page marked. */
	if (per_iteration(b.vcpu, work, 16, &exits, &v) ||
	    per_iteration(b.vcpu, work, iters, &exits, &v))
		goto out;
	seen = count_offset == SIZE_MAX ? 0 :
	       *(uint64_t *)((char *)&exits + count_offset);
	if (count_offset != SIZE_MAX && seen != iters) {
		fprintf(stderr, "hvbench: %s %s: %llu exits, expected %u\n",
			hv->name, name, (unsigned long long)seen, iters);
		goto out;
	}
	report(name, v, work == W_IRQ ? "ns/irq" : "ns/exit");
	ret = 0;
out:
	box_destroy(&b);
	return ret;
}

static int bench_exits(void)
{
	bool hc = hv->hypercall_exits();
	int ret = 0;

	ret |= bench_exit("cpuid", W_CPUID, SIZE_MAX);
	ret |= bench_exit(hc ? "hypercall_user" : "hypercall_kernel",
			  is_amd() ? W_VMMCALL : W_VMCALL,
			  hc ? offsetof(struct hv_exits, hypercall) : SIZE_MAX);
	ret |= bench_exit("pio_out_user", W_PIO, offsetof(struct hv_exits, pio));
	ret |= bench_exit("mmio_write_user", W_MMIO,
			  offsetof(struct hv_exits, mmio));
	ret |= bench_exit("hlt_user", W_HLT, offsetof(struct hv_exits, hlt));
	ret |= bench_exit("irq_inject_user", W_IRQ, offsetof(struct hv_exits, irq));
	return ret;
}

/* Anonymous memory, 4 KiB pages only so both sides fault per page. */
static void *anon(uint64_t size, bool populate)
{
	uint8_t *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uint64_t i;

	if (p == MAP_FAILED)
		return NULL;
	madvise(p, size, MADV_NOHUGEPAGE);
	for (i = 0; populate && i < size; i += 4096)
		p[i] = 0;
	return p;
}

/* @extra one-page slots beside slots 0 and 1, never touched. */
static int add_dummy_slots(struct box *b, unsigned int extra, void *dummy)
{
	unsigned int i;
	int ret;

	for (i = 0; i < extra; i++) {
		ret = hv->map(b->vm, 2 + i, DUMMY_GPA + i * 0x2000ULL, 4096,
			      (uint8_t *)dummy + i * 4096ULL, false);
		if (ret)
			return fail("dummy slot", ret);
	}
	return 0;
}

/*
 * One slot: slot 0 reaches from 0 to the end of the touched range, with
 * GDT and code copied to its start (populated; the range is not).
 */
static void *one_slot_memory(void)
{
	uint8_t *m = anon(TOUCH_GPA + touch_size, false);

	if (m)
		memcpy(m, low, LOW_SIZE);
	return m;
}

/* The slots of a touch run: @slots in all, the range in the last real one. */
static int touch_slots(struct box *b, unsigned int slots, void *mem,
		       void *dummy)
{
	int ret;

	if (slots == 1)
		return box_create_on(b, mem, TOUCH_GPA + touch_size);
	if (box_create(b))
		return -1;
	ret = hv->map(b->vm, 1, TOUCH_GPA, touch_size, mem, false);
	if (ret)
		return fail("slot 1", ret);
	return add_dummy_slots(b, slots - 2, dummy);
}

/* First touch of every page of the range from TOUCH_GPA, per page. */
static int bench_touch(const char *name, bool populate, unsigned int slots)
{
	uint32_t pages = touch_size / 4096;
	unsigned int extra = slots > 2 ? slots - 2 : 0;
	uint64_t mem_size = slots == 1 ? TOUCH_GPA + touch_size : touch_size;
	void *mem = slots == 1 ? one_slot_memory() : anon(touch_size, populate);
	void *dummy = anon(extra * 4096ULL + 4096, false);
	struct hv_exits exits;
	struct box b = { 0 };
	double v;
	int ret = -1;

	if (skipped(name)) {
		munmap(mem, mem_size);
		munmap(dummy, extra * 4096ULL + 4096);
		return 0;
	}
	if (!mem || !dummy)
		return fail("mmap", -ENOMEM);
	if (touch_slots(&b, slots, mem, dummy))
		goto out;
	if (run_work(b.vcpu, W_EMPTY, 16, &exits) < 0)
		goto out;
	if (per_iteration(b.vcpu, W_TOUCH, pages, &exits, &v))
		goto out;
	report(name, v, "ns/page");
	ret = 0;
out:
	box_destroy(&b);
	munmap(mem, mem_size);
	munmap(dummy, extra * 4096ULL + 4096);
	return ret;
}

static unsigned int popcount(const uint64_t *bitmap, uint32_t pages)
{
	unsigned int n = 0, i;

	for (i = 0; i < pages / 64; i++)
		n += __builtin_popcountll(bitmap[i]);
	return n;
}

/* Touch all of a dirty-logged slot, harvest, touch again, harvest. */
static int bench_dirty(void)
{
	uint32_t pages = touch_size / 4096;
	void *mem = anon(touch_size, true);
	uint64_t *bitmap = calloc(pages / 64 + 1, 8);
	struct hv_exits exits;
	struct box b;
	uint64_t t0, t;
	double retouch;
	int ret = -1;

	if (skipped("dirty")) {
		munmap(mem, touch_size);
		free(bitmap);
		return 0;
	}
	if (!mem || !bitmap)
		return fail("memory", -ENOMEM);
	if (box_create(&b))
		goto out;
	if (hv->map(b.vm, 1, TOUCH_GPA, touch_size, mem, true))
		goto out;
	if (run_work(b.vcpu, W_TOUCH, pages, &exits) < 0 ||
	    hv->dirty_log(b.vm, 1, bitmap))
		goto out;
	if (per_iteration(b.vcpu, W_TOUCH, pages, &exits, &retouch))
		goto out;
	memset(bitmap, 0, pages / 8);
	t0 = now(CLOCK_MONOTONIC);
	if (hv->dirty_log(b.vm, 1, bitmap))
		goto out;
	t = now(CLOCK_MONOTONIC) - t0;
	if (popcount(bitmap, pages) != pages) {
		fprintf(stderr, "hvbench: %s: %u of %u pages dirty\n", hv->name,
			popcount(bitmap, pages), pages);
		goto out;
	}
	report("dirty_write_fault", retouch, "ns/page");
	report("dirty_harvest_64MiB", t / 1000.0, "us");
	ret = 0;
out:
	box_destroy(&b);
	munmap(mem, touch_size);
	free(bitmap);
	return ret;
}

/* Create, map, vCPU, first run, destroy: wall and CPU time. */
static int bench_lifecycle(void)
{
	uint64_t w0 = 0, c0 = 0;
	struct hv_exits exits;
	unsigned int i;
	struct box b;

	if (skipped("vm_lifecycle"))
		return 0;
	for (i = 0; i <= nr_vms; i++) {
		/* The first one warms up and is not counted. */
		if (i == 1) {
			w0 = now(CLOCK_MONOTONIC);
			c0 = now(CLOCK_PROCESS_CPUTIME_ID);
		}
		if (box_create(&b) || run_work(b.vcpu, W_EMPTY, 1, &exits) < 0) {
			box_destroy(&b);
			return -1;
		}
		box_destroy(&b);
	}
	report("vm_lifecycle_wall", (now(CLOCK_MONOTONIC) - w0) / 1000.0 / nr_vms,
	       "us");
	report("vm_lifecycle_cpu",
	       (now(CLOCK_PROCESS_CPUTIME_ID) - c0) / 1000.0 / nr_vms, "us");
	return 0;
}

/*
 * Pages allocated and not freed since boot: the pgalloc_* and pgfree
 * events of /proc/vmstat.  Unlike nr_free_pages they count allocations
 * served from the per-CPU page lists too, and they are exact on read.
 */
static long net_pages(void)
{
	char name[64];
	long v, net = 0;
	FILE *f = fopen("/proc/vmstat", "r");

	if (!f)
		return 0;
	while (fscanf(f, "%63s %ld", name, &v) == 2) {
		if (!strncmp(name, "pgalloc_", 8))
			net += v;
		else if (!strcmp(name, "pgfree"))
			net -= v;
	}
	fclose(f);
	return net;
}

/*
 * Kernel memory of a VM with one vCPU after a run, and of each further
 * vCPU: net page allocations over nr_vms VMs (guest RAM is the shared,
 * already populated slot 0, so it does not count).
 */
static int bench_memory(void)
{
	struct box *boxes = calloc(nr_vms, sizeof(*boxes));
	struct hv_vcpu **extra = calloc(nr_vms * MEM_VCPUS_EXTRA, sizeof(*extra));
	struct hv_exits exits;
	long f0, f1, f2;
	unsigned int i, j, made = 0;
	int ret = -1;

	if (!boxes || !extra || skipped("mem_per")) {
		free(extra);
		free(boxes);
		return boxes && extra ? 0 : fail("memory", -ENOMEM);
	}
	f0 = net_pages();
	for (; made < nr_vms; made++)
		if (box_create(&boxes[made]) ||
		    run_work(boxes[made].vcpu, W_EMPTY, 1, &exits) < 0) {
			made++;
			goto out;
		}
	f1 = net_pages();
	for (i = 0; i < nr_vms; i++)
		for (j = 0; j < MEM_VCPUS_EXTRA; j++) {
			struct hv_vcpu **v = &extra[i * MEM_VCPUS_EXTRA + j];

			if (hv->vcpu_create(boxes[i].vm, 1 + j, v)) {
				*v = NULL;
				goto out;
			}
			if (run_work(*v, W_EMPTY, 1, &exits) < 0)
				goto out;
		}
	f2 = net_pages();
	report("mem_per_vm_1vcpu", (f1 - f0) * 4.0 / nr_vms, "KiB");
	report("mem_per_extra_vcpu",
	       (f2 - f1) * 4.0 / (nr_vms * MEM_VCPUS_EXTRA), "KiB");
	ret = 0;
out:
	for (i = 0; i < nr_vms * MEM_VCPUS_EXTRA; i++)
		if (extra[i])
			hv->vcpu_destroy(extra[i]);
	for (i = 0; i < made; i++)
		box_destroy(&boxes[i]);
	free(extra);
	free(boxes);
	return ret;
}

/* What libvmx's decoder alone costs for the guest's MMIO store. */
static double profile_decode(void)
{
	static const uint8_t insn[] = { 0xa2, 0x00, 0x00, 0x00, 0xd0 };
	ZydisDecodedOperand op[ZYDIS_MAX_OPERAND_COUNT];
	ZydisDecodedInstruction in;
	ZydisDecoder dec;
	uint64_t t0 = now(CLOCK_MONOTONIC);
	uint32_t i;

	for (i = 0; i < iters; i++) {
		ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LEGACY_32,
				 ZYDIS_STACK_WIDTH_32);
		if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, insn, sizeof(insn),
							 &in, op)))
			return -1;
	}
	return (double)(now(CLOCK_MONOTONIC) - t0) / iters;
}

/* The MMIO exit of vmx without the assist: kernel and run area only. */
static int profile_mmio(void)
{
	static const uint32_t want[] = {
		VMX_SYNC_REGS, VMX_SYNC_ON_DECODE, 0,
	};
	static const char *const label[] = {
		"profile_mmio_no_assist_sync_regs",
		"profile_mmio_no_assist_sync_on_decode",
		"profile_mmio_no_assist_ioctl_regs",
	};
	struct hv_exits exits;
	int64_t empty, t;
	struct box b;
	int i, ret = -1;

	if (box_create(&b))
		goto out;
	empty = run_work(b.vcpu, W_EMPTY, iters, &exits);
	for (i = 0; i < 3; i++) {
		uint64_t t0;

		if (hv->vcpu_start(b.vcpu, W_MMIO, iters))
			goto out;
		t0 = now(CLOCK_MONOTONIC);
		if (hv_vmx_mmio_raw(b.vcpu, iters, want[i]))
			goto out;
		t = now(CLOCK_MONOTONIC) - t0;
		report(label[i], (double)(t - empty) / iters, "ns/exit");
	}
	report("profile_zydis_decode", profile_decode(), "ns/insn");
	ret = 0;
out:
	box_destroy(&b);
	return ret;
}

static void tracefs_write(const char *file, const char *value)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/tracing/%s", file);
	f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "hvbench: %s: %s\n", path, strerror(errno));
		return;
	}
	fputs(value, f);
	fclose(f);
}

/*
 * Print the trace of the first whole call of @func (hvbench-trace:
 * lines): from its "func() {" line to the "}" in the same column.
 */
static void print_first_call(const char *func)
{
	char line[256];
	long col = -1;
	FILE *f = fopen("/sys/kernel/tracing/trace", "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *name = strstr(line, func), *brace = strchr(line, '}');

		if (col < 0 && name && strchr(line, '{'))
			col = name - line;
		if (col < 0)
			continue;
		printf("hvbench-trace: %s %s", hv->name, line);
		if (brace && brace - line == col)
			break;
	}
	fclose(f);
}

/*
 * One fault through function_graph: the second page of a fresh slot (the
 * first warms up the tables).  Durations are inflated by the tracer.
 */
static int profile_fault(void)
{
	const char *func = hv == &hv_vmx_ops ? "vmx_mmu_handle_fault" :
			   "kvm_tdp_page_fault";
	uint64_t size = 16 * 4096;
	void *mem = anon(size, false);
	struct hv_exits exits;
	struct box b;

	if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL) &&
	    errno != EBUSY)
		fprintf(stderr, "hvbench: tracefs: %s\n", strerror(errno));
	if (box_create(&b) || hv->map(b.vm, 1, TOUCH_GPA, size, mem, false) ||
	    run_work(b.vcpu, W_TOUCH, 4, &exits) < 0)
		return -1;
	tracefs_write("tracing_on", "0");
	tracefs_write("current_tracer", "function_graph");
	tracefs_write("max_graph_depth", "3");
	tracefs_write("set_graph_function", func);
	tracefs_write("trace", "");
	tracefs_write("tracing_on", "1");
	/* W_TOUCH starts at TOUCH_GPA: pages 0-3 are mapped, 4 is new. */
	hv->vcpu_start(b.vcpu, W_TOUCH, 8);
	hv->vcpu_run(b.vcpu, &exits);
	tracefs_write("tracing_on", "0");
	print_first_call(func);
	tracefs_write("current_tracer", "nop");
	box_destroy(&b);
	munmap(mem, size);
	return 0;
}

static int setup_low(void)
{
	static const uint64_t gdt[] = { 0, GDT_CODE32, GDT_DATA32 };

	low = anon(LOW_SIZE, true);
	if (!low)
		return -1;
	memcpy(low + GUEST_GDT, gdt, sizeof(gdt));
	memcpy(low + GUEST_CODE, guest_blob, guest_blob_end - guest_blob);
	return 0;
}

static void print_info(void)
{
	char buf[128] = "?";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");

	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			snprintf(buf, sizeof(buf), "?");
		fclose(f);
		buf[strcspn(buf, "\n")] = 0;
	}
	info("thp", buf);
	snprintf(buf, sizeof(buf), "%u/%llu/%u", iters,
		 (unsigned long long)(touch_size >> 20), nr_vms);
	info("iterations/touch_mib/vms", buf);
}

static int usage(void)
{
	fprintf(stderr, "usage: hvbench vmx|kvm [-n exits] [-m touch-MiB] [-k vms]\n"
		"       [-s skip,...] [-p]\n");
	return 2;
}

int main(int argc, char **argv)
{
	int opt, ret;

	if (argc < 2)
		return usage();
	if (!strcmp(argv[1], "vmx"))
		hv = &hv_vmx_ops;
	else if (!strcmp(argv[1], "kvm"))
		hv = &hv_kvm_ops;
	else
		return usage();
	optind = 2;
	while ((opt = getopt(argc, argv, "n:m:k:s:p")) != -1) {
		switch (opt) {
		case 'n':
			iters = strtoul(optarg, NULL, 0);
			break;
		case 'm':
			touch_size = strtoull(optarg, NULL, 0) << 20;
			break;
		case 'k':
			nr_vms = strtoul(optarg, NULL, 0);
			break;
		case 's':
			skip_list = optarg;
			break;
		case 'p':
			profile = true;
			break;
		default:
			return usage();
		}
	}
	if (!iters || !nr_vms || !touch_size || touch_size > (1ULL << 30))
		return usage();
	ret = hv->open();
	if (ret) {
		fail("open", ret);
		return 1;
	}
	if (setup_low())
		return 1;
	print_info();
	ret = bench_exits();
	ret |= bench_touch("first_touch", false, 2);
	ret |= bench_touch("first_touch_populated", true, 2);
	ret |= bench_touch("fault_1_slot", false, 1);
	ret |= bench_touch("fault_64_slots", false, 64);
	ret |= bench_touch("fault_4096_slots", false, 4096);
	ret |= bench_dirty();
	ret |= bench_lifecycle();
	ret |= bench_memory();
	if (profile && hv == &hv_vmx_ops)
		ret |= profile_mmio();
	if (profile)
		ret |= profile_fault();
	return ret ? 1 : 0;
}
