// SPDX-License-Identifier: GPL-2.0
/*
 * CPUID: the default table offers only what the module virtualizes,
 * every vCPU sees its own APIC ids, a guest probing like Linux finds a
 * consistent table, and VMX_SET_CPUID refuses what the module cannot
 * honour while informational changes go through.
 */
#include "test_util.h"
#include "kselftest_harness.h"

#include <stdbool.h>

#include "vmx_harness.h"
#include "guest.h"

enum { EAX, EBX, ECX, EDX };

#define HV_LEAF			0x40000000
#define EXT_BASE		0x80000000
#define NO_VALUE		0xffffffffULL

#define CPUID1_ECX_XSAVE	(1U << 26)
#define CPUID1_ECX_OSXSAVE	(1U << 27)
#define CPUID1_ECX_AVX		(1U << 28)
#define CPUID1_ECX_X2APIC	(1U << 21)
#define CPUID1_ECX_TSC_DEADLINE	(1U << 24)
#define CPUID1_ECX_HYPERVISOR	(1U << 31)
#define CPUID1_EDX_HTT		(1U << 28)
#define X86_CR4_OSXSAVE		(1ULL << 18)
#define XFEATURE_YMM		(1ULL << 2)
#define XFEATURE_AVX512		(7ULL << 5)
#define XFEATURE_PKRU		(1ULL << 9)

struct cpuid_table {
	struct vmx_cpuid hdr;
	struct vmx_cpuid_entry e[VMX_MAX_CPUID_ENTRIES + 1];
};

/* ---- host-side table helpers ---- */

static int get_default(struct cpuid_table *tab)
{
	int fd = vmx_test_open(), ret;

	if (fd < 0)
		return -errno;
	memset(tab, 0, sizeof(*tab));
	tab->hdr.nent = VMX_MAX_CPUID_ENTRIES;
	ret = ioctl_err(fd, VMX_GET_DEFAULT_CPUID, tab);
	close(fd);
	return ret;
}

/* The kernel's lookup: first match, an unindexed entry matches any ECX. */
static struct vmx_cpuid_entry *find(struct cpuid_table *tab, uint32_t fn,
				    uint32_t index)
{
	for (uint32_t i = 0; i < tab->hdr.nent; i++) {
		struct vmx_cpuid_entry *e = &tab->e[i];

		if (e->function == fn &&
		    (!(e->flags & VMX_CPUID_INDEXED) || e->index == index))
			return e;
	}
	return NULL;
}

static uint32_t *reg(struct vmx_cpuid_entry *e, int r)
{
	switch (r) {
	case EAX:
		return &e->eax;
	case EBX:
		return &e->ebx;
	case ECX:
		return &e->ecx;
	default:
		return &e->edx;
	}
}

static uint32_t get_reg(struct cpuid_table *tab, uint32_t fn, uint32_t index,
			int r)
{
	struct vmx_cpuid_entry *e = find(tab, fn, index);

	return e ? *reg(e, r) : 0;
}

/* The entry for @fn/@index, appended (indexed) if the table lacks it. */
static struct vmx_cpuid_entry *get_entry(struct cpuid_table *tab, uint32_t fn,
					 uint32_t index)
{
	struct vmx_cpuid_entry *e = find(tab, fn, index);

	if (e)
		return e;
	e = &tab->e[tab->hdr.nent++];
	memset(e, 0, sizeof(*e));
	e->function = fn;
	e->index = index;
	e->flags = VMX_CPUID_INDEXED;
	return e;
}

/* Default table with one register ORed with @bits, set on a new VM. */
static int set_with(uint32_t fn, uint32_t index, int r, uint32_t bits)
{
	static struct cpuid_table tab;
	int devfd, vmfd, ret;

	ret = get_default(&tab);
	if (ret)
		return 1000 + ret;	/* not an errno the test expects */
	*reg(get_entry(&tab, fn, index), r) |= bits;
	devfd = vmx_test_open();
	vmfd = create_vm(devfd);
	if (vmfd < 0) {
		close(devfd);
		return 1000 + vmfd;
	}
	ret = ioctl_err(vmfd, VMX_SET_CPUID, &tab);
	close(vmfd);
	close(devfd);
	return ret;
}

/* ---- the architectural list of what the module never virtualizes ---- */

struct cpuid_bit {
	uint32_t fn, index;
	int reg;
	uint32_t bit;
	const char *name;
	/*
	 * Allowed after all if a guest can read this MSR (or write 1 to it,
	 * for write-only ones): the module handles it.
	 */
	uint32_t msr;
	bool write;
};

