// SPDX-License-Identifier: GPL-2.0
/*
 * vmxfuzz: scenarios.  A worker creates a VM, its slots and vCPUs, starts
 * one thread per vCPU, and while they run it changes the slots and the
 * memory behind them (munmap, mremap, madvise, mprotect), rewrites the
 * CPUID table, flips run-area fields, sends signals and forks; then it
 * stops the vCPU threads and lets the descriptors be closed in a random
 * order, by whichever worker drains the close pool.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fuzz.h"

#define FZ_EXPECT(what, expr, want) ({					\
	int __ret = (expr);						\
	fz_expect(what, __ret, errno, want, false);			\
	__ret;								\
})

#define FZ_GPA_LIMIT	(1ULL << 48)
#define FZ_HUGE		(2ULL << 20)
#define FZ_MAX_CHILDREN	4

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP	4
#endif
#define FZ_MREMAP	(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP)

/* ---- the close pool: descriptors closed later, by any worker ---- */

static pthread_mutex_t fz_pool_lock = PTHREAD_MUTEX_INITIALIZER;
static int fz_pool[512];
static unsigned int fz_npool;

static void fz_pool_push(int fd)
{
	pthread_mutex_lock(&fz_pool_lock);
	if (fz_npool < ARRAY_SIZE(fz_pool)) {
		fz_pool[fz_npool++] = fd;
		fd = -1;
	}
	pthread_mutex_unlock(&fz_pool_lock);
	if (fd >= 0)
		close(fd);
}

void fz_close_pool_drain(struct fz_rng *r, bool all)
{
	unsigned int n;

	for (;;) {
		int fd = -1;

		pthread_mutex_lock(&fz_pool_lock);
		if (fz_npool && (all || fz_chance(r, 60))) {
			n = fz_below(r, fz_npool);
			fd = fz_pool[n];
			fz_pool[n] = fz_pool[--fz_npool];
		}
		pthread_mutex_unlock(&fz_pool_lock);
		if (fd < 0)
			return;
		close(fd);
	}
}

/* ---- slots ---- */

static bool fz_overlaps(struct fz_scen *s, unsigned int self, uint64_t gpa,
			uint64_t size)
{
	unsigned int i;

	for (i = 0; i < s->nreg; i++) {
		struct fz_region *g = &s->reg[i];

		if (i != self && g->in_kernel && gpa < g->gpa + g->size &&
		    g->gpa < gpa + size)
			return true;
	}
	return false;
}

static int fz_set_slot(struct fz_scen *s, uint32_t slot, uint32_t flags,
		       uint64_t gpa, uint64_t size, const void *hva)
{
	struct vmx_memslot m = {
		.slot = slot, .flags = flags, .guest_phys = gpa, .size = size,
		.user_addr = (uintptr_t)hva,
	};

	fz_count(FZ_SLOTOPS);
	return fz_ioctl(s->vm_fd, VMX_SET_MEMSLOT, &m);
}

static uint64_t fz_random_gpa(struct fz_rng *r, uint64_t size)
{
	uint64_t align = size >= FZ_HUGE ? FZ_HUGE : 4096;

	if (fz_chance(r, 10))
		return (FZ_GPA_LIMIT - size - fz_rand(r) % (1ULL << 40)) & ~(align - 1);
	return (0x100000 + fz_rand(r) % 0x3fe00000ULL) & ~(align - 1);
}

/* Create, move or re-flag region @i's slot; the ABI says what happens. */
static void fz_slot_place(struct fz_scen *s, unsigned int i, uint64_t gpa,
			  uint32_t flags)
{
	struct fz_region *g = &s->reg[i];
	bool clash = fz_overlaps(s, i, gpa, g->size);
	int ret;

	ret = fz_set_slot(s, g->slot, flags, gpa, g->size, g->hva);
	if (!fz_expect(g->in_kernel ? "SET_MEMSLOT move/re-flag" : "SET_MEMSLOT create",
		       ret, errno, clash ? EEXIST : 0, false) || ret)
		return;
	g->in_kernel = true;
	g->gpa = gpa;
	g->flags = flags;
}

