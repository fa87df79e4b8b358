/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvmx boot loaders: Linux bzImage (64-bit boot protocol) and multiboot
 * v1, plus the vCPU state their entry points expect.  See <vmx/boot.h>
 * for the guest layout.  Every offset and length taken from an image is
 * checked before use; all address arithmetic is done in 64 bits on values
 * that are at most 32 bits wide or already bounded, so it cannot wrap.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "vmx/libvmx.h"
#include "vmx/boot.h"

#define KIB		1024ULL
#define MIB		(1024 * KIB)
#define GIB		(1024 * MIB)
#define PAGE_SIZE	4096ULL

/* ---- guest RAM access: bounded, never into the VMM's area ---- */

static bool ram_range_ok(const struct libvmx_guest_ram *ram, uint64_t gpa,
			 uint64_t len)
{
	if (gpa > ram->size || len > ram->size - gpa)
		return false;
	/* 0xE0000-0xFFFFF belongs to the VMM (ACPI tables, RSDP). */
	return !len || gpa + len <= LIBVMX_BOOT_VMM_AREA_GPA ||
	       gpa >= LIBVMX_BOOT_KERNEL_GPA;
}

static int ram_write(const struct libvmx_guest_ram *ram, uint64_t gpa,
		     const void *src, uint64_t len)
{
	if (!ram_range_ok(ram, gpa, len))
		return -EFAULT;
	if (len)
		memcpy((uint8_t *)ram->hva + gpa, src, len);
	return 0;
}

static int ram_zero(const struct libvmx_guest_ram *ram, uint64_t gpa,
		    uint64_t len)
{
	if (!ram_range_ok(ram, gpa, len))
		return -EFAULT;
	if (len)
		memset((uint8_t *)ram->hva + gpa, 0, len);
	return 0;
}

/* Little-endian accessors (the images are x86 little-endian). */
static uint16_t get16(const uint8_t *p)
{
	return p[0] | (uint16_t)p[1] << 8;
}

static uint32_t get32(const uint8_t *p)
{
	return get16(p) | (uint32_t)get16(p + 2) << 16;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v);
	put16(p + 2, v >> 16);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, v);
	put32(p + 4, v >> 32);
}

/* ---- GDT, TSS, page tables ---- */

#define DESC_CODE64	0x00af9a000000ffffULL	/* P, DPL0, code RX, L, G */
#define DESC_CODE32	0x00cf9a000000ffffULL	/* P, DPL0, code RX, D, G */
#define DESC_DATA	0x00cf92000000ffffULL	/* P, DPL0, data RW, B, G */
#define DESC_TSS_AVAIL	0x89ULL			/* P, available TSS */
#define TSS_LIMIT	0x67			/* 104 bytes */
#define GDT_BYTES	0x100

#define PTE_P		0x1ULL
#define PTE_RW		0x2ULL
#define PTE_PS		0x80ULL

static uint64_t tss_desc_low(uint64_t base)
{
	return TSS_LIMIT | (base & 0xffffff) << 16 | DESC_TSS_AVAIL << 40 |
	       (base >> 24 & 0xff) << 56;
}

/* The GDT page area: descriptors, then the zeroed TSS at 0x8080. */
static int write_gdt(const struct libvmx_guest_ram *ram, bool long_mode)
{
	uint8_t gdt[GDT_BYTES] = { 0 };
	uint64_t tss = LIBVMX_BOOT_TSS_GPA;
	unsigned int tss_off = tss - LIBVMX_BOOT_GDT_GPA;

	put64(gdt + LIBVMX_BOOT_SEL_CODE, long_mode ? DESC_CODE64 : DESC_CODE32);
	put64(gdt + LIBVMX_BOOT_SEL_DATA, DESC_DATA);
	put64(gdt + LIBVMX_BOOT_SEL_TSS, tss_desc_low(tss));
	/*
	 * A 64-bit TSS descriptor has the base's high half in the next slot
	 * (0 here); in a 32-bit GDT that slot is outside the GDT limit.
	 * No I/O permission bitmap: its offset points past the TSS limit.
	 */
	put16(gdt + tss_off + 102, TSS_LIMIT + 1);
	return ram_write(ram, LIBVMX_BOOT_GDT_GPA, gdt, sizeof(gdt));
}

