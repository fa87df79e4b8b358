// SPDX-License-Identifier: GPL-2.0
/*
 * Memory slots: create, delete, move, re-flag, the errors of each, many
 * slots, READONLY and DIRTY_LOG as the guest sees them, and slot changes
 * racing a running vCPU.
 */
#include "test_util.h"
#include "kselftest_harness.h"

#include <pthread.h>
#include <sys/mman.h>

#include "vmx_harness.h"
#include "guest.h"

#define PAGE		4096ULL
/* Above the test RAM, inside the guest's 1 GiB identity map. */
#define SLOT_GPA	0x10000000ULL
#define SLOT_GPA2	0x20000000ULL
#define MMIO_MARK	0xfeedf00dU

static int set_slot(int vmfd, uint32_t slot, uint32_t flags, uint64_t gpa,
		    uint64_t size, void *hva)
{
	struct vmx_memslot m = {
		.slot = slot, .flags = flags, .guest_phys = gpa, .size = size,
		.user_addr = (uint64_t)(uintptr_t)hva,
	};

	return ioctl_err(vmfd, VMX_SET_MEMSLOT, &m);
}

static bool vmx_all_zero_u64(const uint64_t *w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (w[i])
			return false;
	return true;
}

static void *alloc_mem(uint64_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/*
 * Guest memory reads and writes that are one 2-byte instruction each
 * (mov (%rax),%eax / mov %ecx,(%rax)), so the VMM can complete an MMIO
 * exit by hand: set RAX and skip 2 bytes.
 */
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

FIXTURE(slots) {
	struct test_vm *t;
	int vmfd;
	uint8_t *mem;
};

FIXTURE_SETUP(slots)
{
	ASSERT_EQ(0, test_vm_create(&self->t, 1, NULL));
	self->vmfd = libvmx_vm_fd(self->t->vm);
	self->mem = alloc_mem(16 * PAGE);
	ASSERT_NE(NULL, self->mem);
}

FIXTURE_TEARDOWN(slots)
{
	test_vm_destroy(self->t);
	munmap(self->mem, 16 * PAGE);
}

TEST_F(slots, set_and_delete)
{
	EXPECT_EQ(0, set_slot(self->vmfd, 1, 0, SLOT_GPA, 16 * PAGE, self->mem));
	/* Deleting frees the range and the number. */
	EXPECT_EQ(0, set_slot(self->vmfd, 1, 0, 0, 0, NULL));
	EXPECT_EQ(-ENOENT, set_slot(self->vmfd, 1, 0, 0, 0, NULL));
	EXPECT_EQ(0, set_slot(self->vmfd, 2, 0, SLOT_GPA, 16 * PAGE, self->mem));
	EXPECT_EQ(0, set_slot(self->vmfd, 1, 0, SLOT_GPA2, PAGE, self->mem));
	EXPECT_EQ(0, set_slot(self->vmfd, 2, 0, 0, 0, NULL));
	EXPECT_EQ(0, set_slot(self->vmfd, 1, 0, 0, 0, NULL));
	/* The highest slot number and the highest address. */
	EXPECT_EQ(0, set_slot(self->vmfd, self->t->caps.max_memslots - 1, 0,
			      (1ULL << 48) - PAGE, PAGE, self->mem));
}

TEST_F(slots, errors)
{
	struct vmx_memslot m;
	uint32_t max = self->t->caps.max_memslots;
	int fd = self->vmfd;
	uint8_t *mem = self->mem;

	EXPECT_EQ(-EINVAL, set_slot(fd, 1, 0, SLOT_GPA + 1, PAGE, mem));
	EXPECT_EQ(-EINVAL, set_slot(fd, 1, 0, SLOT_GPA, PAGE + 8, mem));
	EXPECT_EQ(-EINVAL, set_slot(fd, 1, 0, SLOT_GPA, PAGE, mem + 8));
	EXPECT_EQ(-EINVAL, set_slot(fd, max, 0, SLOT_GPA, PAGE, mem));
	EXPECT_EQ(-EINVAL, set_slot(fd, UINT32_MAX, 0, SLOT_GPA, PAGE, mem));
	EXPECT_EQ(-EINVAL, set_slot(fd, 1, 1U << 2, SLOT_GPA, PAGE, mem));
	EXPECT_EQ(-EINVAL, set_slot(fd, 1, 1U << 31, SLOT_GPA, PAGE, mem));
	/* Beyond 48 bits of guest-physical address space, or wrapping. */
	EXPECT_EQ(-EINVAL, set_slot(fd, 1, 0, 1ULL << 48, PAGE, mem));
	EXPECT_EQ(-EINVAL, set_slot(fd, 1, 0, (1ULL << 48) - PAGE, 2 * PAGE, mem));
	EXPECT_EQ(-EINVAL, set_slot(fd, 1, 0, ~(PAGE - 1), 2 * PAGE, mem));
	EXPECT_EQ(-EINVAL, set_slot(fd, 1, 0, 0x1000000000000000ULL, PAGE, mem));
	/* Not user memory. */
	EXPECT_EQ(-EFAULT, set_slot(fd, 1, 0, SLOT_GPA, PAGE,
				    (void *)0xffff888000000000ULL));
	EXPECT_EQ(-EFAULT, set_slot(fd, 1, 0, SLOT_GPA, 1ULL << 40,
				    (void *)((1ULL << 47) - (1ULL << 39))));
	memset(&m, 0, sizeof(m));
	m.slot = 1;
	m.guest_phys = SLOT_GPA;
	m.size = PAGE;
	m.user_addr = (uint64_t)(uintptr_t)mem;
	m.reserved[1] = 1;
	EXPECT_EQ(-EINVAL, ioctl_err(fd, VMX_SET_MEMSLOT, &m));
	EXPECT_EQ(-EFAULT, ioctl_err(fd, VMX_SET_MEMSLOT, NULL));
	/* Overlaps: with the test RAM (slot 0) and with another slot. */
	EXPECT_EQ(-EEXIST, set_slot(fd, 1, 0, TEST_RAM_SIZE - PAGE, 2 * PAGE, mem));
	EXPECT_EQ(-EEXIST, set_slot(fd, 1, 0, 0x100000, PAGE, mem));
	ASSERT_EQ(0, set_slot(fd, 1, 0, SLOT_GPA, 4 * PAGE, mem));
	EXPECT_EQ(-EEXIST, set_slot(fd, 2, 0, SLOT_GPA + 3 * PAGE, 4 * PAGE, mem));
	EXPECT_EQ(-EEXIST, set_slot(fd, 2, 0, SLOT_GPA - PAGE, 2 * PAGE, mem));
	EXPECT_EQ(-EEXIST, set_slot(fd, 2, 0, SLOT_GPA - PAGE, 16 * PAGE, mem));
	EXPECT_EQ(0, set_slot(fd, 2, 0, SLOT_GPA + 4 * PAGE, PAGE, mem));
	/* An existing slot may not change size or backing... */
	EXPECT_EQ(-EINVAL, set_slot(fd, 1, 0, SLOT_GPA, 8 * PAGE, mem));
	EXPECT_EQ(-EINVAL, set_slot(fd, 1, 0, SLOT_GPA, 4 * PAGE, mem + PAGE));
	/* ...nor move onto another slot. */
	EXPECT_EQ(-EEXIST, set_slot(fd, 1, 0, SLOT_GPA + 2 * PAGE, 4 * PAGE, mem));
	EXPECT_EQ(-ENOENT, set_slot(fd, 7, 0, 0, 0, NULL));
	EXPECT_EQ(-EINVAL, set_slot(fd, max, 0, 0, 0, NULL));
}

static void guest_move(void)
{
	GUEST_ASSERT_EQ(gread(SLOT_GPA + 8), 0x11223344);
	GUEST_SYNC(1);
	/* Moved: the old address is no RAM any more, the new one is. */
	GUEST_ASSERT_EQ(gread(SLOT_GPA2 + 8), 0x11223344);
	GUEST_ASSERT_EQ(gread(SLOT_GPA + 8), MMIO_MARK);
	gwrite(SLOT_GPA2 + 12, 0x55);
	GUEST_SYNC(2);
	/* Read-only now: the write exits, the read works. */
	gwrite(SLOT_GPA2 + 16, 0x66);
	GUEST_ASSERT_EQ(gread(SLOT_GPA2 + 12), 0x55);
	GUEST_SYNC(3);
	gwrite(SLOT_GPA2 + 16, 0x77);
	GUEST_DONE();
}

TEST(move_and_reflag)
{
	struct test_vm *t;
	struct libvmx_vcpu *vcpu;
	struct vmx_run *run;
	uint32_t *mem = alloc_mem(PAGE);
	int fd;

	ASSERT_NE(NULL, mem);
	mem[2] = 0x11223344;
	ASSERT_EQ(0, test_vm_create(&t, 1, guest_move));
	vcpu = t->vcpus[0];
	run = libvmx_vcpu_run_area(vcpu);
	fd = libvmx_vm_fd(t->vm);
	ASSERT_EQ(0, set_slot(fd, 1, 0, SLOT_GPA, PAGE, mem));
	ASSERT_SYNC(vcpu, 1);
	ASSERT_EQ(0, set_slot(fd, 1, 0, SLOT_GPA2, PAGE, mem));
	ASSERT_EXIT(vcpu, VMX_EXIT_MMIO);
	EXPECT_EQ(SLOT_GPA + 8, run->mmio.gpa);
	ASSERT_EQ(0, finish_mmio(vcpu));
	ASSERT_SYNC(vcpu, 2);
	EXPECT_EQ(0x55, mem[3]);
	ASSERT_EQ(0, set_slot(fd, 1, VMX_MEM_READONLY, SLOT_GPA2, PAGE, mem));
	ASSERT_EXIT(vcpu, VMX_EXIT_MMIO);
	EXPECT_EQ(SLOT_GPA2 + 16, run->mmio.gpa);
	EXPECT_EQ(1, run->mmio.is_write);
	ASSERT_EQ(0, finish_mmio(vcpu));
	ASSERT_SYNC(vcpu, 3);
	EXPECT_EQ(0, mem[4]);
	ASSERT_EQ(0, set_slot(fd, 1, 0, SLOT_GPA2, PAGE, mem));
	ASSERT_UCALL(vcpu, UCALL_DONE);
	EXPECT_EQ(0x77, mem[4]);
	test_vm_destroy(t);
	munmap(mem, PAGE);
}

static void guest_readonly(void)
{
	GUEST_ASSERT_EQ(gread(SLOT_GPA), 0xabcd0001);
	GUEST_ASSERT_EQ(gread(SLOT_GPA + PAGE + 4), 0xabcd0002);
	gwrite(SLOT_GPA + 4, 0xbad);
	gwrite(SLOT_GPA + PAGE + 4, 0xbad);
	/* The writes did not reach memory. */
	GUEST_ASSERT_EQ(gread(SLOT_GPA + 4), 0);
	GUEST_ASSERT_EQ(gread(SLOT_GPA + PAGE + 4), 0xabcd0002);
	GUEST_DONE();
}

TEST(readonly_slot)
{
	struct test_vm *t;
	struct libvmx_vcpu *vcpu;
	struct vmx_run *run;
	uint32_t *mem = alloc_mem(2 * PAGE);

	ASSERT_NE(NULL, mem);
	mem[0] = 0xabcd0001;
	mem[PAGE / 4 + 1] = 0xabcd0002;
	ASSERT_EQ(0, test_vm_create(&t, 1, guest_readonly));
	vcpu = t->vcpus[0];
	run = libvmx_vcpu_run_area(vcpu);
	ASSERT_EQ(0, set_slot(libvmx_vm_fd(t->vm), 1, VMX_MEM_READONLY,
			      SLOT_GPA, 2 * PAGE, mem));
	for (int i = 0; i < 2; i++) {
		ASSERT_EXIT(vcpu, VMX_EXIT_MMIO);
		EXPECT_EQ(SLOT_GPA + 4 + i * PAGE, run->mmio.gpa);
		EXPECT_EQ(1, run->mmio.is_write);
		EXPECT_EQ(0, run->mmio.is_fetch);
		ASSERT_EQ(0, finish_mmio(vcpu));
	}
	ASSERT_UCALL(vcpu, UCALL_DONE);
	EXPECT_EQ(0, mem[1]);
	test_vm_destroy(t);
	munmap(mem, 2 * PAGE);
}

#define DIRTY_PAGES	100	/* not a multiple of 64 */

static void guest_dirty(void)
{
	static const int first[] = { 1, 3, 8, 63, 64, 99 };
	uint32_t sum = 0;

	for (unsigned int i = 0; i < sizeof(first) / sizeof(first[0]); i++)
		gwrite(SLOT_GPA + first[i] * PAGE + 16, first[i]);
	GUEST_SYNC(1);
	/* Reads dirty nothing. */
	for (int i = 0; i < DIRTY_PAGES; i++)
		sum += gread(SLOT_GPA + i * PAGE + 16);
	GUEST_ASSERT_EQ(sum, 1 + 3 + 8 + 63 + 64 + 99);
	GUEST_SYNC(2);
	/* A page written before the last harvest must be logged again. */
	gwrite(SLOT_GPA + 3 * PAGE, 7);
	gwrite(SLOT_GPA + 50 * PAGE, 7);
	GUEST_SYNC(3);
	GUEST_DONE();
}

static int count_bits(const uint64_t *bm, int n)
{
	int c = 0;

	for (int i = 0; i < n; i++)
		c += !!(bm[i / 64] & (1ULL << (i % 64)));
	return c;
}

TEST(dirty_log)
{
	uint64_t bm[2], *huge_bm;
	struct vmx_dirty_log log = { .slot = 1 };
	struct test_vm *t;
	struct libvmx_vcpu *vcpu;
	uint8_t *mem = alloc_mem(DIRTY_PAGES * PAGE);
	int fd;

	ASSERT_NE(NULL, mem);
	ASSERT_EQ(0, test_vm_create(&t, 1, guest_dirty));
	vcpu = t->vcpus[0];
	fd = libvmx_vm_fd(t->vm);
	ASSERT_EQ(0, set_slot(fd, 1, VMX_MEM_DIRTY_LOG, SLOT_GPA,
			      DIRTY_PAGES * PAGE, mem));
	log.bitmap = (uint64_t)(uintptr_t)bm;
	memset(bm, 0xff, sizeof(bm));
	ASSERT_EQ(0, ioctl_err(fd, VMX_GET_DIRTY_LOG, &log));
	EXPECT_EQ(0, bm[0]);
	EXPECT_EQ(0, bm[1]);

	ASSERT_SYNC(vcpu, 1);
	ASSERT_EQ(0, ioctl_err(fd, VMX_GET_DIRTY_LOG, &log));
	EXPECT_EQ((1ULL << 1) | (1ULL << 3) | (1ULL << 8) | (1ULL << 63), bm[0]);
	EXPECT_EQ((1ULL << 0) | (1ULL << 35), bm[1]);
	/* Get-and-clear: nothing new since. */
	ASSERT_EQ(0, ioctl_err(fd, VMX_GET_DIRTY_LOG, &log));
	EXPECT_EQ(0, count_bits(bm, DIRTY_PAGES));

	ASSERT_SYNC(vcpu, 2);
	ASSERT_EQ(0, ioctl_err(fd, VMX_GET_DIRTY_LOG, &log));
	EXPECT_EQ(0, count_bits(bm, DIRTY_PAGES));

	ASSERT_SYNC(vcpu, 3);
	ASSERT_EQ(0, ioctl_err(fd, VMX_GET_DIRTY_LOG, &log));
	EXPECT_EQ((1ULL << 3) | (1ULL << 50), bm[0]);
	EXPECT_EQ(0, bm[1]);
	EXPECT_EQ(7, mem[3 * PAGE]);

	/* Errors. */
	log.flags = 1;
	EXPECT_EQ(-EINVAL, ioctl_err(fd, VMX_GET_DIRTY_LOG, &log));
	log.flags = 0;
	log.reserved[0] = 1;
	EXPECT_EQ(-EINVAL, ioctl_err(fd, VMX_GET_DIRTY_LOG, &log));
	log.reserved[0] = 0;
	log.slot = 0;		/* no dirty logging there */
	EXPECT_EQ(-EINVAL, ioctl_err(fd, VMX_GET_DIRTY_LOG, &log));
	log.slot = 9;
	EXPECT_EQ(-ENOENT, ioctl_err(fd, VMX_GET_DIRTY_LOG, &log));
	log.slot = 1;
	log.bitmap = 8;
	EXPECT_EQ(-EFAULT, ioctl_err(fd, VMX_GET_DIRTY_LOG, &log));
	EXPECT_EQ(-EFAULT, ioctl_err(fd, VMX_GET_DIRTY_LOG, NULL));
	/* Turning logging off and on again starts from a clean bitmap. */
	ASSERT_EQ(0, set_slot(fd, 1, 0, SLOT_GPA, DIRTY_PAGES * PAGE, mem));
	log.bitmap = (uint64_t)(uintptr_t)bm;
	EXPECT_EQ(-EINVAL, ioctl_err(fd, VMX_GET_DIRTY_LOG, &log));
	ASSERT_EQ(0, set_slot(fd, 1, VMX_MEM_DIRTY_LOG, SLOT_GPA,
			      DIRTY_PAGES * PAGE, mem));
	huge_bm = calloc(2, sizeof(uint64_t));
	log.bitmap = (uint64_t)(uintptr_t)huge_bm;
	EXPECT_EQ(0, ioctl_err(fd, VMX_GET_DIRTY_LOG, &log));
	EXPECT_EQ(0, huge_bm[0] | huge_bm[1]);
	free(huge_bm);
	ASSERT_UCALL(vcpu, UCALL_DONE);
	test_vm_destroy(t);
	munmap(mem, DIRTY_PAGES * PAGE);
}

/* Guest reads one word from each of the slots at @many_gpas. */
#define MANY_PROBES	4
static uint64_t many_gpas[MANY_PROBES];

static void guest_many(void)
{
	for (int i = 0; i < MANY_PROBES; i++)
		GUEST_ASSERT_EQ(gread(many_gpas[i]), 0x5150 + i);
	GUEST_DONE();
}

/* Every slot number up to max_memslots, one page each. */
TEST(many_slots)
{
	struct test_vm *t;
	uint32_t max;
	uint32_t *pages;
	int fd;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_many));
	max = t->caps.max_memslots;
	ASSERT_GE(max, 509);
	fd = libvmx_vm_fd(t->vm);
	pages = alloc_mem(MANY_PROBES * PAGE);
	ASSERT_NE(NULL, pages);
	for (int i = 0; i < MANY_PROBES; i++)
		pages[i * PAGE / 4] = 0x5150 + i;
	for (uint32_t s = 1; s < max; s++) {
		uint32_t probe = s == 1 ? 0 : s == 509 ? 1 : s == max - 2 ? 2 :
				 s == max - 1 ? 3 : MANY_PROBES;
		void *hva = (uint8_t *)pages + (probe % MANY_PROBES) * PAGE;
		uint64_t gpa = SLOT_GPA + (uint64_t)s * 2 * PAGE;

		ASSERT_EQ(0, set_slot(fd, s, 0, gpa, PAGE, hva)) TH_LOG("slot %u", s);
		if (probe < MANY_PROBES)
			many_gpas[probe] = gpa;
	}
	EXPECT_EQ(-EINVAL, set_slot(fd, max, 0, 0x7f0000000000ULL, PAGE, pages));
	sync_global_to_guest(t, many_gpas);
	ASSERT_UCALL(t->vcpus[0], UCALL_DONE);
	/* Delete half of them, in another order than created. */
	for (int s = max - 1; s >= 1; s -= 2) {
		ASSERT_EQ(0, set_slot(fd, s, 0, 0, 0, NULL)) TH_LOG("slot %d", s);
	}
	test_vm_destroy(t);
}

