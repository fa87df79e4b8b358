// SPDX-License-Identifier: GPL-2.0
/*
 * VMX exit handlers.  One contract for all: return 1 when the exit was
 * handled in the kernel (RIP advanced as needed, keep running), 0 when
 * the run area holds an exit for user space, or a negative errno.  A
 * guest mistake gets an exception injected through one helper.
 */
#include <linux/kernel.h>
#include <asm/fpu/xcr.h>
#include <asm/msr-index.h>
#include <asm/traps.h>

#include "vtx.h"

/* GPR numbers in exit qualifications -> enum vmx_gpr. */
static const u8 vtx_gpr_map[16] = {
	VMX_RAX, VMX_RCX, VMX_RDX, VMX_RBX, VMX_RSP, VMX_RBP, VMX_RSI, VMX_RDI,
	VMX_R8, VMX_R9, VMX_R10, VMX_R11, VMX_R12, VMX_R13, VMX_R14, VMX_R15,
};

static int vtx_inject_ud(struct vtx_vcpu *vtx)
{
	vtx_queue_exception(vtx, X86_TRAP_UD, false, 0);
	return 1;
}

static int vtx_inject_gp(struct vtx_vcpu *vtx)
{
	vtx_queue_exception(vtx, X86_TRAP_GP, true, 0);
	return 1;
}

static bool vtx_long_mode(void)
{
	return vtx_vmread(GUEST_IA32_EFER) & EFER_LMA;
}

/* A GPR operand: outside long mode only its low 32 bits count. */
static u64 vtx_gpr_read(struct vtx_vcpu *vtx, unsigned int nr)
{
	u64 val = vtx->vcpu.gprs[vtx_gpr_map[nr]];

	return vtx_long_mode() ? val : (u32)val;
}

static void vtx_gpr_write(struct vtx_vcpu *vtx, unsigned int nr, u64 val)
{
	vtx->vcpu.gprs[vtx_gpr_map[nr]] = vtx_long_mode() ? val : (u32)val;
}

static int vtx_exit_nothing(struct vtx_vcpu *vtx, u32 reason)
{
	/*
	 * A host interrupt, NMI, #MC or INIT: it was handled on the way
	 * out.  The preemption timer only gives the host a look.
	 */
	return 1;
}

/*
 * DR6 as the #DB would have left it had it not exited (the exit leaves
 * DR6 alone and reports in the qualification): B0-B3 replaced, BD and BS
 * set when reported (never cleared by the CPU), RTM (active low) clear
 * only for a #DB inside a transaction.
 */
static u64 vtx_dr6_after_db(u64 dr6, u64 qual)
{
	dr6 &= ~VTX_DBG_QUAL_B0_3;
	dr6 |= VTX_DR6_FIXED;
	dr6 |= qual & (VTX_DBG_QUAL_B0_3 | VTX_DBG_QUAL_BD | VTX_DBG_QUAL_BS);
	if (qual & VTX_DBG_QUAL_RTM)
		dr6 &= ~VTX_DR6_RTM;
	return dr6;
}

/* The guest's own #DB (always intercepted): reflect it. */
static int vtx_exit_db(struct vtx_vcpu *vtx, u32 type)
{
	u64 qual = vtx_vmread(EXIT_QUALIFICATION);

	if (type == VTX_EVENT_TYPE_PRIV_SW_EXC) {
		/*
		 * INT1 exits before it completes; its #DB is a trap, and
		 * delivering it clears TF: no single-step trap of its own.
		 */
		vtx_step_over(vtx);
	} else if ((vtx->vcpu.rflags & X86_EFLAGS_TF) &&
		   (vtx->intr_state & VTX_INTR_SHADOW)) {
		/*
		 * A #DB exit does not record the single-step still due
		 * after the STI/MOV SS shadow, and the next entry checks
		 * that it is there.
		 */
		vtx_vmwrite(GUEST_PENDING_DBG_EXCEPTIONS,
			    vtx_vmread(GUEST_PENDING_DBG_EXCEPTIONS) |
			    VTX_DBG_QUAL_BS);
	}
	vtx->dr[4] = vtx_dr6_after_db(vtx->dr[4], qual);
	/* Delivering a general-detect #DB clears GD for the handler. */
	if (qual & VTX_DBG_QUAL_BD)
		vtx_vmwrite(GUEST_DR7, vtx_vmread(GUEST_DR7) & ~VTX_DR7_GD);
	vtx_queue_exception(vtx, X86_TRAP_DB, false, 0);
	return 1;
}