static void fz_slot_delete(struct fz_scen *s, unsigned int i)
{
	struct fz_region *g = &s->reg[i];
	int ret = fz_set_slot(s, g->slot, 0, 0, 0, NULL);

	if (fz_expect("SET_MEMSLOT delete", ret, errno, g->in_kernel ? 0 : ENOENT,
		      false) && !ret)
		g->in_kernel = false;
}

/* One field of an otherwise valid slot that the ABI refuses. */
static void fz_slot_invalid(struct fz_scen *s, struct fz_region *g)
{
	struct fz_rng *r = &s->rng;
	struct vmx_memslot m = {
		.slot = g->slot, .flags = g->flags, .guest_phys = g->gpa,
		.size = g->size, .user_addr = (uintptr_t)g->hva,
	};
	int want = EINVAL;

	if (!g->in_kernel) {
		m.guest_phys = fz_random_gpa(r, g->size);
		/* One error at a time: no EEXIST in the way of the others. */
		if (fz_overlaps(s, g - s->reg, m.guest_phys, m.size))
			return;
	}
	switch (fz_below(r, 9)) {
	case 0:
		m.slot = fz.caps.max_memslots + fz_below(r, 1000);
		break;
	case 1:
		m.flags |= 4U << fz_below(r, 30);
		break;
	case 2:
		m.reserved[fz_below(r, 2)] = 1ULL << fz_below(r, 64);
		break;
	case 3:
		*(fz_chance(r, 50) ? &m.guest_phys : &m.user_addr) += 1 + fz_below(r, 4095);
		break;
	case 4:
		m.size += 1 + fz_below(r, 4095);
		break;
	case 5:
		m.guest_phys = FZ_GPA_LIMIT - (fz_below(r, 2) ? 0 : 4096) + 4096 *
			       fz_below(r, 4);
		if (m.guest_phys + m.size <= FZ_GPA_LIMIT)
			m.guest_phys = FZ_GPA_LIMIT;
		break;
	case 6:
		if (!g->in_kernel)
			return;
		/* An existing slot with another size or address. */
		if (fz_chance(r, 50))
			m.size += 4096;
		else
			m.user_addr += 4096;
		if (fz_overlaps(s, g - s->reg, m.guest_phys, m.size))
			return;
		break;
	case 7:
		if (g->in_kernel)
			return;
		m.user_addr = 0xffff800000000000ULL + (fz_rand(r) & 0x7ffffffff000ULL);
		want = EFAULT;
		break;
	default:
		if (g->in_kernel)
			return;
		m.size = 0;
		want = ENOENT;
		break;
	}
	fz_count(FZ_SLOTOPS);
	if (FZ_EXPECT("SET_MEMSLOT with an invalid field",
		      fz_ioctl(s->vm_fd, VMX_SET_MEMSLOT, &m), want) >= 0)
		g->in_kernel = m.size != 0;
}

static void fz_slot_op(struct fz_scen *s)
{
	struct fz_rng *r = &s->rng;
	unsigned int i = fz_below(r, s->nreg);
	struct fz_region *g = &s->reg[i];
	uint32_t flags = fz_below(r, 4);

	if (i == 0 && fz_chance(r, 70))
		i = fz_below(r, s->nreg), g = &s->reg[i];
	if (s->vm_fd < 0)
		return;
	switch (fz_below(r, 6)) {
	case 0:
		fz_slot_invalid(s, g);
		break;
	case 1:
		fz_slot_delete(s, i);
		break;
	case 2:
		fz_slot_place(s, i, g->in_kernel ? g->gpa : fz_random_gpa(r, g->size),
			      flags);
		break;
	case 3:
		/* Back home: slot 0 at 0, where the guest's code is. */
		fz_slot_place(s, i, i == 0 ? 0 : g->gpa ? g->gpa :
			      fz_random_gpa(r, g->size), g->flags & ~VMX_MEM_READONLY);
		break;
	default:
		fz_slot_place(s, i, fz_random_gpa(r, g->size), flags);
		break;
	}
}

/* ---- backing memory ---- */

static void fz_reserve(void *p, uint64_t len)
{
	/* Keep the range ours: nothing else of this process may land there. */
	if (mmap(p, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
		 MAP_FIXED, -1, 0) == MAP_FAILED)
		fz_mismatch("re-reserving %p: %s", p, strerror(errno));
}

