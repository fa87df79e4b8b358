// SPDX-License-Identifier: GPL-2.0
/*
 * Speculation controls seen by a guest: SPEC_CTRL (0x48) keeps what the
 * guest wrote across exits and refuses bits the host does not implement
 * with #GP; PRED_CMD (0x49) takes IBPB and nothing else; both are plain
 * unknown MSRs (#GP) where the module does not offer them.  What is
 * offered follows /sys/module/vmx/parameters/spec_active (spec-ctrl)
 * and the host's IBPB (cpuinfo "ibpb", or spec_force=ibpb-*).
 *
 * Built twice: spec_test runs with vmx.ko loaded as the rig loads it
 * (default measures); spec_force_test (the same source) runs while it is
 * not loaded and loads it itself with every forceable measure on
 * (VMX_KO), so that the SPEC_CTRL/PRED_CMD paths run even on emulated
 * CPUs without them, and checks the parameters' error handling.
 */
#include "test_util.h"
#include "kselftest_harness.h"

#include "vmx_harness.h"
#include "guest.h"

#define MSR_IA32_SPEC_CTRL	0x48
#define MSR_IA32_PRED_CMD	0x49
#define SPEC_CTRL_IBRS		(1ULL << 0)
#define SPEC_CTRL_STIBP		(1ULL << 1)
#define SPEC_CTRL_SSBD		(1ULL << 2)
#define SPEC_CTRL_KNOWN		(SPEC_CTRL_IBRS | SPEC_CTRL_STIBP | SPEC_CTRL_SSBD)
#define PRED_CMD_IBPB		(1ULL << 0)
#define PRED_CMD_SBPB		(1ULL << 7)

#define PARAM_DIR		"/sys/module/vmx/parameters/"
#define SPEC_FORCE_ALL		"spec_force=rsb-fill,verw,ibpb-on-exit,ibpb-on-switch,spec-ctrl"

static volatile uint64_t fault_count, fault_vector;

/* RDMSR and WRMSR are 2 bytes: count the #GP and step over. */
static uint64_t gp_handler(uint64_t vector, uint64_t error, uint64_t rip)
{
	fault_vector = vector;
	fault_count++;
	return rip + 2;
}

/* Some exits in between, so the value has to survive world switches. */
static void guest_exits(int n)
{
	uint32_t a, b, c, d;

	while (n--)
		guest_cpuid(0, 0, &a, &b, &c, &d);
}

static void guest_spec_ctrl(void)
{
	uint64_t v, bit, accepted = 0, faults;

	guest_handlers[13] = gp_handler;
	v = guest_rdmsr(MSR_IA32_SPEC_CTRL);
	GUEST_SYNC3(1, v, fault_count);
	faults = fault_count;
	guest_wrmsr(MSR_IA32_SPEC_CTRL, 0);
	GUEST_SYNC2(2, fault_count - faults);
	faults = fault_count;
	/* Bit 63 is reserved on every CPU. */
	guest_wrmsr(MSR_IA32_SPEC_CTRL, 1ULL << 63);
	GUEST_SYNC3(3, fault_count - faults, fault_vector);
	for (bit = SPEC_CTRL_IBRS; bit <= SPEC_CTRL_SSBD; bit <<= 1) {
		faults = fault_count;
		guest_wrmsr(MSR_IA32_SPEC_CTRL, bit);
		if (fault_count != faults)
			continue;
		guest_exits(20);
		v = guest_rdmsr(MSR_IA32_SPEC_CTRL);
		GUEST_ASSERT_EQ(v, bit);
		accepted |= bit;
	}
	/* Leave all accepted bits set for the VMM to read. */
	if (accepted)
		guest_wrmsr(MSR_IA32_SPEC_CTRL, accepted);
	guest_exits(20);
	GUEST_SYNC3(4, accepted, guest_rdmsr(MSR_IA32_SPEC_CTRL));
	GUEST_DONE();
}

/* Contents of a module parameter, "" if it cannot be read. */
static void read_param(const char *name, char *buf, size_t len)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	buf[0] = 0;
	f = fopen(path, "r");
	if (!f)
		return;
	if (!fgets(buf, len, f))
		buf[0] = 0;
	fclose(f);
}

