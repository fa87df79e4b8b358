/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one interface between the generic core and a hardware backend.
 *
 * The core never tests a vendor or a CPU feature itself: it walks the
 * list of compiled-in backends, keeps the first whose probe() accepts the
 * CPU, and from then on calls it only through this table.
 */
#ifndef VMX_BACKEND_H
#define VMX_BACKEND_H

#include <linux/bits.h>
#include <linux/types.h>

struct vmx_vm;
struct vmx_vcpu;
struct vmx_sregs;
struct vmx_events;
struct vmx_debugregs;

/* Output registers of a CPUID leaf, as indices of the rule arrays below. */
enum vmx_cpuid_reg {
	VMX_CPUID_EAX, VMX_CPUID_EBX, VMX_CPUID_ECX, VMX_CPUID_EDX,
	VMX_CPUID_NR_REGS
};

/**
 * struct vmx_cpuid_rule - what a guest may see of one CPUID leaf
 * @function:	the leaf
 * @index:	first sub-leaf the rule covers
 * @nr_index:	sub-leaves covered from @index; 0: the leaf is not indexed
 *		and the rule covers every ECX
 * @feat:	hardware features the module virtualizes: shown as the host
 *		has them; a VMM may set only those the host has
 * @info:	information (names, cache, topology): the host's value is
 *		shown; a VMM may set anything
 * @vmm:	what the VMM implements itself (x2APIC, TSC-deadline): hidden
 *		by default; a VMM may set anything
 *
 * Bits in none of the three are hidden and refused by VMX_SET_CPUID.
 */
struct vmx_cpuid_rule {
	u32 function;
	u32 index;
	u32 nr_index;
	u32 feat[VMX_CPUID_NR_REGS];
	u32 info[VMX_CPUID_NR_REGS];
	u32 vmm[VMX_CPUID_NR_REGS];
};

/**
 * struct vmx_cpuid_policy - a backend's part of the CPUID allowlist
 * @rules:	vendor leaves and vendor bits, OR-ed into the core's
 *		vendor-neutral rules for the same leaf (kmod/cpuid.c)
 * @nr_rules:	entries in @rules
 * @hide:	optional: clear from @feat of leaf @function, sub-leaf
 *		@index what this CPU's virtualization controls cannot give
 *		a guest (e.g. an instruction that needs an optional control)
 */
struct vmx_cpuid_policy {
	const struct vmx_cpuid_rule *rules;
	unsigned int nr_rules;
	void (*hide)(u32 function, u32 index, u32 *feat);
};

/* Permissions of a nested page table leaf. */
#define VMX_NPT_WRITE	BIT(0)
#define VMX_NPT_EXEC	BIT(1)

/**
 * struct vmx_npt_format - a backend's nested page table entry bits
 * @present:	an entry with any of these bits set maps something
 * @huge:	the large-leaf bit (levels 2 and 3)
 * @table:	an entry pointing to a next-level table: the table's
 *		address and these bits
 * @leaf:	bits of every leaf (read permission, memory type, A/D)
 * @write:	bits a writable leaf adds
 * @exec:	bits an executable leaf adds
 * @no_exec:	bits a leaf without execute permission adds
 *
 * Data rather than functions: the core's fault path builds entries with
 * no indirect call (each one a retpoline on the host kernels we run on).
 */
struct vmx_npt_format {
	u64 present;
	u64 huge;
	u64 table;
	u64 leaf;
	u64 write;
	u64 exec;
	u64 no_exec;
};