/* ---- slot changes while a vCPU runs on another thread ---- */

#define RACE_FLIPS	200

static uint32_t race_stop;

static void guest_race(void)
{
	uint32_t hits = 0, misses = 0;

	/* Until the VMM has changed the slot often enough. */
	do {
		uint32_t v = gread(SLOT_GPA + 64);

		if (v == 0x600d)
			hits++;
		else if (v == MMIO_MARK)
			misses++;
		else
			GUEST_ASSERT_EQ(v, 0x600d);
	} while (!*(volatile uint32_t *)&race_stop);
	GUEST_SYNC3(1, hits, misses);
	GUEST_DONE();
}

struct race_ctx {
	struct libvmx_vcpu *vcpu;
	volatile int done;
	int failed;
	uint64_t hits;
	struct ucall uc;
};

static void *race_vcpu_thread(void *arg)
{
	struct race_ctx *c = arg;
	struct vmx_run *run = libvmx_vcpu_run_area(c->vcpu);

	for (;;) {
		enum ucall_cmd cmd = test_run(c->vcpu, &c->uc);

		if (cmd == UCALL_SYNC) {
			c->hits = c->uc.args[1];
			continue;
		}
		if (cmd == UCALL_DONE)
			break;
		if (cmd == UCALL_NONE && run->exit_reason == VMX_EXIT_MMIO &&
		    !finish_mmio(c->vcpu))
			continue;
		c->failed = 1;
		break;
	}
	c->done = 1;
	return NULL;
}

