// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * ACPI table builder: the tables are parsed back the way a guest would
 * (signatures, lengths, checksums, field offsets from the ACPI 6.5 spec),
 * the DSDT by a minimal AML parser for the subset acpi.c emits, and the
 * error paths are attacked with every too-small size and canary buffers.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmx/acpi.h"
#include "acpi_aml.h"
#include "kselftest_harness.h"

#define RAM_SIZE	0x200000ull
#define RSDP_GPA	0xe0000ull
#define TABLES_GPA	0xe1000ull
#define TABLES_MAX	0x1f000ull
#define CANARY		0xa5

static uint16_t rd16(const uint8_t *p) { return p[0] | p[1] << 8; }
static uint32_t rd32(const uint8_t *p) { return rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

static const struct libvmx_acpi_virtio two_virtio[2] = {
	{ .addr = 0xd0000000, .size = 0x200, .gsi = 5 },
	{ .addr = 0xd0000200, .size = 0x200, .gsi = 6 },
};

static struct libvmx_acpi_config std_cfg(void)
{
	return (struct libvmx_acpi_config){
		.nr_cpus = 2,
		.lapic_addr = 0xfee00000,
		.ioapic_addr = 0xfec00000,
		.ioapic_id = 2,
		.ioapic_gsi_base = 0,
		.sleep_port = 0x600,
		.reset_port = 0xcf9,
		.reset_value = 6,
		.uart_port = 0x3f8,
		.uart_gsi = 4,
		.virtio = two_virtio,
		.nr_virtio = 2,
	};
}

static struct libvmx_guest_ram new_ram(uint64_t size)
{
	struct libvmx_guest_ram ram = { .hva = malloc(size), .size = size };

	if (ram.hva)
		memset(ram.hva, CANARY, size);
	return ram;
}

/* A table inside RAM, with a valid length and checksum, or NULL. */
static const uint8_t *table_at(const struct libvmx_guest_ram *ram, uint64_t gpa, const char *sig)
{
	const uint8_t *t;
	uint32_t len;

	if (gpa > ram->size || ram->size - gpa < 36)
		return NULL;
	t = (const uint8_t *)ram->hva + gpa;
	len = rd32(t + 4);
	if (memcmp(t, sig, 4) || len < 36 || ram->size - gpa < len || sum(t, len))
		return NULL;
	if (memcmp(t + 10, "VMX   ", 6) || memcmp(t + 16, "VMXRUN  ", 8))
		return NULL;
	return t;
}

/* ---- a minimal AML parser for what acpi.c emits ---- */

enum obj_kind { OBJ_INT, OBJ_STR, OBJ_BUF, OBJ_PKG };

struct obj {
	char path[64];
	enum obj_kind kind;
	uint64_t val;			/* OBJ_INT */
	const char *str;		/* OBJ_STR */
	const uint8_t *buf;		/* OBJ_BUF */
	size_t len;			/* OBJ_BUF bytes, OBJ_PKG elements */
	uint64_t elem[8];		/* OBJ_PKG integer elements */
};

struct parse {
	struct obj objs[64];
	int nr;
	char devices[16][64];
	int nr_dev;
};

/* Returns the PkgLength's value (which counts itself), *n its bytes. */
static int pkglen(const uint8_t *p, const uint8_t *end, uint32_t *len, int *n)
{
	int follow, i;

	if (p >= end)
		return -1;
	follow = p[0] >> 6;
	if (end - p < 1 + follow)
		return -1;
	if (!follow) {
		*len = p[0] & 0x3f;
	} else {
		if (p[0] & 0x30)
			return -1;	/* bits 5:4 must be 0 */
		*len = p[0] & 0xf;
		for (i = 1; i <= follow; i++)
			*len |= (uint32_t)p[i] << (4 + 8 * (i - 1));
	}
	*n = 1 + follow;
	return *len < (uint32_t)*n ? -1 : 0;
}

static int namestring(const uint8_t **pp, const uint8_t *end, const char *scope,
		      char *out, size_t outlen)
{
	const uint8_t *p = *pp;
	int i;

	if (p < end && *p == '\\') {
		p++;
		if (end - p < 4)
			return -1;
		snprintf(out, outlen, "\\%.4s", (const char *)p);
	} else {
		if (end - p < 4)
			return -1;
		snprintf(out, outlen, "%s.%.4s", scope, (const char *)p);
	}
	for (i = 0; i < 4; i++)
		if (!(p[i] == '_' || (p[i] >= 'A' && p[i] <= 'Z') ||
		      (i && p[i] >= '0' && p[i] <= '9')))
			return -1;
	*pp = p + 4;
	return 0;
}

static int integer(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
	const uint8_t *p = *pp;
	int n;

	if (p >= end)
		return -1;
	switch (*p++) {
	case 0x00: *v = 0; n = 0; break;
	case 0x01: *v = 1; n = 0; break;
	case 0xff: *v = ~0ull; n = 0; break;
	case 0x0a: n = 1; break;
	case 0x0b: n = 2; break;
	case 0x0c: n = 4; break;
	case 0x0e: n = 8; break;
	default: return -1;
	}
	if (end - p < n)
		return -1;
	if (n) {
		*v = 0;
		for (int i = 0; i < n; i++)
			*v |= (uint64_t)p[i] << (8 * i);
	}
	*pp = p + n;
	return 0;
}

static int dataobj(const uint8_t **pp, const uint8_t *end, struct obj *o)
{
	const uint8_t *p = *pp, *q, *pend;
	uint32_t len;
	uint64_t v;
	int n;

	if (p >= end)
		return -1;
	if (*p == 0x0d) {
		q = memchr(p + 1, 0, end - p - 1);
		if (!q)
			return -1;
		o->kind = OBJ_STR;
		o->str = (const char *)p + 1;
		*pp = q + 1;
		return 0;
	}
	if (*p == 0x11 || *p == 0x12) {
		if (pkglen(p + 1, end, &len, &n) || len > end - (p + 1))
			return -1;
		pend = p + 1 + len;
		q = p + 1 + n;
		if (*p == 0x11) {
			if (integer(&q, pend, &v) || v != (uint64_t)(pend - q))
				return -1;
			o->kind = OBJ_BUF;
			o->buf = q;
			o->len = v;
		} else {
			if (q >= pend)
				return -1;
			o->kind = OBJ_PKG;
			o->len = *q++;
			for (size_t i = 0; i < o->len; i++) {
				if (i >= 8 || integer(&q, pend, &o->elem[i]))
					return -1;
			}
			if (q != pend)
				return -1;
		}
		*pp = pend;
		return 0;
	}
	o->kind = OBJ_INT;
	return integer(pp, end, &o->val);
}

static int termlist(struct parse *ps, const uint8_t *p, const uint8_t *end, const char *scope,
		    int depth)
{
	char name[64];
	uint32_t len;
	int n;

	if (depth > 8)
		return -1;
	while (p < end) {
		if (*p == 0x08) {
			struct obj *o;

			p++;
			if (ps->nr >= 64)
				return -1;
			o = &ps->objs[ps->nr++];
			memset(o, 0, sizeof(*o));
			if (namestring(&p, end, scope, o->path, sizeof(o->path)) ||
			    dataobj(&p, end, o))
				return -1;
		} else if (*p == 0x10 || (*p == 0x5b && end - p > 1 && p[1] == 0x82)) {
			bool dev = *p == 0x5b;
			const uint8_t *q, *pend;

			p += dev ? 2 : 1;
			if (pkglen(p, end, &len, &n) || len > end - p)
				return -1;
			pend = p + len;
			q = p + n;
			if (namestring(&q, pend, scope, name, sizeof(name)))
				return -1;
			if (dev) {
				if (ps->nr_dev >= 16)
					return -1;
				strcpy(ps->devices[ps->nr_dev++], name);
			}
			if (termlist(ps, q, pend, name, depth + 1))
				return -1;
			p = pend;
		} else {
			return -1;
		}
	}
	return 0;
}

static const struct obj *find(const struct parse *ps, const char *path)
{
	for (int i = 0; i < ps->nr; i++)
		if (!strcmp(ps->objs[i].path, path))
			return &ps->objs[i];
	return NULL;
}

/* Resources found in one _CRS buffer. */
struct res {
	int nr_io, nr_irq, nr_mem, nr_ext;
	uint16_t io_min, io_max;
	uint8_t io_align, io_len;
	uint16_t irq_mask;
	uint32_t mem_base, mem_len;
	uint8_t ext_flags;
	uint32_t ext_irq;
	bool end;
};

static int resources(const uint8_t *p, size_t len, struct res *r)
{
	const uint8_t *end = p + len;

	memset(r, 0, sizeof(*r));
	while (p < end) {
		if (*p & 0x80) {		/* large */
			uint16_t l;

			if (end - p < 3)
				return -1;
			l = rd16(p + 1);
			if (end - p < 3 + l)
				return -1;
			if (*p == 0x86 && l == 9) {
				r->nr_mem++;
				r->mem_base = rd32(p + 4);
				r->mem_len = rd32(p + 8);
			} else if (*p == 0x89 && l == 6 && p[4] == 1) {
				r->nr_ext++;
				r->ext_flags = p[3];
				r->ext_irq = rd32(p + 5);
			} else {
				return -1;
			}
			p += 3 + l;
		} else {			/* small */
			uint8_t l = *p & 7, type = (*p >> 3) & 0xf;

			if (end - p < 1 + l)
				return -1;
			if (type == 0xf) {
				if (l != 1 || p + 2 != end)
					return -1;
				r->end = true;
			} else if (type == 0x8 && l == 7) {
				r->nr_io++;
				r->io_min = rd16(p + 2);
				r->io_max = rd16(p + 4);
				r->io_align = p[6];
				r->io_len = p[7];
			} else if (type == 0x4 && l == 2) {
				r->nr_irq++;
				r->irq_mask = rd16(p + 1);
			} else {
				return -1;
			}
			p += 1 + l;
		}
	}
	return r->end ? 0 : -1;
}

/* ---- checks of a whole build ---- */

struct tables {
	const uint8_t *rsdp, *xsdt, *fadt, *madt, *dsdt;
};

static int locate(const struct libvmx_guest_ram *ram, uint64_t rsdp_gpa, struct tables *t)
{
	const uint8_t *r = (const uint8_t *)ram->hva + rsdp_gpa;
	uint64_t x, d;

	memset(t, 0, sizeof(*t));
	if (memcmp(r, "RSD PTR ", 8) || sum(r, 20) || r[15] != 2 || rd32(r + 20) != 36 ||
	    sum(r, 36))
		return -1;
	t->rsdp = r;
	t->xsdt = table_at(ram, rd64(r + 24), "XSDT");
	if (!t->xsdt || rd32(t->xsdt + 4) != 36 + 16)
		return -2;
	t->fadt = table_at(ram, rd64(t->xsdt + 36), "FACP");
	t->madt = table_at(ram, rd64(t->xsdt + 44), "APIC");
	if (!t->fadt || !t->madt)
		return -3;
	x = rd64(t->fadt + 140);
	d = rd32(t->fadt + 40);
	if (d != x && !(d == 0 && x > 0xffffffffull))
		return -4;
	t->dsdt = table_at(ram, x, "DSDT");
	return t->dsdt ? 0 : -5;
}

static int parse_dsdt(const uint8_t *dsdt, struct parse *ps)
{
	memset(ps, 0, sizeof(*ps));
	return termlist(ps, dsdt + 36, dsdt + rd32(dsdt + 4), "\\", 0);
}

TEST(standard_layout)
{
	struct libvmx_acpi_config cfg = std_cfg();
	struct libvmx_guest_ram ram = new_ram(RAM_SIZE);
	const uint8_t *base, *e;
	struct tables t;
	long size;

	ASSERT_NE(NULL, ram.hva);
	size = libvmx_acpi_tables_size(&cfg);
	ASSERT_GT(size, 0);
	ASSERT_EQ(0, libvmx_acpi_build(&ram, RSDP_GPA, TABLES_GPA, TABLES_MAX, &cfg));
	ASSERT_EQ(0, locate(&ram, RSDP_GPA, &t));
	base = (const uint8_t *)ram.hva;

	/* Everything inside [TABLES_GPA, TABLES_GPA + size), canaries after. */
	EXPECT_EQ(TABLES_GPA, (uint64_t)(t.xsdt - base));
	EXPECT_LE((uint64_t)(t.dsdt - base) + rd32(t.dsdt + 4), TABLES_GPA + size);
	EXPECT_EQ(CANARY, base[TABLES_GPA + size]);
	EXPECT_EQ(CANARY, base[RSDP_GPA + 36]);
	EXPECT_EQ(CANARY, base[RSDP_GPA - 1]);
	EXPECT_EQ(CANARY, base[TABLES_GPA - 1]);
	EXPECT_EQ(0, memcmp(t.rsdp + 9, "VMX   ", 6));
	EXPECT_EQ(0u, rd32(t.rsdp + 16));

	/* FADT */
	EXPECT_EQ(276u, rd32(t.fadt + 4));
	EXPECT_EQ(6, t.fadt[8]);
	EXPECT_EQ(5, t.fadt[131]);
	EXPECT_EQ((1u << 20) | (1u << 10), rd32(t.fadt + 112));
	EXPECT_EQ((1u << 2) | (1u << 3) | (1u << 4), rd16(t.fadt + 109));
	EXPECT_EQ(0, t.fadt[116 + 0] ^ 1);	/* RESET_REG: system I/O */
	EXPECT_EQ(8, t.fadt[116 + 1]);
	EXPECT_EQ(0, t.fadt[116 + 2]);
	EXPECT_EQ(1, t.fadt[116 + 3]);
	EXPECT_EQ(0xcf9ull, rd64(t.fadt + 116 + 4));
	EXPECT_EQ(6, t.fadt[128]);
	EXPECT_EQ(1, t.fadt[244]);
	EXPECT_EQ(8, t.fadt[245]);
	EXPECT_EQ(1, t.fadt[247]);
	EXPECT_EQ(0x600ull, rd64(t.fadt + 244 + 4));
	EXPECT_EQ(1, t.fadt[256]);
	EXPECT_EQ(8, t.fadt[257]);
	EXPECT_EQ(1, t.fadt[259]);
	EXPECT_EQ(0x601ull, rd64(t.fadt + 256 + 4));
	EXPECT_EQ(0, memcmp(t.fadt + 268, "VMX\0\0\0\0\0", 8));
	/* Hardware-reduced: no PM blocks, no SCI, no FACS. */
	EXPECT_EQ(0u, rd32(t.fadt + 36));
	EXPECT_EQ(0u, rd16(t.fadt + 46));
	EXPECT_EQ(0u, rd32(t.fadt + 56));
	EXPECT_EQ(0u, rd32(t.fadt + 64));
	EXPECT_EQ(0u, rd32(t.fadt + 76));
	EXPECT_EQ(0ull, rd64(t.fadt + 132));

	/* MADT: 2 LAPICs + 1 IOAPIC */
	EXPECT_EQ(5, t.madt[8]);
	EXPECT_EQ(44u + 2 * 8 + 12, rd32(t.madt + 4));
	EXPECT_EQ(0xfee00000u, rd32(t.madt + 36));
	EXPECT_EQ(0u, rd32(t.madt + 40));
	e = t.madt + 44;
	for (int i = 0; i < 2; i++, e += 8) {
		EXPECT_EQ(0, e[0]);
		EXPECT_EQ(8, e[1]);
		EXPECT_EQ(i, e[2]);
		EXPECT_EQ(i, e[3]);
		EXPECT_EQ(1u, rd32(e + 4));
	}
	EXPECT_EQ(1, e[0]);
	EXPECT_EQ(12, e[1]);
	EXPECT_EQ(2, e[2]);
	EXPECT_EQ(0xfec00000u, rd32(e + 4));
	EXPECT_EQ(0u, rd32(e + 8));

	EXPECT_EQ(2, t.dsdt[8]);
	printf("# layout: RSDP 0x%llx (36), XSDT 0x%llx (%u), FADT 0x%llx (%u), MADT 0x%llx (%u), "
	       "DSDT 0x%llx (%u), total %ld of 0x%llx\n",
	       RSDP_GPA, (unsigned long long)(t.xsdt - base), rd32(t.xsdt + 4),
	       (unsigned long long)(t.fadt - base), rd32(t.fadt + 4),
	       (unsigned long long)(t.madt - base), rd32(t.madt + 4),
	       (unsigned long long)(t.dsdt - base), rd32(t.dsdt + 4), size, TABLES_MAX);
	free(ram.hva);
}

TEST(dsdt_aml)
{
	struct libvmx_acpi_config cfg = std_cfg();
	struct libvmx_guest_ram ram = new_ram(RAM_SIZE);
	static struct parse ps;
	const struct obj *o;
	struct tables t;
	struct res r;
	char path[64];

	ASSERT_NE(NULL, ram.hva);
	ASSERT_EQ(0, libvmx_acpi_build(&ram, RSDP_GPA, TABLES_GPA, TABLES_MAX, &cfg));
	ASSERT_EQ(0, locate(&ram, RSDP_GPA, &t));
	ASSERT_EQ(0, parse_dsdt(t.dsdt, &ps));

	o = find(&ps, "\\_S5_");
	ASSERT_NE(NULL, o);
	ASSERT_EQ(OBJ_PKG, o->kind);
	ASSERT_EQ(4u, o->len);
	EXPECT_EQ(5u, o->elem[0]);
	EXPECT_EQ(5u, o->elem[1]);
	EXPECT_EQ(0u, o->elem[2]);
	EXPECT_EQ(0u, o->elem[3]);

	ASSERT_EQ(3, ps.nr_dev);
	EXPECT_STREQ("\\_SB_.COM1", ps.devices[0]);
	o = find(&ps, "\\_SB_.COM1._HID");
	ASSERT_NE(NULL, o);
	EXPECT_EQ(OBJ_INT, o->kind);
	EXPECT_EQ(0x0105d041ull, o->val);	/* EISAID("PNP0501") */
	o = find(&ps, "\\_SB_.COM1._UID");
	ASSERT_NE(NULL, o);
	EXPECT_EQ(0ull, o->val);
	o = find(&ps, "\\_SB_.COM1._CRS");
	ASSERT_NE(NULL, o);
	ASSERT_EQ(OBJ_BUF, o->kind);
	ASSERT_EQ(0, resources(o->buf, o->len, &r));
	EXPECT_EQ(1, r.nr_io);
	EXPECT_EQ(0x3f8, r.io_min);
	EXPECT_EQ(0x3f8, r.io_max);
	EXPECT_EQ(1, r.io_align);
	EXPECT_EQ(8, r.io_len);
	EXPECT_EQ(1, r.nr_irq);
	EXPECT_EQ(1u << 4, r.irq_mask);
	EXPECT_EQ(0, r.nr_ext);

	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "\\_SB_.V%03X", i);
		EXPECT_STREQ(path, ps.devices[1 + i]);
		strcat(path, "._HID");
		o = find(&ps, path);
		ASSERT_NE(NULL, o);
		ASSERT_EQ(OBJ_STR, o->kind);
		EXPECT_STREQ("LNRO0005", o->str);
		snprintf(path, sizeof(path), "\\_SB_.V%03X._UID", i);
		o = find(&ps, path);
		ASSERT_NE(NULL, o);
		EXPECT_EQ((uint64_t)i, o->val);
		snprintf(path, sizeof(path), "\\_SB_.V%03X._CRS", i);
		o = find(&ps, path);
		ASSERT_NE(NULL, o);
		ASSERT_EQ(OBJ_BUF, o->kind);
		ASSERT_EQ(0, resources(o->buf, o->len, &r));
		EXPECT_EQ(1, r.nr_mem);
		EXPECT_EQ(two_virtio[i].addr, r.mem_base);
		EXPECT_EQ(two_virtio[i].size, r.mem_len);
		EXPECT_EQ(1, r.nr_ext);
		EXPECT_EQ(0x01, r.ext_flags);	/* consumer, level, high, exclusive */
		EXPECT_EQ(two_virtio[i].gsi, r.ext_irq);
		EXPECT_EQ(0, r.nr_io + r.nr_irq);
	}
	free(ram.hva);
}

