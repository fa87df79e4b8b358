/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvmx ACPI tables for a "microvm with ACPI" platform: no PIC, PIT, RTC,
 * HPET or PCI; LAPICs, one IOAPIC, an optional 8250 and virtio-mmio devices
 * described in the DSDT, power off through the hardware-reduced sleep
 * control register, reset through the FADT reset register.
 *
 * Stateless: the functions keep no state and may be called from any thread,
 * as long as nobody else writes the guest RAM range being filled.
 */
#ifndef VMX_ACPI_H
#define VMX_ACPI_H

#include <stdint.h>

#include <vmx/libvmx.h>

/* One virtio-mmio device: a DSDT Device with _HID "LNRO0005". */
struct libvmx_acpi_virtio {
	uint64_t addr;		/* MMIO base, below 4 GiB (Memory32Fixed) */
	uint32_t size;		/* MMIO window size, e.g. 0x200 */
	uint32_t gsi;		/* level, active-high interrupt */
};

struct libvmx_acpi_config {
	unsigned int nr_cpus;		/* Processor Local APIC entries, APIC ids 0..nr_cpus-1 */
	uint64_t lapic_addr;		/* 0xfee00000 */
	uint64_t ioapic_addr;		/* 0xfec00000 */
	uint8_t ioapic_id;
	uint32_t ioapic_gsi_base;	/* 0 */
	uint16_t sleep_port;		/* FADT SLEEP_CONTROL_REG (I/O, 8 bit); SLEEP_STATUS_REG = sleep_port + 1 */
	uint16_t reset_port;		/* FADT RESET_REG (I/O, 8 bit) */
	uint8_t reset_value;
	uint16_t uart_port;		/* 0: no UART in the DSDT; else a PNP0501 at this port */
	uint32_t uart_gsi;		/* e.g. 4 */
	const struct libvmx_acpi_virtio *virtio;
	unsigned int nr_virtio;
};

#define LIBVMX_ACPI_SLEEP_NONE	0
#define LIBVMX_ACPI_SLEEP_S5	5
#define LIBVMX_ACPI_S5_TYP	5	/* the DSDT's \_S5 SLP_TYP: writing (5 << 2) | (1 << 5) to sleep_port powers off */

/* Device names are "V000".."VFFF": at most this many virtio devices. */
#define LIBVMX_ACPI_MAX_VIRTIO	4096

/*
 * RSDP at @rsdp_gpa (16-byte aligned), XSDT/FADT/MADT/DSDT packed from
 * @tables_gpa (8-byte aligned), at most @tables_max bytes.
 * Returns 0 on success (libvmx_acpi_tables_size() tells how many bytes).
 * Errors: -EINVAL (NULL @ram/@cfg, NULL ram->hva, 0 or > 255 CPUs, misaligned
 * addresses, LAPIC/IOAPIC/virtio address not below 4 GiB, NULL @cfg->virtio
 * with nr_virtio > 0, nr_virtio > LIBVMX_ACPI_MAX_VIRTIO, sleep_port 0xffff,
 * RSDP overlapping the tables), -ENOSPC (does not fit in @tables_max or in
 * RAM).  On error nothing has been written to guest RAM.
 */
int libvmx_acpi_build(const struct libvmx_guest_ram *ram, uint64_t rsdp_gpa, uint64_t tables_gpa,
		      uint64_t tables_max, const struct libvmx_acpi_config *cfg);

/*
 * The number of bytes libvmx_acpi_build() uses from @tables_gpa for @cfg
 * (tables 8-byte aligned, DSDT last), or -EINVAL as libvmx_acpi_build().
 */
long libvmx_acpi_tables_size(const struct libvmx_acpi_config *cfg);

/*
 * What a guest write of @value to sleep_port asks for: LIBVMX_ACPI_SLEEP_NONE,
 * or LIBVMX_ACPI_SLEEP_S5 (SLP_EN set and SLP_TYP 5).
 */
int libvmx_acpi_sleep_request(uint8_t value);

#endif /* VMX_ACPI_H */