/* PML4 0x9000, PDPT 0xa000, four PDs 0xb000-0xe000: 0-4 GiB, 2 MiB pages. */
static int write_page_tables(const struct libvmx_guest_ram *ram)
{
	uint64_t pml4 = LIBVMX_BOOT_PML4_GPA, pdpt = pml4 + PAGE_SIZE;
	uint64_t pd = pdpt + PAGE_SIZE, table[512];
	unsigned int gib, i;
	int ret;

	memset(table, 0, sizeof(table));
	table[0] = pdpt | PTE_P | PTE_RW;
	ret = ram_write(ram, pml4, table, sizeof(table));
	memset(table, 0, sizeof(table));
	for (gib = 0; gib < 4; gib++)
		table[gib] = (pd + gib * PAGE_SIZE) | PTE_P | PTE_RW;
	if (!ret)
		ret = ram_write(ram, pdpt, table, sizeof(table));
	for (gib = 0; !ret && gib < 4; gib++) {
		for (i = 0; i < 512; i++)
			table[i] = (gib * GIB + ((uint64_t)i << 21)) |
				   PTE_P | PTE_RW | PTE_PS;
		ret = ram_write(ram, pd + gib * PAGE_SIZE, table, sizeof(table));
	}
	return ret;
}

/* ---- Linux bzImage ---- */

/* Setup header offsets (boot.rst), also their offsets in boot_params. */
#define BZ_SETUP_SECTS		0x1f1
#define BZ_SYSSIZE		0x1f4
#define BZ_VID_MODE		0x1fa
#define BZ_JUMP			0x200
#define BZ_HEADER		0x202
#define BZ_VERSION		0x206
#define BZ_TYPE_OF_LOADER	0x210
#define BZ_LOADFLAGS		0x211
#define BZ_RAMDISK_IMAGE	0x218
#define BZ_RAMDISK_SIZE		0x21c
#define BZ_HEAP_END_PTR		0x224
#define BZ_CMD_LINE_PTR		0x228
#define BZ_INITRD_ADDR_MAX	0x22c
#define BZ_KERNEL_ALIGNMENT	0x230
#define BZ_RELOCATABLE		0x234
#define BZ_XLOADFLAGS		0x236
#define BZ_CMDLINE_SIZE		0x238
#define BZ_PREF_ADDRESS		0x258
#define BZ_INIT_SIZE		0x260
#define BZ_HDR_MIN_END		0x264	/* everything we read lies below */
#define BZ_HDR_MAX_END		0x290	/* end of the header in boot_params */

/* boot_params fields outside the setup header (zero-page.rst). */
#define BP_ACPI_RSDP_ADDR	0x070
#define BP_EXT_RAMDISK_IMAGE	0x0c0
#define BP_EXT_RAMDISK_SIZE	0x0c4
#define BP_EXT_CMD_LINE_PTR	0x0c8
#define BP_E820_ENTRIES		0x1e8
#define BP_E820_TABLE		0x2d0
#define BP_E820_MAX		128
#define BP_E820_ENTRY_SIZE	20

#define BZ_MAGIC		0x53726448	/* "HdrS" */
#define BZ_MIN_VERSION		0x020c
#define BZ_RSDP_VERSION		0x020e
#define XLF_KERNEL_64		0x1
#define CAN_USE_HEAP		0x80
#define HEAP_END		0xfe00

struct bz_image {
	uint64_t setup_size;	/* bytes before the protected-mode part */
	uint64_t pm_size;	/* bytes of the protected-mode part */
	uint64_t hdr_len;	/* setup header bytes copied from 0x1f1 */
	uint64_t load;		/* where the protected-mode part goes */
	uint64_t init_size;
	uint64_t initrd_max;	/* initrd_addr_max */
	uint64_t cmdline_max;
	uint16_t version;
};

static bool bz_has_magic(const uint8_t *img, size_t size)
{
	return size >= BZ_HEADER + 4 && get32(img + BZ_HEADER) == BZ_MAGIC;
}

