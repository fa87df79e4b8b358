// SPDX-License-Identifier: GPL-2.0
/*
 * The guest TSC: one offset per vCPU, the same for every vCPU of a VM
 * from the start, set and read with VMX_GET/SET_TSC_OFFSET, moved by
 * writes of IA32_TSC.
 */
#include "test_util.h"
#include "kselftest_harness.h"

#include <time.h>
#include <x86intrin.h>

#include "vmx_harness.h"
#include "guest.h"

#define MSR_IA32_TSC	0x10

static void guest_read_tsc(void)
{
	for (;;)
		GUEST_SYNC2(1, guest_rdtsc());
}

static int get_offset(struct libvmx_vcpu *vcpu, uint64_t *offset)
{
	struct vmx_tsc_offset tsc;
	int ret = ioctl_err(libvmx_vcpu_fd(vcpu), VMX_GET_TSC_OFFSET, &tsc);

	*offset = tsc.offset;
	return ret;
}

static int set_offset(struct libvmx_vcpu *vcpu, uint64_t offset)
{
	struct vmx_tsc_offset tsc = { .offset = offset };

	return ioctl_err(libvmx_vcpu_fd(vcpu), VMX_SET_TSC_OFFSET, &tsc);
}

/*
 * Guest TSC minus host TSC as one round trip sees it: the guest's value
 * lies between the host's readings before and after the run.
 */
static int64_t measure_offset(struct libvmx_vcpu *vcpu, uint64_t *window)
{
	struct ucall uc;
	uint64_t before, after;

	before = __rdtsc();
	if (test_run(vcpu, &uc) != UCALL_SYNC)
		return 0;
	after = __rdtsc();
	*window = after - before;
	return (int64_t)(uc.args[1] - before);
}

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = ms * 1000000L };

	nanosleep(&ts, NULL);
}

/* vCPUs created 50 ms apart still read the same TSC. */
TEST(vcpus_start_synchronized)
{
	struct test_vm *t;
	struct libvmx_vcpu *late;
	uint64_t off0, off1, win0, win1;
	int64_t d0, d1, gap;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_read_tsc));
	sleep_ms(50);
	ASSERT_EQ(0, libvmx_vcpu_create(t->vm, 1, &late));
	t->vcpus[1] = late;
	t->nr_vcpus = 2;
	ASSERT_EQ(0, test_vcpu_long_mode(t, late, guest_read_tsc));

	ASSERT_EQ(0, get_offset(t->vcpus[0], &off0));
	ASSERT_EQ(0, get_offset(late, &off1));
	EXPECT_EQ(off0, off1);

	/* Warm up (page faults), then compare what the guests read. */
	measure_offset(t->vcpus[0], &win0);
	measure_offset(late, &win1);
	d0 = measure_offset(t->vcpus[0], &win0);
	d1 = measure_offset(late, &win1);
	gap = d1 > d0 ? d1 - d0 : d0 - d1;
	/* Within the two measurement windows, far below the 50 ms apart. */
	EXPECT_LE(gap, (int64_t)(win0 + win1))
		TH_LOG("d0 %ld d1 %ld windows %lu %lu", (long)d0, (long)d1,
		       (unsigned long)win0, (unsigned long)win1);
	test_vm_destroy(t);
}

/* SET_TSC_OFFSET moves what the guest reads; IA32_TSC follows. */
TEST(set_offset_and_msr)
{
	struct test_vm *t;
	struct libvmx_vcpu *vcpu;
	uint64_t off, win, host;
	int64_t d;
	struct {
		struct vmx_msrs hdr;
		struct vmx_msr_data e[1];
	} msrs = { .hdr.nmsrs = 1, .e[0].index = MSR_IA32_TSC };
	const uint64_t big = 1ULL << 50;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_read_tsc));
	vcpu = t->vcpus[0];
	ASSERT_EQ(0, set_offset(vcpu, big - __rdtsc()));
	measure_offset(vcpu, &win);
	d = measure_offset(vcpu, &win);
	ASSERT_EQ(0, get_offset(vcpu, &off));
	/* Guest TSC = host TSC + offset, seen through one round trip. */
	EXPECT_GE(d, (int64_t)off);
	EXPECT_LE(d, (int64_t)(off + win));

	/* The VMM writes IA32_TSC: the offset follows. */
	msrs.e[0].data = 1ULL << 45;
	host = __rdtsc();
	ASSERT_EQ(1, ioctl_err(libvmx_vcpu_fd(vcpu), VMX_SET_MSRS, &msrs));
	ASSERT_EQ(0, get_offset(vcpu, &off));
	EXPECT_LE(off + host, 1ULL << 45);
	msrs.e[0].data = 0;
	ASSERT_EQ(1, ioctl_err(libvmx_vcpu_fd(vcpu), VMX_GET_MSRS, &msrs));
	EXPECT_GE(msrs.e[0].data, 1ULL << 45);
	EXPECT_LT(msrs.e[0].data, (1ULL << 45) + (__rdtsc() - host));
	test_vm_destroy(t);
}

static void guest_write_tsc(void)
{
	guest_wrmsr(MSR_IA32_TSC, 1ULL << 40);
	GUEST_SYNC2(1, guest_rdtsc());
	GUEST_DONE();
}

/* A guest WRMSR of IA32_TSC changes only its own vCPU's offset. */
TEST(guest_writes_tsc)
{
	struct test_vm *t;
	uint64_t before, off0, off1;
	struct ucall uc;

	ASSERT_EQ(0, test_vm_create(&t, 2, guest_write_tsc));
	ASSERT_EQ(0, get_offset(t->vcpus[1], &off1));
	before = __rdtsc();
	ASSERT_EQ(UCALL_SYNC, test_run(t->vcpus[0], &uc))
		TH_LOG("%s", test_describe(t->vcpus[0], &uc));
	EXPECT_GE(uc.args[1], 1ULL << 40);
	EXPECT_LT(uc.args[1], (1ULL << 40) + (__rdtsc() - before));
	ASSERT_EQ(0, get_offset(t->vcpus[0], &off0));
	EXPECT_NE(off0, off1);
	ASSERT_EQ(0, get_offset(t->vcpus[1], &off0));
	EXPECT_EQ(off0, off1);
	test_vm_destroy(t);
}

TEST(tsc_offset_errors)
{
	struct test_vm *t;
	struct vmx_tsc_offset tsc;
	int fd;

	ASSERT_EQ(0, test_vm_create(&t, 1, NULL));
	fd = libvmx_vcpu_fd(t->vcpus[0]);
#define BAD_TSC(stmt)							\
	do {								\
		memset(&tsc, 0, sizeof(tsc));				\
		stmt;							\
		EXPECT_EQ(-EINVAL, ioctl_err(fd, VMX_SET_TSC_OFFSET, &tsc)) \
			TH_LOG("%s", #stmt);				\
	} while (0)
	BAD_TSC(tsc.flags = 1);
	BAD_TSC(tsc.pad = 1);
	BAD_TSC(tsc.reserved[1] = 1);
#undef BAD_TSC
	EXPECT_EQ(-EFAULT, ioctl_err(fd, VMX_SET_TSC_OFFSET, NULL));
	EXPECT_EQ(-EFAULT, ioctl_err(fd, VMX_GET_TSC_OFFSET, NULL));
	test_vm_destroy(t);
}

TEST_HARNESS_MAIN
