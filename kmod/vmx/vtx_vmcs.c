// SPDX-License-Identifier: GPL-2.0
/*
 * The VMCS of a vCPU: which CPU holds it (VMCLEAR/VMPTRLD), its host
 * state, execution controls and reset guest state, vCPU set-up and
 * tear-down.
 */
#include <linux/gfp.h>
#include <linux/idr.h>
#include <linux/mm.h>
#include <linux/percpu.h>
#include <linux/smp.h>
#include <asm/cpu_entry_area.h>
#include <asm/desc.h>
#include <asm/io.h>
#include <asm/msr.h>
#include <asm/processor.h>
#include <asm/segment.h>
#include <asm/special_insns.h>
#include <asm/traps.h>
#include <asm/tsc.h>

#include "vtx.h"

/* VPIDs in use; 0 is the host's. */
static DEFINE_IDA(vtx_vpid_ida);

/* VMCLEAR @vtx on the CPU it is active on; IRQs off, that CPU. */
static void vtx_vmcs_clear_local(struct vtx_vcpu *vtx)
{
	vtx_vmclear(vtx->vmcs_pa);
	if (__this_cpu_read(vtx_current) == vtx)
		__this_cpu_write(vtx_current, NULL);
	list_del(&vtx->loaded_link);
	vtx->launched = false;
	/* Everything above is visible before the vCPU may move on. */
	smp_wmb();
	WRITE_ONCE(vtx->loaded_cpu, -1);
}

static void vtx_vmcs_clear_ipi(void *arg)
{
	struct vtx_vcpu *vtx = arg;

	if (READ_ONCE(vtx->loaded_cpu) == smp_processor_id())
		vtx_vmcs_clear_local(vtx);
}

/* Flush every VMCS active here to memory: VMXOFF would lose them. */
void vtx_vmcs_clear_all(void)
{
	struct vtx_vcpu *vtx, *tmp;

	list_for_each_entry_safe(vtx, tmp, this_cpu_ptr(&vtx_loaded), loaded_link)
		vtx_vmcs_clear_local(vtx);
}

/* ---- which CPU holds the VMCS ---- */

/* Host state that differs between CPUs; the VMCS is current here. */
static void vtx_set_host_cpu_state(int cpu)
{
	struct desc_ptr dt;
	u64 v;

	native_store_gdt(&dt);
	vtx_vmwrite(HOST_GDTR_BASE, dt.address);
	store_idt(&dt);
	vtx_vmwrite(HOST_IDTR_BASE, dt.address);
	vtx_vmwrite(HOST_TR_BASE,
		    (unsigned long)&get_cpu_entry_area(cpu)->tss.x86_tss);
	/* In the kernel, GS base is this CPU's per-CPU area. */
	rdmsrl(MSR_GS_BASE, v);
	vtx_vmwrite(HOST_GS_BASE, v);
	rdmsrl(MSR_IA32_SYSENTER_ESP, v);
	vtx_vmwrite(HOST_IA32_SYSENTER_ESP, v);
}

/*
 * Make the vCPU's VMCS current on @cpu (preemption off, IRQs on).  A
 * VMCS active on another CPU is VMCLEARed there first; on a new CPU the
 * per-CPU host state is rewritten and the guest TLB flushed, since this
 * CPU may hold stale translations tagged with our VPID/EPTP.
 */
void vtx_vcpu_load(struct vmx_vcpu *vcpu, int cpu)
{
	struct vtx_vcpu *vtx = to_vtx(vcpu);
	int old = READ_ONCE(vtx->loaded_cpu);
	unsigned long flags;

	if (old != cpu) {
		if (old >= 0)
			smp_call_function_single(old, vtx_vmcs_clear_ipi, vtx, 1);
		/* Pairs with the smp_wmb() in vtx_vmcs_clear_local(). */
		smp_rmb();
		local_irq_save(flags);
		list_add(&vtx->loaded_link, this_cpu_ptr(&vtx_loaded));
		WRITE_ONCE(vtx->loaded_cpu, cpu);
		local_irq_restore(flags);
	}
	if (__this_cpu_read(vtx_current) != vtx) {
		vtx_vmptrld(vtx->vmcs_pa);
		__this_cpu_write(vtx_current, vtx);
	}
	if (old != cpu) {
		vtx_set_host_cpu_state(cpu);
		vtx->flush_tlb = true;
	}
	WRITE_ONCE(vcpu->cpu, cpu);
}