static int bz_parse(const uint8_t *img, size_t size, struct bz_image *bz)
{
	uint64_t sects, syssize, align;

	if (!bz_has_magic(img, size))
		return -ENOEXEC;
	if (size < BZ_HDR_MIN_END)
		return -EINVAL;
	bz->version = get16(img + BZ_VERSION);
	if (bz->version < BZ_MIN_VERSION ||
	    !(get16(img + BZ_XLOADFLAGS) & XLF_KERNEL_64))
		return -ENOEXEC;

	sects = img[BZ_SETUP_SECTS] ? img[BZ_SETUP_SECTS] : 4;
	bz->setup_size = (sects + 1) * 512;
	if (size <= bz->setup_size)
		return -EINVAL;
	bz->pm_size = size - bz->setup_size;
	/* syssize (16-byte units) must be there; signatures may follow. */
	syssize = (uint64_t)get32(img + BZ_SYSSIZE) * 16;
	if (!syssize || syssize > bz->pm_size)
		return -EINVAL;

	bz->hdr_len = BZ_JUMP + 2 + img[BZ_JUMP + 1] - BZ_SETUP_SECTS;
	if (bz->hdr_len > BZ_HDR_MAX_END - BZ_SETUP_SECTS)
		bz->hdr_len = BZ_HDR_MAX_END - BZ_SETUP_SECTS;

	bz->init_size = get32(img + BZ_INIT_SIZE);
	if (bz->init_size < bz->pm_size)
		return -EINVAL;
	bz->initrd_max = get32(img + BZ_INITRD_ADDR_MAX);
	if (!bz->initrd_max)
		return -EINVAL;
	bz->cmdline_max = get32(img + BZ_CMDLINE_SIZE);
	if (bz->cmdline_max > LIBVMX_BOOT_CMDLINE_MAX)
		bz->cmdline_max = LIBVMX_BOOT_CMDLINE_MAX;

	if (img[BZ_RELOCATABLE]) {
		align = get32(img + BZ_KERNEL_ALIGNMENT);
		if (!align || (align & (align - 1)))
			return -EINVAL;
		bz->load = (LIBVMX_BOOT_KERNEL_GPA + align - 1) & ~(align - 1);
	} else {
		bz->load = get64(img + BZ_PREF_ADDRESS);
		if (bz->load < LIBVMX_BOOT_KERNEL_GPA || bz->load >= 4 * GIB ||
		    bz->load % PAGE_SIZE)
			return -EINVAL;
	}
	return 0;
}

static void bz_default_e820(const struct libvmx_guest_ram *ram,
			    struct libvmx_e820_entry e820[3])
{
	e820[0] = (struct libvmx_e820_entry){ 0, 0x9fc00, 1 };
	e820[1] = (struct libvmx_e820_entry){ 0x9fc00, 0x100000 - 0x9fc00, 2 };
	e820[2] = (struct libvmx_e820_entry){ 0x100000, ram->size - 0x100000, 1 };
}

static int bz_fill_e820(uint8_t *bp, const struct libvmx_guest_ram *ram,
			const struct libvmx_linux_boot *boot)
{
	struct libvmx_e820_entry def[3];
	const struct libvmx_e820_entry *e820 = boot->e820;
	unsigned int i, nr = boot->nr_e820;

	if (!e820) {
		bz_default_e820(ram, def);
		e820 = def;
		nr = 3;
	} else if (!nr) {
		return -EINVAL;
	} else if (nr > BP_E820_MAX) {
		return -E2BIG;
	}
	bp[BP_E820_ENTRIES] = nr;
	for (i = 0; i < nr; i++) {
		uint8_t *e = bp + BP_E820_TABLE + i * BP_E820_ENTRY_SIZE;

		put64(e, e820[i].addr);
		put64(e + 8, e820[i].size);
		put32(e + 16, e820[i].type);
	}
	return 0;
}

/* Where the initrd goes: top of usable RAM, page aligned, above @floor. */
static int bz_place_initrd(const struct libvmx_guest_ram *ram,
			   const struct bz_image *bz, uint64_t floor,
			   uint64_t len, uint64_t *gpa)
{
	uint64_t top = ram->size;

	if (top > bz->initrd_max + 1)
		top = bz->initrd_max + 1;
	if (top < len)
		return -ENOSPC;
	*gpa = (top - len) & ~(PAGE_SIZE - 1);
	return *gpa >= floor ? 0 : -ENOSPC;
}

