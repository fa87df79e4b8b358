// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * virtio-mmio transport (virtio 1.2 section 4.2, version 2 registers) and
 * the device side of split virtqueues (section 2.7).  The backends are
 * virtio_blk.c and virtio_net.c.
 *
 * Every value read from guest memory is copied once into a local before
 * it is checked, so a driver changing the rings under our feet can make a
 * request fail but never make us use an unchecked value.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>

#include "virtio_priv.h"

#define VIRTIO_MMIO_MAGIC	0x74726976	/* "virt" */
#define VIRTIO_MMIO_QUEUE_RESET_REG	0x0c0

/* ---- interrupts and errors ---- */

static void virtio_update_irq(struct libvmx_virtio_dev *dev)
{
	bool level = dev->isr != 0;

	if (level == dev->irq_level)
		return;
	dev->irq_level = level;
	if (dev->env.irq)
		dev->env.irq(dev->env.opaque, level);
}

static void virtio_raise(struct libvmx_virtio_dev *dev, uint32_t bits)
{
	dev->isr |= bits;
	virtio_update_irq(dev);
}

void vmx_virtio_fail(struct libvmx_virtio_dev *dev)
{
	if (dev->broken)
		return;
	dev->broken = true;
	dev->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	dev->config_gen++;
	virtio_raise(dev, VIRTIO_MMIO_INT_CONFIG);
}

bool vmx_virtio_negotiated(const struct libvmx_virtio_dev *dev,
			   unsigned int bit)
{
	return bit < 64 && (dev->drv_features >> bit) & 1;
}

bool libvmx_virtio_broken(const struct libvmx_virtio_dev *dev)
{
	return dev && dev->broken;
}

/* ---- iovec helpers ---- */

size_t vmx_iov_to_buf(const struct iovec *iov, unsigned int cnt, size_t skip,
		      void *buf, size_t len)
{
	size_t done = 0;

	for (unsigned int i = 0; i < cnt && done < len; i++) {
		size_t n;

		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		n = iov[i].iov_len - skip;
		if (n > len - done)
			n = len - done;
		memcpy((char *)buf + done, (char *)iov[i].iov_base + skip, n);
		done += n;
		skip = 0;
	}
	return done;
}

size_t vmx_buf_to_iov(const struct iovec *iov, unsigned int cnt, size_t skip,
		      const void *buf, size_t len)
{
	size_t done = 0;

	for (unsigned int i = 0; i < cnt && done < len; i++) {
		size_t n;

		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		n = iov[i].iov_len - skip;
		if (n > len - done)
			n = len - done;
		memcpy((char *)iov[i].iov_base + skip, (const char *)buf + done, n);
		done += n;
		skip = 0;
	}
	return done;
}

unsigned int vmx_iov_slice(const struct iovec *iov, unsigned int cnt,
			   size_t skip, size_t len, struct iovec *dst,
			   unsigned int max)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < cnt && len && n < max; i++) {
		size_t l;

		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		l = iov[i].iov_len - skip;
		if (l > len)
			l = len;
		dst[n].iov_base = (char *)iov[i].iov_base + skip;
		dst[n].iov_len = l;
		n++;
		len -= l;
		skip = 0;
	}
	return n;
}

/* ---- split virtqueues ---- */

static void *vq_map(struct libvmx_virtio_dev *dev, uint64_t gpa, uint64_t len)
{
	if (!len || gpa + len < gpa)
		return NULL;
	return dev->env.gpa_to_hva(dev->env.opaque, gpa, len);
}

static void vq_clear(struct virtq *vq)
{
	memset(vq, 0, sizeof(*vq));
	vq->num = VQ_NUM_MAX;
}

