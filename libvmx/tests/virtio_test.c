// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * virtio-mmio devices on the host: a small driver here does what Linux's
 * virtio_mmio + virtio_blk/virtio_net do (reset, ACKNOWLEDGE, DRIVER,
 * features, FEATURES_OK, queues, DRIVER_OK), over a malloc'ed "guest
 * memory" whose gpa_to_hva checks bounds, then posts requests and hostile
 * rings.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "vmx/virtio.h"
#include "kselftest_harness.h"

#define MEM_SIZE	(1 << 20)
#define DATA_BASE	0x20000
#define INDIRECT_BASE	0x10000

struct drv {
	struct libvmx_virtio_dev *dev;
	struct libvmx_virtio_env env;
	uint8_t *mem;
	int irq_level, irq_calls;
	int bad_gpa;		/* gpa_to_hva calls answered NULL */
	struct {
		uint64_t desc, avail, used;
		uint16_t num, avail_idx, next_desc;
	} q[2];
	uint64_t data;		/* bump allocator in guest memory */
};

static void *t_gpa(void *opaque, uint64_t gpa, uint64_t len)
{
	struct drv *d = opaque;

	if (gpa >= MEM_SIZE || len > MEM_SIZE - gpa) {
		d->bad_gpa++;
		return NULL;
	}
	return d->mem + gpa;
}

static void t_irq(void *opaque, int level)
{
	struct drv *d = opaque;

	d->irq_level = level;
	d->irq_calls++;
}

static struct drv *drv_new(void)
{
	struct drv *d = calloc(1, sizeof(*d));

	d->mem = calloc(1, MEM_SIZE);
	d->env.gpa_to_hva = t_gpa;
	d->env.irq = t_irq;
	d->env.opaque = d;
	d->data = DATA_BASE;
	return d;
}

static void drv_free(struct drv *d)
{
	libvmx_virtio_destroy(d->dev);
	free(d->mem);
	free(d);
}

static uint32_t rd(struct drv *d, uint64_t off)
{
	uint32_t v = 0xdeadbeef;

	libvmx_virtio_mmio(d->dev, off, &v, 4, false);
	return v;
}

static int wr(struct drv *d, uint64_t off, uint32_t v)
{
	return libvmx_virtio_mmio(d->dev, off, &v, 4, true);
}

