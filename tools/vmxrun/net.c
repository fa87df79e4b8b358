// SPDX-License-Identifier: GPL-2.0
/*
 * vmxrun: the network backend.  --net tapN attaches the virtio network
 * device to the host's tap interface of that name (created if missing,
 * which needs CAP_NET_ADMIN; a persistent tap the user owns does not).
 * The guest's frames go out from the vCPU thread that notified the
 * transmit queue; a thread of its own waits for frames from the tap and
 * hands them to the receive queue.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <net/if.h>
#include <linux/if_tun.h>

#include "vmxrun.h"

/* A guest without free receive buffers is polled this often. */
#define NET_NOBUFS_WAIT_US	1000

/*
 * Open the tap @name with the virtio header on every frame (IFF_VNET_HDR:
 * the guest's header is what the tap reads) and no packet info.
 */
int net_open_tap(const char *name)
{
	struct ifreq ifr;
	int fd;

	if (strlen(name) >= IFNAMSIZ) {
		warnx_("--net %s: an interface name has at most %d characters",
		       name, IFNAMSIZ - 1);
		return -EINVAL;
	}
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		warnx_("--net %s: /dev/net/tun: %s", name, strerror(errno));
		return -errno;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(fd, TUNSETIFF, &ifr)) {
		int err = errno;

		warnx_("--net %s: cannot attach to the tap: %s%s", name,
		       strerror(err), err == EPERM ?
		       " (create it first: ip tuntap add NAME mode tap user USER)" : "");
		close(fd);
		return -err;
	}
	return fd;
}

static void *net_thread(void *arg)
{
	struct machine *m = arg;
	struct pollfd pfd = { .fd = m->net_tap_fd, .events = POLLIN };
	bool stopping = false;
	int ret;

	while (!stopping) {
		pfd.revents = 0;
		if (poll(&pfd, 1, 200) < 0 && errno != EINTR)
			break;
		pthread_mutex_lock(&m->lock);
		stopping = m->stopping;
		ret = 0;
		if (!stopping && (pfd.revents & POLLIN))
			ret = libvmx_virtio_net_rx(m->net_dev);
		pthread_mutex_unlock(&m->lock);
		/* The tap went away (deleted, or its fd broke): no more frames. */
		if (!stopping && (pfd.revents & (POLLERR | POLLHUP | POLLNVAL))) {
			warnx_("--net: the tap stopped working; the guest receives no more frames");
			break;
		}
		/*
		 * The guest has no buffer posted: the frame waits in the
		 * device, which takes it as soon as the guest adds buffers.
		 */
		if (ret == -ENOBUFS)
			usleep(NET_NOBUFS_WAIT_US);
	}
	return NULL;
}

int net_start(struct machine *m)
{
	pthread_t thread;
	int ret;

	if (m->net_tap_fd < 0)
		return 0;
	ret = pthread_create(&thread, NULL, net_thread, m);
	if (ret)
		return -ret;
	pthread_detach(thread);
	return 0;
}
