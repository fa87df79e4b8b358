// SPDX-License-Identifier: GPL-2.0
/*
 * Host side of the selftest framework (see vmx_test.h).
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmx_test.h"
#include "guest.h"

extern char __executable_start[], _end[];
extern const uint64_t guest_idt_stubs[GUEST_NR_VECTORS];
void guest_return_stub(void);

static void *gpa(struct test_vm *t, uint64_t addr)
{
	return t->ram + addr;
}

/* The layout libvmx builds at TEST_GDT matches vmx_test.h's constants. */
static struct libvmx_long_mode test_long_mode(uint64_t entry, uint64_t stack)
{
	return (struct libvmx_long_mode) {
		.tables_gpa = TEST_GDT, .identity_size = 1ULL << 30,
		.idt_handlers = guest_idt_stubs, .nr_handlers = GUEST_NR_VECTORS,
		.entry = entry, .stack = stack,
	};
}

int test_vcpu_long_mode(struct test_vm *t, struct libvmx_vcpu *vcpu,
			void (*guest_code)(void))
{
	uint64_t stack_top, id = libvmx_vcpu_id(vcpu);
	struct libvmx_long_mode lm;

	/* Own stack per vCPU; guest_code "returns" into GUEST_DONE. */
	stack_top = TEST_RAM_SIZE - id * TEST_STACK_SIZE - 16;
	*(uint64_t *)gpa(t, stack_top - 8) = (uint64_t)(uintptr_t)guest_return_stub;
	lm = test_long_mode((uintptr_t)guest_code, stack_top - 8);
	return libvmx_setup_long_mode(vcpu, &lm);
}

unsigned int test_backend(void)
{
	struct libvmx *vmx;
	struct vmx_caps caps;
	unsigned int backend = 0;

	if (libvmx_open(&vmx))
		return 0;
	if (!libvmx_get_caps(vmx, &caps))
		backend = caps.backend;
	libvmx_close(vmx);
	return backend;
}

int test_vm_create(struct test_vm **out, int nr_vcpus, void (*guest_code)(void))
{
	size_t image = _end - __executable_start;
	struct test_vm *t;
	void *ram;
	int ret, i;

	if (nr_vcpus < 1 || nr_vcpus > TEST_MAX_VCPUS ||
	    (uint64_t)(uintptr_t)_end > TEST_RAM_SIZE - TEST_MAX_VCPUS * TEST_STACK_SIZE)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	ret = libvmx_open(&t->vmx);
	if (ret)
		goto fail;
	ret = libvmx_get_caps(t->vmx, &t->caps);
	if (ret)
		goto fail;
	ret = libvmx_vm_create(t->vmx, 0, &t->vm);
	if (ret)
		goto fail;
	ret = libvmx_vm_add_ram(t->vm, TEST_RAM_SLOT, 0, TEST_RAM_SIZE, 0, &ram);
	if (ret)
		goto fail;
	t->ram = ram;

	guest_is_amd = t->caps.backend == VMX_BACKEND_SVM;
	memcpy(t->ram + (uintptr_t)__executable_start, __executable_start, image);
	{
		struct libvmx_long_mode lm = test_long_mode(0, 0);

		ret = libvmx_vm_build_long_mode_tables(t->vm, &lm);
		if (ret)
			goto fail;
	}

	for (i = 0; i < nr_vcpus; i++) {
		ret = libvmx_vcpu_create(t->vm, i, &t->vcpus[i]);
		if (ret)
			goto fail;
		t->nr_vcpus++;
		if (guest_code) {
			ret = test_vcpu_long_mode(t, t->vcpus[i], guest_code);
			if (ret)
				goto fail;
		}
	}
	*out = t;
	return 0;
fail:
	test_vm_destroy(t);
	return ret;
}

void test_vm_destroy(struct test_vm *t)
{
	int i;

	if (!t)
		return;
	for (i = 0; i < t->nr_vcpus; i++)
		libvmx_vcpu_destroy(t->vcpus[i]);
	libvmx_vm_destroy(t->vm);
	libvmx_close(t->vmx);
	free(t);
}

enum ucall_cmd test_run(struct libvmx_vcpu *vcpu, struct ucall *uc)
{
	struct vmx_run *run = libvmx_vcpu_run_area(vcpu);
	int ret;

	memset(uc, 0, sizeof(*uc));
	ret = libvmx_vcpu_run(vcpu);
	if (ret) {
		errno = -ret;
		return UCALL_NONE;
	}
	if (run->exit_reason != VMX_EXIT_IO || run->io.port != UCALL_PORT ||
	    run->io.direction != VMX_IO_OUT || run->io.size != 4)
		return UCALL_NONE;
	if (libvmx_read_gpa(libvmx_vcpu_vm(vcpu), (uint32_t)run->io.data, uc,
			    sizeof(*uc)))
		return UCALL_NONE;
	return uc->cmd;
}