/*
 * The vCPU thread leaves this CPU (or user space is next): the VMCS
 * stays active here; the host's lazily switched state goes back, and
 * what a VM exit left behind is repaired (GDT limit 0xffff, TSS limit
 * 0x67: matters to user space only).
 */
void vtx_vcpu_put(struct vmx_vcpu *vcpu)
{
	vtx_put_guest_state(to_vtx(vcpu));
	if (!__this_cpu_read(vtx_host_dirty))
		return;
	__this_cpu_write(vtx_host_dirty, false);
	load_fixmap_gdt(smp_processor_id());
	invalidate_tss_limit();
}

/*
 * VMCS access outside the run loop (register ioctls): the vCPU thread
 * holds the vCPU mutex but has no preempt notifier registered, so make
 * the VMCS current on whatever CPU this is, with preemption off.
 */
void vtx_vmcs_enter(struct vtx_vcpu *vtx)
{
	vtx_vcpu_load(&vtx->vcpu, get_cpu());
}

void vtx_vmcs_leave(void)
{
	put_cpu();
}

/* ---- controls ---- */

/* Switch an exit-on-window control (interrupt or NMI window). */
void vtx_set_intr_window(struct vtx_vcpu *vtx, u32 bit, bool on)
{
	u32 ctls = on ? vtx->primary_ctls | bit : vtx->primary_ctls & ~bit;

	if (ctls != vtx->primary_ctls) {
		vtx->primary_ctls = ctls;
		vtx_vmwrite(CPU_BASED_VM_EXEC_CONTROL, ctls);
	}
}

/* Switch a primary processor-based execution control. */
void vtx_set_exec_ctl(struct vtx_vcpu *vtx, u32 bit, bool on)
{
	u32 ctls = on ? vtx->primary_ctls | bit : vtx->primary_ctls & ~bit;

	if (ctls != vtx->primary_ctls) {
		vtx->primary_ctls = ctls;
		vtx_vmwrite(CPU_BASED_VM_EXEC_CONTROL, ctls);
	}
}

/* ---- vCPU set-up ---- */

/*
 * MSRs the guest reads and writes directly: the VMCS switches them.
 * KERNEL_GS_BASE joins them in long mode (vtx_update_live_msrs()).
 */
static const u32 vtx_passthrough_msrs[] = {
	MSR_FS_BASE, MSR_GS_BASE,
	MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_ESP, MSR_IA32_SYSENTER_EIP,
};

/* Set or clear the read and write intercepts of @msr in the MSR bitmap. */
void vtx_msr_bitmap_set(void *bitmap, u32 msr, bool intercept)
{
	unsigned long nr, read, write;

	if (msr <= 0x1fff) {
		nr = msr;
		read = VTX_MSRBM_READ_LOW;
		write = VTX_MSRBM_WRITE_LOW;
	} else if (msr - 0xc0000000 <= 0x1fff) {
		nr = msr - 0xc0000000;
		read = VTX_MSRBM_READ_HIGH;
		write = VTX_MSRBM_WRITE_HIGH;
	} else {
		return;
	}
	if (intercept) {
		set_bit(nr, bitmap + read);
		set_bit(nr, bitmap + write);
	} else {
		clear_bit(nr, bitmap + read);
		clear_bit(nr, bitmap + write);
	}
}

/* Host state that is the same on every CPU and for every task. */
static void vtx_init_host_state(struct vtx_vcpu *vtx)
{
	u64 v;

	vtx_vmwrite(HOST_CR0, read_cr0());
	vtx_vmwrite(HOST_CS_SELECTOR, __KERNEL_CS);
	vtx_vmwrite(HOST_SS_SELECTOR, __KERNEL_DS);
	vtx_vmwrite(HOST_DS_SELECTOR, 0);
	vtx_vmwrite(HOST_ES_SELECTOR, 0);
	vtx_vmwrite(HOST_FS_SELECTOR, 0);
	vtx_vmwrite(HOST_GS_SELECTOR, 0);
	vtx_vmwrite(HOST_TR_SELECTOR, GDT_ENTRY_TSS * 8);
	rdmsrl(MSR_IA32_SYSENTER_CS, v);
	vtx_vmwrite(HOST_IA32_SYSENTER_CS, v);
	rdmsrl(MSR_IA32_SYSENTER_EIP, v);
	vtx_vmwrite(HOST_IA32_SYSENTER_EIP, v);
	rdmsrl(MSR_EFER, v);
	vtx_vmwrite(HOST_IA32_EFER, v);
	rdmsrl(MSR_IA32_CR_PAT, v);
	vtx_vmwrite(HOST_IA32_PAT, v);
	BUILD_BUG_ON(VTX_HOST_RSP != HOST_RSP);
	vtx_vmwrite(HOST_RIP, (unsigned long)vtx_vmexit);
	/* CR3, CR4 and FS base are checked before every entry. */
	vtx->host_cr3 = 0;
	vtx->host_cr4 = 0;
	vtx->host_fs_base = ~0UL;
}

