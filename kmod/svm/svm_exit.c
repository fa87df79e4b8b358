// SPDX-License-Identifier: GPL-2.0
/*
 * SVM exit handlers.  One contract for all: return 1 when the exit was
 * handled in the kernel (RIP advanced as needed, keep running), 0 when
 * the run area holds an exit for user space, or a negative errno.  A
 * guest mistake gets an exception injected through one helper.
 */
#include <linux/kernel.h>
#include <asm/fpu/xcr.h>
#include <asm/msr-index.h>
#include <asm/traps.h>

#include "svm.h"

static int svm_inject_ud(struct svm_vcpu *svm)
{
	svm_queue_exception(svm, X86_TRAP_UD, false, 0);
	return 1;
}

static int svm_inject_gp(struct svm_vcpu *svm)
{
	svm_queue_exception(svm, X86_TRAP_GP, true, 0);
	return 1;
}

static int svm_exit_nothing(struct svm_vcpu *svm)
{
	/* A host interrupt, NMI, SMI or INIT: it was handled on the way out. */
	return 1;
}

static int svm_exit_vintr(struct svm_vcpu *svm)
{
	struct vmx_vcpu *vcpu = &svm->vcpu;

	svm->vmcb->control.int_ctl &= ~(V_IRQ_MASK | V_IGN_TPR_MASK);
	svm_clr_intercept(svm->vmcb, INTERCEPT_VINTR);
	/* A queued interrupt goes in at the next entry by itself. */
	if (vcpu->events.irq_pending || !READ_ONCE(vcpu->run->request_irq_window))
		return 1;
	vcpu->run->exit_reason = VMX_EXIT_IRQ_WINDOW;
	vcpu->run->irq_window_open = 1;
	return 0;
}

/*
 * The guest's IRET ends its NMI handler: stop intercepting and let the
 * IRET run.  NMIs stay blocked until it has (svm_nmi_iret_done()).
 */
static int svm_exit_iret(struct svm_vcpu *svm)
{
	svm_clr_intercept(svm->vmcb, INTERCEPT_IRET);
	svm->nmi_iret_pending = true;
	svm->nmi_iret_rip = svm->vmcb->save.rip;
	return 1;
}

static int svm_exit_dr(struct svm_vcpu *svm)
{
	svm_dr_go_live(svm);
	return 1;
}

static int svm_exit_cpuid(struct svm_vcpu *svm)
{
	vmx_cpuid_emulate(&svm->vcpu, svm->vmcb->save.cr4);
	svm_skip_insn(svm, SVM_LEN_CPUID);
	return 1;
}

static int svm_exit_hlt(struct svm_vcpu *svm)
{
	struct vmx_vcpu *vcpu = &svm->vcpu;

	svm_skip_insn(svm, SVM_LEN_HLT);
	/* An event the guest takes now: deliver it, HLT waits for that. */
	if (vmx_event_wakes_hlt(vcpu))
		return 1;
	vcpu->run->exit_reason = VMX_EXIT_HLT;
	return 0;
}

static int svm_exit_io(struct svm_vcpu *svm)
{
	u64 info = svm->vmcb->control.exit_info_1;
	/* EXITINFO2 holds the next RIP on every CPU, NRIP save or not. */
	u64 next_rip = svm->vmcb->control.exit_info_2;
	unsigned int size = (info & SVM_IO_SZ_MASK) >> SVM_IO_SZ_SHIFT;
	unsigned int asz = (info & SVM_IO_A_MASK) >> SVM_IO_A_SHIFT;
	struct vmx_io_info io = {
		.port = info >> SVM_IO_PORT_SHIFT,
		.in = info & SVM_IO_IN,
		.size = size == 4 ? 4 : size == 2 ? 2 : 1,
		.string = info & SVM_IO_STR,
		.rep = info & SVM_IO_REP,
		.insn_len = next_rip - svm->vcpu.rip,
	};

	/*
	 * Address size and segment are only reliable with decode assists;
	 * without them 0 tells the VMM to decode the instruction itself.
	 */
	if (svm_has_decode_assists && asz) {
		io.addr_size = asz == 4 ? 64 : asz == 2 ? 32 : 16;
		io.seg = (info & SVM_IO_SEG_MASK) >> SVM_IO_SEG_SHIFT;
	}
	svm_end_shadow(svm);
	vmx_vcpu_exit_io(&svm->vcpu, &io);
	return 0;
}

