/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvmx virtio internals: the transport and split-virtqueue core
 * (virtio.c) and what the backends (virtio_blk.c, virtio_net.c) use.
 */
#ifndef LIBVMX_VIRTIO_PRIV_H
#define LIBVMX_VIRTIO_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include <linux/virtio_ring.h>

#include "vmx/virtio.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "virtio 1 structures are little-endian, and so is the host");

#define VQ_NUM_MAX	LIBVMX_VIRTIO_QUEUE_MAX
#define VIRTIO_MAX_QUEUES	2
#define VIRTIO_CONFIG_MAX	128

/* One device-side view of a descriptor chain: readable segments first. */
struct vq_elem {
	uint16_t head;
	unsigned int nr_out, nr_in;
	uint64_t out_len, in_len;
	struct iovec iov[VQ_NUM_MAX];
};

struct virtq {
	uint32_t num;		/* QueueNum */
	bool ready;		/* QueueReady */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t last_avail;	/* next avail ring slot the device takes */
	uint16_t used_idx;	/* used idx the device last published */
	uint16_t signal_idx;	/* used idx at the last interrupt decision */
	/* Host views of the rings, mapped by vmx_vq_begin(). */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
};

struct libvmx_virtio_dev;

struct virtio_backend {
	uint32_t device_id;
	uint64_t features;
	unsigned int nr_queues;
	uint32_t config_size;
	/* The guest notified queue @q (or DRIVER_OK came): process it. */
	void (*notify)(struct libvmx_virtio_dev *dev, unsigned int q);
	/* The guest reset the device (status 0). */
	void (*reset)(struct libvmx_virtio_dev *dev);
	void (*destroy)(struct libvmx_virtio_dev *dev);
};

struct libvmx_virtio_dev {
	struct libvmx_virtio_env env;
	struct virtio_backend be;
	void *be_priv;
	uint32_t status;
	uint32_t isr;
	bool irq_level;
	bool broken;
	uint32_t dev_feat_sel, drv_feat_sel, queue_sel, shm_sel;
	uint64_t drv_features;
	bool drv_features_unknown;	/* a bit set beyond the 64 we know */
	uint32_t config_gen;
	struct virtq vq[VIRTIO_MAX_QUEUES];
	uint8_t config[VIRTIO_CONFIG_MAX];
	struct vq_elem elem;		/* scratch: one request at a time */
};

int vmx_virtio_dev_new(const struct libvmx_virtio_env *env,
		       const struct virtio_backend *be,
		       struct libvmx_virtio_dev **out);
/* Guest error: DEVICE_NEEDS_RESET, config interrupt, inert until reset. */
void vmx_virtio_fail(struct libvmx_virtio_dev *dev);
bool vmx_virtio_negotiated(const struct libvmx_virtio_dev *dev, unsigned int bit);

/* 0: the queue may be processed (rings mapped); -1: not now. */
int vmx_vq_begin(struct libvmx_virtio_dev *dev, unsigned int q);
/* 1: @elem holds the next chain; 0: ring empty; -EIO: guest error (failed). */
int vmx_vq_pop(struct libvmx_virtio_dev *dev, unsigned int q, struct vq_elem *elem);
/* Give the last popped chain back (not consumed). */
void vmx_vq_unpop(struct libvmx_virtio_dev *dev, unsigned int q);
void vmx_vq_push(struct libvmx_virtio_dev *dev, unsigned int q, uint16_t head, uint32_t len);
/* End of a pass: interrupt the driver if it asked for it. */
void vmx_vq_end(struct libvmx_virtio_dev *dev, unsigned int q);

/* Copies between a flat buffer and iovecs at byte offset @skip; return bytes copied. */
size_t vmx_iov_to_buf(const struct iovec *iov, unsigned int cnt, size_t skip,
		      void *buf, size_t len);
size_t vmx_buf_to_iov(const struct iovec *iov, unsigned int cnt, size_t skip,
		      const void *buf, size_t len);
/* @len bytes of @iov from @skip into @dst (room for @max); returns the count. */
unsigned int vmx_iov_slice(const struct iovec *iov, unsigned int cnt, size_t skip,
			   size_t len, struct iovec *dst, unsigned int max);

#endif /* LIBVMX_VIRTIO_PRIV_H */
