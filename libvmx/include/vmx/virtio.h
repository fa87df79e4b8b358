/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvmx virtio: virtio devices over MMIO (virtio 1.2, section 4.2, the
 * modern "version 2" register layout) with split virtqueues, as Linux's
 * virtio_mmio driver finds them through ACPI "LNRO0005" devices.
 *
 * One struct libvmx_virtio_dev is one 0x200-byte MMIO window with its
 * queues and a backend (block or network).  Queue notifications are
 * processed synchronously inside libvmx_virtio_mmio(), in the caller's
 * (vCPU) thread.
 *
 * Not thread-safe: the caller serialises every call on one device (MMIO
 * accesses, libvmx_virtio_net_rx(), destroy) with its own lock.  The
 * env callbacks are called from inside those calls, with that lock held.
 *
 * Everything the guest writes is treated as hostile.  A guest error in a
 * queue (bad descriptor index, loop, address outside RAM, ...) sets
 * DEVICE_NEEDS_RESET (status bit 0x40), raises a configuration-change
 * interrupt and makes the device inert until the guest writes 0 to
 * Status; the library never reads or writes guest memory outside what
 * gpa_to_hva returned.
 *
 * Feature bits offered: VIRTIO_F_VERSION_1, VIRTIO_RING_F_INDIRECT_DESC,
 * VIRTIO_RING_F_EVENT_IDX; block: VIRTIO_BLK_F_SEG_MAX, _BLK_SIZE, _FLUSH
 * (and _RO when read-only); network: VIRTIO_NET_F_MAC, _STATUS; entropy:
 * none of its own.
 * VendorID is LIBVMX_VIRTIO_VENDOR_ID.  Queue size: up to
 * LIBVMX_VIRTIO_QUEUE_MAX descriptors.
 */
#ifndef LIBVMX_VIRTIO_H
#define LIBVMX_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Size of a device's MMIO window (for the DSDT's Memory32Fixed). */
#define LIBVMX_VIRTIO_MMIO_SIZE		0x200
/* VendorID register: "vmx" in little-endian bytes, libvmx's own. */
#define LIBVMX_VIRTIO_VENDOR_ID		0x00786d76
/* QueueNumMax of every queue. */
#define LIBVMX_VIRTIO_QUEUE_MAX		256

/*
 * Guest memory as the device sees it: host address of [gpa, gpa+len) if it
 * is all RAM, else NULL.
 */
typedef void *(*libvmx_virtio_gpa_fn)(void *opaque, uint64_t gpa, uint64_t len);

struct libvmx_virtio_env {
	libvmx_virtio_gpa_fn gpa_to_hva;	/* vmxrun passes libvmx_gpa_to_hva's wrapper */
	void (*irq)(void *opaque, int level);	/* the device's level-triggered interrupt line */
	void *opaque;
};

/* One virtio-mmio device: transport + queues + backend. */
struct libvmx_virtio_dev;

/*
 * libvmx_virtio_mmio() - MMIO access at @offset within the device's
 * 0x200-byte window (4-byte aligned accesses to registers; the config
 * space from 0x100 any size 1/2/4/8).  @data: @size bytes, little-endian.
 * Returns 0, or -EINVAL for an access the spec does not allow (the VMM
 * ignores it / reads 0: @data is zeroed for such a read).
 * The irq callback may be called from inside (level changes only).
 */
int libvmx_virtio_mmio(struct libvmx_virtio_dev *dev, uint64_t offset,
		       void *data, unsigned int size, bool is_write);

/* libvmx_virtio_destroy() - free @dev (NULL is allowed); fds stay open. */
void libvmx_virtio_destroy(struct libvmx_virtio_dev *dev);

/*
 * libvmx_virtio_blk_create() - block device backed by the raw image at
 * @fd (a regular file or a block device; not closed by the library).
 * Capacity: the size in 512-byte sectors, rounded down, taken at create.
 * @readonly sets VIRTIO_BLK_F_RO (writes then fail with IOERR).
 * FLUSH requests call fdatasync(@fd).  GET_ID gives a serial
 * "vmx-<inode in hex>" (see libvmx_virtio_blk_set_serial()).
 * Errors: -EINVAL (NULL argument, no gpa_to_hva, @fd neither a regular
 * file nor a block device), -ENOMEM, or what fstat(2)/ioctl(BLKGETSIZE64)
 * give.
 */
int libvmx_virtio_blk_create(const struct libvmx_virtio_env *env, int fd,
			     bool readonly, struct libvmx_virtio_dev **out);

/*
 * libvmx_virtio_blk_set_serial() - the GET_ID string (at most 20 bytes
 * used).  Errors: -EINVAL (not a block device, NULL).
 */
int libvmx_virtio_blk_set_serial(struct libvmx_virtio_dev *dev,
				 const char *serial);

/*
 * libvmx_virtio_net_create() - network device.
 * @tap_fd: a tap opened with IFF_TAP|IFF_NO_PI|IFF_VNET_HDR, or -1 for a
 * device with no backend (link up, transmitted frames dropped, nothing
 * received).  The library sets the tap's vnet header size to 12
 * (TUNSETVNETHDRSZ; failure ignored, so any datagram fd whose messages
 * are a 12-byte virtio_net_hdr_v1 + frame works too, e.g. a socketpair)
 * and sets O_NONBLOCK on it.  The fd is not closed by the library.
 * @mac: 6 bytes.
 * Errors: -EINVAL (NULL argument, no gpa_to_hva), -ENOMEM, or what
 * fcntl(2) gives.
 */
int libvmx_virtio_net_create(const struct libvmx_virtio_env *env, int tap_fd,
			     const uint8_t mac[6],
			     struct libvmx_virtio_dev **out);

/*
 * libvmx_virtio_net_rx() - for a net device with a tap: the VMM calls
 * this when tap_fd is readable (from any thread, serialised with the
 * MMIO calls by the caller's lock).  Moves frames from the tap into the
 * guest's posted receive buffers (at most 256 per call).
 *
 * Returns the number of frames delivered (0: the tap is drained, or the
 * guest is not ready to receive: frames are then read and dropped), or
 * -ENOBUFS: a frame is waiting but the guest posted no buffer.  The frame
 * is kept and delivered as soon as the guest posts buffers (its
 * QueueNotify of the receive queue drains the tap); until then, stop
 * polling tap_fd level-triggered (use EPOLLET, or resume polling after
 * the next MMIO access).  -EINVAL: not a net device with a tap.
 * Frames that do not fit in one receive buffer are dropped.
 */
int libvmx_virtio_net_rx(struct libvmx_virtio_dev *dev);

/*
 * libvmx_virtio_rng_create() - entropy device (virtio-rng, DeviceID 4):
 * the guest's buffers are filled from getrandom(2), at most 64 KiB per
 * request.  No config space.  Errors: -EINVAL, -ENOMEM.
 */
int libvmx_virtio_rng_create(const struct libvmx_virtio_env *env,
			     struct libvmx_virtio_dev **out);

/*
 * libvmx_virtio_broken() - true once the device hit a guest error (bad
 * descriptor...) and set DEVICE_NEEDS_RESET; it stays inert until the
 * guest resets it.
 */
bool libvmx_virtio_broken(const struct libvmx_virtio_dev *dev);

#ifdef __cplusplus
}
#endif

#endif /* LIBVMX_VIRTIO_H */
