/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ACPI tables for a "microvm with ACPI": RSDP -> XSDT -> {FADT, MADT},
 * FADT -> DSDT.  Layouts from the ACPI 6.5 specification (5.2 tables,
 * 6.4 resource descriptors, 20 AML grammar).
 *
 * The tables are built in two passes: the first only measures the DSDT (the
 * AML emitter counts without a buffer), the checks are done on the measured
 * size, the AML is emitted into a scratch buffer, and only then is guest
 * RAM written.  So a failing call writes
 * nothing, and a successful one never writes past @tables_max or RAM.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmx/acpi.h"
#include "acpi_aml.h"

#define OEM_ID		"VMX   "	/* 6 bytes */
#define OEM_TABLE_ID	"VMXRUN  "	/* 8 bytes */
#define CREATOR_ID	"VMX "		/* 4 bytes */
#define OEM_REVISION	1
#define CREATOR_REV	1

#define RSDP_LEN	36
#define SDT_HDR_LEN	36
#define XSDT_LEN	(SDT_HDR_LEN + 2 * 8)
#define FADT_LEN	276		/* revision 6 */
#define MADT_HDR_LEN	44
#define MADT_LAPIC_LEN	8
#define MADT_IOAPIC_LEN	12

/* FADT offsets (ACPI 6.5 table 5.9). */
#define FADT_DSDT		40
#define FADT_IAPC_BOOT_ARCH	109
#define FADT_FLAGS		112
#define FADT_RESET_REG		116
#define FADT_RESET_VALUE	128
#define FADT_MINOR_VERSION	131
#define FADT_X_DSDT		140
#define FADT_SLEEP_CONTROL	244
#define FADT_SLEEP_STATUS	256
#define FADT_HYPERVISOR_ID	268

#define IAPC_VGA_NOT_PRESENT	(1u << 2)
#define IAPC_MSI_NOT_PRESENT	(1u << 3)
#define IAPC_PCIE_ASPM_CONTROLS	(1u << 4)
#define FADT_F_RESET_REG_SUP	(1u << 10)
#define FADT_F_HW_REDUCED_ACPI	(1u << 20)

#define GAS_SYSTEM_IO		1
#define GAS_ACCESS_BYTE		1

/* Hardware-reduced sleep control register (ACPI 6.5 4.8.3.7). */
#define SLP_TYP_SHIFT		2
#define SLP_TYP_MASK		(7u << SLP_TYP_SHIFT)
#define SLP_EN			(1u << 5)

/* AML opcodes (ACPI 6.5 20.3). */
#define AML_ZERO		0x00
#define AML_ONE			0x01
#define AML_NAME		0x08
#define AML_BYTE		0x0a
#define AML_WORD		0x0b
#define AML_DWORD		0x0c
#define AML_STRING		0x0d
#define AML_QWORD		0x0e
#define AML_SCOPE		0x10
#define AML_BUFFER		0x11
#define AML_PACKAGE		0x12
#define AML_EXT_PREFIX		0x5b
#define AML_DEVICE		0x82	/* after AML_EXT_PREFIX */
#define AML_ROOT		0x5c	/* '\' */

static inline uint64_t align8(uint64_t x)
{
	return (x + 7) & ~7ull;
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

static uint8_t checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	while (len--)
		sum += *p++;
	return -sum;
}

/* ---- AML emitter ---- */

/*
 * With @buf NULL the emitter only counts.  Otherwise it writes at most @cap
 * bytes; @full records that something did not fit (the result is then
 * garbage and must not be used).
 */
struct aml {
	uint8_t *buf;
	size_t cap;
	size_t len;
	size_t peak;	/* the most ever used: PkgLengths shrink at close */
	bool full;
};

static void aml_put(struct aml *a, const void *p, size_t n)
{
	if (a->len + n > a->cap)
		a->full = true;
	else if (a->buf)
		memcpy(a->buf + a->len, p, n);
	a->len += n;
	if (a->len > a->peak)
		a->peak = a->len;
}

static void aml_byte(struct aml *a, uint8_t b)
{
	aml_put(a, &b, 1);
}

static void aml_nameseg(struct aml *a, const char *seg)
{
	aml_put(a, seg, 4);
}