int libvmx_load_linux(const struct libvmx_guest_ram *ram,
		      const struct libvmx_linux_boot *boot,
		      struct libvmx_boot_entry *entry)
{
	static const char empty[] = "";
	const uint8_t *img;
	const char *cmdline;
	struct bz_image bz;
	uint8_t bp[4096];
	uint64_t cmdline_len, kernel_end, initrd_gpa = 0;
	int ret;

	if (!ram || !ram->hva || !boot || !boot->kernel || !entry ||
	    (!boot->initrd && boot->initrd_size))
		return -EINVAL;
	img = boot->kernel;
	ret = bz_parse(img, boot->kernel_size, &bz);
	if (ret)
		return ret;

	if (ram->size < LIBVMX_BOOT_LINUX_MIN_RAM)
		return -ENOSPC;
	kernel_end = bz.load + bz.init_size;
	if (kernel_end > ram->size || kernel_end > 4 * GIB)
		return -ENOSPC;

	cmdline = boot->cmdline ? boot->cmdline : empty;
	cmdline_len = strnlen(cmdline, LIBVMX_BOOT_CMDLINE_MAX + 1);
	if (cmdline_len > bz.cmdline_max)
		return -E2BIG;

	if (boot->initrd_size) {
		ret = bz_place_initrd(ram, &bz, kernel_end, boot->initrd_size,
				      &initrd_gpa);
		if (ret)
			return ret;
	}

	memset(bp, 0, sizeof(bp));
	memcpy(bp + BZ_SETUP_SECTS, img + BZ_SETUP_SECTS, bz.hdr_len);
	ret = bz_fill_e820(bp, ram, boot);
	if (ret)
		return ret;
	bp[BZ_TYPE_OF_LOADER] = 0xff;
	bp[BZ_LOADFLAGS] |= CAN_USE_HEAP;
	put16(bp + BZ_HEAP_END_PTR, HEAP_END);
	put16(bp + BZ_VID_MODE, 0xffff);
	put32(bp + BZ_CMD_LINE_PTR, (uint32_t)LIBVMX_BOOT_CMDLINE_GPA);
	put32(bp + BP_EXT_CMD_LINE_PTR, LIBVMX_BOOT_CMDLINE_GPA >> 32);
	put32(bp + BZ_RAMDISK_IMAGE, (uint32_t)initrd_gpa);
	put32(bp + BZ_RAMDISK_SIZE, (uint32_t)boot->initrd_size);
	put32(bp + BP_EXT_RAMDISK_IMAGE, initrd_gpa >> 32);
	put32(bp + BP_EXT_RAMDISK_SIZE, (uint64_t)boot->initrd_size >> 32);
	if (bz.version >= BZ_RSDP_VERSION)
		put64(bp + BP_ACPI_RSDP_ADDR, boot->rsdp_gpa);

	ret = ram_write(ram, LIBVMX_BOOT_ZERO_PAGE_GPA, bp, sizeof(bp));
	if (!ret)
		ret = write_gdt(ram, true);
	if (!ret)
		ret = write_page_tables(ram);
	if (!ret)
		ret = ram_write(ram, LIBVMX_BOOT_CMDLINE_GPA, cmdline,
				cmdline_len);
	if (!ret)
		ret = ram_zero(ram, LIBVMX_BOOT_CMDLINE_GPA + cmdline_len, 1);
	if (!ret)
		ret = ram_write(ram, bz.load, img + bz.setup_size, bz.pm_size);
	if (!ret && boot->initrd_size)
		ret = ram_write(ram, initrd_gpa, boot->initrd,
				boot->initrd_size);
	if (ret)
		return ret;

	memset(entry, 0, sizeof(*entry));
	entry->mode = LIBVMX_BOOT_LONG;
	entry->rip = bz.load + 0x200;
	entry->rsp = LIBVMX_BOOT_LINUX_STACK;
	entry->rsi = LIBVMX_BOOT_ZERO_PAGE_GPA;
	entry->gdt_gpa = LIBVMX_BOOT_GDT_GPA;
	entry->cr3 = LIBVMX_BOOT_PML4_GPA;
	return 0;
}

