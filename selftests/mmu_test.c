// SPDX-License-Identifier: GPL-2.0
/*
 * The nested page table follows the VMM's address space: after munmap,
 * MADV_DONTNEED, mmap(MAP_FIXED), mremap or a fork's copy-on-write the
 * guest sees the new page, never the old one.  Also 2 MiB mappings over
 * THP, and more address spaces (vCPUs, VMs) than the CPU has ASIDs.
 */
#include "test_util.h"
#include "kselftest_harness.h"

#include <sys/mman.h>
#include <sys/wait.h>

#include "vmx_harness.h"
#include "guest.h"

#define PAGE		4096ULL
#define HUGE		(2ULL << 20)
#define SLOT_GPA	0x10000000ULL

static int set_slot(int vmfd, uint32_t slot, uint64_t gpa, uint64_t size,
		    void *hva)
{
	struct vmx_memslot m = {
		.slot = slot, .guest_phys = gpa, .size = size,
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

/* Guest: report the words at page @i of the slot each time it is asked. */
static void guest_reader(void)
{
	for (uint64_t round = 1;; round++) {
		volatile uint64_t *p = (volatile uint64_t *)(SLOT_GPA + 8);
		uint64_t v0 = p[0], v1 = p[PAGE / 8];

		GUEST_SYNC3(round, v0, v1);
		/* Write: the host must see it in whatever page is there now. */
		p[1] = round;
	}
}

static uint64_t sync_value(struct __test_metadata *_metadata,
			   struct libvmx_vcpu *vcpu, int which)
{
	struct ucall uc;
	enum ucall_cmd cmd = test_run(vcpu, &uc);

	EXPECT_EQ(UCALL_SYNC, cmd) TH_LOG("%s", test_describe(vcpu, &uc));
	return uc.args[1 + which];
}

FIXTURE(mn) {
	struct test_vm *t;
	uint64_t *mem;
};

FIXTURE_SETUP(mn)
{
	ASSERT_EQ(0, test_vm_create(&self->t, 1, guest_reader));
	self->mem = map_anon(NULL, 2 * PAGE);
	ASSERT_NE(NULL, self->mem);
	self->mem[1] = 0x1111;
	self->mem[PAGE / 8 + 1] = 0x2222;
	ASSERT_EQ(0, set_slot(libvmx_vm_fd(self->t->vm), 1, SLOT_GPA, 2 * PAGE,
			      self->mem));
	ASSERT_EQ(0x1111, sync_value(_metadata, self->t->vcpus[0], 0));
}

FIXTURE_TEARDOWN(mn)
{
	test_vm_destroy(self->t);
	munmap(self->mem, 2 * PAGE);
}

TEST_F(mn, madv_dontneed_gives_zeros)
{
	struct libvmx_vcpu *vcpu = self->t->vcpus[0];

	ASSERT_EQ(0, madvise(self->mem, PAGE, MADV_DONTNEED));
	EXPECT_EQ(0, self->mem[1]);
	EXPECT_EQ(0, sync_value(_metadata, vcpu, 0));
	EXPECT_EQ(1, self->mem[2]);	/* the guest's write of round 2 */
	/* The second page was not touched. */
	ASSERT_EQ(0, madvise(self->mem, PAGE, MADV_DONTNEED));
	EXPECT_EQ(0x2222, sync_value(_metadata, vcpu, 1));
	EXPECT_EQ(2, self->mem[2]);
}

TEST_F(mn, map_fixed_new_page)
{
	struct libvmx_vcpu *vcpu = self->t->vcpus[0];

	for (uint64_t i = 0; i < 5; i++) {
		uint64_t *p = map_anon(self->mem, PAGE);

		ASSERT_EQ(self->mem, p);
		p[1] = 0xabc0 + i;
		EXPECT_EQ(0xabc0 + i, sync_value(_metadata, vcpu, 0));
		EXPECT_EQ(i + 1, p[2]);
	}
}

TEST_F(mn, munmap_then_remap)
{
	struct libvmx_vcpu *vcpu = self->t->vcpus[0];
	uint64_t *p;

	ASSERT_EQ(0, munmap(self->mem, PAGE));
	/* Guest RAM without memory behind it: VMX_RUN says so. */
	EXPECT_EQ(-EFAULT, libvmx_vcpu_run(vcpu));
	p = map_anon(self->mem, PAGE);
	ASSERT_EQ(self->mem, p);
	p[1] = 0x5eed;
	EXPECT_EQ(0x5eed, sync_value(_metadata, vcpu, 0));
}

TEST_F(mn, mremap_onto_guest_ram)
{
	struct libvmx_vcpu *vcpu = self->t->vcpus[0];
	uint64_t *src = map_anon(NULL, PAGE), *p;

	ASSERT_NE(NULL, src);
	src[1] = 0x7e3a9;
	p = mremap(src, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, self->mem);
	ASSERT_EQ((void *)self->mem, (void *)p);
	EXPECT_EQ(0x7e3a9, sync_value(_metadata, vcpu, 0));
	EXPECT_EQ(1, self->mem[2]);
	/* And the guest RAM moved away: its old place is empty. */
	p = map_anon(NULL, PAGE);
	ASSERT_NE(NULL, p);
	p = mremap(self->mem, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, p);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0x7e3a9, p[1]);
	EXPECT_EQ(-EFAULT, libvmx_vcpu_run(vcpu));
	munmap(p, PAGE);
}

TEST_F(mn, fork_copy_on_write)
{
	struct libvmx_vcpu *vcpu = self->t->vcpus[0];
	int to_child[2], to_parent[2], status;
	uint64_t v = 0;
	pid_t pid;

	ASSERT_EQ(0, pipe(to_child));
	ASSERT_EQ(0, pipe(to_parent));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		/* The child's copy keeps the values of the fork. */
		if (read(to_child[0], &v, 1) != 1)
			_exit(2);
		v = self->mem[2];
		_exit(v == 0 ? 0 : 1);
	}
	/* The parent's guest writes after the fork: round 2. */
	self->mem[1] = 0x4444;
	EXPECT_EQ(0x4444, sync_value(_metadata, vcpu, 0));
	EXPECT_EQ(0x4444, sync_value(_metadata, vcpu, 0));
	EXPECT_EQ(2, self->mem[2]);
	ASSERT_EQ(1, write(to_child[1], &v, 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(to_parent[0]);
	close(to_parent[1]);
}

/* ---- transparent huge pages ---- */

static void guest_thp(void)
{
	volatile uint64_t *p = (volatile uint64_t *)SLOT_GPA;
	uint64_t n = 2 * HUGE / 8, bad = 0;

	for (uint64_t i = 0; i < n; i += 512)
		p[i] = i ^ 0x5a5a;
	GUEST_SYNC(1);
	for (uint64_t i = 0; i < n; i += 512)
		bad += p[i] != (i ^ 0xa5a5);
	GUEST_SYNC2(2, bad);
	/* A zapped 4 KiB piece reads zero, the rest is intact. */
	for (uint64_t i = 0; i < n; i += 512)
		bad += p[i] != (i == 512 * 3 ? 0 : (i ^ 0xa5a5));
	GUEST_SYNC2(3, bad);
	GUEST_DONE();
}

TEST(thp_backed_slot)
{
	struct test_vm *t;
	struct ucall uc;
	uint8_t *raw, *mem;
	uint64_t *w;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_thp));
	raw = map_anon(NULL, 3 * HUGE);
	ASSERT_NE(NULL, raw);
	mem = (uint8_t *)(((uintptr_t)raw + HUGE - 1) & ~(HUGE - 1));
	/* Best effort: THP may be off; the results must be right anyway. */
	madvise(mem, 2 * HUGE, MADV_HUGEPAGE);
	memset(mem, 0, 2 * HUGE);
	ASSERT_EQ(0, set_slot(libvmx_vm_fd(t->vm), 1, SLOT_GPA, 2 * HUGE, mem));
	ASSERT_SYNC(t->vcpus[0], 1);
	w = (uint64_t *)mem;
	for (uint64_t i = 0; i < 2 * HUGE / 8; i += 512) {
		ASSERT_EQ(i ^ 0x5a5a, w[i]) TH_LOG("word %lu", (unsigned long)i);
		w[i] = i ^ 0xa5a5;
	}
	ASSERT_UCALL_INTO(t->vcpus[0], UCALL_SYNC, &uc);
	EXPECT_EQ(2, uc.args[0]);
	EXPECT_EQ(0, uc.args[1]);
	/* Zap one 4 KiB page inside the (maybe) huge mapping. */
	ASSERT_EQ(0, madvise(mem + 3 * PAGE, PAGE, MADV_DONTNEED));
	ASSERT_UCALL_INTO(t->vcpus[0], UCALL_SYNC, &uc);
	EXPECT_EQ(3, uc.args[0]);
	EXPECT_EQ(0, uc.args[1]);
	ASSERT_UCALL(t->vcpus[0], UCALL_DONE);
	test_vm_destroy(t);
	munmap(raw, 3 * HUGE);
}

