/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * vmx: the user-space ABI of the vmx hypervisor module.
 *
 * This header is the whole contract between /dev/vmx and its users.
 *
 * Rules that hold for every ioctl:
 *  - 64-bit user space only.  All structures use fixed-width types and
 *    explicit padding, so their layout is the same for every compiler.
 *  - Every input structure has a flags word and reserved space.  Unknown
 *    flag bits, non-zero padding and non-zero reserved fields are refused
 *    with EINVAL, so that they can be given a meaning later.
 *  - Objects are file descriptors: /dev/vmx -> VM fd -> vCPU fd.  Closing
 *    the last descriptor of a VM (and of all its vCPUs) destroys it.
 *  - An ioctl number the object does not know gives ENOTTY.  An argument
 *    pointer that cannot be read or written gives EFAULT.
 */
#ifndef _UAPI_LINUX_VMX_H
#define _UAPI_LINUX_VMX_H

#include <linux/const.h>
#include <linux/ioctl.h>
#include <linux/types.h>

/* Bumped only for incompatible changes; features are added as caps. */
#define VMX_API_VERSION		1

#define VMX_IOC_MAGIC		0xBE

/* Hardware backend the module drives (vmx_caps.backend). */
#define VMX_BACKEND_SVM		1	/* AMD SVM with nested paging */
#define VMX_BACKEND_INTEL	2	/* Intel VMX with EPT */

/* Feature bits reported in vmx_caps.features. */
#define VMX_FEAT_NESTED_PAGING	_BITULL(0)	/* NPT or EPT in use */
#define VMX_FEAT_VCPUS		_BITULL(1)	/* vCPUs can be created and run */
#define VMX_FEAT_SYNC_REGS	_BITULL(2)	/* registers in the run area */
#define VMX_FEAT_DEBUGREGS	_BITULL(3)	/* VMX_GET/SET_DEBUGREGS */

/**
 * struct vmx_caps - what this module and CPU offer (VMX_GET_CAPS)
 * @flags:		reserved for output flags, currently 0
 * @backend:		one of VMX_BACKEND_*
 * @max_vcpus:		vCPUs a single VM may have
 * @max_memslots:	memory slots a single VM may have
 * @features:		VMX_FEAT_* bits
 * @nr_cpus_enabled:	host CPUs on which virtualization is switched on
 * @reserved:		zero
 */
struct vmx_caps {
	__u32 flags;
	__u32 backend;
	__u32 max_vcpus;
	__u32 max_memslots;
	__u64 features;
	__u32 nr_cpus_enabled;
	__u32 reserved32;
	__u64 reserved[4];
};

/**
 * struct vmx_vm_create - arguments of VMX_CREATE_VM
 * @flags:	none defined yet; must be 0
 * @pad:	must be 0
 * @reserved:	must be 0
 */
struct vmx_vm_create {
	__u32 flags;
	__u32 pad;
	__u64 reserved[3];
};

/*
 * ioctls on /dev/vmx
 *
 * VMX_GET_API_VERSION: returns VMX_API_VERSION.  The argument is ignored.
 *
 * VMX_GET_CAPS: fills struct vmx_caps.
 *	EFAULT	the structure cannot be written
 *
 * VMX_CREATE_VM: creates a VM owned by the calling process and returns a
 * new file descriptor for it (close-on-exec).
 *	EFAULT	the structure cannot be read
 *	EINVAL	unknown flags, non-zero pad or reserved fields
 *	ENOMEM	out of memory (VM memory is charged to the caller's cgroup)
 *	EMFILE	no free file descriptor
 */
#define VMX_GET_API_VERSION	_IO(VMX_IOC_MAGIC, 0x00)
#define VMX_GET_CAPS		_IOR(VMX_IOC_MAGIC, 0x01, struct vmx_caps)
#define VMX_CREATE_VM		_IOW(VMX_IOC_MAGIC, 0x02, struct vmx_vm_create)