static int vtx_exit_exception(struct vtx_vcpu *vtx, u32 reason)
{
	u32 info = vtx_vmread(VM_EXIT_INTR_INFO);
	u32 type = (info >> VTX_EVENT_TYPE_SHIFT) & VTX_EVENT_TYPE_MASK;
	u8 vector = info & VTX_EVENT_VECTOR_MASK;
	u64 data[2] = { reason, info };

	/* NMIs and machine checks went to the host right after the exit. */
	if (type == VTX_EVENT_TYPE_NMI || vector == X86_TRAP_MC)
		return 1;
	if (vector == X86_TRAP_DB)
		return vtx_exit_db(vtx, type);
	/* #AC is only intercepted to keep its delivery loop interruptible. */
	if (vector == X86_TRAP_AC) {
		vtx_queue_exception(vtx, X86_TRAP_AC, true,
				    vtx_vmread(VM_EXIT_INTR_ERROR_CODE));
		return 1;
	}
	vmx_vcpu_exit_internal(&vtx->vcpu, VMX_INTERNAL_UNKNOWN_EXIT, 2, data);
	return 0;
}

static int vtx_exit_intr_window(struct vtx_vcpu *vtx, u32 reason)
{
	struct vmx_vcpu *vcpu = &vtx->vcpu;

	vtx_set_intr_window(vtx, CPU_BASED_INTR_WINDOW_EXITING, false);
	/* A queued interrupt goes in at the next entry by itself. */
	if (vcpu->events.irq_pending || !READ_ONCE(vcpu->run->request_irq_window))
		return 1;
	vcpu->run->exit_reason = VMX_EXIT_IRQ_WINDOW;
	vcpu->run->irq_window_open = 1;
	return 0;
}

static int vtx_exit_nmi_window(struct vtx_vcpu *vtx, u32 reason)
{
	/* The queued NMI goes in at the next entry. */
	vtx_set_intr_window(vtx, CPU_BASED_NMI_WINDOW_EXITING, false);
	return 1;
}

/*
 * Triple fault.  As on SVM (whose VMCB is undefined after it) the vCPU
 * goes back to its reset state, so that a VMM may set it up again and
 * run it; what the guest left in its registers, MSRs, debug registers
 * and event queue is gone.
 */
static int vtx_exit_shutdown(struct vtx_vcpu *vtx, u32 reason)
{
	int i;

	vtx_init_guest_state(vtx);
	vtx->intr_state = 0;
	/* The guest's values may still be in the CPU (vtx_host.c). */
	for (i = 0; i < VTX_NR_GUEST_MSRS; i++)
		vtx_guest_msr_write(vtx, i, 0);
	memset(vtx->dr, 0, sizeof(vtx->dr[0]) * 4);
	vtx->dr[4] = 0xffff0ff0;
	vtx->dr_live = false;
	vtx_set_exec_ctl(vtx, CPU_BASED_MOV_DR_EXITING, true);
	*(u32 *)(vtx->vapic + VTX_VAPIC_TPR) = 0;
	vtx->cr2 = 0;
	vtx->flush_tlb = true;
	vmx_vcpu_reset_regs(&vtx->vcpu);
	vtx->vcpu.run->exit_reason = VMX_EXIT_SHUTDOWN;
	return 0;
}

static int vtx_exit_cpuid(struct vtx_vcpu *vtx, u32 reason)
{
	vmx_cpuid_emulate(&vtx->vcpu, vtx_guest_cr4());
	vtx_skip_insn(vtx);
	return 1;
}

static int vtx_exit_hlt(struct vtx_vcpu *vtx, u32 reason)
{
	struct vmx_vcpu *vcpu = &vtx->vcpu;

	vtx_skip_insn(vtx);
	/* An event the guest takes now: deliver it, HLT waits for that. */
	if (vmx_event_wakes_hlt(vcpu))
		return 1;
	vcpu->run->exit_reason = VMX_EXIT_HLT;
	return 0;
}

/* INVD and WBINVD: caches stay coherent for the guest; nothing to do. */
static int vtx_exit_skip(struct vtx_vcpu *vtx, u32 reason)
{
	vtx_skip_insn(vtx);
	return 1;
}