static int svm_exit_msr(struct svm_vcpu *svm)
{
	int ret = vmx_vcpu_emulate_msr(&svm->vcpu, svm->vmcb->control.exit_info_1,
				       SVM_LEN_RDMSR);

	if (ret < 0)
		return svm_inject_gp(svm);
	if (ret > 0)
		svm_skip_insn(svm, SVM_LEN_RDMSR);
	else
		svm_end_shadow(svm);
	return ret;
}

/*
 * MOV to CR4.  SVM has no CR4 guest/host mask: without this intercept the
 * guest sets any bit its CPU implements (PKE, and WRPKRU then changes the
 * PKRU its VMM thread runs with; FSGSBASE, UMIP... that its CPUID does
 * not offer), and VMRUN checks only reserved bits.  Checking save.cr4
 * after the fact instead would let the guest run with the bit until the
 * next exit and has no architectural answer (#GP belongs to the MOV), so
 * the write is intercepted and emulated: allowed bits go in, the rest is
 * #GP at the MOV, as on a CPU without the feature.
 *
 * Without decode assists EXITINFO1 does not name the source register:
 * the instruction is read from guest memory (a walk of the guest's page
 * tables, svm_insn.c) and decoded; MOV to CR4 is the only instruction
 * that writes CR4 here (no LMSW/CLTS form; task switches are refused).
 */
static int svm_exit_write_cr4(struct svm_vcpu *svm)
{
	struct vmx_vcpu *vcpu = &svm->vcpu;
	u64 info = svm->vmcb->control.exit_info_1, val, data[3];
	bool long64 = svm_in_64bit_mode(svm);
	int reg, len = 0, n = 0;
	u8 insn[15];

	if (svm_has_decode_assists && svm_has_nrips &&
	    (info & SVM_CR_INFO_VALID)) {
		/* The CPU names the register; NRIP gives the length. */
		reg = svm_gpr_from_x86(info & SVM_CR_INFO_GPR_MASK);
	} else {
		n = svm_fetch_insn(svm, insn, sizeof(insn));
		reg = svm_decode_mov_to_cr4(insn, n, long64, &len);
	}
	if (reg < 0) {
		/* Not readable or not a MOV to CR4 (changed under us). */
		data[0] = svm->vmcb->control.exit_code;
		data[1] = vcpu->rip;
		data[2] = n;
		vmx_vcpu_exit_internal(vcpu, VMX_INTERNAL_UNKNOWN_EXIT, 3, data);
		return 0;
	}
	val = vcpu->gprs[reg];
	if (!long64)
		val = (u32)val;
	if (svm->vmcb->save.cpl || svm_set_cr4(svm, val))
		return svm_inject_gp(svm);
	svm_skip_insn(svm, len);
	return 1;
}

static int svm_exit_shutdown(struct svm_vcpu *svm)
{
	/*
	 * Triple fault: the VMCB is undefined now.  The VMM decides what
	 * comes next, from the reset state (run->rip still tells where the
	 * guest died).
	 */
	svm_reset_vcpu(svm);
	svm->vcpu.run->exit_reason = VMX_EXIT_SHUTDOWN;
	return 0;
}

static int svm_exit_vmmcall(struct svm_vcpu *svm)
{
	svm_end_shadow(svm);
	vmx_vcpu_exit_hypercall(&svm->vcpu, SVM_LEN_VMMCALL);
	return 0;
}

/* SVM is hidden from the guest: its instructions do not exist. */
static int svm_exit_svm_insn(struct svm_vcpu *svm)
{
	return svm_inject_ud(svm);
}

