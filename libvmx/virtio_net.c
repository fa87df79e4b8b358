// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * virtio network device (virtio 1.2 section 5.1): receive queue 0,
 * transmit queue 1, no control queue, no offloads.  Frames travel with
 * their 12-byte virtio_net_hdr_v1 to and from a tap (IFF_VNET_HDR), so
 * the header the guest wrote is the one the tap reads.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <linux/if_tun.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>

#include "virtio_priv.h"

#define NET_RXQ		0
#define NET_TXQ		1
#define NET_HDR_SIZE	sizeof(struct virtio_net_hdr_v1)
/* A tap frame is at most 64 KiB (with GSO, which we never enable). */
#define NET_FRAME_MAX	(65536 + NET_HDR_SIZE)
#define NET_RX_BUDGET	256

struct net {
	int tap;
	size_t pending;		/* bytes of a frame waiting in buf, or 0 */
	uint8_t *buf;
};

static void net_tx(struct libvmx_virtio_dev *dev, struct net *net)
{
	struct vq_elem *e = &dev->elem;

	if (vmx_vq_begin(dev, NET_TXQ))
		return;
	while (vmx_vq_pop(dev, NET_TXQ, e) > 0) {
		/*
		 * A frame the tap refuses (full, too short) is dropped as a
		 * NIC would; it never stops the queue.
		 */
		if (net->tap >= 0 && e->out_len >= NET_HDR_SIZE) {
			ssize_t r;

			do
				r = writev(net->tap, e->iov, e->nr_out);
			while (r < 0 && errno == EINTR);
		}
		vmx_vq_push(dev, NET_TXQ, e->head, 0);
	}
	vmx_vq_end(dev, NET_TXQ);
}

/* Read one frame into net->buf; false when the tap has none. */
static bool net_read(struct net *net)
{
	ssize_t r;

	if (net->pending)
		return true;
	do
		r = read(net->tap, net->buf, NET_FRAME_MAX);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return false;
	net->pending = r;
	return true;
}

/* Frames to the guest; see libvmx_virtio_net_rx(). */
static int net_rx(struct libvmx_virtio_dev *dev, struct net *net)
{
	struct vq_elem *e = &dev->elem;
	int delivered = 0, ret = 0;

	if (vmx_vq_begin(dev, NET_RXQ)) {
		/* Nobody to receive: drop, like a link with no driver. */
		for (int i = 0; i < NET_RX_BUDGET && net_read(net); i++)
			net->pending = 0;
		return 0;
	}
	for (int i = 0; i < NET_RX_BUDGET; i++) {
		struct virtio_net_hdr_v1 *hdr = (void *)net->buf;
		int r;

		if (!net_read(net))
			break;
		r = vmx_vq_pop(dev, NET_RXQ, e);
		if (r < 0) {
			net->pending = 0;
			return 0;
		}
		if (!r) {
			ret = -ENOBUFS;
			break;
		}
		if (net->pending < NET_HDR_SIZE || net->pending > e->in_len) {
			/* Without MRG_RXBUF a frame must fit one buffer. */
			vmx_vq_unpop(dev, NET_RXQ);
			net->pending = 0;
			continue;
		}
		hdr->num_buffers = 1;
		vmx_buf_to_iov(e->iov + e->nr_out, e->nr_in, 0, net->buf,
			       net->pending);
		vmx_vq_push(dev, NET_RXQ, e->head, net->pending);
		net->pending = 0;
		delivered++;
	}
	vmx_vq_end(dev, NET_RXQ);
	return delivered ? delivered : ret;
}

static void net_notify(struct libvmx_virtio_dev *dev, unsigned int q)
{
	struct net *net = dev->be_priv;

	if (q == NET_TXQ) {
		net_tx(dev, net);
		return;
	}
	/* New receive buffers: a frame may be waiting for them. */
	if (net->tap >= 0)
		net_rx(dev, net);
}

static void net_reset(struct libvmx_virtio_dev *dev)
{
	struct net *net = dev->be_priv;

	net->pending = 0;
}

static void net_destroy(struct libvmx_virtio_dev *dev)
{
	struct net *net = dev->be_priv;

	free(net->buf);
	free(net);
}

int libvmx_virtio_net_rx(struct libvmx_virtio_dev *dev)
{
	struct net *net;

	if (!dev || dev->be.device_id != VIRTIO_ID_NET)
		return -EINVAL;
	net = dev->be_priv;
	if (net->tap < 0)
		return -EINVAL;
	return net_rx(dev, net);
}

int libvmx_virtio_net_create(const struct libvmx_virtio_env *env, int tap_fd,
			     const uint8_t mac[6], struct libvmx_virtio_dev **out)
{
	struct virtio_backend be = {
		.device_id = VIRTIO_ID_NET,
		.features = 1ull << VIRTIO_F_VERSION_1 |
			    1ull << VIRTIO_RING_F_INDIRECT_DESC |
			    1ull << VIRTIO_RING_F_EVENT_IDX |
			    1ull << VIRTIO_NET_F_MAC |
			    1ull << VIRTIO_NET_F_STATUS,
		.nr_queues = 2,
		/* mac and status; the rest needs features we do not offer. */
		.config_size = 8,
		.notify = net_notify,
		.reset = net_reset,
		.destroy = net_destroy,
	};
	struct virtio_net_config cfg = { 0 };
	struct libvmx_virtio_dev *dev;
	struct net *net;
	int ret;

	if (!env || !env->gpa_to_hva || !mac || !out)
		return -EINVAL;
	if (tap_fd >= 0) {
		int hdr_size = NET_HDR_SIZE;
		int fl = fcntl(tap_fd, F_GETFL);

		if (fl < 0 || fcntl(tap_fd, F_SETFL, fl | O_NONBLOCK))
			return -errno;
		/* Not a tap (a socketpair in tests): the framing is the caller's. */
		ioctl(tap_fd, TUNSETVNETHDRSZ, &hdr_size);
	}
	net = calloc(1, sizeof(*net));
	if (!net)
		return -ENOMEM;
	net->tap = tap_fd < 0 ? -1 : tap_fd;
	if (tap_fd >= 0) {
		net->buf = malloc(NET_FRAME_MAX);
		if (!net->buf) {
			free(net);
			return -ENOMEM;
		}
	}
	ret = vmx_virtio_dev_new(env, &be, &dev);
	if (ret) {
		free(net->buf);
		free(net);
		return ret;
	}
	dev->be_priv = net;
	memcpy(cfg.mac, mac, 6);
	cfg.status = VIRTIO_NET_S_LINK_UP;
	memcpy(dev->config, &cfg, be.config_size);
	*out = dev;
	return 0;
}