TEST(slot_changes_while_running)
{
	struct race_ctx c = { 0 };
	struct test_vm *t;
	pthread_t th;
	uint32_t *mem = alloc_mem(PAGE), *other = alloc_mem(PAGE);
	int fd, flips = 0;

	ASSERT_NE(NULL, mem);
	ASSERT_NE(NULL, other);
	mem[16] = 0x600d;
	other[16] = 0x600d;
	ASSERT_EQ(0, test_vm_create(&t, 1, guest_race));
	fd = libvmx_vm_fd(t->vm);
	ASSERT_EQ(0, set_slot(fd, 1, 0, SLOT_GPA, PAGE, mem));
	c.vcpu = t->vcpus[0];
	ASSERT_EQ(0, pthread_create(&th, NULL, race_vcpu_thread, &c));
	while (!c.done && flips < RACE_FLIPS) {
		/* Delete, re-create on other memory, move away and back. */
		ASSERT_EQ(0, set_slot(fd, 1, 0, 0, 0, NULL));
		ASSERT_EQ(0, set_slot(fd, 1, 0, SLOT_GPA, PAGE, (flips & 1) ? mem : other));
		ASSERT_EQ(0, set_slot(fd, 1, 0, SLOT_GPA2, PAGE, (flips & 1) ? mem : other));
		ASSERT_EQ(0, set_slot(fd, 1, VMX_MEM_DIRTY_LOG, SLOT_GPA, PAGE,
				      (flips & 1) ? mem : other));
		flips++;
		/* Let the vCPU thread run in between, even on one CPU. */
		usleep(500);
	}
	race_stop = 1;
	sync_global_to_guest(t, race_stop);
	pthread_join(th, NULL);
	EXPECT_EQ(0, c.failed) TH_LOG("%s", test_describe(c.vcpu, &c.uc));
	EXPECT_EQ(RACE_FLIPS, flips);
	EXPECT_GT(c.hits, 0);
	test_vm_destroy(t);
}

