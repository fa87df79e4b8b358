// SPDX-License-Identifier: GPL-2.0
/*
 * vmxfuzz: the ABI's documented errno values (Documentation/ABI.md) and
 * probes with inputs whose outcome the ABI fixes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"

#define FZ_MAX_PRINTED	50

static pthread_mutex_t fz_print_lock = PTHREAD_MUTEX_INITIALIZER;

int fz_ioctl(int fd, unsigned long req, void *arg)
{
	fz_count(FZ_CALLS);
	return ioctl(fd, req, arg);
}

static void fz_vprint(const char *prefix, const char *fmt, va_list ap)
{
	pthread_mutex_lock(&fz_print_lock);
	printf("# %s", prefix);
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	pthread_mutex_unlock(&fz_print_lock);
}

void fz_mismatch(const char *fmt, ...)
{
	va_list ap;

	if (atomic_fetch_add(&fz.count[FZ_MISMATCH], 1) >= FZ_MAX_PRINTED)
		return;
	va_start(ap, fmt);
	fz_vprint("MISMATCH ", fmt, ap);
	va_end(ap);
}

void fz_note(const char *fmt, ...)
{
	va_list ap;

	if (!fz.opts.verbose)
		return;
	va_start(ap, fmt);
	fz_vprint("", fmt, ap);
	va_end(ap);
}

const char *fz_errname(int ret, int err)
{
	static __thread char buf[32];

	if (ret >= 0) {
		snprintf(buf, sizeof(buf), "success (%d)", ret);
		return buf;
	}
	snprintf(buf, sizeof(buf), "%s", strerrorname_np(err) ?: "?");
	return buf;
}

bool fz_expect(const char *what, int ret, int err, int want, bool busy_ok)
{
	if (ret < 0 && err == EBUSY)
		fz_count(FZ_EBUSY);
	if (ret < 0 && (err == ENOMEM || (busy_ok && err == EBUSY)))
		return true;
	if (want == 0 && ret >= 0)
		return true;
	if (want == FZ_ANY_ERRNO && ret < 0)
		return true;
	if (want > 0 && ret < 0 && err == want)
		return true;
	fz_mismatch("%s: got %s, ABI says %s", what, fz_errname(ret, err),
		    want == 0 ? "success" : want == FZ_ANY_ERRNO ? "an error" :
		    strerrorname_np(want));
	return false;
}

#define FZ_EXPECT(what, expr, want, busy_ok) ({				\
	int __ret = (expr);						\
	fz_expect(what, __ret, errno, want, busy_ok);			\
	__ret;								\
})

/* The kernel's rule for struct vmx_event (ABI.md, VMX_INJECT_EVENT). */
int fz_event_valid(const struct vmx_event *ev)
{
	const uint32_t with_code = (1U << 8) | (0x1fU << 10) | (1U << 17) |
				   (1U << 21) | (1U << 29) | (1U << 30);
	bool has = ev->flags & VMX_EVENT_HAS_ERROR_CODE;

	if (ev->flags & ~VMX_EVENT_HAS_ERROR_CODE || ev->reserved[0] ||
	    ev->reserved[1] || (!has && ev->error_code))
		return 0;
	switch (ev->type) {
	case VMX_EVENT_EXTINT:
		return ev->vector >= 32 && ev->vector <= 255 && !has;
	case VMX_EVENT_NMI:
		return ev->vector == 2 && !has;
	case VMX_EVENT_EXCEPTION:
		if (ev->vector > 31 || ev->vector == 2)
			return 0;
		return has == !!(with_code & (1U << ev->vector));
	}
	return 0;
}

static void fz_probe_create_vm(struct fz_rng *r)
{
	struct vmx_vm_create c = { 0 };
	int fd;

	switch (fz_below(r, 3)) {
	case 0:
		c.flags = 1U << fz_below(r, 32);
		break;
	case 1:
		c.pad = (uint32_t)fz_rand(r) | 1;
		break;
	default:
		c.reserved[fz_below(r, 3)] = 1ULL << fz_below(r, 64);
		break;
	}
	fd = FZ_EXPECT("CREATE_VM with a non-zero reserved field",
		       fz_ioctl(fz.dev_fd, VMX_CREATE_VM, &c), EINVAL, false);
	if (fd >= 0)
		close(fd);
}

static void fz_probe_default_cpuid(struct fz_rng *r)
{
	struct {
		struct vmx_cpuid h;
		struct vmx_cpuid_entry e[2];
	} c = { .h.nent = fz_below(r, 2) };

	FZ_EXPECT("GET_DEFAULT_CPUID into a short table",
		  fz_ioctl(fz.dev_fd, VMX_GET_DEFAULT_CPUID, &c), E2BIG, false);
	if (c.h.nent != fz.default_cpuid->nent)
		fz_mismatch("GET_DEFAULT_CPUID E2BIG: nent %u, table has %u",
			    c.h.nent, fz.default_cpuid->nent);
	c.h.nent = 2;
	c.h.flags = 1U << fz_below(r, 32);
	FZ_EXPECT("GET_DEFAULT_CPUID with flags",
		  fz_ioctl(fz.dev_fd, VMX_GET_DEFAULT_CPUID, &c), EINVAL, false);
}

