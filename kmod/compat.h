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

/*
 * VMA flags: newer kernels (6.3 on) change them only through
 * vm_flags_set(); older ones write the field.
 */
#include <linux/mm.h>

static inline void vmx_vma_set_flags(struct vm_area_struct *vma,
				     unsigned long flags)
{
#ifdef VMX_COMPAT_VM_FLAGS_SET
	vm_flags_set(vma, flags);
#else
	vma->vm_flags |= flags;
#endif
}

/*
 * Generic netlink: the parsed attributes of a dump request moved into a
 * struct genl_info (genl_info_dump()) in newer kernels.
 */
#include <net/genetlink.h>

static inline struct nlattr **vmx_genl_dump_attrs(struct netlink_callback *cb)
{
#ifdef VMX_COMPAT_GENL_INFO_DUMP
	return genl_info_dump(cb)->attrs;
#else
	return genl_dumpit_info(cb)->attrs;
#endif
}

#endif /* VMX_COMPAT_H */