static const struct cpuid_bit never_bits[] = {
	{ 1, 0, ECX, 2, "DTES64" }, { 1, 0, ECX, 3, "MONITOR" },
	{ 1, 0, ECX, 4, "DS_CPL" }, { 1, 0, ECX, 5, "VMX" },
	{ 1, 0, ECX, 6, "SMX" }, { 1, 0, ECX, 7, "EST" },
	{ 1, 0, ECX, 8, "TM2" }, { 1, 0, ECX, 14, "xTPR" },
	{ 1, 0, ECX, 15, "PDCM", 0x345 }, { 1, 0, ECX, 18, "DCA" },
	{ 1, 0, EDX, 18, "PSN" }, { 1, 0, EDX, 21, "DS" },
	{ 1, 0, EDX, 22, "ACPI" }, { 1, 0, EDX, 29, "TM" },
	{ 1, 0, EDX, 31, "PBE" },
	{ 6, 0, EAX, 0, "DTS" }, { 6, 0, EAX, 7, "HWP" },
	{ 6, 0, ECX, 0, "APERFMPERF" }, { 6, 0, ECX, 3, "EPB", 0x1b0 },
	{ 7, 0, EBX, 1, "TSC_ADJUST", 0x3b }, { 7, 0, EBX, 2, "SGX" },
	{ 7, 0, EBX, 4, "HLE" }, { 7, 0, EBX, 11, "RTM" },
	{ 7, 0, EBX, 12, "PQM" }, { 7, 0, EBX, 14, "MPX" },
	{ 7, 0, EBX, 15, "PQE" }, { 7, 0, EBX, 25, "PT" },
	{ 7, 0, ECX, 3, "PKU" }, { 7, 0, ECX, 4, "OSPKE" },
	{ 7, 0, ECX, 5, "WAITPKG" }, { 7, 0, ECX, 7, "CET_SS" },
	{ 7, 0, ECX, 13, "TME" }, { 7, 0, ECX, 16, "LA57" },
	{ 7, 0, ECX, 23, "KEYLOCKER" }, { 7, 0, ECX, 24, "BUS_LOCK_DETECT" },
	{ 7, 0, ECX, 29, "ENQCMD" }, { 7, 0, ECX, 30, "SGX_LC" },
	{ 7, 0, EDX, 9, "SRBDS_CTRL", 0x123 }, { 7, 0, EDX, 15, "HYBRID" },
	{ 7, 0, EDX, 16, "TSXLDTRK" }, { 7, 0, EDX, 18, "PCONFIG" },
	{ 7, 0, EDX, 19, "ARCH_LBR" }, { 7, 0, EDX, 20, "CET_IBT" },
	{ 7, 0, EDX, 22, "AMX_BF16" }, { 7, 0, EDX, 24, "AMX_TILE" },
	{ 7, 0, EDX, 25, "AMX_INT8" }, { 7, 0, EDX, 26, "SPEC_CTRL", 0x48 },
	{ 7, 0, EDX, 26, "IBPB (with SPEC_CTRL)", 0x49, true },
	{ 7, 0, EDX, 27, "STIBP", 0x48 }, { 7, 0, EDX, 28, "FLUSH_L1D" },
	{ 7, 0, EDX, 29, "ARCH_CAPABILITIES", 0x10a },
	{ 7, 0, EDX, 30, "CORE_CAPABILITIES", 0xcf },
	{ 7, 0, EDX, 31, "SSBD", 0x48 },
	{ 7, 1, EAX, 17, "FRED" }, { 7, 1, EAX, 18, "LKGS" },
	{ 7, 1, EAX, 19, "WRMSRNS" }, { 7, 1, EAX, 22, "HRESET" },
	{ 7, 1, EAX, 26, "LAM" },
	{ 0x80000001, 0, ECX, 2, "SVM" }, { 0x80000001, 0, ECX, 9, "OSVW" },
	{ 0x80000001, 0, ECX, 10, "IBS" }, { 0x80000001, 0, ECX, 12, "SKINIT" },
	{ 0x80000001, 0, ECX, 13, "WDT" }, { 0x80000001, 0, ECX, 15, "LWP" },
	{ 0x80000001, 0, ECX, 23, "PERFCTR_CORE" },
	{ 0x80000001, 0, ECX, 24, "PERFCTR_NB" },
	{ 0x80000001, 0, ECX, 26, "BPEXT" }, { 0x80000001, 0, ECX, 27, "PTSC" },
	{ 0x80000001, 0, ECX, 28, "PERFCTR_LLC" },
	{ 0x80000001, 0, ECX, 29, "MWAITX" },
	{ 0x80000007, 0, EDX, 7, "HW_PSTATE" }, { 0x80000007, 0, EDX, 9, "CPB" },
	{ 0x80000008, 0, EBX, 4, "RDPRU" },
	{ 0x80000008, 0, EBX, 12, "AMD_IBPB", 0x49, true },
	{ 0x80000008, 0, EBX, 14, "AMD_IBRS", 0x48 },
	{ 0x80000008, 0, EBX, 15, "AMD_STIBP", 0x48 },
	{ 0x80000008, 0, EBX, 24, "AMD_SSBD", 0x48 },
	{ 0x80000008, 0, EBX, 25, "VIRT_SSBD" },
};

/* Leaves of features nothing virtualizes: absent or all zero. */
static const struct {
	uint32_t fn;
	const char *name;
} never_leaves[] = {
	{ 5, "MONITOR/MWAIT" }, { 0xa, "PERFMON" }, { 0xf, "RDT monitoring" },
	{ 0x10, "RDT allocation" }, { 0x12, "SGX" }, { 0x14, "PT" },
	{ 0x19, "KEYLOCKER" }, { 0x1d, "AMX tiles" }, { 0x1e, "TMUL" },
	{ 0x8000000a, "SVM" }, { 0x8000001f, "SEV" },
	{ 0x80000022, "PERFMON v2" },
};

/* MSRs the guest probes: a feature bit behind one stays only if it reads. */
static uint32_t probe_msrs[16];
static bool probe_write[16];
static uint64_t nr_probe_msrs;

