// SPDX-License-Identifier: GPL-2.0
/*
 * Host state a VM exit does not restore: the SYSCALL MSRs and the user
 * GS base (the guest runs with its own), TSC_AUX, and the VMM thread's
 * DS/ES/FS/GS/LDT selectors (the exit loads null selectors and the
 * host-state FS/GS bases).
 *
 * Only the MSRs the guest's mode can use are switched at all (see
 * vtx_live_msrs()).  None of it matters to the kernel itself, only to
 * the VMM's user space (and the SYSCALL MSRs to a system call, which
 * cannot happen in here), so it is switched lazily: the guest's values go in at the first entry
 * after the vCPU thread came onto this CPU and stay there across exits
 * handled in the kernel; the host's come back when the thread leaves
 * the CPU or returns to user space (vtx_vcpu_put).  The kernel does not
 * read TSC_AUX for itself (its entry code finds the CPU number by LSL,
 * not RDPID, for that reason).
 *
 * What the kernel may use between exits is switched at every world
 * switch instead: CR2, DEBUGCTL (perf's LBRs: the exit clears it, the
 * host's value read at the first entry goes back after each exit) and
 * the debug registers.
 */
#include <linux/preempt.h>
#include <linux/sched.h>
#include <asm/debugreg.h>
#include <asm/msr.h>
#include <asm/processor.h>
#include <asm/segment.h>
#include <asm/special_insns.h>

#include "vtx.h"

static bool vtx_has_rdtscp(void)
{
	return vtx_secondary_ctls & SECONDARY_EXEC_ENABLE_RDTSCP;
}

/* The host's value of guest MSR slot @i (the user GS base is per task). */
static u64 vtx_host_msr(struct vtx_vcpu *vtx, int i)
{
	return i == VTX_MSR_KERNEL_GS_BASE ? vtx->host.kernel_gs_base :
	       vtx_host_msrs[i];
}

/*
 * The guest MSR slots a guest with @efer can use, so the ones it needs in
 * the CPU.  SWAPGS exists only in 64-bit mode; SYSCALL and SYSRET (on
 * Intel) only there and with EFER.SCE, and never from compatibility
 * mode, so CSTAR is never used.  The others stay in @msrs alone, RDMSR
 * and WRMSR of them exit (KERNEL_GS_BASE is intercepted then too), and
 * the host's values stay in the CPU: a guest outside long mode costs no
 * MSR switch at all.
 */
static u32 vtx_live_msrs(u64 efer)
{
	u32 live = 0;

	if (efer & EFER_LMA) {
		live |= BIT(VTX_MSR_KERNEL_GS_BASE);
		if (efer & EFER_SCE)
			live |= BIT(VTX_MSR_STAR) | BIT(VTX_MSR_LSTAR) |
				BIT(VTX_MSR_SFMASK);
	}
	return live;
}

/*
 * The guest's EFER changes (an exit, or the VMM): a different set of
 * MSRs may go live.  The host's state comes back first, if the guest's
 * was in; the next entry loads the new set.
 */
void vtx_update_live_msrs(struct vtx_vcpu *vtx, u64 efer)
{
	u32 live = vtx_live_msrs(efer);

	if (live == vtx->live_msrs)
		return;
	preempt_disable();
	vtx_put_guest_state(vtx);
	vtx->live_msrs = live;
	preempt_enable();
	vtx_msr_bitmap_set(vtx->msr_bitmap, MSR_KERNEL_GS_BASE,
			   !(live & BIT(VTX_MSR_KERNEL_GS_BASE)));
}

/* The host's lazy state saved, the guest's loaded; IRQs off. */
static void vtx_load_guest_state(struct vtx_vcpu *vtx)
{
	struct vtx_host_state *h = &vtx->host;
	unsigned long fs;
	int i;

	rdmsrl(MSR_KERNEL_GS_BASE, h->kernel_gs_base);
	for (i = 0; vtx->live_msrs && i < VTX_NR_GUEST_MSRS; i++)
		if ((vtx->live_msrs & BIT(i)) &&
		    vtx->msrs[i] != vtx_host_msr(vtx, i))
			wrmsrl(vtx_guest_msr_index[i], vtx->msrs[i]);
	if (vtx_has_rdtscp()) {
		rdmsrl(MSR_TSC_AUX, h->tsc_aux);
		vtx->live_tsc_aux = h->tsc_aux;
	}
	rdmsrl(MSR_IA32_DEBUGCTLMSR, h->debugctl);
	savesegment(ds, h->ds);
	savesegment(es, h->es);
	savesegment(fs, h->fs);
	savesegment(gs, h->gs);
	asm volatile("sldt %0" : "=r" (h->ldt));
	rdmsrl(MSR_FS_BASE, fs);
	if (unlikely(fs != vtx->host_fs_base)) {
		vtx_vmwrite(HOST_FS_BASE, fs);
		vtx->host_fs_base = fs;
	}
	vtx->guest_state_loaded = true;
}

/*
 * The VMM thread's own selectors, LDT first (they may point into it).
 * Loading FS or GS also loads a base from the descriptor: the bases
 * user space had (64-bit, maybe set with WRFSBASE/WRGSBASE) go back on
 * top.  The user GS base is the inactive one (MSR_KERNEL_GS_BASE) here.
 */