TEST(dsdt_variants)
{
	struct libvmx_acpi_config cfg = std_cfg();
	struct libvmx_guest_ram ram = new_ram(RAM_SIZE);
	static struct parse ps;
	const struct obj *o;
	struct tables t;
	struct res r;

	ASSERT_NE(NULL, ram.hva);
	/* Nothing but \_S5 */
	cfg.uart_port = 0;
	cfg.nr_virtio = 0;
	cfg.virtio = NULL;
	ASSERT_EQ(0, libvmx_acpi_build(&ram, RSDP_GPA, TABLES_GPA, TABLES_MAX, &cfg));
	ASSERT_EQ(0, locate(&ram, RSDP_GPA, &t));
	ASSERT_EQ(0, parse_dsdt(t.dsdt, &ps));
	EXPECT_EQ(1, ps.nr);
	EXPECT_EQ(0, ps.nr_dev);
	EXPECT_NE(NULL, find(&ps, "\\_S5_"));

	/* A UART above the ISA range gets an Extended Interrupt, edge. */
	cfg.uart_port = 0x2f8;
	cfg.uart_gsi = 17;
	ASSERT_EQ(0, libvmx_acpi_build(&ram, RSDP_GPA, TABLES_GPA, TABLES_MAX, &cfg));
	ASSERT_EQ(0, locate(&ram, RSDP_GPA, &t));
	ASSERT_EQ(0, parse_dsdt(t.dsdt, &ps));
	o = find(&ps, "\\_SB_.COM1._CRS");
	ASSERT_NE(NULL, o);
	ASSERT_EQ(0, resources(o->buf, o->len, &r));
	EXPECT_EQ(0x2f8, r.io_min);
	EXPECT_EQ(0, r.nr_irq);
	EXPECT_EQ(1, r.nr_ext);
	EXPECT_EQ(0x03, r.ext_flags);
	EXPECT_EQ(17u, r.ext_irq);

	/* 255 CPUs, tables above 4 GiB would lose the 32-bit DSDT: not here. */
	cfg.nr_cpus = 255;
	ASSERT_EQ(0, libvmx_acpi_build(&ram, RSDP_GPA, TABLES_GPA, TABLES_MAX, &cfg));
	ASSERT_EQ(0, locate(&ram, RSDP_GPA, &t));
	EXPECT_EQ(44u + 255 * 8 + 12, rd32(t.madt + 4));
	EXPECT_EQ(254, t.madt[44 + 254 * 8 + 3]);
	EXPECT_EQ(1, t.madt[44 + 255 * 8]);
	free(ram.hva);
}