const char *test_exit_name(uint32_t reason)
{
	static const char *const names[] = {
		[VMX_EXIT_NONE] = "NONE", [VMX_EXIT_IO] = "IO",
		[VMX_EXIT_MMIO] = "MMIO", [VMX_EXIT_HLT] = "HLT",
		[VMX_EXIT_SHUTDOWN] = "SHUTDOWN",
		[VMX_EXIT_HYPERCALL] = "HYPERCALL",
		[VMX_EXIT_FAIL_ENTRY] = "FAIL_ENTRY",
		[VMX_EXIT_INTERNAL_ERROR] = "INTERNAL_ERROR",
		[VMX_EXIT_INTR] = "INTR", [VMX_EXIT_IRQ_WINDOW] = "IRQ_WINDOW",
		[VMX_EXIT_MSR] = "MSR",
	};

	return reason < sizeof(names) / sizeof(names[0]) && names[reason] ?
	       names[reason] : "?";
}

const char *test_describe(struct libvmx_vcpu *vcpu, const struct ucall *uc)
{
	static __thread char buf[512];
	struct vmx_run *run = libvmx_vcpu_run_area(vcpu);

	switch (uc->cmd) {
	case UCALL_ABORT:
		snprintf(buf, sizeof(buf), "guest assertion %s:%lu: %s (0x%lx, 0x%lx)",
			 uc->file, (unsigned long)uc->line, uc->expr,
			 (unsigned long)uc->args[0], (unsigned long)uc->args[1]);
		break;
	case UCALL_UNEXPECTED:
		snprintf(buf, sizeof(buf), "unexpected guest exception %lu, error 0x%lx at rip 0x%lx",
			 (unsigned long)uc->args[0], (unsigned long)uc->args[1],
			 (unsigned long)uc->args[2]);
		break;
	case UCALL_NONE:
		snprintf(buf, sizeof(buf), "exit %s (%u) at rip 0x%llx; internal %u [0x%llx 0x%llx 0x%llx]",
			 test_exit_name(run->exit_reason), run->exit_reason,
			 (unsigned long long)run->rip, run->internal.suberror,
			 (unsigned long long)run->internal.data[0],
			 (unsigned long long)run->internal.data[1],
			 (unsigned long long)run->internal.data[2]);
		break;
	default:
		snprintf(buf, sizeof(buf), "ucall %lu", (unsigned long)uc->cmd);
	}
	return buf;
}

/* ---- hang reports ---- */

static void hang_report_file(const char *path, const char *label)
{
	char line[256];
	FILE *f = fopen(path, "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		fprintf(stderr, "# hang: %s: %s%s", label, line,
			strchr(line, '\n') ? "" : "\n");
	fclose(f);
}

static void hang_report_task(const char *tid)
{
	static const char *const what[] = { "stat", "wchan", "stack" };
	char path[128], label[64];

	for (size_t i = 0; i < sizeof(what) / sizeof(what[0]); i++) {
		snprintf(path, sizeof(path), "/proc/self/task/%s/%s", tid, what[i]);
		snprintf(label, sizeof(label), "%s %s", tid, what[i]);
		hang_report_file(path, label);
	}
}

/* vmxstat from this program's tree or the rig's /examples, -v -t once. */
static void hang_report_stats(void)
{
	static const char *const rel[] = { "/../tools/vmxstat",
					   "/../examples/vmxstat" };
	char self[PATH_MAX], cmd[PATH_MAX + 64];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n <= 0)
		return;
	self[n] = 0;
	slash = strrchr(self, '/');
	if (!slash)
		return;
	*slash = 0;
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		snprintf(cmd, sizeof(cmd), "%s%s", self, rel[i]);
		if (access(cmd, X_OK))
			continue;
		snprintf(cmd, sizeof(cmd), "%s%s -v -t -n 1 | sed 's/^/# hang: /' >&2",
			 self, rel[i]);
		if (system(cmd))
			fprintf(stderr, "# hang: vmxstat failed\n");
		return;
	}
}

static void *hang_report_thread(void *arg)
{
	unsigned int seconds = (uintptr_t)arg;
	struct dirent *d;
	DIR *dir;

	sleep(seconds);
	fprintf(stderr, "# hang: still running after %u s\n", seconds);
	hang_report_file("/proc/loadavg", "loadavg");
	for (int round = 0; round < 2; round++) {
		dir = opendir("/proc/self/task");
		while (dir && (d = readdir(dir))) {
			if (d->d_name[0] == '.')
				continue;
			hang_report_task(d->d_name);
		}
		if (dir)
			closedir(dir);
		hang_report_stats();
		sleep(1);
	}
	return NULL;
}

void test_hang_report_arm(unsigned int seconds)
{
	pthread_attr_t attr;
	pthread_t th;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &attr, hang_report_thread,
			   (void *)(uintptr_t)seconds))
		fprintf(stderr, "# hang: no reporter thread\n");
	pthread_attr_destroy(&attr);
}
