// SPDX-License-Identifier: GPL-2.0
/*
 * vmxrun: the buses.  Port I/O: the 8250 at 0x3f8, the ACPI sleep and
 * reset registers, a two-port i8042 stub (Linux's reboot path polls it),
 * QEMU's exit port and fw_cfg.  MMIO: each vCPU's local APIC page, the
 * I/O APIC, the virtio-mmio windows.  MSRs: the APIC's.  Everything else
 * is an empty bus: reads give all ones, writes vanish; unknown MSRs #GP.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <vmx/acpi.h>

#include "vmxrun.h"

static void uart_irq(void *opaque, int level)
{
	struct machine *m = opaque;

	libvmx_ioapic_set_irq(m->ioapic, UART_GSI, level);
}

static void uart_tx(void *opaque, uint8_t byte)
{
	console_putc(opaque, byte);
}

static const struct libvmx_uart_ops uart_ops = {
	.irq = uart_irq,
	.tx = uart_tx,
};

static void ioapic_deliver(void *opaque, const struct libvmx_apic_msg *msg)
{
	apic_route(opaque, NULL, msg);
}

static const struct libvmx_ioapic_ops ioapic_ops = {
	.deliver = ioapic_deliver,
};

static void lapic_send(void *opaque, struct libvmx_lapic *from,
		       const struct libvmx_apic_msg *msg)
{
	struct machine *m = opaque;

	apic_route(m, vcpu_by_apic_id(m, libvmx_lapic_id(from)), msg);
}

static void lapic_eoi(void *opaque, struct libvmx_lapic *apic, uint8_t vector)
{
	struct machine *m = opaque;

	(void)apic;
	libvmx_ioapic_eoi(m->ioapic, vector);
}

static const struct libvmx_lapic_ops lapic_ops = {
	.send = lapic_send,
	.eoi = lapic_eoi,
};

/* The device model calls back into virtio's interrupt line with the lock held. */
static void virtio_irq(void *opaque, int level)
{
	struct virtio_slot *slot = opaque;

	libvmx_ioapic_set_irq(slot->m->ioapic, slot->gsi, level);
}

static void *virtio_gpa(void *opaque, uint64_t gpa, uint64_t len)
{
	struct virtio_slot *slot = opaque;

	return libvmx_gpa_to_hva(slot->m->vm, gpa, len);
}

static int add_virtio_slot(struct machine *m, struct virtio_slot **out)
{
	struct virtio_slot *slot;

	if (m->nr_virtio >= VMXRUN_MAX_VIRTIO)
		return -ENOSPC;
	slot = &m->virtio[m->nr_virtio];
	slot->m = m;
	slot->gsi = PLAT_VIRTIO_GSI + m->nr_virtio;
	slot->fd = -1;
	slot->env.gpa_to_hva = virtio_gpa;
	slot->env.irq = virtio_irq;
	slot->env.opaque = slot;
	*out = slot;
	return 0;
}

static int add_disk(struct machine *m, const char *path, bool readonly)
{
	struct virtio_slot *slot;
	int ret;

	ret = add_virtio_slot(m, &slot);
	if (ret)
		return ret;
	slot->fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (slot->fd < 0) {
		warnx_("--disk %s: %s", path, strerror(errno));
		return -errno;
	}
	ret = libvmx_virtio_blk_create(&slot->env, slot->fd, readonly, &slot->dev);
	if (ret)
		return ret;
	m->nr_virtio++;
	return 0;
}

static int add_net(struct machine *m)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
	struct virtio_slot *slot;
	int ret;

	ret = add_virtio_slot(m, &slot);
	if (ret)
		return ret;
	/* "none": a device without backend; its frames go nowhere. */
	if (strcmp(m->opt.net, "none")) {
		slot->fd = net_open_tap(m->opt.net);
		if (slot->fd < 0)
			return slot->fd;
	}
	ret = libvmx_virtio_net_create(&slot->env, slot->fd, mac, &slot->dev);
	if (ret)
		return ret;
	m->net_tap_fd = slot->fd;
	m->net_dev = slot->dev;
	m->nr_virtio++;
	return 0;
}

static int add_fwcfg(struct machine *m)
{
	int ret;

	ret = libvmx_fwcfg_create(&m->fwcfg);
	if (!ret)
		ret = libvmx_fwcfg_add_u64(m->fwcfg, 0x03, m->ram_size);
	if (!ret)
		ret = libvmx_fwcfg_add_u32(m->fwcfg, 0x05, m->nr_cpus);
	if (!ret)
		ret = libvmx_fwcfg_add_u32(m->fwcfg, 0x0f, m->nr_cpus);
	return ret;
}