/* Performance counters are the host's. */
static int vtx_exit_rdpmc(struct vtx_vcpu *vtx, u32 reason)
{
	return vtx_inject_gp(vtx);
}

static int vtx_exit_vmcall(struct vtx_vcpu *vtx, u32 reason)
{
	vtx_end_shadow(vtx);
	vmx_vcpu_exit_hypercall(&vtx->vcpu, vtx_vmread(VM_EXIT_INSTRUCTION_LEN));
	return 0;
}

/* VMX is hidden from the guest: its instructions do not exist. */
static int vtx_exit_vmx_insn(struct vtx_vcpu *vtx, u32 reason)
{
	return vtx_inject_ud(vtx);
}

/* MOV to CR0, CLTS, LMSW: only the host-owned bits exit. */
static int vtx_exit_cr0_write(struct vtx_vcpu *vtx, u64 cr0)
{
	if (cr0 >> 32 || ((cr0 & X86_CR0_PG) && !(cr0 & X86_CR0_PE)) ||
	    ((cr0 & X86_CR0_NW) && !(cr0 & X86_CR0_CD)))
		return vtx_inject_gp(vtx);
	if (vtx_set_cr0(vtx, cr0))
		return vtx_inject_gp(vtx);
	vtx_skip_insn(vtx);
	return 1;
}

static int vtx_exit_cr(struct vtx_vcpu *vtx, u32 reason)
{
	u64 qual = vtx_vmread(EXIT_QUALIFICATION);
	unsigned int cr = qual & VTX_CR_NUM_MASK;
	unsigned int gpr = (qual >> VTX_CR_GPR_SHIFT) & VTX_CR_GPR_MASK;
	u32 *tpr = vtx->vapic + VTX_VAPIC_TPR;
	u64 cr0, val, data[2] = { reason, qual };

	switch ((qual >> VTX_CR_TYPE_SHIFT) & VTX_CR_TYPE_MASK) {
	case VTX_CR_TYPE_MOV_TO:
		val = vtx_gpr_read(vtx, gpr);
		if (cr == 0)
			return vtx_exit_cr0_write(vtx, val);
		if (cr == 4) {
			if (vtx_set_cr4(vtx, val))
				return vtx_inject_gp(vtx);
			break;
		}
		if (cr == 3) {
			vtx_vmwrite(GUEST_CR3, val);
			break;
		}
		if (cr == 8) {
			if (val & ~0xfULL)
				return vtx_inject_gp(vtx);
			*tpr = val << 4;
			break;
		}
		goto unknown;
	case VTX_CR_TYPE_MOV_FROM:
		if (cr == 3)
			vtx_gpr_write(vtx, gpr, vtx_vmread(GUEST_CR3));
		else if (cr == 8)
			vtx_gpr_write(vtx, gpr, *tpr >> 4);
		else
			goto unknown;
		break;
	case VTX_CR_TYPE_CLTS:
		return vtx_exit_cr0_write(vtx, vtx_guest_cr0() & ~X86_CR0_TS);
	case VTX_CR_TYPE_LMSW:
		/* Loads PE, MP, EM, TS; can set PE but never clear it. */
		cr0 = vtx_guest_cr0();
		val = (qual >> VTX_CR_LMSW_SHIFT) & 0xf;
		return vtx_exit_cr0_write(vtx, (cr0 & ~0xeULL) | val |
					  (cr0 & X86_CR0_PE));
	}
	vtx_skip_insn(vtx);
	return 1;

unknown:
	vmx_vcpu_exit_internal(&vtx->vcpu, VMX_INTERNAL_UNKNOWN_EXIT, 2, data);
	return 0;
}

/*
 * MOV to/from DR: DR0-3 and DR6 stay the host's until the guest first
 * touches a debug register.  Then they go live (switched around every
 * entry) and MOV DR runs natively, with the CPU's own checks (#UD for
 * DR4/5 with CR4.DE, #GP, general detect): the instruction runs again.
 */
static int vtx_exit_dr(struct vtx_vcpu *vtx, u32 reason)
{
	vtx_dr_go_live(vtx);
	return 1;
}