int vmx_vq_begin(struct libvmx_virtio_dev *dev, unsigned int q)
{
	struct virtq *vq;
	uint64_t n;
	bool event_idx;

	if (q >= dev->be.nr_queues || dev->broken ||
	    !(dev->status & VIRTIO_CONFIG_S_DRIVER_OK))
		return -1;
	vq = &dev->vq[q];
	if (!vq->ready)
		return -1;
	n = vq->num;
	event_idx = vmx_virtio_negotiated(dev, VIRTIO_RING_F_EVENT_IDX);
	/* Alignment as section 2.7 requires: the used idx is stored atomically. */
	if ((vq->desc_gpa & 15) || (vq->avail_gpa & 1) || (vq->used_gpa & 3))
		goto bad;
	vq->desc = vq_map(dev, vq->desc_gpa, 16 * n);
	vq->avail = vq_map(dev, vq->avail_gpa, 4 + 2 * n + (event_idx ? 2 : 0));
	vq->used = vq_map(dev, vq->used_gpa, 4 + 8 * n + (event_idx ? 2 : 0));
	if (!vq->desc || !vq->avail || !vq->used)
		goto bad;
	/* The host mappings must keep the guest's alignment, too. */
	if (((uintptr_t)vq->avail & 1) || ((uintptr_t)vq->used & 3))
		goto bad;
	return 0;
bad:
	vmx_virtio_fail(dev);
	return -1;
}

/* One read of a guest-shared field: the driver may change it any time. */
static uint16_t load16(const uint16_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void vq_used_event_set(struct virtq *vq, uint16_t val)
{
	/* avail_event: the u16 right after the used ring's entries. */
	uint16_t *avail_event = (uint16_t *)((char *)vq->used + 4 + 8 * vq->num);

	__atomic_store_n(avail_event, val, __ATOMIC_RELAXED);
}

/* Walk the chain starting at @head into @elem; false on a guest error. */
static bool vq_walk(struct libvmx_virtio_dev *dev, struct virtq *vq,
		    uint16_t head, struct vq_elem *elem)
{
	const struct vring_desc *table = vq->desc;
	uint32_t table_size = vq->num;
	uint32_t idx = head, count = 0;
	bool indirect = false;

	elem->head = head;
	elem->nr_out = elem->nr_in = 0;
	elem->out_len = elem->in_len = 0;
	for (;;) {
		struct vring_desc d;
		void *hva;

		if (idx >= table_size)
			return false;
		memcpy(&d, (const void *)&table[idx], sizeof(d));
		__atomic_signal_fence(__ATOMIC_SEQ_CST);

		if (d.flags & VRING_DESC_F_INDIRECT) {
			if (indirect || (d.flags & VRING_DESC_F_NEXT) ||
			    !vmx_virtio_negotiated(dev, VIRTIO_RING_F_INDIRECT_DESC))
				return false;
			if (!d.len || d.len % sizeof(struct vring_desc) ||
			    d.len / sizeof(struct vring_desc) > vq->num)
				return false;
			table = vq_map(dev, d.addr, d.len);
			if (!table)
				return false;
			table_size = d.len / sizeof(struct vring_desc);
			indirect = true;
			idx = 0;
			continue;
		}
		/* Bounds loops and over-long chains, indirect ones included. */
		if (++count > vq->num)
			return false;
		if (d.len) {
			struct iovec *iov = &elem->iov[elem->nr_out + elem->nr_in];

			hva = vq_map(dev, d.addr, d.len);
			if (!hva)
				return false;
			iov->iov_base = hva;
			iov->iov_len = d.len;
			if (d.flags & VRING_DESC_F_WRITE) {
				elem->nr_in++;
				elem->in_len += d.len;
			} else {
				/* Device-readable after device-writable. */
				if (elem->nr_in)
					return false;
				elem->nr_out++;
				elem->out_len += d.len;
			}
		}
		if (!(d.flags & VRING_DESC_F_NEXT))
			return true;
		idx = d.next;
	}
}

int vmx_vq_pop(struct libvmx_virtio_dev *dev, unsigned int q,
	       struct vq_elem *elem)
{
	struct virtq *vq = &dev->vq[q];
	bool event_idx = vmx_virtio_negotiated(dev, VIRTIO_RING_F_EVENT_IDX);
	uint16_t avail_idx, head;

	if (dev->broken)
		return -EIO;
	/* Acquire: the ring entries are read after the index that covers them. */
	avail_idx = __atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE);
	if (avail_idx == vq->last_avail && event_idx) {
		/*
		 * Ask for a notification at the next buffer, then look again:
		 * the driver may have added one before it saw avail_event.
		 */
		vq_used_event_set(vq, vq->last_avail);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		avail_idx = __atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE);
	}
	if (avail_idx == vq->last_avail)
		return 0;
	if ((uint16_t)(avail_idx - vq->last_avail) > vq->num)
		goto bad;
	head = load16(&vq->avail->ring[vq->last_avail % vq->num]);
	if (!vq_walk(dev, vq, head, elem))
		goto bad;
	vq->last_avail++;
	return 1;
