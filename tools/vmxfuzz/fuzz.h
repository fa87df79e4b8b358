/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmxfuzz: an ABI-aware fuzzer for /dev/vmx.
 *
 * Worker threads each run "scenarios" one after the other: a VM with a
 * few memory slots and vCPUs, each vCPU driven by a thread of its own that
 * mutates the vCPU's state and runs generated guest code, while the
 * worker itself changes slots and their backing memory, flips run-area
 * fields, sends signals, forks, and finally closes everything in a random
 * order.  Every choice comes from a per-thread generator seeded from
 * --seed, so a seed replays the same choices (thread interleaving aside).
 *
 * Where the ABI documents an errno for an input the fuzzer knows to be
 * valid or invalid, the result is checked and a mismatch is counted and
 * printed.  Locking: a scenario's memory layout changes only in its
 * worker, under @mem_lock; vCPU threads take it to write guest code.
 */
#ifndef VMXFUZZ_H
#define VMXFUZZ_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <linux/vmx.h>

#define FZ_MAX_REGIONS		6
#define FZ_MAX_VCPUS		4
#define FZ_PROG_MAX		0x1000	/* per vCPU, at FZ_CODE + id * FZ_PROG_MAX */

/* ---- deterministic choices ---- */

struct fz_rng {
	uint64_t s;
};

