/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Assertions on vCPU exits for tests using kselftest_harness.h; include
 * after it.  Each logs the exit (or the guest's own failure) when it
 * does not match.
 */
#ifndef VMX_HARNESS_H
#define VMX_HARNESS_H

#include "vmx_test.h"

/* Run @vcpu once and require the ucall @want; fills *@ucp if not NULL. */
#define ASSERT_UCALL_INTO(vcpu, want, ucp)				\
	do {								\
		struct ucall __uc, *__ucp = (ucp);			\
		enum ucall_cmd __cmd = test_run((vcpu), &__uc);		\
		ASSERT_EQ((want), __cmd)				\
			TH_LOG("%s", test_describe((vcpu), &__uc));	\
		if (__ucp)						\
			*__ucp = __uc;					\
	} while (0)

#define ASSERT_UCALL(vcpu, want)	ASSERT_UCALL_INTO(vcpu, want, NULL)

/* Run @vcpu once and require GUEST_SYNC(@stage). */
#define ASSERT_SYNC(vcpu, stage)					\
	do {								\
		struct ucall __us;					\
		ASSERT_UCALL_INTO(vcpu, UCALL_SYNC, &__us);		\
		ASSERT_EQ((uint64_t)(stage), __us.args[0]);		\
	} while (0)

/* Run @vcpu once and require a non-ucall exit @reason. */
#define ASSERT_EXIT(vcpu, reason)					\
	do {								\
		struct ucall __ue;					\
		enum ucall_cmd __c = test_run((vcpu), &__ue);		\
		ASSERT_EQ(UCALL_NONE, __c)				\
			TH_LOG("%s", test_describe((vcpu), &__ue));	\
		ASSERT_EQ((uint32_t)(reason),				\
			  libvmx_vcpu_run_area(vcpu)->exit_reason)	\
			TH_LOG("%s", test_describe((vcpu), &__ue));	\
	} while (0)

#endif /* VMX_HARNESS_H */
