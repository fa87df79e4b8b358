/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvmx boot loaders: put a guest kernel into guest RAM and describe the
 * register state its first instruction expects.
 *
 *  - Linux bzImage through the 64-bit boot protocol (Linux
 *    Documentation/arch/x86/boot.rst, "64-bit Boot Protocol"),
 *    protocol 2.12 or later with XLF_KERNEL_64;
 *  - Multiboot (version 1) kernels: ELF32 images, or any image with the
 *    a.out kludge (header flag bit 16).
 *
 * Guest RAM is one block from GPA 0 (struct libvmx_guest_ram).  The
 * loaders write only inside it, and never into 0xE0000-0xFFFFF (kept for
 * the VMM's ACPI tables / RSDP).  Fixed guest-physical layout:
 *
 *   0x5ff0            FLAT32 (multiboot) initial RSP
 *   0x6000-0x607f     multiboot information structure
 *   0x6080-0x60ff     multiboot memory map (3 entries, size field first)
 *   0x6100-0x6fff     multiboot command line (max 0xeff bytes + NUL)
 *   0x6ff0            LONG (Linux) initial RSP (0x7000 - 16)
 *   0x7000-0x7fff     Linux zero page (struct boot_params); RSI at entry
 *   0x8000-0x80ff     GDT: 0x10 code, 0x18 data, 0x20 TSS descriptor
 *   0x8080-0x80e7     the TSS (zeroed) TR points at
 *   0x9000-0xefff     LONG page tables: PML4 0x9000, PDPT 0xa000, PDs
 *                     0xb000-0xe000, identity map of 0-4 GiB, 2 MiB pages
 *   0x20000-0x2ffff   Linux command line (max 64 KiB - 1 bytes + NUL)
 *   0x100000 ...      Linux protected-mode part (or the next
 *                     kernel_alignment-aligned address; pref_address for
 *                     a non-relocatable kernel), multiboot segments
 *   top of RAM        Linux initrd (page aligned, below initrd_addr_max)
 *
 * GDT selectors: LONG: 0x10 = __BOOT_CS (64-bit code), 0x18 = __BOOT_DS;
 * FLAT32: 0x10 = flat 32-bit code, 0x18 = flat data.  No IDT (limit 0);
 * interrupts are off (RFLAGS = 2).
 *
 * The functions keep no state; they are safe to call from any thread as
 * long as no two calls write the same guest RAM at once.  Images and
 * command lines are treated as hostile: every offset and length is
 * checked against the buffer it points into.
 */
#ifndef LIBVMX_BOOT_H
#define LIBVMX_BOOT_H

#include <stddef.h>
#include <stdint.h>
#include <vmx/libvmx.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Guest-physical layout (see above). */
#define LIBVMX_BOOT_MB_INFO_GPA		0x6000ULL
#define LIBVMX_BOOT_MB_MMAP_GPA		0x6080ULL
#define LIBVMX_BOOT_MB_CMDLINE_GPA	0x6100ULL
#define LIBVMX_BOOT_MB_CMDLINE_MAX	0xeffULL	/* bytes, without NUL */
#define LIBVMX_BOOT_MB_STACK		0x5ff0ULL
#define LIBVMX_BOOT_ZERO_PAGE_GPA	0x7000ULL
#define LIBVMX_BOOT_LINUX_STACK		(LIBVMX_BOOT_ZERO_PAGE_GPA - 16)
#define LIBVMX_BOOT_GDT_GPA		0x8000ULL
#define LIBVMX_BOOT_TSS_GPA		0x8080ULL
#define LIBVMX_BOOT_PML4_GPA		0x9000ULL
#define LIBVMX_BOOT_CMDLINE_GPA		0x20000ULL
#define LIBVMX_BOOT_CMDLINE_MAX		0xffffULL	/* bytes, without NUL */
#define LIBVMX_BOOT_KERNEL_GPA		0x100000ULL
#define LIBVMX_BOOT_VMM_AREA_GPA	0xe0000ULL	/* to 0xfffff: never written */
#define LIBVMX_BOOT_LINUX_MIN_RAM	(16ULL << 20)

#define LIBVMX_BOOT_SEL_CODE		0x10
#define LIBVMX_BOOT_SEL_DATA		0x18
#define LIBVMX_BOOT_SEL_TSS		0x20

#define LIBVMX_IMAGE_BZIMAGE	1
#define LIBVMX_IMAGE_MULTIBOOT	2

/*
 * libvmx_boot_detect() - which loader @image needs.
 * A Linux setup header ("HdrS" at 0x202) gives LIBVMX_IMAGE_BZIMAGE; else
 * a valid multiboot header (magic and checksum, 4-byte aligned, in the
 * first 8192 bytes) gives LIBVMX_IMAGE_MULTIBOOT.  Only the signatures
 * are checked: the loaders may still refuse the image.
 * Errors: -ENOEXEC (neither), -EINVAL (NULL @image).
 */
int libvmx_boot_detect(const void *image, size_t size);

/* One e820 entry: type 1 RAM, 2 reserved, 3 ACPI reclaimable. */
struct libvmx_e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

struct libvmx_linux_boot {
	const void *kernel;
	size_t kernel_size;
	const void *initrd;		/* NULL/0: none */
	size_t initrd_size;
	const char *cmdline;		/* NULL: empty */
	uint64_t rsdp_gpa;		/* boot_params.acpi_rsdp_addr; 0: none */
	const struct libvmx_e820_entry *e820;	/* NULL: the default map */
	unsigned int nr_e820;
};

#define LIBVMX_BOOT_LONG	1	/* 64-bit, paging on, identity map */
#define LIBVMX_BOOT_FLAT32	2	/* 32-bit protected mode, paging off */

/* The register state a loader asks for; see libvmx_boot_set_vcpu(). */
struct libvmx_boot_entry {
	int mode;			/* LIBVMX_BOOT_* */
	uint64_t rip, rsp, rax, rbx, rsi;
	uint64_t gdt_gpa;		/* the GDT the loader built */
	uint64_t cr3;			/* LONG: its page tables; FLAT32: 0 */
};

/*
 * libvmx_load_linux() - load a bzImage for the 64-bit boot protocol.
 *
 * Writes the zero page, GDT, TSS, page tables, command line, the
 * protected-mode part of the kernel and the initrd (layout above), and
 * fills @entry: LONG, RIP = load address + 0x200, RSI = 0x7000,
 * RSP = 0x6ff0, CR3 = 0x9000, GDT 0x8000.
 *
 * boot_params: zeroed, then the image's setup header, type_of_loader
 * 0xff, CAN_USE_HEAP with heap_end_ptr 0xfe00, vid_mode 0xffff,
 * cmd_line_ptr, ramdisk_image/size, the e820 table and, for protocol
 * 2.14 and later, acpi_rsdp_addr (older kernels find the RSDP by scanning
 * 0xE0000-0xFFFFF, which is the VMM's to fill).
 *
 * Default e820 (@boot->e820 NULL): [0, 0x9fc00) RAM, [0x9fc00, 0x100000)
 * reserved, [0x100000, RAM size) RAM.  A caller's map is copied as is.
 *
 * The command line may be at most min(64 KiB - 1, the kernel's
 * cmdline_size) bytes.  The initrd goes at the top of RAM below
 * min(RAM size, initrd_addr_max + 1), page aligned, above the end of the
 * kernel's init_size.
 *
 * Errors: -EINVAL (NULL argument, truncated or inconsistent image,
 * bad e820 argument), -ENOEXEC (not a bzImage, protocol older than 2.12,
 * no 64-bit entry), -ENOSPC (RAM smaller than 16 MiB, kernel init_size
 * or initrd does not fit), -E2BIG (command line too long, more than 128
 * e820 entries).  Everything is checked before the first write: on
 * error guest RAM is left untouched.
 */
int libvmx_load_linux(const struct libvmx_guest_ram *ram,
		      const struct libvmx_linux_boot *boot,
		      struct libvmx_boot_entry *entry);

/*
 * libvmx_load_multiboot() - load a multiboot (v1) kernel.
 *
 * ELF32 (EM_386, ET_EXEC): every PT_LOAD segment is copied to its p_paddr
 * and its bss zeroed.  With header flag bit 16 the a.out kludge address
 * fields are used instead (also for ELF files, as the specification
 * says).  Every byte loaded must lie in RAM at or above 1 MiB.  A video
 * mode request (flag bit 2) is ignored: no framebuffer is offered and
 * info flag bit 11 stays clear.  Other requirement bits 3-15 are refused.
 * An ELF e_entry inside a segment whose p_vaddr differs from p_paddr is
 * translated to the physical address (higher-half kernels), as GRUB does.
 *
 * The information structure at 0x6000 has flags bits 0 (mem_lower 639,
 * mem_upper = (RAM size - 1 MiB) / 1 KiB), 2 (command line) and 6 (memory
 * map, the default e820 map above).
 * @entry: FLAT32, EAX = 0x2BADB002, EBX = 0x6000, RIP = entry point,
 * RSP = 0x5ff0, GDT 0x8000.
 *
 * Errors: -EINVAL (NULL argument, truncated or malformed image, segment
 * outside RAM or below 1 MiB), -ENOEXEC (no multiboot header, unknown
 * requirement bits, not an i386 executable), -ENOSPC (RAM of 1 MiB or
 * less), -E2BIG (command line longer than 0xeff bytes).  As for
 * libvmx_load_linux(), guest RAM is left untouched on error.
 */
int libvmx_load_multiboot(const struct libvmx_guest_ram *ram,
			  const void *image, size_t size, const char *cmdline,
			  struct libvmx_boot_entry *entry);

/*
 * libvmx_boot_set_vcpu() - put @vcpu in the state @entry describes.
 *
 * LONG: CR0 PE|MP|ET|NE|PG, CR4 PAE, EFER LME|LMA, CR3 = @entry->cr3,
 * CS 0x10 64-bit code, DS/ES/SS/FS/GS 0x18 flat data, TR a busy 64-bit
 * TSS at 0x8080.  FLAT32: CR0 PE|ET, CR4 0, EFER 0, CS 0x10 flat 32-bit
 * code, data 0x18 flat, TR a busy 32-bit TSS.  Both: LDT unusable, GDT at
 * @entry->gdt_gpa, IDT limit 0, RFLAGS 2, general registers from @entry
 * (others 0).  Other sregs fields (CR2, CR8) keep their values.
 *
 * Errors: -EINVAL (NULL argument, unknown mode), or what
 * libvmx_vcpu_get_sregs()/set_sregs()/set_regs() give.
 */
int libvmx_boot_set_vcpu(struct libvmx_vcpu *vcpu,
			 const struct libvmx_boot_entry *entry);

/*
 * libvmx_boot_fill_regs() - what libvmx_boot_set_vcpu() loads, without a
 * vCPU: sets the segment, descriptor-table and control-register fields of
 * @sregs listed there (others, such as CR2 and CR8, are left as they are)
 * and all of @regs.  For VMMs that batch register writes, and for tests.
 * Errors: -EINVAL (NULL argument, unknown mode).
 */
int libvmx_boot_fill_regs(const struct libvmx_boot_entry *entry,
			  struct vmx_sregs *sregs, struct vmx_regs *regs);

#ifdef __cplusplus
}
#endif

#endif /* LIBVMX_BOOT_H */