static inline uint64_t fz_rand(struct fz_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint32_t fz_below(struct fz_rng *r, uint32_t n)
{
	return n ? (uint32_t)(fz_rand(r) % n) : 0;
}

/* True with probability @pct percent. */
static inline bool fz_chance(struct fz_rng *r, unsigned int pct)
{
	return fz_below(r, 100) < pct;
}

static inline void fz_rng_seed(struct fz_rng *r, uint64_t a, uint64_t b)
{
	r->s = a * 0x2545f4914f6cdd1dULL ^ (b + 1) * 0x9e3779b97f4a7c15ULL;
	fz_rand(r);
}

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

/* Pick one element of a constant array. */
#define FZ_PICK(r, arr)	((arr)[fz_below((r), ARRAY_SIZE(arr))])

/* ---- global state ---- */

/* Operation classes --disable can switch off (to narrow a finding down). */
enum fz_class {
	FZC_SLOT, FZC_MEM, FZC_CPUID, FZC_POKE, FZC_FORK, FZC_CLOSE, FZC_REGS,
	FZC_SREGS, FZC_FPU, FZC_MSRS, FZC_EVENTS, FZC_FLIP, FZC_PROBE,
	FZC_REAL, FZC_PROT32, FZC_LONG, FZC_USER64, FZC_RAW, FZC_NR
};

struct fz_opts {
	uint64_t seed;
	unsigned int time_s;
	unsigned int threads;
	bool verbose;
	uint32_t disabled;	/* 1 << enum fz_class */
	int replay_mode;	/* --replay MODE:HEX: every vCPU runs this */
	uint8_t replay[256];
	unsigned int replay_len;
};

enum fz_counter {
	FZ_CALLS, FZ_MISMATCH, FZ_RUNS, FZ_EINTR, FZ_EFAULT, FZ_EBUSY,
	FZ_SCENARIOS, FZ_VCPUS, FZ_FORKS, FZ_MEMOPS, FZ_SLOTOPS, FZ_HANGS,
	FZ_NR_COUNTERS
};

struct fz_global {
	struct fz_opts opts;
	int dev_fd;
	struct vmx_caps caps;
	struct vmx_cpuid *default_cpuid;
	atomic_bool stop;
	atomic_ulong count[FZ_NR_COUNTERS];
	atomic_ulong exits[16];
	const char *_Atomic worker_op[64];	/* for progress and hang reports */
};

extern struct fz_global fz;

static inline void fz_count(enum fz_counter c)
{
	atomic_fetch_add_explicit(&fz.count[c], 1, memory_order_relaxed);
}

static inline bool fz_stopping(void)
{
	return atomic_load_explicit(&fz.stop, memory_order_relaxed);
}

uint64_t fz_now_ns(void);

static inline bool fz_on(enum fz_class c)
{
	return !(fz.opts.disabled & (1U << c));
}

/* ---- scenario objects ---- */

/* Guest code and where its instructions start (for MMIO completion). */
struct fz_prog {
	uint8_t code[FZ_PROG_MAX];
	uint8_t len_at[FZ_PROG_MAX];	/* instruction length at offset, 0 if none */
	uint32_t size;
};

enum fz_mode { FZ_REAL, FZ_PROT32, FZ_LONG, FZ_USER64, FZ_RAW, FZ_NR_MODES };

/*
 * One slot and its backing memory.  @resv is a PROT_NONE reservation of
 * twice the slot size: the memory lives in its first half or, after an
 * mremap(), in its second; holes are re-reserved at once so that no other
 * mapping of this process lands behind a slot.
 */
struct fz_region {
	uint8_t *resv;
	uint64_t size;
	uint8_t *hva;		/* where the slot points */
	uint64_t gpa;
	uint32_t slot;
	uint32_t flags;
	bool in_kernel;		/* the slot exists */
	bool accessible;	/* @hva is mapped read-write by us */
	bool shared;
};

struct fz_scen;

struct fz_vcpu {
	struct fz_scen *s;
	int fd;
	uint32_t id;
	struct vmx_run *run;
	pthread_t thread;
	bool started;
	atomic_int tid;
	atomic_bool exited;
	struct fz_rng rng;
	enum fz_mode mode;
	struct fz_prog *prog;
	unsigned int handler_exits;
	struct vmx_sregs last_sregs;	/* state last set by a reset */
	struct vmx_regs last_regs;
	const char *_Atomic op;	/* what the thread is doing, for hang reports */
};

struct fz_scen {
	unsigned int worker;
	uint64_t serial;
	struct fz_rng rng;
	int vm_fd;		/* -1 once closed */
	bool cpuid_changed;	/* a changed CPUID table was taken */
	struct fz_region reg[FZ_MAX_REGIONS];
	unsigned int nreg;
	struct fz_vcpu vcpu[FZ_MAX_VCPUS];
	unsigned int nvcpu;
	atomic_bool stop;
	pthread_mutex_t mem_lock;
	uint64_t targets[16];	/* guest-physical addresses worth touching */
	unsigned int ntargets;
};

/* ---- checks (abi.c) ---- */

#define FZ_ANY_ERRNO	(-1)

int fz_ioctl(int fd, unsigned long req, void *arg);
void fz_flip_run_inputs(struct fz_rng *r, struct vmx_run *run);
/* "success (N)" or the errno's name, for mismatch messages. */
const char *fz_errname(int ret, int err);

/*
 * fz_expect() - compare an ioctl's outcome with the ABI.  @want is 0 for
 * success, an errno, or FZ_ANY_ERRNO for "any error".  ENOMEM is always
 * accepted; EBUSY too where @busy_ok (another thread may be in an ioctl
 * of the same vCPU).  Returns true when it matched.
 */
bool fz_expect(const char *what, int ret, int err, int want, bool busy_ok);
void fz_mismatch(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fz_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fz_probe_dev(struct fz_rng *r);
void fz_probe_vm(struct fz_scen *s);
int fz_event_valid(const struct vmx_event *ev);

/* ---- guest memory and code (guest.c) ---- */

#define FZ_RAM0_SIZE	0x80000ULL	/* slot 0 at guest-physical 0 */
#define FZ_GDT		0x1000
#define FZ_IDT32	0x2000
#define FZ_IDT64	0x3000
#define FZ_PML4		0x4000
#define FZ_PDPT		0x5000
#define FZ_PD		0x6000
#define FZ_DATA		0x7000	/* zero descriptor for LIDT/LGDT, scratch */
#define FZ_TSS		0x7800
#define FZ_CODE		0x8000
#define FZ_HANDLERS	0xc000
#define FZ_STACK16	0xfff0
#define FZ_SCRATCH	0x10000
#define FZ_STACK	0x7f000
#define FZ_HANDLER_PORT	0xf1

#define FZ_EFER_LME	0x100
#define FZ_CR4_PAE	0x20

void fz_rig_quirks(struct vmx_sregs *sr);
void fz_guest_tables(uint8_t *ram0);
void fz_gen_prog(struct fz_rng *r, struct fz_prog *p, enum fz_mode mode,
		 const uint64_t *targets, unsigned int ntargets);
int fz_mode_bits(enum fz_mode mode);
void fz_mode_state(struct fz_rng *r, enum fz_mode mode, struct vmx_sregs *sr,
		   struct vmx_regs *regs);
uint64_t fz_pick_msr(struct fz_rng *r);
uint64_t fz_interesting(struct fz_rng *r);

/* ---- vCPU threads (vcpu.c) ---- */

void fz_signals_init(void);
void *fz_vcpu_thread(void *arg);
void fz_vcpu_kick(struct fz_vcpu *v);
void fz_vcpu_dump(struct fz_vcpu *v);
void fz_flip_run(struct fz_rng *r, struct vmx_run *run);

/* ---- scenarios (vm.c) ---- */

void *fz_worker(void *arg);
void fz_close_pool_drain(struct fz_rng *r, bool all);

#endif /* VMXFUZZ_H */
