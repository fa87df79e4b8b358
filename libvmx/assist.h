/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvmx internal API: the guest page-table walker (walk.c) and the
 * instruction assist for MMIO and string port I/O exits (assist.c).
 *
 * The kernel module has no x86 instruction emulator: on an MMIO exit or a
 * string/REP port I/O exit it reports what the hardware gave, and these
 * functions finish the instruction in user space.  Everything they read
 * (page tables, instruction bytes, exit records, registers) comes from a
 * possibly hostile guest; they never trust it and never print.
 *
 * Return values shared by every function here:
 *   0		done
 *   -EACCES	the guest takes an exception: *fault says which; inject it
 *		(after writing the registers back, see lv_assist())
 *   -EOPNOTSUPP	instruction not handled by the assist: inject #UD
 *   -EFAULT	a guest-physical address the guest relies on (page-table
 *		entry, instruction bytes) is not backed: a VMM-level error
 *   -EINVAL	inconsistent arguments or exit record
 *   other	whatever a callback returned (a callback's -EACCES is
 *		turned into -EIO so that -EACCES always means *fault is set)
 */
#ifndef LIBVMX_ASSIST_H
#define LIBVMX_ASSIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/vmx.h>

/*
 * Guest RAM access.  Return 0, -EFAULT if (part of) the range is not
 * guest RAM, or another -errno.  The assist sends data accesses that are
 * not RAM to the MMIO callback instead.
 */
typedef int (*lv_read_phys_fn)(void *ctx, uint64_t gpa, void *buf, size_t len);
typedef int (*lv_write_phys_fn)(void *ctx, uint64_t gpa, const void *buf,
				size_t len);

/* Architectural bits the walker and the assist look at. */
#define LV_CR0_PE		(1ULL << 0)
#define LV_CR0_WP		(1ULL << 16)
#define LV_CR0_PG		(1ULL << 31)
#define LV_CR4_PSE		(1ULL << 4)
#define LV_CR4_PAE		(1ULL << 5)
#define LV_CR4_LA57		(1ULL << 12)
#define LV_CR4_SMEP		(1ULL << 20)
#define LV_CR4_SMAP		(1ULL << 21)
#define LV_EFER_LMA		(1ULL << 10)
#define LV_EFER_NXE		(1ULL << 11)

#define LV_RFLAGS_CF		(1ULL << 0)
#define LV_RFLAGS_FIXED		(1ULL << 1)	/* always 1 */
#define LV_RFLAGS_PF		(1ULL << 2)
#define LV_RFLAGS_AF		(1ULL << 4)
#define LV_RFLAGS_ZF		(1ULL << 6)
#define LV_RFLAGS_SF		(1ULL << 7)
#define LV_RFLAGS_DF		(1ULL << 10)
#define LV_RFLAGS_OF		(1ULL << 11)
#define LV_RFLAGS_VM		(1ULL << 17)
#define LV_RFLAGS_AC		(1ULL << 18)
#define LV_RFLAGS_ARITH		(LV_RFLAGS_CF | LV_RFLAGS_PF | LV_RFLAGS_AF | \
				 LV_RFLAGS_ZF | LV_RFLAGS_SF | LV_RFLAGS_OF)

/* Exception vectors the walker and the assist can report. */
#define LV_VEC_DB		1
#define LV_VEC_UD		6
#define LV_VEC_SS		12
#define LV_VEC_GP		13
#define LV_VEC_PF		14

/* #PF error code bits. */
#define LV_PFEC_P		(1U << 0)	/* protection, not not-present */
#define LV_PFEC_W		(1U << 1)	/* write access */
#define LV_PFEC_U		(1U << 2)	/* CPL 3 access */
#define LV_PFEC_RSVD		(1U << 3)	/* reserved bit set in an entry */
#define LV_PFEC_I		(1U << 4)	/* instruction fetch */

/*
 * struct lv_fault - an exception for the caller to inject
 * @vector:	LV_VEC_*
 * @has_error_code: the exception pushes @error_code (#GP, #SS, #PF)
 * @error_code:	LV_PFEC_* for #PF; 0 for #GP/#SS
 * @cr2:	#PF only: the faulting linear address, for CR2
 */
struct lv_fault {
	uint8_t vector;
	bool has_error_code;
	uint32_t error_code;
	uint64_t cr2;
};

/* Access kinds (lv_walk @access). */
#define LV_ACC_WRITE		(1U << 0)
#define LV_ACC_FETCH		(1U << 1)
#define LV_ACC_USER		(1U << 2)	/* made at CPL 3 */

/* lv_paging.flags */
#define LV_PG_SET_AD		(1U << 0)	/* set Accessed/Dirty like hardware */

