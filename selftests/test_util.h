/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by the vmx selftests. */
#ifndef VMX_TEST_UTIL_H
#define VMX_TEST_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/vmx.h>

#define VMX_DEV "/dev/vmx"

static inline int vmx_test_open(void)
{
	return open(VMX_DEV, O_RDWR | O_CLOEXEC);
}

/* ioctl() returning -errno on failure, so tests can compare in one go. */
static inline int ioctl_err(int fd, unsigned long req, void *arg)
{
	int ret = ioctl(fd, req, arg);

	return ret < 0 ? -errno : ret;
}

static inline int create_vm_args(int devfd, struct vmx_vm_create *args)
{
	return ioctl_err(devfd, VMX_CREATE_VM, args);
}

static inline int create_vm(int devfd)
{
	struct vmx_vm_create args = { 0 };

	return create_vm_args(devfd, &args);
}

/* VMX_BACKEND_* that matches this CPU's vendor, 0 if unknown. */
static inline unsigned int cpu_backend(void)
{
	char line[256];
	unsigned int backend = 0;
	FILE *f = fopen("/proc/cpuinfo", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "vendor_id", 9))
			continue;
		if (strstr(line, "AuthenticAMD") || strstr(line, "HygonGenuine"))
			backend = VMX_BACKEND_SVM;
		else if (strstr(line, "GenuineIntel"))
			backend = VMX_BACKEND_INTEL;
		break;
	}
	fclose(f);
	return backend;
}

/* Number of open file descriptors of this process. */
static inline int count_open_fds(void)
{
	char path[64];
	int fd, n = 0;

	for (fd = 0; fd < 4096; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (!access(path, F_OK))
			n++;
	}
	return n;
}

/* The module's reference count from sysfs, -1 if not loaded. */
static inline int module_refcnt(const char *name)
{
	char path[128];
	int refs = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/%s/refcnt", name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%d", &refs) != 1)
		refs = -1;
	fclose(f);
	return refs;
}

static inline int delete_module(const char *name, int flags)
{
	return syscall(__NR_delete_module, name, flags);
}

static inline int finit_module(int fd, const char *params, int flags)
{
	return syscall(__NR_finit_module, fd, params, flags);
}

#endif /* VMX_TEST_UTIL_H */