static int has_word(const char *list, const char *word)
{
	size_t n = strlen(word);
	const char *p = list;

	while ((p = strstr(p, word)) != NULL) {
		if ((p == list || p[-1] == ' ' || p[-1] == ',' || p[-1] == '\t') &&
		    (p[n] == 0 || p[n] == ' ' || p[n] == ',' || p[n] == '\n' ||
		     p[n] == '('))
			return 1;
		p += n;
	}
	return 0;
}

static int cpuinfo_has_flag(const char *flag)
{
	char line[4096];
	int found = 0;
	FILE *f = fopen("/proc/cpuinfo", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5))
			continue;
		found = has_word(strchr(line, ':') ? strchr(line, ':') + 1 : line, flag);
		break;
	}
	fclose(f);
	return found;
}

static int spec_ctrl_offered(void)
{
	char active[512];

	read_param("spec_active", active, sizeof(active));
	return has_word(active, "spec-ctrl");
}

static int pred_cmd_offered(void)
{
	char force[256];

	read_param("spec_force", force, sizeof(force));
	return cpuinfo_has_flag("ibpb") || has_word(force, "ibpb-on-exit") ||
	       has_word(force, "ibpb-on-switch");
}

static bool vmx_loaded(void)
{
	return !access("/sys/module/vmx", F_OK);
}

static int load_module(const char *path, const char *params)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, params, 0);
	ret = ret ? -errno : 0;
	close(fd);
	return ret;
}

static int unload_module(const char *name)
{
	return syscall(SYS_delete_module, name, O_NONBLOCK) ? -errno : 0;
}

/*
 * vmx.ko as the rig loaded it, or (spec_force_test: not loaded, VMX_KO
 * set) loaded here with every forceable measure on.
 */
FIXTURE(spec) {
	int loaded_here;
};

FIXTURE_SETUP(spec)
{
	const char *ko = getenv("VMX_KO");
	int ret;

	self->loaded_here = 0;
	if (vmx_loaded())
		return;
	if (!ko || !*ko)
		SKIP(return, "vmx.ko is not loaded and VMX_KO is not set");
	ret = load_module(ko, SPEC_FORCE_ALL);
	if (ret == -EINVAL)
		SKIP(return, "this CPU refuses a forced measure (see dmesg)");
	ASSERT_EQ(0, ret);
	self->loaded_here = 1;
}

FIXTURE_TEARDOWN(spec)
{
	if (self->loaded_here)
		EXPECT_EQ(0, unload_module("vmx"));
}

TEST_F(spec, spec_active_lists_known_measures)
{
	static const char *const known[] = {
		"rsb-fill", "verw", "untrain-ret", "srso-alias-untrain",
		"ibpb-on-exit", "clear-bhb", "ibpb-on-switch", "spec-ctrl", "ibrs-rewrite",
		"ibpb-exit-to-user", "bp-spec-reduce", "gpr-clear",
	};
	char active[512], *tok, *save;
	int i;

	read_param("spec_active", active, sizeof(active));
	ASSERT_NE(0, active[0]) TH_LOG("no " PARAM_DIR "spec_active");
	TH_LOG("active: %s", active);
	EXPECT_TRUE(has_word(active, "gpr-clear"));
	for (tok = strtok_r(active, " \n", &save); tok;
	     tok = strtok_r(NULL, " \n", &save)) {
		for (i = 0; i < (int)(sizeof(known) / sizeof(known[0])); i++)
			if (!strcmp(tok, known[i]))
				break;
		EXPECT_LT(i, (int)(sizeof(known) / sizeof(known[0])))
			TH_LOG("unknown measure '%s'", tok);
	}
}