static bool fz_map_rw(struct fz_region *g, uint8_t *at)
{
	int share = g->shared ? MAP_SHARED : MAP_PRIVATE;

	return mmap(at, g->size, PROT_READ | PROT_WRITE,
		    share | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED;
}

/* Fresh memory behind the slot again; slot 0 gets its tables back. */
static void fz_mem_restore(struct fz_scen *s, struct fz_region *g)
{
	uint8_t *other = g->hva == g->resv ? g->resv + g->size : g->resv;

	if (!fz_map_rw(g, g->hva)) {
		fz_mismatch("mmap over a slot: %s", strerror(errno));
		return;
	}
	fz_reserve(other, g->size);
	if (g->size >= FZ_HUGE && fz_chance(&s->rng, 50))
		madvise(g->hva, g->size, MADV_HUGEPAGE);
	g->accessible = true;
	if (g == &s->reg[0])
		fz_guest_tables(g->hva);
}

static void fz_mem_op(struct fz_scen *s)
{
	struct fz_rng *r = &s->rng;
	struct fz_region *g = &s->reg[fz_below(r, s->nreg)];
	uint64_t off = fz_below(r, g->size / 4096) * 4096ULL;
	uint64_t len = 4096ULL * (1 + fz_below(r, (g->size - off) / 4096));
	uint8_t *other = g->hva == g->resv ? g->resv + g->size : g->resv;

	fz_count(FZ_MEMOPS);
	pthread_mutex_lock(&s->mem_lock);
	switch (fz_below(r, 9)) {
	case 0:
		madvise(g->hva + off, len, MADV_DONTNEED);
		if (g == &s->reg[0] && g->accessible && fz_chance(r, 70))
			fz_guest_tables(g->hva);
		break;
	case 1:
		/*
		 * munmap() in one step with a mapping of nothing: the same
		 * unmapping (mmu notifier) for the VM, and no moment at
		 * which another mapping of ours could land behind the slot.
		 */
		fz_reserve(g->hva + off, len);
		g->accessible = false;
		break;
	case 2:
		/*
		 * The memory moves away; the slot still points at the old
		 * place, left mapped but empty (MREMAP_DONTUNMAP).
		 */
		if (!g->accessible || mremap(g->hva, g->size, g->size, FZ_MREMAP,
					     other) == MAP_FAILED)
			break;
		g->accessible = false;
		/* ...and back, with its contents, a moment later. */
		if (fz_chance(r, 60) && mremap(other, g->size, g->size, FZ_MREMAP,
					       g->hva) != MAP_FAILED)
			g->accessible = true;
		fz_reserve(other, g->size);
		break;
	case 3:
		mprotect(g->hva + off, len, PROT_READ);
		g->accessible = false;
		break;
	case 4:
		madvise(g->hva + off, len, FZ_PICK(r, ((const int[]){
			MADV_PAGEOUT, MADV_COLD, MADV_FREE, MADV_NOHUGEPAGE,
			MADV_HUGEPAGE })));
		break;
	case 5:
		if (g->accessible)
			memset(g->hva + off, fz_rand(r), fz_below(r, len));
		break;
	default:
		if (!g->accessible || fz_chance(r, 30))
			fz_mem_restore(s, g);
		break;
	}
	pthread_mutex_unlock(&s->mem_lock);
}

static bool fz_region_init(struct fz_scen *s, unsigned int i, uint64_t size)
{
	struct fz_region *g = &s->reg[i];
	uint64_t span = 2 * size + FZ_HUGE;
	uint8_t *p;

	p = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		 -1, 0);
	if (p == MAP_FAILED)
		return false;
	/* 2 MiB aligned, so that huge nested mappings are possible. */
	g->resv = (uint8_t *)(((uintptr_t)p + FZ_HUGE - 1) & ~(FZ_HUGE - 1));
	munmap(p, g->resv - p);
	munmap(g->resv + 2 * size, p + span - (g->resv + 2 * size));
	g->size = size;
	g->hva = g->resv;
	g->shared = fz_chance(&s->rng, 20);
	fz_mem_restore(s, g);
	return true;
}