/* An independent decoder: the value and the number of bytes. */
static uint32_t decode_pkglen(const uint8_t *p, int *n)
{
	int follow = p[0] >> 6;
	uint32_t v;

	*n = 1 + follow;
	if (!follow)
		return p[0];
	v = p[0] & 0xf;
	for (int i = 1; i <= follow; i++)
		v |= (uint32_t)p[i] << (4 + 8 * (i - 1));
	return v;
}

TEST(pkglength)
{
	/*
	 * @body is what follows the PkgLength; the encoded value counts the
	 * PkgLength's own bytes too (ACPI 6.5 20.2.4).
	 */
	static const struct { uint32_t body; int n; uint8_t enc[4]; } cases[] = {
		{ 0, 1, { 0x01 } },
		{ 62, 1, { 0x3f } },				/* 63 */
		{ 63, 2, { 0x41, 0x04 } },			/* 65: 64 is not 1 byte */
		{ 64, 2, { 0x42, 0x04 } },			/* 66 */
		{ 4093, 2, { 0x4f, 0xff } },			/* 4095 */
		{ 4095, 3, { 0x82, 0x00, 0x01 } },		/* 4098 */
		{ 4096, 3, { 0x83, 0x00, 0x01 } },		/* 4099 */
		{ (1u << 20) - 4, 3, { 0x8f, 0xff, 0xff } },	/* 1 MiB - 1 */
		{ (1u << 20) - 3, 4, { 0xc1, 0x00, 0x00, 0x01 } },	/* 1 MiB + 1 */
		{ 1u << 20, 4, { 0xc4, 0x00, 0x00, 0x01 } },	/* 1 MiB + 4 */
		{ (1u << 28) - 5, 4, { 0xcf, 0xff, 0xff, 0xff } },	/* the largest */
	};
	uint8_t enc[4];
	int n, m;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(enc, 0, 4);
		n = lv_acpi_pkglength(enc, cases[i].body);
		EXPECT_EQ(cases[i].n, n);
		EXPECT_EQ(0, memcmp(enc, cases[i].enc, n)) {
			TH_LOG("body %u: %02x %02x %02x %02x", cases[i].body,
			       enc[0], enc[1], enc[2], enc[3]);
		}
	}
	/* Round trip everywhere near the boundaries, always minimal. */
	for (uint32_t b = 0; b < (1u << 20) + 16; b += b < 70000 ? 1 : 4093) {
		n = lv_acpi_pkglength(enc, b);
		ASSERT_GT(n, 0);
		ASSERT_EQ(b + n, decode_pkglen(enc, &m));
		ASSERT_EQ(n, m);
		if (n > 1)
			ASSERT_TRUE((n == 2 ? 64u : 1u << (4 + 8 * (n - 2))) <= b + n - 1);
		if (n > 1)
			ASSERT_EQ(0, enc[0] & 0x30);
	}
	EXPECT_EQ(4, lv_acpi_pkglength(enc, (1u << 28) - 5));
	EXPECT_EQ(0, lv_acpi_pkglength(enc, (1u << 28) - 4));
	EXPECT_EQ(0, lv_acpi_pkglength(enc, UINT32_MAX));
}