static uint64_t dev_features(struct drv *d)
{
	uint64_t f;

	wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	f = (uint64_t)rd(d, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	return f | rd(d, VIRTIO_MMIO_DEVICE_FEATURES);
}

/* Status up to FEATURES_OK with @features; returns the status read back. */
static uint32_t drv_negotiate(struct drv *d, uint64_t features)
{
	wr(d, VIRTIO_MMIO_STATUS, 0);
	wr(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	wr(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE |
	   VIRTIO_CONFIG_S_DRIVER);
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES, features >> 32);
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
	wr(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE |
	   VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
	return rd(d, VIRTIO_MMIO_STATUS);
}

static void drv_queue(struct drv *d, unsigned int q, uint16_t num)
{
	uint64_t base = 0x1000 + q * 0x6000;

	d->q[q].num = num;
	d->q[q].desc = base;
	d->q[q].avail = base + 0x1000;
	d->q[q].used = base + 0x2000;
	d->q[q].avail_idx = 0;
	d->q[q].next_desc = 0;
	memset(d->mem + base, 0, 0x6000);
	wr(d, VIRTIO_MMIO_QUEUE_SEL, q);
	wr(d, VIRTIO_MMIO_QUEUE_NUM, num);
	wr(d, VIRTIO_MMIO_QUEUE_DESC_LOW, d->q[q].desc);
	wr(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
	wr(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, d->q[q].avail);
	wr(d, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 0);
	wr(d, VIRTIO_MMIO_QUEUE_USED_LOW, d->q[q].used);
	wr(d, VIRTIO_MMIO_QUEUE_USED_HIGH, 0);
	wr(d, VIRTIO_MMIO_QUEUE_READY, 1);
}

/* The whole Linux init sequence; 0 on success. */
static int drv_init(struct drv *d, uint64_t want, unsigned int nq, uint16_t num)
{
	uint64_t f = dev_features(d) & want;

	if (!(drv_negotiate(d, f) & VIRTIO_CONFIG_S_FEATURES_OK))
		return -1;
	for (unsigned int q = 0; q < nq; q++)
		drv_queue(d, q, num);
	wr(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE |
	   VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK |
	   VIRTIO_CONFIG_S_DRIVER_OK);
	return rd(d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_DRIVER_OK ? 0 : -1;
}

static struct vring_desc *desc(struct drv *d, unsigned int q, unsigned int i)
{
	return (struct vring_desc *)(d->mem + d->q[q].desc) + i;
}

static void set_desc(struct vring_desc *p, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	p->addr = addr;
	p->len = len;
	p->flags = flags;
	p->next = next;
}

static struct vring_avail *avail(struct drv *d, unsigned int q)
{
	return (struct vring_avail *)(d->mem + d->q[q].avail);
}

static struct vring_used *used(struct drv *d, unsigned int q)
{
	return (struct vring_used *)(d->mem + d->q[q].used);
}

static void publish(struct drv *d, unsigned int q, uint16_t head)
{
	struct vring_avail *a = avail(d, q);

	a->ring[d->q[q].avail_idx % d->q[q].num] = head;
	__atomic_store_n(&a->idx, ++d->q[q].avail_idx, __ATOMIC_RELEASE);
}

static void kick(struct drv *d, unsigned int q)
{
	wr(d, VIRTIO_MMIO_QUEUE_NOTIFY, q);
}

struct seg {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

/* A direct (or indirect) chain of @n segments; returns its head. */
static uint16_t post(struct drv *d, unsigned int q, const struct seg *s,
		     unsigned int n, bool indirect)
{
	uint16_t head = d->q[q].next_desc;

	if (indirect) {
		struct vring_desc *t = (void *)(d->mem + INDIRECT_BASE);

		for (unsigned int i = 0; i < n; i++)
			set_desc(&t[i], s[i].gpa, s[i].len,
				 (s[i].write ? VRING_DESC_F_WRITE : 0) |
				 (i + 1 < n ? VRING_DESC_F_NEXT : 0), i + 1);
		set_desc(desc(d, q, head), INDIRECT_BASE, n * 16,
			 VRING_DESC_F_INDIRECT, 0);
		d->q[q].next_desc = (head + 1) % d->q[q].num;
	} else {
		for (unsigned int i = 0; i < n; i++) {
			uint16_t idx = (head + i) % d->q[q].num;

			set_desc(desc(d, q, idx), s[i].gpa, s[i].len,
				 (s[i].write ? VRING_DESC_F_WRITE : 0) |
				 (i + 1 < n ? VRING_DESC_F_NEXT : 0),
				 (idx + 1) % d->q[q].num);
		}
		d->q[q].next_desc = (head + n) % d->q[q].num;
	}
	publish(d, q, head);
	kick(d, q);
	return head;
}

static uint64_t galloc(struct drv *d, size_t len)
{
	uint64_t g = d->data;

	d->data += (len + 15) & ~15ul;
	return g;
}

/* ---- block helpers ---- */

static int tmp_image(size_t size)
{
	char name[] = "/tmp/virtio_test.XXXXXX";
	int fd = mkstemp(name);
	uint8_t *buf = malloc(size);

	unlink(name);
	for (size_t i = 0; i < size; i++)
		buf[i] = (uint8_t)(i * 7 + i / 512);
	if (pwrite(fd, buf, size, 0) != (ssize_t)size) {
		close(fd);
		fd = -1;
	}
	free(buf);
	return fd;
}

static struct drv *blk_setup(int fd, bool ro, uint64_t want)
{
	struct drv *d = drv_new();

	if (libvmx_virtio_blk_create(&d->env, fd, ro, &d->dev) ||
	    drv_init(d, want, 1, 256)) {
		drv_free(d);
		return NULL;
	}
	return d;
}

/* One request: header + data + status; returns the status byte. */
static int blk_req(struct drv *d, uint32_t type, uint64_t sector, uint64_t data,
		   uint32_t len, bool indirect, uint32_t *used_len)
{
	uint64_t hdr = galloc(d, 16), st = galloc(d, 1);
	struct virtio_blk_outhdr *h = (void *)(d->mem + hdr);
	struct seg s[3];
	unsigned int n = 0;
	uint16_t head, ui;

	h->type = type;
	h->ioprio = 0;
	h->sector = sector;
	d->mem[st] = 0xff;
	s[n++] = (struct seg){ hdr, 16, false };
	if (len)
		s[n++] = (struct seg){ data, len, type != VIRTIO_BLK_T_OUT };
	s[n++] = (struct seg){ st, 1, true };
	ui = used(d, 0)->idx;
	head = post(d, 0, s, n, indirect);
	if (used(d, 0)->idx != (uint16_t)(ui + 1) ||
	    used(d, 0)->ring[ui % d->q[0].num].id != head)
		return -1;
	if (used_len)
		*used_len = used(d, 0)->ring[ui % d->q[0].num].len;
	return d->mem[st];
}

#define ALL_FEATURES	(~0ull)

static int check_broken(struct drv *d);

TEST(transport_registers)
{
	int fd = tmp_image(64 * 1024 + 100);
	struct drv *d = drv_new();
	uint64_t v8 = 0;
	uint16_t v2;
	uint8_t v1;
	uint32_t v4;

	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, libvmx_virtio_blk_create(&d->env, fd, false, &d->dev));
	EXPECT_EQ(0x74726976, rd(d, VIRTIO_MMIO_MAGIC_VALUE));
	EXPECT_EQ(2, rd(d, VIRTIO_MMIO_VERSION));
	EXPECT_EQ(2, rd(d, VIRTIO_MMIO_DEVICE_ID));
	EXPECT_EQ(LIBVMX_VIRTIO_VENDOR_ID, rd(d, VIRTIO_MMIO_VENDOR_ID));
	EXPECT_EQ(0, rd(d, VIRTIO_MMIO_STATUS));
	/* Capacity 128 sectors (the 100-byte tail is not a sector). */
	EXPECT_EQ(0, libvmx_virtio_mmio(d->dev, 0x100, &v8, 8, false));
	EXPECT_EQ(128, v8);
	EXPECT_EQ(0, libvmx_virtio_mmio(d->dev, 0x100, &v1, 1, false));
	EXPECT_EQ(128, v1);
	EXPECT_EQ(0, libvmx_virtio_mmio(d->dev, 0x100, &v2, 2, false));
	EXPECT_EQ(128, v2);
	EXPECT_EQ(0, libvmx_virtio_mmio(d->dev, 0x100 + 20, &v4, 4, false));
	EXPECT_EQ(512, v4);	/* blk_size */
	EXPECT_EQ(0, libvmx_virtio_mmio(d->dev, 0x100 + 12, &v4, 4, false));
	EXPECT_EQ(254, v4);	/* seg_max */
	/* Config writes, accesses past the config or the window, odd sizes. */
	EXPECT_EQ(-EINVAL, libvmx_virtio_mmio(d->dev, 0x100, &v8, 8, true));
	v4 = 5;
	EXPECT_EQ(-EINVAL, libvmx_virtio_mmio(d->dev, 0x1fc, &v4, 4, false));
	EXPECT_EQ(0, v4);
	EXPECT_EQ(-EINVAL, libvmx_virtio_mmio(d->dev, 0x1fe, &v4, 4, false));
	EXPECT_EQ(-EINVAL, libvmx_virtio_mmio(d->dev, 0x200, &v4, 4, false));
	EXPECT_EQ(-EINVAL, libvmx_virtio_mmio(d->dev, ~0ull, &v4, 4, false));
	EXPECT_EQ(-EINVAL, libvmx_virtio_mmio(d->dev, 0x100, &v4, 3, false));
	/* Registers: 4 bytes, aligned; write-only ones read as 0. */
	v4 = 7;
	EXPECT_EQ(-EINVAL, libvmx_virtio_mmio(d->dev, 0x2, &v4, 2, false));
	EXPECT_EQ(0, v4 & 0xffff);
	EXPECT_EQ(-EINVAL, libvmx_virtio_mmio(d->dev, 0x1, &v4, 4, false));
	EXPECT_EQ(-EINVAL, libvmx_virtio_mmio(d->dev, VIRTIO_MMIO_QUEUE_NOTIFY,
					      &v4, 4, false));
	EXPECT_EQ(-EINVAL, wr(d, VIRTIO_MMIO_MAGIC_VALUE, 1));
	EXPECT_EQ(-EINVAL, wr(d, VIRTIO_MMIO_QUEUE_PFN, 1));	/* legacy */
	/* One queue: QueueNumMax 256, and 0 for a queue that is not there. */
	wr(d, VIRTIO_MMIO_QUEUE_SEL, 0);
	EXPECT_EQ(256, rd(d, VIRTIO_MMIO_QUEUE_NUM_MAX));
	wr(d, VIRTIO_MMIO_QUEUE_SEL, 1);
	EXPECT_EQ(0, rd(d, VIRTIO_MMIO_QUEUE_NUM_MAX));
	EXPECT_EQ(-EINVAL, wr(d, VIRTIO_MMIO_QUEUE_READY, 1));
	EXPECT_EQ(0xffffffff, rd(d, VIRTIO_MMIO_SHM_LEN_LOW));
	drv_free(d);
	close(fd);
}

TEST(feature_negotiation)
{
	int fd = tmp_image(4096);
	struct drv *d = drv_new();
	uint64_t f;

	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, libvmx_virtio_blk_create(&d->env, fd, false, &d->dev));
	f = dev_features(d);
	EXPECT_TRUE(f & 1ull << VIRTIO_F_VERSION_1);
	EXPECT_TRUE(f & 1ull << VIRTIO_RING_F_INDIRECT_DESC);
	EXPECT_TRUE(f & 1ull << VIRTIO_RING_F_EVENT_IDX);
	EXPECT_TRUE(f & 1ull << VIRTIO_BLK_F_FLUSH);
	EXPECT_FALSE(f & 1ull << VIRTIO_BLK_F_RO);
	wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
	EXPECT_EQ(0, rd(d, VIRTIO_MMIO_DEVICE_FEATURES));

	/* No VERSION_1: a legacy driver is refused. */
	EXPECT_FALSE(drv_negotiate(d, f & ~(1ull << VIRTIO_F_VERSION_1)) &
		     VIRTIO_CONFIG_S_FEATURES_OK);
	/* A bit the device did not offer. */
	EXPECT_FALSE(drv_negotiate(d, f | 1ull << 40) &
		     VIRTIO_CONFIG_S_FEATURES_OK);
	/* A bit beyond the first 64. */
	drv_negotiate(d, 0);
	wr(d, VIRTIO_MMIO_STATUS, 0);
	wr(d, VIRTIO_MMIO_STATUS, 3);
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 2);
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES, 1);
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES, 1);
	wr(d, VIRTIO_MMIO_STATUS, 3 | VIRTIO_CONFIG_S_FEATURES_OK);
	EXPECT_EQ(3, rd(d, VIRTIO_MMIO_STATUS));
	/* DRIVER_OK without FEATURES_OK does not stick either. */
	wr(d, VIRTIO_MMIO_STATUS, 3 | VIRTIO_CONFIG_S_DRIVER_OK);
	EXPECT_EQ(3, rd(d, VIRTIO_MMIO_STATUS));

	/* Accepted: VERSION_1 alone, then features are frozen. */
	EXPECT_TRUE(drv_negotiate(d, 1ull << VIRTIO_F_VERSION_1) &
		    VIRTIO_CONFIG_S_FEATURES_OK);
	EXPECT_EQ(-EINVAL, wr(d, VIRTIO_MMIO_DRIVER_FEATURES, 0));
	/* The driver cannot clear status bits short of a reset. */
	EXPECT_EQ(-EINVAL, wr(d, VIRTIO_MMIO_STATUS, 1));
	EXPECT_EQ(0, wr(d, VIRTIO_MMIO_STATUS, 0));
	EXPECT_EQ(0, rd(d, VIRTIO_MMIO_STATUS));
	/* Features only while DRIVER is set and FEATURES_OK is not. */
	EXPECT_EQ(-EINVAL, wr(d, VIRTIO_MMIO_DRIVER_FEATURES, 0));
	drv_free(d);
	close(fd);
}

