// SPDX-License-Identifier: GPL-2.0
/*
 * Coexistence with other hypervisors.  Runs while vmx.ko is NOT loaded;
 * loads and unloads it (and KVM, and the vmx_hog test module) itself.
 *
 * Environment: VMX_KO (path of vmx.ko), VMX_HOG_KO (vmx_hog.ko), KVM_KOS
 * (space-separated irqbypass.ko kvm.ko kvm-<vendor>.ko, in load order).
 */
#include "test_util.h"
#include "kselftest_harness.h"

#include <sys/klog.h>

#define KVM_CREATE_VM_IOCTL	0xAE01

static int load_module(const char *path, const char *params)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = finit_module(fd, params, 0);
	ret = ret ? -errno : 0;
	close(fd);
	return ret;
}

static int unload_module(const char *name)
{
	return delete_module(name, O_NONBLOCK) ? -errno : 0;
}

static const char *env_or_skip(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

#define KLOG_MARK "vmx-selftest: coexist test starts"

/*
 * Mark the kernel log, so that klog_has() looks only at what came after.
 * (Clearing it instead would hide earlier lines from the rig's checks.)
 */
static void mark_klog(void)
{
	int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (write(fd, KLOG_MARK "\n", strlen(KLOG_MARK) + 1) < 0)
		perror("/dev/kmsg");
	close(fd);
}

/* True when the kernel log holds @needle after the last mark. */
static bool klog_has(const char *needle)
{
	int len = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
	char *buf, *start, *next;
	bool found;

	if (len <= 0)
		return false;
	buf = calloc(1, len + 1);
	if (!buf)
		return false;
	len = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, len);
	start = buf;
	while ((next = strstr(start, KLOG_MARK)))
		start = next + 1;
	found = len > 0 && start != buf && strstr(start, needle);
	free(buf);
	return found;
}

static bool vmx_loaded(void)
{
	return !access("/sys/module/vmx", F_OK);
}

/* Load each module of KVM_KOS in order; names are basenames minus .ko. */
static int kvm_load(char names[][32], int *n)
{
	char list[512], *tok, *save;
	const char *kos = getenv("KVM_KOS");
	int ret;

	*n = 0;
	if (!kos)
		return -ENOENT;
	snprintf(list, sizeof(list), "%s", kos);
	for (tok = strtok_r(list, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		const char *base = strrchr(tok, '/') ? strrchr(tok, '/') + 1 : tok;

		ret = load_module(tok, "");
		if (ret && ret != -EEXIST)
			return ret;
		snprintf(names[*n], 32, "%.*s", (int)strcspn(base, "."), base);
		for (char *c = names[*n]; *c; c++)
			if (*c == '-')
				*c = '_';
		(*n)++;
	}
	return 0;
}

static void kvm_unload(char names[][32], int n)
{
	while (n-- > 0)
		unload_module(names[n]);
}

FIXTURE(coexist) {
	const char *vmx_ko;
	const char *hog_ko;
};

FIXTURE_SETUP(coexist)
{
	self->vmx_ko = env_or_skip("VMX_KO");
	self->hog_ko = env_or_skip("VMX_HOG_KO");
	if (!self->vmx_ko)
		SKIP(return, "VMX_KO not set");
	ASSERT_FALSE(vmx_loaded()) TH_LOG("vmx.ko must not be loaded here");
	mark_klog();
}

FIXTURE_TEARDOWN(coexist)
{
	if (vmx_loaded())
		unload_module("vmx");
}

TEST_F(coexist, load_unload_cycles_leave_cpus_clean)
{
	for (int i = 0; i < 5; i++) {
		ASSERT_EQ(0, load_module(self->vmx_ko, ""));
		EXPECT_EQ(0, access(VMX_DEV, F_OK));
		ASSERT_EQ(0, unload_module("vmx"));
		EXPECT_NE(0, access(VMX_DEV, F_OK));
	}
	/* The hog refuses to load on any CPU still in SVM/VMX mode. */
	if (!self->hog_ko)
		SKIP(return, "VMX_HOG_KO not set");
	ASSERT_EQ(0, load_module(self->hog_ko, ""));
	EXPECT_EQ(0, unload_module("vmx_hog"));
}

TEST_F(coexist, refused_when_all_cpus_owned)
{
	if (!self->hog_ko)
		SKIP(return, "VMX_HOG_KO not set");
	ASSERT_EQ(0, load_module(self->hog_ko, ""));
	EXPECT_EQ(-EBUSY, load_module(self->vmx_ko, ""));
	EXPECT_FALSE(vmx_loaded());
	EXPECT_TRUE(klog_has("already in use by another hypervisor"));
	ASSERT_EQ(0, unload_module("vmx_hog"));
	/* Free again: loads. */
	EXPECT_EQ(0, load_module(self->vmx_ko, ""));
}

TEST_F(coexist, refused_when_last_cpu_owned_and_rolled_back)
{
	long ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	char param[32];

	if (!self->hog_ko)
		SKIP(return, "VMX_HOG_KO not set");
	snprintf(param, sizeof(param), "cpu=%ld", ncpus - 1);
	ASSERT_EQ(0, load_module(self->hog_ko, param));
	EXPECT_EQ(-EBUSY, load_module(self->vmx_ko, ""));
	EXPECT_FALSE(vmx_loaded());
	ASSERT_EQ(0, unload_module("vmx_hog"));
	/* vmx must have undone the CPUs it enabled before failing. */
	ASSERT_EQ(0, load_module(self->hog_ko, ""));
	ASSERT_EQ(0, unload_module("vmx_hog"));
}

/* Loading KVM takes long under an emulator (Bochs: tens of seconds). */
TEST_F_TIMEOUT(coexist, refused_beside_kvm, 300)
{
	char names[4][32];
	int n, kvmfd, vmfd;

	if (!getenv("KVM_KOS"))
		SKIP(return, "KVM_KOS not set");
	ASSERT_EQ(0, kvm_load(names, &n));

	/* Loaded but idle. */
	EXPECT_EQ(-EBUSY, load_module(self->vmx_ko, ""));
	EXPECT_TRUE(klog_has("kvm is loaded"));

	/* With a KVM VM, so KVM surely has SVM/VMX switched on. */
	kvmfd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	ASSERT_GE(kvmfd, 0);
	vmfd = ioctl(kvmfd, KVM_CREATE_VM_IOCTL, 0);
	ASSERT_GE(vmfd, 0) TH_LOG("KVM_CREATE_VM: %s", strerror(errno));
	EXPECT_EQ(-EBUSY, load_module(self->vmx_ko, ""));
	EXPECT_FALSE(vmx_loaded());
	close(vmfd);
	close(kvmfd);
	kvm_unload(names, n);
	EXPECT_NE(0, access("/sys/module/kvm", F_OK));

	/* KVM gone: vmx loads and owns the CPUs. */
	EXPECT_EQ(0, load_module(self->vmx_ko, ""));
}

TEST_HARNESS_MAIN