static volatile uint64_t gp_count, gp_skip;

static uint64_t gp_handler(uint64_t vector, uint64_t error, uint64_t rip)
{
	gp_count++;
	return rip + gp_skip;
}

static void guest_probe_msrs(void)
{
	guest_handlers[13] = gp_handler;
	for (uint64_t i = 0; i < nr_probe_msrs; i++) {
		gp_count = 0;
		gp_skip = 2;		/* rdmsr, wrmsr */
		if (probe_write[i])
			guest_wrmsr(probe_msrs[i], 1);
		else
			(void)guest_rdmsr(probe_msrs[i]);
		if (gp_count)
			GUEST_SYNC2(2, probe_msrs[i]);
	}
	GUEST_DONE();
}

TEST(default_has_nothing_unvirtualized)
{
	static struct cpuid_table tab;
	struct test_vm *t;
	struct ucall uc;
	const char *msr_name[16];
	int bad = 0;

	ASSERT_EQ(0, get_default(&tab));
	/* For the log: what this host's default table is. */
	for (uint32_t i = 0; i < tab.hdr.nent; i++)
		TH_LOG("%08x.%u%s: %08x %08x %08x %08x", tab.e[i].function,
		       tab.e[i].index,
		       tab.e[i].flags & VMX_CPUID_INDEXED ? "" : "*",
		       tab.e[i].eax, tab.e[i].ebx, tab.e[i].ecx, tab.e[i].edx);
	nr_probe_msrs = 0;
	for (size_t i = 0; i < ARRAY_SIZE(never_bits); i++) {
		const struct cpuid_bit *b = &never_bits[i];

		if (!(get_reg(&tab, b->fn, b->index, b->reg) & (1U << b->bit)))
			continue;
		if (b->msr && nr_probe_msrs < ARRAY_SIZE(probe_msrs)) {
			/* Allowed only if the module handles the MSR. */
			msr_name[nr_probe_msrs] = b->name;
			probe_write[nr_probe_msrs] = b->write;
			probe_msrs[nr_probe_msrs++] = b->msr;
			continue;
		}
		TH_LOG("default table offers %s (leaf 0x%x.%u)", b->name,
		       b->fn, b->index);
		bad++;
	}
	for (size_t i = 0; i < ARRAY_SIZE(never_leaves); i++) {
		struct vmx_cpuid_entry *e = find(&tab, never_leaves[i].fn, 0);

		if (e && (e->eax | e->ebx | e->ecx | e->edx)) {
			TH_LOG("default table has leaf 0x%x (%s)",
			       never_leaves[i].fn, never_leaves[i].name);
			bad++;
		}
	}
	/* The VMM's own APIC decides these; the hypervisor bit is ours. */
	EXPECT_EQ(0, get_reg(&tab, 1, 0, ECX) &
		  (CPUID1_ECX_X2APIC | CPUID1_ECX_TSC_DEADLINE));
	EXPECT_NE(0, get_reg(&tab, 1, 0, ECX) & CPUID1_ECX_HYPERVISOR);
	EXPECT_EQ(0x76786d76, get_reg(&tab, HV_LEAF, 0, EBX));
	EXPECT_EQ(0, bad);

	/* Features behind MSRs: the guest must be able to read them. */
	ASSERT_EQ(0, test_vm_create(&t, 1, guest_probe_msrs));
	for (;;) {
		enum ucall_cmd cmd = test_run(t->vcpus[0], &uc);

		if (cmd != UCALL_SYNC) {
			ASSERT_EQ(UCALL_DONE, cmd)
				TH_LOG("%s", test_describe(t->vcpus[0], &uc));
			break;
		}
		for (uint64_t i = 0; i < nr_probe_msrs; i++)
			if (probe_msrs[i] == uc.args[1])
				TH_LOG("default table offers %s but MSR 0x%x #GPs",
				       msr_name[i], probe_msrs[i]);
		bad++;
	}
	EXPECT_EQ(0, bad);
	test_vm_destroy(t);
}

/* Does /proc/cpuinfo's first "flags" line, or /proc/cmdline, have @word? */
static bool proc_has(const char *file, const char *prefix, const char *word)
{
	char line[4096], pad[128];
	bool found = false;
	size_t len;
	FILE *f = fopen(file, "r");

	if (!f)
		return false;
	snprintf(pad, sizeof(pad), " %s ", word);
	line[0] = ' ';
	while (fgets(line + 1, sizeof(line) - 2, f)) {
		if (strncmp(line + 1, prefix, strlen(prefix)))
			continue;
		len = strlen(line);
		if (line[len - 1] == '\n') {
			line[len - 1] = ' ';
		} else {
			line[len] = ' ';	/* room: fgets() left two bytes */
			line[len + 1] = '\0';
		}
		found = strstr(line, pad) != NULL;
		break;
	}
	fclose(f);
	return found;
}

TEST(invariant_tsc_only_if_it_holds)
{
	static struct cpuid_table tab;
	bool invariant;

	ASSERT_EQ(0, get_default(&tab));
	invariant = get_reg(&tab, 0x80000007, 0, EDX) & (1U << 8);
	TH_LOG("default table: invariant TSC %s", invariant ? "on" : "off");
	if (!proc_has("/proc/cpuinfo", "flags", "constant_tsc") ||
	    !proc_has("/proc/cpuinfo", "flags", "nonstop_tsc") ||
	    proc_has("/proc/cmdline", "", "tsc=unstable"))
		EXPECT_FALSE(invariant);
	/* A VMM may not claim it where it does not hold. */
	if (!invariant)
		EXPECT_EQ(-EINVAL, set_with(0x80000007, 0, EDX, 1U << 8));
}

