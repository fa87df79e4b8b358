// SPDX-License-Identifier: GPL-2.0
/*
 * vmxfuzz: one thread per vCPU.  It mutates the vCPU's registers, MSRs,
 * FPU and event state, runs it for a bounded time (a per-thread timer
 * signal whose handler also sets immediate_exit, so that a signal caught
 * just before VMX_RUN still stops it), and answers its exits.
 *
 * Another thread (the scenario's worker) may be in an ioctl of the same
 * vCPU at any moment, so EBUSY is an accepted answer to every call here.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fuzz.h"

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

#define FZ_EXPECT(what, expr, want) ({					\
	int __ret = (expr);						\
	fz_expect(what, __ret, errno, want, true);			\
	__ret;								\
})

static __thread struct vmx_run *volatile fz_cur_run;

static void fz_sigusr1(int sig)
{
	struct vmx_run *run = fz_cur_run;

	(void)sig;
	if (run)
		run->immediate_exit = 1;
}

void fz_signals_init(void)
{
	struct sigaction sa = { .sa_handler = fz_sigusr1 };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

void fz_vcpu_kick(struct fz_vcpu *v)
{
	if (v->started && !atomic_load(&v->exited))
		pthread_kill(v->thread, SIGUSR1);
}

/*
 * Two QEMU (7.2) TCG bugs in its SVM emulation take the whole rig down
 * from guest state, so the fuzzer stays clear of them on SVM:
 *  - a protected-mode stack switch with TR not present or of a busy type
 *    (which is what VMRUN loads from the VMCB) aborts the emulator
 *    ("invalid tss type");
 *  - #VMEXIT restores the host's CR0 with cpu_x86_update_cr0() while the
 *    guest's EFER and CR4 are still loaded: with guest EFER.LME=1 and
 *    CR4.PAE=0 it takes this for "long mode without PAE" and keeps the
 *    guest's CR0, and the host then runs with paging off and hangs.
 * Real CPUs do neither.
 *
 * Bochs 2.7 (the VMX rig) lets a VM entry load SS unusable or with a type
 * other than read/write data, then aborts the whole emulator on the
 * guest's next stack access ("failed assertion IS_DATA_SEGMENT_WRITEABLE
 * (... SS ...)" in stack.cc, seen 2026-12-06 in CI, an INT in real mode).
 * A real CPU fails such an entry (SDM 26.3.1.2: a usable SS must be type
 * 3 or 7) or, for an unusable SS in real mode, pushes through its base
 * and limit.  On VMX the fuzzer keeps SS a usable read/write data
 * segment.
 */
void fz_rig_quirks(struct vmx_sregs *sr)
{
	if (fz.caps.backend == VMX_BACKEND_INTEL) {
		sr->ss.unusable = 0;
		sr->ss.s = 1;
		sr->ss.present = 1;
		if (sr->ss.type < 16)
			sr->ss.type = (sr->ss.type & 4) | 3;
		return;
	}
	if (fz.caps.backend != VMX_BACKEND_SVM)
		return;
	sr->tr.present = 1;
	sr->tr.unusable = 0;
	sr->tr.s = 0;
	if (sr->tr.type < 16)
		sr->tr.type = (sr->tr.type & ~2) | 1;
	if (!(sr->cr4 & FZ_CR4_PAE))
		sr->efer &= ~FZ_EFER_LME;
}

static int fz_set_sregs(struct fz_vcpu *v, struct vmx_sregs *sr)
{
	fz_rig_quirks(sr);
	return fz_ioctl(v->fd, VMX_SET_SREGS, sr);
}

static uint64_t fz_code_gpa(const struct fz_vcpu *v)
{
	return FZ_CODE + (uint64_t)v->id * FZ_PROG_MAX;
}

/* Copy the program into guest RAM, if slot 0's memory is there now. */
static void fz_load_prog(struct fz_vcpu *v)
{
	struct fz_region *g = &v->s->reg[0];

	pthread_mutex_lock(&v->s->mem_lock);
	if (g->accessible)
		memcpy(g->hva + fz_code_gpa(v), v->prog->code, v->prog->size);
	pthread_mutex_unlock(&v->s->mem_lock);
}

static void fz_print_seg(const char *name, const struct vmx_segment *g)
{
	printf("#   %s sel %#x base %#llx limit %#x type %u s %u dpl %u p %u avl %u",
	       name, g->selector, (unsigned long long)g->base, g->limit, g->type,
	       g->s, g->dpl, g->present, g->avl);
	printf(" l %u db %u g %u unusable %u\n", g->l, g->db, g->g, g->unusable);
}