TEST(bad_arguments)
{
	struct libvmx_acpi_config cfg = std_cfg();
	struct libvmx_guest_ram ram = new_ram(RAM_SIZE), none = { 0 };
	struct libvmx_acpi_virtio far = { .addr = 0x100000000ull, .size = 0x200, .gsi = 5 };
	struct libvmx_acpi_virtio wrap = { .addr = 0xffffff00ull, .size = 0x200, .gsi = 5 };
	uint8_t *b = ram.hva;

	ASSERT_NE(NULL, ram.hva);
	EXPECT_EQ(-EINVAL, libvmx_acpi_build(NULL, RSDP_GPA, TABLES_GPA, TABLES_MAX, &cfg));
	EXPECT_EQ(-EINVAL, libvmx_acpi_build(&none, RSDP_GPA, TABLES_GPA, TABLES_MAX, &cfg));
	EXPECT_EQ(-EINVAL, libvmx_acpi_build(&ram, RSDP_GPA, TABLES_GPA, TABLES_MAX, NULL));
	EXPECT_EQ(-EINVAL, libvmx_acpi_tables_size(NULL));
	cfg.nr_cpus = 0;
	EXPECT_EQ(-EINVAL, libvmx_acpi_build(&ram, RSDP_GPA, TABLES_GPA, TABLES_MAX, &cfg));
	cfg.nr_cpus = 256;
	EXPECT_EQ(-EINVAL, libvmx_acpi_build(&ram, RSDP_GPA, TABLES_GPA, TABLES_MAX, &cfg));
	cfg.nr_cpus = ~0u;
	EXPECT_EQ(-EINVAL, libvmx_acpi_build(&ram, RSDP_GPA, TABLES_GPA, TABLES_MAX, &cfg));
	cfg = std_cfg();
	EXPECT_EQ(-EINVAL, libvmx_acpi_build(&ram, RSDP_GPA + 8, TABLES_GPA, TABLES_MAX, &cfg));
	EXPECT_EQ(-EINVAL, libvmx_acpi_build(&ram, RSDP_GPA, TABLES_GPA + 4, TABLES_MAX, &cfg));
	cfg.nr_virtio = 3;
	cfg.virtio = NULL;
	EXPECT_EQ(-EINVAL, libvmx_acpi_build(&ram, RSDP_GPA, TABLES_GPA, TABLES_MAX, &cfg));
	cfg = std_cfg();
	cfg.lapic_addr = 0x1fee00000ull;
	EXPECT_EQ(-EINVAL, libvmx_acpi_build(&ram, RSDP_GPA, TABLES_GPA, TABLES_MAX, &cfg));
	cfg = std_cfg();
	cfg.ioapic_addr = 0x1fec00000ull;
	EXPECT_EQ(-EINVAL, libvmx_acpi_build(&ram, RSDP_GPA, TABLES_GPA, TABLES_MAX, &cfg));
	cfg = std_cfg();
	cfg.sleep_port = 0xffff;
	EXPECT_EQ(-EINVAL, libvmx_acpi_build(&ram, RSDP_GPA, TABLES_GPA, TABLES_MAX, &cfg));
	cfg = std_cfg();
	cfg.uart_port = 0xfffc;
	EXPECT_EQ(-EINVAL, libvmx_acpi_build(&ram, RSDP_GPA, TABLES_GPA, TABLES_MAX, &cfg));
	cfg = std_cfg();
	cfg.virtio = &far;
	cfg.nr_virtio = 1;
	EXPECT_EQ(-EINVAL, libvmx_acpi_build(&ram, RSDP_GPA, TABLES_GPA, TABLES_MAX, &cfg));
	cfg.virtio = &wrap;
	EXPECT_EQ(-EINVAL, libvmx_acpi_build(&ram, RSDP_GPA, TABLES_GPA, TABLES_MAX, &cfg));
	/* The RSDP inside the tables. */
	cfg = std_cfg();
	EXPECT_EQ(-EINVAL, libvmx_acpi_build(&ram, TABLES_GPA + 0x40, TABLES_GPA, TABLES_MAX, &cfg));
	EXPECT_EQ(-EINVAL, libvmx_acpi_build(&ram, TABLES_GPA - 0x10, TABLES_GPA - 0x8,
					     TABLES_MAX, &cfg));
	/* Nothing of all that wrote a byte. */
	for (uint64_t i = 0; i < RAM_SIZE; i++)
		ASSERT_EQ(CANARY, b[i]);
	free(ram.hva);
}

