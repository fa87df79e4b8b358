/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmxrun: the reference VMM.  One process per guest: the main thread sets
 * the machine up and waits, one thread per vCPU runs it, one thread reads
 * the console.  The device model comes from libvmx (UART, local and I/O
 * APIC, virtio, fw_cfg, loaders, ACPI); this program wires it together.
 *
 * Locking: one mutex per machine (struct machine.lock) serialises every
 * device model call, the APICs included.  Device accesses are short and
 * rare next to guest execution (VMM-NOTES.md section 2 counts ~25 APIC
 * accesses per second per idle vCPU), so finer locks would buy nothing.
 */
#ifndef VMXRUN_H
#define VMXRUN_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <vmx/libvmx.h>
#include <vmx/lapic.h>
#include <vmx/ioapic.h>
#include <vmx/uart.h>
#include <vmx/fwcfg.h>
#include <vmx/rtc.h>
#include <vmx/virtio.h>
#include <vmx/boot.h>

#define VMXRUN_MAX_CPUS		64
#define VMXRUN_MAX_VIRTIO	8

/* The platform: "microvm with ACPI" (VMM-NOTES.md section 0). */
#define PLAT_RSDP		0xe0000ULL
#define PLAT_ACPI_TABLES	0xe1000ULL
#define PLAT_ACPI_MAX		0x1f000ULL
#define PLAT_IOAPIC		0xfec00000ULL
#define PLAT_IOAPIC_SIZE	0x1000ULL
#define PLAT_LAPIC		0xfee00000ULL
#define PLAT_LAPIC_SIZE		0x1000ULL
#define PLAT_VIRTIO_BASE	0xd0000000ULL
#define PLAT_VIRTIO_STRIDE	0x1000ULL
#define PLAT_VIRTIO_SIZE	0x200ULL
#define PLAT_VIRTIO_GSI		16	/* first I/O APIC pin for virtio */
#define PLAT_MMIO_HOLE		0xc0000000ULL	/* RAM ends below it */
#define PLAT_IOAPIC_PINS	24
#define PORT_UART		0x3f8
#define UART_GSI		4
#define PORT_SLEEP		0x600	/* ACPI sleep control; +1 status */
#define PORT_RESET		0xcf9
#define RESET_VECTOR_GPA	0xffff0ULL	/* F000:FFF0, in the e820 hole */
#define RESET_VALUE		0x06
#define PORT_I8042_DATA		0x60
#define PORT_I8042_CMD		0x64
#define PORT_EXIT		0xf4	/* isa-debug-exit, QEMU's convention */
#define PORT_FWCFG		0x510

/* How vmxrun ends (documented in vmxrun.1): odd codes are the exit port's. */
#define EXIT_GUEST_OFF		0	/* poweroff or reboot */
#define EXIT_SETUP		2	/* bad option, file or set-up failure */
#define EXIT_GUEST_FAILED	4	/* triple fault, entry failure, ... */

enum vcpu_state {
	VCPU_WAIT_SIPI,		/* an AP before its start-up IPI */
	VCPU_RUNNING,
	VCPU_HALTED,		/* HLT: sleeping until an interrupt */
};

struct machine;

struct vcpu {
	struct machine *m;
	struct libvmx_vcpu *vcpu;
	struct vmx_run *run;
	struct libvmx_lapic *lapic;
	uint32_t id;
	pthread_t thread;
	bool thread_started;
	pthread_cond_t wake;
	/* Under m->lock: */
	enum vcpu_state state;
	bool in_guest;		/* between the last check and VMX_RUN's return */
	bool nmi_pending;
	bool init_pending;
	int sipi_vector;	/* -1: none received */
	struct vmx_sregs reset_sregs;
	/* The host timer that kicks this thread when its APIC timer fires. */
	timer_t timer;
	uint64_t timer_armed_ns;
	uint64_t exits;
};

struct vmxrun_options {
	const char *kernel;
	const char *initrd;
	const char *cmdline;
	uint64_t memory;
	unsigned int cpus;
	const char *disks[VMXRUN_MAX_VIRTIO];
	bool disk_readonly[VMXRUN_MAX_VIRTIO];
	unsigned int nr_disks;
	const char *net;	/* tap name, or "none" for a device without backend */
	bool console_stdio;
	bool no_auto_cmdline;
	bool verbose;
};

struct virtio_slot {
	struct machine *m;
	struct libvmx_virtio_env env;
	struct libvmx_virtio_dev *dev;
	unsigned int gsi;
	int fd;
};

struct machine {
	struct vmxrun_options opt;
	struct libvmx *vmx;
	struct libvmx_vm *vm;
	void *ram;
	uint64_t ram_size;
	uint64_t tsc_khz;
	uint64_t tsc_offset;
	unsigned int nr_cpus;
	struct vcpu cpus[VMXRUN_MAX_CPUS];
	pthread_mutex_t lock;
	/* Under lock: */
	bool stopping;
	int exit_code;
	struct libvmx_ioapic *ioapic;
	struct libvmx_uart *uart;
	struct libvmx_fwcfg *fwcfg;
	struct libvmx_rtc *rtc;
	struct virtio_slot virtio[VMXRUN_MAX_VIRTIO];
	unsigned int nr_virtio;
	int net_tap_fd;			/* the tap, or -1 */
	struct libvmx_virtio_dev *net_dev;
	bool multiboot;
	struct libvmx_boot_entry boot_entry;
	/* Console. */
	int console_in;
	int console_out;
	bool console_raw;
	bool escape_seen;
};

/* vcpu.c */
int vcpus_create(struct machine *m);
int vcpus_start(struct machine *m);
void vcpu_kick(struct vcpu *c);
void machine_stop(struct machine *m, int code);
void vcpus_report(struct machine *m);
struct vcpu *vcpu_by_apic_id(struct machine *m, uint32_t id);
void apic_route(struct machine *m, struct vcpu *from,
		const struct libvmx_apic_msg *msg);
void apic_clock_now(struct machine *m, struct libvmx_apic_clock *now);

/* devices.c */
int devices_create(struct machine *m);
void devices_destroy(struct machine *m);
int bus_pio(struct machine *m, struct vcpu *c, uint16_t port, void *data,
	    unsigned int size, bool is_out);
int bus_mmio(struct machine *m, struct vcpu *c, uint64_t gpa, void *data,
	     unsigned int size, bool is_write);
int bus_msr(struct machine *m, struct vcpu *c, struct vmx_run *run);

/* net.c */
int net_open_tap(const char *name);
int net_start(struct machine *m);

/* console.c */
int console_start(struct machine *m);
void console_restore(struct machine *m);
void console_putc(struct machine *m, uint8_t byte);

/* boot.c */
int machine_load(struct machine *m);
int machine_set_cpuid(struct machine *m);
uint64_t host_tsc_khz(void);

/* Errors go to stderr, prefixed with the program name. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void warnx_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* VMXRUN_H */