static void vtx_init_controls(struct vtx_vcpu *vtx)
{
	struct vmx_vcpu *vcpu = &vtx->vcpu;

	vtx->primary_ctls = vtx_primary_ctls;
	vtx->entry_ctls = vtx_entry_ctls;
	vtx_vmwrite(PIN_BASED_VM_EXEC_CONTROL, vtx_pin_ctls);
	vtx_vmwrite(CPU_BASED_VM_EXEC_CONTROL, vtx->primary_ctls);
	vtx_vmwrite(SECONDARY_VM_EXEC_CONTROL, vtx_secondary_ctls);
	vtx_vmwrite(VM_EXIT_CONTROLS, vtx_exit_ctls);
	vtx_vmwrite(VM_ENTRY_CONTROLS, vtx->entry_ctls);
	/*
	 * Machine checks belong to the host.  #DB and #AC always exit: a
	 * guest can make their delivery raise them again forever without
	 * reaching an instruction boundary, where host interrupts would be
	 * taken (CVE-2015-8104, CVE-2015-5307); as exits, each round lets
	 * the host look at signals and reschedule.
	 */
	vtx_vmwrite(EXCEPTION_BITMAP, BIT(X86_TRAP_MC) | BIT(X86_TRAP_DB) |
		    BIT(X86_TRAP_AC));
	vtx_vmwrite(PAGE_FAULT_ERROR_CODE_MASK, 0);
	vtx_vmwrite(PAGE_FAULT_ERROR_CODE_MATCH, 0);
	vtx_vmwrite(CR3_TARGET_COUNT, 0);
	vtx_vmwrite(VM_EXIT_MSR_STORE_COUNT, 0);
	vtx_vmwrite(VM_EXIT_MSR_LOAD_COUNT, 0);
	vtx_vmwrite(VM_ENTRY_MSR_LOAD_COUNT, 0);
	vtx_vmwrite(VM_ENTRY_INTR_INFO_FIELD, 0);
	vtx_vmwrite(MSR_BITMAP, virt_to_phys(vtx->msr_bitmap));
	vtx_vmwrite(VIRTUAL_APIC_PAGE_ADDR, virt_to_phys(vtx->vapic));
	vtx_vmwrite(TPR_THRESHOLD, 0);
	vtx_vmwrite(EPT_POINTER, vmx_mmu_root_pa(vcpu->vm) | VTX_EPTP_WALK4 |
		    VTX_EPTP_MT_WB);
	if (vtx_has_vpid)
		vtx_vmwrite(VIRTUAL_PROCESSOR_ID, vtx->vpid);
	vtx_vmwrite(CR0_GUEST_HOST_MASK, VTX_CR0_HOST_OWNED);
	vtx_vmwrite(CR4_GUEST_HOST_MASK, ~vtx_cr4_allowed);
	vtx_vmwrite(TSC_OFFSET, vtx->vcpu.tsc_offset);
	vtx->tsc_offset = vtx->vcpu.tsc_offset;
	vtx_vmwrite(VMCS_LINK_POINTER, ~0ULL);
	if (vtx_pin_ctls & PIN_BASED_VMX_PREEMPTION_TIMER)
		vtx_vmwrite(VMX_PREEMPTION_TIMER_VALUE, vtx_preempt_timer);
}