/**
 * struct vmx_vm_info - what a VM fd describes (VMX_VM_GET_INFO)
 * @flags:	flags the VM was created with
 * @nr_vcpus:	vCPUs created so far
 * @id:		system-wide unique VM number, as in the module's log lines
 * @reserved:	zero
 */
struct vmx_vm_info {
	__u32 flags;
	__u32 nr_vcpus;
	__u64 id;
	__u64 reserved[4];
};

/*
 * ioctls on a VM fd
 *
 * VMX_VM_GET_INFO: fills struct vmx_vm_info.
 *	EFAULT	the structure cannot be written
 */
#define VMX_VM_GET_INFO		_IOR(VMX_IOC_MAGIC, 0x10, struct vmx_vm_info)

/* ------------------------------------------------------------------ */
/* Memory slots                                                        */
/* ------------------------------------------------------------------ */

#define VMX_MEM_READONLY	_BITUL(0)	/* guest writes exit as MMIO */
#define VMX_MEM_DIRTY_LOG	_BITUL(1)	/* track writes for GET_DIRTY_LOG */
#define VMX_MEM_VALID_FLAGS	(VMX_MEM_READONLY | VMX_MEM_DIRTY_LOG)

/*
 * Largest slot: 2^40 bytes (1 TiB, 2^28 pages), whose dirty bitmap is
 * 32 MiB.  Beyond it the bitmap allocation and each VMX_GET_DIRTY_LOG
 * would grow without a sane bound; more guest memory takes more slots.
 * A larger @size is EINVAL, with or without VMX_MEM_DIRTY_LOG.
 */
#define VMX_MEM_MAX_SLOT_SIZE	((__u64)1 << 40)

/**
 * struct vmx_memslot - map guest-physical memory onto the VMM's memory
 * @slot:	slot number, below vmx_caps.max_memslots
 * @flags:	VMX_MEM_*
 * @guest_phys:	first guest-physical address; page aligned
 * @size:	bytes, page aligned, at most VMX_MEM_MAX_SLOT_SIZE; 0 deletes
 *		the slot
 * @user_addr:	VMM virtual address backing the slot; page aligned
 * @reserved:	must be 0
 *
 * Setting an existing slot again may move it (new @guest_phys, same
 * @size, @user_addr) or change its flags; anything else about an existing
 * slot must be done by deleting it first.  Slots never overlap.
 */
struct vmx_memslot {
	__u32 slot;
	__u32 flags;
	__u64 guest_phys;
	__u64 size;
	__u64 user_addr;
	__u64 reserved[2];
};

/**
 * struct vmx_dirty_log - fetch and clear a slot's dirty bitmap
 * @slot:	slot with VMX_MEM_DIRTY_LOG
 * @flags:	must be 0
 * @bitmap:	user pointer to one bit per page of the slot, rounded up to
 *		a multiple of 64 bits; bit n set means page n was written
 *		since the last call
 * @reserved:	must be 0
 */
struct vmx_dirty_log {
	__u32 slot;
	__u32 flags;
	__u64 bitmap;
	__u64 reserved[2];
};

/* ------------------------------------------------------------------ */
/* CPUID                                                               */
/* ------------------------------------------------------------------ */

#define VMX_CPUID_INDEXED	_BITUL(0)	/* @index is significant */

struct vmx_cpuid_entry {
	__u32 function;
	__u32 index;
	__u32 flags;
	__u32 eax;
	__u32 ebx;
	__u32 ecx;
	__u32 edx;
	__u32 pad;
};

#define VMX_MAX_CPUID_ENTRIES	256

/**
 * struct vmx_cpuid - a CPUID table (VMX_SET_CPUID, VMX_GET_DEFAULT_CPUID)
 * @nent:	entries that follow (in: capacity for GET; out: count)
 * @flags:	must be 0
 * @reserved:	must be 0
 * @entries:	the table; leaves not in it read as all zeros.  The kernel
 *		fills in per vCPU: the APIC id in leaf 1 EBX[31:24], 0xB/0x1F
 *		EDX and 0x8000001E EAX; OSXSAVE; the leaf 0xD.0 EBX size.
 */