/* What a stuck vCPU was last set to, for a reproducer. */
void fz_vcpu_dump(struct fz_vcpu *v)
{
	const struct vmx_sregs *sr = &v->last_sregs;
	const struct vmx_regs *r = &v->last_regs;
	unsigned int i;

	printf("# vCPU %u last reset: mode %d rip %#llx rsp %#llx rflags %#llx\n",
	       v->id, v->mode, (unsigned long long)r->rip,
	       (unsigned long long)r->rsp, (unsigned long long)r->rflags);
	printf("#   cr0 %#llx cr3 %#llx cr4 %#llx efer %#llx gdt %#llx/%#x idt %#llx/%#x\n",
	       (unsigned long long)sr->cr0, (unsigned long long)sr->cr3,
	       (unsigned long long)sr->cr4, (unsigned long long)sr->efer,
	       (unsigned long long)sr->gdt.base, sr->gdt.limit,
	       (unsigned long long)sr->idt.base, sr->idt.limit);
	fz_print_seg("cs", &sr->cs);
	fz_print_seg("ds", &sr->ds);
	fz_print_seg("es", &sr->es);
	fz_print_seg("fs", &sr->fs);
	fz_print_seg("gs", &sr->gs);
	fz_print_seg("ss", &sr->ss);
	fz_print_seg("tr", &sr->tr);
	fz_print_seg("ldt", &sr->ldt);
	printf("#   prog (%u bytes):", v->prog->size);
	for (i = 0; i < v->prog->size && i < 128; i++)
		printf("%s%02x", i % 32 ? "" : "\n#     ", v->prog->code[i]);
	printf("\n");
}

/* The program a vCPU is about to run, for reproducing a finding. */
static void fz_note_prog(struct fz_vcpu *v)
{
	char hex[2 * 96 + 1];
	unsigned int i, n = v->prog->size < 96 ? v->prog->size : 96;

	for (i = 0; i < n; i++)
		sprintf(hex + 2 * i, "%02x", v->prog->code[i]);
	hex[2 * n] = 0;
	fz_note("worker %u scenario %llu vcpu %u mode %d prog %u bytes: %s",
		v->s->worker, (unsigned long long)v->s->serial, v->id, v->mode,
		v->prog->size, hex);
}

/* A new mode, program and register state. */
static void fz_vcpu_reset(struct fz_vcpu *v)
{
	struct fz_rng *r = &v->rng;
	struct vmx_sregs sr;
	struct vmx_regs regs;
	uint64_t targets[16];
	unsigned int n;
	int ret;

	v->handler_exits = 0;
	do
		v->mode = fz_below(r, FZ_NR_MODES);
	while (!fz_on(FZC_REAL + v->mode) && (fz.opts.disabled >> FZC_REAL) != 0x1f);
	n = v->s->ntargets;
	memcpy(targets, v->s->targets, sizeof(targets));
	fz_gen_prog(r, v->prog, v->mode, targets, n);
	if (fz.opts.replay_len) {
		v->mode = fz.opts.replay_mode;
		memset(v->prog->len_at, 0, sizeof(v->prog->len_at));
		memcpy(v->prog->code, fz.opts.replay, fz.opts.replay_len);
		v->prog->size = fz.opts.replay_len;
	}
	fz_load_prog(v);
	if (fz.opts.verbose)
		fz_note_prog(v);
	if (fz_ioctl(v->fd, VMX_GET_SREGS, &sr))
		return;
	fz_mode_state(r, v->mode, &sr, &regs);
	regs.rip = fz_code_gpa(v);
	regs.rsp -= fz_mode_bits(v->mode) == 16 ? v->id * 0x800 : v->id * 0x4000;
	ret = fz_set_sregs(v, &sr);
	v->last_sregs = sr;
	v->last_regs = regs;
	if (fz.opts.verbose && v->mode == FZ_RAW)
		fz_vcpu_dump(v);
	/*
	 * CR4 is checked against the VM's CPUID (SVM): a changed table may
	 * no longer offer what the mode uses (FXSR, PAE, ...).
	 */
	if (v->mode != FZ_RAW && !(ret < 0 && errno == EINVAL && v->s->cpuid_changed))
		fz_expect("SET_SREGS of a consistent mode", ret, errno, 0, true);
	FZ_EXPECT("SET_REGS at the program", fz_ioctl(v->fd, VMX_SET_REGS, &regs), 0);
}

