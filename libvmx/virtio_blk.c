// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * virtio block device (virtio 1.2 section 5.2) on a raw image fd: one
 * request queue, requests served synchronously with preadv/pwritev.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/fs.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>

#include "virtio_priv.h"

#define BLK_HDR_SIZE	16
#define BLK_SECTOR	512

struct blk {
	int fd;
	bool readonly;
	uint64_t capacity;		/* in sectors */
	char serial[VIRTIO_BLK_ID_BYTES];
	struct iovec data[VQ_NUM_MAX];
};

/* The whole of @iov at @off, resuming after short transfers. */
static int blk_rw(int fd, struct iovec *iov, unsigned int cnt, uint64_t off,
		  bool write)
{
	while (cnt) {
		/* cnt <= VQ_NUM_MAX, below IOV_MAX. */
		int n = cnt;
		ssize_t r = write ? pwritev(fd, iov, n, off) :
				    preadv(fd, iov, n, off);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!r)
			return -EIO;	/* the image shrank under us */
		off += r;
		while (cnt && (size_t)r >= iov->iov_len) {
			r -= iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt) {
			iov->iov_base = (char *)iov->iov_base + r;
			iov->iov_len -= r;
		}
	}
	return 0;
}

static uint8_t blk_data(struct blk *blk, const struct vq_elem *e, uint32_t type,
			uint64_t sector, uint32_t *written)
{
	bool write = type == VIRTIO_BLK_T_OUT;
	/* IN: data lies between header and status; OUT: after the header. */
	uint64_t len = write ? e->out_len - BLK_HDR_SIZE : e->in_len - 1;
	unsigned int cnt;

	if (write && blk->readonly)
		return VIRTIO_BLK_S_IOERR;
	if (len % BLK_SECTOR || sector > blk->capacity ||
	    len / BLK_SECTOR > blk->capacity - sector)
		return VIRTIO_BLK_S_IOERR;
	if (!len)
		return VIRTIO_BLK_S_OK;
	if (write)
		cnt = vmx_iov_slice(e->iov, e->nr_out, BLK_HDR_SIZE, len,
				    blk->data, VQ_NUM_MAX);
	else
		cnt = vmx_iov_slice(e->iov + e->nr_out, e->nr_in, 0, len,
				    blk->data, VQ_NUM_MAX);
	if (blk_rw(blk->fd, blk->data, cnt, sector * BLK_SECTOR, write))
		return VIRTIO_BLK_S_IOERR;
	/* The used length is 32 bits; only a >4 GiB request reaches the cap. */
	if (!write)
		*written = len > UINT32_MAX - 1 ? UINT32_MAX - 1 : len;
	return VIRTIO_BLK_S_OK;
}

/* Serve one request; false: a malformed chain (guest error). */
static bool blk_request(struct libvmx_virtio_dev *dev, struct blk *blk,
			struct vq_elem *e)
{
	struct virtio_blk_outhdr hdr;
	uint32_t written = 0;
	uint8_t status;

	/* Header device-readable, status byte last and device-writable. */
	if (e->out_len < BLK_HDR_SIZE || e->in_len < 1)
		return false;
	vmx_iov_to_buf(e->iov, e->nr_out, 0, &hdr, sizeof(hdr));
	switch (hdr.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_GET_ID:
		/* The device would have to write into readable buffers. */
		if (e->out_len != BLK_HDR_SIZE)
			return false;
		break;
	}
	switch (hdr.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		status = blk_data(blk, e, hdr.type, hdr.sector, &written);
		break;
	case VIRTIO_BLK_T_FLUSH:
		status = fdatasync(blk->fd) ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
		break;
	case VIRTIO_BLK_T_GET_ID: {
		uint64_t n = e->in_len - 1;

		if (n > VIRTIO_BLK_ID_BYTES)
			n = VIRTIO_BLK_ID_BYTES;
		written = vmx_buf_to_iov(e->iov + e->nr_out, e->nr_in, 0,
					 blk->serial, n);
		status = VIRTIO_BLK_S_OK;
		break;
	}
	default:
		status = VIRTIO_BLK_S_UNSUPP;
		break;
	}
	vmx_buf_to_iov(e->iov + e->nr_out, e->nr_in, e->in_len - 1, &status, 1);
	vmx_vq_push(dev, 0, e->head, written + 1);
	return true;
}

