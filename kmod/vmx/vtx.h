/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Intel VMX backend ("vtx" for short, so that nothing here is mistaken
 * for the product's core): private definitions and instruction wrappers.
 *
 * VMCS field encodings, control bits and exit reasons come from the
 * kernel's <asm/vmx.h>; what is ours is named here.
 *
 * VMX instructions report failure through RFLAGS (CF: VMfailInvalid,
 * ZF: VMfailValid) and fault with #UD outside VMX operation (e.g. after
 * the reboot path switched VMX off under a running vCPU); every wrapper
 * checks both.
 */
#ifndef VMX_VTX_H
#define VMX_VTX_H

#include <linux/bits.h>
#include <linux/errno.h>
#include <linux/list.h>
#include <linux/percpu-defs.h>
#include <linux/types.h>
#include <asm/asm.h>
#include <asm/msr-index.h>
#include <asm/vmx.h>

#include "../core.h"

/* IA32_VMX_BASIC fields (SDM Vol. 3 Appendix A.1). */
#define VTX_BASIC_REVISION_MASK		0x7fffffffULL
#define VTX_BASIC_REGION_SIZE_SHIFT	32
#define VTX_BASIC_REGION_SIZE_MASK	0x1fffULL
#define VTX_BASIC_INOUT_INFO		BIT_ULL(54)
#define VTX_BASIC_TRUE_CTLS		BIT_ULL(55)

/* IA32_VMX_MISC: TSC bit the preemption timer counts at. */
#define VTX_MISC_PREEMPT_RATE_MASK	0x1fULL

/* IA32_VMX_EPT_VPID_CAP (SDM Vol. 3 Appendix A.10). */
#define VTX_EPT_CAP_WALK4		BIT_ULL(6)
#define VTX_EPT_CAP_WB			BIT_ULL(14)
#define VTX_EPT_CAP_INVEPT		BIT_ULL(20)
#define VTX_EPT_CAP_INVEPT_SINGLE	BIT_ULL(25)
#define VTX_EPT_CAP_INVEPT_ALL		BIT_ULL(26)
#define VTX_VPID_CAP_INVVPID		BIT_ULL(32)
#define VTX_VPID_CAP_SINGLE		BIT_ULL(41)
#define VTX_VPID_CAP_ALL		BIT_ULL(42)

/* INVEPT / INVVPID types. */
#define VTX_INVEPT_SINGLE		1
#define VTX_INVEPT_ALL			2
#define VTX_INVVPID_SINGLE		1
#define VTX_INVVPID_ALL			2

/* EPT pointer: WB paging-structure memory type, 4-level walk. */
#define VTX_EPTP_MT_WB			6ULL
#define VTX_EPTP_WALK4			(3ULL << 3)

/* Exit reasons <asm/vmx.h> does not name on every kernel. */
#define VTX_EXIT_GETSEC			11
#define VTX_EXIT_REASON_MASK		0xffffU
#define VTX_EXIT_FAILED_ENTRY		BIT(31)

/* Exit qualification of an I/O instruction (SDM Vol. 3, Table 28-5). */
#define VTX_IO_SIZE_MASK		7U	/* size - 1 */
#define VTX_IO_IN			BIT(3)
#define VTX_IO_STRING			BIT(4)
#define VTX_IO_REP			BIT(5)
#define VTX_IO_PORT_SHIFT		16

/* VM-exit instruction information of INS/OUTS (Table 28-8). */
#define VTX_INSN_ASIZE_SHIFT		7	/* 0: 16, 1: 32, 2: 64 bit */
#define VTX_INSN_ASIZE_MASK		7U
#define VTX_INSN_SEG_SHIFT		15	/* ES CS SS DS FS GS */
#define VTX_INSN_SEG_MASK		7U

/* Exit qualification of a control-register access (Table 28-3). */
#define VTX_CR_NUM_MASK			0xfU
#define VTX_CR_TYPE_SHIFT		4
#define VTX_CR_TYPE_MASK		3U
#define VTX_CR_TYPE_MOV_TO		0
#define VTX_CR_TYPE_MOV_FROM		1
#define VTX_CR_TYPE_CLTS		2
#define VTX_CR_TYPE_LMSW		3
#define VTX_CR_GPR_SHIFT		8
#define VTX_CR_GPR_MASK			0xfU
#define VTX_CR_LMSW_SHIFT		16

