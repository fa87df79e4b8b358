/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvmx: the user-space library for VMMs built on /dev/vmx.
 *
 * Conventions for every function below:
 *  - Functions returning int give 0 (or a non-negative value where said)
 *    on success and a negative errno value on failure; errno itself is
 *    left as the underlying system call set it.
 *  - The library never prints, exits or aborts on the caller's behalf.
 *  - Objects are opaque; each has a _fd() accessor for the raw ioctl
 *    interface in <linux/vmx.h>, which stays usable beside the library.
 *  - 64-bit Linux only, like the kernel ABI.
 */
#ifndef LIBVMX_H
#define LIBVMX_H

#include <stddef.h>
#include <stdint.h>
#include <linux/vmx.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An open /dev/vmx. */
struct libvmx;
/* A virtual machine. */
struct libvmx_vm;

/* Where the module's device node is expected. */
#define LIBVMX_DEVICE_PATH	"/dev/vmx"

/*
 * libvmx_open() - open /dev/vmx and check its API version.
 * @out: receives the handle on success.
 *
 * Errors: -ENOENT (module not loaded), -EACCES (no permission on the
 * device), -EPROTONOSUPPORT (the module speaks another API version),
 * -ENOMEM, or what open(2) gives.
 */
int libvmx_open(struct libvmx **out);

/* libvmx_close() - close a handle from libvmx_open(); VMs stay alive. */
void libvmx_close(struct libvmx *vmx);

/* libvmx_fd() - the /dev/vmx file descriptor of @vmx. */
int libvmx_fd(const struct libvmx *vmx);

/*
 * libvmx_get_caps() - what the module and the CPU offer.
 * Errors: -EFAULT (bad @caps), -EINVAL (NULL argument).
 */
int libvmx_get_caps(struct libvmx *vmx, struct vmx_caps *caps);

/*
 * libvmx_vm_create() - create a VM owned by the calling process.
 * @flags: VMX_CREATE_VM flags (none defined yet: pass 0).
 * @out: receives the VM on success.
 *
 * Errors: -EINVAL (unknown flags, NULL argument), -ENOMEM, -EMFILE.
 */
int libvmx_vm_create(struct libvmx *vmx, uint32_t flags,
		     struct libvmx_vm **out);

/*
 * libvmx_vm_destroy() - drop the library's VM handle and its fd.  The
 * kernel frees the VM once no other fd refers to it.
 */
void libvmx_vm_destroy(struct libvmx_vm *vm);

/* libvmx_vm_fd() - the VM file descriptor of @vm. */
int libvmx_vm_fd(const struct libvmx_vm *vm);

/*
 * libvmx_vm_get_info() - what the kernel reports for @vm.
 * Errors: -EINVAL (NULL argument), -EFAULT.
 */
int libvmx_vm_get_info(struct libvmx_vm *vm, struct vmx_vm_info *info);

/* ---- guest memory ---- */

/*
 * struct libvmx_guest_ram - guest RAM as the loaders and table builders
 * see it: one block, guest-physical 0 to @size at host address @hva
 * (what libvmx_vm_add_ram() gives for a slot at GPA 0).  They write only
 * inside it and fail with -ENOSPC or -EFAULT rather than go past it.
 */
struct libvmx_guest_ram {
	void *hva;
	uint64_t size;
};

/*
 * libvmx_vm_add_ram() - allocate @size bytes of anonymous memory and map
 * it at guest-physical @gpa as slot @slot.
 * @flags: VMX_MEM_* flags of the slot.
 * @hva: receives the host address of the memory (may be NULL).
 *
 * Errors: -EINVAL (alignment, NULL @vm, slot in use by the library),
 * -ENOMEM, -EEXIST (overlap), or what VMX_SET_MEMSLOT gives.
 */
int libvmx_vm_add_ram(struct libvmx_vm *vm, uint32_t slot, uint64_t gpa,
		      uint64_t size, uint32_t flags, void **hva);