int devices_create(struct machine *m)
{
	struct libvmx_acpi_virtio acpi_virtio[VMXRUN_MAX_VIRTIO];
	struct libvmx_guest_ram ram = { m->ram, m->ram_size };
	struct libvmx_acpi_config acpi = {
		.lapic_addr = PLAT_LAPIC, .ioapic_addr = PLAT_IOAPIC,
		.ioapic_id = 0, .ioapic_gsi_base = 0,
		.sleep_port = PORT_SLEEP, .reset_port = PORT_RESET,
		.reset_value = RESET_VALUE, .uart_port = PORT_UART,
		.uart_gsi = UART_GSI,
	};
	unsigned int i;
	int ret;

	ret = libvmx_ioapic_create(m->nr_cpus, PLAT_IOAPIC_PINS, &ioapic_ops, m,
				   &m->ioapic);
	if (!ret)
		ret = libvmx_uart_create(&uart_ops, m, &m->uart);
	for (i = 0; i < m->nr_cpus && !ret; i++)
		ret = libvmx_lapic_create(i, m->tsc_khz, &lapic_ops, m,
					  &m->cpus[i].lapic);
	if (!ret)
		ret = add_fwcfg(m);
	/* The wall clock Linux reads at boot: the host's, in UTC. */
	if (!ret)
		ret = libvmx_rtc_create(NULL, NULL, &m->rtc);
	for (i = 0; i < m->opt.nr_disks && !ret; i++)
		ret = add_disk(m, m->opt.disks[i], m->opt.disk_readonly[i]);
	if (!ret && m->opt.net)
		ret = add_net(m);
	if (ret)
		return ret;
	if (m->multiboot)
		return 0;
	for (i = 0; i < m->nr_virtio; i++) {
		acpi_virtio[i].addr = PLAT_VIRTIO_BASE + i * PLAT_VIRTIO_STRIDE;
		acpi_virtio[i].size = PLAT_VIRTIO_SIZE;
		acpi_virtio[i].gsi = m->virtio[i].gsi;
	}
	acpi.nr_cpus = m->nr_cpus;
	acpi.virtio = acpi_virtio;
	acpi.nr_virtio = m->nr_virtio;
	return libvmx_acpi_build(&ram, PLAT_RSDP, PLAT_ACPI_TABLES, PLAT_ACPI_MAX,
				 &acpi);
}

void devices_destroy(struct machine *m)
{
	unsigned int i;

	for (i = 0; i < m->nr_virtio; i++) {
		libvmx_virtio_destroy(m->virtio[i].dev);
		if (m->virtio[i].fd >= 0)
			close(m->virtio[i].fd);
	}
	for (i = 0; i < m->nr_cpus; i++)
		if (m->cpus[i].lapic)
			libvmx_lapic_destroy(m->cpus[i].lapic);
	if (m->fwcfg)
		libvmx_fwcfg_destroy(m->fwcfg);
	libvmx_rtc_destroy(m->rtc);
	if (m->uart)
		libvmx_uart_destroy(m->uart);
	if (m->ioapic)
		libvmx_ioapic_destroy(m->ioapic);
}

static void open_bus(void *data, unsigned int size, bool is_write)
{
	if (!is_write)
		memset(data, 0xff, size);
}

/* ACPI sleep control: S5 is power off; the status register reads 0. */
static void sleep_port(struct machine *m, uint16_t port, uint8_t *data,
		       bool is_out)
{
	if (!is_out) {
		*data = 0;
		return;
	}
	if (port == PORT_SLEEP &&
	    libvmx_acpi_sleep_request(*data) == LIBVMX_ACPI_SLEEP_S5)
		machine_stop(m, EXIT_GUEST_OFF);
}

/* The FADT's reset register: vmxrun ends on reboot (see vmxrun.1). */
static void reset_port(struct machine *m, uint8_t *data, bool is_out)
{
	if (!is_out)
		*data = 0;
	else if (*data == RESET_VALUE)
		machine_stop(m, EXIT_GUEST_OFF);
}

/*
 * The i8042 just enough for Linux's reboot fallback: the status port
 * reads 0 (input buffer empty), command 0xfe pulses reset.
 */
static void i8042_port(struct machine *m, uint16_t port, uint8_t *data,
		       bool is_out)
{
	if (!is_out) {
		*data = 0;
		return;
	}
	if (port == PORT_I8042_CMD && *data == 0xfe)
		machine_stop(m, EXIT_GUEST_OFF);
}

/* QEMU's isa-debug-exit: writing v ends the VMM with (v << 1) | 1. */
static void exit_port(struct machine *m, void *data, unsigned int size)
{
	uint32_t v = 0;

	memcpy(&v, data, size);
	machine_stop(m, ((v << 1) | 1) & 0xff);
}