/* Exit qualification of a debug-register access (Table 28-4). */
#define VTX_DR_NUM_MASK			7U
#define VTX_DR_FROM			BIT(4)
#define VTX_DR_GPR_SHIFT		8
#define VTX_DR_GPR_MASK			0xfU

/* Exit qualification of an EPT violation (Table 28-7). */
#define VTX_EPT_QUAL_READ		BIT_ULL(0)
#define VTX_EPT_QUAL_WRITE		BIT_ULL(1)
#define VTX_EPT_QUAL_FETCH		BIT_ULL(2)
#define VTX_EPT_QUAL_NMI_UNBLOCK	BIT_ULL(12)

/* Exit qualification of a debug exception (Table 28-1): DR6 as it would be. */
#define VTX_DBG_QUAL_B0_3		GENMASK_ULL(3, 0)
#define VTX_DBG_QUAL_BD			BIT_ULL(13)
#define VTX_DBG_QUAL_BS			BIT_ULL(14)
#define VTX_DBG_QUAL_RTM		BIT_ULL(16)

/* DR6 reads as 1 in its reserved bits and in RTM (active low); DR7.GD. */
#define VTX_DR6_FIXED			0xffff0ff0ULL
#define VTX_DR6_RTM			BIT_ULL(16)
#define VTX_DR7_GD			BIT_ULL(13)

/* Guest IA32_DEBUGCTL bits: BTF only, no LBR or other host facilities. */
#define VTX_GUEST_DEBUGCTL		DEBUGCTLMSR_BTF

/* Event (interruption) information: VM-entry, VM-exit, IDT vectoring. */
#define VTX_EVENT_VECTOR_MASK		0xffU
#define VTX_EVENT_TYPE_SHIFT		8
#define VTX_EVENT_TYPE_MASK		7U
#define VTX_EVENT_TYPE_EXTINT		0
#define VTX_EVENT_TYPE_NMI		2
#define VTX_EVENT_TYPE_HW_EXC		3
#define VTX_EVENT_TYPE_SOFT_INT		4
#define VTX_EVENT_TYPE_PRIV_SW_EXC	5
#define VTX_EVENT_TYPE_SOFT_EXC		6
#define VTX_EVENT_HAS_ERR		BIT(11)
#define VTX_EVENT_VALID			BIT(31)

/* Guest interruptibility state. */
#define VTX_INTR_STI			BIT(0)
#define VTX_INTR_MOV_SS			BIT(1)
#define VTX_INTR_NMI			BIT(3)
#define VTX_INTR_SHADOW			(VTX_INTR_STI | VTX_INTR_MOV_SS)

/* VMCS segment access rights (SDM Vol. 3, Table 25-2). */
#define VTX_AR_TYPE_MASK		0xfU
#define VTX_AR_TYPE_BUSY_TSS64		0xbU
#define VTX_AR_S			BIT(4)
#define VTX_AR_DPL_SHIFT		5
#define VTX_AR_P			BIT(7)
#define VTX_AR_AVL			BIT(12)
#define VTX_AR_L			BIT(13)
#define VTX_AR_DB			BIT(14)
#define VTX_AR_G			BIT(15)
#define VTX_AR_UNUSABLE			BIT(16)

/* MSR bitmap: read low/high, write low/high, 1 KiB each (SDM 25.6.9). */
#define VTX_MSRBM_READ_LOW		0
#define VTX_MSRBM_READ_HIGH		1024
#define VTX_MSRBM_WRITE_LOW		2048
#define VTX_MSRBM_WRITE_HIGH		3072

/* Virtual-APIC page: the TPR the guest's MOV CR8 reads and writes. */
#define VTX_VAPIC_TPR			0x80

/* PAE page-directory-pointer table entries and where CR3 points to them. */
#define VTX_PDPTE_P			BIT_ULL(0)
#define VTX_PDPTE_RSVD			(GENMASK_ULL(2, 1) | GENMASK_ULL(8, 5))
#define VTX_PAE_CR3_MASK		0xffffffe0ULL

/* Guest EFER bits a guest or VMM may set. */
#define VTX_GUEST_EFER			(EFER_SCE | EFER_LME | EFER_LMA | EFER_NX)