TEST(every_short_size)
{
	struct libvmx_acpi_config cfg = std_cfg();
	struct libvmx_guest_ram ram = new_ram(RAM_SIZE);
	uint8_t *b = ram.hva;
	long need;
	int ret;

	ASSERT_NE(NULL, ram.hva);
	need = libvmx_acpi_tables_size(&cfg);
	ASSERT_GT(need, 0);
	for (long max = 0; max <= need; max++) {
		memset(b, CANARY, RAM_SIZE);
		ret = libvmx_acpi_build(&ram, RSDP_GPA, TABLES_GPA, max, &cfg);
		if (max < need) {
			ASSERT_EQ(-ENOSPC, ret);
			/* A failed call writes nothing at all. */
			for (uint64_t i = RSDP_GPA; i < TABLES_GPA + need + 64; i++) {
				if (b[i] != CANARY)
					TH_LOG("max %ld: byte 0x%llx", max, (unsigned long long)i);
				ASSERT_EQ(CANARY, b[i]);
			}
		} else {
			ASSERT_EQ(0, ret);
			for (uint64_t i = TABLES_GPA + max; i < TABLES_GPA + max + 4096; i++)
				ASSERT_EQ(CANARY, b[i]);
		}
	}
	free(ram.hva);
}

TEST(ram_limits)
{
	struct libvmx_acpi_config cfg = std_cfg();
	struct libvmx_guest_ram ram = new_ram(RAM_SIZE), small;
	long need = libvmx_acpi_tables_size(&cfg);
	uint8_t *b = ram.hva;

	ASSERT_NE(NULL, ram.hva);
	ASSERT_GT(need, 0);
	/* The tables end exactly at the end of RAM: fits; one byte less: not. */
	small = (struct libvmx_guest_ram){ .hva = ram.hva, .size = TABLES_GPA + need };
	EXPECT_EQ(0, libvmx_acpi_build(&small, RSDP_GPA, TABLES_GPA, TABLES_MAX, &cfg));
	memset(b, CANARY, RAM_SIZE);
	small.size--;
	EXPECT_EQ(-ENOSPC, libvmx_acpi_build(&small, RSDP_GPA, TABLES_GPA, TABLES_MAX, &cfg));
	/* The RSDP outside RAM, straddling its end, at absurd addresses. */
	small.size = RAM_SIZE;
	EXPECT_EQ(-ENOSPC, libvmx_acpi_build(&small, RAM_SIZE, TABLES_GPA, TABLES_MAX, &cfg));
	EXPECT_EQ(-ENOSPC, libvmx_acpi_build(&small, RAM_SIZE - 16, TABLES_GPA, TABLES_MAX, &cfg));
	EXPECT_EQ(-ENOSPC, libvmx_acpi_build(&small, ~0ull & ~15ull, TABLES_GPA, TABLES_MAX, &cfg));
	/* Tables outside RAM or wrapping around. */
	EXPECT_EQ(-ENOSPC, libvmx_acpi_build(&small, RSDP_GPA, RAM_SIZE, TABLES_MAX, &cfg));
	EXPECT_EQ(-ENOSPC, libvmx_acpi_build(&small, RSDP_GPA, ~0ull & ~7ull, ~0ull, &cfg));
	EXPECT_EQ(-ENOSPC, libvmx_acpi_build(&small, RSDP_GPA, RAM_SIZE - 64, ~0ull, &cfg));
	for (uint64_t i = 0; i < RAM_SIZE; i++)
		ASSERT_EQ(CANARY, b[i]);
	/* RSDP below the tables, at GPA 0, works too. */
	EXPECT_EQ(0, libvmx_acpi_build(&small, 0, TABLES_GPA, TABLES_MAX, &cfg));
	free(ram.hva);
}