/* Runs guest_spec_ctrl; @offered: the module offers SPEC_CTRL. */
static void check_spec_ctrl(struct __test_metadata *_metadata, int offered)
{
	struct libvmx_vcpu *vcpu;
	struct test_vm *t;
	struct ucall uc;
	uint64_t v;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_spec_ctrl));
	vcpu = t->vcpus[0];
	ASSERT_UCALL_INTO(vcpu, UCALL_SYNC, &uc);
	ASSERT_EQ(1, uc.args[0]);
	if (offered) {
		EXPECT_EQ(0, uc.args[1]);	/* reset value */
		EXPECT_EQ(0, uc.args[2]);
	} else {
		EXPECT_EQ(1, uc.args[2]);	/* unknown MSR: #GP */
	}
	ASSERT_UCALL_INTO(vcpu, UCALL_SYNC, &uc);
	ASSERT_EQ(2, uc.args[0]);
	EXPECT_EQ(offered ? 0 : 1, uc.args[1]);
	ASSERT_UCALL_INTO(vcpu, UCALL_SYNC, &uc);
	ASSERT_EQ(3, uc.args[0]);
	EXPECT_EQ(1, uc.args[1]);
	EXPECT_EQ(13, uc.args[2]);
	ASSERT_UCALL_INTO(vcpu, UCALL_SYNC, &uc);
	ASSERT_EQ(4, uc.args[0]);
	if (offered) {
		EXPECT_EQ(0, uc.args[1] & ~SPEC_CTRL_KNOWN);
		EXPECT_NE(0, uc.args[1]);
		EXPECT_EQ(uc.args[1], uc.args[2]);
		/* The VMM sees the guest's value and may set it too. */
		ASSERT_EQ(0, libvmx_vcpu_get_msr(vcpu, MSR_IA32_SPEC_CTRL, &v));
		EXPECT_EQ(uc.args[1], v);
		EXPECT_EQ(0, libvmx_vcpu_set_msr(vcpu, MSR_IA32_SPEC_CTRL, 0));
		EXPECT_NE(0, libvmx_vcpu_set_msr(vcpu, MSR_IA32_SPEC_CTRL, 1ULL << 63));
		ASSERT_EQ(0, libvmx_vcpu_get_msr(vcpu, MSR_IA32_SPEC_CTRL, &v));
		EXPECT_EQ(0, v);
	} else {
		EXPECT_EQ(0, uc.args[1]);
		EXPECT_NE(0, libvmx_vcpu_get_msr(vcpu, MSR_IA32_SPEC_CTRL, &v));
		EXPECT_NE(0, libvmx_vcpu_set_msr(vcpu, MSR_IA32_SPEC_CTRL, 0));
	}
	ASSERT_UCALL(vcpu, UCALL_DONE);
	test_vm_destroy(t);
}

TEST_F(spec, spec_ctrl_guest_value)
{
	if (!spec_ctrl_offered())
		SKIP(return, "no SPEC_CTRL for guests here (spec_active lacks spec-ctrl: the host CPU has no SPEC_CTRL MSR)");
	check_spec_ctrl(_metadata, 1);
}

TEST_F(spec, spec_ctrl_gp_when_not_offered)
{
	if (spec_ctrl_offered())
		SKIP(return, "SPEC_CTRL is offered to guests here");
	check_spec_ctrl(_metadata, 0);
}

static void guest_pred_cmd(void)
{
	uint64_t faults;

	guest_handlers[13] = gp_handler;
	guest_wrmsr(MSR_IA32_PRED_CMD, PRED_CMD_IBPB);
	GUEST_SYNC2(1, fault_count);
	faults = fault_count;
	guest_wrmsr(MSR_IA32_PRED_CMD, 0);
	GUEST_SYNC2(2, fault_count - faults);
	faults = fault_count;
	guest_wrmsr(MSR_IA32_PRED_CMD, PRED_CMD_SBPB);
	guest_wrmsr(MSR_IA32_PRED_CMD, 1ULL << 40);
	GUEST_SYNC2(3, fault_count - faults);
	faults = fault_count;
	guest_rdmsr(MSR_IA32_PRED_CMD);		/* write-only */
	GUEST_SYNC2(4, fault_count - faults);
	GUEST_DONE();
}