struct vmx_cpuid {
	__u32 nent;
	__u32 flags;
	__u64 reserved;
	struct vmx_cpuid_entry entries[];
};

/* ------------------------------------------------------------------ */
/* vCPUs                                                               */
/* ------------------------------------------------------------------ */

/**
 * struct vmx_vcpu_create - arguments of VMX_CREATE_VCPU
 * @id:		vCPU number (also its initial APIC id), below max_vcpus
 * @flags:	must be 0
 * @reserved:	must be 0
 */
struct vmx_vcpu_create {
	__u32 id;
	__u32 flags;
	__u64 reserved[3];
};

/* General-purpose registers, RIP and RFLAGS. */
struct vmx_regs {
	__u64 rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
	__u64 r8, r9, r10, r11, r12, r13, r14, r15;
	__u64 rip, rflags;
};

/**
 * struct vmx_segment - a segment register as the CPU caches it
 * @base, @limit, @selector:	as loaded (limit in bytes, expanded by G)
 * @type:	type field (4 bits)
 * @s:		1 = code/data, 0 = system
 * @dpl, @present, @avl, @l, @db, @g:	descriptor bits
 * @unusable:	null/unusable segment
 */
struct vmx_segment {
	__u64 base;
	__u32 limit;
	__u16 selector;
	__u8 type;
	__u8 s;
	__u8 dpl;
	__u8 present;
	__u8 avl;
	__u8 l;
	__u8 db;
	__u8 g;
	__u8 unusable;
	__u8 pad;
};

struct vmx_dtable {
	__u64 base;
	__u16 limit;
	__u16 pad[3];
};

/**
 * struct vmx_sregs - segments, descriptor tables, control registers
 * @efer:	guest-visible EFER (SVME is never visible to the guest)
 * @reserved:	0 on output; must be 0 on input
 */
struct vmx_sregs {
	struct vmx_segment cs, ds, es, fs, gs, ss, tr, ldt;
	struct vmx_dtable gdt, idt;
	__u64 cr0, cr2, cr3, cr4, cr8;
	__u64 efer;
	__u64 reserved[4];
};

/**
 * struct vmx_fpu - x87/SSE/AVX state in XSAVE (non-compacted) format
 * @xcr0:	guest XCR0
 * @flags:	must be 0
 * @reserved:	must be 0
 * @xsave:	XSAVE area: legacy region, header, extended components at
 *		their CPUID 0xD offsets.  Only components the host CPU and
 *		@xcr0 support are meaningful.
 */
struct vmx_fpu {
	__u64 xcr0;
	__u32 flags;
	__u32 pad;
	__u64 reserved[2];
	__u8 xsave[4096];
};

struct vmx_msr_data {
	__u32 index;
	__u32 reserved;
	__u64 data;
};

#define VMX_MAX_MSR_ENTRIES	256

/**
 * struct vmx_msrs - a batch of MSRs for VMX_GET_MSRS / VMX_SET_MSRS
 * @nmsrs:	entries that follow
 * @flags:	must be 0
 * @reserved:	must be 0
 *
 * The ioctl returns how many entries, from the first, it processed; it
 * stops at the first MSR it does not know or whose value is refused.
 */
struct vmx_msrs {
	__u32 nmsrs;
	__u32 flags;
	__u64 reserved;
	struct vmx_msr_data entries[];
};

/* Event types for struct vmx_event. */
#define VMX_EVENT_EXTINT	0	/* external interrupt, vector 32-255 */
#define VMX_EVENT_NMI		2
#define VMX_EVENT_EXCEPTION	3	/* vector 0-31 */

#define VMX_EVENT_HAS_ERROR_CODE _BITUL(0)