/* ---- slot size bound (VMX_MEM_MAX_SLOT_SIZE) ---- */

#ifndef VMX_MEM_MAX_SLOT_SIZE
#define VMX_MEM_MAX_SLOT_SIZE	(1ULL << 40)
#endif
/* A user address with room for 2^46 bytes above it. */
#define BIG_HVA		0x100000000000ULL

/* No memory needs to be behind the range for these: they fail first. */
TEST(oversized_slots_refused)
{
	struct test_vm *t;
	int fd;

	ASSERT_EQ(0, test_vm_create(&t, 1, NULL));
	fd = libvmx_vm_fd(t->vm);
	/* Its bitmap would be 4 GiB: once a WARN in kvzalloc. */
	EXPECT_EQ(-EINVAL, set_slot(fd, 1, VMX_MEM_DIRTY_LOG, 0, 1ULL << 47,
				    (void *)0x1000));
	EXPECT_EQ(-EINVAL, set_slot(fd, 1, VMX_MEM_DIRTY_LOG, 1ULL << 46,
				    1ULL << 46, (void *)BIG_HVA));
	EXPECT_EQ(-EINVAL, set_slot(fd, 1, 0, 1ULL << 46, 1ULL << 46,
				    (void *)BIG_HVA));
	EXPECT_EQ(-EINVAL, set_slot(fd, 1, VMX_MEM_DIRTY_LOG, 1ULL << 42,
				    VMX_MEM_MAX_SLOT_SIZE + PAGE, (void *)BIG_HVA));
	test_vm_destroy(t);
}