static void aml_integer(struct aml *a, uint64_t v)
{
	uint8_t b[8];

	put64(b, v);
	if (v == 0) {
		aml_byte(a, AML_ZERO);
	} else if (v == 1) {
		aml_byte(a, AML_ONE);
	} else if (v <= 0xff) {
		aml_byte(a, AML_BYTE);
		aml_put(a, b, 1);
	} else if (v <= 0xffff) {
		aml_byte(a, AML_WORD);
		aml_put(a, b, 2);
	} else if (v <= 0xffffffff) {
		aml_byte(a, AML_DWORD);
		aml_put(a, b, 4);
	} else {
		aml_byte(a, AML_QWORD);
		aml_put(a, b, 8);
	}
}

/* Always a DWordConst, as iasl emits EISAID(). */
static void aml_dword(struct aml *a, uint32_t v)
{
	uint8_t b[4];

	put32(b, v);
	aml_byte(a, AML_DWORD);
	aml_put(a, b, 4);
}

static void aml_string(struct aml *a, const char *s)
{
	aml_byte(a, AML_STRING);
	aml_put(a, s, strlen(s) + 1);
}

int lv_acpi_pkglength(uint8_t out[4], uint32_t body)
{
	uint32_t total;
	int n, i;

	/*
	 * The encoded length counts its own bytes: one byte holds up to 63,
	 * then the lead byte keeps 4 bits and 1..3 more bytes add 8 each.
	 */
	for (n = 1; n <= 4; n++) {
		if (body > (1u << 28) - 1 - n)
			return 0;
		total = body + n;
		if (total < (n == 1 ? 64u : 1u << (4 + 8 * (n - 1))))
			break;
	}
	if (n > 4)
		return 0;
	if (n == 1) {
		out[0] = total;
		return 1;
	}
	out[0] = ((n - 1) << 6) | (total & 0xf);
	for (i = 1; i < n; i++)
		out[i] = total >> (4 + 8 * (i - 1));
	return n;
}

/* Reserve the longest PkgLength; aml_close() shrinks it to the real one. */
static size_t aml_open(struct aml *a)
{
	static const uint8_t zero[4];
	size_t pos = a->len;

	aml_put(a, zero, 4);
	return pos;
}

static void aml_close(struct aml *a, size_t pos)
{
	size_t body = a->len - pos - 4;
	uint8_t enc[4];
	int n;

	n = lv_acpi_pkglength(enc, body);
	if (!n) {
		a->full = true;
		return;
	}
	if (a->buf && !a->full) {
		memmove(a->buf + pos + n, a->buf + pos + 4, body);
		memcpy(a->buf + pos, enc, n);
	}
	a->len -= 4 - n;
}

static size_t aml_device(struct aml *a, const char *seg)
{
	size_t pos;

	aml_byte(a, AML_EXT_PREFIX);
	aml_byte(a, AML_DEVICE);
	pos = aml_open(a);
	aml_nameseg(a, seg);
	return pos;
}

/* Name(seg, Buffer() { @res }) with an end tag appended. */
static void aml_name_resources(struct aml *a, const char *seg, const uint8_t *res, size_t len)
{
	/* End tag, checksum 0 ("the checksum is treated as correct"). */
	static const uint8_t end[2] = { 0x79, 0x00 };
	size_t pos;

	aml_byte(a, AML_NAME);
	aml_nameseg(a, seg);
	aml_byte(a, AML_BUFFER);
	pos = aml_open(a);
	aml_integer(a, len + sizeof(end));
	aml_put(a, res, len);
	aml_put(a, end, sizeof(end));
	aml_close(a, pos);
}

/* EISAID("PNP0501"): three 5-bit letters and four hex digits, big-endian. */
static uint32_t eisaid(const char *id)
{
	uint32_t v = 0;
	int i;

	v |= (uint32_t)(id[0] & 0x1f) << 26;
	v |= (uint32_t)(id[1] & 0x1f) << 21;
	v |= (uint32_t)(id[2] & 0x1f) << 16;
	for (i = 3; i < 7; i++) {
		char c = id[i];

		v |= (uint32_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10) << (4 * (6 - i));
	}
	return __builtin_bswap32(v);
}

/* Extended Interrupt descriptor (6.4.3.6), one interrupt, consumer. */
static size_t res_ext_irq(uint8_t *p, uint32_t gsi, bool edge)
{
	p[0] = 0x89;
	put16(p + 1, 6);
	p[3] = 0x01 | (edge ? 0x02 : 0);	/* consumer, active-high, exclusive */
	p[4] = 1;
	put32(p + 5, gsi);
	return 9;
}

