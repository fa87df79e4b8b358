/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libvmx: definitions shared by the library's own files. */
#ifndef LIBVMX_INTERNAL_H
#define LIBVMX_INTERNAL_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <urcu/urcu-memb.h>

#include "vmx/libvmx.h"

struct libvmx {
	int fd;
};

/* One guest-physical range backed by host memory (a slot). */
struct lv_region {
	uint64_t gpa;
	uint64_t size;
	void *hva;
	uint32_t slot;
	uint32_t flags;
	bool owned;		/* allocated by libvmx_vm_add_ram() */
};

/* Immutable once published; sorted by gpa. */
struct lv_memmap {
	size_t nr;
	struct lv_region regions[];
};

/*
 * @memmap: RCU-published (liburcu memb flavour); readers need no lock,
 * writers hold @map_lock.
 */
struct libvmx_vm {
	struct libvmx *vmx;
	int fd;
	pthread_mutex_t map_lock;
	struct lv_memmap *memmap;
};

/* @sync: the module keeps register copies in the run area. */
struct libvmx_vcpu {
	struct libvmx_vm *vm;
	int fd;
	uint32_t id;
	struct vmx_run *run;
	bool sync;
};

void lv_vcpu_put_regs(struct libvmx_vcpu *vcpu, const struct vmx_regs *regs);

void lv_vm_free_memory(struct libvmx_vm *vm);

/* ioctl(2) with the result turned into the library's -errno convention. */
static inline int lv_ioctl(int fd, unsigned long req, void *arg)
{
	int ret = ioctl(fd, req, arg);

	return ret < 0 ? -errno : ret;
}

#endif /* LIBVMX_INTERNAL_H */