static uint32_t fz_pick_slot_number(struct fz_scen *s)
{
	struct fz_rng *r = &s->rng;
	uint32_t n;
	unsigned int i;

again:
	if (fz_chance(r, 70))
		n = fz_below(r, 8);
	else if (fz_chance(r, 50))
		n = fz.caps.max_memslots - 1 - fz_below(r, 2);
	else
		n = fz_below(r, fz.caps.max_memslots);
	for (i = 0; i < s->nreg; i++)
		if (s->reg[i].slot == n)
			goto again;
	return n;
}

static void fz_memory_init(struct fz_scen *s)
{
	static const uint64_t sizes[] = {
		4096, 0x10000, 0x100000, FZ_HUGE, 2 * FZ_HUGE,
	};
	struct fz_rng *r = &s->rng;
	unsigned int n = 1 + fz_below(r, FZ_MAX_REGIONS);
	unsigned int i;

	for (i = 0; i < n; i++) {
		uint64_t size = i ? FZ_PICK(r, sizes) : FZ_RAM0_SIZE;
		struct fz_region *g = &s->reg[i];

		if (!fz_region_init(s, i, size))
			break;
		g->slot = fz_pick_slot_number(s);
		s->nreg++;
		fz_slot_place(s, i, i ? fz_random_gpa(r, size) : 0,
			      i && fz_chance(r, 30) ? fz_below(r, 4) : 0);
		s->targets[s->ntargets++] = g->gpa;
		if (size > 4096)
			s->targets[s->ntargets++] = g->gpa + size - 4096;
	}
	s->targets[s->ntargets++] = FZ_RAM0_SIZE;		/* MMIO hole */
	s->targets[s->ntargets++] = 0xfee00000;
	s->targets[s->ntargets++] = FZ_GPA_LIMIT - 4096;
}

static void fz_memory_free(struct fz_scen *s)
{
	unsigned int i;

	for (i = 0; i < s->nreg; i++)
		munmap(s->reg[i].resv, 2 * s->reg[i].size);
}

/* ---- CPUID ---- */

static void fz_set_cpuid(struct fz_scen *s)
{
	struct fz_rng *r = &s->rng;
	const struct vmx_cpuid *d = fz.default_cpuid;
	size_t sz = sizeof(*d) + VMX_MAX_CPUID_ENTRIES * sizeof(d->entries[0]);
	struct vmx_cpuid *c = malloc(sz);
	uint32_t i, n;
	bool changed;
	int ret;

	if (!c || s->vm_fd < 0)
		goto out;
	memcpy(c, d, sizeof(*d) + d->nent * sizeof(d->entries[0]));
	n = fz_below(r, 6);
	changed = n;
	while (n--) {
		struct vmx_cpuid_entry *e;

		if (!c->nent)
			break;
		e = &c->entries[fz_below(r, c->nent)];
		(&e->eax)[fz_below(r, 4)] ^= 1U << fz_below(r, 32);
		e->flags = fz_chance(r, 20) ? VMX_CPUID_INDEXED : e->flags;
		e->index = fz_chance(r, 10) ? fz_rand(r) : e->index;
	}
	if (fz_chance(r, 20))
		c->nent = fz_below(r, c->nent + 1);
	while (fz_chance(r, 30) && c->nent < VMX_MAX_CPUID_ENTRIES) {
		i = c->nent++;
		memset(&c->entries[i], 0, sizeof(c->entries[i]));
		c->entries[i].function = fz_rand(r);
		c->entries[i].eax = fz_rand(r);
		changed = true;
	}
	/*
	 * The default table (or a part of it) is always taken; a changed one
	 * may hold bits the module cannot honour, which it refuses (EINVAL).
	 */
	ret = fz_ioctl(s->vm_fd, VMX_SET_CPUID, c);
	if (changed && ret < 0 && errno == EINVAL)
		ret = 0;
	else if (changed && ret == 0)
		s->cpuid_changed = true;
	FZ_EXPECT("SET_CPUID", ret, 0);
out:
	free(c);
}

/* ---- vCPUs ---- */