static void aml_uart(struct aml *a, uint16_t port, uint32_t gsi)
{
	uint8_t res[24];
	size_t n = 0, dev;

	dev = aml_device(a, "COM1");
	aml_byte(a, AML_NAME);
	aml_nameseg(a, "_HID");
	aml_dword(a, eisaid("PNP0501"));
	aml_byte(a, AML_NAME);
	aml_nameseg(a, "_UID");
	aml_integer(a, 0);

	/* IO(Decode16, port, port, 1, 8) (6.4.2.5) */
	res[n++] = 0x47;
	res[n++] = 0x01;
	put16(res + n, port);
	put16(res + n + 2, port);
	n += 4;
	res[n++] = 1;
	res[n++] = 8;
	if (gsi < 16) {
		/* IRQNoFlags(){gsi} (6.4.2.1): edge, active-high, exclusive */
		res[n++] = 0x22;
		put16(res + n, 1u << gsi);
		n += 2;
	} else {
		n += res_ext_irq(res + n, gsi, true);
	}
	aml_name_resources(a, "_CRS", res, n);
	aml_close(a, dev);
}

static void aml_virtio(struct aml *a, unsigned int idx, const struct libvmx_acpi_virtio *v)
{
	static const char hex[] = "0123456789ABCDEF";
	char seg[4] = { 'V', hex[(idx >> 8) & 0xf], hex[(idx >> 4) & 0xf], hex[idx & 0xf] };
	uint8_t res[32];
	size_t n = 0, dev;

	dev = aml_device(a, seg);
	aml_byte(a, AML_NAME);
	aml_nameseg(a, "_HID");
	aml_string(a, "LNRO0005");
	aml_byte(a, AML_NAME);
	aml_nameseg(a, "_UID");
	aml_integer(a, idx);

	/* Memory32Fixed(ReadWrite, addr, size) (6.4.3.4) */
	res[n++] = 0x86;
	put16(res + n, 9);
	n += 2;
	res[n++] = 0x01;
	put32(res + n, v->addr);
	put32(res + n + 4, v->size);
	n += 8;
	/* Interrupt(ResourceConsumer, Level, ActiveHigh, Exclusive) {gsi} */
	n += res_ext_irq(res + n, v->gsi, false);
	aml_name_resources(a, "_CRS", res, n);
	aml_close(a, dev);
}

/* The DSDT's AML, after the table header. */
static void aml_dsdt_body(struct aml *a, const struct libvmx_acpi_config *cfg)
{
	size_t pkg, scope;
	unsigned int i;

	/* Name(\_S5, Package() { 5, 5, 0, 0 }) */
	aml_byte(a, AML_NAME);
	aml_byte(a, AML_ROOT);
	aml_nameseg(a, "_S5_");
	aml_byte(a, AML_PACKAGE);
	pkg = aml_open(a);
	aml_byte(a, 4);
	aml_integer(a, LIBVMX_ACPI_S5_TYP);
	aml_integer(a, LIBVMX_ACPI_S5_TYP);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_close(a, pkg);

	if (!cfg->uart_port && !cfg->nr_virtio)
		return;
	/* Scope(\_SB) { ... } */
	aml_byte(a, AML_SCOPE);
	scope = aml_open(a);
	aml_byte(a, AML_ROOT);
	aml_nameseg(a, "_SB_");
	if (cfg->uart_port)
		aml_uart(a, cfg->uart_port, cfg->uart_gsi);
	for (i = 0; i < cfg->nr_virtio && !a->full; i++)
		aml_virtio(a, i, &cfg->virtio[i]);
	aml_close(a, scope);
}

/* ---- tables ---- */

static void sdt_header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	put32(t + 4, len);
	t[8] = rev;
	memcpy(t + 10, OEM_ID, 6);
	memcpy(t + 16, OEM_TABLE_ID, 8);
	put32(t + 24, OEM_REVISION);
	memcpy(t + 28, CREATOR_ID, 4);
	put32(t + 32, CREATOR_REV);
}

static void sdt_finish(uint8_t *t)
{
	uint32_t len = t[4] | t[5] << 8 | t[6] << 16 | (uint32_t)t[7] << 24;

	t[9] = 0;
	t[9] = checksum(t, len);
}

/* Generic Address Structure: an 8-bit system I/O register. */
static void gas_io8(uint8_t *g, uint16_t port)
{
	g[0] = GAS_SYSTEM_IO;
	g[1] = 8;
	g[2] = 0;
	g[3] = GAS_ACCESS_BYTE;
	put64(g + 4, port);
}