/* ---- XSAVE: every advertised component can be enabled ---- */

static void guest_xsetbv(uint64_t xcr0)
{
	__asm__ volatile(".byte 0x0f, 0x01, 0xd1" /* xsetbv */
			 : : "c"(0), "a"((uint32_t)xcr0),
			   "d"((uint32_t)(xcr0 >> 32)) : "memory");
}

static uint64_t guest_xgetbv(void)
{
	uint32_t lo, hi;

	__asm__ volatile(".byte 0x0f, 0x01, 0xd0" /* xgetbv */
			 : "=a"(lo), "=d"(hi) : "c"(0));
	return lo | ((uint64_t)hi << 32);
}

static void guest_xsave(void)
{
	uint32_t a, b, c, d, size_all, size;
	uint64_t cr4, mask;

	guest_handlers[13] = gp_handler;
	gp_skip = 3;
	guest_cpuid(1, 0, &a, &b, &c, &d);
	if (!(c & CPUID1_ECX_XSAVE)) {
		GUEST_SYNC(0);
		GUEST_DONE();
	}
	GUEST_ASSERT(!(c & CPUID1_ECX_OSXSAVE));
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	cr4 |= X86_CR4_OSXSAVE;
	__asm__ volatile("mov %0, %%cr4" : : "r"(cr4) : "memory");
	guest_cpuid(1, 0, &a, &b, &c, &d);
	GUEST_ASSERT(c & CPUID1_ECX_OSXSAVE);

	guest_cpuid(0xd, 0, &a, &b, &c, &d);
	mask = a | ((uint64_t)d << 32);
	size_all = c;
	GUEST_ASSERT_EQ(mask & 3, 3);			/* x87, SSE */
	GUEST_ASSERT_EQ(b, 576);			/* XCR0 = x87 */
	/* Every component it names is described, inside the full size. */
	for (uint32_t i = 2; i < 64; i++) {
		if (!(mask & (1ULL << i)))
			continue;
		guest_cpuid(0xd, i, &a, &b, &c, &d);
		GUEST_ASSERT(a);
		GUEST_ASSERT(a + b <= size_all);
	}

	gp_count = 0;
	guest_xsetbv(mask);
	GUEST_ASSERT_EQ(gp_count, 0);
	GUEST_ASSERT_EQ(guest_xgetbv(), mask);
	guest_cpuid(0xd, 0, &a, &b, &c, &d);
	size = b;
	GUEST_ASSERT_EQ(size, size_all);

	/* PKRU is never a guest's: the table must not have offered it. */
	gp_count = 0;
	guest_xsetbv(mask | XFEATURE_PKRU);
	GUEST_ASSERT_EQ(gp_count, 1);
	GUEST_ASSERT_EQ(guest_xgetbv(), mask);
	guest_xsetbv(1);
	GUEST_SYNC2(1, mask);
	GUEST_DONE();
}

TEST(xsave_components_enable)
{
	static struct cpuid_table tab;
	struct test_vm *t;
	struct ucall uc;
	uint64_t mask;

	ASSERT_EQ(0, get_default(&tab));
	mask = get_reg(&tab, 0xd, 0, EAX) |
	       (uint64_t)get_reg(&tab, 0xd, 0, EDX) << 32;
	EXPECT_EQ(0, mask & XFEATURE_PKRU);
	if (get_reg(&tab, 1, 0, ECX) & CPUID1_ECX_AVX)
		EXPECT_NE(0, mask & XFEATURE_YMM);
	if (mask & XFEATURE_AVX512)
		EXPECT_EQ(XFEATURE_AVX512, mask & XFEATURE_AVX512);
	/* No sub-leaf for a component outside the mask. */
	for (uint32_t i = 2; i < 64; i++) {
		if (!(mask & (1ULL << i))) {
			EXPECT_EQ(NULL, find(&tab, 0xd, i)) TH_LOG("0xd.%u", i);
		}
	}

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_xsave));
	ASSERT_UCALL_INTO(t->vcpus[0], UCALL_SYNC, &uc);
	if (uc.args[0] == 0) {
		test_vm_destroy(t);
		SKIP(return, "the host CPU has no XSAVE (leaf 1 ECX[26] clear)");
	}
	EXPECT_EQ(mask, uc.args[1]);
	ASSERT_UCALL(t->vcpus[0], UCALL_DONE);
	test_vm_destroy(t);
}

/* ---- a Linux-style probe of the table ---- */