TEST(too_many_virtio)
{
	static struct libvmx_acpi_virtio many[LIBVMX_ACPI_MAX_VIRTIO + 1];
	struct libvmx_acpi_config cfg = std_cfg();
	struct libvmx_guest_ram ram = new_ram(RAM_SIZE);
	static struct parse ps;
	struct tables t;
	unsigned int fit = 0;
	long need;

	ASSERT_NE(NULL, ram.hva);
	for (unsigned int i = 0; i <= LIBVMX_ACPI_MAX_VIRTIO; i++)
		many[i] = (struct libvmx_acpi_virtio){ 0xd0000000 + i * 0x200, 0x200, 5 + i % 19 };
	cfg.virtio = many;
	cfg.nr_virtio = 3000;
	EXPECT_EQ(-ENOSPC, libvmx_acpi_build(&ram, RSDP_GPA, TABLES_GPA, TABLES_MAX, &cfg));
	cfg.nr_virtio = LIBVMX_ACPI_MAX_VIRTIO + 1;
	EXPECT_EQ(-EINVAL, libvmx_acpi_build(&ram, RSDP_GPA, TABLES_GPA, TABLES_MAX, &cfg));
	cfg.nr_virtio = ~0u;
	EXPECT_EQ(-EINVAL, libvmx_acpi_build(&ram, RSDP_GPA, TABLES_GPA, TABLES_MAX, &cfg));
	/* The largest count that fits builds, one more does not. */
	for (cfg.nr_virtio = 1; cfg.nr_virtio <= LIBVMX_ACPI_MAX_VIRTIO; cfg.nr_virtio++) {
		need = libvmx_acpi_tables_size(&cfg);
		if (need > (long)TABLES_MAX)
			break;
		fit = cfg.nr_virtio;
	}
	ASSERT_GT(fit, 100u);
	cfg.nr_virtio = fit + 1;
	EXPECT_EQ(-ENOSPC, libvmx_acpi_build(&ram, RSDP_GPA, TABLES_GPA, TABLES_MAX, &cfg));
	cfg.nr_virtio = fit;
	ASSERT_EQ(0, libvmx_acpi_build(&ram, RSDP_GPA, TABLES_GPA, TABLES_MAX, &cfg));
	ASSERT_EQ(0, locate(&ram, RSDP_GPA, &t));
	/* The parser keeps 16 devices: only check that the big one is sound. */
	EXPECT_NE(0, parse_dsdt(t.dsdt, &ps));
	EXPECT_EQ(16, ps.nr_dev);
	/* Every size fits LIBVMX_ACPI_MAX_VIRTIO when the space is there. */
	cfg.nr_virtio = LIBVMX_ACPI_MAX_VIRTIO;
	need = libvmx_acpi_tables_size(&cfg);
	ASSERT_GT(need, (long)TABLES_MAX);
	ASSERT_LT(need, (long)(RAM_SIZE - TABLES_GPA));
	ASSERT_EQ(0, libvmx_acpi_build(&ram, RSDP_GPA, TABLES_GPA, RAM_SIZE, &cfg));
	ASSERT_EQ(0, locate(&ram, RSDP_GPA, &t));
	printf("# %u virtio devices fit in 0x%llx bytes; %u take %ld\n", fit, TABLES_MAX,
	       LIBVMX_ACPI_MAX_VIRTIO, need);
	free(ram.hva);
}

