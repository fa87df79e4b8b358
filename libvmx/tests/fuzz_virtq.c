// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer target for the virtio-mmio transport and split virtqueues:
 * a block device on a 64 KiB memfd image, a network device without a
 * backend, one whose "tap" is a datagram socketpair, and an entropy device.
 *
 * Input: a header (device, queue size, driver features, register
 * operations) followed by the first bytes of a 64 KiB guest RAM that
 * holds both queues' rings (packed at the start, so short inputs reach
 * them) and the buffers.  The target performs the driver's init sequence
 * with the input's features, kicks every queue, runs the operations
 * (register writes and reads, notifies, config reads) and kicks again.
 * It checks the contract: the irq line follows InterruptStatus, a broken
 * device says so in Status; the sanitizers catch accesses outside the
 * RAM buffer (which is malloc'ed to its exact size).
 *
 * Build and run: make -C libvmx/tests fuzz-virtq (FUZZ_TIME=seconds).
 * FUZZ_VIRTQ_SEEDS=dir makes it write a few valid requests into dir.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "vmx/virtio.h"

#define RAM_SIZE	0x10000
#define IMG_SIZE	0x10000

/* Ring layout for queue q (num <= 16): avail, desc, used. */
#define AVAIL(q)	(0x200 * (q))
#define DESC(q)		(0x200 * (q) + 0x40)
#define USED(q)		(0x200 * (q) + 0x140)

struct fuzz_op {
	uint8_t kind;		/* 0 write, 1 read, 2 notify, 3 config, 4 frame + rx */
	uint8_t reg;		/* offset / 4, or config offset */
	uint32_t val;
} __attribute__((packed));

struct fuzz_hdr {
	uint8_t dev;		/* bit 0: net; 1: skip DRIVER_OK; 2: ro; 3: tap; 4: rng */
	uint8_t num_log2;	/* queue size 1 << (num_log2 % 5) */
	uint64_t features;	/* ANDed with the device's */
	uint8_t nops;
	struct fuzz_op op[8];
	uint16_t frame_len;	/* of the frames sent to the net device */
} __attribute__((packed));

static uint8_t *ram;
static int img = -1;
static int sp[2] = { -1, -1 };
static int irq_level;

static void *f_gpa(void *opaque, uint64_t gpa, uint64_t len)
{
	if (gpa >= RAM_SIZE || len > RAM_SIZE - gpa)
		return NULL;
	return ram + gpa;
}

static void f_irq(void *opaque, int level)
{
	/* Level changes only. */
	if (level == irq_level)
		__builtin_trap();
	irq_level = level;
}

static uint32_t rd(struct libvmx_virtio_dev *dev, uint64_t off)
{
	uint32_t v = 0;

	libvmx_virtio_mmio(dev, off, &v, 4, false);
	return v;
}

static void wr(struct libvmx_virtio_dev *dev, uint64_t off, uint32_t v)
{
	libvmx_virtio_mmio(dev, off, &v, 4, true);
}

static void check(struct libvmx_virtio_dev *dev)
{
	if ((rd(dev, VIRTIO_MMIO_INTERRUPT_STATUS) != 0) != irq_level)
		__builtin_trap();
	if (libvmx_virtio_broken(dev) !=
	    !!(rd(dev, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET))
		__builtin_trap();
}

static void init(struct libvmx_virtio_dev *dev, const struct fuzz_hdr *h,
		 unsigned int nq)
{
	uint32_t num = 1u << (h->num_log2 % 5);
	uint64_t f;

	wr(dev, VIRTIO_MMIO_STATUS, 0);
	wr(dev, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	wr(dev, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE |
	   VIRTIO_CONFIG_S_DRIVER);
	wr(dev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	f = (uint64_t)rd(dev, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	wr(dev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	f |= rd(dev, VIRTIO_MMIO_DEVICE_FEATURES);
	/* Mostly a feature subset; bit 63 of the input keeps extra bits. */
	if (!(h->features >> 63))
		f &= h->features;
	else
		f = h->features;
	wr(dev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(dev, VIRTIO_MMIO_DRIVER_FEATURES, f >> 32);
	wr(dev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(dev, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f);
	wr(dev, VIRTIO_MMIO_STATUS, 0xb);
	for (unsigned int q = 0; q < nq; q++) {
		wr(dev, VIRTIO_MMIO_QUEUE_SEL, q);
		wr(dev, VIRTIO_MMIO_QUEUE_NUM, num);
		wr(dev, VIRTIO_MMIO_QUEUE_DESC_LOW, DESC(q));
		wr(dev, VIRTIO_MMIO_QUEUE_AVAIL_LOW, AVAIL(q));
		wr(dev, VIRTIO_MMIO_QUEUE_USED_LOW, USED(q));
		wr(dev, VIRTIO_MMIO_QUEUE_READY, 1);
	}
	if (!(h->dev & 2))
		wr(dev, VIRTIO_MMIO_STATUS, 0xf);
}

/* A frame arrives on the socketpair "tap", taken from guest RAM's end. */
static void send_frame(const struct fuzz_hdr *h)
{
	if (sp[1] >= 0)
		send(sp[1], ram + RAM_SIZE - 0x1000, h->frame_len % 0x1000,
		     MSG_DONTWAIT);
}

static void drain(int fd)
{
	char buf[64];

	for (int i = 0; i < 64; i++)
		if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) < 0)
			break;
}

static void run_op(struct libvmx_virtio_dev *dev, const struct fuzz_hdr *h,
		   const struct fuzz_op *op)
{
	uint64_t v = 0;
	int ret;

	switch (op->kind % 5) {
	case 0:
		wr(dev, (op->reg * 4) % 0x100, op->val);
		break;
	case 1:
		rd(dev, (op->reg * 4) % 0x100);
		break;
	case 2:
		wr(dev, VIRTIO_MMIO_QUEUE_NOTIFY, op->val % 3);
		break;
	case 3:
		libvmx_virtio_mmio(dev, 0x100 + op->reg, &v, 1 << (op->val % 4),
				   op->val & 0x100);
		break;
	case 4:
		send_frame(h);
		ret = libvmx_virtio_net_rx(dev);
		if (ret < -ENOBUFS || (ret < 0 && ret != -ENOBUFS &&
				       ret != -EINVAL) || ret > 256)
			__builtin_trap();
		break;
	}
}

static int open_image(void)
{
	int fd = memfd_create("fuzz_virtq", 0);

	if (fd >= 0 && ftruncate(fd, IMG_SIZE)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* ---- seeds ---- */

static void put_desc(uint8_t *m, unsigned int q, unsigned int i, uint64_t addr,
		     uint32_t len, uint16_t flags, uint16_t next)
{
	struct vring_desc d = { addr, len, flags, next };

	memcpy(m + DESC(q) + 16 * i, &d, 16);
}

static void put_avail(uint8_t *m, unsigned int q, uint16_t idx,
		      uint16_t head0)
{
	memcpy(m + AVAIL(q) + 2, &idx, 2);
	memcpy(m + AVAIL(q) + 4, &head0, 2);
}

static void write_seed(const char *dir, const char *name, int type, bool net,
		       bool indirect)
{
	uint8_t buf[sizeof(struct fuzz_hdr) + 0x1000] = { 0 };
	struct fuzz_hdr *h = (void *)buf;
	uint8_t *m = buf + sizeof(*h);
	struct virtio_blk_outhdr oh = { .type = type, .sector = 3 };
	char path[4096];
	FILE *f;

	h->dev = net ? 1 | (type & 8) : type & 16;
	h->num_log2 = 3;
	h->features = ~0ull >> 1;
	h->nops = 1;
	h->op[0].kind = 2;
	h->op[0].val = net;
	h->frame_len = 12 + 60;
	if (net) {
		put_desc(m, 1, 0, 0x800, 12 + 60, 0, 0);
		put_avail(m, 1, 1, 0);
		put_desc(m, 0, 0, 0x900, 1526, VRING_DESC_F_WRITE, 0);
		put_avail(m, 0, 1, 0);
	} else {
		struct vring_desc d[3] = {
			{ 0x800, 16, VRING_DESC_F_NEXT, 1 },
			{ 0xa00, type == VIRTIO_BLK_T_GET_ID ? 20 : 512,
			  VRING_DESC_F_NEXT |
			  (type == VIRTIO_BLK_T_OUT ? 0 : VRING_DESC_F_WRITE), 2 },
			{ 0x810, 1, VRING_DESC_F_WRITE, 0 },
		};

		memcpy(m + 0x800, &oh, sizeof(oh));
		if (indirect) {
			memcpy(m + 0xc00, d, sizeof(d));
			put_desc(m, 0, 0, 0xc00, sizeof(d), VRING_DESC_F_INDIRECT, 0);
		} else {
			memcpy(m + DESC(0), d, sizeof(d));
		}
		put_avail(m, 0, 1, 0);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f)
		return;
	fwrite(buf, 1, sizeof(buf), f);
	fclose(f);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("FUZZ_VIRTQ_SEEDS");

	if (dir) {
		write_seed(dir, "seed-blk-in", VIRTIO_BLK_T_IN, false, false);
		write_seed(dir, "seed-blk-out", VIRTIO_BLK_T_OUT, false, false);
		write_seed(dir, "seed-blk-in-indirect", VIRTIO_BLK_T_IN, false, true);
		write_seed(dir, "seed-blk-id", VIRTIO_BLK_T_GET_ID, false, false);
		write_seed(dir, "seed-blk-flush", VIRTIO_BLK_T_FLUSH, false, false);
		write_seed(dir, "seed-net", 0, true, false);
		write_seed(dir, "seed-net-tap", 8, true, false);
		write_seed(dir, "seed-rng", 16, false, false);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 1 };
	struct libvmx_virtio_env env = { f_gpa, f_irq, NULL };
	struct libvmx_virtio_dev *dev;
	struct fuzz_hdr h = { 0 };
	bool net;
	int ret;

	if (img < 0)
		img = open_image();
	if (sp[0] < 0 && socketpair(AF_UNIX, SOCK_DGRAM, 0, sp))
		sp[0] = sp[1] = -1;
	if (img < 0 || sp[0] < 0)
		return 0;
	memcpy(&h, data, size < sizeof(h) ? size : sizeof(h));
	data += size < sizeof(h) ? size : sizeof(h);
	size -= size < sizeof(h) ? size : sizeof(h);
	ram = calloc(1, RAM_SIZE);
	memcpy(ram, data, size < RAM_SIZE ? size : RAM_SIZE);
	irq_level = 0;
	net = h.dev & 1;
	if (net)
		ret = libvmx_virtio_net_create(&env, h.dev & 8 ? sp[0] : -1,
					       mac, &dev);
	else if (h.dev & 16)
		ret = libvmx_virtio_rng_create(&env, &dev);
	else
		ret = libvmx_virtio_blk_create(&env, img, h.dev & 4, &dev);
	if (ret)
		__builtin_trap();
	if (net && (h.dev & 8))
		send_frame(&h);
	init(dev, &h, net ? 2 : 1);
	check(dev);
	for (unsigned int q = 0; q < 2; q++)
		wr(dev, VIRTIO_MMIO_QUEUE_NOTIFY, q);
	check(dev);
	for (unsigned int i = 0; i < h.nops % 9; i++) {
		run_op(dev, &h, &h.op[i]);
		check(dev);
	}
	for (unsigned int q = 0; q < 2; q++)
		wr(dev, VIRTIO_MMIO_QUEUE_NOTIFY, q);
	check(dev);
	libvmx_virtio_destroy(dev);
	drain(sp[0]);
	drain(sp[1]);
	free(ram);
	return 0;
}