static int vtx_exit_io(struct vtx_vcpu *vtx, u32 reason)
{
	u64 qual = vtx_vmread_current(EXIT_QUALIFICATION);
	struct vmx_io_info io = {
		.port = qual >> VTX_IO_PORT_SHIFT,
		.in = qual & VTX_IO_IN,
		.size = (qual & VTX_IO_SIZE_MASK) + 1,
		.string = qual & VTX_IO_STRING,
		.rep = qual & VTX_IO_REP,
		.insn_len = vtx_vmread_current(VM_EXIT_INSTRUCTION_LEN),
	};
	u32 info;

	/*
	 * Without INS/OUTS information the address size stays 0: the VMM
	 * decodes the instruction itself.
	 */
	if (io.string && vtx_has_inout_info) {
		info = vtx_vmread(VMX_INSTRUCTION_INFO);
		io.addr_size = 16 << ((info >> VTX_INSN_ASIZE_SHIFT) &
				      VTX_INSN_ASIZE_MASK);
		/* INS always writes through ES (0). */
		if (!io.in)
			io.seg = (info >> VTX_INSN_SEG_SHIFT) & VTX_INSN_SEG_MASK;
	}
	vtx_end_shadow(vtx);
	vmx_vcpu_exit_io(&vtx->vcpu, &io);
	return 0;
}

static int vtx_exit_msr(struct vtx_vcpu *vtx, u32 reason)
{
	int ret = vmx_vcpu_emulate_msr(&vtx->vcpu,
				       reason == EXIT_REASON_MSR_WRITE,
				       vtx_vmread(VM_EXIT_INSTRUCTION_LEN));

	if (ret < 0)
		return vtx_inject_gp(vtx);
	if (ret > 0)
		vtx_skip_insn(vtx);
	else
		vtx_end_shadow(vtx);
	return ret;
}

static int vtx_exit_xsetbv(struct vtx_vcpu *vtx, u32 reason)
{
	u32 cpl = (vtx_vmread(GUEST_SS_AR_BYTES) >> VTX_AR_DPL_SHIFT) & 3;

	if (vmx_vcpu_xsetbv(&vtx->vcpu, cpl))
		return vtx_inject_gp(vtx);
	vtx_skip_insn(vtx);
	return 1;
}

static int vtx_exit_ept_violation(struct vtx_vcpu *vtx, u32 reason)
{
	u64 qual = vtx_vmread(EXIT_QUALIFICATION);
	u64 gpa = vtx_vmread(GUEST_PHYSICAL_ADDRESS);

	/* The fault hit an IRET that had unblocked NMIs: block them again. */
	if ((qual & VTX_EPT_QUAL_NMI_UNBLOCK) &&
	    !(vtx_vmread(IDT_VECTORING_INFO_FIELD) & VTX_EVENT_VALID))
		vtx->intr_state |= VTX_INTR_NMI;
	return vmx_mmu_handle_fault(&vtx->vcpu, gpa, qual & VTX_EPT_QUAL_WRITE,
				    qual & VTX_EPT_QUAL_FETCH);
}

static int vtx_exit_ept_misconfig(struct vtx_vcpu *vtx, u32 reason)
{
	u64 data[2] = { vtx_vmread(GUEST_PHYSICAL_ADDRESS), reason };

	vmx_vcpu_exit_internal(&vtx->vcpu, VMX_INTERNAL_NPT_FAULT, 2, data);
	return 0;
}

static int vtx_exit_task_switch(struct vtx_vcpu *vtx, u32 reason)
{
	u64 data[2] = { reason, vtx_vmread(EXIT_QUALIFICATION) };

	vmx_vcpu_exit_internal(&vtx->vcpu, VMX_INTERNAL_UNKNOWN_EXIT, 2, data);
	return 0;
}

/* VM entry failed on guest state, MSR loading or a machine check. */
static int vtx_exit_failed_entry(struct vtx_vcpu *vtx, u32 reason)
{
	struct vmx_run *run = vtx->vcpu.run;

	run->exit_reason = VMX_EXIT_FAIL_ENTRY;
	run->rip = vtx->vcpu.rip;
	run->fail_entry.hardware_reason = reason;
	run->fail_entry.cpu = vtx->vcpu.cpu;
	return 0;
}

typedef int (*vtx_exit_handler)(struct vtx_vcpu *vtx, u32 reason);