static int svm_exit_xsetbv(struct svm_vcpu *svm)
{
	if (vmx_vcpu_xsetbv(&svm->vcpu, svm->vmcb->save.cpl))
		return svm_inject_gp(svm);
	svm_skip_insn(svm, SVM_LEN_XSETBV);
	return 1;
}

static int svm_exit_rdtscp(struct svm_vcpu *svm)
{
	struct vmx_vcpu *vcpu = &svm->vcpu;
	u64 tsc = rdtsc() + svm->vmcb->control.tsc_offset;

	vcpu->gprs[VMX_RAX] = (u32)tsc;
	vcpu->gprs[VMX_RDX] = tsc >> 32;
	vcpu->gprs[VMX_RCX] = (u32)vcpu->msr_tsc_aux;
	svm_skip_insn(svm, SVM_LEN_RDTSCP);
	return 1;
}

/* INVD and WBINVD: caches stay coherent for the guest; nothing to do. */
static int svm_exit_invd(struct svm_vcpu *svm)
{
	svm_skip_insn(svm, SVM_LEN_INVD);
	return 1;
}

static int svm_exit_npf(struct svm_vcpu *svm)
{
	struct vmcb_control_area *ctl = &svm->vmcb->control;
	struct vmx_run *run = svm->vcpu.run;
	u64 gpa = ctl->exit_info_2, err = ctl->exit_info_1;
	int ret;

	ret = vmx_mmu_handle_fault(&svm->vcpu, gpa, err & SVM_NPF_WRITE,
				   err & SVM_NPF_FETCH);
	/* With decode assists the CPU hands over the instruction bytes. */
	if (ret == 0 && run->exit_reason == VMX_EXIT_MMIO && ctl->insn_len) {
		run->mmio.insn_len = min_t(u8, ctl->insn_len, sizeof(run->mmio.insn));
		memcpy(run->mmio.insn, ctl->insn_bytes, run->mmio.insn_len);
	}
	return ret;
}

/*
 * #DB and #AC are intercepted whatever the guest does, because delivering
 * either one can raise the same exception again before the CPU reaches an
 * instruction boundary, where alone it would take a host interrupt: a data
 * breakpoint on the stack slot the #DB frame is pushed to (CVE-2015-8104),
 * or CR0.AM + EFLAGS.AC at CPL 3 with a misaligned stack and a conforming
 * #AC handler (CVE-2015-5307).  Left alone, that loop keeps the host CPU
 * forever.  Intercepted, every round is an exit and the run loop sees
 * signals and need_resched between them; the exception itself goes back
 * into the guest as it came.
 */
static int svm_exit_db(struct svm_vcpu *svm)
{
	/*
	 * DR6 lives in the VMCB and the CPU has already updated it as for
	 * a delivered #DB (BS for a single step, B0-B3 for breakpoints, BD,
	 * no status bit for INT1): the guest's handler reads what it would
	 * read on bare metal.  Nothing to add.
	 */
	svm_queue_exception(svm, X86_TRAP_DB, false, 0);
	return 1;
}

static int svm_exit_ac(struct svm_vcpu *svm)
{
	/* #AC pushes an error code (always 0); EXITINFO1 holds it. */
	svm_queue_exception(svm, X86_TRAP_AC, true,
			    (u32)svm->vmcb->control.exit_info_1);
	return 1;
}

static int svm_exit_machine_check(struct svm_vcpu *svm)
{
	/* svm_handle_host_mce() gave it to the host; resume the guest. */
	return 1;
}

static int svm_exit_task_switch(struct svm_vcpu *svm)
{
	u64 data[2] = { svm->vmcb->control.exit_code,
			svm->vmcb->control.exit_info_1 };

	vmx_vcpu_exit_internal(&svm->vcpu, VMX_INTERNAL_UNKNOWN_EXIT, 2, data);
	return 0;
}

static int svm_exit_invalid(struct svm_vcpu *svm)
{
	struct vmx_run *run = svm->vcpu.run;

	run->exit_reason = VMX_EXIT_FAIL_ENTRY;
	run->fail_entry.hardware_reason = svm->vmcb->control.exit_code;
	run->fail_entry.cpu = svm->vcpu.cpu;
	return 0;
}