/**
 * struct vmx_event - inject an event (VMX_INJECT_EVENT)
 * @type:	VMX_EVENT_*
 * @vector:	vector number
 * @error_code:	with VMX_EVENT_HAS_ERROR_CODE (exceptions 8, 10-14, 17, 21)
 * @flags:	VMX_EVENT_HAS_ERROR_CODE
 * @reserved:	must be 0
 *
 * Each kind of event has a slot of its own, so that none displaces
 * another: one exception, one NMI and one external interrupt can be
 * queued at the same time.  An exception is delivered at the next entry
 * (combined with one the guest was already taking by the double-fault
 * rules); an NMI as soon as the guest is not handling another one; an
 * external interrupt only when the guest can take it (RFLAGS.IF set, no
 * interrupt shadow): request an IRQ_WINDOW exit first
 * (vmx_run.request_irq_window), or get EBUSY.  A second event of a kind
 * whose slot is still full gives EBUSY.
 */
struct vmx_event {
	__u32 type;
	__u32 vector;
	__u32 error_code;
	__u32 flags;
	__u64 reserved[2];
};

/**
 * struct vmx_events - the event state (VMX_GET/SET_EVENTS, save/restore)
 * @pending:	an exception not yet delivered (valid if @pending_valid).
 *		SET also accepts an NMI or interrupt here.
 * @pending_valid: 1 if @pending holds an event
 * @int_shadow:	1 if the guest is in an interrupt shadow (STI, MOV SS)
 * @nmi_masked:	1 while the guest is handling an NMI
 * @nmi_pending: 1 if an NMI waits for delivery
 * @irq_pending: 1 if external interrupt @irq_vector waits for its window
 * @irq_vector:	its vector (32-255), 0 without @irq_pending
 * @interrupted_valid: 1 if @interrupted holds an event whose delivery a
 *		VM exit cut short; it is delivered again, as is, first
 * @pad, @pad2:	must be 0
 * @flags:	must be 0
 * @interrupted: that event
 */
struct vmx_events {
	struct vmx_event pending;
	__u8 pending_valid;
	__u8 int_shadow;
	__u8 nmi_masked;
	__u8 nmi_pending;
	__u8 irq_pending;
	__u8 irq_vector;
	__u8 interrupted_valid;
	__u8 pad;
	__u32 flags;
	__u32 pad2;
	struct vmx_event interrupted;
};

/**
 * struct vmx_tsc_offset - the guest's TSC (VMX_GET/SET_TSC_OFFSET)
 * @offset:	guest TSC = host TSC + @offset (modulo 2^64).  Every vCPU of
 *		a VM starts with the same offset (the guest TSC is near 0
 *		when the VM is created), so their TSCs agree; a VMM that
 *		migrates or restores a VM sets the same offset on each.  A
 *		guest or VMM write of MSR IA32_TSC changes it for that vCPU.
 * @flags:	must be 0
 * @pad:	must be 0
 * @reserved:	must be 0
 */
struct vmx_tsc_offset {
	__u64 offset;
	__u32 flags;
	__u32 pad;
	__u64 reserved[2];
};

/**
 * struct vmx_debugregs - the guest's debug registers (VMX_GET/SET_DEBUGREGS)
 * @db:		DR0-DR3, breakpoint linear addresses (any 64-bit value:
 *		the CPU does not check them either)
 * @dr6:	debug status; bits 63:32 must be 0.  SET keeps the status
 *		bits (B0-B3, BLD, BD, BS, BT, RTM) and sets the fixed ones
 * @dr7:	debug control; bits 63:32 must be 0.  SET clears bits 11,
 *		12, 14 and 15 and sets bit 10, as the CPU reads them
 * @flags:	must be 0
 * @pad:	must be 0
 * @reserved:	must be 0
 *
 * For saving and restoring a vCPU, and for a VMM that finishes a guest
 * instruction itself while the guest single-steps (RFLAGS.TF): DR6.BS,
 * then a #DB through VMX_INJECT_EVENT.
 */