static void build_fadt(uint8_t *t, const struct libvmx_acpi_config *cfg, uint64_t dsdt_gpa)
{
	sdt_header(t, "FACP", FADT_LEN, 6);
	/*
	 * Hardware-reduced: no PM1/PM2/GPE/PM-timer blocks, no SCI, no SMI_CMD,
	 * no FACS; those fields stay 0.  DSDT and X_DSDT both point at the
	 * DSDT (the 32-bit one only when it is below 4 GiB).
	 */
	if (dsdt_gpa <= 0xffffffffull)
		put32(t + FADT_DSDT, dsdt_gpa);
	/*
	 * No VGA, no MSI (no PCI), the OS must not touch ASPM.  The 8042 flag
	 * is clear: there is no keyboard controller to enumerate (the VMM may
	 * still answer the reset write to port 0x64 that Linux's reboot
	 * fallback does; it does not depend on this flag).
	 */
	put16(t + FADT_IAPC_BOOT_ARCH,
	      IAPC_VGA_NOT_PRESENT | IAPC_MSI_NOT_PRESENT | IAPC_PCIE_ASPM_CONTROLS);
	put32(t + FADT_FLAGS, FADT_F_HW_REDUCED_ACPI | FADT_F_RESET_REG_SUP);
	gas_io8(t + FADT_RESET_REG, cfg->reset_port);
	t[FADT_RESET_VALUE] = cfg->reset_value;
	t[FADT_MINOR_VERSION] = 5;	/* ACPI 6.5 */
	put64(t + FADT_X_DSDT, dsdt_gpa);
	gas_io8(t + FADT_SLEEP_CONTROL, cfg->sleep_port);
	gas_io8(t + FADT_SLEEP_STATUS, cfg->sleep_port + 1);
	memcpy(t + FADT_HYPERVISOR_ID, "VMX\0\0\0\0\0", 8);
	sdt_finish(t);
}

static uint32_t madt_len(const struct libvmx_acpi_config *cfg)
{
	return MADT_HDR_LEN + cfg->nr_cpus * MADT_LAPIC_LEN + MADT_IOAPIC_LEN;
}

static void build_madt(uint8_t *t, const struct libvmx_acpi_config *cfg)
{
	uint8_t *e = t + MADT_HDR_LEN;
	unsigned int i;

	sdt_header(t, "APIC", madt_len(cfg), 5);
	put32(t + 36, cfg->lapic_addr);
	/* Flags 0: no PCAT_COMPAT, there is no 8259 to mask. */
	put32(t + 40, 0);
	for (i = 0; i < cfg->nr_cpus; i++, e += MADT_LAPIC_LEN) {
		e[0] = 0;			/* Processor Local APIC */
		e[1] = MADT_LAPIC_LEN;
		e[2] = i;			/* ACPI Processor UID */
		e[3] = i;			/* APIC ID */
		put32(e + 4, 1);		/* Enabled */
	}
	e[0] = 1;				/* I/O APIC */
	e[1] = MADT_IOAPIC_LEN;
	e[2] = cfg->ioapic_id;
	e[3] = 0;
	put32(e + 4, cfg->ioapic_addr);
	put32(e + 8, cfg->ioapic_gsi_base);
	/*
	 * No Interrupt Source Override: without one, ISA IRQ n is GSI n,
	 * edge-triggered, active-high (ACPI 6.5 5.2.12.5), which is what the
	 * UART on IRQ 4 uses.  Linux also skips the SCI override on
	 * hardware-reduced platforms.  An override would only be needed for a
	 * UART GSI other than its ISA IRQ, and the DSDT names the GSI anyway.
	 */
	sdt_finish(t);
}

static void build_xsdt(uint8_t *t, uint64_t fadt_gpa, uint64_t madt_gpa)
{
	sdt_header(t, "XSDT", XSDT_LEN, 1);
	put64(t + SDT_HDR_LEN, fadt_gpa);
	put64(t + SDT_HDR_LEN + 8, madt_gpa);
	sdt_finish(t);
}

static void build_rsdp(uint8_t *r, uint64_t xsdt_gpa)
{
	memcpy(r, "RSD PTR ", 8);
	memcpy(r + 9, OEM_ID, 6);
	r[15] = 2;			/* revision 2: ACPI 2.0+ with XSDT */
	put32(r + 16, 0);		/* no RSDT */
	put32(r + 20, RSDP_LEN);
	put64(r + 24, xsdt_gpa);
	r[8] = checksum(r, 20);
	r[32] = checksum(r, RSDP_LEN);
}