static void fz_set_rip(struct fz_vcpu *v, uint64_t delta)
{
	struct vmx_regs regs;

	if (fz_ioctl(v->fd, VMX_GET_REGS, &regs))
		return;
	regs.rip += delta;
	FZ_EXPECT("SET_REGS past an instruction", fz_ioctl(v->fd, VMX_SET_REGS, &regs), 0);
}

static void fz_inject_extint(struct fz_vcpu *v, bool window)
{
	struct vmx_event ev = {
		.type = VMX_EVENT_EXTINT, .vector = 32 + fz_below(&v->rng, 224),
	};
	int ret = fz_ioctl(v->fd, VMX_INJECT_EVENT, &ev);

	/* With the window open only a queued event can be in the way. */
	if (window)
		fz_expect("INJECT_EVENT EXTINT in an open window", ret, errno, 0, true);
}

static void fz_exit_io(struct fz_vcpu *v, struct vmx_run *run)
{
	if (run->io.size != 1 && run->io.size != 2 && run->io.size != 4)
		fz_mismatch("IO exit with size %u", run->io.size);
	if (run->io.direction > VMX_IO_OUT || run->io.string > 1 || run->io.rep > 1)
		fz_mismatch("IO exit with direction %u string %u rep %u",
			    run->io.direction, run->io.string, run->io.rep);
	if (!run->io.insn_len || run->io.insn_len > 15)
		fz_mismatch("IO exit with insn_len %u", run->io.insn_len);
	if (run->io.port == FZ_HANDLER_PORT && run->io.direction == VMX_IO_OUT &&
	    (++v->handler_exits > 3 || fz_chance(&v->rng, 40))) {
		fz_vcpu_reset(v);
		return;
	}
	if (run->io.string)
		fz_set_rip(v, run->io.insn_len);
	else if (run->io.direction == VMX_IO_IN)
		run->io.data = fz_rand(&v->rng);
}

/* No instruction bytes on this emulated CPU: our program map knows them. */
static void fz_exit_mmio(struct fz_vcpu *v, struct vmx_run *run)
{
	uint64_t off = run->rip - fz_code_gpa(v);

	if (off < v->prog->size && v->prog->len_at[off] && fz_chance(&v->rng, 90))
		fz_set_rip(v, v->prog->len_at[off]);
	else
		fz_vcpu_reset(v);
}

static void fz_exit(struct fz_vcpu *v, struct vmx_run *run)
{
	uint32_t reason = run->exit_reason;

	atomic_fetch_add(&fz.exits[reason < 16 ? reason : 15], 1);
	switch (reason) {
	case VMX_EXIT_IO:
		fz_exit_io(v, run);
		break;
	case VMX_EXIT_MMIO:
		fz_exit_mmio(v, run);
		break;
	case VMX_EXIT_HLT:
		if (run->irq_window_open && fz_chance(&v->rng, 50))
			fz_inject_extint(v, true);
		else if (fz_chance(&v->rng, 10))
			fz_vcpu_reset(v);
		break;
	case VMX_EXIT_SHUTDOWN:
	case VMX_EXIT_FAIL_ENTRY:
	case VMX_EXIT_INTERNAL_ERROR:
		fz_vcpu_reset(v);
		break;
	case VMX_EXIT_HYPERCALL:
		run->hypercall.ret = fz_rand(&v->rng);
		break;
	case VMX_EXIT_MSR:
		if (!run->msr_exits)
			fz_mismatch("MSR exit without msr_exits");
		run->msr.data = fz_interesting(&v->rng);
		run->msr.error = fz_chance(&v->rng, 20);
		break;
	case VMX_EXIT_IRQ_WINDOW:
		if (!run->irq_window_open)
			fz_mismatch("IRQ_WINDOW exit with the window closed");
		fz_inject_extint(v, true);
		run->request_irq_window = 0;
		break;
	default:
		fz_mismatch("VMX_RUN returned 0 with exit reason %u", reason);
		break;
	}
}

static void fz_arm(timer_t timer, long ns)
{
	struct itimerspec its = { .it_value.tv_nsec = ns };

	timer_settime(timer, 0, &its, NULL);
}