/*
 * libvmx_vm_map() - map caller-owned memory @hva at @gpa as slot @slot.
 * The memory stays the caller's; it must outlive the mapping.
 * Errors: as libvmx_vm_add_ram(), plus -EFAULT for a bad @hva range.
 */
int libvmx_vm_map(struct libvmx_vm *vm, uint32_t slot, uint64_t gpa,
		  uint64_t size, uint32_t flags, void *hva);

/*
 * libvmx_vm_unmap() - delete slot @slot (and free memory that
 * libvmx_vm_add_ram() allocated for it).
 * Errors: -ENOENT (no such slot), -EINVAL (NULL @vm).
 */
int libvmx_vm_unmap(struct libvmx_vm *vm, uint32_t slot);

/*
 * libvmx_gpa_to_hva() - host address of guest-physical @gpa if the
 * @len bytes from it lie in one slot; NULL otherwise.  Lock-free and
 * safe against concurrent map changes from other threads (liburcu); the
 * pointer stays valid until the slot is unmapped.
 */
void *libvmx_gpa_to_hva(struct libvmx_vm *vm, uint64_t gpa, uint64_t len);

/*
 * libvmx_read_gpa() / libvmx_write_gpa() - copy to/from guest-physical
 * memory, across slots.
 * Errors: -EFAULT (part of the range is not RAM), -EINVAL.
 */
int libvmx_read_gpa(struct libvmx_vm *vm, uint64_t gpa, void *buf, uint64_t len);
int libvmx_write_gpa(struct libvmx_vm *vm, uint64_t gpa, const void *buf,
		     uint64_t len);

/*
 * libvmx_vm_get_dirty_log() - fetch and clear the dirty bitmap of a slot
 * created with VMX_MEM_DIRTY_LOG.  @bitmap: one bit per page, rounded up
 * to 64 bits.
 * Errors: -ENOENT, -EINVAL (slot without dirty logging), -EFAULT.
 */
int libvmx_vm_get_dirty_log(struct libvmx_vm *vm, uint32_t slot,
			    uint64_t *bitmap);

/* ---- vCPUs ---- */

struct libvmx_vcpu;

/*
 * libvmx_vcpu_create() - create vCPU @id and map its run area.
 * Errors: -EINVAL (id too large), -EEXIST, -EIO (not the VM's creator),
 * -EOPNOTSUPP (backend cannot run vCPUs), -ENOMEM.
 */
int libvmx_vcpu_create(struct libvmx_vm *vm, uint32_t id,
		       struct libvmx_vcpu **out);

/* libvmx_vcpu_destroy() - unmap the run area, close the vCPU fd. */
void libvmx_vcpu_destroy(struct libvmx_vcpu *vcpu);

int libvmx_vcpu_fd(const struct libvmx_vcpu *vcpu);
uint32_t libvmx_vcpu_id(const struct libvmx_vcpu *vcpu);
struct libvmx_vm *libvmx_vcpu_vm(const struct libvmx_vcpu *vcpu);

/* libvmx_vcpu_run_area() - the mmap()ed struct vmx_run of @vcpu. */
struct vmx_run *libvmx_vcpu_run_area(struct libvmx_vcpu *vcpu);

/*
 * libvmx_vcpu_run() - one VMX_RUN: enter the guest until an exit needs
 * the VMM.  Returns 0 with the run area's exit_reason set, -EINTR with
 * VMX_EXIT_INTR (signal or immediate_exit), or another -errno (-EIO: not
 * the VM's creator; -EFAULT: guest RAM behind a slot is not mapped).
 */
int libvmx_vcpu_run(struct libvmx_vcpu *vcpu);

