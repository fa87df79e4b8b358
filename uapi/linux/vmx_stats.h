/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * vmx statistics over generic netlink: the "vmx" family.
 *
 * Family "vmx" (VMX_STATS_GENL_NAME), version 1, in the initial network
 * namespace only.  Resolve its id with CTRL_CMD_GETFAMILY of "nlctrl";
 * the family is missing while vmx.ko is not loaded.
 *
 * Commands (request -> reply):
 *  VMX_STATS_CMD_GET_VM	do with VMX_STATS_A_VM_ID: that VM;
 *				dump: every VM the caller may see.
 *				Reply attributes: VM_ID, PID, UID, NR_VCPUS,
 *				MEM_BYTES, CREATED_NS.
 *  VMX_STATS_CMD_GET_STATS	dump only, optional VMX_STATS_A_VM_ID filter.
 *				Per VM one message with VM_ID, NR_VCPUS and
 *				COUNTERS (the sum over its vCPUs), then one
 *				message per vCPU with VM_ID, VCPU_ID and
 *				COUNTERS of that vCPU.
 *  VMX_STATS_CMD_VM_CREATED,	multicast to group "events"
 *  VMX_STATS_CMD_VM_DESTROYED	(VMX_STATS_MCGRP_EVENTS): VM_ID, PID.
 *
 * Permissions: a VM is visible (listed, counters readable) only to its
 * owner, the effective uid of the process that created it, or to a
 * caller with CAP_SYS_ADMIN.  The opener of the netlink socket and the
 * current caller must both qualify.  A VM the caller may not see is
 * left out of dumps; asking for it by id gives ENOENT, as for a VM that
 * does not exist, so that its presence is not revealed.  Joining the
 * "events" group needs CAP_SYS_ADMIN (EPERM otherwise).
 *
 * Counters are u64, kept per vCPU without locking: a reader may see
 * values a few exits old, and the sum of a running VM is not a snapshot
 * of one instant.  They count from the vCPU's creation and never reset.
 *
 * Errors: EINVAL for a malformed request, ENOENT for an unknown or
 * hidden VM, EOPNOTSUPP for a do request of GET_STATS.
 */
#ifndef _UAPI_LINUX_VMX_STATS_H
#define _UAPI_LINUX_VMX_STATS_H

#define VMX_STATS_GENL_NAME	"vmx"
#define VMX_STATS_GENL_VERSION	1
#define VMX_STATS_MCGRP_EVENTS	"events"

enum vmx_stats_cmd {
	VMX_STATS_CMD_UNSPEC,
	VMX_STATS_CMD_GET_VM,
	VMX_STATS_CMD_GET_STATS,
	VMX_STATS_CMD_VM_CREATED,
	VMX_STATS_CMD_VM_DESTROYED,
	__VMX_STATS_CMD_MAX,
};

#define VMX_STATS_CMD_MAX	(__VMX_STATS_CMD_MAX - 1)

/* Top-level attributes. */
enum vmx_stats_attr {
	VMX_STATS_A_UNSPEC,
	VMX_STATS_A_PAD,
	VMX_STATS_A_VM_ID,	/* u64: the VM's id (unique while loaded) */
	/* u32: creator's tgid in the reader's pid ns (0: not visible) */
	VMX_STATS_A_PID,
	VMX_STATS_A_UID,	/* u32: owner's euid, in the reader's user ns */
	VMX_STATS_A_NR_VCPUS,	/* u32: vCPUs created */
	VMX_STATS_A_MEM_BYTES,	/* u64: bytes in the VM's memory slots */
	VMX_STATS_A_CREATED_NS,	/* u64: creation time, CLOCK_REALTIME ns */
	VMX_STATS_A_VCPU_ID,	/* u32: vCPU id; only in per-vCPU messages */
	VMX_STATS_A_COUNTERS,	/* nested: VMX_STATS_C_* */
	__VMX_STATS_A_MAX,
};