static void blk_notify(struct libvmx_virtio_dev *dev, unsigned int q)
{
	struct blk *blk = dev->be_priv;
	struct vq_elem *e = &dev->elem;

	if (vmx_vq_begin(dev, q))
		return;
	while (vmx_vq_pop(dev, q, e) > 0) {
		if (!blk_request(dev, blk, e)) {
			vmx_virtio_fail(dev);
			return;
		}
	}
	vmx_vq_end(dev, q);
}

static void blk_destroy(struct libvmx_virtio_dev *dev)
{
	free(dev->be_priv);
}

static int blk_size(int fd, uint64_t *size)
{
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	if (S_ISBLK(st.st_mode))
		return ioctl(fd, BLKGETSIZE64, size) ? -errno : 0;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	*size = st.st_size;
	return 0;
}

int libvmx_virtio_blk_create(const struct libvmx_virtio_env *env, int fd,
			     bool readonly, struct libvmx_virtio_dev **out)
{
	struct virtio_backend be = {
		.device_id = VIRTIO_ID_BLOCK,
		.features = 1ull << VIRTIO_F_VERSION_1 |
			    1ull << VIRTIO_RING_F_INDIRECT_DESC |
			    1ull << VIRTIO_RING_F_EVENT_IDX |
			    1ull << VIRTIO_BLK_F_SEG_MAX |
			    1ull << VIRTIO_BLK_F_BLK_SIZE |
			    1ull << VIRTIO_BLK_F_FLUSH |
			    (readonly ? 1ull << VIRTIO_BLK_F_RO : 0),
		.nr_queues = 1,
		.config_size = sizeof(struct virtio_blk_config),
		.notify = blk_notify,
		.destroy = blk_destroy,
	};
	struct virtio_blk_config cfg = { 0 };
	struct libvmx_virtio_dev *dev;
	struct stat st;
	struct blk *blk;
	uint64_t size;
	int ret;

	_Static_assert(sizeof(cfg) <= VIRTIO_CONFIG_MAX, "config space");
	if (!env || !env->gpa_to_hva || !out || fd < 0)
		return -EINVAL;
	ret = blk_size(fd, &size);
	if (ret)
		return ret;
	if (fstat(fd, &st))
		return -errno;
	blk = calloc(1, sizeof(*blk));
	if (!blk)
		return -ENOMEM;
	ret = vmx_virtio_dev_new(env, &be, &dev);
	if (ret) {
		free(blk);
		return ret;
	}
	blk->fd = fd;
	blk->readonly = readonly;
	blk->capacity = size / BLK_SECTOR;
	snprintf(blk->serial, sizeof(blk->serial), "vmx-%llx",
		 (unsigned long long)st.st_ino);
	dev->be_priv = blk;
	cfg.capacity = blk->capacity;
	/* Header and status take two of the queue's descriptors. */
	cfg.seg_max = VQ_NUM_MAX - 2;
	cfg.blk_size = BLK_SECTOR;
	memcpy(dev->config, &cfg, sizeof(cfg));
	*out = dev;
	return 0;
}

int libvmx_virtio_blk_set_serial(struct libvmx_virtio_dev *dev,
				 const char *serial)
{
	struct blk *blk;

	if (!dev || !serial || dev->be.device_id != VIRTIO_ID_BLOCK)
		return -EINVAL;
	blk = dev->be_priv;
	/* Not NUL-terminated when it is 20 bytes long, as the spec says. */
	memset(blk->serial, 0, sizeof(blk->serial));
	memcpy(blk->serial, serial, strnlen(serial, sizeof(blk->serial)));
	return 0;
}
