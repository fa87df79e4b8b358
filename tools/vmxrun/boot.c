// SPDX-License-Identifier: GPL-2.0
/*
 * vmxrun: what the guest finds at power-on.  The kernel image (bzImage
 * or multiboot) and initrd in RAM through libvmx's loaders, the boot
 * vCPU's registers, the CPUID table, and the TSC rate the guest is told.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <x86intrin.h>

#include <vmx/boot.h>

#include "vmxrun.h"

/* A whole file in memory (read-only mapping); NULL with errno on failure. */
static void *map_file(const char *path, size_t *size)
{
	struct stat st;
	void *p;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st)) {
		close(fd);
		return NULL;
	}
	*size = st.st_size;
	if (!st.st_size) {
		close(fd);
		return calloc(1, 1);	/* the loader reports "truncated" */
	}
	p = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

static void unmap_file(void *p, size_t size)
{
	if (!p)
		return;
	if (size)
		munmap(p, size);
	else
		free(p);
}

static const char *loader_error(int err)
{
	switch (err) {
	case -ENOEXEC:
		return "not a bzImage (64-bit boot protocol 2.12+) or multiboot kernel";
	case -EINVAL:
		return "truncated or inconsistent image";
	case -ENOSPC:
		return "kernel and initrd do not fit in the guest's memory (try a larger --memory)";
	case -E2BIG:
		return "command line or memory map too long";
	}
	return strerror(-err);
}

/*
 * The guest is told the TSC rate on its command line (tsc_early_khz=):
 * with no PIT, HPET or PM timer here, Linux has nothing else to calibrate
 * against (VMM-NOTES.md section 1, "Clock and TSC calibration").
 */
static char *linux_cmdline(struct machine *m)
{
	const char *user = m->opt.cmdline ? m->opt.cmdline : "console=ttyS0";
	char *cmdline;

	if (m->opt.no_auto_cmdline || strstr(user, "tsc_early_khz="))
		return strdup(user);
	if (asprintf(&cmdline, "%s tsc_early_khz=%llu", user,
		     (unsigned long long)m->tsc_khz) < 0)
		return NULL;
	return cmdline;
}

static int load_linux(struct machine *m, const void *kernel, size_t ksize,
		      struct libvmx_boot_entry *entry)
{
	struct libvmx_guest_ram ram = { m->ram, m->ram_size };
	struct libvmx_linux_boot boot = {
		.kernel = kernel, .kernel_size = ksize, .rsdp_gpa = PLAT_RSDP,
	};
	void *initrd = NULL;
	size_t isize = 0;
	int ret;

	if (m->opt.initrd) {
		initrd = map_file(m->opt.initrd, &isize);
		if (!initrd) {
			warnx_("--initrd %s: %s", m->opt.initrd, strerror(errno));
			return -errno;
		}
		boot.initrd = initrd;
		boot.initrd_size = isize;
	}
	boot.cmdline = linux_cmdline(m);
	if (!boot.cmdline)
		return -ENOMEM;
	ret = libvmx_load_linux(&ram, &boot, entry);
	free((void *)boot.cmdline);
	unmap_file(initrd, isize);
	return ret;
}

/*
 * The BIOS reset vector (F000:FFF0) holds the only firmware the machine
 * has: a write of RESET_VALUE to the reset register, so that a guest
 * that resets by jumping there ends vmxrun like any other reset.  Linux
 * does exactly that: on a hardware-reduced ACPI platform it picks the EFI
 * reset first and, without EFI, goes on to the BIOS one
 * (arch/x86/kernel/reboot.c, reboot_init() and
 * native_machine_emergency_restart()); ACPI and the 8042 are never tried.
 */
static void write_reset_vector(struct machine *m)
{
	static const uint8_t stub[] = {
		0xba, PORT_RESET & 0xff, PORT_RESET >> 8,	/* mov dx, PORT_RESET */
		0xb0, RESET_VALUE,				/* mov al, RESET_VALUE */
		0xee,						/* out dx, al */
		0xf4,						/* hlt */
		0xeb, 0xfd,					/* jmp to the hlt */
	};

	memcpy((uint8_t *)m->ram + RESET_VECTOR_GPA, stub, sizeof(stub));
}