/* ---- multiboot v1 ---- */

#define MB_MAGIC		0x1badb002U
#define MB_BOOT_MAGIC		0x2badb002U
#define MB_SEARCH		8192
#define MB_HDR_SIZE		12
#define MB_AOUT_HDR_SIZE	32
#define MB_F_PAGE_ALIGN		(1U << 0)	/* modules: we load none */
#define MB_F_MEMINFO		(1U << 1)	/* always given */
#define MB_F_VIDEO		(1U << 2)	/* ignored, see boot.h */
#define MB_F_REQ_MASK		0xffffU
#define MB_F_KNOWN		(MB_F_PAGE_ALIGN | MB_F_MEMINFO | MB_F_VIDEO)
#define MB_F_AOUT		(1U << 16)

#define MBI_MEM			(1U << 0)
#define MBI_CMDLINE		(1U << 2)
#define MBI_MMAP		(1U << 6)
#define MBI_LOADER_NAME		(1U << 9)
#define MBI_SIZE		0x80
#define MBI_LOADER_NAME_GPA	(LIBVMX_BOOT_MB_INFO_GPA + 0xf0)
#define MB_MMAP_ENTRY		24

#define EM_386_			3
#define ET_EXEC_		2
#define PT_LOAD_		1
#define ELF32_EHDR		52
#define ELF32_PHDR		32

/* The offset of the first valid multiboot header, or -1. */
static long mb_find_header(const uint8_t *img, size_t size)
{
	size_t off, end = size < MB_SEARCH ? size : MB_SEARCH;

	for (off = 0; off + MB_HDR_SIZE <= end; off += 4) {
		uint32_t magic = get32(img + off);

		if (magic == MB_MAGIC &&
		    (uint32_t)(magic + get32(img + off + 4) +
			       get32(img + off + 8)) == 0)
			return off;
	}
	return -1;
}

int libvmx_boot_detect(const void *image, size_t size)
{
	if (!image)
		return -EINVAL;
	if (bz_has_magic(image, size))
		return LIBVMX_IMAGE_BZIMAGE;
	if (mb_find_header(image, size) >= 0)
		return LIBVMX_IMAGE_MULTIBOOT;
	return -ENOEXEC;
}

/* One piece to copy: @filesz bytes from @offset to @gpa, then zeros. */
struct mb_seg {
	uint64_t gpa, offset, filesz, memsz;
};

/* What to load, checked against the file and RAM. */
struct mb_plan {
	bool aout;		/* one piece, @seg; else the ELF PT_LOADs */
	struct mb_seg seg;
	uint64_t entry;		/* physical */
};

static bool mb_seg_ok(const struct libvmx_guest_ram *ram, size_t size,
		      const struct mb_seg *s)
{
	return s->filesz <= s->memsz && s->offset <= size &&
	       s->filesz <= size - s->offset &&
	       s->gpa >= LIBVMX_BOOT_KERNEL_GPA && s->gpa <= ram->size &&
	       s->memsz <= ram->size - s->gpa;
}

static int mb_plan_aout(const struct libvmx_guest_ram *ram,
			const uint8_t *img, size_t size, size_t hdr,
			struct mb_plan *plan)
{
	const uint8_t *h = img + hdr;
	uint64_t header_addr, load_addr, load_end, bss_end, entry, len;
	struct mb_seg *s = &plan->seg;

	if (hdr + MB_AOUT_HDR_SIZE > size)
		return -EINVAL;
	header_addr = get32(h + 12);
	load_addr = get32(h + 16);
	load_end = get32(h + 20);
	bss_end = get32(h + 24);
	entry = get32(h + 28);