/*
 * CR0 bits the host owns: mode switches (PE, PG) are emulated so that
 * EFER.LMA and the IA-32e entry control follow; NE must stay set in
 * VMX operation; CD/NW stay clear in hardware (the guest sees its own).
 */
#define VTX_CR0_HOST_OWNED		(X86_CR0_PE | X86_CR0_PG | X86_CR0_NE | \
					 X86_CR0_CD | X86_CR0_NW)

/* The instruction-length field is valid on these exits; VMCALL is 3. */
#define VTX_LEN_VMCALL			3

/* Software-kept guest MSRs that the guest uses without an exit. */
enum vtx_guest_msr {
	VTX_MSR_STAR, VTX_MSR_LSTAR, VTX_MSR_CSTAR, VTX_MSR_SFMASK,
	VTX_MSR_KERNEL_GS_BASE,
	VTX_NR_GUEST_MSRS
};

/*
 * struct vtx_host_state - host state switched lazily (vtx_host.c), saved
 * at the first entry after the vCPU thread came onto a CPU
 */
struct vtx_host_state {
	u64 kernel_gs_base;
	u64 tsc_aux;
	u64 debugctl;
	u16 ds, es, fs, gs, ldt;
};

/*
 * struct vtx_vcpu - VMX state of one vCPU
 * @vcpu:	the generic part; must be first
 * @vmcs:	the VMCS region (one page, revision id stamped)
 * @loaded_cpu:	CPU whose VMCS cache holds @vmcs (active there), or -1
 *		when it is clear; changed only on that CPU with IRQs off,
 *		or by the vCPU thread while it is clear
 * @loaded_link: on vtx_loaded_vmcs of @loaded_cpu
 * @launched:	VMLAUNCH succeeded since the last VMCLEAR: use VMRESUME
 * @msr_bitmap, @vapic: MSR bitmap and virtual-APIC (TPR shadow) pages
 * @vpid:	VPID tagging the guest's TLB entries, 0 without VPID
 * @flush_tlb:	flush guest TLB entries before the next entry
 * @bad_cr0:	the VMM set CR0.NW without CD, which VMX would not check
 *		(the hardware never sees either): entries fail until fixed
 * @intr_state:	guest interruptibility; written into the VMCS before
 *		each entry and read back after each exit
 * @cr2:	guest CR2 (VMX does not switch it)
 * @dr, @dr_live: guest DR0-3 and DR6 (@dr[4]).  MOV DR exits until the
 *		guest first touches a debug register; from then on they are
 *		loaded and saved around every entry and MOV DR runs
 *		natively.  DR7 and IA32_DEBUGCTL are in the VMCS (load/save
 *		debug controls).
 * @msrs:	guest values of the MSRs in enum vtx_guest_msr
 * @live_msrs:	those the guest's mode can use (bits of enum vtx_guest_msr):
 *		the ones switched (vtx_host.c)
 * @guest_state_loaded: @live_msrs and the guest's TSC_AUX are in the
 *		CPU, the host's in @host (vtx_host.c): from the first entry
 *		after the thread came onto the CPU until vtx_vcpu_put()
 * @live_tsc_aux: TSC_AUX in the CPU meanwhile
 * @host:	the host state switched lazily
 * @host_*:	values last written to the VMCS host-state area
 *
 * All fields are the vCPU thread's (vCPU mutex), except the loaded-VMCS
 * bookkeeping, which the CPU holding the VMCS may clear by IPI.
 */
struct vtx_vcpu {
	struct vmx_vcpu vcpu;
	void *vmcs;
	u64 vmcs_pa;
	int loaded_cpu;
	struct list_head loaded_link;
	bool launched;

	void *msr_bitmap;
	void *vapic;
	u16 vpid;
	bool flush_tlb;
	bool bad_cr0;
	u32 intr_state;
	u32 entry_ctls;
	u32 primary_ctls;

	u64 cr2;
	u64 dr[5];
	bool dr_live;
	u64 msrs[VTX_NR_GUEST_MSRS];
	u32 live_msrs;
	bool guest_state_loaded;
	u64 live_tsc_aux;
	struct vtx_host_state host;

	unsigned long host_cr3;
	unsigned long host_cr4;
	unsigned long host_fs_base;
	u64 tsc_offset;		/* TSC_OFFSET as last written to the VMCS */
};