/**
 * struct vmx_backend_ops - what a backend (SVM, Intel VMX) provides
 * @name:		short name for log lines ("svm", "intel")
 * @backend_id:		VMX_BACKEND_* reported to user space
 * @features:		VMX_FEAT_* bits this backend offers
 *
 * Module and CPU level:
 * @probe:		0 if the boot CPU can run this backend; otherwise
 *			-ENODEV (wrong vendor or no such extension) or
 *			-EOPNOTSUPP (present but unusable, reason logged).
 * @hardware_setup:	global set-up once chosen: read capabilities,
 *			allocate per-CPU areas.  May sleep.
 * @hardware_unsetup:	undo @hardware_setup; every CPU is disabled.
 * @cpu_enable:		switch virtualization on for the current CPU.
 *			IRQs off.  -EBUSY when another hypervisor owns it.
 * @cpu_disable:	switch it off on the current CPU; IRQs off.
 * @cpu_emergency_disable: the same from the crash/emergency-reboot path:
 *			NMI context, no locks, must tolerate any state.
 *
 * @npt_format:		nested page table entry format (the core owns the
 *			radix tree)
 *
 * vCPUs (all with the vCPU mutex held, in the vCPU thread):
 * @vcpu_size:		size of the backend's vCPU struct, which embeds
 *			struct vmx_vcpu as its first member
 * @vcpu_init:		set up hardware state to the x86 reset state
 * @vcpu_free:		release it; the vCPU never runs again
 * @vcpu_load/@vcpu_put: the vCPU thread was scheduled in on @cpu / out;
 *			preemption off.  Both NULL for a backend that keeps
 *			no per-CPU vCPU state (no preempt notifier then)
 * @vcpu_run:		enter the guest once and handle the exit.  Returns
 *			1 to re-enter, 0 when the run area holds an exit for
 *			user space, or a negative errno.
 * @get_sregs/@set_sregs: segment and control registers
 * @get_msr/@set_msr:	MSRs the backend keeps in hardware state;
 *			-ENOENT for MSRs it does not know (the core tries
 *			its own), -EINVAL for a refused value
 * @get_events/@set_events: interrupt shadow, NMI masking
 * @irq_window_open:	can the guest take an external interrupt now
 * @nmi_allowed:	can the guest take an NMI now (not blocked by one
 *			in progress or by an interrupt shadow)
 * @get_debugregs/@set_debugregs: DR0-3, DR6, DR7 (SET: values the core
 *			checked and normalized); after a SET the guest's
 *			debug registers are live, whatever it did before
 * @note_single_step:	set DR6.BS where the backend keeps the guest's
 *			DR6: the core queues the #DB of a single-step trap
 *			after an instruction it completed (rare: TF set)
 *
 * Events: the core keeps the queue (event.c).  At each entry the backend
 * asks vmx_event_pick() for at most one event, injects it, and opens the
 * windows the plan asks for; after the exit it hands vmx_event_exit() the
 * event whose delivery the exit interrupted, if any.
 *
 * @cpuid_policy:	the backend's CPUID allowlist (see above)
 */
struct vmx_backend_ops {
	const char *name;
	u32 backend_id;
	u64 features;

	int (*probe)(void);
	int (*hardware_setup)(void);
	void (*hardware_unsetup)(void);
	int (*cpu_enable)(void);
	void (*cpu_disable)(void);
	void (*cpu_emergency_disable)(void);

	const struct vmx_npt_format *npt_format;

	size_t vcpu_size;
	int (*vcpu_init)(struct vmx_vcpu *vcpu);
	void (*vcpu_free)(struct vmx_vcpu *vcpu);
	void (*vcpu_load)(struct vmx_vcpu *vcpu, int cpu);
	void (*vcpu_put)(struct vmx_vcpu *vcpu);
	int (*vcpu_run)(struct vmx_vcpu *vcpu);
	void (*get_sregs)(struct vmx_vcpu *vcpu, struct vmx_sregs *sregs);
	int (*set_sregs)(struct vmx_vcpu *vcpu, const struct vmx_sregs *sregs);
	int (*get_msr)(struct vmx_vcpu *vcpu, u32 index, u64 *data);
	int (*set_msr)(struct vmx_vcpu *vcpu, u32 index, u64 data, bool host);
	void (*get_events)(struct vmx_vcpu *vcpu, struct vmx_events *events);
	int (*set_events)(struct vmx_vcpu *vcpu, const struct vmx_events *events);
	bool (*irq_window_open)(struct vmx_vcpu *vcpu);
	bool (*nmi_allowed)(struct vmx_vcpu *vcpu);
	void (*get_debugregs)(struct vmx_vcpu *vcpu, struct vmx_debugregs *dbg);
	void (*set_debugregs)(struct vmx_vcpu *vcpu,
			      const struct vmx_debugregs *dbg);
	void (*note_single_step)(struct vmx_vcpu *vcpu);

	const struct vmx_cpuid_policy *cpuid_policy;
};

#ifdef CONFIG_VMX_HV_SVM
extern const struct vmx_backend_ops svm_backend_ops;
extern const struct vmx_cpuid_policy svm_cpuid_policy;
#endif
#ifdef CONFIG_VMX_HV_INTEL
extern const struct vmx_backend_ops vtx_backend_ops;
extern const struct vmx_cpuid_policy vtx_cpuid_policy;
#endif

#endif /* VMX_BACKEND_H */