static void fz_vcpu_run(struct fz_vcpu *v, timer_t timer)
{
	struct vmx_run *run = v->run;
	bool sync_bad, sync_dirty;
	int ret, err;

	/* Register copies: unknown bits are EINVAL, dirty ones may be. */
	sync_bad = run->sync_want & ~VMX_SYNC_VALID_WANT ||
		   run->sync_dirty & ~VMX_SYNC_VALID_DIRTY;
	sync_dirty = run->sync_dirty;
	run->immediate_exit = fz_chance(&v->rng, 3);
	fz_cur_run = run;
	fz_arm(timer, 1000000 + fz_below(&v->rng, 15000000));
	v->op = "VMX_RUN";
	ret = fz_ioctl(v->fd, VMX_RUN, NULL);
	err = errno;
	v->op = "between ioctls";
	fz_arm(timer, 0);
	fz_cur_run = NULL;
	run->immediate_exit = 0;
	fz_count(FZ_RUNS);
	/*
	 * EBUSY (another thread is in an ioctl of this vCPU, see the top of
	 * this file) and ENOMEM come before the kernel reads the run area:
	 * the call did not take the bad bits either.
	 */
	if (ret && (err == EBUSY || err == ENOMEM))
		sync_bad = false;
	if (sync_bad || (ret && err == EINVAL && sync_dirty)) {
		if (!ret || err != EINVAL)
			fz_mismatch("VMX_RUN took sync_want %#x sync_dirty %#x: %s",
				    run->sync_want, run->sync_dirty,
				    fz_errname(ret, err));
		run->sync_want &= VMX_SYNC_VALID_WANT;
		run->sync_dirty = 0;
		return;
	}
	if (ret == 0) {
		fz_exit(v, run);
		return;
	}
	if (err == EINTR) {
		fz_count(FZ_EINTR);
		if (run->exit_reason != VMX_EXIT_INTR)
			fz_mismatch("VMX_RUN EINTR with exit reason %u", run->exit_reason);
		return;
	}
	if (err == EFAULT) {
		fz_count(FZ_EFAULT);
		return;
	}
	fz_expect("VMX_RUN", ret, err, EINTR, true);
}

/* ---- state mutations ---- */

#define FZ_RFLAGS_VALID	0x3d7fd7ULL	/* all but 3, 5, 15, 22-63 and VM (17), which the guest sets */

static void fz_mut_regs(struct fz_vcpu *v)
{
	struct fz_rng *r = &v->rng;
	struct vmx_regs regs;
	__u64 *gpr = &regs.rax;

	if (fz_ioctl(v->fd, VMX_GET_REGS, &regs))
		return;
	if (fz_chance(r, 20)) {
		static const uint8_t bad[] = { 3, 5, 15, 17, 22, 31, 32, 63 };
		uint8_t bit = FZ_PICK(r, bad);

		/* VM is refused only where the guest is not in that mode. */
		if (bit == 17 && (regs.rflags & (1ULL << 17)))
			bit = 3;
		regs.rflags |= 1ULL << bit;
		FZ_EXPECT("SET_REGS with a reserved RFLAGS bit",
			  fz_ioctl(v->fd, VMX_SET_REGS, &regs), EINVAL);
		return;
	}
	gpr[fz_below(r, 16)] = fz_interesting(r);
	if (fz_chance(r, 30))
		regs.rflags = (fz_rand(r) & FZ_RFLAGS_VALID) | 2;
	if (fz_chance(r, 20))
		regs.rip = fz_chance(r, 50) ? fz_code_gpa(v) + fz_below(r, v->prog->size + 1) :
			   fz_interesting(r);
	FZ_EXPECT("SET_REGS", fz_ioctl(v->fd, VMX_SET_REGS, &regs), 0);
}

static void fz_check_sregs_out(const struct vmx_sregs *sr)
{
	if (sr->reserved[0] || sr->reserved[1] || sr->reserved[2] || sr->reserved[3])
		fz_mismatch("GET_SREGS left reserved fields non-zero");
	if (sr->efer & (1ULL << 12))
		fz_mismatch("GET_SREGS shows EFER.SVME");
}