static inline struct vtx_vcpu *to_vtx(struct vmx_vcpu *vcpu)
{
	return container_of(vcpu, struct vtx_vcpu, vcpu);
}

/* The allowed-1 settings of a VMX control MSR are its high 32 bits. */
static inline u32 vtx_ctl_allowed1(u64 msr_value)
{
	return msr_value >> 32;
}

void vtx_insn_error(const char *insn, u64 arg);

/*
 * Enter VMX root operation.  0 on success, -EIO on VMfail (CF or ZF set),
 * -EFAULT when the instruction faults (#UD/#GP: CR4.VMXE or feature
 * control not set up); the exception-table entry skips to the end with
 * the preset -EFAULT.
 */
static inline int vtx_vmxon(u64 region_pa)
{
	int ret = -EFAULT;

	asm volatile("1: vmxon %[pa]\n\t"
		     "jna 2f\n\t"
		     "xor %[ret], %[ret]\n\t"
		     "jmp 3f\n"
		     "2: mov %[eio], %[ret]\n"
		     "3:\n\t"
		     _ASM_EXTABLE(1b, 3b)
		     : [ret] "+r" (ret)
		     : [pa] "m" (region_pa), [eio] "i" (-EIO)
		     : "cc", "memory");
	return ret;
}

/* Leave VMX root operation; -EFAULT if not in VMX operation (#UD). */
static inline int vtx_vmxoff(void)
{
	int ret = -EFAULT;

	asm volatile("1: vmxoff\n\t"
		     "xor %[ret], %[ret]\n"
		     "2:\n\t"
		     _ASM_EXTABLE(1b, 2b)
		     : [ret] "+r" (ret) : : "cc", "memory");
	return ret;
}

/* Flush a VMCS to memory and make it inactive (launch state clear). */
static inline int vtx_vmclear(u64 vmcs_pa)
{
	u8 fail = 1;

	asm volatile("1: vmclear %[pa]\n\t"
		     "setna %[fail]\n"
		     "2:\n\t"
		     _ASM_EXTABLE(1b, 2b)
		     : [fail] "+q" (fail) : [pa] "m" (vmcs_pa) : "cc", "memory");
	if (unlikely(fail)) {
		vtx_insn_error("vmclear", vmcs_pa);
		return -EIO;
	}
	return 0;
}

/* Make a VMCS current (and active) on this CPU. */
static inline int vtx_vmptrld(u64 vmcs_pa)
{
	u8 fail = 1;

	asm volatile("1: vmptrld %[pa]\n\t"
		     "setna %[fail]\n"
		     "2:\n\t"
		     _ASM_EXTABLE(1b, 2b)
		     : [fail] "+q" (fail) : [pa] "m" (vmcs_pa) : "cc", "memory");
	if (unlikely(fail)) {
		vtx_insn_error("vmptrld", vmcs_pa);
		return -EIO;
	}
	return 0;
}

/* Read a field of the current VMCS; 0 (and a log line) on failure. */
static __always_inline u64 vtx_vmread(unsigned long field)
{
	unsigned long value = 0;
	u8 fail = 1;

	asm volatile("1: vmread %[field], %[value]\n\t"
		     "setna %[fail]\n"
		     "2:\n\t"
		     _ASM_EXTABLE(1b, 2b)
		     : [value] "+r" (value), [fail] "+q" (fail)
		     : [field] "r" (field) : "cc");
	if (unlikely(fail)) {
		vtx_insn_error("vmread", field);
		return 0;
	}
	return value;
}

/* Write a field of the current VMCS; a log line on failure. */
/*
 * VMREAD and VMWRITE where they cannot fail: the VMCS is current
 * (vtx_vmcs_enter() or the run loop), @field is a constant every VMCS
 * has, and a write's value fits it.  No check, for the fields copied at
 * every exit (registers, qualification) or many at once (sregs).
 */
static __always_inline u64 vtx_vmread_current(unsigned long field)
{
	unsigned long value = 0;

	asm volatile("vmread %[field], %[value]"
		     : [value] "+r" (value) : [field] "r" (field) : "cc");
	return value;
}

static __always_inline void vtx_vmwrite_current(unsigned long field, u64 value)
{
	asm volatile("vmwrite %[value], %[field]"
		     : : [field] "r" (field), [value] "rm" ((unsigned long)value)
		     : "cc");
}