static void fz_vcpu_add(struct fz_scen *s)
{
	struct fz_rng *r = &s->rng;
	struct fz_vcpu *v = &s->vcpu[s->nvcpu];
	struct vmx_vcpu_create c = { 0 };
	unsigned int i;

	if (s->nvcpu >= FZ_MAX_VCPUS || s->vm_fd < 0)
		return;
	/* Ids 0-3 select the code area; a high id would not fit. */
	do {
		c.id = fz_below(r, FZ_MAX_VCPUS);
		for (i = 0; i < s->nvcpu; i++)
			if (s->vcpu[i].id == c.id)
				break;
	} while (i < s->nvcpu);
	v->fd = FZ_EXPECT("CREATE_VCPU", fz_ioctl(s->vm_fd, VMX_CREATE_VCPU, &c), 0);
	if (v->fd < 0)
		return;
	v->run = mmap(NULL, VMX_RUN_AREA_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		      v->fd, 0);
	if (v->run == MAP_FAILED) {
		fz_mismatch("mmap of the run area: %s", strerror(errno));
		close(v->fd);
		return;
	}
	v->prog = calloc(1, sizeof(*v->prog));
	if (!v->prog) {
		munmap(v->run, VMX_RUN_AREA_SIZE);
		close(v->fd);
		return;
	}
	v->s = s;
	v->id = c.id;
	v->op = "starting";
	fz_rng_seed(&v->rng, fz_rand(r), c.id);
	s->nvcpu++;
	fz_count(FZ_VCPUS);
	v->started = !pthread_create(&v->thread, NULL, fz_vcpu_thread, v);
}

/* Stop and join the vCPU threads; false if one is stuck in the kernel. */
static bool fz_vcpus_stop(struct fz_scen *s)
{
	uint64_t deadline = fz_now_ns() + 10000000000ULL;
	unsigned int i;
	bool all;

	atomic_store(&s->stop, true);
	do {
		all = true;
		for (i = 0; i < s->nvcpu; i++) {
			struct fz_vcpu *v = &s->vcpu[i];

			if (!v->started || atomic_load(&v->exited))
				continue;
			all = false;
			v->run->immediate_exit = 1;
			fz_vcpu_kick(v);
		}
		if (!all)
			usleep(2000);
	} while (!all && fz_now_ns() < deadline);
	for (i = 0; i < s->nvcpu; i++) {
		struct fz_vcpu *v = &s->vcpu[i];

		if (!v->started)
			continue;
		if (!atomic_load(&v->exited)) {
			fz_count(FZ_HANGS);
			fz_mismatch("worker %u scenario %llu: vCPU %u thread stuck in %s for 10 s",
				    s->worker, (unsigned long long)s->serial, v->id,
				    v->op);
			fz_vcpu_dump(v);
			return false;
		}
		pthread_join(v->thread, NULL);
		v->started = false;
	}
	return true;
}

/* ---- the worker's own calls while the vCPUs run ---- */

static void fz_poke_vcpu(struct fz_scen *s)
{
	struct fz_rng *r = &s->rng;
	struct fz_vcpu *v;
	union {
		struct vmx_regs regs;
		struct vmx_sregs sregs;
		struct vmx_events events;
	} u;
	unsigned long req;
	int ret;

	if (!s->nvcpu)
		return;
	v = &s->vcpu[fz_below(r, s->nvcpu)];
	switch (fz_below(r, 5)) {
	case 0:
		fz_vcpu_kick(v);
		break;
	case 1:
		v->run->immediate_exit = 1;
		fz_vcpu_kick(v);
		break;
	case 2:
		/*
		 * Input fields only: the vCPU thread checks the output fields
		 * and the sync masks it set itself against the ABI.
		 */
		fz_flip_run_inputs(r, v->run);
		break;
	default:
		/* Only read: the vCPU thread's own checks assume its state. */
		req = FZ_PICK(r, ((const unsigned long[]){
			VMX_GET_REGS, VMX_GET_SREGS, VMX_GET_EVENTS }));
		ret = fz_ioctl(v->fd, req, &u);
		fz_expect("GET_* on a vCPU another thread drives", ret, errno, 0, true);
		break;
	}
}

/*
 * The child of fork(): only the VM's creator may run or change it (EIO);
 * VM_GET_INFO works for anyone.  Async-signal-safe calls only; the
 * result is a bit mask of failed checks in the exit status.
 */