static void guest_probe_max(void)
{
	uint32_t a, b, c, d, max, max_ext, max7;

	guest_cpuid(0, 0, &max, &b, &c, &d);
	guest_cpuid(EXT_BASE, 0, &max_ext, &b, &c, &d);
	GUEST_ASSERT(max >= 1 && max < HV_LEAF);
	GUEST_ASSERT(max_ext >= EXT_BASE && max_ext <= EXT_BASE + 0xff);
	/* Above the highest leaf: zeros, as the ABI says. */
	guest_cpuid(max + 1, 0, &a, &b, &c, &d);
	GUEST_ASSERT_EQ(a | b | c | d, 0);
	guest_cpuid(max_ext + 1, 0, &a, &b, &c, &d);
	GUEST_ASSERT_EQ(a | b | c | d, 0);
	max7 = 0;
	if (max >= 7) {
		guest_cpuid(7, 0, &max7, &b, &c, &d);
		guest_cpuid(7, max7 + 1, &a, &b, &c, &d);
		GUEST_ASSERT_EQ(a | b | c | d, 0);
	}
	ucall(UCALL_SYNC, 4, (uint64_t)1, (uint64_t)max, (uint64_t)max_ext,
	      (uint64_t)max7);
	GUEST_DONE();
}

TEST(max_leaves_consistent)
{
	static struct cpuid_table tab;
	uint32_t max, max_ext, max7 = 0;
	struct test_vm *t;
	struct ucall uc;

	ASSERT_EQ(0, get_default(&tab));
	max = get_reg(&tab, 0, 0, EAX);
	max_ext = get_reg(&tab, EXT_BASE, 0, EAX);
	if (max >= 7)
		max7 = get_reg(&tab, 7, 0, EAX);
	for (uint32_t i = 0; i < tab.hdr.nent; i++) {
		uint32_t fn = tab.e[i].function;

		if (fn >= HV_LEAF && fn < EXT_BASE)
			continue;
		/* Nothing the max-leaf values would hide. */
		EXPECT_LE(fn, fn >= EXT_BASE ? max_ext : max)
			TH_LOG("leaf 0x%x beyond the highest leaf", fn);
		if (fn == 7)
			EXPECT_LE(tab.e[i].index, max7);
		EXPECT_EQ(0, tab.e[i].pad);
	}

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_probe_max));
	ASSERT_UCALL_INTO(t->vcpus[0], UCALL_SYNC, &uc);
	EXPECT_EQ(max, uc.args[1]);
	EXPECT_EQ(max_ext, uc.args[2]);
	EXPECT_EQ(max7, uc.args[3]);
	ASSERT_UCALL(t->vcpus[0], UCALL_DONE);
	test_vm_destroy(t);
}

/* ---- topology: each vCPU its own APIC id ---- */

/* Walk leaf 0xB or 0x1F; every sub-leaf's EDX must be @apic. */
static void guest_walk_topology(uint32_t leaf, uint32_t apic, uint64_t *shift,
				uint64_t *count)
{
	uint32_t a, b, c, d, i;

	for (i = 0; i < 8; i++) {
		guest_cpuid(leaf, i, &a, &b, &c, &d);
		GUEST_ASSERT_EQ(c & 0xff, i);
		GUEST_ASSERT_EQ(d, apic);
		if (!((c >> 8) & 0xff))
			break;
		if (((c >> 8) & 0xff) == 2) {
			*shift = a & 0x1f;
			*count = b & 0xffff;
		}
	}
	GUEST_ASSERT(i < 8);		/* ended with a level of type 0 */
}

static void guest_topology(void)
{
	uint32_t a, b, c, d, max, max_ext, apic, logical = 0;
	uint64_t shift = NO_VALUE, count = NO_VALUE, ext = NO_VALUE;
	uint64_t shift1f = NO_VALUE, count1f = NO_VALUE;

	guest_cpuid(0, 0, &max, &b, &c, &d);
	guest_cpuid(1, 0, &a, &b, &c, &d);
	apic = b >> 24;
	if (d & CPUID1_EDX_HTT)
		logical = (b >> 16) & 0xff;
	if (max >= 0xb)
		guest_walk_topology(0xb, apic, &shift, &count);
	if (max >= 0x1f) {
		guest_walk_topology(0x1f, apic, &shift1f, &count1f);
		GUEST_ASSERT_EQ(shift1f, shift);
		GUEST_ASSERT_EQ(count1f, count);
	}
	if (max >= 4) {
		guest_cpuid(4, 0, &a, &b, &c, &d);
		/* Cores per package, where the leaf exists. */
		if (a & 0x1f && count != NO_VALUE)
			GUEST_ASSERT((a >> 26) + 1 >= count);
	}
	guest_cpuid(EXT_BASE, 0, &max_ext, &b, &c, &d);
	if (max_ext >= 0x8000001e) {
		guest_cpuid(0x8000001e, 0, &a, &b, &c, &d);
		ext = a;
	}
	ucall(UCALL_SYNC, 6, (uint64_t)1, (uint64_t)apic, (uint64_t)logical,
	      shift, count, ext);
	GUEST_DONE();
}

TEST(topology_default_per_vcpu)
{
	const int n = 3;
	struct test_vm *t;
	struct ucall uc;

	ASSERT_EQ(0, test_vm_create(&t, n, guest_topology));
	for (int i = 0; i < n; i++) {
		ASSERT_UCALL_INTO(t->vcpus[i], UCALL_SYNC, &uc);
		EXPECT_EQ(i, uc.args[1]) TH_LOG("vCPU %d leaf 1 APIC id", i);
		/* N vCPUs as N cores of one package. */
		EXPECT_GE(uc.args[2], n) TH_LOG("leaf 1 EBX[23:16]");
		ASSERT_NE(NO_VALUE, uc.args[4]) TH_LOG("no core level in 0xB");
		EXPECT_EQ(n, uc.args[4]);
		EXPECT_GE(1ULL << uc.args[3], n);
		if (uc.args[5] != NO_VALUE) {
			EXPECT_EQ(i, uc.args[5]) TH_LOG("0x8000001E EAX");
		}
		ASSERT_UCALL(t->vcpus[i], UCALL_DONE);
	}
	test_vm_destroy(t);
}