/* One field SET_SREGS must refuse with EINVAL. */
static void fz_sregs_invalid(struct fz_rng *r, struct vmx_sregs *sr)
{
	struct vmx_segment *segs[] = {
		&sr->cs, &sr->ds, &sr->es, &sr->fs, &sr->gs, &sr->ss, &sr->tr,
		&sr->ldt,
	};
	struct vmx_segment *g = FZ_PICK(r, segs);
	static const uint8_t cr4_bad[] = { 13, 14, 22, 23, 25, 26, 31, 40, 63 };
	static const uint8_t efer_bad[] = { 1, 7, 9, 12, 13, 14, 15, 16, 63 };

	switch (fz_below(r, 9)) {
	case 0:
		sr->reserved[fz_below(r, 4)] = 1ULL << fz_below(r, 64);
		break;
	case 1:
		g->pad = 1 + fz_below(r, 255);
		break;
	case 2:
		(fz_chance(r, 50) ? &sr->gdt : &sr->idt)->pad[fz_below(r, 3)] = 1;
		break;
	case 3:
		g->type = 16 + fz_below(r, 240);
		break;
	case 4:
		g->dpl = 4 + fz_below(r, 252);
		break;
	case 5:
		(&g->s)[FZ_PICK(r, ((const uint8_t[]){ 0, 2, 3, 4, 5, 6, 7 }))] =
			2 + fz_below(r, 254);
		break;
	case 6:
		sr->cr0 |= 1ULL << (32 + fz_below(r, 32));
		break;
	case 7:
		sr->cr4 |= 1ULL << FZ_PICK(r, cr4_bad);
		break;
	default:
		if (fz_chance(r, 50))
			sr->efer |= 1ULL << FZ_PICK(r, efer_bad);
		else
			sr->cr8 = 16 + fz_below(r, 1000);
		break;
	}
}

static void fz_mut_sregs(struct fz_vcpu *v)
{
	struct fz_rng *r = &v->rng;
	struct vmx_sregs sr;

	if (fz_ioctl(v->fd, VMX_GET_SREGS, &sr))
		return;
	fz_check_sregs_out(&sr);
	if (fz_chance(r, 30)) {
		fz_rig_quirks(&sr);
		fz_sregs_invalid(r, &sr);
		FZ_EXPECT("SET_SREGS with an invalid field",
			  fz_ioctl(v->fd, VMX_SET_SREGS, &sr), EINVAL);
		return;
	}
	if (fz_chance(r, 30)) {
		FZ_EXPECT("SET_SREGS of what GET_SREGS gave",
			  fz_set_sregs(v, &sr), 0);
		return;
	}
	/* Free mutations: the kernel may take or refuse them. */
	fz_mode_state(r, FZ_RAW, &sr, &(struct vmx_regs){ 0 });
	if (fz_chance(r, 30))
		sr.cr2 = fz_interesting(r);
	if (fz_chance(r, 30))
		sr.cr8 = fz_below(r, 16);
	fz_set_sregs(v, &sr);
}

static void fz_mut_fpu(struct fz_vcpu *v)
{
	struct fz_rng *r = &v->rng;
	struct vmx_fpu *f = malloc(sizeof(*f));
	uint64_t one = 1;

	if (!f)
		return;
	if (fz_ioctl(v->fd, VMX_GET_FPU, f))
		goto out;
	if (f->flags || f->pad || f->reserved[0] || f->reserved[1])
		fz_mismatch("GET_FPU left flags or reserved fields non-zero");
	switch (fz_below(r, 4)) {
	case 0:
		FZ_EXPECT("SET_FPU of what GET_FPU gave",
			  fz_ioctl(v->fd, VMX_SET_FPU, f), 0);
		break;
	case 1:
		switch (fz_below(r, 7)) {
		case 0:
			f->flags = 1U << fz_below(r, 32);
			break;
		case 1:
			f->pad = 1;
			break;
		case 2:
			f->reserved[fz_below(r, 2)] = 1;
			break;
		case 3:
			f->xcr0 &= ~one;
			break;
		case 4:
			f->xsave[26 + fz_below(r, 2)] |= 1 << fz_below(r, 8);
			break;
		case 5:
			f->xsave[520 + fz_below(r, 8)] |= 1 << fz_below(r, 8);
			break;
		default:
			f->xsave[528 + fz_below(r, 48)] |= 1 << fz_below(r, 8);
			break;
		}
		FZ_EXPECT("SET_FPU with an invalid field",
			  fz_ioctl(v->fd, VMX_SET_FPU, f), EINVAL);
		break;
	default:
		/* Registers, control words, XCR0 and XSTATE_BV: may be refused. */
		f->xsave[fz_below(r, 512)] ^= 1 << fz_below(r, 8);
		f->xsave[32 + fz_below(r, 480)] = fz_rand(r);
		if (fz_chance(r, 30))
			f->xcr0 = FZ_PICK(r, ((const uint64_t[]){ 1, 3, 7, 0xe7 }));
		if (fz_chance(r, 30))
			f->xsave[512] = fz_below(r, 8);
		if (fz_chance(r, 20))
			f->xsave[fz_below(r, 4096)] = fz_rand(r);
		fz_ioctl(v->fd, VMX_SET_FPU, f);
		break;
	}
out:
	free(f);
}