	if (load_addr > header_addr || header_addr - load_addr > hdr)
		return -EINVAL;
	s->offset = hdr - (header_addr - load_addr);
	if (!load_end) {
		len = size - s->offset;
	} else {
		if (load_end < load_addr)
			return -EINVAL;
		len = load_end - load_addr;
	}
	s->gpa = load_addr;
	s->filesz = len;
	s->memsz = len;
	if (bss_end) {
		if (bss_end < load_addr + len)
			return -EINVAL;
		s->memsz = bss_end - load_addr;
	}
	if (!s->memsz || !mb_seg_ok(ram, size, s))
		return -EINVAL;
	if (entry < s->gpa || entry - s->gpa >= s->memsz)
		return -EINVAL;
	plan->aout = true;
	plan->entry = entry;
	return 0;
}

static void mb_read_phdr(const uint8_t *p, uint32_t *type, struct mb_seg *s,
			 uint64_t *vaddr)
{
	*type = get32(p);
	s->offset = get32(p + 4);
	*vaddr = get32(p + 8);
	s->gpa = get32(p + 12);
	s->filesz = get32(p + 16);
	s->memsz = get32(p + 20);
}

/*
 * Check the ELF32 file; its PT_LOAD segments are read again from the
 * program headers when copying (mb_load_elf), so nothing is allocated.
 */
static int mb_check_elf(const struct libvmx_guest_ram *ram,
			const uint8_t *img, size_t size, struct mb_plan *plan,
			uint64_t *phoff, unsigned int *phnum,
			unsigned int *phentsize)
{
	uint64_t e_entry, vaddr;
	bool have_entry = false;
	unsigned int i, loads = 0;

	if (size < 4 || memcmp(img, "\177ELF", 4))
		return -ENOEXEC;
	if (size < ELF32_EHDR)
		return -EINVAL;
	if (img[4] != 1 || img[5] != 1 || get16(img + 16) != ET_EXEC_ ||
	    get16(img + 18) != EM_386_)
		return -ENOEXEC;
	e_entry = get32(img + 24);
	*phoff = get32(img + 28);
	*phentsize = get16(img + 42);
	*phnum = get16(img + 44);
	if (*phentsize < ELF32_PHDR || !*phnum || *phoff > size ||
	    (uint64_t)*phnum * *phentsize > size - *phoff)
		return -EINVAL;

	/* Entry: by virtual address first (higher-half), then physical. */
	for (i = 0; i < *phnum; i++) {
		const uint8_t *p = img + *phoff + (uint64_t)i * *phentsize;
		struct mb_seg s;
		uint32_t type;

		mb_read_phdr(p, &type, &s, &vaddr);
		if (type != PT_LOAD_ || !s.memsz)
			continue;
		if (!mb_seg_ok(ram, size, &s))
			return -EINVAL;
		loads++;
		if (!have_entry && e_entry >= vaddr && e_entry - vaddr < s.memsz) {
			plan->entry = s.gpa + (e_entry - vaddr);
			have_entry = true;
		}
	}
	for (i = 0; !have_entry && i < *phnum; i++) {
		const uint8_t *p = img + *phoff + (uint64_t)i * *phentsize;
		struct mb_seg s;
		uint32_t type;

		mb_read_phdr(p, &type, &s, &vaddr);
		if (type == PT_LOAD_ && s.memsz && e_entry >= s.gpa &&
		    e_entry - s.gpa < s.memsz) {
			plan->entry = e_entry;
			have_entry = true;
		}
	}
	if (!loads || !have_entry)
		return -EINVAL;
	return 0;
}

static int mb_load_seg(const struct libvmx_guest_ram *ram, const uint8_t *img,
		       const struct mb_seg *s)
{
	int ret = ram_write(ram, s->gpa, img + s->offset, s->filesz);

	return ret ? ret : ram_zero(ram, s->gpa + s->filesz,
				    s->memsz - s->filesz);
}

static int mb_load_elf(const struct libvmx_guest_ram *ram, const uint8_t *img,
		       uint64_t phoff, unsigned int phnum,
		       unsigned int phentsize)
{
	unsigned int i;
	int ret = 0;

	for (i = 0; !ret && i < phnum; i++) {
		struct mb_seg s;
		uint64_t vaddr;
		uint32_t type;

		mb_read_phdr(img + phoff + (uint64_t)i * phentsize, &type, &s,
			     &vaddr);
		if (type == PT_LOAD_ && s.memsz)
			ret = mb_load_seg(ram, img, &s);
	}
	return ret;
}

