// SPDX-License-Identifier: GPL-2.0
/*
 * vmxrun: boot a Linux bzImage or a multiboot kernel on vmx.ko.
 *
 *   vmxrun --kernel bzImage [--initrd FILE] [--cmdline "..."]
 *          [--memory 512M] [--cpus N] [--disk FILE[,ro]]... [--net TAP|none]
 *
 * See vmxrun.1.  The platform is a "microvm with ACPI": RAM from 0, local
 * APICs and one I/O APIC, a 16550 on COM1, virtio-mmio devices announced
 * in the DSDT, ACPI power off and reset, the CMOS clock (wall time only);
 * no PIC, PIT, HPET or PCI.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmxrun.h"

static struct machine machine = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.net_tap_fd = -1,
};

/* One message on stderr, with the terminal back in its normal mode. */
static void vmessage(const char *fmt, va_list ap)
{
	console_restore(&machine);
	fputs("vmxrun: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void warnx_(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(fmt, ap);
	va_end(ap);
}

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(fmt, ap);
	va_end(ap);
	exit(EXIT_SETUP);
}

static void usage(FILE *f)
{
	fputs("usage: vmxrun --kernel FILE [options]\n"
	      "  -k, --kernel FILE     bzImage (64-bit boot protocol) or multiboot kernel\n"
	      "  -i, --initrd FILE     initial ramdisk (bzImage only)\n"
	      "  -c, --cmdline STRING  kernel command line (default \"console=ttyS0\";\n"
	      "                        vmxrun appends tsc_early_khz=, see --raw-cmdline)\n"
	      "      --raw-cmdline     pass the command line exactly as given\n"
	      "  -m, --memory SIZE     guest RAM, suffix K/M/G (default 512M, 32M..3G)\n"
	      "  -p, --cpus N          vCPUs (default 1, at most 64)\n"
	      "  -d, --disk FILE[,ro]  a virtio block device on a raw image (repeatable)\n"
	      "  -n, --net TAP|none    a virtio network device on the host's tap TAP\n"
	      "                        (none: without backend)\n"
	      "      --console stdio   the serial console on stdin/stdout (the default)\n"
	      "  -v, --verbose         report unhandled MSRs and exits\n"
	      "  -h, --help            this text\n"
	      "Exit status: 0 guest powered off or rebooted; 2 usage or set-up error;\n"
	      "4 guest failure (triple fault, ...); (v << 1) | 1 after the guest\n"
	      "wrote v to port 0xf4.  On a terminal, Ctrl-A x quits.\n", f);
}

static uint64_t parse_size(const char *s)
{
	char *end;
	uint64_t v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		die("--memory %s: not a size", s);
	switch (*end) {
	case 'G': case 'g':
		v <<= 10;
		/* fall through */
	case 'M': case 'm':
		v <<= 10;
		/* fall through */
	case 'K': case 'k':
		v <<= 10;
		end++;
		break;
	case '\0':
		break;
	default:
		die("--memory %s: unknown suffix", s);
	}
	if (*end)
		die("--memory %s: trailing characters", s);
	return v;
}

static void add_disk_option(struct vmxrun_options *o, char *arg)
{
	char *comma = strrchr(arg, ',');
	bool ro = false;

	if (comma && !strcmp(comma, ",ro")) {
		*comma = '\0';
		ro = true;
	}
	if (o->nr_disks >= VMXRUN_MAX_VIRTIO - 1)
		die("--disk: at most %d disks", VMXRUN_MAX_VIRTIO - 1);
	o->disk_readonly[o->nr_disks] = ro;
	o->disks[o->nr_disks++] = arg;
}

static void parse_options(struct vmxrun_options *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "cmdline", required_argument, NULL, 'c' },
		{ "raw-cmdline", no_argument, NULL, 'R' },
		{ "memory", required_argument, NULL, 'm' },
		{ "cpus", required_argument, NULL, 'p' },
		{ "disk", required_argument, NULL, 'd' },
		{ "net", required_argument, NULL, 'n' },
		{ "console", required_argument, NULL, 'C' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	long n;
	int opt;

	o->memory = 512ULL << 20;
	o->cpus = 1;
	o->console_stdio = true;
	while ((opt = getopt_long(argc, argv, "k:i:c:m:p:d:n:vh", longopts,
				  NULL)) != -1) {
		switch (opt) {
		case 'k': o->kernel = optarg; break;
		case 'i': o->initrd = optarg; break;
		case 'c': o->cmdline = optarg; break;
		case 'R': o->no_auto_cmdline = true; break;
		case 'm': o->memory = parse_size(optarg); break;
		case 'p':
			n = strtol(optarg, &end, 10);
			if (*end || n < 1 || n > VMXRUN_MAX_CPUS)
				die("--cpus %s: 1 to %d", optarg, VMXRUN_MAX_CPUS);
			o->cpus = n;
			break;
		case 'd': add_disk_option(o, optarg); break;
		case 'n':
			if (!*optarg)
				die("--net: a tap name, or none");
			o->net = optarg;
			break;
		case 'C':
			if (strcmp(optarg, "stdio"))
				die("--console %s: only \"stdio\"", optarg);
			break;
		case 'v': o->verbose = true; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(EXIT_SETUP);
		}
	}
	if (optind < argc)
		die("unexpected argument '%s' (see --help)", argv[optind]);
	if (!o->kernel)
		die("no --kernel given (see --help)");
	if (o->memory < (32ULL << 20) || o->memory > PLAT_MMIO_HOLE ||
	    o->memory & 0xfff)
		die("--memory: 32M to 3G, a multiple of 4K");
}