/* x86 reset state (SDM Vol. 3, 10.1.1), as far as the VMCS holds it. */
void vtx_init_guest_state(struct vtx_vcpu *vtx)
{
	struct vmx_segment seg = {
		.limit = 0xffff, .type = 0x3, .s = 1, .present = 1,
	};
	int i;

	for (i = VTX_ES; i <= VTX_GS; i++)
		vtx_seg_write(i, &seg);
	seg.selector = 0xf000;
	seg.base = 0xffff0000;
	seg.type = 0xb;			/* code, read, accessed */
	vtx_seg_write(VTX_CS, &seg);
	seg = (struct vmx_segment) { .limit = 0xffff, .type = 0x2, .present = 1 };
	vtx_seg_write(VTX_LDTR, &seg);	/* LDT */
	seg.type = 0x3;			/* busy 16-bit TSS */
	vtx_seg_write(VTX_TR, &seg);
	vtx_vmwrite(GUEST_GDTR_BASE, 0);
	vtx_vmwrite(GUEST_GDTR_LIMIT, 0xffff);
	vtx_vmwrite(GUEST_IDTR_BASE, 0);
	vtx_vmwrite(GUEST_IDTR_LIMIT, 0xffff);

	vtx_vmwrite(GUEST_CR0, vtx_hw_cr0(X86_CR0_NW | X86_CR0_CD | X86_CR0_ET));
	vtx_vmwrite(CR0_READ_SHADOW, X86_CR0_NW | X86_CR0_CD | X86_CR0_ET);
	vtx_vmwrite(GUEST_CR3, 0);
	vtx_set_cr4(vtx, 0);
	vtx_write_efer(vtx, 0);
	vtx_vmwrite(GUEST_DR7, 0x400);
	vtx_vmwrite(GUEST_IA32_DEBUGCTL, 0);
	vtx_vmwrite(GUEST_IA32_PAT, 0x0007040600070406ULL);
	vtx_vmwrite(GUEST_SYSENTER_CS, 0);
	vtx_vmwrite(GUEST_SYSENTER_ESP, 0);
	vtx_vmwrite(GUEST_SYSENTER_EIP, 0);
	vtx_vmwrite(GUEST_ACTIVITY_STATE, GUEST_ACTIVITY_ACTIVE);
	vtx_vmwrite(GUEST_INTERRUPTIBILITY_INFO, 0);
	vtx_vmwrite(GUEST_PENDING_DBG_EXCEPTIONS, 0);
	for (i = 0; i < 4; i++)
		vtx_vmwrite(GUEST_PDPTR0 + 2 * i, 0);
	vtx->dr[4] = 0xffff0ff0;	/* DR6 */
}

void vtx_vcpu_free(struct vmx_vcpu *vcpu)
{
	struct vtx_vcpu *vtx = to_vtx(vcpu);
	int cpu = READ_ONCE(vtx->loaded_cpu);

	/* The VMCS must not stay active anywhere once its page is gone. */
	if (cpu >= 0)
		smp_call_function_single(cpu, vtx_vmcs_clear_ipi, vtx, 1);
	if (vtx->vpid)
		ida_free(&vtx_vpid_ida, vtx->vpid);
	free_page((unsigned long)vtx->vmcs);
	free_page((unsigned long)vtx->msr_bitmap);
	free_page((unsigned long)vtx->vapic);
}

int vtx_vcpu_init(struct vmx_vcpu *vcpu)
{
	struct vtx_vcpu *vtx = to_vtx(vcpu);
	int i, ret;

	vtx->loaded_cpu = -1;
	INIT_LIST_HEAD(&vtx->loaded_link);
	vtx->vmcs = (void *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	vtx->msr_bitmap = (void *)__get_free_page(GFP_KERNEL_ACCOUNT);
	vtx->vapic = (void *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	if (!vtx->vmcs || !vtx->msr_bitmap || !vtx->vapic) {
		ret = -ENOMEM;
		goto out_free;
	}
	if (vtx_has_vpid) {
		ret = ida_alloc_range(&vtx_vpid_ida, 1, VMX_NR_VPIDS - 1,
				      GFP_KERNEL);
		if (ret < 0)
			goto out_free;
		vtx->vpid = ret;
	}
	/* Intercept every MSR, then open the few above. */
	memset(vtx->msr_bitmap, 0xff, PAGE_SIZE);
	for (i = 0; i < ARRAY_SIZE(vtx_passthrough_msrs); i++)
		vtx_msr_bitmap_set(vtx->msr_bitmap, vtx_passthrough_msrs[i],
				   false);

	*(u32 *)vtx->vmcs = vtx_revision_id;
	vtx->vmcs_pa = virt_to_phys(vtx->vmcs);
	/* Initialize the launch state before first use. */
	ret = vtx_vmclear(vtx->vmcs_pa);
	if (ret)
		goto out_free;

	vtx_vmcs_enter(vtx);
	vtx_init_controls(vtx);
	vtx_init_host_state(vtx);
	vtx_init_guest_state(vtx);
	vtx_vmcs_leave();
	for (i = 0; i < VTX_NR_GUEST_MSRS; i++)
		vtx->msrs[i] = 0;
	return 0;

out_free:
	vtx_vcpu_free(vcpu);
	return ret;
}
