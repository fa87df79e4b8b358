// SPDX-License-Identifier: GPL-2.0
/*
 * The mmu_notifier protocol under load: vCPUs on their own threads read
 * and write guest pages in a loop while the VMM, on other threads, frees
 * and replaces the memory behind them (MADV_DONTNEED, mmap(MAP_FIXED),
 * mremap, munmap), deletes, moves and re-flags the slot and harvests
 * dirty logs.  The rule checked: once a call that changed the VMM's
 * mapping returned, no vCPU reads or writes the old page.
 *
 * How a stale read is seen: for each data page the VMM keeps an epoch
 * (in guest RAM).  It replaces the page, writes the new epoch value into
 * the new page through its own mapping, and only then publishes the
 * epoch.  A guest that read epoch e and then finds a value below e in
 * the page read a page the VMM had already replaced.
 *
 * The rigs: the Bochs/VMX rig has 2 CPUs, so vCPUs and VMM threads run
 * at the same time there; on a 1-CPU rig the threads only interleave
 * where the host preempts them.  Bochs runs ~50 M instructions/s, hence
 * the smaller counts there.
 */
#include "test_util.h"
#include "kselftest_harness.h"

#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#include "vmx_harness.h"
#include "guest.h"

#define PAGE		4096ULL
#define SLOT_GPA	0x10000000ULL
#define SLOT_GPA2	0x20000000ULL
#define DATA_SLOT	1
#define DATA_PAGES	4
#define NR_VCPUS	2
#define MMIO_MARK	0xfeedf00dU
/* Word of each data page a vCPU writes: 1 + its id. */
#define FINAL_MARK(page, id)	(0xc0de0000U | (page) << 8 | (id))

static volatile uint32_t nt_epoch[DATA_PAGES];
static volatile uint32_t nt_stop;

/* One-instruction accesses, so an MMIO exit is completed by hand. */
static inline uint32_t gread(uint64_t gpa)
{
	uint32_t v;

	__asm__ volatile("mov (%1), %0" : "=a"(v) : "a"(gpa) : "memory");
	return v;
}

static inline void gwrite(uint64_t gpa, uint32_t v)
{
	__asm__ volatile("mov %1, (%0)" : : "a"(gpa), "c"(v) : "memory");
}

static uint32_t guest_vcpu_id(void)
{
	uint32_t a, b, c, d;

	guest_cpuid(1, 0, &a, &b, &c, &d);
	return b >> 24;
}

/*
 * Check every data page against its epoch and write into it, until the
 * VMM says stop; then write a final mark into every page and report.
 */
static void guest_epochs(void)
{
	uint32_t id = guest_vcpu_id();
	uint64_t checks = 0, misses = 0;

	while (!nt_stop) {
		for (uint32_t i = 0; i < DATA_PAGES; i++) {
			uint64_t page = SLOT_GPA + i * PAGE;
			uint32_t e = nt_epoch[i];
			uint32_t v = gread(page);

			if (v == MMIO_MARK) {
				misses++;
				continue;
			}
			if (v && v < e)
				__guest_assert_fail(__FILE__, __LINE__,
						    "value from a replaced page",
						    v, e | (uint64_t)i << 32);
			gwrite(page + 4 * (1 + id), (uint32_t)checks);
			checks++;
		}
	}
	GUEST_SYNC3(1, checks, misses);
	for (uint32_t i = 0; i < DATA_PAGES; i++)
		gwrite(SLOT_GPA + i * PAGE + 4 * (1 + id), FINAL_MARK(i, id));
	GUEST_DONE();
}

/* Complete an MMIO exit: a read gets MMIO_MARK, a write is dropped. */
static int finish_mmio(struct libvmx_vcpu *vcpu)
{
	struct vmx_regs regs;
	int ret = libvmx_vcpu_get_regs(vcpu, &regs);

	if (ret)
		return ret;
	if (!libvmx_vcpu_run_area(vcpu)->mmio.is_write)
		regs.rax = MMIO_MARK;
	regs.rip += 2;
	return libvmx_vcpu_set_regs(vcpu, &regs);
}