static void fz_mut_msrs(struct fz_vcpu *v)
{
	struct fz_rng *r = &v->rng;
	size_t sz = sizeof(struct vmx_msrs) + 300 * sizeof(struct vmx_msr_data);
	struct vmx_msrs *m = calloc(1, sz);
	unsigned long req = fz_chance(r, 50) ? VMX_GET_MSRS : VMX_SET_MSRS;
	uint32_t i, bad = UINT32_MAX;
	int ret;

	if (!m)
		return;
	m->nmsrs = fz_chance(r, 5) ? fz_below(r, 257) : 1 + fz_below(r, 8);
	for (i = 0; i < m->nmsrs; i++) {
		m->entries[i].index = fz_pick_msr(r);
		m->entries[i].data = fz_interesting(r);
		/* See fz_rig_quirks(): no EFER.LME from the VMM either. */
		if (m->entries[i].index == 0xc0000080 &&
		    fz.caps.backend == VMX_BACKEND_SVM)
			m->entries[i].data &= ~(uint64_t)FZ_EFER_LME;
	}
	if (fz_chance(r, 10) && m->nmsrs) {
		bad = fz_below(r, m->nmsrs);
		m->entries[bad].reserved = 1U << fz_below(r, 32);
	}
	switch (fz_below(r, 12)) {
	case 0:
		m->flags = 1U << fz_below(r, 32);
		FZ_EXPECT("GET/SET_MSRS with flags", fz_ioctl(v->fd, req, m), EINVAL);
		break;
	case 1:
		m->reserved = 1ULL << fz_below(r, 64);
		FZ_EXPECT("GET/SET_MSRS with reserved", fz_ioctl(v->fd, req, m), EINVAL);
		break;
	case 2:
		m->nmsrs = VMX_MAX_MSR_ENTRIES + 1 + fz_below(r, 40);
		FZ_EXPECT("GET/SET_MSRS with too many", fz_ioctl(v->fd, req, m), E2BIG);
		break;
	default:
		ret = FZ_EXPECT("GET/SET_MSRS", fz_ioctl(v->fd, req, m), 0);
		if (ret > (int)m->nmsrs || (bad != UINT32_MAX && ret > (int)bad))
			fz_mismatch("%s_MSRS processed %d of %u (reserved set in %d)",
				    req == VMX_GET_MSRS ? "GET" : "SET", ret,
				    m->nmsrs, (int)bad);
		break;
	}
	free(m);
}

static void fz_random_event(struct fz_rng *r, struct vmx_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = FZ_PICK(r, ((const uint32_t[]){ 0, 0, 2, 3, 3, 3, 1, 4 }));
	switch (ev->type) {
	case VMX_EVENT_EXTINT:
		ev->vector = 32 + fz_below(r, 224);
		break;
	case VMX_EVENT_NMI:
		ev->vector = 2;
		break;
	default:
		ev->vector = fz_below(r, 32);
		break;
	}
	if (fz_chance(r, 50) && ev->type == VMX_EVENT_EXCEPTION &&
	    ((1U << 8 | 0x1fU << 10 | 1U << 17 | 1U << 21 | 1U << 29 | 1U << 30) &
	     (1U << ev->vector))) {
		ev->flags = VMX_EVENT_HAS_ERROR_CODE;
		ev->error_code = fz_interesting(r);
	}
	if (fz_chance(r, 25)) {
		switch (fz_below(r, 5)) {
		case 0:
			ev->vector = fz_rand(r) & 0x1ff;
			break;
		case 1:
			ev->flags ^= VMX_EVENT_HAS_ERROR_CODE;
			break;
		case 2:
			ev->flags |= 2U << fz_below(r, 31);
			break;
		case 3:
			ev->reserved[fz_below(r, 2)] = 1;
			break;
		default:
			ev->error_code = 1 + fz_below(r, 100);
			break;
		}
	}
}

static bool fz_event_zero(const struct vmx_event *ev)
{
	static const struct vmx_event zero;

	return !memcmp(ev, &zero, sizeof(*ev));
}