struct vmx_debugregs {
	__u64 db[4];
	__u64 dr6;
	__u64 dr7;
	__u32 flags;
	__u32 pad;
	__u64 reserved[4];
};

/* ------------------------------------------------------------------ */
/* The run area: mmap(vcpu_fd, VMX_RUN_AREA_SIZE, offset 0)           */
/* ------------------------------------------------------------------ */

#define VMX_RUN_AREA_SIZE	4096

/* Exit reasons (vmx_run.exit_reason). */
enum vmx_exit_reason {
	VMX_EXIT_NONE		= 0,
	VMX_EXIT_IO		= 1,	/* port I/O: vmx_run.io */
	VMX_EXIT_MMIO		= 2,	/* access outside RAM: vmx_run.mmio */
	VMX_EXIT_HLT		= 3,	/* HLT with no event to deliver */
	VMX_EXIT_SHUTDOWN	= 4,	/* triple fault */
	VMX_EXIT_HYPERCALL	= 5,	/* VMMCALL/VMCALL: vmx_run.hypercall */
	VMX_EXIT_FAIL_ENTRY	= 6,	/* invalid guest state: vmx_run.fail_entry */
	VMX_EXIT_INTERNAL_ERROR	= 7,	/* vmx_run.internal */
	VMX_EXIT_INTR		= 8,	/* signal pending or immediate_exit */
	VMX_EXIT_IRQ_WINDOW	= 9,	/* guest can take an interrupt now */
	VMX_EXIT_MSR		= 10,	/* unknown MSR, VMX_VCPU_MSR_EXITS: vmx_run.msr */
};

#define VMX_IO_IN		0
#define VMX_IO_OUT		1

/* vmx_run.sync_want, sync_dirty, sync_valid */
#define VMX_SYNC_REGS		_BITUL(0)	/* vmx_run.regs */
#define VMX_SYNC_SREGS		_BITUL(1)	/* vmx_run.sregs */
/* sync_want only: both, but only at MMIO and string-I/O exits */
#define VMX_SYNC_ON_DECODE	_BITUL(2)
#define VMX_SYNC_VALID_WANT	(VMX_SYNC_REGS | VMX_SYNC_SREGS | VMX_SYNC_ON_DECODE)
#define VMX_SYNC_VALID_DIRTY	(VMX_SYNC_REGS | VMX_SYNC_SREGS)

/* vmx_run.internal.suberror */
#define VMX_INTERNAL_UNKNOWN_EXIT	1	/* data[0]: hardware exit code */
#define VMX_INTERNAL_NPT_FAULT		2	/* data[0]: GPA, data[1]: error */
/*
 * VMX_INTERNAL_EVENT_DELIVERY: an exit while the CPU delivered an event
 * (data[0]: GPA of the MMIO access the delivery made); the event stays
 * queued (vmx_events.interrupted).  VMX_INTERNAL_HOST_REFUSED: the CPU
 * refused guest state the module had accepted (data[0]: XCR0): a module
 * bug, reported instead of crashing.
 */
#define VMX_INTERNAL_EVENT_DELIVERY	3
#define VMX_INTERNAL_HOST_REFUSED	4

