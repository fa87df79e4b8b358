// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * virtio entropy device (virtio 1.2 section 5.4): one request queue whose
 * device-writable buffers are filled from getrandom(2).
 */
#include <errno.h>
#include <sys/random.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>

#include "virtio_priv.h"

/* Bytes per request at most: bounds the time one kick can take. */
#define RNG_REQ_MAX	65536

static uint32_t rng_fill(const struct vq_elem *e)
{
	const struct iovec *iov = e->iov + e->nr_out;
	uint32_t done = 0;

	for (unsigned int i = 0; i < e->nr_in && done < RNG_REQ_MAX; i++) {
		size_t want = iov[i].iov_len;
		size_t got = 0;

		if (want > RNG_REQ_MAX - done)
			want = RNG_REQ_MAX - done;
		while (got < want) {
			ssize_t r = getrandom((char *)iov[i].iov_base + got,
					      want - got, 0);

			if (r < 0) {
				if (errno == EINTR)
					continue;
				return done + got;
			}
			got += r;
		}
		done += got;
	}
	return done;
}

static void rng_notify(struct libvmx_virtio_dev *dev, unsigned int q)
{
	struct vq_elem *e = &dev->elem;

	if (vmx_vq_begin(dev, q))
		return;
	while (vmx_vq_pop(dev, q, e) > 0)
		vmx_vq_push(dev, q, e->head, rng_fill(e));
	vmx_vq_end(dev, q);
}

int libvmx_virtio_rng_create(const struct libvmx_virtio_env *env,
			     struct libvmx_virtio_dev **out)
{
	struct virtio_backend be = {
		.device_id = VIRTIO_ID_RNG,
		.features = 1ull << VIRTIO_F_VERSION_1 |
			    1ull << VIRTIO_RING_F_INDIRECT_DESC |
			    1ull << VIRTIO_RING_F_EVENT_IDX,
		.nr_queues = 1,
		.config_size = 0,
		.notify = rng_notify,
	};

	if (!env || !env->gpa_to_hva || !out)
		return -EINVAL;
	return vmx_virtio_dev_new(env, &be, out);
}