bad:
	vmx_virtio_fail(dev);
	return -EIO;
}

void vmx_vq_unpop(struct libvmx_virtio_dev *dev, unsigned int q)
{
	dev->vq[q].last_avail--;
}

void vmx_vq_push(struct libvmx_virtio_dev *dev, unsigned int q, uint16_t head,
		 uint32_t len)
{
	struct virtq *vq = &dev->vq[q];
	struct vring_used_elem *e;

	if (dev->broken)
		return;
	e = &vq->used->ring[vq->used_idx % vq->num];
	__atomic_store_n(&e->id, head, __ATOMIC_RELAXED);
	__atomic_store_n(&e->len, len, __ATOMIC_RELAXED);
	vq->used_idx++;
	/* Release: the entry (and the data written) before the index. */
	__atomic_store_n(&vq->used->idx, vq->used_idx, __ATOMIC_RELEASE);
}

void vmx_vq_end(struct libvmx_virtio_dev *dev, unsigned int q)
{
	struct virtq *vq = &dev->vq[q];
	uint16_t old = vq->signal_idx, new = vq->used_idx;
	bool need;

	if (dev->broken || old == new)
		return;
	/* The used idx store before the read of the driver's suppression. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vmx_virtio_negotiated(dev, VIRTIO_RING_F_EVENT_IDX)) {
		uint16_t event = load16(&vq->avail->ring[vq->num]);

		need = (uint16_t)(new - event - 1) < (uint16_t)(new - old);
	} else {
		need = !(load16(&vq->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
	}
	vq->signal_idx = new;
	if (need)
		virtio_raise(dev, VIRTIO_MMIO_INT_VRING);
}

/* ---- transport ---- */

static void virtio_reset(struct libvmx_virtio_dev *dev)
{
	dev->status = 0;
	dev->isr = 0;
	virtio_update_irq(dev);
	dev->broken = false;
	dev->dev_feat_sel = dev->drv_feat_sel = 0;
	dev->queue_sel = dev->shm_sel = 0;
	dev->drv_features = 0;
	dev->drv_features_unknown = false;
	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++)
		vq_clear(&dev->vq[i]);
	if (dev->be.reset)
		dev->be.reset(dev);
}

int vmx_virtio_dev_new(const struct libvmx_virtio_env *env,
		       const struct virtio_backend *be,
		       struct libvmx_virtio_dev **out)
{
	struct libvmx_virtio_dev *dev;

	if (!env || !env->gpa_to_hva || !out)
		return -EINVAL;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->env = *env;
	dev->be = *be;
	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++)
		vq_clear(&dev->vq[i]);
	*out = dev;
	return 0;
}

void libvmx_virtio_destroy(struct libvmx_virtio_dev *dev)
{
	if (!dev)
		return;
	if (dev->be.destroy)
		dev->be.destroy(dev);
	free(dev);
}

static bool features_acceptable(const struct libvmx_virtio_dev *dev)
{
	return !dev->drv_features_unknown &&
	       !(dev->drv_features & ~dev->be.features) &&
	       vmx_virtio_negotiated(dev, VIRTIO_F_VERSION_1);
}