/**
 * struct vmx_run - shared between the kernel and the VMM, one per vCPU
 *
 * In (VMM -> kernel, read at VMX_RUN):
 * @immediate_exit:	if set, VMX_RUN returns at once with EXIT_INTR
 * @request_irq_window:	exit with IRQ_WINDOW once the guest can take an
 *			external interrupt
 * @msr_exits:		exit with EXIT_MSR on MSRs the kernel does not
 *			handle, instead of injecting #GP
 *
 * Out (kernel -> VMM, valid after VMX_RUN returns 0):
 * @exit_reason:	VMX_EXIT_*
 * @if_flag:		guest RFLAGS.IF at exit
 * @irq_window_open:	the guest could take an external interrupt now
 * @rip:		guest RIP of the exiting instruction
 * @cr8:		guest TPR
 *
 * Completing an exit: the next VMX_RUN finishes plain port I/O (for IN
 * write the value into @io.data first), hypercalls (@hypercall.ret) and
 * MSR exits (@msr.data, @msr.error): it writes RAX/RDX and advances RIP.
 * MMIO and string I/O exits are completed by the VMM entirely (libvmx's
 * assist): it sets the registers, RIP included, with VMX_SET_REGS.
 * VMX_SET_REGS after any exit cancels the kernel's completion of it.
 * @rip is the RIP of the exiting instruction (for HLT the vCPU's RIP is
 * already past it); after an INTR exit raised before entering the guest
 * the output fields still describe the previous exit.
 *
 * Register sync (VMX_FEAT_SYNC_REGS), so that an exit the VMM completes
 * itself costs one VMX_RUN and no register ioctls:
 * @sync_want (in):	VMX_SYNC_* the kernel stores into @regs / @sregs
 *			when VMX_RUN returns (0 or EINTR); VMX_SYNC_ON_DECODE
 *			stores both at MMIO and string-I/O exits only, which
 *			is what an instruction assist needs
 * @sync_valid (out):	what this return stored
 * @sync_dirty (in):	VMX_SYNC_REGS / VMX_SYNC_SREGS the VMM changed in
 *			@regs / @sregs: the next VMX_RUN loads them first,
 *			with the checks and effects of VMX_SET_REGS /
 *			VMX_SET_SREGS (EINVAL from VMX_RUN if refused), and
 *			clears @sync_dirty.  A VMX_SET_REGS / VMX_SET_SREGS
 *			ioctl clears its bit here and in @sync_valid: the
 *			ioctl wins.  The GET ioctls do not see dirty, not yet
 *			loaded values.
 * Unknown bits in @sync_want or @sync_dirty make VMX_RUN fail (EINVAL).
 */
struct vmx_run {
	__u8 immediate_exit;
	__u8 request_irq_window;
	__u8 msr_exits;
	__u8 pad_in[5];

	__u32 exit_reason;
	__u8 if_flag;
	__u8 irq_window_open;
	__u8 pad_out[2];
	__u64 rip;
	__u64 cr8;

	union {
		/*
		 * VMX_EXIT_IO.  @size: 1, 2 or 4.  For string instructions
		 * (INS/OUTS) @string is 1 and nothing was transferred: the
		 * VMM (libvmx's assist) moves the data through guest memory
		 * and updates RSI/RDI/RCX/RIP itself.  @rep: REP prefix;
		 * @addr_size: 16/32/64, or 0 when the CPU does not report
		 * it (then the VMM decodes the instruction); @seg: segment
		 * of the OUTS source (0=ES 1=CS 2=SS 3=DS 4=FS 5=GS), valid
		 * only with a non-zero @addr_size; @insn_len: length of the
		 * instruction.  For plain IN/OUT, @data is the value
		 * (OUT) or where the VMM puts it (IN).
		 */
		struct {
			__u16 port;
			__u8 direction;
			__u8 size;
			__u8 string;
			__u8 rep;
			__u8 addr_size;
			__u8 seg;
			__u8 insn_len;
			__u8 pad[7];
			__u64 data;
		} io;
		/*
		 * VMX_EXIT_MMIO: an access to @gpa outside every RAM slot,
		 * or a write to a READONLY slot.  @is_write/@is_fetch come
		 * from the nested page fault.  @insn_len bytes of the
		 * instruction are in @insn if the CPU provided them
		 * (decode assists), else @insn_len is 0 and libvmx fetches
		 * them through the guest's page tables.
		 */
		struct {
			__u64 gpa;
			__u8 is_write;
			__u8 is_fetch;
			__u8 insn_len;
			__u8 pad[5];
			__u8 insn[16];
		} mmio;
		/* VMX_EXIT_HYPERCALL: RAX and args (RBX, RCX, RDX, RSI, RDI). */
		struct {
			__u64 nr;
			__u64 args[5];
			__u64 ret;	/* in: written to guest RAX */
		} hypercall;
		/* VMX_EXIT_FAIL_ENTRY: the hardware's reason. */
		struct {
			__u64 hardware_reason;
			__u32 cpu;
			__u32 pad;
		} fail_entry;
		/* VMX_EXIT_INTERNAL_ERROR: VMX_INTERNAL_* with data. */
		struct {
			__u32 suberror;
			__u32 ndata;
			__u64 data[8];
		} internal;
		/*
		 * VMX_EXIT_MSR: RDMSR/WRMSR of an MSR the kernel does not
		 * handle.  @data: value written, or (in) value to read.
		 * @error (in): non-zero injects #GP instead.
		 */
		struct {
			__u32 index;
			__u8 is_write;
			__u8 error;
			__u8 pad[2];
			__u64 data;
		} msr;
		__u8 pad[256];
	};