typedef int (*svm_exit_handler)(struct svm_vcpu *svm);

static const svm_exit_handler svm_exit_handlers[] = {
	[SVM_EXIT_WRITE_CR4]			= svm_exit_write_cr4,
	[SVM_EXIT_EXCP_BASE + DB_VECTOR]	= svm_exit_db,
	[SVM_EXIT_EXCP_BASE + AC_VECTOR]	= svm_exit_ac,
	[SVM_EXIT_EXCP_BASE + MC_VECTOR]	= svm_exit_machine_check,
	[SVM_EXIT_READ_DR0 ... SVM_EXIT_READ_DR3] = svm_exit_dr,
	[SVM_EXIT_WRITE_DR0 ... SVM_EXIT_WRITE_DR3] = svm_exit_dr,
	[SVM_EXIT_INTR]				= svm_exit_nothing,
	[SVM_EXIT_NMI]				= svm_exit_nothing,
	[SVM_EXIT_SMI]				= svm_exit_nothing,
	[SVM_EXIT_INIT]				= svm_exit_nothing,
	[SVM_EXIT_VINTR]			= svm_exit_vintr,
	[SVM_EXIT_IRET]				= svm_exit_iret,
	[SVM_EXIT_CPUID]			= svm_exit_cpuid,
	[SVM_EXIT_INVD]				= svm_exit_invd,
	[SVM_EXIT_HLT]				= svm_exit_hlt,
	[SVM_EXIT_INVLPGA]			= svm_exit_svm_insn,
	[SVM_EXIT_IOIO]				= svm_exit_io,
	[SVM_EXIT_MSR]				= svm_exit_msr,
	[SVM_EXIT_TASK_SWITCH]			= svm_exit_task_switch,
	[SVM_EXIT_SHUTDOWN]			= svm_exit_shutdown,
	[SVM_EXIT_VMRUN]			= svm_exit_svm_insn,
	[SVM_EXIT_VMMCALL]			= svm_exit_vmmcall,
	[SVM_EXIT_VMLOAD]			= svm_exit_svm_insn,
	[SVM_EXIT_VMSAVE]			= svm_exit_svm_insn,
	[SVM_EXIT_STGI]				= svm_exit_svm_insn,
	[SVM_EXIT_CLGI]				= svm_exit_svm_insn,
	[SVM_EXIT_SKINIT]			= svm_exit_svm_insn,
	[SVM_EXIT_RDTSCP]			= svm_exit_rdtscp,
	[SVM_EXIT_WBINVD]			= svm_exit_invd,
	[SVM_EXIT_MONITOR]			= svm_exit_svm_insn,
	[SVM_EXIT_MWAIT]			= svm_exit_svm_insn,
	[SVM_EXIT_MWAIT_COND]			= svm_exit_svm_insn,
	[SVM_EXIT_XSETBV]			= svm_exit_xsetbv,
	[SVM_EXIT_RDPRU]			= svm_exit_svm_insn,
	[SVM_EXIT_RDPMC]			= svm_inject_gp,
};

static int svm_exit_unknown(struct svm_vcpu *svm, u32 code)
{
	u64 data[3] = { code, svm->vmcb->control.exit_info_1,
			svm->vmcb->control.exit_info_2 };

	vmx_vcpu_exit_internal(&svm->vcpu, VMX_INTERNAL_UNKNOWN_EXIT, 3, data);
	return 0;
}

int svm_handle_exit(struct svm_vcpu *svm)
{
	u32 code = svm->vmcb->control.exit_code;

	svm_stat_exit(&svm->vcpu, code);
	if (code == SVM_EXIT_NPF)
		return svm_exit_npf(svm);
	if (code == (u32)SVM_EXIT_ERR)
		return svm_exit_invalid(svm);
	if (code < ARRAY_SIZE(svm_exit_handlers) && svm_exit_handlers[code])
		return svm_exit_handlers[code](svm);
	return svm_exit_unknown(svm, code);
}