static int mb_write_info(const struct libvmx_guest_ram *ram,
			 const char *cmdline, uint64_t cmdline_len)
{
	static const char name[] = "libvmx";
	struct libvmx_e820_entry e820[3];
	uint8_t info[MBI_SIZE] = { 0 }, mmap[3 * MB_MMAP_ENTRY];
	uint64_t upper = (ram->size - MIB) / KIB;
	unsigned int i;
	int ret;

	bz_default_e820(ram, e820);
	for (i = 0; i < 3; i++) {
		uint8_t *e = mmap + i * MB_MMAP_ENTRY;

		put32(e, MB_MMAP_ENTRY - 4);	/* size excludes itself */
		put64(e + 4, e820[i].addr);
		put64(e + 12, e820[i].size);
		put32(e + 20, e820[i].type);
	}
	put32(info, MBI_MEM | MBI_CMDLINE | MBI_MMAP | MBI_LOADER_NAME);
	put32(info + 4, 0x9fc00 / KIB);
	put32(info + 8, upper > UINT32_MAX ? UINT32_MAX : upper);
	put32(info + 16, LIBVMX_BOOT_MB_CMDLINE_GPA);
	put32(info + 44, sizeof(mmap));
	put32(info + 48, LIBVMX_BOOT_MB_MMAP_GPA);
	put32(info + 64, MBI_LOADER_NAME_GPA);

	ret = ram_write(ram, LIBVMX_BOOT_MB_INFO_GPA, info, sizeof(info));
	if (!ret)
		ret = ram_write(ram, LIBVMX_BOOT_MB_MMAP_GPA, mmap, sizeof(mmap));
	if (!ret)
		ret = ram_write(ram, MBI_LOADER_NAME_GPA, name, sizeof(name));
	if (!ret)
		ret = ram_write(ram, LIBVMX_BOOT_MB_CMDLINE_GPA, cmdline,
				cmdline_len);
	if (!ret)
		ret = ram_zero(ram, LIBVMX_BOOT_MB_CMDLINE_GPA + cmdline_len, 1);
	return ret;
}

int libvmx_load_multiboot(const struct libvmx_guest_ram *ram,
			  const void *image, size_t size, const char *cmdline,
			  struct libvmx_boot_entry *entry)
{
	const uint8_t *img = image;
	struct mb_plan plan = { 0 };
	uint64_t phoff = 0, cmdline_len;
	unsigned int phnum = 0, phentsize = 0;
	uint32_t flags;
	long hdr;
	int ret;

	if (!ram || !ram->hva || !image || !entry)
		return -EINVAL;
	hdr = mb_find_header(img, size);
	if (hdr < 0)
		return -ENOEXEC;
	flags = get32(img + hdr + 4);
	if (flags & MB_F_REQ_MASK & ~MB_F_KNOWN)
		return -ENOEXEC;
	if (ram->size <= MIB)
		return -ENOSPC;
	cmdline = cmdline ? cmdline : "";
	cmdline_len = strnlen(cmdline, LIBVMX_BOOT_MB_CMDLINE_MAX + 1);
	if (cmdline_len > LIBVMX_BOOT_MB_CMDLINE_MAX)
		return -E2BIG;

	if (flags & MB_F_AOUT)
		ret = mb_plan_aout(ram, img, size, hdr, &plan);
	else
		ret = mb_check_elf(ram, img, size, &plan, &phoff, &phnum,
				   &phentsize);
	if (ret)
		return ret;

	if (plan.aout)
		ret = mb_load_seg(ram, img, &plan.seg);
	else
		ret = mb_load_elf(ram, img, phoff, phnum, phentsize);
	/* Low structures last: segments are >= 1 MiB, but be safe. */
	if (!ret)
		ret = mb_write_info(ram, cmdline, cmdline_len);
	if (!ret)
		ret = write_gdt(ram, false);
	if (ret)
		return ret;

	memset(entry, 0, sizeof(*entry));
	entry->mode = LIBVMX_BOOT_FLAT32;
	entry->rip = plan.entry;
	entry->rsp = LIBVMX_BOOT_MB_STACK;
	entry->rax = MB_BOOT_MAGIC;
	entry->rbx = LIBVMX_BOOT_MB_INFO_GPA;
	entry->gdt_gpa = LIBVMX_BOOT_GDT_GPA;
	return 0;
}