/* Inputs on /dev/vmx itself whose outcome the ABI fixes. */
void fz_probe_dev(struct fz_rng *r)
{
	struct vmx_caps caps;
	void *p;

	switch (fz_below(r, 5)) {
	case 0:
		if (fz_ioctl(fz.dev_fd, VMX_GET_API_VERSION, NULL) != VMX_API_VERSION)
			fz_mismatch("GET_API_VERSION is not %d", VMX_API_VERSION);
		break;
	case 1:
		FZ_EXPECT("GET_CAPS", fz_ioctl(fz.dev_fd, VMX_GET_CAPS, &caps),
			  0, false);
		break;
	case 2:
		fz_probe_create_vm(r);
		break;
	case 3:
		fz_probe_default_cpuid(r);
		break;
	default:
		FZ_EXPECT("unknown ioctl on /dev/vmx",
			  fz_ioctl(fz.dev_fd, _IO(VMX_IOC_MAGIC, 0x40 + fz_below(r, 0x40)),
				   NULL), ENOTTY, false);
		p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fz.dev_fd, 0);
		fz_expect("mmap of /dev/vmx", p == MAP_FAILED ? -1 : 0, errno,
			  ENODEV, false);
		if (p != MAP_FAILED)
			munmap(p, 4096);
		break;
	}
}

static void fz_probe_cpuid(struct fz_scen *s)
{
	struct fz_rng *r = &s->rng;
	struct {
		struct vmx_cpuid h;
		struct vmx_cpuid_entry e[1];
	} c = { .h.nent = 1 };

	switch (fz_below(r, 3)) {
	case 0:
		c.h.flags = 1U << fz_below(r, 32);
		break;
	case 1:
		c.e[0].flags = 2U << fz_below(r, 31);
		break;
	default:
		c.e[0].pad = (uint32_t)fz_rand(r) | 1;
		break;
	}
	FZ_EXPECT("SET_CPUID with bad flags or pad",
		  fz_ioctl(s->vm_fd, VMX_SET_CPUID, &c), EINVAL, false);
	c = (typeof(c)){ .h.nent = VMX_MAX_CPUID_ENTRIES + 1 + fz_below(r, 1000) };
	FZ_EXPECT("SET_CPUID with too many entries",
		  fz_ioctl(s->vm_fd, VMX_SET_CPUID, &c), E2BIG, false);
}

static void fz_probe_vcpu_create(struct fz_scen *s)
{
	struct fz_rng *r = &s->rng;
	struct vmx_vcpu_create c = { 0 };
	int fd, want = EINVAL;

	switch (fz_below(r, 4)) {
	case 0:
		c.flags = 1U << fz_below(r, 32);
		break;
	case 1:
		c.reserved[fz_below(r, 3)] = 1ULL << fz_below(r, 64);
		break;
	case 2:
		c.id = fz.caps.max_vcpus + fz_below(r, 3) * (fz_below(r, 2) ? 1 : 1000);
		break;
	default:
		if (!s->nvcpu)
			return;
		c.id = s->vcpu[fz_below(r, s->nvcpu)].id;
		want = EEXIST;
		break;
	}
	fd = FZ_EXPECT("CREATE_VCPU with bad arguments",
		       fz_ioctl(s->vm_fd, VMX_CREATE_VCPU, &c), want, false);
	if (fd >= 0)
		close(fd);
}

static void fz_probe_dirty_log(struct fz_scen *s)
{
	struct fz_rng *r = &s->rng;
	struct fz_region *g = &s->reg[fz_below(r, s->nreg)];
	uint64_t bitmap[64];
	struct vmx_dirty_log d = {
		.slot = g->slot, .bitmap = (uintptr_t)bitmap,
	};
	int want;

	if (!g->in_kernel) {
		want = ENOENT;
	} else if (fz_chance(r, 30)) {
		d.flags = 1U << fz_below(r, 32);
		want = EINVAL;
	} else {
		want = g->flags & VMX_MEM_DIRTY_LOG ? 0 : EINVAL;
		if (g->size / 4096 > sizeof(bitmap) * 8)
			return;
	}
	FZ_EXPECT("GET_DIRTY_LOG", fz_ioctl(s->vm_fd, VMX_GET_DIRTY_LOG, &d),
		  want, false);
}

/* Inputs on a VM fd whose outcome the ABI fixes. */
void fz_probe_vm(struct fz_scen *s)
{
	struct fz_rng *r = &s->rng;
	struct vmx_vm_info info;
	void *p;

	switch (fz_below(r, 5)) {
	case 0:
		FZ_EXPECT("VM_GET_INFO", fz_ioctl(s->vm_fd, VMX_VM_GET_INFO, &info),
			  0, false);
		break;
	case 1:
		fz_probe_cpuid(s);
		break;
	case 2:
		fz_probe_vcpu_create(s);
		break;
	case 3:
		fz_probe_dirty_log(s);
		break;
	default:
		FZ_EXPECT("unknown ioctl on a VM fd",
			  fz_ioctl(s->vm_fd, _IO(VMX_IOC_MAGIC, 0x30 + fz_below(r, 0x10)),
				   NULL), ENOTTY, false);
		p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, s->vm_fd, 0);
		fz_expect("mmap of a VM fd", p == MAP_FAILED ? -1 : 0, errno,
			  ENODEV, false);
		if (p != MAP_FAILED)
			munmap(p, 4096);
		break;
	}
}