static int check_config(const struct libvmx_acpi_config *cfg)
{
	unsigned int i;

	if (!cfg || !cfg->nr_cpus || cfg->nr_cpus > 255)
		return -EINVAL;
	if (cfg->lapic_addr > 0xffffffffull || cfg->ioapic_addr > 0xffffffffull)
		return -EINVAL;
	if (cfg->sleep_port == 0xffff || cfg->uart_port > 0xffff - 7)
		return -EINVAL;
	if (cfg->nr_virtio && !cfg->virtio)
		return -EINVAL;
	if (cfg->nr_virtio > LIBVMX_ACPI_MAX_VIRTIO)
		return -EINVAL;
	for (i = 0; i < cfg->nr_virtio; i++) {
		const struct libvmx_acpi_virtio *v = &cfg->virtio[i];

		if (v->addr > 0xffffffffull || v->addr + v->size > 0x100000000ull)
			return -EINVAL;
	}
	return 0;
}

struct layout {
	uint64_t fadt, madt, dsdt, dsdt_len, total;
	size_t aml_peak;	/* scratch needed to emit the AML */
};

static void plan(const struct libvmx_acpi_config *cfg, struct layout *l)
{
	struct aml a = { .buf = NULL, .cap = SIZE_MAX };

	aml_dsdt_body(&a, cfg);
	l->fadt = align8(XSDT_LEN);
	l->madt = align8(l->fadt + FADT_LEN);
	l->dsdt = align8(l->madt + madt_len(cfg));
	l->dsdt_len = SDT_HDR_LEN + a.len;
	l->total = l->dsdt + l->dsdt_len;
	l->aml_peak = a.peak;
}

long libvmx_acpi_tables_size(const struct libvmx_acpi_config *cfg)
{
	struct layout l;
	int ret;

	ret = check_config(cfg);
	if (ret)
		return ret;
	plan(cfg, &l);
	return l.total;
}

int libvmx_acpi_build(const struct libvmx_guest_ram *ram, uint64_t rsdp_gpa, uint64_t tables_gpa,
		      uint64_t tables_max, const struct libvmx_acpi_config *cfg)
{
	struct layout l;
	struct aml a;
	uint8_t *base, *t;
	int ret;

	if (!ram || !ram->hva)
		return -EINVAL;
	ret = check_config(cfg);
	if (ret)
		return ret;
	if (rsdp_gpa & 15 || tables_gpa & 7)
		return -EINVAL;
	plan(cfg, &l);
	if (l.total > tables_max || l.dsdt_len > 0xffffffffull)
		return -ENOSPC;
	if (tables_gpa > ram->size || ram->size - tables_gpa < l.total)
		return -ENOSPC;
	if (rsdp_gpa > ram->size || ram->size - rsdp_gpa < RSDP_LEN)
		return -ENOSPC;
	if (rsdp_gpa < tables_gpa + l.total && tables_gpa < rsdp_gpa + RSDP_LEN)
		return -EINVAL;

	/*
	 * The AML goes through a scratch buffer: a PkgLength is reserved at
	 * its longest and shrunk at close, so the emitter briefly needs more
	 * than the final size.
	 */
	a = (struct aml){ .buf = malloc(l.aml_peak ? l.aml_peak : 1), .cap = l.aml_peak };
	if (!a.buf)
		return -ENOMEM;
	aml_dsdt_body(&a, cfg);
	if (a.full || SDT_HDR_LEN + a.len != l.dsdt_len) {
		free(a.buf);
		return -EFAULT;		/* cannot happen: both passes emit the same */
	}

	base = (uint8_t *)ram->hva + tables_gpa;
	memset(base, 0, l.total);
	t = base + l.dsdt;
	sdt_header(t, "DSDT", l.dsdt_len, 2);	/* revision 2: 64-bit integers */
	memcpy(t + SDT_HDR_LEN, a.buf, a.len);
	free(a.buf);
	sdt_finish(t);

	build_madt(base + l.madt, cfg);
	build_fadt(base + l.fadt, cfg, tables_gpa + l.dsdt);
	build_xsdt(base, tables_gpa + l.fadt, tables_gpa + l.madt);

	t = (uint8_t *)ram->hva + rsdp_gpa;
	memset(t, 0, RSDP_LEN);
	build_rsdp(t, tables_gpa);
	return 0;
}

int libvmx_acpi_sleep_request(uint8_t value)
{
	if ((value & SLP_EN) &&
	    (value & SLP_TYP_MASK) >> SLP_TYP_SHIFT == LIBVMX_ACPI_S5_TYP)
		return LIBVMX_ACPI_SLEEP_S5;
	return LIBVMX_ACPI_SLEEP_NONE;
}
