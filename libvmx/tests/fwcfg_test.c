// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fw_cfg over I/O ports: the built-in items, the little-endian helpers, the
 * big-endian file directory, reads past the end, and hostile selectors.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmx/fwcfg.h"
#include "kselftest_harness.h"

static void sel(struct libvmx_fwcfg *fw, uint16_t key)
{
	uint8_t b[2] = { key, key >> 8 };

	libvmx_fwcfg_io(fw, 0, b, 2, true);
}

static void read_bytes(struct libvmx_fwcfg *fw, void *buf, size_t len)
{
	uint8_t *p = buf;

	for (size_t i = 0; i < len; i++) {
		p[i] = 0xcc;
		libvmx_fwcfg_io(fw, 1, &p[i], 1, false);
	}
}

static uint64_t read_le(struct libvmx_fwcfg *fw, uint16_t key, int n)
{
	uint8_t b[8];
	uint64_t v = 0;

	sel(fw, key);
	read_bytes(fw, b, n);
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

FIXTURE(fw) {
	struct libvmx_fwcfg *fw;
};

FIXTURE_SETUP(fw)
{
	ASSERT_EQ(0, libvmx_fwcfg_create(&self->fw));
}

FIXTURE_TEARDOWN(fw)
{
	libvmx_fwcfg_destroy(self->fw);
}

TEST(args)
{
	struct libvmx_fwcfg *fw;
	char name[80];

	EXPECT_EQ(-EINVAL, libvmx_fwcfg_create(NULL));
	ASSERT_EQ(0, libvmx_fwcfg_create(&fw));
	EXPECT_EQ(-EINVAL, libvmx_fwcfg_add(NULL, 5, "a", 1));
	EXPECT_EQ(-EINVAL, libvmx_fwcfg_add(fw, 0x4000, "a", 1));
	EXPECT_EQ(-EINVAL, libvmx_fwcfg_add(fw, 0xffff, "a", 1));
	EXPECT_EQ(-EINVAL, libvmx_fwcfg_add(fw, FW_CFG_FILE_DIR, "a", 1));
	EXPECT_EQ(-EINVAL, libvmx_fwcfg_add(fw, 5, NULL, 1));
	EXPECT_EQ(-E2BIG, libvmx_fwcfg_add(fw, 5, "a", (size_t)UINT32_MAX + 1));
	EXPECT_EQ(0, libvmx_fwcfg_add(fw, 5, NULL, 0));
	EXPECT_EQ(-EINVAL, libvmx_fwcfg_add_file(fw, NULL, "a", 1));
	EXPECT_EQ(-EINVAL, libvmx_fwcfg_add_file(fw, "", "a", 1));
	EXPECT_EQ(-EINVAL, libvmx_fwcfg_add_file(fw, "x", NULL, 1));
	memset(name, 'n', sizeof(name));
	name[56] = 0;
	EXPECT_EQ(-ENAMETOOLONG, libvmx_fwcfg_add_file(fw, name, "a", 1));
	name[55] = 0;
	EXPECT_EQ(FW_CFG_FILE_FIRST, libvmx_fwcfg_add_file(fw, name, "a", 1));
	/* A file's key is not for libvmx_fwcfg_add(). */
	EXPECT_EQ(-EBUSY, libvmx_fwcfg_add(fw, FW_CFG_FILE_FIRST, "b", 1));
	libvmx_fwcfg_destroy(fw);
	libvmx_fwcfg_destroy(NULL);
	libvmx_fwcfg_io(NULL, 0, name, 2, true);
}

TEST_F(fw, builtin)
{
	char sig[5] = { 0 };
	uint8_t dir[8];

	sel(self->fw, FW_CFG_SIGNATURE);
	read_bytes(self->fw, sig, 4);
	EXPECT_STREQ("QEMU", sig);
	/* Past the end: zeros. */
	read_bytes(self->fw, sig, 4);
	EXPECT_EQ(0, memcmp(sig, "\0\0\0\0", 4));
	EXPECT_EQ(1, read_le(self->fw, FW_CFG_ID, 4));
	/* No files yet: a zero count. */
	sel(self->fw, FW_CFG_FILE_DIR);
	read_bytes(self->fw, dir, 8);
	EXPECT_EQ(0, memcmp(dir, "\0\0\0\0\0\0\0\0", 8));
	/* Reselecting rewinds. */
	sel(self->fw, FW_CFG_SIGNATURE);
	read_bytes(self->fw, sig, 2);
	sel(self->fw, FW_CFG_SIGNATURE);
	read_bytes(self->fw, sig, 4);
	EXPECT_STREQ("QEMU", sig);
}

TEST_F(fw, numbers)
{
	ASSERT_EQ(0, libvmx_fwcfg_add_u64(self->fw, FW_CFG_RAM_SIZE,
					  0x123456789abcdef0ull));
	ASSERT_EQ(0, libvmx_fwcfg_add_u16(self->fw, FW_CFG_NB_CPUS, 4));
	ASSERT_EQ(0, libvmx_fwcfg_add_u32(self->fw, FW_CFG_MAX_CPUS, 0x10008));
	EXPECT_EQ(0x123456789abcdef0ull, read_le(self->fw, FW_CFG_RAM_SIZE, 8));
	EXPECT_EQ(4, read_le(self->fw, FW_CFG_NB_CPUS, 2));
	EXPECT_EQ(0x10008, read_le(self->fw, FW_CFG_MAX_CPUS, 4));
	/* Replacing shrinks: the old tail reads as 0. */
	ASSERT_EQ(0, libvmx_fwcfg_add_u16(self->fw, FW_CFG_MAX_CPUS, 0xffff));
	EXPECT_EQ(0xffff, read_le(self->fw, FW_CFG_MAX_CPUS, 4));
	/* The signature is replaceable. */
	ASSERT_EQ(0, libvmx_fwcfg_add(self->fw, FW_CFG_SIGNATURE, "ABCD", 4));
	EXPECT_EQ(0x44434241, read_le(self->fw, FW_CFG_SIGNATURE, 4));
}

TEST_F(fw, wide_reads)
{
	uint8_t b[8];

	ASSERT_EQ(0, libvmx_fwcfg_add(self->fw, 0x100, "abcdefghij", 10));
	sel(self->fw, 0x100);
	libvmx_fwcfg_io(self->fw, 1, b, 4, false);
	EXPECT_EQ(0, memcmp(b, "abcd", 4));
	libvmx_fwcfg_io(self->fw, 1, b, 2, false);
	EXPECT_EQ(0, memcmp(b, "ef", 2));
	/* The selector port reads data too, like QEMU's combined port. */
	libvmx_fwcfg_io(self->fw, 0, b, 1, false);
	EXPECT_EQ('g', b[0]);
	libvmx_fwcfg_io(self->fw, 1, b, 8, false);
	EXPECT_EQ(0, memcmp(b, "hij\0\0\0\0\0", 8));
	/* A 1-byte selector write picks that key. */
	b[0] = FW_CFG_SIGNATURE;
	libvmx_fwcfg_io(self->fw, 0, b, 1, true);
	EXPECT_EQ(0x554d4551, read_le(self->fw, FW_CFG_SIGNATURE, 4));
	/* Data writes change nothing. */
	sel(self->fw, 0x100);
	memset(b, 'X', 8);
	libvmx_fwcfg_io(self->fw, 1, b, 8, true);
	sel(self->fw, 0x100);
	read_bytes(self->fw, b, 1);
	EXPECT_EQ('a', b[0]);
}

TEST_F(fw, files)
{
	uint8_t dir[4 + 3 * 64], big[5000];
	int k1, k2, k3;

	memset(big, 0x77, sizeof(big));
	/* A plain item in the file range makes add_file skip its key. */
	ASSERT_EQ(0, libvmx_fwcfg_add(self->fw, 0x21, "x", 1));
	k1 = libvmx_fwcfg_add_file(self->fw, "etc/one", "1", 1);
	k2 = libvmx_fwcfg_add_file(self->fw, "opt/big", big, sizeof(big));
	k3 = libvmx_fwcfg_add_file(self->fw, "etc/three", "333", 3);
	EXPECT_EQ(0x20, k1);
	EXPECT_EQ(0x22, k2);
	EXPECT_EQ(0x23, k3);
	/* Replacing keeps the key. */
	EXPECT_EQ(k1, libvmx_fwcfg_add_file(self->fw, "etc/one", "11", 2));

	sel(self->fw, FW_CFG_FILE_DIR);
	read_bytes(self->fw, dir, sizeof(dir));
	EXPECT_EQ(3, be32(dir));
	EXPECT_EQ(2, be32(dir + 4));
	EXPECT_EQ(0x0020, dir[8] << 8 | dir[9]);
	EXPECT_EQ(0, dir[10] | dir[11]);
	EXPECT_STREQ("etc/one", (char *)dir + 12);
	EXPECT_EQ(0, dir[12 + 55]);
	EXPECT_EQ(sizeof(big), be32(dir + 68));
	EXPECT_EQ(0x0022, dir[72] << 8 | dir[73]);
	EXPECT_STREQ("opt/big", (char *)dir + 76);
	EXPECT_EQ(3, be32(dir + 132));
	EXPECT_EQ(0x0023, dir[136] << 8 | dir[137]);
	EXPECT_STREQ("etc/three", (char *)dir + 140);

	sel(self->fw, k2);
	uint8_t got[5002];

	read_bytes(self->fw, got, sizeof(got));
	EXPECT_EQ(0, memcmp(got, big, sizeof(big)));
	EXPECT_EQ(0, got[5000] | got[5001]);
	EXPECT_EQ(0x3131, read_le(self->fw, k1, 2));
}

TEST_F(fw, hostile)
{
	unsigned int seed = 99;
	uint8_t b[16];

	ASSERT_EQ(0, libvmx_fwcfg_add(self->fw, 0x3fff, "top", 3));
	/* Unknown keys, arch-local keys, the write channel bit. */
	EXPECT_EQ(0, read_le(self->fw, 0x3ffe, 8));
	EXPECT_EQ(0, read_le(self->fw, 0x8000, 8));
	EXPECT_EQ(0, read_le(self->fw, 0xbfff, 8));
	EXPECT_EQ(0x706f74, read_le(self->fw, 0x3fff, 4));
	EXPECT_EQ(0x554d4551, read_le(self->fw, 0x4000, 4));
	/* Other port offsets read 0 and sizes out of range are ignored. */
	sel(self->fw, FW_CFG_SIGNATURE);
	memset(b, 0xcc, sizeof(b));
	libvmx_fwcfg_io(self->fw, 2, b, 4, false);
	EXPECT_EQ(0, b[0] | b[1] | b[2] | b[3]);
	libvmx_fwcfg_io(self->fw, 1, b, 0, false);
	libvmx_fwcfg_io(self->fw, 1, b, 9, false);
	EXPECT_EQ(0xcc, b[4]);
	EXPECT_EQ(0x554d4551, read_le(self->fw, FW_CFG_SIGNATURE, 4));
	/* Long reads past the end stay at 0 (no wrap). */
	sel(self->fw, FW_CFG_ID);
	for (int i = 0; i < 100000; i++) {
		libvmx_fwcfg_io(self->fw, 1, b, 8, false);
		if (i)
			ASSERT_EQ(0, b[0] | b[7]);
	}
	/* Random traffic. */
	for (int i = 0; i < 200000; i++) {
		unsigned int r = rand_r(&seed);

		b[0] = r;
		b[1] = r >> 8;
		libvmx_fwcfg_io(self->fw, (r >> 16) % 4, b,
				(r >> 18) % 10, (r >> 22) & 1);
	}
	EXPECT_EQ(0x554d4551, read_le(self->fw, FW_CFG_SIGNATURE, 4));
}

TEST_HARNESS_MAIN