#define LIMIT_TOUCHED	8

/* Writes one word at the start of 8 pages 64 MiB apart. */
static void guest_sparse(void)
{
	for (int i = 0; i < LIMIT_TOUCHED; i++)
		gwrite(SLOT_GPA + ((uint64_t)i << 26), 0xd1d0 + i);
	GUEST_DONE();
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * A slot of exactly the limit, dirty-logged, over MAP_NORESERVE memory
 * of which the guest touches 8 pages: accepted, and its 32 MiB bitmap is
 * harvested (in pieces, rescheduling in between: the rig fails on soft
 * lockup or RCU stall lines) with exactly those pages dirty.
 */
FIXTURE(big) {
	int unused;
};

FIXTURE_SETUP(big)
{
}

FIXTURE_TEARDOWN(big)
{
}

TEST_F_TIMEOUT(big, dirty_log_slot_at_the_limit, 120)
{
	uint64_t npages = VMX_MEM_MAX_SLOT_SIZE / PAGE;
	size_t bytes = npages / 8;
	struct vmx_dirty_log log = { .slot = 1 };
	struct test_vm *t;
	uint64_t *bm;
	uint8_t *mem;
	double t0;
	int fd;

	mem = mmap(NULL, VMX_MEM_MAX_SLOT_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	bm = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, bm);
	ASSERT_EQ(0, test_vm_create(&t, 1, guest_sparse));
	fd = libvmx_vm_fd(t->vm);
	ASSERT_EQ(0, set_slot(fd, 1, VMX_MEM_DIRTY_LOG, SLOT_GPA,
			      VMX_MEM_MAX_SLOT_SIZE, mem));
	log.bitmap = (uint64_t)(uintptr_t)bm;
	ASSERT_UCALL(t->vcpus[0], UCALL_DONE);
	t0 = now_s();
	ASSERT_EQ(0, ioctl_err(fd, VMX_GET_DIRTY_LOG, &log));
	TH_LOG("harvest of %lu pages: %.2f s", (unsigned long)npages,
	       now_s() - t0);
	for (int i = 0; i < LIMIT_TOUCHED; i++) {
		uint64_t page = (uint64_t)i << (26 - 12);

		EXPECT_TRUE(bm[page / 64] & (1ULL << (page % 64))) TH_LOG("page %d", i);
		bm[page / 64] &= ~(1ULL << (page % 64));
		EXPECT_EQ(0xd1d0 + i, *(uint32_t *)(mem + ((uint64_t)i << 26)));
	}
	EXPECT_TRUE(vmx_all_zero_u64(bm, bytes / 8));
	/* Get-and-clear: nothing the second time. */
	ASSERT_EQ(0, ioctl_err(fd, VMX_GET_DIRTY_LOG, &log));
	EXPECT_TRUE(vmx_all_zero_u64(bm, bytes / 8));
	test_vm_destroy(t);
	munmap(bm, bytes);
	munmap(mem, VMX_MEM_MAX_SLOT_SIZE);
}

static void guest_write_page1(void)
{
	gwrite(SLOT_GPA + PAGE, 0x1234);
	GUEST_DONE();
}

/* A harvest whose bitmap cannot be written loses no bit. */
TEST(dirty_log_efault_keeps_bits)
{
	struct vmx_dirty_log log = { .slot = 1, .bitmap = 8 };
	uint8_t *mem = alloc_mem(4 * PAGE);
	struct test_vm *t;
	uint64_t bm = 0;
	int fd;

	ASSERT_NE(NULL, mem);
	ASSERT_EQ(0, test_vm_create(&t, 1, guest_write_page1));
	fd = libvmx_vm_fd(t->vm);
	ASSERT_EQ(0, set_slot(fd, 1, VMX_MEM_DIRTY_LOG, SLOT_GPA, 4 * PAGE, mem));
	ASSERT_UCALL(t->vcpus[0], UCALL_DONE);
	EXPECT_EQ(-EFAULT, ioctl_err(fd, VMX_GET_DIRTY_LOG, &log));
	log.bitmap = (uint64_t)(uintptr_t)&bm;
	EXPECT_EQ(0, ioctl_err(fd, VMX_GET_DIRTY_LOG, &log));
	EXPECT_EQ(1ULL << 1, bm);
	EXPECT_EQ(0, ioctl_err(fd, VMX_GET_DIRTY_LOG, &log));
	EXPECT_EQ(0, bm);
	test_vm_destroy(t);
	munmap(mem, 4 * PAGE);
}

TEST_HARNESS_MAIN