	__u32 sync_want;
	__u32 sync_dirty;
	__u32 sync_valid;
	__u32 sync_pad;
	struct vmx_regs regs;
	struct vmx_sregs sregs;
};

/*
 * ioctls on a VM fd (continued)
 *
 * VMX_CREATE_VCPU: new vCPU fd (close-on-exec).
 *	EINVAL	flags/reserved, or id >= max_vcpus
 *	EOPNOTSUPP the backend cannot run vCPUs yet (no VMX_FEAT_VCPUS)
 *	EEXIST	a vCPU with this id exists
 *	EIO	the caller is not the process that created the VM
 * VMX_SET_MEMSLOT: create, move, re-flag or (size 0) delete a slot.
 *	EINVAL	bad slot number, flags, alignment, size (above
 *		VMX_MEM_MAX_SLOT_SIZE), reserved
 *	EEXIST	overlaps another slot
 *	EFAULT	user_addr range not valid in the caller's address space
 *	ENOENT	deleting a slot that does not exist
 *	EIO	caller is not the VM's creator
 * VMX_GET_DIRTY_LOG: copy out and clear the dirty bitmap of a slot.
 *	ENOENT	no such slot; EINVAL slot without VMX_MEM_DIRTY_LOG;
 *	EFAULT	bitmap not writable (the bits stay set for the next call)
 * VMX_SET_CPUID: the table every vCPU's CPUID reads from.
 *	E2BIG	more than VMX_MAX_CPUID_ENTRIES
 *	EINVAL	non-zero flags/reserved, unknown entry flags or non-zero pad;
 *		or a bit the module cannot honour: a feature the default
 *		table lacks (PKU, LA57, CET, VMX, SVM, MONITOR, a feature
 *		the host lacks, ...), an XSAVE component a guest may
 *		not enable, address sizes beyond the host's or the NPT's, a
 *		non-zero leaf no rule knows (ABI.md section 7).  Information
 *		(vendor, brand, cache, topology, highest leaves), x2APIC,
 *		TSC-deadline, ARAT, the hypervisor bit and leaves
 *		0x40000000-0x4fffffff are free.
 */
#define VMX_CREATE_VCPU		_IOW(VMX_IOC_MAGIC, 0x11, struct vmx_vcpu_create)
#define VMX_SET_MEMSLOT		_IOW(VMX_IOC_MAGIC, 0x12, struct vmx_memslot)
#define VMX_GET_DIRTY_LOG	_IOW(VMX_IOC_MAGIC, 0x13, struct vmx_dirty_log)
#define VMX_SET_CPUID		_IOW(VMX_IOC_MAGIC, 0x14, struct vmx_cpuid)

/*
 * VMX_GET_DEFAULT_CPUID (on /dev/vmx): the table a VM starts with: the
 * host's CPUID through the module's allowlist (only what it virtualizes,
 * plus information; never SVM/VMX), N vCPUs as N cores of one package,
 * and a hypervisor leaf naming vmx.
 *	E2BIG	@nent too small (set to the needed count)
 */