TEST(queue_setup_and_reset)
{
	int fd = tmp_image(4096);
	struct drv *d = drv_new();

	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, libvmx_virtio_blk_create(&d->env, fd, false, &d->dev));
	ASSERT_TRUE(drv_negotiate(d, 1ull << VIRTIO_F_VERSION_1) &
		    VIRTIO_CONFIG_S_FEATURES_OK);
	wr(d, VIRTIO_MMIO_QUEUE_SEL, 0);
	EXPECT_EQ(-EINVAL, wr(d, VIRTIO_MMIO_QUEUE_NUM, 512));
	EXPECT_EQ(-EINVAL, wr(d, VIRTIO_MMIO_QUEUE_NUM, 0));
	EXPECT_EQ(-EINVAL, wr(d, VIRTIO_MMIO_QUEUE_NUM, 24));
	EXPECT_EQ(0, wr(d, VIRTIO_MMIO_QUEUE_NUM, 256));
	EXPECT_EQ(0, wr(d, VIRTIO_MMIO_QUEUE_NUM, 1));
	drv_queue(d, 0, 128);
	EXPECT_EQ(1, rd(d, VIRTIO_MMIO_QUEUE_READY));
	EXPECT_EQ(d->q[0].desc, rd(d, VIRTIO_MMIO_QUEUE_DESC_LOW));
	EXPECT_EQ(d->q[0].used, rd(d, VIRTIO_MMIO_QUEUE_USED_LOW));
	/* Frozen while ready. */
	EXPECT_EQ(-EINVAL, wr(d, VIRTIO_MMIO_QUEUE_NUM, 64));
	EXPECT_EQ(-EINVAL, wr(d, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x8000));
	EXPECT_EQ(d->q[0].desc, rd(d, VIRTIO_MMIO_QUEUE_DESC_LOW));
	/* Disable, then reset clears everything. */
	EXPECT_EQ(0, wr(d, VIRTIO_MMIO_QUEUE_READY, 0));
	EXPECT_EQ(0, rd(d, VIRTIO_MMIO_QUEUE_READY));
	drv_queue(d, 0, 128);
	wr(d, VIRTIO_MMIO_STATUS, 0);
	EXPECT_EQ(0, rd(d, VIRTIO_MMIO_STATUS));
	EXPECT_EQ(0, rd(d, VIRTIO_MMIO_QUEUE_READY));
	EXPECT_EQ(0, rd(d, VIRTIO_MMIO_QUEUE_DESC_LOW));
	EXPECT_EQ(0, rd(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW));
	EXPECT_EQ(0, rd(d, VIRTIO_MMIO_QUEUE_USED_LOW));
	drv_free(d);
	close(fd);
}

TEST(blk_read_write_flush_id)
{
	int fd = tmp_image(1 << 20);
	struct drv *d;
	uint8_t file[1024], pat[1024];
	uint64_t buf;
	uint32_t ulen;
	char id[21] = { 0 };

	ASSERT_GE(fd, 0);
	d = blk_setup(fd, false, ALL_FEATURES);
	ASSERT_NE(NULL, d);
	EXPECT_EQ(0, d->irq_level);

	/* Read sectors 2-3. */
	buf = galloc(d, 1024);
	EXPECT_EQ(VIRTIO_BLK_S_OK,
		  blk_req(d, VIRTIO_BLK_T_IN, 2, buf, 1024, false, &ulen));
	EXPECT_EQ(1025, ulen);
	ASSERT_EQ(1024, pread(fd, file, 1024, 1024));
	EXPECT_EQ(0, memcmp(file, d->mem + buf, 1024));
	/* The used-buffer interrupt: level up, status bit 0, ack drops it. */
	EXPECT_EQ(1, d->irq_level);
	EXPECT_EQ(VIRTIO_MMIO_INT_VRING, rd(d, VIRTIO_MMIO_INTERRUPT_STATUS));
	wr(d, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	EXPECT_EQ(0, d->irq_level);
	EXPECT_EQ(0, rd(d, VIRTIO_MMIO_INTERRUPT_STATUS));

	/* Write sectors 5-6, through an indirect table. */
	buf = galloc(d, 1024);
	for (int i = 0; i < 1024; i++)
		pat[i] = d->mem[buf + i] = 0xa5 ^ i;
	EXPECT_EQ(VIRTIO_BLK_S_OK,
		  blk_req(d, VIRTIO_BLK_T_OUT, 5, buf, 1024, true, &ulen));
	EXPECT_EQ(1, ulen);
	ASSERT_EQ(1024, pread(fd, file, 1024, 5 * 512));
	EXPECT_EQ(0, memcmp(file, pat, 1024));

	EXPECT_EQ(VIRTIO_BLK_S_OK,
		  blk_req(d, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, NULL));

	buf = galloc(d, 20);
	EXPECT_EQ(VIRTIO_BLK_S_OK,
		  blk_req(d, VIRTIO_BLK_T_GET_ID, 0, buf, 20, false, &ulen));
	memcpy(id, d->mem + buf, 20);
	EXPECT_EQ(0, strncmp(id, "vmx-", 4));
	EXPECT_EQ(0, libvmx_virtio_blk_set_serial(d->dev, "disk-serial-0123456789"));
	EXPECT_EQ(VIRTIO_BLK_S_OK,
		  blk_req(d, VIRTIO_BLK_T_GET_ID, 0, buf, 20, false, &ulen));
	EXPECT_EQ(21, ulen);
	EXPECT_EQ(0, memcmp(d->mem + buf, "disk-serial-01234567", 20));

	/* Past the end: the last sector reads, one more does not. */
	buf = galloc(d, 1024);
	EXPECT_EQ(VIRTIO_BLK_S_OK, blk_req(d, VIRTIO_BLK_T_IN, 2047, buf, 512,
					   false, NULL));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, blk_req(d, VIRTIO_BLK_T_IN, 2047, buf,
					      1024, false, NULL));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, blk_req(d, VIRTIO_BLK_T_IN, ~0ull, buf,
					      512, false, NULL));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, blk_req(d, VIRTIO_BLK_T_OUT, 2048, buf,
					      512, false, NULL));
	/* Not a whole sector. */
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, blk_req(d, VIRTIO_BLK_T_IN, 0, buf, 100,
					      false, NULL));
	EXPECT_EQ(VIRTIO_BLK_S_UNSUPP, blk_req(d, VIRTIO_BLK_T_DISCARD, 0, buf,
					       16, false, NULL));
	EXPECT_EQ(VIRTIO_BLK_S_UNSUPP, blk_req(d, 0x7777, 0, 0, 0, false, NULL));
	EXPECT_FALSE(libvmx_virtio_broken(d->dev));
	EXPECT_EQ(0, d->bad_gpa);
	drv_free(d);
	close(fd);
}