/* A VMM's own topology: only the APIC ids are the kernel's. */
static void guest_vmm_topology(void)
{
	uint32_t a, b, c, d, apic;
	uint64_t x2 = NO_VALUE, x2_1f = NO_VALUE, ext = NO_VALUE;

	guest_cpuid(1, 0, &a, &b, &c, &d);
	apic = b >> 24;
	GUEST_ASSERT_EQ((b >> 16) & 0xff, 0x42);	/* the VMM's value */
	guest_cpuid(0xb, 0, &a, &b, &c, &d);
	GUEST_ASSERT_EQ(a, 1);
	GUEST_ASSERT_EQ(b, 2);
	GUEST_ASSERT_EQ(c, 0x100);
	x2 = d;
	guest_cpuid(0xb, 1, &a, &b, &c, &d);
	GUEST_ASSERT_EQ(a, 5);
	GUEST_ASSERT_EQ(b, 7);
	GUEST_ASSERT_EQ(c, 0x201);
	GUEST_ASSERT_EQ(d, x2);
	guest_cpuid(0xb, 2, &a, &b, &c, &d);
	GUEST_ASSERT_EQ(c, 2);
	GUEST_ASSERT_EQ(d, x2);
	if (!guest_is_amd) {
		guest_cpuid(0x1f, 1, &a, &b, &c, &d);
		GUEST_ASSERT_EQ(a, 5);
		GUEST_ASSERT_EQ(b, 7);
		x2_1f = d;
	} else {
		guest_cpuid(0x8000001e, 0, &a, &b, &c, &d);
		GUEST_ASSERT_EQ(b, 0x0105);
		GUEST_ASSERT_EQ(c, 0x0003);
		ext = a;
	}
	ucall(UCALL_SYNC, 5, (uint64_t)1, (uint64_t)apic, x2, x2_1f, ext);
	GUEST_DONE();
}

static void put(struct cpuid_table *tab, uint32_t fn, uint32_t index,
		uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
	struct vmx_cpuid_entry *e = get_entry(tab, fn, index);

	e->eax = a;
	e->ebx = b;
	e->ecx = c;
	e->edx = d;
}

TEST(topology_vmm_table)
{
	static struct cpuid_table tab;
	const int n = 2;
	struct test_vm *t;
	struct ucall uc;
	struct vmx_cpuid_entry *e;

	ASSERT_EQ(0, test_vm_create(&t, n, guest_vmm_topology));
	ASSERT_EQ(0, get_default(&tab));
	e = get_entry(&tab, 1, 0);
	e->ebx = (e->ebx & ~0xff0000U) | 0x420000U;
	/* Garbage in EDX: the kernel puts each vCPU's x2APIC id there. */
	put(&tab, 0xb, 0, 1, 2, 0x100, 0xdead);
	put(&tab, 0xb, 1, 5, 7, 0x201, 0xbeef);
	put(&tab, 0xb, 2, 0, 0, 2, 0xf00d);
	if (t->caps.backend == VMX_BACKEND_SVM) {
		put(&tab, 0x8000001e, 0, 0x77, 0x0105, 0x0003, 0);
		e = get_entry(&tab, EXT_BASE, 0);
		if (e->eax < 0x8000001e)
			e->eax = 0x8000001e;
	} else {
		put(&tab, 0x1f, 0, 1, 2, 0x100, 0xdead);
		put(&tab, 0x1f, 1, 5, 7, 0x201, 0xbeef);
		put(&tab, 0x1f, 2, 0, 0, 2, 0xf00d);
		e = get_entry(&tab, 0, 0);
		if (e->eax < 0x1f)
			e->eax = 0x1f;
	}
	ASSERT_EQ(0, ioctl_err(libvmx_vm_fd(t->vm), VMX_SET_CPUID, &tab));
	for (int i = 0; i < n; i++) {
		ASSERT_UCALL_INTO(t->vcpus[i], UCALL_SYNC, &uc);
		EXPECT_EQ(i, uc.args[1]);
		EXPECT_EQ(i, uc.args[2]) TH_LOG("0xB EDX of vCPU %d", i);
		if (t->caps.backend == VMX_BACKEND_SVM) {
			EXPECT_EQ(i, uc.args[4]) TH_LOG("0x8000001E EAX");
		} else {
			EXPECT_EQ(i, uc.args[3]) TH_LOG("0x1F EDX");
		}
		ASSERT_UCALL(t->vcpus[i], UCALL_DONE);
	}
	test_vm_destroy(t);
}

/* ---- VMX_SET_CPUID: what cannot be honoured is refused ---- */