int machine_load(struct machine *m)
{
	struct libvmx_guest_ram ram = { m->ram, m->ram_size };
	struct libvmx_boot_entry entry;
	size_t ksize = 0;
	void *kernel;
	int kind, ret;

	kernel = map_file(m->opt.kernel, &ksize);
	if (!kernel) {
		warnx_("--kernel %s: %s", m->opt.kernel, strerror(errno));
		return -errno;
	}
	kind = libvmx_boot_detect(kernel, ksize);
	if (kind == LIBVMX_IMAGE_MULTIBOOT) {
		m->multiboot = true;
		ret = libvmx_load_multiboot(&ram, kernel, ksize,
					    m->opt.cmdline ? m->opt.cmdline : "",
					    &entry);
	} else if (kind == LIBVMX_IMAGE_BZIMAGE) {
		ret = load_linux(m, kernel, ksize, &entry);
	} else {
		ret = kind;
	}
	unmap_file(kernel, ksize);
	if (ret) {
		warnx_("--kernel %s: %s", m->opt.kernel, loader_error(ret));
		return ret;
	}
	m->boot_entry = entry;
	write_reset_vector(m);
	return 0;
}

static struct vmx_cpuid_entry *cpuid_find(struct vmx_cpuid *t, uint32_t fn,
					  uint32_t index)
{
	uint32_t i;

	for (i = 0; i < t->nent; i++)
		if (t->entries[i].function == fn &&
		    (!(t->entries[i].flags & VMX_CPUID_INDEXED) ||
		     t->entries[i].index == index))
			return &t->entries[i];
	return NULL;
}

#define CPUID1_ECX_TSC_DEADLINE	(1U << 24)
#define CPUID1_ECX_X2APIC	(1U << 21)
#define CPUID6_EAX_ARAT		(1U << 2)

/*
 * The module's default table, plus what vmxrun's APIC offers: the TSC
 * deadline timer (one MSR write per tick, no MMIO decode) and an APIC
 * timer that keeps running in deep C-states (ARAT), so that Linux needs
 * no broadcast timer.  x2APIC stays off until the module accepts EXTD in
 * IA32_APIC_BASE.
 */
int machine_set_cpuid(struct machine *m)
{
	size_t size = sizeof(struct vmx_cpuid) +
		      VMX_MAX_CPUID_ENTRIES * sizeof(struct vmx_cpuid_entry);
	struct vmx_cpuid_entry *e;
	struct vmx_cpuid *t;
	int ret;

	t = calloc(1, size);
	if (!t)
		return -ENOMEM;
	t->nent = VMX_MAX_CPUID_ENTRIES;
	if (ioctl(libvmx_fd(m->vmx), VMX_GET_DEFAULT_CPUID, t)) {
		ret = -errno;
		goto out;
	}
	e = cpuid_find(t, 1, 0);
	if (e) {
		e->ecx |= CPUID1_ECX_TSC_DEADLINE;
		e->ecx &= ~CPUID1_ECX_X2APIC;
	}
	e = cpuid_find(t, 6, 0);
	if (e)
		e->eax |= CPUID6_EAX_ARAT;
	ret = ioctl(libvmx_vm_fd(m->vm), VMX_SET_CPUID, t) ? -errno : 0;
out:
	free(t);
	return ret;
}

/*
 * The host TSC rate, measured against CLOCK_MONOTONIC_RAW over 50 ms: the
 * guest's TSC runs at the host's (only the offset differs).
 */
uint64_t host_tsc_khz(void)
{
	struct timespec t0, t1;
	uint64_t c0, c1, ns;

	clock_gettime(CLOCK_MONOTONIC_RAW, &t0);
	c0 = __rdtsc();
	usleep(50000);
	clock_gettime(CLOCK_MONOTONIC_RAW, &t1);
	c1 = __rdtsc();
	ns = (t1.tv_sec - t0.tv_sec) * 1000000000ULL + t1.tv_nsec - t0.tv_nsec;
	return ns ? (c1 - c0) * 1000000ULL / ns : 0;
}