TEST(blk_many_requests_wrap)
{
	int fd = tmp_image(1 << 20);
	struct drv *d = drv_new();
	uint64_t buf;

	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, libvmx_virtio_blk_create(&d->env, fd, false, &d->dev));
	ASSERT_EQ(0, drv_init(d, ALL_FEATURES, 1, 4));
	buf = galloc(d, 512);
	/* 16-bit indices wrap past 65535 with a 4-entry ring. */
	for (int i = 0; i < 70000; i++) {
		d->data = DATA_BASE + 4096;
		if (blk_req(d, VIRTIO_BLK_T_IN, i % 2048, buf, 512, false,
			    NULL) != VIRTIO_BLK_S_OK) {
			ASSERT_EQ(-1, i);
		}
	}
	EXPECT_EQ((uint16_t)70000, used(d, 0)->idx);
	drv_free(d);
	close(fd);
}

TEST(blk_readonly)
{
	int fd = tmp_image(64 * 1024);
	struct drv *d;
	uint8_t before[512], after[512];
	uint64_t buf;

	ASSERT_GE(fd, 0);
	ASSERT_EQ(512, pread(fd, before, 512, 0));
	d = blk_setup(fd, true, ALL_FEATURES);
	ASSERT_NE(NULL, d);
	EXPECT_TRUE(dev_features(d) & 1ull << VIRTIO_BLK_F_RO);
	buf = galloc(d, 512);
	memset(d->mem + buf, 0x11, 512);
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, blk_req(d, VIRTIO_BLK_T_OUT, 0, buf, 512,
					      false, NULL));
	ASSERT_EQ(512, pread(fd, after, 512, 0));
	EXPECT_EQ(0, memcmp(before, after, 512));
	EXPECT_EQ(VIRTIO_BLK_S_OK, blk_req(d, VIRTIO_BLK_T_IN, 0, buf, 512,
					   false, NULL));
	EXPECT_EQ(0, memcmp(before, d->mem + buf, 512));
	drv_free(d);
	close(fd);
}

TEST(interrupt_suppression)
{
	int fd = tmp_image(64 * 1024);
	struct drv *d;
	uint64_t buf;

	ASSERT_GE(fd, 0);
	/* Without EVENT_IDX: VRING_AVAIL_F_NO_INTERRUPT. */
	d = blk_setup(fd, false, ~(1ull << VIRTIO_RING_F_EVENT_IDX));
	ASSERT_NE(NULL, d);
	buf = galloc(d, 512);
	avail(d, 0)->flags = VRING_AVAIL_F_NO_INTERRUPT;
	EXPECT_EQ(VIRTIO_BLK_S_OK, blk_req(d, VIRTIO_BLK_T_IN, 0, buf, 512,
					   false, NULL));
	EXPECT_EQ(0, d->irq_calls);
	EXPECT_EQ(0, rd(d, VIRTIO_MMIO_INTERRUPT_STATUS));
	avail(d, 0)->flags = 0;
	EXPECT_EQ(VIRTIO_BLK_S_OK, blk_req(d, VIRTIO_BLK_T_IN, 0, buf, 512,
					   false, NULL));
	EXPECT_EQ(1, d->irq_level);
	drv_free(d);

	/* With EVENT_IDX: used_event says after which entry to interrupt. */
	d = blk_setup(fd, false, ALL_FEATURES);
	ASSERT_NE(NULL, d);
	buf = galloc(d, 512);
	avail(d, 0)->ring[d->q[0].num] = 1;	/* used_event: after entry 1 */
	EXPECT_EQ(VIRTIO_BLK_S_OK, blk_req(d, VIRTIO_BLK_T_IN, 0, buf, 512,
					   false, NULL));
	EXPECT_EQ(0, d->irq_calls);
	EXPECT_EQ(VIRTIO_BLK_S_OK, blk_req(d, VIRTIO_BLK_T_IN, 0, buf, 512,
					   false, NULL));
	EXPECT_EQ(1, d->irq_level);
	/* avail_event: the device asks to be kicked at the next entry. */
	uint16_t ev;

	memcpy(&ev, d->mem + d->q[0].used + 4 + 8 * d->q[0].num, 2);
	EXPECT_EQ(2, ev);
	drv_free(d);
	close(fd);
}

/* ---- network ---- */

static struct drv *net_setup(int tap, uint64_t want)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 };
	struct drv *d = drv_new();

	if (libvmx_virtio_net_create(&d->env, tap, mac, &d->dev) ||
	    drv_init(d, want, 2, 256)) {
		drv_free(d);
		return NULL;
	}
	return d;
}

TEST(net_without_backend)
{
	struct drv *d = net_setup(-1, ALL_FEATURES);
	uint8_t cfg[8];
	uint64_t f, buf;
	struct seg s;

	ASSERT_NE(NULL, d);
	EXPECT_EQ(1, rd(d, VIRTIO_MMIO_DEVICE_ID));
	f = dev_features(d);
	EXPECT_TRUE(f & 1ull << VIRTIO_NET_F_MAC);
	EXPECT_TRUE(f & 1ull << VIRTIO_NET_F_STATUS);
	wr(d, VIRTIO_MMIO_QUEUE_SEL, 1);
	EXPECT_EQ(256, rd(d, VIRTIO_MMIO_QUEUE_NUM_MAX));
	wr(d, VIRTIO_MMIO_QUEUE_SEL, 2);
	EXPECT_EQ(0, rd(d, VIRTIO_MMIO_QUEUE_NUM_MAX));
	for (int i = 0; i < 8; i++)
		EXPECT_EQ(0, libvmx_virtio_mmio(d->dev, 0x100 + i, &cfg[i], 1,
						false));
	EXPECT_EQ(0, memcmp(cfg, "\x52\x54\x00\x12\x34\x56", 6));
	EXPECT_EQ(VIRTIO_NET_S_LINK_UP, cfg[6] | cfg[7] << 8);

	/* Transmitted buffers come back used, and are dropped. */
	buf = galloc(d, 12 + 60);
	s = (struct seg){ buf, 12 + 60, false };
	for (int i = 0; i < 3; i++)
		post(d, 1, &s, 1, false);
	EXPECT_EQ(3, used(d, 1)->idx);
	EXPECT_EQ(0, used(d, 1)->ring[0].len);
	EXPECT_EQ(1, d->irq_level);
	/* Receive buffers stay posted; there is no tap to ask. */
	s = (struct seg){ galloc(d, 1526), 1526, true };
	post(d, 0, &s, 1, false);
	EXPECT_EQ(0, used(d, 0)->idx);
	EXPECT_EQ(-EINVAL, libvmx_virtio_net_rx(d->dev));
	EXPECT_FALSE(libvmx_virtio_broken(d->dev));
	drv_free(d);
}