static void pio_locked(struct machine *m, uint16_t port, void *data,
		       unsigned int size, bool is_out)
{
	if (port >= PORT_UART && port < PORT_UART + 8 && size == 1)
		libvmx_uart_io(m->uart, port - PORT_UART, data, is_out);
	else if ((port == PORT_SLEEP || port == PORT_SLEEP + 1) && size == 1)
		sleep_port(m, port, data, is_out);
	else if (port == PORT_RESET && size == 1)
		reset_port(m, data, is_out);
	else if ((port == PORT_I8042_DATA || port == PORT_I8042_CMD) && size == 1)
		i8042_port(m, port, data, is_out);
	else if (port == PORT_EXIT && is_out)
		exit_port(m, data, size);
	else if ((port == LIBVMX_RTC_PORT_INDEX ||
		  port == LIBVMX_RTC_PORT_DATA) && size == 1)
		libvmx_rtc_io(m->rtc, port - LIBVMX_RTC_PORT_INDEX, data, is_out);
	else if (port >= PORT_FWCFG && port <= PORT_FWCFG + 1)
		libvmx_fwcfg_io(m->fwcfg, port - PORT_FWCFG, data, size, is_out);
	else
		open_bus(data, size, is_out);
}

int bus_pio(struct machine *m, struct vcpu *c, uint16_t port, void *data,
	    unsigned int size, bool is_out)
{
	(void)c;
	pthread_mutex_lock(&m->lock);
	pio_locked(m, port, data, size, is_out);
	pthread_mutex_unlock(&m->lock);
	return 0;
}

static void mmio_locked(struct machine *m, struct vcpu *c, uint64_t gpa,
			void *data, unsigned int size, bool is_write)
{
	struct libvmx_apic_clock now;
	uint64_t off;

	if (gpa >= PLAT_LAPIC && gpa - PLAT_LAPIC < PLAT_LAPIC_SIZE) {
		apic_clock_now(m, &now);
		if (libvmx_lapic_mmio(c->lapic, gpa - PLAT_LAPIC, data, size,
				      is_write, &now) && !is_write)
			memset(data, 0, size);
		return;
	}
	if (gpa >= PLAT_IOAPIC && gpa - PLAT_IOAPIC < PLAT_IOAPIC_SIZE) {
		if (libvmx_ioapic_mmio(m->ioapic, gpa - PLAT_IOAPIC, data, size,
				       is_write) && !is_write)
			memset(data, 0, size);
		return;
	}
	if (gpa >= PLAT_VIRTIO_BASE &&
	    gpa - PLAT_VIRTIO_BASE < m->nr_virtio * PLAT_VIRTIO_STRIDE) {
		off = (gpa - PLAT_VIRTIO_BASE) % PLAT_VIRTIO_STRIDE;
		if (off < PLAT_VIRTIO_SIZE &&
		    !libvmx_virtio_mmio(m->virtio[(gpa - PLAT_VIRTIO_BASE) /
						  PLAT_VIRTIO_STRIDE].dev,
					off, data, size, is_write))
			return;
	}
	open_bus(data, size, is_write);
}

int bus_mmio(struct machine *m, struct vcpu *c, uint64_t gpa, void *data,
	     unsigned int size, bool is_write)
{
	pthread_mutex_lock(&m->lock);
	mmio_locked(m, c, gpa, data, size, is_write);
	pthread_mutex_unlock(&m->lock);
	return 0;
}

/*
 * MSRs the kernel module left to us: the APIC's (TSC deadline, x2APIC
 * range); every other one is #GP, as on a CPU without it.  Each unknown
 * index is reported once with --verbose.
 */
int bus_msr(struct machine *m, struct vcpu *c, struct vmx_run *run)
{
	struct libvmx_apic_clock now;
	uint64_t value = run->msr.data;
	int ret;

	pthread_mutex_lock(&m->lock);
	apic_clock_now(m, &now);
	if (run->msr.is_write)
		ret = libvmx_lapic_wrmsr(c->lapic, run->msr.index, value, &now);
	else
		ret = libvmx_lapic_rdmsr(c->lapic, run->msr.index, &value, &now);
	pthread_mutex_unlock(&m->lock);
	if (ret && m->opt.verbose)
		warnx_("vCPU %u: %s of MSR %#x: #GP", c->id,
		       run->msr.is_write ? "write" : "read", run->msr.index);
	run->msr.data = ret ? 0 : value;
	run->msr.error = ret ? 1 : 0;
	return 0;
}
