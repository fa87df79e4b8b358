// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libvmx boot loaders on the host: bzImages and multiboot kernels crafted
 * in memory, good and hostile, loaded into a malloc'd "guest RAM"; plus a
 * real Debian bzImage when one is at hand.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmx/libvmx.h"
#include "vmx/boot.h"
#include "kselftest_harness.h"

#define MIB		(1024ULL * 1024)
#define FILL		0xaa

static uint16_t rd16(const void *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint32_t rd32(const void *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t rd64(const void *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void wr16(void *p, uint16_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void wr32(void *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void wr64(void *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

static struct libvmx_guest_ram ram_new(uint64_t size)
{
	struct libvmx_guest_ram ram = { malloc(size), size };

	if (ram.hva)
		memset(ram.hva, FILL, size);
	return ram;
}

static uint8_t *gpa(const struct libvmx_guest_ram *ram, uint64_t a)
{
	return (uint8_t *)ram->hva + a;
}

/* The VMM's area 0xE0000-0xFFFFF must keep the fill pattern. */
static bool vmm_area_untouched(const struct libvmx_guest_ram *ram)
{
	uint64_t a;

	for (a = 0xe0000; a < 0x100000; a++)
		if (*gpa(ram, a) != FILL)
			return false;
	return true;
}

/* Where the loaders write: all still the fill pattern? */
static bool ram_spots_untouched(const struct libvmx_guest_ram *ram)
{
	static const uint64_t spots[] = {
		0x6000, 0x6080, 0x6100, 0x7000, 0x71e8, 0x7210, 0x8010,
		0x8080, 0x9000, 0xb000, 0x20000, 0x100000, 0x200000,
	};
	unsigned int i;

	for (i = 0; i < sizeof(spots) / sizeof(spots[0]); i++)
		if (*gpa(ram, spots[i]) != FILL)
			return false;
	return *gpa(ram, ram->size - 4096) == FILL;
}

/* ---- crafted bzImages ---- */

#define BZ_SECTS	4
#define BZ_SETUP	((BZ_SECTS + 1) * 512)
#define BZ_PM		8192
#define BZ_SIZE		(BZ_SETUP + BZ_PM)
#define BZ_INIT_SIZE	(4 * MIB)
#define BZ_ALIGN	0x200000

static uint8_t *bz_new(size_t *size)
{
	uint8_t *img = calloc(1, BZ_SIZE);
	unsigned int i;

	if (!img)
		return NULL;
	img[0x1f1] = BZ_SECTS;
	wr32(img + 0x1f4, BZ_PM / 16);
	img[0x200] = 0xeb;
	img[0x201] = 0x6a;		/* header ends at 0x26c, as 6.x */
	memcpy(img + 0x202, "HdrS", 4);
	wr16(img + 0x206, 0x020f);
	img[0x211] = 0x01;		/* LOADED_HIGH */
	wr32(img + 0x22c, 0x7fffffff);
	wr32(img + 0x230, BZ_ALIGN);
	img[0x234] = 1;
	img[0x235] = 21;
	wr16(img + 0x236, 0x7f);
	wr32(img + 0x238, 2047);
	wr64(img + 0x258, 0x1000000);
	wr32(img + 0x260, BZ_INIT_SIZE);
	/* A byte past the copied header must not reach boot_params. */
	img[0x26c] = 0x5a;
	for (i = 0; i < BZ_PM; i++)
		img[BZ_SETUP + i] = i * 7 + 3;
	*size = BZ_SIZE;
	return img;
}

static int bz_load(uint64_t ram_size, const uint8_t *img, size_t size,
		   const char *cmdline, struct libvmx_boot_entry *entry)
{
	struct libvmx_guest_ram ram = ram_new(ram_size);
	struct libvmx_linux_boot boot = {
		.kernel = img, .kernel_size = size, .cmdline = cmdline,
	};
	int ret;

	if (!ram.hva)
		return -ENOMEM;
	ret = libvmx_load_linux(&ram, &boot, entry);
	free(ram.hva);
	return ret;
}

TEST(bzimage_good)
{
	static const char cmdline[] = "console=ttyS0 quiet nokaslr";
	struct libvmx_guest_ram ram = ram_new(64 * MIB);
	struct libvmx_boot_entry entry;
	struct libvmx_linux_boot boot = { 0 };
	uint8_t initrd[10000], *bp, *img;
	uint64_t initrd_gpa, pd;
	size_t size, i;

	ASSERT_NE(NULL, ram.hva);
	img = bz_new(&size);
	ASSERT_NE(NULL, img);
	for (i = 0; i < sizeof(initrd); i++)
		initrd[i] = i ^ 0x55;
	boot.kernel = img;
	boot.kernel_size = size;
	boot.initrd = initrd;
	boot.initrd_size = sizeof(initrd);
	boot.cmdline = cmdline;
	boot.rsdp_gpa = 0xe0000;

	ASSERT_EQ(LIBVMX_IMAGE_BZIMAGE, libvmx_boot_detect(img, size));
	ASSERT_EQ(0, libvmx_load_linux(&ram, &boot, &entry));

	EXPECT_EQ(LIBVMX_BOOT_LONG, entry.mode);
	EXPECT_EQ(BZ_ALIGN + 0x200, entry.rip);
	EXPECT_EQ(0x7000, entry.rsi);
	EXPECT_EQ(0x7000 - 16, entry.rsp);
	EXPECT_EQ(0x8000, entry.gdt_gpa);
	EXPECT_EQ(0x9000, entry.cr3);
	EXPECT_EQ(0, entry.rax);
	EXPECT_EQ(0, entry.rbx);

	bp = gpa(&ram, 0x7000);
	/* Zeroed where nothing is set, header copied up to 0x26c. */
	EXPECT_EQ(0, bp[0]);
	EXPECT_EQ(0, bp[0x1f0]);
	EXPECT_EQ(0, bp[0x26c]);
	EXPECT_EQ(0, bp[0xfff]);
	EXPECT_EQ(0, memcmp(bp + 0x202, "HdrS", 4));
	EXPECT_EQ(0x020f, rd16(bp + 0x206));
	EXPECT_EQ(BZ_INIT_SIZE, rd32(bp + 0x260));
	EXPECT_EQ(BZ_SECTS, bp[0x1f1]);
	EXPECT_EQ(0xff, bp[0x210]);
	EXPECT_EQ(0x81, bp[0x211]);
	EXPECT_EQ(0xfe00, rd16(bp + 0x224));
	EXPECT_EQ(0xffff, rd16(bp + 0x1fa));
	EXPECT_EQ(0x20000, rd32(bp + 0x228));
	EXPECT_EQ(0, rd32(bp + 0xc8));
	EXPECT_STREQ(cmdline, (char *)gpa(&ram, 0x20000));
	EXPECT_EQ(0xe0000, rd64(bp + 0x070));

	/* initrd: top of RAM, page aligned, bytes intact. */
	initrd_gpa = rd32(bp + 0x218);
	EXPECT_EQ((64 * MIB - sizeof(initrd)) & ~0xfffULL, initrd_gpa);
	EXPECT_EQ(sizeof(initrd), rd32(bp + 0x21c));
	EXPECT_EQ(0, rd32(bp + 0xc0));
	EXPECT_EQ(0, rd32(bp + 0xc4));
	EXPECT_EQ(0, memcmp(gpa(&ram, initrd_gpa), initrd, sizeof(initrd)));

	/* e820: the default map. */
	EXPECT_EQ(3, bp[0x1e8]);
	EXPECT_EQ(0, rd64(bp + 0x2d0));
	EXPECT_EQ(0x9fc00, rd64(bp + 0x2d8));
	EXPECT_EQ(1, rd32(bp + 0x2e0));
	EXPECT_EQ(0x9fc00, rd64(bp + 0x2e4));
	EXPECT_EQ(0x100000 - 0x9fc00, rd64(bp + 0x2ec));
	EXPECT_EQ(2, rd32(bp + 0x2f4));
	EXPECT_EQ(0x100000, rd64(bp + 0x2f8));
	EXPECT_EQ(64 * MIB - 0x100000, rd64(bp + 0x300));
	EXPECT_EQ(1, rd32(bp + 0x308));
	EXPECT_EQ(0, rd32(bp + 0x30c));

	/* The protected-mode part at the load address. */
	EXPECT_EQ(0, memcmp(gpa(&ram, BZ_ALIGN), img + BZ_SETUP, BZ_PM));

	/* GDT: __BOOT_CS 64-bit code, __BOOT_DS data, a TSS. */
	EXPECT_EQ(0, rd64(gpa(&ram, 0x8000)));
	EXPECT_EQ(0, rd64(gpa(&ram, 0x8008)));
	EXPECT_EQ(0x00af9a000000ffffULL, rd64(gpa(&ram, 0x8010)));
	EXPECT_EQ(0x00cf92000000ffffULL, rd64(gpa(&ram, 0x8018)));
	EXPECT_EQ(0x0000890080800067ULL, rd64(gpa(&ram, 0x8020)));
	EXPECT_EQ(0, rd64(gpa(&ram, 0x8028)));

	/* Page tables: identity, 2 MiB pages, 4 GiB. */
	EXPECT_EQ(0xa003, rd64(gpa(&ram, 0x9000)));
	EXPECT_EQ(0, rd64(gpa(&ram, 0x9008)));
	EXPECT_EQ(0xb003, rd64(gpa(&ram, 0xa000)));
	EXPECT_EQ(0xe003, rd64(gpa(&ram, 0xa018)));
	EXPECT_EQ(0, rd64(gpa(&ram, 0xa020)));
	EXPECT_EQ(0x83, rd64(gpa(&ram, 0xb000)));
	EXPECT_EQ(0x200083, rd64(gpa(&ram, 0xb008)));
	pd = rd64(gpa(&ram, 0xeff8));
	EXPECT_EQ(0xffe00083ULL, pd);

	EXPECT_TRUE(vmm_area_untouched(&ram));
	free(img);
	free(ram.hva);
}

TEST(bzimage_options)
{
	struct libvmx_e820_entry e820[4] = {
		{ 0, 0x9f000, 1 }, { 0x9f000, 0x61000, 2 },
		{ 0x100000, 31 * MIB, 1 }, { 0xfec00000, 0x1000, 2 },
	};
	struct libvmx_guest_ram ram = ram_new(32 * MIB);
	struct libvmx_linux_boot boot = { 0 };
	struct libvmx_boot_entry entry;
	uint8_t *img, *bp = gpa(&ram, 0x7000);
	size_t size;

	ASSERT_NE(NULL, ram.hva);
	img = bz_new(&size);
	ASSERT_NE(NULL, img);
	boot.kernel = img;
	boot.kernel_size = size;
	boot.e820 = e820;
	boot.nr_e820 = 4;
	boot.rsdp_gpa = 0xe1000;

	/* Caller's e820; no initrd; NULL cmdline is empty. */
	ASSERT_EQ(0, libvmx_load_linux(&ram, &boot, &entry));
	EXPECT_EQ(4, bp[0x1e8]);
	EXPECT_EQ(0xfec00000, rd64(bp + 0x2d0 + 3 * 20));
	EXPECT_EQ(0, rd32(bp + 0x218));
	EXPECT_EQ(0, rd32(bp + 0x21c));
	EXPECT_EQ(0, *gpa(&ram, 0x20000));

	/* Alignment 1 MiB: load at 1 MiB. */
	wr32(img + 0x230, 0x100000);
	ASSERT_EQ(0, libvmx_load_linux(&ram, &boot, &entry));
	EXPECT_EQ(0x100200, entry.rip);
	EXPECT_EQ(0, memcmp(gpa(&ram, 0x100000), img + BZ_SETUP, BZ_PM));

	/* Not relocatable: pref_address. */
	img[0x234] = 0;
	ASSERT_EQ(0, libvmx_load_linux(&ram, &boot, &entry));
	EXPECT_EQ(0x1000200, entry.rip);
	img[0x234] = 1;
	/* A pref_address below 1 MiB or past RAM. */
	img[0x234] = 0;
	wr64(img + 0x258, 0x10000);
	EXPECT_EQ(-EINVAL, libvmx_load_linux(&ram, &boot, &entry));
	wr64(img + 0x258, 0x1ff0000);
	EXPECT_EQ(-ENOSPC, libvmx_load_linux(&ram, &boot, &entry));
	img[0x234] = 1;

	/* Protocol 2.13: no acpi_rsdp_addr field. */
	wr16(img + 0x206, 0x020d);
	memset(bp, FILL, 4096);
	ASSERT_EQ(0, libvmx_load_linux(&ram, &boot, &entry));
	EXPECT_EQ(0, rd64(bp + 0x070));
	wr16(img + 0x206, 0x020f);

	/* setup_sects 0 means 4. */
	img[0x1f1] = 0;
	ASSERT_EQ(0, libvmx_load_linux(&ram, &boot, &entry));
	EXPECT_EQ(0, memcmp(gpa(&ram, 0x100000), img + BZ_SETUP, BZ_PM));
	img[0x1f1] = BZ_SECTS;

	/* The oldest protocol accepted: 2.12. */
	wr16(img + 0x206, 0x020c);
	ASSERT_EQ(0, libvmx_load_linux(&ram, &boot, &entry));
	wr16(img + 0x206, 0x020f);

	/* 128 e820 entries fit; the table ends at 0x2d0 + 128 * 20. */
	{
		struct libvmx_e820_entry many[129];
		unsigned int i;

		for (i = 0; i < 129; i++)
			many[i] = (struct libvmx_e820_entry){ i * 4096, 4096, 1 };
		boot.e820 = many;
		boot.nr_e820 = 128;
		ASSERT_EQ(0, libvmx_load_linux(&ram, &boot, &entry));
		EXPECT_EQ(128, bp[0x1e8]);
		EXPECT_EQ(127 * 4096, rd64(bp + 0x2d0 + 127 * 20));
		EXPECT_EQ(0, bp[0x2d0 + 128 * 20]);
		boot.nr_e820 = 129;
		memset(ram.hva, FILL, ram.size);
		EXPECT_EQ(-E2BIG, libvmx_load_linux(&ram, &boot, &entry));
		EXPECT_TRUE(ram_spots_untouched(&ram));
		boot.e820 = e820;
	}

	/* e820 argument errors. */
	boot.nr_e820 = 0;
	EXPECT_EQ(-EINVAL, libvmx_load_linux(&ram, &boot, &entry));
	boot.nr_e820 = 129;
	EXPECT_EQ(-E2BIG, libvmx_load_linux(&ram, &boot, &entry));

	EXPECT_TRUE(vmm_area_untouched(&ram));
	free(img);
	free(ram.hva);
}

TEST(bzimage_refused)
{
	struct libvmx_boot_entry entry;
	uint8_t *img;
	size_t size;

	img = bz_new(&size);
	ASSERT_NE(NULL, img);
	ASSERT_EQ(0, bz_load(32 * MIB, img, size, NULL, &entry));

	memcpy(img + 0x202, "HdrT", 4);
	EXPECT_EQ(-ENOEXEC, bz_load(32 * MIB, img, size, NULL, &entry));
	EXPECT_EQ(-ENOEXEC, libvmx_boot_detect(img, size));
	memcpy(img + 0x202, "HdrS", 4);

	wr16(img + 0x206, 0x020b);
	EXPECT_EQ(-ENOEXEC, bz_load(32 * MIB, img, size, NULL, &entry));
	wr16(img + 0x206, 0x020f);

	wr16(img + 0x236, 0x7e);
	EXPECT_EQ(-ENOEXEC, bz_load(32 * MIB, img, size, NULL, &entry));
	wr16(img + 0x236, 0x7f);

	/* setup_sects past the end of the file. */
	img[0x1f1] = 200;
	EXPECT_EQ(-EINVAL, bz_load(32 * MIB, img, size, NULL, &entry));
	img[0x1f1] = 20;	/* setup fits, the syssize bytes do not */
	EXPECT_EQ(-EINVAL, bz_load(32 * MIB, img, size, NULL, &entry));
	img[0x1f1] = BZ_SECTS;

	/* syssize larger than the file / zero. */
	wr32(img + 0x1f4, BZ_PM / 16 + 1);
	EXPECT_EQ(-EINVAL, bz_load(32 * MIB, img, size, NULL, &entry));
	wr32(img + 0x1f4, 0);
	EXPECT_EQ(-EINVAL, bz_load(32 * MIB, img, size, NULL, &entry));
	wr32(img + 0x1f4, BZ_PM / 16);

	/* init_size: smaller than the image, larger than RAM, huge. */
	wr32(img + 0x260, BZ_PM - 1);
	EXPECT_EQ(-EINVAL, bz_load(32 * MIB, img, size, NULL, &entry));
	wr32(img + 0x260, 31 * MIB);
	EXPECT_EQ(-ENOSPC, bz_load(32 * MIB, img, size, NULL, &entry));
	wr32(img + 0x260, 0xffffffff);
	EXPECT_EQ(-ENOSPC, bz_load(32 * MIB, img, size, NULL, &entry));
	wr32(img + 0x260, BZ_INIT_SIZE);

	/* kernel_alignment 0, not a power of two, 2 GiB. */
	wr32(img + 0x230, 0);
	EXPECT_EQ(-EINVAL, bz_load(32 * MIB, img, size, NULL, &entry));
	wr32(img + 0x230, 0x300000);
	EXPECT_EQ(-EINVAL, bz_load(32 * MIB, img, size, NULL, &entry));
	wr32(img + 0x230, 0x80000000);
	EXPECT_EQ(-ENOSPC, bz_load(32 * MIB, img, size, NULL, &entry));
	wr32(img + 0x230, BZ_ALIGN);

	/* RAM too small. */
	EXPECT_EQ(-ENOSPC, bz_load(16 * MIB - 4096, img, size, NULL, &entry));
	EXPECT_EQ(0, bz_load(16 * MIB, img, size, NULL, &entry));

	/* NULL arguments. */
	EXPECT_EQ(-EINVAL, libvmx_load_linux(NULL, NULL, NULL));
	EXPECT_EQ(-EINVAL, bz_load(32 * MIB, NULL, size, NULL, &entry));
	EXPECT_EQ(-EINVAL, bz_load(32 * MIB, img, size, NULL, NULL));
	EXPECT_EQ(-EINVAL, libvmx_boot_detect(NULL, 0));
	free(img);
}

TEST(bzimage_truncated)
{
	struct libvmx_guest_ram ram = ram_new(32 * MIB);
	struct libvmx_linux_boot boot = { 0 };
	struct libvmx_boot_entry entry;
	uint8_t *img;
	size_t size, n;
	int ret, bad = 0;

	ASSERT_NE(NULL, ram.hva);
	img = bz_new(&size);
	ASSERT_NE(NULL, img);
	boot.kernel = img;
	for (n = 0; n < size; n++) {
		/* Each prefix in its own buffer so ASan/valgrind see reads. */
		uint8_t *copy = malloc(n ? n : 1);

		ASSERT_NE(NULL, copy);
		memcpy(copy, img, n);
		boot.kernel = copy;
		boot.kernel_size = n;
		ret = libvmx_load_linux(&ram, &boot, &entry);
		if (ret != (n < 0x206 ? -ENOEXEC : -EINVAL))
			bad++;
		/* A refused image leaves guest RAM alone. */
		if (!ram_spots_untouched(&ram))
			bad++;
		free(copy);
	}
	EXPECT_EQ(0, bad);
	boot.kernel = img;
	boot.kernel_size = size;
	EXPECT_EQ(0, libvmx_load_linux(&ram, &boot, &entry));
	free(img);
	free(ram.hva);
}

TEST(bzimage_cmdline_limits)
{
	struct libvmx_boot_entry entry;
	struct libvmx_guest_ram ram = ram_new(32 * MIB);
	char *cmdline = malloc(0x10001);
	uint8_t *img;
	size_t size;

	ASSERT_NE(NULL, ram.hva);
	ASSERT_NE(NULL, cmdline);
	img = bz_new(&size);
	ASSERT_NE(NULL, img);

	/* The kernel's cmdline_size (2047) is the limit. */
	memset(cmdline, 'x', 2047);
	cmdline[2047] = 0;
	EXPECT_EQ(0, bz_load(32 * MIB, img, size, cmdline, &entry));
	cmdline[2047] = 'y';
	cmdline[2048] = 0;
	EXPECT_EQ(-E2BIG, bz_load(32 * MIB, img, size, cmdline, &entry));

	/* Then 64 KiB - 1. */
	wr32(img + 0x238, 0xffffffff);
	memset(cmdline, 'x', 0x10000);
	cmdline[0xffff] = 0;
	{
		struct libvmx_linux_boot boot = {
			.kernel = img, .kernel_size = size, .cmdline = cmdline,
		};

		ASSERT_EQ(0, libvmx_load_linux(&ram, &boot, &entry));
		EXPECT_EQ(0xffff, strlen((char *)gpa(&ram, 0x20000)));
		/* No terminator within 64 KiB: refused, not overread. */
		cmdline[0xffff] = 'x';
		cmdline[0x10000] = 0;
		EXPECT_EQ(-E2BIG, libvmx_load_linux(&ram, &boot, &entry));
	}
	free(cmdline);
	free(img);
	free(ram.hva);
}

TEST(bzimage_initrd_placement)
{
	struct libvmx_guest_ram ram = ram_new(64 * MIB);
	struct libvmx_linux_boot boot = { 0 };
	struct libvmx_boot_entry entry;
	uint8_t *img, *initrd;
	size_t size, big = 60 * MIB;

	ASSERT_NE(NULL, ram.hva);
	img = bz_new(&size);
	initrd = calloc(1, big);
	ASSERT_NE(NULL, img);
	ASSERT_NE(NULL, initrd);
	boot.kernel = img;
	boot.kernel_size = size;
	boot.initrd = initrd;

	/* initrd_addr_max below RAM size. */
	wr32(img + 0x22c, 0x1ffffff);
	boot.initrd_size = 4096 + 1;
	ASSERT_EQ(0, libvmx_load_linux(&ram, &boot, &entry));
	EXPECT_EQ(0x2000000 - 0x2000, rd32(gpa(&ram, 0x7218)));

	/* Would overlap the kernel's init_size (2 MiB + 4 MiB). */
	wr32(img + 0x22c, 0x7fffffff);
	boot.initrd_size = 64 * MIB - 6 * MIB + 1;
	EXPECT_EQ(-ENOSPC, libvmx_load_linux(&ram, &boot, &entry));
	boot.initrd_size = 58 * MIB;
	ASSERT_EQ(0, libvmx_load_linux(&ram, &boot, &entry));
	EXPECT_EQ(6 * MIB, rd32(gpa(&ram, 0x7218)));
	/* Larger than RAM. */
	boot.initrd_size = 65 * MIB;
	EXPECT_EQ(-ENOSPC, libvmx_load_linux(&ram, &boot, &entry));
	boot.initrd_size = SIZE_MAX;
	EXPECT_EQ(-ENOSPC, libvmx_load_linux(&ram, &boot, &entry));
	/* A size without data. */
	boot.initrd = NULL;
	boot.initrd_size = 10;
	EXPECT_EQ(-EINVAL, libvmx_load_linux(&ram, &boot, &entry));

	EXPECT_TRUE(vmm_area_untouched(&ram));
	free(initrd);
	free(img);
	free(ram.hva);
}

/* A real distribution kernel, when the build tree has one. */
TEST(bzimage_debian)
{
	const char *path = getenv("BOOT_TEST_BZIMAGE");
	struct libvmx_guest_ram ram;
	struct libvmx_linux_boot boot = { 0 };
	struct libvmx_boot_entry entry;
	uint8_t initrd[8192] = { 1, 2, 3 }, *img, *bp;
	uint64_t align, load, init_size, initrd_gpa;
	long len;
	FILE *f;

	if (!path)
		path = "build/kernels/6.1/vmlinuz";
	f = fopen(path, "rb");
	if (!f)
		SKIP(return, "no bzImage at %s (set BOOT_TEST_BZIMAGE)", path);
	ASSERT_EQ(0, fseek(f, 0, SEEK_END));
	len = ftell(f);
	ASSERT_GT(len, 0);
	rewind(f);
	img = malloc(len);
	ASSERT_NE(NULL, img);
	ASSERT_EQ(1, fread(img, len, 1, f));
	fclose(f);
	ram = ram_new(256 * MIB);
	ASSERT_NE(NULL, ram.hva);

	boot.kernel = img;
	boot.kernel_size = len;
	boot.initrd = initrd;
	boot.initrd_size = sizeof(initrd);
	boot.cmdline = "console=ttyS0 nokaslr quiet";
	ASSERT_EQ(LIBVMX_IMAGE_BZIMAGE, libvmx_boot_detect(img, len));
	ASSERT_EQ(0, libvmx_load_linux(&ram, &boot, &entry));

	align = rd32(img + 0x230);
	init_size = rd32(img + 0x260);
	load = (0x100000 + align - 1) & ~(align - 1);
	TH_LOG("%s: protocol %#x, align %#lx, init_size %#lx, rip %#lx", path,
	       rd16(img + 0x206), (unsigned long)align,
	       (unsigned long)init_size, (unsigned long)entry.rip);
	EXPECT_EQ(load + 0x200, entry.rip);
	EXPECT_GE(load, 0x100000);
	bp = gpa(&ram, 0x7000);
	/* Header copied (fields the loader does not set). */
	EXPECT_EQ(0, memcmp(bp + 0x202, img + 0x202, 0x210 - 0x202));
	EXPECT_EQ(0, memcmp(bp + 0x22c, img + 0x22c, 0x202 + img[0x201] - 0x22c));
	EXPECT_EQ(0xff, bp[0x210]);
	EXPECT_GE(rd16(bp + 0x206), 0x020c);
	EXPECT_EQ(0, memcmp(gpa(&ram, load), img + (img[0x1f1] + 1) * 512,
			    len - (img[0x1f1] + 1) * 512));
	initrd_gpa = rd32(bp + 0x218);
	EXPECT_GE(initrd_gpa, load + init_size);
	EXPECT_EQ(0, initrd_gpa % 4096);
	EXPECT_LE(initrd_gpa + sizeof(initrd), 256 * MIB);
	EXPECT_EQ(0, memcmp(gpa(&ram, initrd_gpa), initrd, sizeof(initrd)));
	EXPECT_STREQ("console=ttyS0 nokaslr quiet", (char *)gpa(&ram, 0x20000));
	EXPECT_TRUE(vmm_area_untouched(&ram));

	/* Too small for its init_size. */
	ram.size = 32 * MIB;
	if (load + init_size > ram.size)
		EXPECT_EQ(-ENOSPC, libvmx_load_linux(&ram, &boot, &entry));
	free(ram.hva);
	free(img);
}

/* ---- crafted multiboot kernels ---- */

#define MB_HDR_OFF	0x100
#define MB_CODE_OFF	0x1000
#define MB_CODE_SIZE	0x200
#define MB_SIZE		(MB_CODE_OFF + MB_CODE_SIZE)

static void mb_header(uint8_t *p, uint32_t flags)
{
	wr32(p, 0x1badb002);
	wr32(p + 4, flags);
	wr32(p + 8, -(0x1badb002 + flags));
}

/* ELF32 with one PT_LOAD: file [0x1000, 0x1200) -> paddr, memsz 0x1000. */
static uint8_t *mb_elf_new(uint32_t vaddr, uint32_t paddr, uint32_t entry)
{
	uint8_t *img = calloc(1, MB_SIZE), *ph = img + 52;
	unsigned int i;

	if (!img)
		return NULL;
	memcpy(img, "\177ELF\1\1\1", 7);
	wr16(img + 16, 2);		/* ET_EXEC */
	wr16(img + 18, 3);		/* EM_386 */
	wr32(img + 20, 1);
	wr32(img + 24, entry);
	wr32(img + 28, 52);		/* e_phoff */
	wr16(img + 40, 52);
	wr16(img + 42, 32);
	wr16(img + 44, 2);
	/* A PT_NOTE first, to be skipped, then the PT_LOAD. */
	wr32(ph, 4);
	wr32(ph + 4, 0xfffffff0);
	ph += 32;
	wr32(ph, 1);
	wr32(ph + 4, MB_CODE_OFF);
	wr32(ph + 8, vaddr);
	wr32(ph + 12, paddr);
	wr32(ph + 16, MB_CODE_SIZE);
	wr32(ph + 20, 0x1000);
	wr32(ph + 24, 5);
	mb_header(img + MB_HDR_OFF, 0x3);	/* page align + meminfo */
	for (i = 0; i < MB_CODE_SIZE; i++)
		img[MB_CODE_OFF + i] = i * 13 + 1;
	return img;
}

static int mb_load(uint64_t ram_size, const uint8_t *img, size_t size,
		   const char *cmdline, struct libvmx_boot_entry *entry)
{
	struct libvmx_guest_ram ram = ram_new(ram_size);
	int ret;

	if (!ram.hva)
		return -ENOMEM;
	ret = libvmx_load_multiboot(&ram, img, size, cmdline, entry);
	free(ram.hva);
	return ret;
}

TEST(multiboot_elf_good)
{
	struct libvmx_guest_ram ram = ram_new(32 * MIB);
	struct libvmx_boot_entry entry;
	uint8_t *img, *info, *mmap;
	uint64_t a;

	ASSERT_NE(NULL, ram.hva);
	img = mb_elf_new(0x100000, 0x100000, 0x100010);
	ASSERT_NE(NULL, img);
	ASSERT_EQ(LIBVMX_IMAGE_MULTIBOOT, libvmx_boot_detect(img, MB_SIZE));
	ASSERT_EQ(0, libvmx_load_multiboot(&ram, img, MB_SIZE, "root=x", &entry));

	EXPECT_EQ(LIBVMX_BOOT_FLAT32, entry.mode);
	EXPECT_EQ(0x100010, entry.rip);
	EXPECT_EQ(0x2badb002, entry.rax);
	EXPECT_EQ(0x6000, entry.rbx);
	EXPECT_EQ(0x8000, entry.gdt_gpa);
	EXPECT_EQ(0, entry.cr3);
	EXPECT_EQ(0, memcmp(gpa(&ram, 0x100000), img + MB_CODE_OFF,
			    MB_CODE_SIZE));
	for (a = 0x100000 + MB_CODE_SIZE; a < 0x101000; a++)
		if (*gpa(&ram, a))
			break;
	EXPECT_EQ(0x101000, a);			/* bss zeroed */
	EXPECT_EQ(FILL, *gpa(&ram, 0x101000));	/* and no more */

	info = gpa(&ram, 0x6000);
	EXPECT_EQ(0x245, rd32(info));		/* mem, cmdline, mmap, name */
	EXPECT_EQ(639, rd32(info + 4));
	EXPECT_EQ(31 * 1024, rd32(info + 8));
	EXPECT_STREQ("root=x", (char *)gpa(&ram, rd32(info + 16)));
	EXPECT_EQ(72, rd32(info + 44));
	mmap = gpa(&ram, rd32(info + 48));
	EXPECT_LT(rd32(info + 48) + 72, 0x7000);
	EXPECT_EQ(20, rd32(mmap));
	EXPECT_EQ(0, rd64(mmap + 4));
	EXPECT_EQ(0x9fc00, rd64(mmap + 12));
	EXPECT_EQ(1, rd32(mmap + 20));
	EXPECT_EQ(2, rd32(mmap + 24 + 20));
	EXPECT_EQ(0x100000, rd64(mmap + 48 + 4));
	EXPECT_EQ(31 * MIB, rd64(mmap + 48 + 12));
	EXPECT_EQ(1, rd32(mmap + 48 + 20));
	EXPECT_STREQ("libvmx", (char *)gpa(&ram, rd32(info + 64)));

	EXPECT_EQ(0x00cf9a000000ffffULL, rd64(gpa(&ram, 0x8010)));
	EXPECT_EQ(0x00cf92000000ffffULL, rd64(gpa(&ram, 0x8018)));
	EXPECT_EQ(0x0000890080800067ULL, rd64(gpa(&ram, 0x8020)));
	EXPECT_TRUE(vmm_area_untouched(&ram));

	/* Higher half: entry translated through the segment. */
	free(img);
	img = mb_elf_new(0xc0100000, 0x100000, 0xc0100020);
	ASSERT_NE(NULL, img);
	ASSERT_EQ(0, libvmx_load_multiboot(&ram, img, MB_SIZE, NULL, &entry));
	EXPECT_EQ(0x100020, entry.rip);
	EXPECT_EQ(0, *gpa(&ram, 0x6100));
	/* Physical entry in a higher-half file is used as is. */
	free(img);
	img = mb_elf_new(0xc0100000, 0x100000, 0x100040);
	ASSERT_NE(NULL, img);
	ASSERT_EQ(0, libvmx_load_multiboot(&ram, img, MB_SIZE, NULL, &entry));
	EXPECT_EQ(0x100040, entry.rip);

	/* Video mode request: ignored. */
	mb_header(img + MB_HDR_OFF, 0x7);
	EXPECT_EQ(0, libvmx_load_multiboot(&ram, img, MB_SIZE, NULL, &entry));
	free(img);
	free(ram.hva);
}

TEST(multiboot_aout_kludge)
{
	struct libvmx_guest_ram ram = ram_new(8 * MIB);
	struct libvmx_boot_entry entry;
	uint8_t img[0x400];
	uint64_t a;
	unsigned int i;

	ASSERT_NE(NULL, ram.hva);
	for (i = 0; i < sizeof(img); i++)
		img[i] = i + 1;
	/* Flat binary loaded at 0x200000; header at file offset 0x40. */
	mb_header(img + 0x40, 0x10000);
	wr32(img + 0x40 + 12, 0x200040);	/* header_addr */
	wr32(img + 0x40 + 16, 0x200000);	/* load_addr */
	wr32(img + 0x40 + 20, 0);		/* load_end: whole file */
	wr32(img + 0x40 + 24, 0x202000);	/* bss_end */
	wr32(img + 0x40 + 28, 0x200080);	/* entry */
	ASSERT_EQ(LIBVMX_IMAGE_MULTIBOOT, libvmx_boot_detect(img, sizeof(img)));
	ASSERT_EQ(0, libvmx_load_multiboot(&ram, img, sizeof(img), NULL, &entry));
	EXPECT_EQ(0x200080, entry.rip);
	EXPECT_EQ(0, memcmp(gpa(&ram, 0x200000), img, sizeof(img)));
	for (a = 0x200400; a < 0x202000 && !*gpa(&ram, a); a++)
		;
	EXPECT_EQ(0x202000, a);

	/* load_end inside the file. */
	wr32(img + 0x40 + 20, 0x200200);
	wr32(img + 0x40 + 24, 0);
	memset(gpa(&ram, 0x200000), FILL, 0x1000);
	ASSERT_EQ(0, libvmx_load_multiboot(&ram, img, sizeof(img), NULL, &entry));
	EXPECT_EQ(FILL, *gpa(&ram, 0x200200));
	/* load_end past the file. */
	wr32(img + 0x40 + 20, 0x200401);
	EXPECT_EQ(-EINVAL, libvmx_load_multiboot(&ram, img, sizeof(img), NULL,
						 &entry));
	wr32(img + 0x40 + 20, 0);
	/* header_addr before load_addr, or implying a negative offset. */
	wr32(img + 0x40 + 12, 0x1fffff);
	EXPECT_EQ(-EINVAL, libvmx_load_multiboot(&ram, img, sizeof(img), NULL,
						 &entry));
	wr32(img + 0x40 + 12, 0x200041);
	EXPECT_EQ(-EINVAL, libvmx_load_multiboot(&ram, img, sizeof(img), NULL,
						 &entry));
	wr32(img + 0x40 + 12, 0x200040);
	/* bss_end before the end of the loaded part. */
	wr32(img + 0x40 + 24, 0x200100);
	EXPECT_EQ(-EINVAL, libvmx_load_multiboot(&ram, img, sizeof(img), NULL,
						 &entry));
	/* bss past RAM; load below 1 MiB; entry outside. */
	wr32(img + 0x40 + 24, 0xffffffff);
	EXPECT_EQ(-EINVAL, libvmx_load_multiboot(&ram, img, sizeof(img), NULL,
						 &entry));
	wr32(img + 0x40 + 24, 0);
	wr32(img + 0x40 + 12, 0xe0040);
	wr32(img + 0x40 + 16, 0xe0000);
	wr32(img + 0x40 + 28, 0xe0080);
	EXPECT_EQ(-EINVAL, libvmx_load_multiboot(&ram, img, sizeof(img), NULL,
						 &entry));
	wr32(img + 0x40 + 12, 0x200040);
	wr32(img + 0x40 + 16, 0x200000);
	wr32(img + 0x40 + 28, 0x300000);
	EXPECT_EQ(-EINVAL, libvmx_load_multiboot(&ram, img, sizeof(img), NULL,
						 &entry));
	/* Header fields cut off by the end of the file. */
	wr32(img + 0x40 + 28, 0x200080);
	EXPECT_EQ(-EINVAL, libvmx_load_multiboot(&ram, img, 0x40 + 20, NULL,
						 &entry));
	EXPECT_TRUE(vmm_area_untouched(&ram));
	free(ram.hva);
}

TEST(multiboot_refused)
{
	struct libvmx_boot_entry entry;
	uint8_t *img, *big;
	char *cmdline;

	img = mb_elf_new(0x100000, 0x100000, 0x100010);
	ASSERT_NE(NULL, img);
	ASSERT_EQ(0, mb_load(8 * MIB, img, MB_SIZE, NULL, &entry));

	/* Bad checksum. */
	wr32(img + MB_HDR_OFF + 8, rd32(img + MB_HDR_OFF + 8) + 1);
	EXPECT_EQ(-ENOEXEC, mb_load(8 * MIB, img, MB_SIZE, NULL, &entry));
	EXPECT_EQ(-ENOEXEC, libvmx_boot_detect(img, MB_SIZE));
	/* Unaligned header. */
	memset(img + MB_HDR_OFF, 0, 12);
	mb_header(img + MB_HDR_OFF + 2, 0x3);
	EXPECT_EQ(-ENOEXEC, mb_load(8 * MIB, img, MB_SIZE, NULL, &entry));
	memset(img + MB_HDR_OFF, 0, 16);
	/* Unknown requirement bit. */
	mb_header(img + MB_HDR_OFF, 0x8);
	EXPECT_EQ(-ENOEXEC, mb_load(8 * MIB, img, MB_SIZE, NULL, &entry));
	mb_header(img + MB_HDR_OFF, 0x3);

	/* Header at 8192, just outside the search window. */
	big = calloc(1, 8192 + 12);
	ASSERT_NE(NULL, big);
	memcpy(big, img, MB_SIZE);
	memset(big + MB_HDR_OFF, 0, 12);
	mb_header(big + 8192, 0x3);
	EXPECT_EQ(-ENOEXEC, mb_load(8 * MIB, big, 8192 + 12, NULL, &entry));
	EXPECT_EQ(-ENOEXEC, libvmx_boot_detect(big, 8192 + 12));
	/* At 8180 it is found. */
	memset(big + 8192, 0, 12);
	mb_header(big + 8180, 0x3);
	EXPECT_EQ(0, mb_load(8 * MIB, big, 8192 + 12, NULL, &entry));
	free(big);

	/* Not ELF, wrong class, wrong machine. */
	img[0] = 0;
	EXPECT_EQ(-ENOEXEC, mb_load(8 * MIB, img, MB_SIZE, NULL, &entry));
	img[0] = 0x7f;
	img[4] = 2;
	EXPECT_EQ(-ENOEXEC, mb_load(8 * MIB, img, MB_SIZE, NULL, &entry));
	img[4] = 1;
	wr16(img + 18, 62);
	EXPECT_EQ(-ENOEXEC, mb_load(8 * MIB, img, MB_SIZE, NULL, &entry));
	wr16(img + 18, 3);

	/* Program headers out of the file, too small, none. */
	wr32(img + 28, MB_SIZE - 40);
	EXPECT_EQ(-EINVAL, mb_load(8 * MIB, img, MB_SIZE, NULL, &entry));
	wr32(img + 28, 0xffffffff);
	EXPECT_EQ(-EINVAL, mb_load(8 * MIB, img, MB_SIZE, NULL, &entry));
	wr32(img + 28, 52);
	wr16(img + 42, 16);
	EXPECT_EQ(-EINVAL, mb_load(8 * MIB, img, MB_SIZE, NULL, &entry));
	wr16(img + 42, 32);
	wr16(img + 44, 0);
	EXPECT_EQ(-EINVAL, mb_load(8 * MIB, img, MB_SIZE, NULL, &entry));
	wr16(img + 44, 0xffff);
	EXPECT_EQ(-EINVAL, mb_load(8 * MIB, img, MB_SIZE, NULL, &entry));
	wr16(img + 44, 2);

	/* Segments: low area, past RAM, wrapping, file range, filesz > memsz. */
	wr32(img + 52 + 32 + 12, 0xff000);
	EXPECT_EQ(-EINVAL, mb_load(8 * MIB, img, MB_SIZE, NULL, &entry));
	wr32(img + 52 + 32 + 12, 0x10000);
	EXPECT_EQ(-EINVAL, mb_load(8 * MIB, img, MB_SIZE, NULL, &entry));
	wr32(img + 52 + 32 + 12, 8 * MIB - 0x800);
	EXPECT_EQ(-EINVAL, mb_load(8 * MIB, img, MB_SIZE, NULL, &entry));
	wr32(img + 52 + 32 + 12, 0xfffff000);
	EXPECT_EQ(-EINVAL, mb_load(8 * MIB, img, MB_SIZE, NULL, &entry));
	wr32(img + 52 + 32 + 12, 0x100000);
	wr32(img + 52 + 32 + 4, 0xfffffff0);
	EXPECT_EQ(-EINVAL, mb_load(8 * MIB, img, MB_SIZE, NULL, &entry));
	wr32(img + 52 + 32 + 4, MB_CODE_OFF);
	wr32(img + 52 + 32 + 20, MB_CODE_SIZE - 1);
	EXPECT_EQ(-EINVAL, mb_load(8 * MIB, img, MB_SIZE, NULL, &entry));
	wr32(img + 52 + 32 + 20, 0x1000);
	/* Entry outside every segment. */
	wr32(img + 24, 0x200000);
	EXPECT_EQ(-EINVAL, mb_load(8 * MIB, img, MB_SIZE, NULL, &entry));
	wr32(img + 24, 0x100010);
	ASSERT_EQ(0, mb_load(8 * MIB, img, MB_SIZE, NULL, &entry));

	/* RAM of 1 MiB; command line too long. */
	EXPECT_EQ(-ENOSPC, mb_load(MIB, img, MB_SIZE, NULL, &entry));
	cmdline = malloc(0xf00 + 1);
	ASSERT_NE(NULL, cmdline);
	memset(cmdline, 'c', 0xf00);
	cmdline[0xf00] = 0;
	EXPECT_EQ(-E2BIG, mb_load(8 * MIB, img, MB_SIZE, cmdline, &entry));
	cmdline[0xeff] = 0;
	EXPECT_EQ(0, mb_load(8 * MIB, img, MB_SIZE, cmdline, &entry));
	free(cmdline);

	EXPECT_EQ(-EINVAL, libvmx_load_multiboot(NULL, img, MB_SIZE, NULL,
						 &entry));
	EXPECT_EQ(-EINVAL, mb_load(8 * MIB, NULL, MB_SIZE, NULL, &entry));
	EXPECT_EQ(-EINVAL, mb_load(8 * MIB, img, MB_SIZE, NULL, NULL));
	free(img);
}

TEST(multiboot_truncated)
{
	struct libvmx_guest_ram ram = ram_new(8 * MIB);
	struct libvmx_boot_entry entry;
	uint8_t *img;
	size_t n;
	int ret, bad = 0;

	ASSERT_NE(NULL, ram.hva);
	img = mb_elf_new(0x100000, 0x100000, 0x100010);
	ASSERT_NE(NULL, img);
	for (n = 0; n < MB_SIZE; n++) {
		uint8_t *copy = malloc(n ? n : 1);

		ASSERT_NE(NULL, copy);
		memcpy(copy, img, n);
		ret = libvmx_load_multiboot(&ram, copy, n, NULL, &entry);
		if (ret != (n < MB_HDR_OFF + 12 ? -ENOEXEC : -EINVAL))
			bad++;
		if (!ram_spots_untouched(&ram))
			bad++;
		free(copy);
	}
	EXPECT_EQ(0, bad);
	EXPECT_EQ(0, libvmx_load_multiboot(&ram, img, MB_SIZE, NULL, &entry));
	free(img);
	free(ram.hva);
}

TEST(detect_and_set_vcpu_args)
{
	struct libvmx_boot_entry entry = { .mode = LIBVMX_BOOT_LONG };
	uint8_t junk[16384];

	memset(junk, 0x1b, sizeof(junk));
	EXPECT_EQ(-ENOEXEC, libvmx_boot_detect(junk, sizeof(junk)));
	EXPECT_EQ(-ENOEXEC, libvmx_boot_detect(junk, 0));
	EXPECT_EQ(-EINVAL, libvmx_boot_detect(NULL, 100));
	EXPECT_EQ(-EINVAL, libvmx_boot_set_vcpu(NULL, &entry));
	EXPECT_EQ(-EINVAL, libvmx_boot_set_vcpu(NULL, NULL));
}

TEST(fill_regs_long)
{
	struct libvmx_boot_entry entry = {
		.mode = LIBVMX_BOOT_LONG, .rip = 0x200200, .rsp = 0x6ff0,
		.rsi = 0x7000, .gdt_gpa = 0x8000, .cr3 = 0x9000,
	};
	struct vmx_sregs sregs;
	struct vmx_regs regs;
	const struct vmx_segment *d[5];
	unsigned int i;

	memset(&sregs, 0x77, sizeof(sregs));
	memset(&regs, 0x77, sizeof(regs));
	ASSERT_EQ(0, libvmx_boot_fill_regs(&entry, &sregs, &regs));
	EXPECT_EQ(0x80000033ULL, sregs.cr0);
	EXPECT_EQ(0x20, sregs.cr4);
	EXPECT_EQ(0x500, sregs.efer);
	EXPECT_EQ(0x9000, sregs.cr3);
	EXPECT_EQ(0x7777777777777777ULL, sregs.cr2);	/* kept */
	EXPECT_EQ(0x10, sregs.cs.selector);
	EXPECT_EQ(0xb, sregs.cs.type);
	EXPECT_EQ(1, sregs.cs.s);
	EXPECT_EQ(1, sregs.cs.l);
	EXPECT_EQ(0, sregs.cs.db);
	EXPECT_EQ(1, sregs.cs.present);
	EXPECT_EQ(1, sregs.cs.g);
	EXPECT_EQ(0, sregs.cs.dpl);
	EXPECT_EQ(0, sregs.cs.unusable);
	d[0] = &sregs.ds; d[1] = &sregs.es; d[2] = &sregs.fs;
	d[3] = &sregs.gs; d[4] = &sregs.ss;
	for (i = 0; i < 5; i++) {
		EXPECT_EQ(0x18, d[i]->selector);
		EXPECT_EQ(3, d[i]->type);
		EXPECT_EQ(1, d[i]->s);
		EXPECT_EQ(1, d[i]->present);
		EXPECT_EQ(0, d[i]->base);
		EXPECT_EQ(0xffffffff, d[i]->limit);
		EXPECT_EQ(0, d[i]->unusable);
	}
	EXPECT_EQ(0x20, sregs.tr.selector);
	EXPECT_EQ(11, sregs.tr.type);
	EXPECT_EQ(0, sregs.tr.s);
	EXPECT_EQ(1, sregs.tr.present);
	EXPECT_EQ(0x8080, sregs.tr.base);
	EXPECT_EQ(0x67, sregs.tr.limit);
	EXPECT_EQ(1, sregs.ldt.unusable);
	EXPECT_EQ(0x8000, sregs.gdt.base);
	EXPECT_EQ(0x2f, sregs.gdt.limit);
	EXPECT_EQ(0, sregs.idt.limit);
	EXPECT_EQ(0x200200, regs.rip);
	EXPECT_EQ(0x6ff0, regs.rsp);
	EXPECT_EQ(0x7000, regs.rsi);
	EXPECT_EQ(2, regs.rflags);
	EXPECT_EQ(0, regs.rdi);
	EXPECT_EQ(0, regs.r15);
}

TEST(fill_regs_flat32)
{
	struct libvmx_guest_ram ram = ram_new(8 * MIB);
	struct libvmx_boot_entry entry;
	struct vmx_sregs sregs;
	struct vmx_regs regs;
	uint8_t *img;

	ASSERT_NE(NULL, ram.hva);
	img = mb_elf_new(0x100000, 0x100000, 0x100010);
	ASSERT_NE(NULL, img);
	ASSERT_EQ(0, libvmx_load_multiboot(&ram, img, MB_SIZE, NULL, &entry));
	memset(&sregs, 0, sizeof(sregs));
	ASSERT_EQ(0, libvmx_boot_fill_regs(&entry, &sregs, &regs));
	EXPECT_EQ(0x11, sregs.cr0);
	EXPECT_EQ(0, sregs.cr3);
	EXPECT_EQ(0, sregs.cr4);
	EXPECT_EQ(0, sregs.efer);
	EXPECT_EQ(0x10, sregs.cs.selector);
	EXPECT_EQ(0xb, sregs.cs.type);
	EXPECT_EQ(0, sregs.cs.l);
	EXPECT_EQ(1, sregs.cs.db);
	EXPECT_EQ(1, sregs.cs.g);
	EXPECT_EQ(0xffffffff, sregs.cs.limit);
	EXPECT_EQ(0x18, sregs.ss.selector);
	EXPECT_EQ(1, sregs.ss.db);
	EXPECT_EQ(11, sregs.tr.type);
	EXPECT_EQ(0x27, sregs.gdt.limit);
	EXPECT_EQ(0x8000, sregs.gdt.base);
	EXPECT_EQ(0x100010, regs.rip);
	EXPECT_EQ(0x2badb002, regs.rax);
	EXPECT_EQ(0x6000, regs.rbx);
	EXPECT_EQ(2, regs.rflags);

	entry.mode = 0;
	EXPECT_EQ(-EINVAL, libvmx_boot_fill_regs(&entry, &sregs, &regs));
	entry.mode = LIBVMX_BOOT_FLAT32;
	EXPECT_EQ(-EINVAL, libvmx_boot_fill_regs(NULL, &sregs, &regs));
	EXPECT_EQ(-EINVAL, libvmx_boot_fill_regs(&entry, NULL, &regs));
	EXPECT_EQ(-EINVAL, libvmx_boot_fill_regs(&entry, &sregs, NULL));
	free(img);
	free(ram.hva);
}

/* xorshift: a fixed sequence, so a failure can be replayed. */
static uint64_t rnd_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/*
 * Random header corruption: the loaders never crash, and whatever they
 * accept lands inside RAM with a sane entry state.
 */
TEST(mutated_images)
{
	struct libvmx_guest_ram ram = ram_new(32 * MIB);
	struct libvmx_boot_entry entry;
	uint8_t *bz, *mb, *img;
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	size_t bz_size;
	unsigned int round, k, bad = 0, ok_bz = 0, ok_mb = 0;

	ASSERT_NE(NULL, ram.hva);
	bz = bz_new(&bz_size);
	mb = mb_elf_new(0x100000, 0x100000, 0x100010);
	img = malloc(bz_size > MB_SIZE ? bz_size : MB_SIZE);
	ASSERT_NE(NULL, bz);
	ASSERT_NE(NULL, mb);
	ASSERT_NE(NULL, img);
	for (round = 0; round < 20000; round++) {
		struct libvmx_linux_boot boot = { 0 };
		bool is_bz = round & 1;
		size_t size = is_bz ? bz_size : MB_SIZE;
		int ret;

		memcpy(img, is_bz ? bz : mb, size);
		for (k = 0; k < 1 + rnd_next(&seed) % 4; k++) {
			uint64_t r = rnd_next(&seed);
			/* Mostly the headers, sometimes anywhere. */
			size_t off = r & 1 ? (is_bz ? 0x1f1 + (r >> 8) % 0x80 :
					      (r >> 8) % 0x140) :
				     (r >> 8) % size;

			img[off] = r >> 32;
		}
		if (is_bz) {
			boot.kernel = img;
			boot.kernel_size = size;
			ret = libvmx_load_linux(&ram, &boot, &entry);
			if (!ret) {
				ok_bz++;
				if (entry.mode != LIBVMX_BOOT_LONG ||
				    entry.rip < 0x100200 ||
				    entry.rip >= ram.size)
					bad++;
			}
		} else {
			ret = libvmx_load_multiboot(&ram, img, size, NULL,
						    &entry);
			if (!ret) {
				ok_mb++;
				if (entry.mode != LIBVMX_BOOT_FLAT32 ||
				    entry.rip < 0x100000 ||
				    entry.rip >= ram.size)
					bad++;
			}
		}
		if (ret && ret != -EINVAL && ret != -ENOEXEC &&
		    ret != -ENOSPC && ret != -E2BIG)
			bad++;
	}
	TH_LOG("accepted %u bzImages, %u multiboot of 10000 each", ok_bz, ok_mb);
	EXPECT_EQ(0, bad);
	EXPECT_GT(ok_bz, 0);
	EXPECT_GT(ok_mb, 0);
	EXPECT_TRUE(vmm_area_untouched(&ram));
	free(img);
	free(mb);
	free(bz);
	free(ram.hva);
}

TEST_HARNESS_MAIN