/* ---- ASIDs: more address spaces than the CPU has ---- */

#define ASID_VMS	6
#define ASID_VCPUS	4
#define ASID_ROUNDS	6

static uint64_t asid_token[ASID_VCPUS];

static void guest_asid(void)
{
	uint32_t a, b, c, d, id;

	guest_cpuid(1, 0, &a, &b, &c, &d);
	id = b >> 24;
	for (uint64_t round = 0;; round++) {
		GUEST_SYNC3(round, asid_token[id], id);
		asid_token[id] += 1;
	}
}

TEST(more_vcpus_than_asids)
{
	struct test_vm *vms[ASID_VMS];
	struct ucall uc;

	for (int v = 0; v < ASID_VMS; v++) {
		ASSERT_EQ(0, test_vm_create(&vms[v], ASID_VCPUS, guest_asid));
		for (int i = 0; i < ASID_VCPUS; i++)
			asid_token[i] = (uint64_t)(v + 1) << 32 | (uint64_t)i << 16;
		sync_global_to_guest(vms[v], asid_token);
	}
	/* Interleaved: every vCPU of every VM in turn, several rounds. */
	for (uint64_t round = 0; round < ASID_ROUNDS; round++) {
		for (int v = 0; v < ASID_VMS; v++) {
			for (int i = 0; i < ASID_VCPUS; i++) {
				uint64_t want = ((uint64_t)(v + 1) << 32 |
						 (uint64_t)i << 16) + round;

				ASSERT_UCALL_INTO(vms[v]->vcpus[i], UCALL_SYNC, &uc);
				EXPECT_EQ(round, uc.args[0]);
				EXPECT_EQ(want, uc.args[1]) TH_LOG("vm %d vcpu %d", v, i);
				EXPECT_EQ(i, uc.args[2]);
			}
		}
		/* What the guests wrote is in their own memory. */
		for (int v = 0; v < ASID_VMS; v++) {
			sync_global_from_guest(vms[v], asid_token);
			for (int i = 0; i < ASID_VCPUS; i++)
				EXPECT_EQ(((uint64_t)(v + 1) << 32 |
					   (uint64_t)i << 16) + round, asid_token[i]);
		}
	}
	for (int v = 0; v < ASID_VMS; v++)
		test_vm_destroy(vms[v]);
}

TEST_HARNESS_MAIN