static void __attribute__((noreturn)) fz_child(struct fz_scen *s, uint64_t seed)
{
	struct fz_rng r = { .s = seed };
	struct vmx_memslot m = { .slot = s->reg[0].slot };
	struct vmx_vcpu_create c = { .id = FZ_MAX_VCPUS };
	struct vmx_vm_info info;
	struct vmx_regs regs;
	struct timespec ts = { 0, fz_below(&r, 20000000) };
	int bad = 0;
	unsigned int i;

	alarm(10);
	for (i = 0; i < s->nvcpu; i++) {
		if (ioctl(s->vcpu[i].fd, VMX_RUN, NULL) != -1 || errno != EIO)
			bad |= 1;
		if (ioctl(s->vcpu[i].fd, VMX_GET_REGS, &regs) != -1 || errno != EIO)
			bad |= 2;
		if (fz_chance(&r, 50))
			close(s->vcpu[i].fd);
	}
	if (s->vm_fd >= 0) {
		if (ioctl(s->vm_fd, VMX_VM_GET_INFO, &info))
			bad |= 4;
		if (ioctl(s->vm_fd, VMX_SET_MEMSLOT, &m) != -1 || errno != EIO)
			bad |= 8;
		if (ioctl(s->vm_fd, VMX_CREATE_VCPU, &c) != -1 || errno != EIO)
			bad |= 16;
		if (fz_chance(&r, 50))
			close(s->vm_fd);
	}
	/* Sometimes the child's copies are the last ones left. */
	nanosleep(&ts, NULL);
	_exit(bad);
}

static void fz_fork(struct fz_scen *s, pid_t *children, unsigned int *nchildren)
{
	uint64_t seed = fz_rand(&s->rng);
	pid_t pid;

	if (*nchildren >= FZ_MAX_CHILDREN)
		return;
	pid = fork();
	if (pid == 0)
		fz_child(s, seed);
	if (pid < 0)
		return;
	fz_count(FZ_FORKS);
	children[(*nchildren)++] = pid;
}

static void fz_reap(pid_t *children, unsigned int n)
{
	unsigned int i;
	int status;

	for (i = 0; i < n; i++) {
		if (waitpid(children[i], &status, 0) != children[i])
			continue;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			continue;
		if (WIFEXITED(status))
			fz_mismatch("fork child: failed checks 0x%x (not EIO: 1 RUN, 2 GET_REGS, 8 SET_MEMSLOT, 16 CREATE_VCPU; 4 VM_GET_INFO failed)",
				    WEXITSTATUS(status));
		else
			fz_mismatch("fork child killed by signal %d",
				    WTERMSIG(status));
	}
}

static void fz_chaos(struct fz_scen *s, pid_t *children, unsigned int *nchildren)
{
	struct fz_rng *r = &s->rng;
	unsigned int op = fz_below(r, 100);

	fz.worker_op[s->worker] = "chaos";

	if (op < 20 && fz_on(FZC_SLOT))
		fz_slot_op(s);
	else if (op >= 20 && op < 38 && fz_on(FZC_MEM))
		fz_mem_op(s);
	else if (op >= 38 && op < 42 && fz_on(FZC_CPUID))
		fz_set_cpuid(s);
	else if (op >= 42 && op < 68 && fz_on(FZC_POKE))
		fz_poke_vcpu(s);
	else if (op >= 68 && op < 78 && s->vm_fd >= 0 && fz_on(FZC_PROBE))
		fz_probe_vm(s);
	else if (op >= 78 && op < 81 && fz_on(FZC_PROBE))
		fz_probe_dev(r);
	else if (op >= 81 && op < 83 && fz_on(FZC_FORK))
		fz_fork(s, children, nchildren);
	else if (op >= 83 && op < 85)
		fz_vcpu_add(s);
	else if (op == 85 && s->vm_fd >= 0 && fz_chance(r, 30) && fz_on(FZC_CLOSE)) {
		/* The VM lives on through its vCPU fds. */
		fz_pool_push(s->vm_fd);
		s->vm_fd = -1;
	} else if (op >= 86 && op < 90) {
		fz_close_pool_drain(r, false);
	}
	if (fz_chance(r, 50))
		usleep(fz_below(r, 2000));
}

/* ---- teardown ---- */

