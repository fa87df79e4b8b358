/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libvmx: definitions shared by the library's own files. */
#ifndef LIBVMX_INTERNAL_H
#define LIBVMX_INTERNAL_H

#include <errno.h>
#include <sys/ioctl.h>

#include "vmx/libvmx.h"

struct libvmx {
	int fd;
};

struct libvmx_vm {
	struct libvmx *vmx;
	int fd;
};

/* ioctl(2) with the result turned into the library's -errno convention. */
static inline int lv_ioctl(int fd, unsigned long req, void *arg)
{
	int ret = ioctl(fd, req, arg);

	return ret < 0 ? -errno : ret;
}

#endif /* LIBVMX_INTERNAL_H */