/*
 * struct lv_paging - what the walker needs of a vCPU
 * @cr0, @cr3, @cr4, @efer: the guest's control registers (EFER.LMA decides
 *		long mode, CR4.LA57 five levels)
 * @rflags:	only AC is used (SMAP)
 * @maxphyaddr:	guest physical address width; 0 means 52
 * @flags:	LV_PG_*
 * @read_phys:	reads page-table entries
 * @write_phys:	writes A/D bits back; needed only with LV_PG_SET_AD
 * @ctx:	passed to the callbacks
 *
 * Not modelled: protection keys, CET shadow stacks, HLAT, the PDPTE cache
 * of PAE paging (PDPTEs are read at every walk), TLBs.
 */
struct lv_paging {
	uint64_t cr0, cr3, cr4, efer;
	uint64_t rflags;
	unsigned int maxphyaddr;
	unsigned int flags;
	lv_read_phys_fn read_phys;
	lv_write_phys_fn write_phys;
	void *ctx;
};

/*
 * struct lv_xlate - a successful translation
 * @gpa:	guest-physical address of the linear address
 * @page_size:	size of the mapping: 4 KiB, 2/4 MiB, 1 GiB; 4 GiB with
 *		paging off (identity)
 * @writable, @user, @nx: the combined permissions of the walk
 */
struct lv_xlate {
	uint64_t gpa;
	uint64_t page_size;
	bool writable, user, nx;
};

/* lv_paging_init() - fill @pg from a vCPU's special registers. */
void lv_paging_init(struct lv_paging *pg, const struct vmx_sregs *sregs,
		    uint64_t rflags);

/*
 * lv_walk() - translate linear address @la for an access of kind @access
 * (LV_ACC_*).  On a #PF (or #GP for a non-canonical address in long mode)
 * returns -EACCES with *fault filled; -EFAULT if an entry is not in RAM.
 */
int lv_walk(const struct lv_paging *pg, uint64_t la, unsigned int access,
	    struct lv_xlate *out, struct lv_fault *fault);

/*
 * The assist's view of the VMM.  @read_phys/@write_phys: guest RAM (must
 * return -EFAULT outside RAM).  @mmio: a device access of @size bytes (1 to
 * 8; a fragment of an access that crosses a page may have any size in that
 * range), @data little-endian.  @pio: one port access of 1, 2 or 4 bytes.
 * @maxphyaddr, @walk_flags: as in struct lv_paging.
 */
struct lv_assist_ops {
	lv_read_phys_fn read_phys;
	lv_write_phys_fn write_phys;
	int (*mmio)(void *ctx, uint64_t gpa, void *data, unsigned int size,
		    bool is_write);
	int (*pio)(void *ctx, uint16_t port, void *data, unsigned int size,
		   bool is_out);
	void *ctx;
	unsigned int maxphyaddr;
	unsigned int walk_flags;
};

/*
 * A REP string instruction is done in chunks of at most this many
 * iterations.  When RCX is not yet zero after a chunk, RIP is left on the
 * instruction: the guest executes it again and exits again for the rest,
 * and can take interrupts in between, as REP instructions may.
 */
#define LV_ASSIST_REP_MAX	1024

/*
 * lv_assist() - finish the instruction behind an MMIO or string port I/O
 * exit (dispatches on @run->exit_reason to the two functions below).
 *
 * On 0, @regs holds the state after the instruction (RIP advanced unless
 * a REP chunk left work); write them back.  On -EACCES, @regs may hold
 * the progress of a REP instruction (RSI/RDI/RCX, RIP unchanged): write
 * them back too, then inject *fault.  On any other error @regs is
 * untouched.
 */
int lv_assist(struct vmx_regs *regs, const struct vmx_sregs *sregs,
	      const struct vmx_run *run, const struct lv_assist_ops *ops,
	      struct lv_fault *fault);

/*
 * lv_assist_mmio() - emulate the instruction at CS:RIP that made the MMIO
 * access to @gpa (run->mmio).  @insn/@insn_len: bytes the CPU provided, or
 * 0 to fetch them through the guest page tables.
 */
int lv_assist_mmio(struct vmx_regs *regs, const struct vmx_sregs *sregs,
		   uint64_t gpa, const uint8_t *insn, unsigned int insn_len,
		   const struct lv_assist_ops *ops, struct lv_fault *fault);

/*
 * struct lv_string_io - a string port I/O exit (run->io with string = 1)
 * @port, @size (1, 2, 4), @is_out, @rep,
 * @addr_size:	16, 32 or 64; 0 = take it from the decoded instruction
 * @seg:	OUTS source segment, 0=ES 1=CS 2=SS 3=DS 4=FS 5=GS
 * @insn_len:	1-15; 0 = decode the instruction at CS:RIP to find it
 */
struct lv_string_io {
	uint16_t port;
	uint8_t size;
	bool is_out;
	bool rep;
	uint8_t addr_size;
	uint8_t seg;
	uint8_t insn_len;
};

/* lv_assist_string_io() - do an INS/OUTS (with REP, in chunks). */
int lv_assist_string_io(struct vmx_regs *regs, const struct vmx_sregs *sregs,
			const struct lv_string_io *io,
			const struct lv_assist_ops *ops, struct lv_fault *fault);

#endif /* LIBVMX_ASSIST_H */