TEST(set_refuses_unvirtualized_features)
{
	static struct cpuid_table tab;

	ASSERT_EQ(0, get_default(&tab));
	EXPECT_EQ(-EINVAL, set_with(7, 0, ECX, 1U << 3)) TH_LOG("PKU");
	EXPECT_EQ(-EINVAL, set_with(7, 0, ECX, 1U << 4)) TH_LOG("OSPKE");
	EXPECT_EQ(-EINVAL, set_with(7, 0, ECX, 1U << 16)) TH_LOG("LA57");
	EXPECT_EQ(-EINVAL, set_with(7, 0, ECX, 1U << 7)) TH_LOG("CET_SS");
	EXPECT_EQ(-EINVAL, set_with(7, 0, EDX, 1U << 20)) TH_LOG("CET_IBT");
	EXPECT_EQ(-EINVAL, set_with(7, 0, EBX, 1U << 2)) TH_LOG("SGX");
	EXPECT_EQ(-EINVAL, set_with(7, 0, EDX, 1U << 24)) TH_LOG("AMX_TILE");
	EXPECT_EQ(-EINVAL, set_with(1, 0, ECX, 1U << 5)) TH_LOG("VMX");
	EXPECT_EQ(-EINVAL, set_with(1, 0, ECX, 1U << 6)) TH_LOG("SMX");
	EXPECT_EQ(-EINVAL, set_with(1, 0, ECX, 1U << 3)) TH_LOG("MONITOR");
	EXPECT_EQ(-EINVAL, set_with(0x80000001, 0, ECX, 1U << 2)) TH_LOG("SVM");
	EXPECT_EQ(-EINVAL, set_with(0x80000001, 0, ECX, 1U << 29)) TH_LOG("MWAITX");
	if (!(get_reg(&tab, 7, 0, EDX) & (1U << 26))) {
		EXPECT_EQ(-EINVAL, set_with(7, 0, EDX, 1U << 26)) TH_LOG("SPEC_CTRL");
	}
	if (!(get_reg(&tab, 7, 0, EBX) & (1U << 1))) {
		EXPECT_EQ(-EINVAL, set_with(7, 0, EBX, 1U << 1)) TH_LOG("TSC_ADJUST");
	}
	/* Leaves of unvirtualized features: PMU, PT, SVM. */
	EXPECT_EQ(-EINVAL, set_with(0xa, 0, EAX, 0x07300402)) TH_LOG("leaf 0xA");
	EXPECT_EQ(-EINVAL, set_with(0x14, 0, EBX, 1)) TH_LOG("leaf 0x14");
	EXPECT_EQ(-EINVAL, set_with(0x8000000a, 0, EBX, 16)) TH_LOG("leaf 0x8000000A");
	/* Guest-physical addresses the nested page table cannot map. */
	EXPECT_EQ(-EINVAL, set_with(0x80000008, 0, EAX, 52)) TH_LOG("MAXPHYADDR 52");
	EXPECT_EQ(-EINVAL, set_with(0x80000008, 0, EAX, 57 << 8)) TH_LOG("57-bit VA");
}

TEST(set_refuses_features_the_host_lacks)
{
	static const struct cpuid_bit allowlisted[] = {
		{ 1, 0, ECX, 20, "SSE4.2" }, { 1, 0, ECX, 28, "AVX" },
		{ 7, 0, EBX, 5, "AVX2" }, { 7, 0, EBX, 29, "SHA" },
		{ 7, 0, ECX, 8, "GFNI" }, { 7, 0, EDX, 14, "SERIALIZE" },
	};
	static struct cpuid_table tab;
	const struct cpuid_bit *missing = NULL;

	ASSERT_EQ(0, get_default(&tab));
	for (size_t i = 0; i < ARRAY_SIZE(allowlisted) && !missing; i++)
		if (!(get_reg(&tab, allowlisted[i].fn, 0, allowlisted[i].reg) &
		      (1U << allowlisted[i].bit)))
			missing = &allowlisted[i];
	if (!missing)
		SKIP(return, "the host has every feature this test would try");
	EXPECT_EQ(-EINVAL, set_with(missing->fn, 0, missing->reg,
				    1U << missing->bit)) TH_LOG("%s", missing->name);
}

TEST(set_refuses_xsave_beyond_guest_xcr0)
{
	static const uint64_t candidates[] = {
		XFEATURE_YMM, 1ULL << 5, 1ULL << 6, 1ULL << 7, XFEATURE_PKRU,
	};
	static struct cpuid_table tab;
	uint64_t mask, extra = XFEATURE_PKRU;

	ASSERT_EQ(0, get_default(&tab));
	mask = get_reg(&tab, 0xd, 0, EAX) |
	       (uint64_t)get_reg(&tab, 0xd, 0, EDX) << 32;
	for (size_t i = 0; i < ARRAY_SIZE(candidates); i++) {
		if (!(mask & candidates[i])) {
			extra = candidates[i];
			break;
		}
	}
	TH_LOG("guest XCR0 mask 0x%llx, trying 0x%llx",
	       (unsigned long long)mask, (unsigned long long)extra);
	EXPECT_EQ(-EINVAL, set_with(0xd, 0, EAX, (uint32_t)extra));
	EXPECT_EQ(-EINVAL, set_with(0xd, 0, EAX, (uint32_t)XFEATURE_PKRU));
	/* A component's own sub-leaf, and supervisor (XSS) state. */
	EXPECT_EQ(-EINVAL, set_with(0xd, 9, EAX, 8));
	EXPECT_EQ(-EINVAL, set_with(0xd, 1, ECX, 1U << 8));
	EXPECT_EQ(-EINVAL, set_with(0xd, 1, EAX, 1U << 3));	/* XSAVES */
}