static int write_status(struct libvmx_virtio_dev *dev, uint32_t val)
{
	uint32_t old = dev->status;

	if (!val) {
		virtio_reset(dev);
		return 0;
	}
	val &= 0xff;
	/* DEVICE_NEEDS_RESET is the device's; the driver cannot clear others. */
	val = (val & ~VIRTIO_CONFIG_S_NEEDS_RESET) |
	      (old & VIRTIO_CONFIG_S_NEEDS_RESET);
	if (old & ~val)
		return -EINVAL;
	if ((val & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    !(old & VIRTIO_CONFIG_S_FEATURES_OK) && !features_acceptable(dev))
		val &= ~VIRTIO_CONFIG_S_FEATURES_OK;
	if (!(val & VIRTIO_CONFIG_S_FEATURES_OK))
		val &= ~VIRTIO_CONFIG_S_DRIVER_OK;
	dev->status = val;
	if ((val & VIRTIO_CONFIG_S_DRIVER_OK) &&
	    !(old & VIRTIO_CONFIG_S_DRIVER_OK)) {
		/* Buffers made available (and notified) before DRIVER_OK. */
		for (unsigned int q = 0; q < dev->be.nr_queues; q++)
			if (dev->vq[q].ready && dev->be.notify)
				dev->be.notify(dev, q);
	}
	return 0;
}

static struct virtq *sel_queue(struct libvmx_virtio_dev *dev)
{
	return dev->queue_sel < dev->be.nr_queues ? &dev->vq[dev->queue_sel] :
						    NULL;
}

static void set_half(uint64_t *p, bool high, uint32_t val)
{
	if (high)
		*p = (*p & 0xffffffffull) | (uint64_t)val << 32;
	else
		*p = (*p & ~0xffffffffull) | val;
}

static int reg_read(struct libvmx_virtio_dev *dev, uint64_t off, uint32_t *val)
{
	struct virtq *vq = sel_queue(dev);

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		*val = VIRTIO_MMIO_MAGIC;
		return 0;
	case VIRTIO_MMIO_VERSION:
		*val = 2;
		return 0;
	case VIRTIO_MMIO_DEVICE_ID:
		*val = dev->be.device_id;
		return 0;
	case VIRTIO_MMIO_VENDOR_ID:
		*val = LIBVMX_VIRTIO_VENDOR_ID;
		return 0;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		*val = dev->dev_feat_sel < 2 ?
		       (uint32_t)(dev->be.features >> (32 * dev->dev_feat_sel)) : 0;
		return 0;
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		*val = vq ? VQ_NUM_MAX : 0;
		return 0;
	case VIRTIO_MMIO_QUEUE_READY:
		*val = vq ? vq->ready : 0;
		return 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		*val = dev->isr;
		return 0;
	case VIRTIO_MMIO_STATUS:
		*val = dev->status;
		return 0;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH: {
		uint64_t v = 0;

		if (vq) {
			v = off < VIRTIO_MMIO_QUEUE_AVAIL_LOW ? vq->desc_gpa :
			    off < VIRTIO_MMIO_QUEUE_USED_LOW ? vq->avail_gpa :
							       vq->used_gpa;
		}
		*val = (off & 4) ? v >> 32 : (uint32_t)v;
		return 0;
	}
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
	case VIRTIO_MMIO_SHM_BASE_LOW:
	case VIRTIO_MMIO_SHM_BASE_HIGH:
		/* No shared memory regions: length and base read as -1. */
		*val = 0xffffffff;
		return 0;
	case VIRTIO_MMIO_QUEUE_RESET_REG:
		*val = 0;
		return 0;
	case VIRTIO_MMIO_CONFIG_GENERATION:
		*val = dev->config_gen;
		return 0;
	}
	*val = 0;
	return -EINVAL;
}

static int write_queue_reg(struct libvmx_virtio_dev *dev, uint64_t off,
			   uint32_t val)
{
	struct virtq *vq = sel_queue(dev);

	/* Queue layout is frozen while the queue is ready (section 4.2.2.2). */
	if (!vq || vq->ready)
		return -EINVAL;
	switch (off) {
	case VIRTIO_MMIO_QUEUE_NUM:
		/* Split queues: a power of 2 up to QueueNumMax. */
		if (!val || val > VQ_NUM_MAX || (val & (val - 1)))
			return -EINVAL;
		vq->num = val;
		return 0;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		set_half(&vq->desc_gpa, off & 4, val);
		return 0;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		set_half(&vq->avail_gpa, off & 4, val);
		return 0;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		set_half(&vq->used_gpa, off & 4, val);
		return 0;
	}
	return -EINVAL;
}