#define VMX_GET_DEFAULT_CPUID	_IOWR(VMX_IOC_MAGIC, 0x03, struct vmx_cpuid)

/*
 * ioctls on a vCPU fd.  All of them fail with EIO when called from a
 * process other than the VM's creator, and with EBUSY while another
 * thread is inside any ioctl of the same vCPU (VMX_RUN in particular).
 * Those that allocate may give ENOMEM.
 *
 * VMX_RUN: enter the guest until an exit needs the VMM.  Returns 0 with
 *	vmx_run.exit_reason set; EINTR with VMX_EXIT_INTR (signal pending
 *	or immediate_exit); EFAULT when the VMM's memory behind a slot is not
 *	mapped (or another get_user_pages() error).
 * VMX_GET_REGS / VMX_SET_REGS, VMX_GET_SREGS / VMX_SET_SREGS,
 * VMX_GET_FPU / VMX_SET_FPU: register state.  SET_SREGS: EINVAL for
 *	reserved bits set in CR0/CR4/EFER or inconsistent paging modes.
 * VMX_GET_MSRS / VMX_SET_MSRS: returns the count processed.
 *	E2BIG	more than VMX_MAX_MSR_ENTRIES
 * VMX_INJECT_EVENT: queue an event (see struct vmx_event).
 * VMX_GET_EVENTS / VMX_SET_EVENTS: event state, for save/restore.
 * VMX_GET_TSC_OFFSET / VMX_SET_TSC_OFFSET: see struct vmx_tsc_offset.
 *	EINVAL	flags, pad or reserved not zero
 * VMX_GET_DEBUGREGS / VMX_SET_DEBUGREGS: see struct vmx_debugregs.
 *	EINVAL	flags, pad or reserved not zero; DR6 or DR7 above 32 bits
 */
#define VMX_RUN			_IO(VMX_IOC_MAGIC, 0x20)
#define VMX_GET_REGS		_IOR(VMX_IOC_MAGIC, 0x21, struct vmx_regs)
#define VMX_SET_REGS		_IOW(VMX_IOC_MAGIC, 0x22, struct vmx_regs)
#define VMX_GET_SREGS		_IOR(VMX_IOC_MAGIC, 0x23, struct vmx_sregs)
#define VMX_SET_SREGS		_IOW(VMX_IOC_MAGIC, 0x24, struct vmx_sregs)
#define VMX_GET_FPU		_IOR(VMX_IOC_MAGIC, 0x25, struct vmx_fpu)
#define VMX_SET_FPU		_IOW(VMX_IOC_MAGIC, 0x26, struct vmx_fpu)
#define VMX_GET_MSRS		_IOWR(VMX_IOC_MAGIC, 0x27, struct vmx_msrs)
#define VMX_SET_MSRS		_IOW(VMX_IOC_MAGIC, 0x28, struct vmx_msrs)
#define VMX_INJECT_EVENT	_IOW(VMX_IOC_MAGIC, 0x29, struct vmx_event)
#define VMX_GET_EVENTS		_IOR(VMX_IOC_MAGIC, 0x2a, struct vmx_events)
#define VMX_SET_EVENTS		_IOW(VMX_IOC_MAGIC, 0x2b, struct vmx_events)
#define VMX_GET_TSC_OFFSET	_IOR(VMX_IOC_MAGIC, 0x2c, struct vmx_tsc_offset)
#define VMX_SET_TSC_OFFSET	_IOW(VMX_IOC_MAGIC, 0x2d, struct vmx_tsc_offset)
#define VMX_GET_DEBUGREGS	_IOR(VMX_IOC_MAGIC, 0x2e, struct vmx_debugregs)
#define VMX_SET_DEBUGREGS	_IOW(VMX_IOC_MAGIC, 0x2f, struct vmx_debugregs)

#endif /* _UAPI_LINUX_VMX_H */