TEST(set_unindexed_entry_must_suit_every_subleaf)
{
	static struct cpuid_table tab;
	int devfd = vmx_test_open(), vmfd = create_vm(devfd);

	ASSERT_GE(vmfd, 0);
	memset(&tab, 0, sizeof(tab));
	tab.hdr.nent = 1;
	/* Leaf 7 without VMX_CPUID_INDEXED would also be 7.1, 7.2 ... */
	tab.e[0] = (struct vmx_cpuid_entry){ .function = 7,
		.edx = 1U << 4 };
	EXPECT_EQ(-EINVAL, ioctl_err(vmfd, VMX_SET_CPUID, &tab));
	/* Topology and hypervisor leaves are information: anything goes. */
	tab.e[0] = (struct vmx_cpuid_entry){ .function = 0xb,
		.eax = 1, .ebx = 1, .ecx = 0x100, .edx = 3 };
	EXPECT_EQ(0, ioctl_err(vmfd, VMX_SET_CPUID, &tab));
	tab.e[0] = (struct vmx_cpuid_entry){ .function = 0x4000abcd,
		.eax = ~0U, .ebx = ~0U, .ecx = ~0U, .edx = ~0U };
	EXPECT_EQ(0, ioctl_err(vmfd, VMX_SET_CPUID, &tab));
	close(vmfd);
	close(devfd);
}

TEST(set_header_and_entry_checks)
{
	static struct cpuid_table tab;
	int devfd = vmx_test_open(), vmfd = create_vm(devfd);

	ASSERT_GE(vmfd, 0);
	ASSERT_EQ(0, get_default(&tab));
	/* The default table itself is accepted as it is. */
	EXPECT_EQ(0, ioctl_err(vmfd, VMX_SET_CPUID, &tab));
	tab.hdr.nent = VMX_MAX_CPUID_ENTRIES + 1;
	EXPECT_EQ(-E2BIG, ioctl_err(vmfd, VMX_SET_CPUID, &tab));
	ASSERT_EQ(0, get_default(&tab));
	tab.hdr.flags = 1;
	EXPECT_EQ(-EINVAL, ioctl_err(vmfd, VMX_SET_CPUID, &tab));
	tab.hdr.flags = 0;
	tab.hdr.reserved = 1ULL << 63;
	EXPECT_EQ(-EINVAL, ioctl_err(vmfd, VMX_SET_CPUID, &tab));
	tab.hdr.reserved = 0;
	tab.e[0].flags = VMX_CPUID_INDEXED << 1;
	EXPECT_EQ(-EINVAL, ioctl_err(vmfd, VMX_SET_CPUID, &tab));
	tab.e[0].flags = 0;
	tab.e[tab.hdr.nent - 1].pad = 1;
	EXPECT_EQ(-EINVAL, ioctl_err(vmfd, VMX_SET_CPUID, &tab));
	tab.e[tab.hdr.nent - 1].pad = 0;
	EXPECT_EQ(0, ioctl_err(vmfd, VMX_SET_CPUID, &tab));
	close(vmfd);
	close(devfd);
}

/* ---- informational changes go through and reach the guest ---- */

static const char brand[48] = "vmx cpuid_test: a brand string of 47 bytes!!!!";

static void guest_brand(void)
{
	uint32_t r[12], a, b, c, d;

	for (int i = 0; i < 3; i++)
		guest_cpuid(0x80000002 + i, 0, &r[4 * i], &r[4 * i + 1],
			    &r[4 * i + 2], &r[4 * i + 3]);
	for (int i = 0; i < 12; i++) {
		const unsigned char *p = (const unsigned char *)brand + 4 * i;
		uint32_t want = p[0] | p[1] << 8 | p[2] << 16 |
				(uint32_t)p[3] << 24;

		GUEST_ASSERT_EQ(r[i], want);
	}
	guest_cpuid(1, 0, &a, &b, &c, &d);
	GUEST_ASSERT(c & CPUID1_ECX_X2APIC);
	GUEST_ASSERT(c & CPUID1_ECX_TSC_DEADLINE);
	guest_cpuid(HV_LEAF + 1, 0, &a, &b, &c, &d);
	GUEST_ASSERT_EQ(a, 0x1234);
	GUEST_DONE();
}

TEST(set_accepts_information)
{
	static struct cpuid_table tab;
	struct vmx_cpuid_entry *e;
	struct test_vm *t;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_brand));
	ASSERT_EQ(0, get_default(&tab));
	for (int i = 0; i < 3; i++) {
		e = get_entry(&tab, 0x80000002 + i, 0);
		memcpy(&e->eax, brand + 16 * i, 16);
	}
	e = get_entry(&tab, EXT_BASE, 0);
	if (e->eax < 0x80000004)
		e->eax = 0x80000004;
	get_entry(&tab, 1, 0)->ecx |= CPUID1_ECX_X2APIC | CPUID1_ECX_TSC_DEADLINE;
	get_entry(&tab, HV_LEAF, 0)->eax = HV_LEAF + 1;
	put(&tab, HV_LEAF + 1, 0, 0x1234, 0, 0, 0);
	ASSERT_EQ(0, ioctl_err(libvmx_vm_fd(t->vm), VMX_SET_CPUID, &tab));
	ASSERT_UCALL(t->vcpus[0], UCALL_DONE);
	test_vm_destroy(t);
}

TEST_HARNESS_MAIN