#define VMX_STATS_A_MAX		(__VMX_STATS_A_MAX - 1)

/* Inside VMX_STATS_A_COUNTERS; all u64 unless nested. */
enum vmx_stats_counter {
	VMX_STATS_C_UNSPEC,
	VMX_STATS_C_PAD,
	VMX_STATS_C_RUNS,	/* VMX_RUN calls that got past their checks */
	VMX_STATS_C_EXITS,	/* exits from the guest, all kinds */
	VMX_STATS_C_EXITS_TO_USER, /* VMX_RUN returns with an exit reason */
	VMX_STATS_C_NPT_FAULTS,	/* nested page faults (NPF/EPT violation) */
	VMX_STATS_C_NPT_FILLED,	/* ... of which mapped guest RAM */
	VMX_STATS_C_HALTS,	/* HLT exits (= EXIT_KIND VMX_STATS_EXIT_HLT) */
	VMX_STATS_C_HOST_INTR,	/* exits for host interrupts (= ..._INTR) */
	VMX_STATS_C_GUEST_NS,	/* time in the guest, ns (local_clock) */
	VMX_STATS_C_EXIT_KIND,	/* nested: type VMX_STATS_EXIT_*, u64 each */
	VMX_STATS_C_USER_EXIT,	/* nested: type VMX_EXIT_* (1-15), u64 each */
	VMX_STATS_C_INJECTED,	/* nested: type VMX_STATS_INJ_*, u64 each */
	__VMX_STATS_C_MAX,
};

#define VMX_STATS_C_MAX		(__VMX_STATS_C_MAX - 1)

/*
 * Exit kinds, the same on both backends: the attribute types inside
 * VMX_STATS_C_EXIT_KIND.  Every exit counts in exactly one kind.
 */
enum vmx_stats_exit_kind {
	VMX_STATS_EXIT_UNSPEC,
	VMX_STATS_EXIT_CPUID,		/* CPUID */
	VMX_STATS_EXIT_MSR,		/* RDMSR/WRMSR */
	VMX_STATS_EXIT_NPF,		/* nested page fault that hit RAM */
	VMX_STATS_EXIT_HLT,		/* HLT */
	VMX_STATS_EXIT_IO,		/* port I/O (IN/OUT/INS/OUTS) */
	VMX_STATS_EXIT_MMIO,		/* nested page fault outside RAM */
	VMX_STATS_EXIT_INTR,		/* host interrupt, NMI, SMI, INIT */
	VMX_STATS_EXIT_IRQ_WINDOW,	/* interrupt or NMI window opened */
	VMX_STATS_EXIT_HYPERCALL,	/* VMMCALL/VMCALL */
	VMX_STATS_EXIT_EXCEPTION,	/* intercepted guest exception */
	VMX_STATS_EXIT_OTHER,		/* anything else, failed entries too */
	__VMX_STATS_EXIT_MAX,
};

#define VMX_STATS_EXIT_MAX	(__VMX_STATS_EXIT_MAX - 1)

/* VMX_RUN exit reasons counted inside VMX_STATS_C_USER_EXIT. */
#define VMX_STATS_USER_EXIT_MAX	15

/* Events injected into the guest: types inside VMX_STATS_C_INJECTED. */
enum vmx_stats_inj_kind {
	VMX_STATS_INJ_UNSPEC,
	VMX_STATS_INJ_EXCEPTION,	/* exception from the kernel or VMM */
	VMX_STATS_INJ_NMI,
	VMX_STATS_INJ_IRQ,		/* external interrupt */
	VMX_STATS_INJ_REDELIVERED,	/* delivery an exit had cut short */
	__VMX_STATS_INJ_MAX,
};

#define VMX_STATS_INJ_MAX	(__VMX_STATS_INJ_MAX - 1)

#endif /* _UAPI_LINUX_VMX_STATS_H */
