// SPDX-License-Identifier: LGPL-2.1-or-later
/* libvmx: /dev/vmx and capabilities. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"

int libvmx_open(struct libvmx **out)
{
	struct libvmx *vmx;
	int fd, version;

	if (!out)
		return -EINVAL;
	fd = open(LIBVMX_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;

	version = lv_ioctl(fd, VMX_GET_API_VERSION, NULL);
	if (version != VMX_API_VERSION) {
		close(fd);
		return version < 0 ? version : -EPROTONOSUPPORT;
	}

	vmx = calloc(1, sizeof(*vmx));
	if (!vmx) {
		close(fd);
		return -ENOMEM;
	}
	vmx->fd = fd;
	*out = vmx;
	return 0;
}

void libvmx_close(struct libvmx *vmx)
{
	if (!vmx)
		return;
	close(vmx->fd);
	free(vmx);
}

int libvmx_fd(const struct libvmx *vmx)
{
	return vmx ? vmx->fd : -EINVAL;
}

int libvmx_get_caps(struct libvmx *vmx, struct vmx_caps *caps)
{
	if (!vmx || !caps)
		return -EINVAL;
	return lv_ioctl(vmx->fd, VMX_GET_CAPS, caps);
}