static const char *open_error(int err)
{
	switch (err) {
	case -ENOENT:
		return "/dev/vmx not found: is vmx.ko loaded?";
	case -EACCES:
		return "no permission on /dev/vmx";
	case -EPROTONOSUPPORT:
		return "vmx.ko speaks another API version than this libvmx";
	}
	return strerror(-err);
}

static void machine_create(struct machine *m)
{
	int ret;

	ret = libvmx_open(&m->vmx);
	if (ret)
		die("%s", open_error(ret));
	ret = libvmx_vm_create(m->vmx, 0, &m->vm);
	if (ret)
		die("cannot create a VM: %s", strerror(-ret));
	m->ram_size = m->opt.memory;
	ret = libvmx_vm_add_ram(m->vm, 0, 0, m->ram_size, 0, &m->ram);
	if (ret)
		die("cannot give the guest %llu MiB: %s",
		    (unsigned long long)(m->ram_size >> 20), strerror(-ret));
	m->tsc_khz = host_tsc_khz();
	if (!m->tsc_khz)
		die("cannot measure the TSC rate");
	m->nr_cpus = m->opt.cpus;
	ret = machine_set_cpuid(m);
	if (ret)
		die("VMX_SET_CPUID: %s", strerror(-ret));
}

/*
 * The main thread takes the signals meant for the whole machine (the
 * other threads inherit them blocked): SIGINT, SIGTERM and SIGHUP stop the
 * guest, SIGUSR1 only reports where each vCPU is.
 */
static void machine_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, set, NULL);
}

static bool machine_stopping(struct machine *m)
{
	bool stopping;

	pthread_mutex_lock(&m->lock);
	stopping = m->stopping;
	pthread_mutex_unlock(&m->lock);
	return stopping;
}

/* Until the guest stops, or a signal stops it (status 128 + signal). */
static void machine_wait(struct machine *m, const sigset_t *set)
{
	const struct timespec tick = { .tv_nsec = 100 * 1000 * 1000 };
	int sig;

	while (!machine_stopping(m)) {
		sig = sigtimedwait(set, NULL, &tick);
		if (sig < 0)
			continue;
		if (sig != SIGUSR1)
			warnx_("stopped by signal %d (%s)", sig, strsignal(sig));
		vcpus_report(m);
		if (sig != SIGUSR1) {
			pthread_mutex_lock(&m->lock);
			machine_stop(m, 128 + sig);
			pthread_mutex_unlock(&m->lock);
		}
	}
}

static int machine_run(struct machine *m)
{
	unsigned int i;
	sigset_t set;
	int ret;

	machine_signals(&set);
	ret = vcpus_start(m);
	if (ret)
		die("cannot start vCPU threads: %s", strerror(-ret));
	ret = console_start(m);
	if (ret)
		die("cannot start the console: %s", strerror(-ret));
	ret = net_start(m);
	if (ret)
		die("cannot start the network thread: %s", strerror(-ret));
	machine_wait(m, &set);
	for (i = 0; i < m->nr_cpus; i++)
		if (m->cpus[i].thread_started)
			pthread_join(m->cpus[i].thread, NULL);
	console_restore(m);
	return m->exit_code;
}

int main(int argc, char **argv)
{
	struct machine *m = &machine;
	struct vmx_tsc_offset tsc = { 0 };
	int ret;

	parse_options(&m->opt, argc, argv);
	machine_create(m);
	ret = vcpus_create(m);
	if (ret)
		die("cannot create %u vCPUs: %s", m->nr_cpus, strerror(-ret));
	/* Every vCPU starts with the VM's offset: the guest TSC's zero. */
	if (ioctl(libvmx_vcpu_fd(m->cpus[0].vcpu), VMX_GET_TSC_OFFSET, &tsc))
		die("VMX_GET_TSC_OFFSET: %s", strerror(errno));
	m->tsc_offset = tsc.offset;
	if (machine_load(m))
		exit(EXIT_SETUP);
	ret = devices_create(m);
	if (ret)
		die("cannot set the devices up: %s", strerror(-ret));
	ret = libvmx_boot_set_vcpu(m->cpus[0].vcpu, &m->boot_entry);
	if (ret)
		die("cannot set the boot vCPU's registers: %s", strerror(-ret));
	ret = machine_run(m);
	devices_destroy(m);
	return ret;
}