/* Register access; errors: -EINVAL (bad values), -EFAULT, -EBUSY. */
int libvmx_vcpu_get_regs(struct libvmx_vcpu *vcpu, struct vmx_regs *regs);
int libvmx_vcpu_set_regs(struct libvmx_vcpu *vcpu, const struct vmx_regs *regs);
int libvmx_vcpu_get_sregs(struct libvmx_vcpu *vcpu, struct vmx_sregs *sregs);
int libvmx_vcpu_set_sregs(struct libvmx_vcpu *vcpu,
			  const struct vmx_sregs *sregs);
int libvmx_vcpu_get_fpu(struct libvmx_vcpu *vcpu, struct vmx_fpu *fpu);
int libvmx_vcpu_set_fpu(struct libvmx_vcpu *vcpu, const struct vmx_fpu *fpu);
int libvmx_vcpu_get_debugregs(struct libvmx_vcpu *vcpu,
			      struct vmx_debugregs *dbg);
int libvmx_vcpu_set_debugregs(struct libvmx_vcpu *vcpu,
			      const struct vmx_debugregs *dbg);

/*
 * libvmx_vcpu_get_msr() / libvmx_vcpu_set_msr() - one MSR.
 * Errors: -ENOENT (unknown MSR or value refused), -EFAULT.
 */
int libvmx_vcpu_get_msr(struct libvmx_vcpu *vcpu, uint32_t index,
			uint64_t *value);
int libvmx_vcpu_set_msr(struct libvmx_vcpu *vcpu, uint32_t index,
			uint64_t value);

/*
 * libvmx_vcpu_inject() - queue an event (see struct vmx_event).
 * Errors: -EINVAL (malformed), -EBUSY (another event pending, or an
 * external interrupt while the guest cannot take one).
 */
int libvmx_vcpu_inject(struct libvmx_vcpu *vcpu, uint32_t type,
		       uint32_t vector, int has_error, uint32_t error_code);

/* ---- guest set-up and address translation ---- */

/*
 * struct libvmx_long_mode - arguments of libvmx_setup_long_mode()
 * @tables_gpa:	page-aligned guest RAM for GDT, TSS, IDT and page tables;
 *		libvmx_long_mode_tables_size() bytes
 * @identity_size: bytes mapped guest virtual == guest physical from 0;
 *		a multiple of 1 GiB, at most 512 GiB
 * @idt_handlers: guest addresses of the handlers of vectors 0 to
 *		@nr_handlers - 1 (interrupt gates, CPL 0), or NULL for an
 *		empty IDT (any exception then shuts the guest down)
 * @nr_handlers: entries in @idt_handlers, at most 256
 * @flags:	must be 0
 * @entry, @stack: initial RIP and RSP
 */
struct libvmx_long_mode {
	uint64_t tables_gpa;
	uint64_t identity_size;
	const uint64_t *idt_handlers;
	uint32_t nr_handlers;
	uint32_t flags;
	uint64_t entry;
	uint64_t stack;
};

/* Bytes of guest RAM libvmx_setup_long_mode() uses for @identity_size. */
size_t libvmx_long_mode_tables_size(uint64_t identity_size);

/*
 * libvmx_setup_long_mode() - build the tables in guest memory and put
 * @vcpu into 64-bit mode at CPL 0 (paging, SSE enabled; RFLAGS = 2).
 * Errors: -EINVAL (alignment, sizes, flags), -EFAULT (tables not in RAM), or what
 * the register ioctls give.
 */
int libvmx_setup_long_mode(struct libvmx_vcpu *vcpu,
			   const struct libvmx_long_mode *lm);

/*
 * libvmx_vm_build_long_mode_tables() - only build the tables (for vCPUs
 * that enter long mode later by themselves); errors as above.
 */
int libvmx_vm_build_long_mode_tables(struct libvmx_vm *vm,
				     const struct libvmx_long_mode *lm);

/* Access kinds for libvmx_vcpu_translate(). */
#define LIBVMX_ACC_WRITE	(1U << 0)
#define LIBVMX_ACC_FETCH	(1U << 1)
#define LIBVMX_ACC_USER		(1U << 2)