/* A SOCK_DGRAM socketpair stands in for the tap (same framing). */
TEST(net_socketpair_backend)
{
	int sv[2];
	struct drv *d;
	uint8_t frame[12 + 64], got[2048];
	uint64_t rx, tx;
	struct seg s;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
	d = net_setup(sv[0], ALL_FEATURES);
	ASSERT_NE(NULL, d);
	EXPECT_TRUE(fcntl(sv[0], F_GETFL) & O_NONBLOCK);

	/* Nothing waiting, nothing posted: nothing to do. */
	EXPECT_EQ(0, libvmx_virtio_net_rx(d->dev));

	/* tx: header + frame, split over two descriptors, reach the tap. */
	tx = galloc(d, sizeof(frame));
	for (size_t i = 0; i < sizeof(frame); i++)
		d->mem[tx + i] = i < 12 ? 0 : (uint8_t)i;
	struct seg two[2] = { { tx, 12, false }, { tx + 12, 64, false } };
	post(d, 1, two, 2, false);
	EXPECT_EQ(1, used(d, 1)->idx);
	EXPECT_EQ((ssize_t)sizeof(frame), recv(sv[1], got, sizeof(got), MSG_DONTWAIT));
	EXPECT_EQ(0, memcmp(got, d->mem + tx, sizeof(frame)));

	/* rx: a frame waits until a buffer is posted, then the kick drains it. */
	memset(frame, 0, 12);
	for (size_t i = 12; i < sizeof(frame); i++)
		frame[i] = 0xc0 + i;
	ASSERT_EQ((ssize_t)sizeof(frame), send(sv[1], frame, sizeof(frame), 0));
	EXPECT_EQ(-ENOBUFS, libvmx_virtio_net_rx(d->dev));
	rx = galloc(d, 1526);
	s = (struct seg){ rx, 1526, true };
	post(d, 0, &s, 1, false);
	EXPECT_EQ(1, used(d, 0)->idx);
	EXPECT_EQ(sizeof(frame), used(d, 0)->ring[0].len);
	EXPECT_EQ(1, ((struct virtio_net_hdr_v1 *)(d->mem + rx))->num_buffers);
	EXPECT_EQ(0, memcmp(d->mem + rx + 12, frame + 12, 64));

	/* Two frames, two buffers, one call. */
	post(d, 0, &s, 1, false);
	post(d, 0, &s, 1, false);
	send(sv[1], frame, sizeof(frame), 0);
	send(sv[1], frame, sizeof(frame), 0);
	EXPECT_EQ(2, libvmx_virtio_net_rx(d->dev));
	EXPECT_EQ(3, used(d, 0)->idx);
	EXPECT_EQ(0, libvmx_virtio_net_rx(d->dev));

	/* A frame bigger than the buffer is dropped; the buffer stays. */
	s = (struct seg){ rx, 40, true };
	post(d, 0, &s, 1, false);
	send(sv[1], frame, sizeof(frame), 0);
	EXPECT_EQ(0, libvmx_virtio_net_rx(d->dev));
	EXPECT_EQ(3, used(d, 0)->idx);
	EXPECT_EQ(-1, recv(sv[0], got, sizeof(got), MSG_DONTWAIT));
	send(sv[1], frame, 30, 0);
	EXPECT_EQ(1, libvmx_virtio_net_rx(d->dev));
	EXPECT_EQ(4, used(d, 0)->idx);
	EXPECT_EQ(30, used(d, 0)->ring[3].len);

	/* After a reset (no DRIVER_OK) frames are dropped, not kept. */
	wr(d, VIRTIO_MMIO_STATUS, 0);
	send(sv[1], frame, sizeof(frame), 0);
	EXPECT_EQ(0, libvmx_virtio_net_rx(d->dev));
	EXPECT_EQ(-1, recv(sv[0], got, sizeof(got), MSG_DONTWAIT));
	EXPECT_FALSE(libvmx_virtio_broken(d->dev));
	drv_free(d);
	close(sv[0]);
	close(sv[1]);
}

/* ---- hostile drivers ---- */

