/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvmx_fwcfg: QEMU's fw_cfg firmware configuration interface, the
 * traditional I/O port form only (selector at 0x510, data at 0x511; no DMA
 * interface, and FW_CFG_ID says so), as small guests such as multiboot test
 * kernels read it.
 *
 * Items are numbered by a 16-bit key.  Writing a key to the selector port
 * selects the item and rewinds its offset to 0; each byte read from the
 * data port gives the next byte of the item.  Reads past the item's end and
 * reads of an unknown key give 0.  Bit 14 of the selector (QEMU's write
 * channel, unsupported here) is ignored; a key with bit 15 set
 * (architecture-local items) is unknown.  Data port writes are ignored, as
 * QEMU does since 2.4.
 *
 * Built in by libvmx_fwcfg_create(): FW_CFG_SIGNATURE ("QEMU"), FW_CFG_ID
 * (1: traditional interface only) and an empty FW_CFG_FILE_DIR.  Files
 * added by libvmx_fwcfg_add_file() get keys from FW_CFG_FILE_FIRST up, in
 * the order added, and are listed in FW_CFG_FILE_DIR: a big-endian u32
 * count, then per file a big-endian u32 size, u16 key, u16 reserved and a
 * NUL-padded 56-byte name.
 *
 * Not thread-safe: the caller serialises all calls on one object.
 */
#ifndef LIBVMX_FWCFG_H
#define LIBVMX_FWCFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ports, as QEMU places them on x86. */
#define LIBVMX_FWCFG_PORT_SEL		0x510
#define LIBVMX_FWCFG_PORT_DATA		0x511

/* Standard keys, as QEMU defines them. */
#define FW_CFG_SIGNATURE	0x00
#define FW_CFG_ID		0x01
#define FW_CFG_UUID		0x02
#define FW_CFG_RAM_SIZE		0x03	/* u64 */
#define FW_CFG_NOGRAPHIC	0x04
#define FW_CFG_NB_CPUS		0x05	/* u16 */
#define FW_CFG_MACHINE_ID	0x06
#define FW_CFG_KERNEL_ADDR	0x07
#define FW_CFG_KERNEL_SIZE	0x08
#define FW_CFG_KERNEL_CMDLINE	0x09
#define FW_CFG_INITRD_ADDR	0x0a
#define FW_CFG_INITRD_SIZE	0x0b
#define FW_CFG_BOOT_DEVICE	0x0c
#define FW_CFG_NUMA		0x0d
#define FW_CFG_BOOT_MENU	0x0e
#define FW_CFG_MAX_CPUS		0x0f	/* u16 */
#define FW_CFG_KERNEL_ENTRY	0x10
#define FW_CFG_KERNEL_DATA	0x11
#define FW_CFG_INITRD_DATA	0x12
#define FW_CFG_CMDLINE_ADDR	0x13
#define FW_CFG_CMDLINE_SIZE	0x14
#define FW_CFG_CMDLINE_DATA	0x15
#define FW_CFG_SETUP_ADDR	0x16
#define FW_CFG_SETUP_SIZE	0x17
#define FW_CFG_SETUP_DATA	0x18
#define FW_CFG_FILE_DIR		0x19
#define FW_CFG_FILE_FIRST	0x20
/* Keys below this are items; files use FW_CFG_FILE_FIRST up to it. */
#define LIBVMX_FWCFG_MAX_KEY	0x3fff
/* File names, NUL included. */
#define LIBVMX_FWCFG_NAME_SIZE	56

struct libvmx_fwcfg;

/* Returns 0 or -EINVAL (@out NULL) or -ENOMEM. */
int libvmx_fwcfg_create(struct libvmx_fwcfg **out);
/* Free @fw; NULL is allowed. */
void libvmx_fwcfg_destroy(struct libvmx_fwcfg *fw);
/*
 * Add/replace item @key with a copy of @data (keys 0x0000-0x3fff; named
 * files via add_file).  Returns 0, -EINVAL (@fw NULL, @key above 0x3fff or
 * FW_CFG_FILE_DIR, @data NULL with @len non-zero), -EBUSY (@key is a file's),
 * -E2BIG (@len above UINT32_MAX) or -ENOMEM.
 */
int libvmx_fwcfg_add(struct libvmx_fwcfg *fw, uint16_t key, const void *data,
		     size_t len);
/* Little-endian u32 / u64 items; returns as libvmx_fwcfg_add(). */
int libvmx_fwcfg_add_u32(struct libvmx_fwcfg *fw, uint16_t key,
			 uint32_t value);
int libvmx_fwcfg_add_u64(struct libvmx_fwcfg *fw, uint16_t key,
			 uint64_t value);
/* A little-endian u16 item (NB_CPUS, MAX_CPUS); an addition to the API. */
int libvmx_fwcfg_add_u16(struct libvmx_fwcfg *fw, uint16_t key,
			 uint16_t value);
/*
 * Add or replace the file @name (1-55 bytes), listed in FILE_DIR 0x19.
 * Returns the file's key (>= FW_CFG_FILE_FIRST) on success, -EINVAL (@fw or
 * @name NULL, empty name, @data NULL with @len non-zero), -ENAMETOOLONG,
 * -E2BIG, -ENOSPC (no key left) or -ENOMEM.
 */
int libvmx_fwcfg_add_file(struct libvmx_fwcfg *fw, const char *name,
			  const void *data, size_t len);
/*
 * Port access: @port_offset 0 = selector (2 bytes, little-endian; a 1-byte
 * write selects that byte's key), 1 = data (1 byte; wider reads give
 * consecutive bytes).  Reads of the selector port give data bytes too, as
 * QEMU's combined port does; offsets above 1 read as 0 and ignore writes.
 * @size is the size of @data, 1 to 8 (others are ignored).
 */
void libvmx_fwcfg_io(struct libvmx_fwcfg *fw, unsigned int port_offset,
		     void *data, unsigned int size, bool is_write);

#ifdef __cplusplus
}
#endif

#endif /* LIBVMX_FWCFG_H */
