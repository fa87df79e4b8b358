/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every difference between the kernels vmx builds against lives here.
 *
 * Feature tests use what the Kbuild file finds in the target kernel's
 * headers (VMX_COMPAT_* defines), not version numbers: Debian's stable
 * kernels carry back-ported interface changes.
 */
#ifndef VMX_COMPAT_H
#define VMX_COMPAT_H

#include <linux/syscore_ops.h>
#include <asm/cpufeature.h>
#include <asm/msr-index.h>

/*
 * syscore: newer kernels (and Debian's 6.12) register a struct syscore
 * whose callbacks take a data pointer; older ones a bare syscore_ops.
 */
#ifdef VMX_COMPAT_SYSCORE_DATA
struct vmx_syscore {
	struct syscore_ops ops;
	struct syscore core;
};

#define VMX_SYSCORE_ARG		void *data
#define VMX_SYSCORE_DEFINE(var, suspend_fn, resume_fn)		\
	static struct vmx_syscore var = {			\
		.ops = { .suspend = suspend_fn, .resume = resume_fn }, \
	}

static inline void vmx_syscore_register(struct vmx_syscore *s)
{
	s->core.ops = &s->ops;
	register_syscore(&s->core);
}

static inline void vmx_syscore_unregister(struct vmx_syscore *s)
{
	unregister_syscore(&s->core);
}
#else
struct vmx_syscore {
	struct syscore_ops ops;
};

#define VMX_SYSCORE_ARG		void
#define VMX_SYSCORE_DEFINE(var, suspend_fn, resume_fn)		\
	static struct vmx_syscore var = {			\
		.ops = { .suspend = suspend_fn, .resume = resume_fn }, \
	}

static inline void vmx_syscore_register(struct vmx_syscore *s)
{
	register_syscore_ops(&s->ops);
}

static inline void vmx_syscore_unregister(struct vmx_syscore *s)
{
	unregister_syscore_ops(&s->ops);
}
#endif

/*
 * AMD SRSO "reduced speculation" (Zen 5): only kernels that know the
 * BP_SPEC_REDUCE flag select it, and they keep the flag only when they
 * did; the hypervisor then sets BP_CFG bit 4 while guests run.
 */
#ifdef X86_FEATURE_SRSO_BP_SPEC_REDUCE
#define VMX_COMPAT_SRSO_BP_SPEC_REDUCE	boot_cpu_has(X86_FEATURE_SRSO_BP_SPEC_REDUCE)
#define VMX_COMPAT_BP_SPEC_REDUCE_BIT	MSR_ZEN4_BP_CFG_BP_SPEC_REDUCE_BIT
#else
#define VMX_COMPAT_SRSO_BP_SPEC_REDUCE	false
#define VMX_COMPAT_BP_SPEC_REDUCE_BIT	4
#endif

#endif /* VMX_COMPAT_H */