static void fz_check_events_out(const struct vmx_events *e)
{
	if (e->pending_valid > 1 || e->int_shadow > 1 || e->nmi_masked > 1 ||
	    e->nmi_pending > 1 || e->irq_pending > 1 || e->interrupted_valid > 1 ||
	    e->flags || e->pad || e->pad2 ||
	    (!e->irq_pending && e->irq_vector) ||
	    (e->irq_pending && e->irq_vector < 32) ||
	    (!e->pending_valid && !fz_event_zero(&e->pending)) ||
	    (!e->interrupted_valid && !fz_event_zero(&e->interrupted)))
		fz_mismatch("GET_EVENTS output not clean (%u %u %u flags %u)",
			    e->pending_valid, e->int_shadow, e->nmi_masked, e->flags);
	if (e->pending_valid && !fz_event_valid(&e->pending))
		fz_mismatch("GET_EVENTS pending event type %u vector %u flags %u invalid",
			    e->pending.type, e->pending.vector, e->pending.flags);
	if (e->interrupted_valid && !fz_event_valid(&e->interrupted))
		fz_mismatch("GET_EVENTS interrupted event type %u vector %u flags %u invalid",
			    e->interrupted.type, e->interrupted.vector,
			    e->interrupted.flags);
}

static void fz_mut_events(struct fz_vcpu *v)
{
	struct fz_rng *r = &v->rng;
	struct vmx_event ev;
	struct vmx_events e;
	bool valid;

	fz_random_event(r, &ev);
	valid = fz_event_valid(&ev);
	if (fz_chance(r, 50)) {
		FZ_EXPECT("INJECT_EVENT", fz_ioctl(v->fd, VMX_INJECT_EVENT, &ev),
			  valid ? 0 : EINVAL);
		return;
	}
	if (fz_ioctl(v->fd, VMX_GET_EVENTS, &e))
		return;
	fz_check_events_out(&e);
	if (fz_chance(r, 30)) {
		switch (fz_below(r, 6)) {
		case 0:
			e.flags = 1U << fz_below(r, 32);
			break;
		case 1:
			e.pad = 1;
			break;
		case 2:
			e.pad2 = 1;
			break;
		case 3:
			/* An empty slot must be all zero. */
			e.interrupted_valid = 0;
			e.interrupted.vector = 1 + fz_below(r, 255);
			break;
		case 4: {
			/* The byte-sized yes/no fields (not irq_vector). */
			static const unsigned int off[] = {
				offsetof(struct vmx_events, pending_valid),
				offsetof(struct vmx_events, int_shadow),
				offsetof(struct vmx_events, nmi_masked),
				offsetof(struct vmx_events, nmi_pending),
				offsetof(struct vmx_events, irq_pending),
				offsetof(struct vmx_events, interrupted_valid),
			};

			((uint8_t *)&e)[off[fz_below(r, 6)]] = 2 + fz_below(r, 254);
			break;
		}
		default:
			if (valid)
				return;
			e.pending = ev;
			e.pending_valid = 1;
			break;
		}
		FZ_EXPECT("SET_EVENTS with an invalid field",
			  fz_ioctl(v->fd, VMX_SET_EVENTS, &e), EINVAL);
		return;
	}
	if (valid && fz_chance(r, 60)) {
		e.pending = ev;
		e.pending_valid = 1;
		/* An interrupt in @pending takes the interrupt slot. */
		if (ev.type == VMX_EVENT_EXTINT) {
			e.irq_pending = 0;
			e.irq_vector = 0;
		}
	} else if (fz_chance(r, 30)) {
		e.pending_valid = 0;
		memset(&e.pending, 0, sizeof(e.pending));
	}
	e.int_shadow = fz_chance(r, 20);
	e.nmi_masked = fz_chance(r, 20);
	FZ_EXPECT("SET_EVENTS", fz_ioctl(v->fd, VMX_SET_EVENTS, &e), 0);
}

/* Input fields of the run area, from another thread while the vCPU runs. */
void fz_flip_run_inputs(struct fz_rng *r, struct vmx_run *run)
{
	switch (fz_below(r, 3)) {
	case 0:
		run->request_irq_window ^= 1;
		break;
	case 1:
		run->msr_exits = fz_rand(r);
		break;
	default:
		run->pad_in[fz_below(r, 5)] = fz_rand(r);
		break;
	}
}