static int set_slot(int vmfd, uint32_t slot, uint32_t flags, uint64_t gpa,
		    uint64_t size, void *hva)
{
	struct vmx_memslot m = {
		.slot = slot, .flags = flags, .guest_phys = gpa, .size = size,
		.user_addr = (uint64_t)(uintptr_t)hva,
	};

	return ioctl_err(vmfd, VMX_SET_MEMSLOT, &m);
}

static void *map_anon(void *at, uint64_t size)
{
	void *p = mmap(at, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | (at ? MAP_FIXED : 0), -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static bool slow_rig(void)
{
	return test_backend() == VMX_BACKEND_INTEL;
}

/* ---- the shared machinery: vCPU threads and VMM threads ---- */

struct nt_vcpu {
	struct libvmx_vcpu *vcpu;
	pthread_t thread;
	uint64_t checks, misses, efaults;
	int failed;
	char why[512];
};

struct nt {
	struct test_vm *t;
	int vmfd;
	uint8_t *data;			/* DATA_PAGES, the slot's memory */
	uint32_t value[DATA_PAGES];	/* last value written per page */
	volatile int stop_vmm;
	int ops_failed;
	char why[256];
	struct nt_vcpu v[NR_VCPUS];
};

static void *nt_vcpu_thread(void *arg)
{
	struct nt_vcpu *c = arg;
	struct vmx_run *run = libvmx_vcpu_run_area(c->vcpu);
	struct ucall uc;

	for (;;) {
		enum ucall_cmd cmd = test_run(c->vcpu, &uc);

		if (cmd == UCALL_SYNC) {
			c->checks = uc.args[1];
			c->misses = uc.args[2];
			continue;
		}
		if (cmd == UCALL_DONE)
			return NULL;
		/* The VMM unmapped the memory for a moment (munmap op). */
		if (cmd == UCALL_NONE && errno == EFAULT) {
			c->efaults++;
			sched_yield();
			continue;
		}
		if (cmd == UCALL_NONE && run->exit_reason == VMX_EXIT_MMIO &&
		    !finish_mmio(c->vcpu))
			continue;
		snprintf(c->why, sizeof(c->why), "%s", test_describe(c->vcpu, &uc));
		c->failed = 1;
		return NULL;
	}
}

static uint32_t *nt_host_epoch(struct nt *n, int i)
{
	return (uint32_t *)(n->t->ram + (uintptr_t)&nt_epoch[i]);
}

/* The new page holds its new value; only then is the epoch published. */
static void nt_publish(struct nt *n, int i, uint32_t *page)
{
	uint32_t v = ++n->value[i];

	__atomic_store_n(page, v, __ATOMIC_RELEASE);
	__atomic_store_n(nt_host_epoch(n, i), v, __ATOMIC_RELEASE);
}

enum nt_op { OP_DONTNEED, OP_MAP_FIXED, OP_MREMAP, OP_MUNMAP, NR_OPS };

/* Replace data page @i by operation @op; 0 or -errno. */
static int nt_replace(struct nt *n, int i, enum nt_op op)
{
	uint8_t *at = n->data + i * PAGE;
	uint32_t *src;

	switch (op) {
	case OP_DONTNEED:
		if (madvise(at, PAGE, MADV_DONTNEED))
			return -errno;
		/* A fresh anonymous page reads zero. */
		if (*(volatile uint32_t *)at)
			return -EIO;
		break;
	case OP_MAP_FIXED:
		if (!map_anon(at, PAGE))
			return -errno;
		break;
	case OP_MREMAP:
		src = map_anon(NULL, PAGE);
		if (!src)
			return -errno;
		src[0] = n->value[i] + 1;
		if (mremap(src, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED,
			   at) == MAP_FAILED)
			return -errno;
		break;
	case OP_MUNMAP:
		if (munmap(at, PAGE))
			return -errno;
		sched_yield();
		if (!map_anon(at, PAGE))
			return -errno;
		break;
	default:
		return -EINVAL;
	}
	nt_publish(n, i, (uint32_t *)at);
	return 0;
}

static int nt_setup(struct nt *n, uint32_t flags)
{
	int ret;

	memset(n, 0, sizeof(*n));
	ret = test_vm_create(&n->t, NR_VCPUS, guest_epochs);
	if (ret)
		return ret;
	n->vmfd = libvmx_vm_fd(n->t->vm);
	n->data = map_anon(NULL, DATA_PAGES * PAGE);
	if (!n->data)
		return -ENOMEM;
	for (int i = 0; i < DATA_PAGES; i++)
		nt_publish(n, i, (uint32_t *)(n->data + i * PAGE));
	return set_slot(n->vmfd, DATA_SLOT, flags, SLOT_GPA,
			DATA_PAGES * PAGE, n->data);
}

static int nt_start_vcpus(struct nt *n)
{
	for (int i = 0; i < NR_VCPUS; i++) {
		n->v[i].vcpu = n->t->vcpus[i];
		if (pthread_create(&n->v[i].thread, NULL, nt_vcpu_thread, &n->v[i]))
			return -errno;
	}
	return 0;
}

/* Stop the guests and check what they wrote last went to the new pages. */
static void nt_finish(struct __test_metadata *_metadata, struct nt *n)
{
	uint32_t *stop = (uint32_t *)(n->t->ram + (uintptr_t)&nt_stop);
	uint64_t checks = 0;

	__atomic_store_n(stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < NR_VCPUS; i++) {
		pthread_join(n->v[i].thread, NULL);
		EXPECT_EQ(0, n->v[i].failed) TH_LOG("vCPU %d: %s", i, n->v[i].why);
		checks += n->v[i].checks;
		TH_LOG("vCPU %d: %lu checks, %lu MMIO misses, %lu EFAULT runs", i,
		       (unsigned long)n->v[i].checks,
		       (unsigned long)n->v[i].misses,
		       (unsigned long)n->v[i].efaults);
	}
	EXPECT_GT(checks, 0);
	for (int p = 0; p < DATA_PAGES; p++) {
		uint32_t *w = (uint32_t *)(n->data + p * PAGE);

		EXPECT_EQ(n->value[p], w[0]) TH_LOG("page %d", p);
		for (int id = 0; id < NR_VCPUS; id++) {
			if (n->v[id].failed)
				continue;
			EXPECT_EQ(FINAL_MARK(p, id), w[1 + id])
				TH_LOG("page %d vCPU %d", p, id);
		}
	}
	test_vm_destroy(n->t);
	munmap(n->data, DATA_PAGES * PAGE);
}

static bool nt_vcpus_failed(struct nt *n)
{
	for (int i = 0; i < NR_VCPUS; i++)
		if (n->v[i].failed)
			return true;
	return false;
}

/* Let the vCPU threads run a little, even on one CPU. */
static void nt_pause(void)
{
	usleep(slow_rig() ? 2000 : 300);
}

/* ---- host invalidations only ---- */

static void nt_run_ops(struct __test_metadata *_metadata, struct nt *n,
		       int rounds, bool one_op, enum nt_op op)
{
	for (int r = 0; r < rounds && !nt_vcpus_failed(n); r++) {
		for (int i = 0; i < DATA_PAGES; i++) {
			enum nt_op o = one_op ? op : (enum nt_op)((r + i) % NR_OPS);

			ASSERT_EQ(0, nt_replace(n, i, o))
				TH_LOG("round %d page %d op %d", r, i, o);
		}
		nt_pause();
	}
}

/*
 * Every test here races threads against each other on emulated CPUs: on a
 * loaded build machine one can take minutes, not the harness's default
 * 30 s.  A longer limit still ends a real hang.
 */
FIXTURE(slow) {
	int unused;
};

FIXTURE_SETUP(slow)
{
	test_hang_report_arm(90);
}

FIXTURE_TEARDOWN(slow)
{
}

static int nt_rounds(void)
{
	return slow_rig() ? 60 : 200;
}

TEST_F_TIMEOUT(slow, dontneed_while_running, 120)
{
	struct nt n;

	ASSERT_EQ(0, nt_setup(&n, 0));
	ASSERT_EQ(0, nt_start_vcpus(&n));
	nt_run_ops(_metadata, &n, nt_rounds(), true, OP_DONTNEED);
	nt_finish(_metadata, &n);
}

TEST_F_TIMEOUT(slow, every_op_while_running, 120)
{
	struct nt n;

	ASSERT_EQ(0, nt_setup(&n, 0));
	ASSERT_EQ(0, nt_start_vcpus(&n));
	nt_run_ops(_metadata, &n, nt_rounds(), false, 0);
	nt_finish(_metadata, &n);
}

/* ---- host invalidations racing slot updates and dirty-log harvests ---- */

struct nt_slot_ctx {
	struct nt *n;
	uint64_t changes, harvests;
	int err;
	char why[128];
};

/* Delete, re-create, move away and back, re-flag; what the VMM may do. */
static void *nt_slot_thread(void *arg)
{
	struct nt_slot_ctx *c = arg;
	struct nt *n = c->n;
	uint64_t size = DATA_PAGES * PAGE;

	while (!n->stop_vmm) {
		struct {
			uint32_t flags;
			uint64_t gpa, size;
		} step[] = {
			{ 0, 0, 0 },
			{ VMX_MEM_DIRTY_LOG, SLOT_GPA, size },
			{ VMX_MEM_DIRTY_LOG, SLOT_GPA2, size },
			{ 0, SLOT_GPA2, size },
			{ 0, SLOT_GPA, size },
			{ VMX_MEM_DIRTY_LOG, SLOT_GPA, size },
			{ 0, SLOT_GPA, size },
		};

		for (size_t s = 0; s < sizeof(step) / sizeof(step[0]); s++) {
			int ret = set_slot(n->vmfd, DATA_SLOT, step[s].flags,
					   step[s].gpa, step[s].size,
					   step[s].size ? n->data : NULL);

			if (ret) {
				snprintf(c->why, sizeof(c->why), "step %zu: %d",
					 s, ret);
				c->err = ret;
				return NULL;
			}
			c->changes++;
			sched_yield();
		}
	}
	return NULL;
}

static void *nt_harvest_thread(void *arg)
{
	struct nt_slot_ctx *c = arg;
	uint64_t bm[(DATA_PAGES + 63) / 64];
	struct vmx_dirty_log log = {
		.slot = DATA_SLOT, .bitmap = (uint64_t)(uintptr_t)bm,
	};

	while (!c->n->stop_vmm) {
		int ret = ioctl_err(c->n->vmfd, VMX_GET_DIRTY_LOG, &log);

		/* The slot may be gone or without logging just now. */
		if (ret && ret != -ENOENT && ret != -EINVAL) {
			snprintf(c->why, sizeof(c->why), "harvest: %d", ret);
			c->err = ret;
			return NULL;
		}
		c->harvests += !ret;
		sched_yield();
	}
	return NULL;
}

TEST_F_TIMEOUT(slow, ops_with_slot_updates_and_harvests, 120)
{
	struct nt_slot_ctx slot_ctx = { 0 }, harvest_ctx = { 0 };
	pthread_t slot_th, harvest_th;
	struct nt n;

	ASSERT_EQ(0, nt_setup(&n, VMX_MEM_DIRTY_LOG));
	slot_ctx.n = &n;
	harvest_ctx.n = &n;
	ASSERT_EQ(0, nt_start_vcpus(&n));
	ASSERT_EQ(0, pthread_create(&slot_th, NULL, nt_slot_thread, &slot_ctx));
	ASSERT_EQ(0, pthread_create(&harvest_th, NULL, nt_harvest_thread,
				    &harvest_ctx));
	nt_run_ops(_metadata, &n, nt_rounds(), false, 0);
	n.stop_vmm = 1;
	pthread_join(slot_th, NULL);
	pthread_join(harvest_th, NULL);
	EXPECT_EQ(0, slot_ctx.err) TH_LOG("%s", slot_ctx.why);
	EXPECT_EQ(0, harvest_ctx.err) TH_LOG("%s", harvest_ctx.why);
	EXPECT_GT(slot_ctx.changes, 0);
	TH_LOG("%lu slot changes, %lu harvests",
	       (unsigned long)slot_ctx.changes,
	       (unsigned long)harvest_ctx.harvests);
	/* The slot in its place again, so the guests can finish. */
	ASSERT_EQ(0, set_slot(n.vmfd, DATA_SLOT, 0, SLOT_GPA, DATA_PAGES * PAGE,
			      n.data));
	nt_finish(_metadata, &n);
}

/* ---- dirty logging keeps every write while the host invalidates ---- */

#define LOG_PAGES	64

static volatile uint32_t log_stop;

/* Each vCPU writes a growing counter into its word of every page. */
static void guest_log_writer(void)
{
	uint32_t id = guest_vcpu_id();
	uint32_t n = 0;

	while (!log_stop) {
		n++;
		for (uint32_t p = 0; p < LOG_PAGES; p++)
			*(volatile uint32_t *)(SLOT_GPA + p * PAGE + 4 * id) =
				n << 8 | p;
	}
	GUEST_SYNC2(1, n);
	GUEST_DONE();
}

struct log_vcpu {
	struct libvmx_vcpu *vcpu;
	pthread_t thread;
	uint64_t rounds, efaults;
	int failed;
	char why[512];
};

static void *log_vcpu_thread(void *arg)
{
	struct log_vcpu *c = arg;
	struct ucall uc;

	for (;;) {
		enum ucall_cmd cmd = test_run(c->vcpu, &uc);

		if (cmd == UCALL_SYNC) {
			c->rounds = uc.args[1];
			continue;
		}
		if (cmd == UCALL_DONE)
			return NULL;
		/* A write while the VMM had the memory read-only. */
		if (cmd == UCALL_NONE && errno == EFAULT) {
			c->efaults++;
			sched_yield();
			continue;
		}
		snprintf(c->why, sizeof(c->why), "%s", test_describe(c->vcpu, &uc));
		c->failed = 1;
		return NULL;
	}
}

/* Copy every page the log reports dirty into @shadow. */
static int log_harvest(int vmfd, uint8_t *mem, uint8_t *shadow, int *dirty)
{
	uint64_t bm[LOG_PAGES / 64];
	struct vmx_dirty_log log = {
		.slot = DATA_SLOT, .bitmap = (uint64_t)(uintptr_t)bm,
	};
	int ret = ioctl_err(vmfd, VMX_GET_DIRTY_LOG, &log);

	if (ret)
		return ret;
	for (int p = 0; p < LOG_PAGES; p++) {
		if (!(bm[p / 64] & (1ULL << (p % 64))))
			continue;
		memcpy(shadow + p * PAGE, mem + p * PAGE, PAGE);
		(*dirty)++;
	}
	return 0;
}

/*
 * A migration-style copy: harvest, copy what is dirty, repeat, while the
 * VMM also write-protects and unprotects the memory (each an invalidation
 * that leaves the contents alone).  At the end the copy must equal the
 * memory: a write the log missed shows as a difference.
 */
TEST_F_TIMEOUT(slow, dirty_log_copy_while_invalidating, 120)
{
	struct log_vcpu v[NR_VCPUS] = { 0 };
	int rounds = slow_rig() ? 40 : 300, dirty = 0, diff = 0;
	uint64_t size = LOG_PAGES * PAGE;
	uint8_t *mem, *shadow;
	struct test_vm *t;
	uint32_t *stop;
	int fd;

	mem = map_anon(NULL, size);
	shadow = map_anon(NULL, size);
	ASSERT_NE(NULL, mem);
	ASSERT_NE(NULL, shadow);
	ASSERT_EQ(0, test_vm_create(&t, NR_VCPUS, guest_log_writer));
	fd = libvmx_vm_fd(t->vm);
	ASSERT_EQ(0, set_slot(fd, DATA_SLOT, VMX_MEM_DIRTY_LOG, SLOT_GPA, size,
			      mem));
	for (int i = 0; i < NR_VCPUS; i++) {
		v[i].vcpu = t->vcpus[i];
		ASSERT_EQ(0, pthread_create(&v[i].thread, NULL, log_vcpu_thread,
					    &v[i]));
	}
	for (int r = 0; r < rounds; r++) {
		void *half = mem + (r % 2) * (size / 2);

		ASSERT_EQ(0, log_harvest(fd, mem, shadow, &dirty));
		if (r % 3 == 0) {
			ASSERT_EQ(0, mprotect(half, size / 2, PROT_READ));
			nt_pause();
			ASSERT_EQ(0, mprotect(half, size / 2,
					      PROT_READ | PROT_WRITE));
		}
		nt_pause();
	}
	stop = (uint32_t *)(t->ram + (uintptr_t)&log_stop);
	__atomic_store_n(stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < NR_VCPUS; i++) {
		pthread_join(v[i].thread, NULL);
		EXPECT_EQ(0, v[i].failed) TH_LOG("vCPU %d: %s", i, v[i].why);
		EXPECT_GT(v[i].rounds, 0);
		TH_LOG("vCPU %d: %lu rounds, %lu EFAULT runs", i,
		       (unsigned long)v[i].rounds, (unsigned long)v[i].efaults);
	}
	/* The final harvest: the guests stopped writing. */
	ASSERT_EQ(0, log_harvest(fd, mem, shadow, &dirty));
	for (int p = 0; p < LOG_PAGES; p++)
		diff += !!memcmp(shadow + p * PAGE, mem + p * PAGE, PAGE);
	EXPECT_EQ(0, diff) TH_LOG("pages whose last writes the log missed");
	EXPECT_GT(dirty, LOG_PAGES);
	test_vm_destroy(t);
	munmap(mem, size);
	munmap(shadow, size);
}

/* ---- nested page table memory follows the slots ---- */

#define TBL_WINDOW_VA	0x40000000ULL	/* guest's 2nd GiB: its own PD */
#define TBL_PD_GPA	(TEST_SCRATCH + 0x100000ULL)
#define TBL_GIB		(1ULL << 30)
#define TBL_SPAN	(2ULL << 20)
#define TBL_TOUCHES	512		/* one word per 2 MiB of the GiB */

/* Touch one word in each 2 MiB of the window, then tell the VMM. */
static void guest_tables(void)
{
	for (uint64_t round = 0;; round++) {
		uint64_t cr3;

		__asm__ volatile("mov %%cr3, %0; mov %0, %%cr3" : "=r"(cr3) : : "memory");
		for (uint64_t i = 0; i < TBL_TOUCHES; i++) {
			volatile uint32_t *p =
				(volatile uint32_t *)(TBL_WINDOW_VA + i * TBL_SPAN);

			__asm__ volatile("invlpg (%0)" : : "r"(p) : "memory");
			(void)*p;
		}
		GUEST_SYNC(round);
	}
}

static long mem_free_kib(void)
{
	char line[128];
	long kib = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemFree: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/*
 * Point the guest's 2nd GiB at guest-physical @gpa (2 MiB aligned) with
 * 2 MiB pages.
 */
static void tbl_map_window(struct test_vm *t, uint64_t gpa)
{
	uint64_t *pd = (uint64_t *)(t->ram + TBL_PD_GPA);
	uint64_t *pdpt = (uint64_t *)(t->ram + TEST_PDPT);

	for (int i = 0; i < 512; i++)
		pd[i] = (gpa + i * TBL_SPAN) | 0x83;	/* P, RW, PS */
	pdpt[1] = TBL_PD_GPA | 0x3;			/* P, RW */
}

/*
 * The VMM puts the same 1 GiB of memory at a new guest-physical place
 * each round and the guest touches one page per 2 MiB there, which
 * takes 513 nested table pages (2 MiB).  A slot change must give back
 * the tables of the range it removed, so over the rounds free memory
 * stays where it was instead of falling by 2 MiB a round.
 */
TEST_F_TIMEOUT(slow, table_memory_follows_slots, 120)
{
	int rounds = slow_rig() ? 48 : 64;
	long before = 0, after, lost;
	time_t t0 = time(NULL);
	struct test_vm *t;
	struct ucall uc;
	uint8_t *mem;
	int fd;

	mem = mmap(NULL, TBL_GIB, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	/* 4 KiB host pages: one THP per touch would take 1 GiB. */
	madvise(mem, TBL_GIB, MADV_NOHUGEPAGE);
	ASSERT_EQ(0, test_vm_create(&t, 1, guest_tables));
	fd = libvmx_vm_fd(t->vm);
	for (int r = 0; r < rounds; r++) {
		uint64_t gpa = (8ULL + r) * TBL_GIB;

		tbl_map_window(t, gpa);
		ASSERT_EQ(0, set_slot(fd, DATA_SLOT, 0, gpa, TBL_GIB, mem));
		ASSERT_EQ(UCALL_SYNC, test_run(t->vcpus[0], &uc))
			TH_LOG("round %d: %s", r, test_describe(t->vcpus[0], &uc));
		ASSERT_EQ(r, uc.args[0]);
		ASSERT_EQ(0, set_slot(fd, DATA_SLOT, 0, 0, 0, NULL));
		/* After the first round the host pages are all there. */
		if (r == 0)
			before = mem_free_kib();
	}
	after = mem_free_kib();
	ASSERT_GT(before, 0);
	lost = before - after;
	TH_LOG("%d rounds in %ld s: free memory %ld KiB -> %ld KiB", rounds,
	       (long)(time(NULL) - t0), before, after);
	/* Without giving tables back: about 2052 KiB a round. */
	EXPECT_LT(lost, (rounds - 1) * 2052L / 4)
		TH_LOG("%ld KiB lost", lost);
	test_vm_destroy(t);
	munmap(mem, TBL_GIB);
}

/* Touch the second page of the window each round. */
static void guest_one_page(void)
{
	for (uint64_t round = 0;; round++) {
		volatile uint32_t *p = (volatile uint32_t *)(TBL_WINDOW_VA + PAGE);
		uint64_t cr3;

		__asm__ volatile("mov %%cr3, %0; mov %0, %%cr3" : "=r"(cr3) : : "memory");
		__asm__ volatile("invlpg (%0)" : : "r"(p) : "memory");
		(void)*p;
		GUEST_SYNC(round);
	}
}

/*
 * The same with a one-page slot at an unaligned place in a new 2 MiB
 * each round (below 16 GiB: the guest's MAXPHYADDR may be 39 bits): the
 * table it needed (4 KiB, and 4 KiB more each GiB) is only partly in the
 * removed range, and is given back all the same once nothing is left in
 * it.
 */
TEST_F_TIMEOUT(slow, partial_tables_follow_slots, 120)
{
	/* Enough to leak well past what per-CPU free lists hide. */
	int rounds = slow_rig() ? 2048 : 4096;
	long before = 0, after, lost;
	struct test_vm *t;
	struct ucall uc;
	uint8_t *mem;
	int fd;

	mem = map_anon(NULL, PAGE);
	ASSERT_NE(NULL, mem);
	ASSERT_EQ(0, test_vm_create(&t, 1, guest_one_page));
	fd = libvmx_vm_fd(t->vm);
	for (int r = 0; r < rounds; r++) {
		uint64_t gpa = 8 * TBL_GIB + r * TBL_SPAN;

		tbl_map_window(t, gpa);
		ASSERT_EQ(0, set_slot(fd, DATA_SLOT, 0, gpa + PAGE, PAGE, mem));
		ASSERT_EQ(UCALL_SYNC, test_run(t->vcpus[0], &uc))
			TH_LOG("round %d: %s", r, test_describe(t->vcpus[0], &uc));
		ASSERT_EQ(r, uc.args[0]);
		ASSERT_EQ(0, set_slot(fd, DATA_SLOT, 0, 0, 0, NULL));
		if (r == 0)
			before = mem_free_kib();
	}
	after = mem_free_kib();
	ASSERT_GT(before, 0);
	lost = before - after;
	TH_LOG("%d rounds: free memory %ld KiB -> %ld KiB", rounds, before,
	       after);
	/* Without giving tables back: 4 KiB a round. */
	EXPECT_LT(lost, (rounds - 1) * 4L / 2) TH_LOG("%ld KiB lost", lost);
	test_vm_destroy(t);
	munmap(mem, PAGE);
}

TEST_HARNESS_MAIN