static __always_inline void vtx_vmwrite(unsigned long field, u64 value)
{
	u8 fail = 1;

	asm volatile("1: vmwrite %[value], %[field]\n\t"
		     "setna %[fail]\n"
		     "2:\n\t"
		     _ASM_EXTABLE(1b, 2b)
		     : [fail] "+q" (fail)
		     : [field] "r" (field), [value] "rm" ((unsigned long)value)
		     : "cc");
	if (unlikely(fail))
		vtx_insn_error("vmwrite", field);
}

/* Invalidate EPT-derived translations (guest-physical and combined). */
static inline int vtx_invept(unsigned long type, u64 eptp)
{
	struct { u64 eptp, reserved; } desc = { eptp, 0 };

	u8 fail = 1;

	asm volatile("1: invept %[desc], %[type]\n\t"
		     "setna %[fail]\n"
		     "2:\n\t"
		     _ASM_EXTABLE(1b, 2b)
		     : [fail] "+q" (fail) : [desc] "m" (desc), [type] "r" (type)
		     : "cc", "memory");
	if (unlikely(fail)) {
		vtx_insn_error("invept", type);
		return -EIO;
	}
	return 0;
}

/* Invalidate translations tagged with a VPID. */
static inline int vtx_invvpid(unsigned long type, u16 vpid, u64 gva)
{
	struct { u64 vpid, gva; } desc = { vpid, gva };

	u8 fail = 1;

	asm volatile("1: invvpid %[desc], %[type]\n\t"
		     "setna %[fail]\n"
		     "2:\n\t"
		     _ASM_EXTABLE(1b, 2b)
		     : [fail] "+q" (fail) : [desc] "m" (desc), [type] "r" (type)
		     : "cc", "memory");
	if (unlikely(fail)) {
		vtx_insn_error("invvpid", type);
		return -EIO;
	}
	return 0;
}

/*
 * vtx.c: capabilities, fixed once probed, and per-CPU VMX state.
 * vtx_current:		the vCPU whose VMCS is current here (VMPTRLD)
 * vtx_loaded:		vCPUs whose VMCS is active here (see vtx.c)
 * vtx_host_dirty:	a VM exit left the host GDT/TR limits at the
 *			architectural values; restore them at vcpu_put
 */
DECLARE_PER_CPU(struct vtx_vcpu *, vtx_current);
DECLARE_PER_CPU(struct list_head, vtx_loaded);
DECLARE_PER_CPU(bool, vtx_host_dirty);
extern u32 vtx_revision_id;
extern u32 vtx_pin_ctls, vtx_primary_ctls, vtx_secondary_ctls;
extern u32 vtx_exit_ctls, vtx_entry_ctls;
extern u64 vtx_ept_vpid_cap;
extern u64 vtx_cr0_fixed0, vtx_cr4_fixed0, vtx_cr4_fixed1;
extern u64 vtx_cr4_allowed;
extern u32 vtx_preempt_timer;
extern bool vtx_has_vpid, vtx_l1d_flush;
extern bool vtx_has_inout_info;
/* Host SYSCALL MSRs and the index of each enum vtx_guest_msr slot. */
extern u64 vtx_host_msrs[VTX_NR_GUEST_MSRS];
extern const u32 vtx_guest_msr_index[VTX_NR_GUEST_MSRS];

/* vtx_vmcs.c */
void vtx_vmcs_clear_all(void);
void vtx_vcpu_load(struct vmx_vcpu *vcpu, int cpu);
void vtx_vcpu_put(struct vmx_vcpu *vcpu);
void vtx_vmcs_enter(struct vtx_vcpu *vtx);
void vtx_vmcs_leave(void);
void vtx_set_intr_window(struct vtx_vcpu *vtx, u32 bit, bool on);
void vtx_msr_bitmap_set(void *bitmap, u32 msr, bool intercept);
void vtx_set_exec_ctl(struct vtx_vcpu *vtx, u32 bit, bool on);
int vtx_vcpu_init(struct vmx_vcpu *vcpu);
void vtx_init_guest_state(struct vtx_vcpu *vtx);
void vtx_vcpu_free(struct vmx_vcpu *vcpu);