static void fz_teardown(struct fz_scen *s)
{
	struct fz_rng *r = &s->rng;
	bool unmap_first = fz_chance(r, 30);
	unsigned int i, j;
	int fds[FZ_MAX_VCPUS + 1];
	unsigned int nfds = 0;

	if (s->vm_fd >= 0 && fz_chance(r, 30))
		for (i = 0; i < s->nreg; i++)
			if (s->reg[i].in_kernel)
				fz_slot_delete(s, i);
	if (unmap_first)
		fz_memory_free(s);
	for (i = 0; i < s->nvcpu; i++) {
		if (fz_chance(r, 50))
			munmap(s->vcpu[i].run, VMX_RUN_AREA_SIZE);
		else
			s->vcpu[i].run = NULL;	/* unmapped after the fds */
		fds[nfds++] = s->vcpu[i].fd;
	}
	if (s->vm_fd >= 0)
		fds[nfds++] = s->vm_fd;
	/* Shuffle, then close some now and leave the rest to the pool. */
	for (i = nfds; i > 1; i--) {
		j = fz_below(r, i);
		int t = fds[i - 1];

		fds[i - 1] = fds[j];
		fds[j] = t;
	}
	for (i = 0; i < nfds; i++) {
		if (fz_chance(r, 50))
			close(fds[i]);
		else
			fz_pool_push(fds[i]);
	}
	if (!unmap_first)
		fz_memory_free(s);
}

static void fz_scen_run(struct fz_scen *s)
{
	struct vmx_vm_create c = { 0 };
	uint64_t end = fz_now_ns() + (20 + fz_below(&s->rng, 300)) * 1000000ULL;
	pid_t children[FZ_MAX_CHILDREN];
	unsigned int nchildren = 0, i, n;
	struct vmx_run *runs[FZ_MAX_VCPUS] = { NULL };

	fz.worker_op[s->worker] = "setup";
	s->vm_fd = FZ_EXPECT("CREATE_VM", fz_ioctl(fz.dev_fd, VMX_CREATE_VM, &c), 0);
	if (s->vm_fd < 0)
		return;
	fz_count(FZ_SCENARIOS);
	pthread_mutex_init(&s->mem_lock, NULL);
	fz_memory_init(s);
	if (fz_chance(&s->rng, 30))
		fz_set_cpuid(s);
	n = 1 + fz_below(&s->rng, 3);
	for (i = 0; i < n; i++)
		fz_vcpu_add(s);
	while (fz_now_ns() < end && !fz_stopping())
		fz_chaos(s, children, &nchildren);
	fz.worker_op[s->worker] = "stopping vCPUs";
	if (!fz_vcpus_stop(s)) {
		/* A thread is stuck in the kernel: leave everything as it is. */
		atomic_store(&fz.stop, true);
		return;
	}
	fz.worker_op[s->worker] = "reaping children";
	fz_reap(children, nchildren);
	fz.worker_op[s->worker] = "teardown";
	for (i = 0; i < s->nvcpu; i++)
		runs[i] = s->vcpu[i].run;
	fz_teardown(s);
	for (i = 0; i < s->nvcpu; i++) {
		if (!s->vcpu[i].run)
			munmap(runs[i], VMX_RUN_AREA_SIZE);
		free(s->vcpu[i].prog);
	}
	pthread_mutex_destroy(&s->mem_lock);
}

void *fz_worker(void *arg)
{
	unsigned int idx = (unsigned int)(uintptr_t)arg;
	struct fz_rng r;
	uint64_t serial = 0;

	fz_rng_seed(&r, fz.opts.seed, idx);
	while (!fz_stopping()) {
		struct fz_scen *s = calloc(1, sizeof(*s));

		if (!s)
			break;
		s->worker = idx;
		s->serial = serial++;
		fz_rng_seed(&s->rng, fz_rand(&r), idx);
		fz_note("worker %u scenario %llu", idx, (unsigned long long)s->serial);
		fz_scen_run(s);
		if (fz.count[FZ_HANGS])
			break;	/* @s may still be in use by a stuck thread */
		free(s);
		fz_close_pool_drain(&r, false);
		if (fz_chance(&r, 20))
			fz_probe_dev(&r);
	}
	return NULL;
}