/* Fields of the run area, between runs: the kernel must not trust them. */
void fz_flip_run(struct fz_rng *r, struct vmx_run *run)
{
	uint8_t *b = (uint8_t *)run;

	switch (fz_below(r, 9)) {
	case 0:
		run->request_irq_window ^= 1;
		break;
	case 8:
		/* The register copies: mostly valid masks, flipped contents. */
		run->sync_want = fz_chance(r, 90) ? fz_below(r, 8) : fz_rand(r);
		run->sync_dirty = fz_chance(r, 90) ? fz_below(r, 4) : fz_rand(r);
		b = fz_chance(r, 50) ? (uint8_t *)&run->regs : (uint8_t *)&run->sregs;
		b[fz_below(r, fz_chance(r, 50) ? sizeof(run->regs) :
			      sizeof(run->sregs) / 2)] ^= 1 << fz_below(r, 8);
		break;
	case 1:
		run->msr_exits = fz_rand(r);
		break;
	case 2:
		run->pad_in[fz_below(r, 5)] = fz_rand(r);
		break;
	case 3:
		run->io.size = fz_rand(r);
		run->io.insn_len = fz_chance(r, 50) ? fz_rand(r) : run->io.insn_len;
		break;
	case 4:
		run->exit_reason = fz_below(r, 12);
		break;
	case 5:
		run->io.direction ^= 1;
		run->io.string = fz_below(r, 3);
		break;
	case 6:
		b[fz_below(r, sizeof(*run))] = fz_rand(r);
		break;
	default:
		b[fz_below(r, VMX_RUN_AREA_SIZE)] ^= 1 << fz_below(r, 8);
		break;
	}
	/* The register copy is guest state too: no emulator-killers. */
	fz_rig_quirks(&run->sregs);
}

static void fz_probe_vcpu_fd(struct fz_vcpu *v)
{
	struct fz_rng *r = &v->rng;
	size_t len = 4096;
	off_t off = 0;
	void *p;

	if (fz_chance(r, 50)) {
		FZ_EXPECT("unknown ioctl on a vCPU fd",
			  fz_ioctl(v->fd, _IO(VMX_IOC_MAGIC, 0x2c + fz_below(r, 0x10)),
				   NULL), ENOTTY);
		return;
	}
	if (fz_chance(r, 30)) {
		/*
		 * Page 1 right behind the run area: the mm may merge it into
		 * the run area's mapping without asking the driver.
		 */
		p = mmap((uint8_t *)v->run + 4096, 4096, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED_NOREPLACE, v->fd, 4096);
		if (p == MAP_FAILED && errno == EEXIST)
			return;
		fz_expect("mmap of vCPU fd page 1 next to the run area",
			  p == MAP_FAILED ? -1 : 0, errno, EINVAL, false);
		if (p != MAP_FAILED)
			munmap(p, 4096);
		return;
	}
	if (fz_chance(r, 50))
		off = 4096 * (1 + fz_below(r, 4));
	else
		len = 4096 * (2 + fz_below(r, 3));
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, off);
	if (!fz_expect("mmap of a vCPU fd with a bad offset or length",
		       p == MAP_FAILED ? -1 : 0, errno, EINVAL, false))
		fz_mismatch("... offset %#lx length %#zx at %p, run area at %p",
			    (long)off, len, p, (void *)v->run);
	if (p != MAP_FAILED)
		munmap(p, len);
}

static void fz_vcpu_step(struct fz_vcpu *v, timer_t timer)
{
	unsigned int op = fz_below(&v->rng, 100);

	if (op < 55)
		fz_vcpu_run(v, timer);
	else if (op < 63 && fz_on(FZC_REGS))
		fz_mut_regs(v);
	else if (op < 71 && fz_on(FZC_SREGS))
		fz_mut_sregs(v);
	else if (op < 75 && fz_on(FZC_FPU))
		fz_mut_fpu(v);
	else if (op < 82 && fz_on(FZC_MSRS))
		fz_mut_msrs(v);
	else if (op < 89 && fz_on(FZC_EVENTS))
		fz_mut_events(v);
	else if (op < 93)
		fz_vcpu_reset(v);
	else if (op < 98 && fz_on(FZC_FLIP))
		fz_flip_run(&v->rng, v->run);
	else if (op >= 98 && fz_on(FZC_PROBE))
		fz_probe_vcpu_fd(v);
}

void *fz_vcpu_thread(void *arg)
{
	struct fz_vcpu *v = arg;
	struct sigevent sev = {
		.sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGUSR1,
	};
	timer_t timer;

	sev.sigev_notify_thread_id = syscall(SYS_gettid);
	atomic_store(&v->tid, sev.sigev_notify_thread_id);
	if (timer_create(CLOCK_MONOTONIC, &sev, &timer)) {
		fz_mismatch("timer_create: %s", strerror(errno));
		goto out;
	}
	fz_vcpu_reset(v);
	while (!atomic_load(&v->s->stop) && !fz_stopping())
		fz_vcpu_step(v, timer);
	timer_delete(timer);
out:
	v->op = "done";
	atomic_store(&v->exited, true);
	return NULL;
}