static void vtx_restore_host_segments(struct vtx_vcpu *vtx)
{
	struct vtx_host_state *h = &vtx->host;

	if (h->ldt)
		asm volatile("lldt %0" : : "r" (h->ldt));
	if (h->ds)
		loadsegment(ds, h->ds);
	if (h->es)
		loadsegment(es, h->es);
	if (unlikely(h->fs)) {
		loadsegment(fs, h->fs);
		wrmsrl(MSR_FS_BASE, vtx->host_fs_base);
	}
	if (unlikely(h->gs)) {
		load_gs_index(h->gs);
		wrmsrl(MSR_KERNEL_GS_BASE, h->kernel_gs_base);
	}
}

/*
 * The host's lazy state back (preemption off): the thread leaves the
 * CPU or returns to user space.  The guest's user GS base is read back
 * here, as the guest may have changed it (SWAPGS, WRMSR) without an exit.
 * An interrupt meanwhile does not mind: it comes from kernel mode, where
 * none of this state is used.
 */
void vtx_put_guest_state(struct vtx_vcpu *vtx)
{
	int i;

	if (!vtx->guest_state_loaded)
		return;
	if (vtx->live_msrs & BIT(VTX_MSR_KERNEL_GS_BASE))
		rdmsrl(MSR_KERNEL_GS_BASE, vtx->msrs[VTX_MSR_KERNEL_GS_BASE]);
	for (i = 0; vtx->live_msrs && i < VTX_NR_GUEST_MSRS; i++)
		if ((vtx->live_msrs & BIT(i)) &&
		    vtx->msrs[i] != vtx_host_msr(vtx, i))
			wrmsrl(vtx_guest_msr_index[i], vtx_host_msr(vtx, i));
	if (vtx_has_rdtscp() && vtx->live_tsc_aux != vtx->host.tsc_aux)
		wrmsrl(MSR_TSC_AUX, vtx->host.tsc_aux);
	vtx_restore_host_segments(vtx);
	vtx->guest_state_loaded = false;
}

/* Is the guest's value of @slot in the CPU now?  Preemption off. */
static bool vtx_guest_msr_in_cpu(struct vtx_vcpu *vtx, int slot)
{
	return vtx->guest_state_loaded && (vtx->live_msrs & BIT(slot));
}

/*
 * A guest MSR slot read or written while the guest's values may be in
 * the CPU (an exit handled in the kernel): the live MSR is the truth.
 */
u64 vtx_guest_msr_read(struct vtx_vcpu *vtx, int slot)
{
	preempt_disable();
	if (vtx_guest_msr_in_cpu(vtx, slot) && slot == VTX_MSR_KERNEL_GS_BASE)
		rdmsrl(MSR_KERNEL_GS_BASE, vtx->msrs[slot]);
	preempt_enable();
	return vtx->msrs[slot];
}

void vtx_guest_msr_write(struct vtx_vcpu *vtx, int slot, u64 data)
{
	preempt_disable();
	vtx->msrs[slot] = data;
	if (vtx_guest_msr_in_cpu(vtx, slot))
		wrmsrl(vtx_guest_msr_index[slot], data);
	preempt_enable();
}

/*
 * Guest DR0-3 and DR6 into the CPU.  DR7 is still the host's here (the
 * entry loads the guest's): if host breakpoints are armed, disarm them
 * first, or they would fire on the guest's addresses meanwhile.
 */
static void vtx_dr_load(struct vtx_vcpu *vtx)
{
	if (hw_breakpoint_active())
		native_set_debugreg(7, 0);
	vmx_dr03_load(vtx->dr);
	native_set_debugreg(6, vtx->dr[4]);
}

/* The exit set DR7 to 0x400: the guest's DR0-3 and DR6 are inert now. */
static void vtx_dr_save(struct vtx_vcpu *vtx)
{
	vmx_dr03_save(vtx->dr);
	vtx->dr[4] = native_get_debugreg(6);
	/* No guest status bits for the host's #DB handler to misread. */
	native_set_debugreg(6, VTX_DR6_FIXED);
}

/* Just before the world switch, IRQs off. */
void vtx_switch_to_guest(struct vtx_vcpu *vtx)
{
	if (unlikely(!vtx->guest_state_loaded))
		vtx_load_guest_state(vtx);
	/* A guest WRMSR handled by the core changed it meanwhile. */
	if (vtx_has_rdtscp() && vtx->live_tsc_aux != vtx->vcpu.msr_tsc_aux) {
		wrmsrl(MSR_TSC_AUX, vtx->vcpu.msr_tsc_aux);
		vtx->live_tsc_aux = vtx->vcpu.msr_tsc_aux;
	}
	if (native_read_cr2() != vtx->cr2)
		native_write_cr2(vtx->cr2);
	if (vtx->dr_live)
		vtx_dr_load(vtx);
}

/* Just after it, IRQs still off. */
void vtx_switch_to_host(struct vtx_vcpu *vtx)
{
	if (vtx->dr_live)
		vtx_dr_save(vtx);
	vtx->cr2 = native_read_cr2();
	/* The exit cleared DEBUGCTL and set DR7 to its reset value. */
	if (vtx->host.debugctl)
		wrmsrl(MSR_IA32_DEBUGCTLMSR, vtx->host.debugctl);
	if (hw_breakpoint_active())
		hw_breakpoint_restore();
	__this_cpu_write(vtx_host_dirty, true);
}