/* Tables above 4 GiB: the 32-bit DSDT pointer is 0, X_DSDT carries it. */
TEST(tables_above_4g)
{
	const uint64_t size = 0x100000000ull + 0x100000;
	struct libvmx_acpi_config cfg = std_cfg();
	struct libvmx_guest_ram ram;
	struct tables t;
	void *p;

	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		SKIP(return, "cannot reserve 4 GiB of address space");
	ram = (struct libvmx_guest_ram){ .hva = p, .size = size };
	ASSERT_EQ(0, libvmx_acpi_build(&ram, RSDP_GPA, 0x100000000ull, TABLES_MAX, &cfg));
	ASSERT_EQ(0, locate(&ram, RSDP_GPA, &t));
	EXPECT_EQ(0u, rd32(t.fadt + 40));
	EXPECT_EQ(0x100000000ull, (uint64_t)(t.xsdt - (uint8_t *)p));
	EXPECT_LT(0x100000000ull, rd64(t.fadt + 140));
	munmap(p, size);
}

/* Random configurations: whatever is accepted parses back exactly. */
TEST(random_configs)
{
	static struct libvmx_acpi_virtio v[64];
	struct libvmx_guest_ram ram = new_ram(RAM_SIZE);
	static struct parse ps;
	struct libvmx_acpi_config cfg;
	unsigned int seed = 12345;
	const struct obj *o;
	char path[64];
	struct tables t;
	struct res r;
	int ret, built = 0;

	ASSERT_NE(NULL, ram.hva);
	for (int round = 0; round < 2000; round++) {
		cfg = std_cfg();
		cfg.nr_cpus = rand_r(&seed) % 258;
		cfg.uart_port = rand_r(&seed) % 4 ? rand_r(&seed) & 0xffff : 0;
		cfg.uart_gsi = rand_r(&seed) % 4 ? rand_r(&seed) % 24 : (uint32_t)rand_r(&seed) * 7;
		cfg.sleep_port = rand_r(&seed);
		cfg.reset_port = rand_r(&seed);
		cfg.reset_value = rand_r(&seed);
		cfg.ioapic_id = rand_r(&seed);
		cfg.ioapic_gsi_base = rand_r(&seed) % 2 ? 0 : rand_r(&seed);
		cfg.nr_virtio = rand_r(&seed) % 15;
		for (unsigned int i = 0; i < cfg.nr_virtio; i++) {
			v[i].addr = (uint64_t)rand_r(&seed) << (rand_r(&seed) % 64 ? 0 : 2);
			v[i].size = rand_r(&seed) % 2 ? 0x200 : rand_r(&seed);
			v[i].gsi = rand_r(&seed) % 2 ? 5 + i : (uint32_t)rand_r(&seed) * 3;
		}
		cfg.virtio = v;
		memset(ram.hva, CANARY, RAM_SIZE);
		ret = libvmx_acpi_build(&ram, RSDP_GPA, TABLES_GPA, TABLES_MAX, &cfg);
		if (ret) {
			ASSERT_EQ(-EINVAL, ret);
			continue;
		}
		built++;
		ASSERT_GE(cfg.nr_cpus, 1u);
		ASSERT_LE(cfg.nr_cpus, 255u);
		ASSERT_EQ(0, locate(&ram, RSDP_GPA, &t));
		ASSERT_EQ(44u + cfg.nr_cpus * 8 + 12, rd32(t.madt + 4));
		ASSERT_EQ(cfg.ioapic_gsi_base, rd32(t.madt + 44 + cfg.nr_cpus * 8 + 8));
		ASSERT_EQ(cfg.reset_port, rd64(t.fadt + 120));
		ASSERT_EQ(cfg.reset_value, t.fadt[128]);
		ASSERT_EQ(cfg.sleep_port + 1u, rd64(t.fadt + 260));
		ASSERT_EQ(CANARY, ((uint8_t *)ram.hva)[TABLES_GPA + libvmx_acpi_tables_size(&cfg)]);
		ASSERT_EQ(0, parse_dsdt(t.dsdt, &ps));
		ASSERT_EQ((cfg.uart_port ? 1 : 0) + (int)cfg.nr_virtio, ps.nr_dev);
		if (cfg.uart_port) {
			o = find(&ps, "\\_SB_.COM1._CRS");
			ASSERT_NE(NULL, o);
			ASSERT_EQ(0, resources(o->buf, o->len, &r));
			ASSERT_EQ(cfg.uart_port, r.io_min);
			if (cfg.uart_gsi < 16) {
				ASSERT_EQ(1u << cfg.uart_gsi, r.irq_mask);
			} else {
				ASSERT_EQ(cfg.uart_gsi, r.ext_irq);
			}
		}
		for (unsigned int i = 0; i < cfg.nr_virtio; i++) {
			snprintf(path, sizeof(path), "\\_SB_.V%03X._CRS", i);
			o = find(&ps, path);
			ASSERT_NE(NULL, o);
			ASSERT_EQ(0, resources(o->buf, o->len, &r));
			ASSERT_EQ(v[i].addr, r.mem_base);
			ASSERT_EQ(v[i].size, r.mem_len);
			ASSERT_EQ(v[i].gsi, r.ext_irq);
			snprintf(path, sizeof(path), "\\_SB_.V%03X._UID", i);
			o = find(&ps, path);
			ASSERT_NE(NULL, o);
			ASSERT_EQ(i, o->val);
		}
	}
	/* Enough of them were valid to mean something, and some were not. */
	EXPECT_GT(built, 800);
	EXPECT_LT(built, 1990);
	printf("# %d of 2000 random configurations built\n", built);
	free(ram.hva);
}