/* vtx_state.c: guest segments in VMX's order, registers, MSRs */
enum { VTX_ES, VTX_CS, VTX_SS, VTX_DS, VTX_FS, VTX_GS, VTX_LDTR, VTX_TR };
void vtx_step_over(struct vtx_vcpu *vtx);
void vtx_skip_insn(struct vtx_vcpu *vtx);
void vtx_note_single_step(struct vmx_vcpu *vcpu);
void vtx_dr_go_live(struct vtx_vcpu *vtx);
void vtx_get_debugregs(struct vmx_vcpu *vcpu, struct vmx_debugregs *dbg);
void vtx_set_debugregs(struct vmx_vcpu *vcpu, const struct vmx_debugregs *dbg);

/*
 * Completing an instruction ends an STI/MOV SS shadow; so does handing
 * it to the VMM, which completes it (the next VMX_RUN moves RIP on, or
 * the VMM sets the registers itself).
 */
static inline void vtx_end_shadow(struct vtx_vcpu *vtx)
{
	vtx->intr_state &= ~VTX_INTR_SHADOW;
}

void vtx_queue_exception(struct vtx_vcpu *vtx, u8 vector, bool has_error,
			 u32 error_code);
u64 vtx_hw_cr0(u64 cr0);
void vtx_write_efer(struct vtx_vcpu *vtx, u64 efer);
int vtx_set_cr0(struct vtx_vcpu *vtx, u64 cr0);
int vtx_set_cr4(struct vtx_vcpu *vtx, u64 cr4);
void vtx_seg_write(int seg, const struct vmx_segment *s);
void vtx_get_sregs(struct vmx_vcpu *vcpu, struct vmx_sregs *sregs);
int vtx_set_sregs(struct vmx_vcpu *vcpu, const struct vmx_sregs *sregs);
void vtx_get_events(struct vmx_vcpu *vcpu, struct vmx_events *events);
int vtx_set_events(struct vmx_vcpu *vcpu, const struct vmx_events *events);
bool vtx_irq_window_open(struct vmx_vcpu *vcpu);
bool vtx_nmi_allowed(struct vmx_vcpu *vcpu);
int vtx_get_msr(struct vmx_vcpu *vcpu, u32 index, u64 *data);
int vtx_set_msr(struct vmx_vcpu *vcpu, u32 index, u64 data, bool host);

/* vtx_ept.c */
extern const struct vmx_npt_format vtx_ept_format;
void vtx_flush_guest_tlb(struct vtx_vcpu *vtx);

/* vtx_host.c */
void vtx_switch_to_guest(struct vtx_vcpu *vtx);
void vtx_switch_to_host(struct vtx_vcpu *vtx);
void vtx_put_guest_state(struct vtx_vcpu *vtx);
void vtx_update_live_msrs(struct vtx_vcpu *vtx, u64 efer);
u64 vtx_guest_msr_read(struct vtx_vcpu *vtx, int slot);
void vtx_guest_msr_write(struct vtx_vcpu *vtx, int slot, u64 data);

/* vtx_entry.c */
int vtx_vcpu_run(struct vmx_vcpu *vcpu);

/* vtx_exit.c */
int vtx_handle_exit(struct vtx_vcpu *vtx, u32 reason);

/*
 * vtx_run.S: load guest GPRs, VMLAUNCH (@launched false) or VMRESUME,
 * save guest GPRs.  0 after a VM exit, 1 when the instruction failed
 * (VMfail).  HOST_RIP must point at vtx_vmexit.
 */
#define VTX_HOST_RSP	0x00006c14	/* as vtx_run.S has it */
int vtx_world_switch(u64 *gprs, unsigned int launched);
void vtx_vmexit(void);

/* CR0 and CR4 as the guest sees them; the VMCS is current. */
static inline u64 vtx_guest_cr0(void)
{
	return (vtx_vmread_current(GUEST_CR0) & ~VTX_CR0_HOST_OWNED) |
	       (vtx_vmread_current(CR0_READ_SHADOW) & VTX_CR0_HOST_OWNED);
}

static inline u64 vtx_guest_cr4(void)
{
	return (vtx_vmread_current(GUEST_CR4) & vtx_cr4_allowed) |
	       (vtx_vmread_current(CR4_READ_SHADOW) & ~vtx_cr4_allowed);
}

#endif /* VMX_VTX_H */