static const vtx_exit_handler vtx_exit_handlers[] = {
	[EXIT_REASON_EXCEPTION_NMI]		= vtx_exit_exception,
	[EXIT_REASON_EXTERNAL_INTERRUPT]	= vtx_exit_nothing,
	[EXIT_REASON_TRIPLE_FAULT]		= vtx_exit_shutdown,
	[EXIT_REASON_INIT_SIGNAL]		= vtx_exit_nothing,
	[EXIT_REASON_SIPI_SIGNAL]		= vtx_exit_nothing,
	[EXIT_REASON_INTERRUPT_WINDOW]		= vtx_exit_intr_window,
	[EXIT_REASON_NMI_WINDOW]		= vtx_exit_nmi_window,
	[EXIT_REASON_TASK_SWITCH]		= vtx_exit_task_switch,
	[EXIT_REASON_CPUID]			= vtx_exit_cpuid,
	[VTX_EXIT_GETSEC]			= vtx_exit_vmx_insn,
	[EXIT_REASON_HLT]			= vtx_exit_hlt,
	[EXIT_REASON_INVD]			= vtx_exit_skip,
	[EXIT_REASON_RDPMC]			= vtx_exit_rdpmc,
	[EXIT_REASON_VMCALL]			= vtx_exit_vmcall,
	[EXIT_REASON_VMCLEAR]			= vtx_exit_vmx_insn,
	[EXIT_REASON_VMLAUNCH]			= vtx_exit_vmx_insn,
	[EXIT_REASON_VMPTRLD]			= vtx_exit_vmx_insn,
	[EXIT_REASON_VMPTRST]			= vtx_exit_vmx_insn,
	[EXIT_REASON_VMREAD]			= vtx_exit_vmx_insn,
	[EXIT_REASON_VMRESUME]			= vtx_exit_vmx_insn,
	[EXIT_REASON_VMWRITE]			= vtx_exit_vmx_insn,
	[EXIT_REASON_VMOFF]			= vtx_exit_vmx_insn,
	[EXIT_REASON_VMON]			= vtx_exit_vmx_insn,
	[EXIT_REASON_CR_ACCESS]			= vtx_exit_cr,
	[EXIT_REASON_DR_ACCESS]			= vtx_exit_dr,
	[EXIT_REASON_IO_INSTRUCTION]		= vtx_exit_io,
	[EXIT_REASON_MSR_READ]			= vtx_exit_msr,
	[EXIT_REASON_MSR_WRITE]			= vtx_exit_msr,
	[EXIT_REASON_MWAIT_INSTRUCTION]		= vtx_exit_vmx_insn,
	[EXIT_REASON_MONITOR_INSTRUCTION]	= vtx_exit_vmx_insn,
	[EXIT_REASON_TPR_BELOW_THRESHOLD]	= vtx_exit_nothing,
	[EXIT_REASON_EPT_VIOLATION]		= vtx_exit_ept_violation,
	[EXIT_REASON_EPT_MISCONFIG]		= vtx_exit_ept_misconfig,
	[EXIT_REASON_PREEMPTION_TIMER]		= vtx_exit_nothing,
	[EXIT_REASON_INVEPT]			= vtx_exit_vmx_insn,
	[EXIT_REASON_INVVPID]			= vtx_exit_vmx_insn,
	[EXIT_REASON_WBINVD]			= vtx_exit_skip,
	[EXIT_REASON_XSETBV]			= vtx_exit_xsetbv,
	[EXIT_REASON_VMFUNC]			= vtx_exit_vmx_insn,
};

static int vtx_exit_unknown(struct vtx_vcpu *vtx, u32 reason)
{
	u64 data[2] = { reason, vtx_vmread(EXIT_QUALIFICATION) };

	vmx_vcpu_exit_internal(&vtx->vcpu, VMX_INTERNAL_UNKNOWN_EXIT, 2, data);
	return 0;
}

int vtx_handle_exit(struct vtx_vcpu *vtx, u32 reason)
{
	u32 basic = reason & VTX_EXIT_REASON_MASK;

	vtx_stat_exit(&vtx->vcpu, reason);
	if (reason & VTX_EXIT_FAILED_ENTRY)
		return vtx_exit_failed_entry(vtx, reason);
	/* The two exits to user space that matter most, without the table. */
	if (basic == EXIT_REASON_IO_INSTRUCTION)
		return vtx_exit_io(vtx, basic);
	if (basic == EXIT_REASON_EPT_VIOLATION)
		return vtx_exit_ept_violation(vtx, basic);
	if (basic < ARRAY_SIZE(vtx_exit_handlers) && vtx_exit_handlers[basic])
		return vtx_exit_handlers[basic](vtx, basic);
	return vtx_exit_unknown(vtx, reason);
}