TEST(sleep_request)
{
	EXPECT_EQ(LIBVMX_ACPI_SLEEP_S5, libvmx_acpi_sleep_request((5 << 2) | (1 << 5)));
	EXPECT_EQ(LIBVMX_ACPI_SLEEP_S5, libvmx_acpi_sleep_request(0xff & ~(2 << 2)));
	EXPECT_EQ(LIBVMX_ACPI_SLEEP_NONE, libvmx_acpi_sleep_request(5 << 2));
	EXPECT_EQ(LIBVMX_ACPI_SLEEP_NONE, libvmx_acpi_sleep_request(1 << 5));
	EXPECT_EQ(LIBVMX_ACPI_SLEEP_NONE, libvmx_acpi_sleep_request(0));
	EXPECT_EQ(LIBVMX_ACPI_SLEEP_NONE, libvmx_acpi_sleep_request(0xff));
	for (int v = 0; v < 256; v++) {
		int s5 = (v & 0x20) && ((v >> 2) & 7) == 5;

		EXPECT_EQ(s5 ? LIBVMX_ACPI_SLEEP_S5 : LIBVMX_ACPI_SLEEP_NONE,
			  libvmx_acpi_sleep_request(v));
	}
}

TEST(iasl_disassembles)
{
	struct libvmx_acpi_config cfg = std_cfg();
	struct libvmx_guest_ram ram = new_ram(RAM_SIZE);
	char dir[] = "/tmp/acpi_test.XXXXXX", cmd[512];
	const char *names[] = { "dsdt", "facp", "apic", "xsdt" };
	struct tables t;
	FILE *f;
	int ret;

	ASSERT_NE(NULL, ram.hva);
	if (system("command -v iasl >/dev/null 2>&1")) {
		free(ram.hva);
		SKIP(return, "iasl not found: scripts/setup.sh should install acpica-tools");
	}
	ASSERT_EQ(0, libvmx_acpi_build(&ram, RSDP_GPA, TABLES_GPA, TABLES_MAX, &cfg));
	ASSERT_EQ(0, locate(&ram, RSDP_GPA, &t));
	ASSERT_NE(NULL, mkdtemp(dir));
	const uint8_t *tab[] = { t.dsdt, t.fadt, t.madt, t.xsdt };
	for (int i = 0; i < 4; i++) {
		snprintf(cmd, sizeof(cmd), "%s/%s.dat", dir, names[i]);
		f = fopen(cmd, "wb");
		ASSERT_NE(NULL, f);
		ASSERT_EQ(1u, fwrite(tab[i], rd32(tab[i] + 4), 1, f));
		fclose(f);
		/* iasl prints "N Errors" / warnings; require no error line. */
		snprintf(cmd, sizeof(cmd),
			 "cd %s && iasl -d %s.dat >%s.log 2>&1 && ! grep -qi 'error [^0]\\|[1-9][0-9]* error' %s.log",
			 dir, names[i], names[i], names[i]);
		ret = system(cmd);
		EXPECT_EQ(0, ret) TH_LOG("iasl -d %s failed, see %s/%s.log", names[i], dir, names[i]);
	}
	if (!_metadata->exit_code) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		EXPECT_EQ(0, system(cmd));
	}
	free(ram.hva);
}

TEST_HARNESS_MAIN