/* ---- the boot vCPU ---- */

#define CR0_PE		(1ULL << 0)
#define CR0_MP		(1ULL << 1)
#define CR0_ET		(1ULL << 4)
#define CR0_NE		(1ULL << 5)
#define CR0_PG		(1ULL << 31)
#define CR4_PAE		(1ULL << 5)
#define EFER_LME	(1ULL << 8)
#define EFER_LMA	(1ULL << 10)

static struct vmx_segment boot_seg(uint16_t sel, uint8_t type, uint8_t s,
				   uint8_t l, uint8_t db, uint64_t base,
				   uint32_t limit, uint8_t g)
{
	return (struct vmx_segment) {
		.base = base, .limit = limit, .selector = sel, .type = type,
		.s = s, .present = 1, .l = l, .db = db, .g = g,
	};
}

int libvmx_boot_fill_regs(const struct libvmx_boot_entry *entry,
			  struct vmx_sregs *sregs, struct vmx_regs *regs)
{
	struct vmx_segment data;
	bool lm;

	if (!entry || !sregs || !regs ||
	    (entry->mode != LIBVMX_BOOT_LONG && entry->mode != LIBVMX_BOOT_FLAT32))
		return -EINVAL;
	lm = entry->mode == LIBVMX_BOOT_LONG;

	sregs->cs = boot_seg(LIBVMX_BOOT_SEL_CODE, 0xb, 1, lm, !lm, 0,
			     0xffffffff, 1);
	data = boot_seg(LIBVMX_BOOT_SEL_DATA, 0x3, 1, 0, 1, 0, 0xffffffff, 1);
	sregs->ds = data;
	sregs->es = data;
	sregs->fs = data;
	sregs->gs = data;
	sregs->ss = data;
	/* Busy TSS (type 11): 64-bit in long mode, 32-bit otherwise. */
	sregs->tr = boot_seg(LIBVMX_BOOT_SEL_TSS, 0xb, 0, 0, 0,
			     LIBVMX_BOOT_TSS_GPA, TSS_LIMIT, 0);
	memset(&sregs->ldt, 0, sizeof(sregs->ldt));
	sregs->ldt.unusable = 1;
	memset(&sregs->gdt, 0, sizeof(sregs->gdt));
	sregs->gdt.base = entry->gdt_gpa;
	/* 64-bit TSS descriptors take two slots. */
	sregs->gdt.limit = LIBVMX_BOOT_SEL_TSS + (lm ? 16 : 8) - 1;
	memset(&sregs->idt, 0, sizeof(sregs->idt));
	if (lm) {
		sregs->cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_PG;
		sregs->cr3 = entry->cr3;
		sregs->cr4 = CR4_PAE;
		sregs->efer = EFER_LME | EFER_LMA;
	} else {
		sregs->cr0 = CR0_PE | CR0_ET;
		sregs->cr3 = 0;
		sregs->cr4 = 0;
		sregs->efer = 0;
	}

	memset(regs, 0, sizeof(*regs));
	regs->rip = entry->rip;
	regs->rsp = entry->rsp;
	regs->rax = entry->rax;
	regs->rbx = entry->rbx;
	regs->rsi = entry->rsi;
	regs->rflags = 2;
	return 0;
}

int libvmx_boot_set_vcpu(struct libvmx_vcpu *vcpu,
			 const struct libvmx_boot_entry *entry)
{
	struct vmx_sregs sregs;
	struct vmx_regs regs;
	int ret;

	if (!vcpu || !entry)
		return -EINVAL;
	/* Keep what the entry does not describe (CR2, CR8, reserved). */
	ret = libvmx_vcpu_get_sregs(vcpu, &sregs);
	if (!ret)
		ret = libvmx_boot_fill_regs(entry, &sregs, &regs);
	if (!ret)
		ret = libvmx_vcpu_set_sregs(vcpu, &sregs);
	return ret ? ret : libvmx_vcpu_set_regs(vcpu, &regs);
}