/* The device must be broken, say so, and interrupt with a config change. */
static int check_broken(struct drv *d)
{
	if (!libvmx_virtio_broken(d->dev))
		return -1;
	if (!(rd(d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET))
		return -2;
	if (!(rd(d, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG))
		return -3;
	if (d->irq_level != 1)
		return -4;
	return 0;
}

/* A blk device with a valid header and status at fixed places. */
struct hostile {
	struct drv *d;
	int fd;
	uint64_t hdr, data, st;
};

static int hostile_setup(struct hostile *h, uint64_t want, uint16_t num)
{
	struct virtio_blk_outhdr *oh;

	h->fd = tmp_image(64 * 1024);
	h->d = drv_new();
	if (h->fd < 0 ||
	    libvmx_virtio_blk_create(&h->d->env, h->fd, false, &h->d->dev) ||
	    drv_init(h->d, want, 1, num))
		return -1;
	h->hdr = galloc(h->d, 16);
	h->data = galloc(h->d, 4096);
	h->st = galloc(h->d, 16);
	oh = (void *)(h->d->mem + h->hdr);
	oh->type = VIRTIO_BLK_T_IN;
	oh->sector = 0;
	return 0;
}

static void hostile_done(struct hostile *h)
{
	drv_free(h->d);
	close(h->fd);
}

/* Publish head 0 (descriptors already written), kick, check the verdict. */
static int hostile_run(struct hostile *h)
{
	uint16_t ui = used(h->d, 0)->idx;
	int ret;

	publish(h->d, 0, 0);
	kick(h->d, 0);
	ret = check_broken(h->d);
	if (ret)
		return ret;
	if (used(h->d, 0)->idx != ui)
		return -5;
	/* Inert: more kicks do nothing. */
	kick(h->d, 0);
	return used(h->d, 0)->idx == ui ? 0 : -6;
}

#define HOSTILE(name, want, num, body)				\
TEST(hostile_##name)						\
{								\
	struct hostile h;					\
	struct drv *d;						\
								\
	ASSERT_EQ(0, hostile_setup(&h, want, num));		\
	d = h.d;						\
	(void)d;						\
	body							\
	EXPECT_EQ(0, hostile_run(&h));				\
	hostile_done(&h);					\
}

#define F	VRING_DESC_F_NEXT
#define W	VRING_DESC_F_WRITE
#define I	VRING_DESC_F_INDIRECT

HOSTILE(descriptor_loop, ALL_FEATURES, 256,
	set_desc(desc(d, 0, 0), h.hdr, 16, F, 1);
	set_desc(desc(d, 0, 1), h.data, 512, F | W, 2);
	set_desc(desc(d, 0, 2), h.st, 1, F | W, 1);
)

HOSTILE(self_loop, ALL_FEATURES, 256,
	set_desc(desc(d, 0, 0), h.hdr, 16, F, 0);
)

HOSTILE(next_out_of_range, ALL_FEATURES, 16,
	set_desc(desc(d, 0, 0), h.hdr, 16, F, 16);
)

HOSTILE(head_out_of_range, ALL_FEATURES, 16,
	avail(d, 0)->ring[0] = 300;
	d->q[0].avail_idx = 0;
	__atomic_store_n(&avail(d, 0)->idx, 1, __ATOMIC_RELEASE);
	kick(d, 0);
	EXPECT_EQ(0, check_broken(d));
	/* hostile_run publishes again: still broken, nothing used. */
)

HOSTILE(address_out_of_ram, ALL_FEATURES, 256,
	set_desc(desc(d, 0, 0), h.hdr, 16, F, 1);
	set_desc(desc(d, 0, 1), MEM_SIZE - 256, 512, F | W, 2);
	set_desc(desc(d, 0, 2), h.st, 1, W, 0);
)

HOSTILE(address_len_overflow, ALL_FEATURES, 256,
	set_desc(desc(d, 0, 0), h.hdr, 16, F, 1);
	set_desc(desc(d, 0, 1), ~0ull - 100, 512, F | W, 2);
	set_desc(desc(d, 0, 2), h.st, 1, W, 0);
)

/* An OUT request that would be well-formed if the order did not matter. */
HOSTILE(readable_after_writable, ALL_FEATURES, 256,
	((struct virtio_blk_outhdr *)(d->mem + h.hdr))->type = VIRTIO_BLK_T_OUT;
	set_desc(desc(d, 0, 0), h.hdr, 16, F, 1);
	set_desc(desc(d, 0, 1), h.st, 1, F | W, 2);
	set_desc(desc(d, 0, 2), h.data, 512, 0, 0);
)

/* An IN request whose data buffer is device-readable. */
HOSTILE(write_into_readable, ALL_FEATURES, 256,
	set_desc(desc(d, 0, 0), h.hdr, 16, F, 1);
	set_desc(desc(d, 0, 1), h.data, 512, F, 2);
	set_desc(desc(d, 0, 2), h.st, 1, W, 0);
)

/* No device-writable status byte at all. */
HOSTILE(no_status, ALL_FEATURES, 256,
	set_desc(desc(d, 0, 0), h.hdr, 16, F, 1);
	set_desc(desc(d, 0, 1), h.st, 1, 0, 0);
)

HOSTILE(short_header, ALL_FEATURES, 256,
	set_desc(desc(d, 0, 0), h.hdr, 8, F, 1);
	set_desc(desc(d, 0, 1), h.st, 1, W, 0);
)

HOSTILE(chain_longer_than_queue, ALL_FEATURES, 4,
	/* 4 entries, a chain of 5 through the ring's wrap: a loop. */
	set_desc(desc(d, 0, 0), h.hdr, 16, F, 1);
	set_desc(desc(d, 0, 1), h.data, 512, F | W, 2);
	set_desc(desc(d, 0, 2), h.data, 512, F | W, 3);
	set_desc(desc(d, 0, 3), h.data, 512, F | W, 0);
)

HOSTILE(indirect_bad_length, ALL_FEATURES, 256,
	set_desc(desc(d, 0, 0), INDIRECT_BASE, 24, I, 0);
)

HOSTILE(indirect_zero_length, ALL_FEATURES, 256,
	set_desc(desc(d, 0, 0), INDIRECT_BASE, 0, I, 0);
)

HOSTILE(indirect_too_long, ALL_FEATURES, 8,
	set_desc(desc(d, 0, 0), INDIRECT_BASE, 16 * 9, I, 0);
)

HOSTILE(indirect_nested, ALL_FEATURES, 256,
	struct vring_desc *t = (void *)(d->mem + INDIRECT_BASE);
	set_desc(&t[0], h.hdr, 16, F, 1);
	set_desc(&t[1], INDIRECT_BASE, 32, I, 0);
	set_desc(desc(d, 0, 0), INDIRECT_BASE, 32, I, 0);
)

HOSTILE(indirect_loop, ALL_FEATURES, 256,
	struct vring_desc *t = (void *)(d->mem + INDIRECT_BASE);
	set_desc(&t[0], h.hdr, 16, F, 1);
	set_desc(&t[1], h.data, 16, F | W, 0);
	set_desc(desc(d, 0, 0), INDIRECT_BASE, 32, I, 0);
)

HOSTILE(indirect_next_out_of_table, ALL_FEATURES, 256,
	struct vring_desc *t = (void *)(d->mem + INDIRECT_BASE);
	set_desc(&t[0], h.hdr, 16, F, 2);
	set_desc(&t[1], h.st, 1, W, 0);
	set_desc(desc(d, 0, 0), INDIRECT_BASE, 32, I, 0);
)

HOSTILE(indirect_table_out_of_ram, ALL_FEATURES, 256,
	set_desc(desc(d, 0, 0), MEM_SIZE - 16, 32, I, 0);
)

HOSTILE(indirect_and_next, ALL_FEATURES, 256,
	struct vring_desc *t = (void *)(d->mem + INDIRECT_BASE);
	set_desc(&t[0], h.hdr, 16, F, 1);
	set_desc(&t[1], h.st, 1, W, 0);
	set_desc(desc(d, 0, 0), INDIRECT_BASE, 32, I | F, 1);
)

HOSTILE(indirect_not_negotiated,
	~(1ull << VIRTIO_RING_F_INDIRECT_DESC), 256,
	struct vring_desc *t = (void *)(d->mem + INDIRECT_BASE);
	set_desc(&t[0], h.hdr, 16, F, 1);
	set_desc(&t[1], h.st, 1, W, 0);
	set_desc(desc(d, 0, 0), INDIRECT_BASE, 32, I, 0);
)

TEST(hostile_avail_idx_jump)
{
	struct hostile h;

	ASSERT_EQ(0, hostile_setup(&h, ALL_FEATURES, 16));
	set_desc(desc(h.d, 0, 0), h.hdr, 16, F, 1);
	set_desc(desc(h.d, 0, 1), h.st, 1, W, 0);
	/* 17 new entries in a 16-entry ring. */
	__atomic_store_n(&avail(h.d, 0)->idx, 17, __ATOMIC_RELEASE);
	kick(h.d, 0);
	EXPECT_EQ(0, check_broken(h.d));
	EXPECT_EQ(0, used(h.d, 0)->idx);
	hostile_done(&h);
}

TEST(hostile_rings_outside_ram_or_misaligned)
{
	struct hostile h;

	ASSERT_EQ(0, hostile_setup(&h, ALL_FEATURES, 256));
	/* Used ring past the end of RAM. */
	wr(h.d, VIRTIO_MMIO_STATUS, 0);
	ASSERT_TRUE(drv_negotiate(h.d, 1ull << VIRTIO_F_VERSION_1) &
		    VIRTIO_CONFIG_S_FEATURES_OK);
	drv_queue(h.d, 0, 256);
	wr(h.d, VIRTIO_MMIO_QUEUE_READY, 0);
	wr(h.d, VIRTIO_MMIO_QUEUE_USED_LOW, MEM_SIZE - 8);
	wr(h.d, VIRTIO_MMIO_QUEUE_READY, 1);
	wr(h.d, VIRTIO_MMIO_STATUS, 0xf);
	EXPECT_EQ(0, check_broken(h.d));

	/* Descriptor table at an odd address (and high bits set). */
	wr(h.d, VIRTIO_MMIO_STATUS, 0);
	EXPECT_FALSE(libvmx_virtio_broken(h.d->dev));
	EXPECT_EQ(0, h.d->irq_level);
	ASSERT_TRUE(drv_negotiate(h.d, 1ull << VIRTIO_F_VERSION_1) &
		    VIRTIO_CONFIG_S_FEATURES_OK);
	drv_queue(h.d, 0, 256);
	wr(h.d, VIRTIO_MMIO_QUEUE_READY, 0);
	wr(h.d, VIRTIO_MMIO_QUEUE_DESC_LOW, h.d->q[0].desc + 8);
	wr(h.d, VIRTIO_MMIO_QUEUE_READY, 1);
	wr(h.d, VIRTIO_MMIO_STATUS, 0xf);
	kick(h.d, 0);
	EXPECT_EQ(0, check_broken(h.d));
	hostile_done(&h);
}

/* After a reset and a fresh init a broken device works again. */
TEST(hostile_then_reset_recovers)
{
	struct hostile h;
	uint64_t buf;

	ASSERT_EQ(0, hostile_setup(&h, ALL_FEATURES, 256));
	set_desc(desc(h.d, 0, 0), h.hdr, 16, F, 0);
	EXPECT_EQ(0, hostile_run(&h));
	/* The guest cannot clear NEEDS_RESET by writing status. */
	wr(h.d, VIRTIO_MMIO_STATUS, 0xf);
	EXPECT_TRUE(rd(h.d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	wr(h.d, VIRTIO_MMIO_STATUS, 0);
	EXPECT_FALSE(libvmx_virtio_broken(h.d->dev));
	EXPECT_EQ(0, h.d->irq_level);
	EXPECT_EQ(0, rd(h.d, VIRTIO_MMIO_INTERRUPT_STATUS));
	ASSERT_EQ(0, drv_init(h.d, ALL_FEATURES, 1, 256));
	buf = galloc(h.d, 512);
	EXPECT_EQ(VIRTIO_BLK_S_OK, blk_req(h.d, VIRTIO_BLK_T_IN, 1, buf, 512,
					   false, NULL));
	hostile_done(&h);
}

TEST(hostile_net_tx_loop_and_rx_out_of_ram)
{
	int sv[2];
	struct drv *d;
	uint8_t frame[80] = { 0 };

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
	d = net_setup(sv[0], ALL_FEATURES);
	ASSERT_NE(NULL, d);
	set_desc(desc(d, 1, 0), DATA_BASE, 64, F, 0);
	publish(d, 1, 0);
	kick(d, 1);
	EXPECT_EQ(0, check_broken(d));
	EXPECT_EQ(0, used(d, 1)->idx);
	drv_free(d);

	d = net_setup(sv[0], ALL_FEATURES);
	ASSERT_NE(NULL, d);
	set_desc(desc(d, 0, 0), MEM_SIZE - 100, 1526, W, 0);
	send(sv[1], frame, sizeof(frame), 0);
	publish(d, 0, 0);
	kick(d, 0);
	EXPECT_EQ(0, check_broken(d));
	EXPECT_EQ(0, used(d, 0)->idx);
	/* Broken: frames are read and dropped, the tap never backs up. */
	send(sv[1], frame, sizeof(frame), 0);
	EXPECT_EQ(0, libvmx_virtio_net_rx(d->dev));
	EXPECT_EQ(-1, recv(sv[0], frame, sizeof(frame), MSG_DONTWAIT));
	drv_free(d);
	close(sv[0]);
	close(sv[1]);
}

/* 254 data segments (seg_max) through one indirect table of 256. */
TEST(blk_seg_max_indirect)
{
	int fd = tmp_image(1 << 20);
	struct drv *d;
	struct seg s[257];
	uint64_t hdr, st, data;
	struct virtio_blk_outhdr *h;
	uint8_t file[512];
	uint16_t head;

	ASSERT_GE(fd, 0);
	d = blk_setup(fd, false, ALL_FEATURES);
	ASSERT_NE(NULL, d);
	hdr = galloc(d, 16);
	st = galloc(d, 1);
	data = galloc(d, 255 * 512);
	h = (void *)(d->mem + hdr);
	h->type = VIRTIO_BLK_T_IN;
	h->sector = 10;
	s[0] = (struct seg){ hdr, 16, false };
	for (int i = 0; i < 254; i++)
		s[1 + i] = (struct seg){ data + i * 512, 512, true };
	s[255] = (struct seg){ st, 1, true };
	d->mem[st] = 0xff;
	head = post(d, 0, s, 256, true);
	EXPECT_EQ(1, used(d, 0)->idx);
	EXPECT_EQ(head, used(d, 0)->ring[0].id);
	EXPECT_EQ(254 * 512 + 1, used(d, 0)->ring[0].len);
	EXPECT_EQ(VIRTIO_BLK_S_OK, d->mem[st]);
	ASSERT_EQ(512, pread(fd, file, 512, (10 + 253) * 512));
	EXPECT_EQ(0, memcmp(file, d->mem + data + 253 * 512, 512));
	/* One more segment: 257 descriptors, longer than the queue. */
	for (int i = 0; i < 255; i++)
		s[1 + i] = (struct seg){ data + i * 512, 512, true };
	s[256] = (struct seg){ st, 1, true };
	post(d, 0, s, 257, true);
	EXPECT_EQ(1, used(d, 0)->idx);
	EXPECT_EQ(0, check_broken(d));
	drv_free(d);
	close(fd);
}

/* Buffers made available before DRIVER_OK are served when it comes. */
TEST(blk_posted_before_driver_ok)
{
	int fd = tmp_image(64 * 1024);
	struct drv *d = drv_new();
	uint64_t hdr, st;
	struct virtio_blk_outhdr *h;
	struct seg s[2];

	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, libvmx_virtio_blk_create(&d->env, fd, false, &d->dev));
	ASSERT_TRUE(drv_negotiate(d, dev_features(d)) &
		    VIRTIO_CONFIG_S_FEATURES_OK);
	drv_queue(d, 0, 16);
	hdr = galloc(d, 16);
	st = galloc(d, 1);
	h = (void *)(d->mem + hdr);
	h->type = VIRTIO_BLK_T_FLUSH;
	d->mem[st] = 0xff;
	s[0] = (struct seg){ hdr, 16, false };
	s[1] = (struct seg){ st, 1, true };
	post(d, 0, s, 2, false);
	/* The kick before DRIVER_OK did nothing. */
	EXPECT_EQ(0, used(d, 0)->idx);
	EXPECT_EQ(0, d->irq_calls);
	wr(d, VIRTIO_MMIO_STATUS, 0xf);
	EXPECT_EQ(1, used(d, 0)->idx);
	EXPECT_EQ(VIRTIO_BLK_S_OK, d->mem[st]);
	EXPECT_EQ(1, d->irq_level);
	drv_free(d);
	close(fd);
}

/* The line moves only on transitions; both causes need acking. */
TEST(interrupt_levels)
{
	struct hostile h;
	uint64_t buf;

	ASSERT_EQ(0, hostile_setup(&h, ALL_FEATURES, 256));
	buf = galloc(h.d, 512);
	EXPECT_EQ(VIRTIO_BLK_S_OK, blk_req(h.d, VIRTIO_BLK_T_IN, 0, buf, 512,
					   false, NULL));
	EXPECT_EQ(VIRTIO_BLK_S_OK, blk_req(h.d, VIRTIO_BLK_T_IN, 0, buf, 512,
					   false, NULL));
	EXPECT_EQ(1, h.d->irq_calls);
	EXPECT_EQ(1, h.d->irq_level);
	/* Acking nothing that is set changes nothing. */
	wr(h.d, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG);
	EXPECT_EQ(1, h.d->irq_calls);
	/* A guest error adds the config bit while the line is up. */
	h.d->q[0].next_desc = 100;
	set_desc(desc(h.d, 0, 100), h.hdr, 16, F, 100);
	publish(h.d, 0, 100);
	kick(h.d, 0);
	EXPECT_EQ(VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG,
		  rd(h.d, VIRTIO_MMIO_INTERRUPT_STATUS));
	EXPECT_EQ(1, h.d->irq_calls);
	wr(h.d, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	EXPECT_EQ(1, h.d->irq_level);
	wr(h.d, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG);
	EXPECT_EQ(0, h.d->irq_level);
	EXPECT_EQ(2, h.d->irq_calls);
	EXPECT_TRUE(libvmx_virtio_broken(h.d->dev));
	hostile_done(&h);
}

/* The image refuses the I/O: IOERR for that request, the device goes on. */
TEST(blk_host_io_error)
{
	char name[] = "/tmp/virtio_test.XXXXXX";
	int wfd = mkstemp(name), fd;
	struct drv *d;
	uint64_t buf;

	ASSERT_GE(wfd, 0);
	ASSERT_EQ(0, ftruncate(wfd, 64 * 1024));
	fd = open(name, O_RDONLY);
	unlink(name);
	ASSERT_GE(fd, 0);
	d = blk_setup(fd, false, ALL_FEATURES);
	ASSERT_NE(NULL, d);
	buf = galloc(d, 512);
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, blk_req(d, VIRTIO_BLK_T_OUT, 1, buf, 512,
					      false, NULL));
	EXPECT_EQ(VIRTIO_BLK_S_OK, blk_req(d, VIRTIO_BLK_T_IN, 1, buf, 512,
					   false, NULL));
	EXPECT_FALSE(libvmx_virtio_broken(d->dev));
	drv_free(d);
	close(fd);
	close(wfd);
}

/* A pipe is no disk image. */
TEST(blk_create_refuses_pipe)
{
	struct drv *d = drv_new();
	int p[2];

	ASSERT_EQ(0, pipe(p));
	EXPECT_EQ(-EINVAL, libvmx_virtio_blk_create(&d->env, p[0], false,
						    &d->dev));
	EXPECT_EQ(NULL, d->dev);
	drv_free(d);
	close(p[0]);
	close(p[1]);
}

/* GET_ID into a device-readable buffer is a guest error too. */
TEST(hostile_get_id_into_readable)
{
	struct hostile h;
	struct virtio_blk_outhdr *oh;

	ASSERT_EQ(0, hostile_setup(&h, ALL_FEATURES, 256));
	oh = (void *)(h.d->mem + h.hdr);
	oh->type = VIRTIO_BLK_T_GET_ID;
	set_desc(desc(h.d, 0, 0), h.hdr, 16, F, 1);
	set_desc(desc(h.d, 0, 1), h.data, 20, F, 2);
	set_desc(desc(h.d, 0, 2), h.st, 1, W, 0);
	EXPECT_EQ(0, hostile_run(&h));
	/* Nothing was written into the readable buffer. */
	for (int i = 0; i < 20; i++)
		EXPECT_EQ(0, h.d->mem[h.data + i]);
	hostile_done(&h);
}

/* EVENT_IDX on the receive queue: avail_event asks for the next kick. */
TEST(net_rx_event_idx)
{
	int sv[2];
	struct drv *d;
	uint8_t frame[12 + 60] = { 0 };
	uint16_t ev;
	struct seg s;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
	d = net_setup(sv[0], ALL_FEATURES);
	ASSERT_NE(NULL, d);
	s = (struct seg){ galloc(d, 1526), 1526, true };
	post(d, 0, &s, 1, false);
	post(d, 0, &s, 1, false);
	send(sv[1], frame, sizeof(frame), 0);
	EXPECT_EQ(1, libvmx_virtio_net_rx(d->dev));
	send(sv[1], frame, sizeof(frame), 0);
	send(sv[1], frame, sizeof(frame), 0);
	EXPECT_EQ(1, libvmx_virtio_net_rx(d->dev));
	memcpy(&ev, d->mem + d->q[0].used + 4 + 8 * 256, 2);
	EXPECT_EQ(2, ev);
	EXPECT_EQ(2, used(d, 0)->idx);
	/* The third frame waits for the buffer the guest posts next. */
	post(d, 0, &s, 1, false);
	EXPECT_EQ(3, used(d, 0)->idx);
	drv_free(d);
	close(sv[0]);
	close(sv[1]);
}

TEST(rng_fills_buffers)
{
	struct drv *d = drv_new();
	uint64_t a, b;
	struct seg s[2];
	int nonzero = 0;
	uint32_t v = 1;

	ASSERT_EQ(0, libvmx_virtio_rng_create(&d->env, &d->dev));
	EXPECT_EQ(4, rd(d, VIRTIO_MMIO_DEVICE_ID));
	EXPECT_EQ(-EINVAL, libvmx_virtio_mmio(d->dev, 0x100, &v, 4, false));
	ASSERT_EQ(0, drv_init(d, ALL_FEATURES, 1, 64));
	a = galloc(d, 64);
	b = galloc(d, 200000);
	s[0] = (struct seg){ a, 64, true };
	s[1] = (struct seg){ b, 200000, true };
	post(d, 0, s, 2, false);
	EXPECT_EQ(1, used(d, 0)->idx);
	/* Capped at 64 KiB per request. */
	EXPECT_EQ(65536, used(d, 0)->ring[0].len);
	for (int i = 0; i < 64; i++)
		nonzero += d->mem[a + i] != 0;
	EXPECT_GT(nonzero, 32);
	EXPECT_EQ(0, d->mem[b + 65536 - 64]);
	EXPECT_EQ(1, d->irq_level);
	/* The shared queue code guards it like the others. */
	set_desc(desc(d, 0, 5), a, 64, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 5);
	publish(d, 0, 5);
	kick(d, 0);
	EXPECT_TRUE(libvmx_virtio_broken(d->dev));
	drv_free(d);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct scribbler {
	struct drv *d;
	volatile int stop;
	volatile unsigned long writes;
};

/* A second "vCPU" that rewrites descriptors and avail entries at random. */
static void *scribble(void *arg)
{
	struct scribbler *sc = arg;
	uint32_t x = 12345;

	while (!sc->stop) {
		x = x * 1103515245 + 12345;
		if (x & 0x100)
			((volatile uint8_t *)sc->d->mem)[sc->d->q[0].desc +
							 (x >> 8) % (16 * 8)] = x >> 24;
		else
			((volatile uint8_t *)sc->d->mem)[sc->d->q[0].avail + 4 +
							 (x >> 8) % 16] = x >> 24;
		sc->writes++;
	}
	return NULL;
}

/* Rings changing under the device: requests may fail, nothing else. */
TEST(hostile_concurrent_rewrites)
{
	int fd = tmp_image(64 * 1024);
	struct scribbler sc = { 0 };
	pthread_t t;
	struct drv *d;
	int rounds = 0, broken = 0;
	long start = now_ms();

	ASSERT_GE(fd, 0);
	d = drv_new();
	ASSERT_EQ(0, libvmx_virtio_blk_create(&d->env, fd, false, &d->dev));
	sc.d = d;
	/* The ring addresses are the same at every init: set them first. */
	ASSERT_EQ(0, drv_init(d, ALL_FEATURES, 1, 8));
	ASSERT_EQ(0, pthread_create(&t, NULL, scribble, &sc));
	while (!sc.writes)
		sched_yield();
	/* At least 2000 requests and 300 ms of them, whichever is longer. */
	for (int i = 0; i < 2000 || now_ms() - start < 300; i++) {
		uint64_t buf;

		if (libvmx_virtio_broken(d->dev)) {
			broken++;
			ASSERT_EQ(0, drv_init(d, ALL_FEATURES, 1, 8));
			d->data = DATA_BASE;
		}
		rounds++;
		buf = galloc(d, 512);
		blk_req(d, VIRTIO_BLK_T_IN, i % 128, buf, 512, i & 1, NULL);
		d->data = DATA_BASE;
	}
	sc.stop = 1;
	pthread_join(t, NULL);
	/* Scribbled addresses were asked for and refused, never used. */
	TH_LOG("%d rounds, broke %d times, %d addresses refused", rounds,
	       broken, d->bad_gpa);
	EXPECT_GE(rounds, 2000);
	drv_free(d);
	close(fd);
}

TEST(create_arguments)
{
	struct libvmx_virtio_env env = { 0 };
	struct libvmx_virtio_dev *dev = (void *)1;
	uint8_t mac[6] = { 0 };
	uint32_t v = 0;

	EXPECT_EQ(-EINVAL, libvmx_virtio_blk_create(&env, 0, false, &dev));
	EXPECT_EQ(-EINVAL, libvmx_virtio_net_create(&env, -1, mac, &dev));
	EXPECT_EQ(-EINVAL, libvmx_virtio_net_create(NULL, -1, mac, &dev));
	EXPECT_EQ((void *)1, dev);
	env.gpa_to_hva = t_gpa;
	EXPECT_EQ(-EBADF, libvmx_virtio_blk_create(&env, 999, false, &dev));
	EXPECT_EQ(-EINVAL, libvmx_virtio_mmio(NULL, 0, &v, 4, false));
	EXPECT_FALSE(libvmx_virtio_broken(NULL));
	EXPECT_EQ(-EINVAL, libvmx_virtio_net_rx(NULL));
	libvmx_virtio_destroy(NULL);
}

TEST_HARNESS_MAIN