/* An exception the guest would take (#PF with CR2, or #GP). */
struct libvmx_fault {
	uint8_t vector;
	uint32_t error_code;
	uint64_t cr2;
};

/*
 * libvmx_vcpu_translate() - translate guest virtual @gva as @vcpu would
 * for an access of kind @access (LIBVMX_ACC_*): real mode, 32-bit, PAE,
 * 4- and 5-level long mode, large pages, permission checks (R/W, U/S, NX,
 * WP, SMEP, SMAP).
 * Errors: -EACCES (the guest would fault: *@fault says how, if not NULL),
 * -EFAULT (a page-table entry is not in guest RAM), -EINVAL.
 */
int libvmx_vcpu_translate(struct libvmx_vcpu *vcpu, uint64_t gva,
			  unsigned int access, uint64_t *gpa,
			  struct libvmx_fault *fault);

/* ---- the run loop ---- */

#include <stdbool.h>

/*
 * struct libvmx_exit_ops - the VMM's device model, for libvmx_vcpu_loop().
 * Every callback returns 0 to keep the guest running, a positive value
 * to stop the loop (libvmx_vcpu_loop() returns it), or a negative errno
 * (returned as well).  A NULL callback acts as an empty bus (reads give
 * all ones, writes are dropped), or for @hypercall and @exit stops the
 * loop with the VMX_EXIT_* value.
 *
 * @pio:	one port access of @size (1, 2, 4) bytes at @data; also each
 *		element of a string (INS/OUTS, REP) instruction
 * @mmio:	one device access of @size (1-8) bytes at @data,
 *		little-endian; the instruction was decoded by libvmx
 * @hypercall:	VMMCALL/VMCALL with RAX = @nr and @args (RBX, RCX, RDX,
 *		RSI, RDI); *@ret becomes the guest's RAX
 * @exit:	any other exit (HLT, SHUTDOWN, IRQ_WINDOW, INTR, MSR, ...)
 */
struct libvmx_exit_ops {
	int (*pio)(void *opaque, struct libvmx_vcpu *vcpu, uint16_t port,
		   void *data, unsigned int size, bool is_out);
	int (*mmio)(void *opaque, struct libvmx_vcpu *vcpu, uint64_t gpa,
		    void *data, unsigned int size, bool is_write);
	int (*hypercall)(void *opaque, struct libvmx_vcpu *vcpu, uint64_t nr,
			 const uint64_t args[5], uint64_t *ret);
	int (*exit)(void *opaque, struct libvmx_vcpu *vcpu, struct vmx_run *run);
};

/*
 * libvmx_vcpu_loop() - run @vcpu until a callback stops it.
 * MMIO and string port I/O instructions are decoded and completed by
 * libvmx; a guest fault found on the way (#PF, #GP) is injected into the
 * guest, an instruction libvmx cannot complete gets #UD.
 *
 * Returns what a callback returned (> 0, or < 0), or -errno from VMX_RUN
 * (-EIO, -EFAULT, ...).  Signals arrive as VMX_EXIT_INTR exits.
 */
int libvmx_vcpu_loop(struct libvmx_vcpu *vcpu,
		     const struct libvmx_exit_ops *ops, void *opaque);

/*
 * libvmx_vcpu_dispatch() - handle the one exit now in @vcpu's run area,
 * as libvmx_vcpu_loop() does after each VMX_RUN, for a VMM that keeps its
 * own loop (to inject interrupts or wait between runs): call it after
 * each libvmx_vcpu_run() that returned 0, or -EINTR with VMX_EXIT_INTR.
 * Returns 0 (run on), or what a callback returned, or -errno.
 */
int libvmx_vcpu_dispatch(struct libvmx_vcpu *vcpu,
			 const struct libvmx_exit_ops *ops, void *opaque);

#ifdef __cplusplus
}
#endif

#endif /* LIBVMX_H */