static void check_pred_cmd(struct __test_metadata *_metadata, int offered)
{
	struct libvmx_vcpu *vcpu;
	struct test_vm *t;
	struct ucall uc;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_pred_cmd));
	vcpu = t->vcpus[0];
	ASSERT_UCALL_INTO(vcpu, UCALL_SYNC, &uc);
	ASSERT_EQ(1, uc.args[0]);
	EXPECT_EQ(offered ? 0 : 1, uc.args[1]);
	ASSERT_UCALL_INTO(vcpu, UCALL_SYNC, &uc);
	ASSERT_EQ(2, uc.args[0]);
	EXPECT_EQ(offered ? 0 : 1, uc.args[1]);
	ASSERT_UCALL_INTO(vcpu, UCALL_SYNC, &uc);
	ASSERT_EQ(3, uc.args[0]);
	EXPECT_EQ(2, uc.args[1]);
	ASSERT_UCALL_INTO(vcpu, UCALL_SYNC, &uc);
	ASSERT_EQ(4, uc.args[0]);
	EXPECT_EQ(1, uc.args[1]);
	ASSERT_UCALL(vcpu, UCALL_DONE);
	test_vm_destroy(t);
}

TEST_F(spec, pred_cmd_ibpb_only)
{
	if (!pred_cmd_offered())
		SKIP(return, "no IBPB on this host CPU: PRED_CMD is not offered to guests");
	check_pred_cmd(_metadata, 1);
}

TEST_F(spec, pred_cmd_gp_when_not_offered)
{
	if (pred_cmd_offered())
		SKIP(return, "PRED_CMD is offered to guests here");
	check_pred_cmd(_metadata, 0);
}

static void guest_sync_loop(void)
{
	for (int i = 1; i <= 8; i++)
		GUEST_SYNC(i);
	GUEST_DONE();
}

/*
 * Two VMs taking turns on this thread's CPU: every turn is a change of
 * VM, which ibpb-on-switch answers with an IBPB before the entry.
 */
TEST_F(spec, vms_taking_turns)
{
	struct test_vm *a, *b;
	int i;

	ASSERT_EQ(0, test_vm_create(&a, 1, guest_sync_loop));
	ASSERT_EQ(0, test_vm_create(&b, 1, guest_sync_loop));
	for (i = 1; i <= 8; i++) {
		ASSERT_SYNC(a->vcpus[0], i);
		ASSERT_SYNC(b->vcpus[0], i);
	}
	ASSERT_UCALL(a->vcpus[0], UCALL_DONE);
	ASSERT_UCALL(b->vcpus[0], UCALL_DONE);
	test_vm_destroy(a);
	test_vm_destroy(b);
}

/* The rest loads vmx.ko itself: only while it is not loaded. */
static const char *unloaded_ko(void)
{
	const char *ko = getenv("VMX_KO");

	return !vmx_loaded() && ko && *ko ? ko : NULL;
}

/*
 * Six loads of vmx.ko: under Bochs each takes about five seconds, more
 * on a loaded build machine, which the harness's default 30 s did not
 * always cover.
 */
FIXTURE(loads) {};
FIXTURE_SETUP(loads) {}
FIXTURE_TEARDOWN(loads) {}

TEST_F_TIMEOUT(loads, params_refused, 180)
{
	static const char *const bad[] = {
		"spec_mitigations=bogus", "spec_mitigations=",
		"spec_force=nosuch", "spec_force=rsb-fill,nosuch",
		"spec_force=untrain-ret",	/* real only where the kernel wants it */
		"spec_active=rsb-fill",		/* read-only */
	};
	const char *ko = unloaded_ko();
	unsigned int i;

	if (!ko)
		SKIP(return, "loads vmx.ko itself: run while it is not loaded, with VMX_KO");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_NE(0, load_module(ko, bad[i])) TH_LOG("%s loaded", bad[i]);
		if (vmx_loaded())
			unload_module("vmx");
	}
}

TEST(mitigations_off)
{
	const char *ko = unloaded_ko();
	char active[512];

	if (!ko)
		SKIP(return, "loads vmx.ko itself: run while it is not loaded, with VMX_KO");
	ASSERT_EQ(0, load_module(ko, "spec_mitigations=off"));
	read_param("spec_active", active, sizeof(active));
	EXPECT_STREQ("gpr-clear\n", active);
	EXPECT_FALSE(spec_ctrl_offered());
	/* Guests still run; SPEC_CTRL is not offered without its switch. */
	check_spec_ctrl(_metadata, 0);
	EXPECT_EQ(0, unload_module("vmx"));
}

TEST_HARNESS_MAIN