static int write_queue_ready(struct libvmx_virtio_dev *dev, uint32_t val)
{
	struct virtq *vq = sel_queue(dev);

	if (!vq)
		return -EINVAL;
	if (val & 1) {
		if (!vq->ready) {
			/* A fresh ring: the driver starts its indices at 0. */
			vq->last_avail = vq->used_idx = vq->signal_idx = 0;
			vq->ready = true;
		}
	} else {
		vq->ready = false;
	}
	return 0;
}

static int reg_write(struct libvmx_virtio_dev *dev, uint64_t off, uint32_t val)
{
	bool features_open = (dev->status & VIRTIO_CONFIG_S_DRIVER) &&
			     !(dev->status & VIRTIO_CONFIG_S_FEATURES_OK);

	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		dev->dev_feat_sel = val;
		return 0;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		if (!features_open)
			return -EINVAL;
		if (dev->drv_feat_sel < 2) {
			uint64_t v = dev->drv_features;

			set_half(&v, dev->drv_feat_sel, val);
			dev->drv_features = v;
		} else if (val) {
			dev->drv_features_unknown = true;
		}
		return 0;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		dev->drv_feat_sel = val;
		return 0;
	case VIRTIO_MMIO_QUEUE_SEL:
		dev->queue_sel = val;
		return 0;
	case VIRTIO_MMIO_QUEUE_NUM:
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		return write_queue_reg(dev, off, val);
	case VIRTIO_MMIO_QUEUE_READY:
		return write_queue_ready(dev, val);
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		if (val >= dev->be.nr_queues)
			return -EINVAL;
		if (!dev->broken && (dev->status & VIRTIO_CONFIG_S_DRIVER_OK) &&
		    dev->vq[val].ready && dev->be.notify)
			dev->be.notify(dev, val);
		return 0;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		dev->isr &= ~val;
		virtio_update_irq(dev);
		return 0;
	case VIRTIO_MMIO_STATUS:
		return write_status(dev, val);
	case VIRTIO_MMIO_SHM_SEL:
		dev->shm_sel = val;
		return 0;
	}
	return -EINVAL;
}

static int config_access(struct libvmx_virtio_dev *dev, uint64_t off,
			 void *data, unsigned int size, bool is_write)
{
	off -= VIRTIO_MMIO_CONFIG;
	if (off >= dev->be.config_size || size > dev->be.config_size - off) {
		if (!is_write)
			memset(data, 0, size);
		return -EINVAL;
	}
	/* Every field of the blk and net configs we offer is read-only. */
	if (is_write)
		return -EINVAL;
	memcpy(data, dev->config + off, size);
	return 0;
}

int libvmx_virtio_mmio(struct libvmx_virtio_dev *dev, uint64_t offset,
		       void *data, unsigned int size, bool is_write)
{
	uint32_t val;
	int ret;

	if (!dev || !data)
		return -EINVAL;
	if (size != 1 && size != 2 && size != 4 && size != 8)
		return -EINVAL;
	if (offset >= LIBVMX_VIRTIO_MMIO_SIZE ||
	    size > LIBVMX_VIRTIO_MMIO_SIZE - offset)
		goto bad;
	if (offset >= VIRTIO_MMIO_CONFIG)
		return config_access(dev, offset, data, size, is_write);
	if (size != 4 || (offset & 3))
		goto bad;
	if (is_write) {
		memcpy(&val, data, 4);
		return reg_write(dev, offset, val);
	}
	ret = reg_read(dev, offset, &val);
	memcpy(data, &val, 4);
	return ret;
bad:
	if (!is_write)
		memset(data, 0, size);
	return -EINVAL;
}
