// SPDX-License-Identifier: GPL-2.0
/*
 * CPUID: every guest CPUID is answered in the kernel from the VM's table,
 * which the VMM sets (VMX_SET_CPUID) or leaves at the default derived
 * from the host.  A few bits depend on vCPU state and are filled in at
 * the time of the CPUID (APIC id, OSXSAVE, XSAVE area size).
 */
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <asm/cpufeature.h>
#include <asm/processor.h>

#include "core.h"

#define VMX_HV_LEAF		0x40000000
/* "vmxvmxvmxvmx" in EBX, ECX, EDX (little endian). */
#define VMX_HV_SIG_EBX		0x76786d76	/* "vmxv" */
#define VMX_HV_SIG_ECX		0x6d76786d	/* "mxvm" */
#define VMX_HV_SIG_EDX		0x786d7678	/* "xvmx" */

/* Leaf 1 */
#define CPUID1_ECX_VMX		BIT(5)
#define CPUID1_ECX_MONITOR	BIT(3)
#define CPUID1_ECX_X2APIC	BIT(21)
#define CPUID1_ECX_TSC_DEADLINE	BIT(24)
#define CPUID1_ECX_OSXSAVE	BIT(27)
#define CPUID1_ECX_HYPERVISOR	BIT(31)
#define CPUID1_EBX_APIC_ID	GENMASK(31, 24)
/* Leaf 7.0 */
#define CPUID7_EBX_SGX		BIT(2)
#define CPUID7_EBX_RTM		BIT(11)
#define CPUID7_EBX_MPX		BIT(14)
#define CPUID7_EBX_PQE		BIT(15)
#define CPUID7_ECX_WAITPKG	BIT(5)
#define CPUID7_ECX_PKU		BIT(3)
#define CPUID7_ECX_OSPKE	BIT(4)
#define CPUID7_ECX_RDPID	BIT(22)
#define CPUID7_EDX_AMX		(BIT(22) | BIT(24) | BIT(25))
/* Leaf 0x80000001 */
#define CPUIDX1_ECX_SVM		BIT(2)
#define CPUIDX1_ECX_SKINIT	BIT(12)
#define CPUIDX1_ECX_PERFCTR	BIT(23)

/* Leaves copied from the host, then adjusted; others read as zero. */
static const u32 vmx_cpuid_std_leaves[] = { 0, 1, 2, 4, 6, 7, 0xb, 0xd };
#define VMX_CPUID_SUBLEAVES	8

static struct vmx_cpuid_entry *vmx_cpuid_add(struct vmx_cpuid *c, u32 fn,
					     u32 index, u32 flags)
{
	struct vmx_cpuid_entry *e = &c->entries[c->nent++];

	e->function = fn;
	e->index = index;
	e->flags = flags;
	cpuid_count(fn, index, &e->eax, &e->ebx, &e->ecx, &e->edx);
	return e;
}

static bool vmx_cpuid_indexed(u32 fn)
{
	return fn == 4 || fn == 7 || fn == 0xb || fn == 0xd;
}

static void vmx_cpuid_adjust(struct vmx_cpuid_entry *e)
{
	switch (e->function) {
	case 1:
		e->ecx &= ~(CPUID1_ECX_VMX | CPUID1_ECX_MONITOR |
			    CPUID1_ECX_X2APIC | CPUID1_ECX_TSC_DEADLINE);
		e->ecx |= CPUID1_ECX_HYPERVISOR;
		break;
	case 7:
		if (e->index)
			break;
		e->ebx &= ~(CPUID7_EBX_SGX | CPUID7_EBX_RTM | CPUID7_EBX_MPX |
			    CPUID7_EBX_PQE);
		e->ecx &= ~(CPUID7_ECX_WAITPKG | CPUID7_ECX_PKU |
			    CPUID7_ECX_OSPKE | CPUID7_ECX_RDPID);
		e->edx &= ~CPUID7_EDX_AMX;
		break;
	case 0xd:
		if (e->index == 0) {
			e->eax &= vmx_guest_xcr0_mask();
			e->edx = 0;
		} else if (e->index == 1) {
			/* No XSAVES/XSAVEC/XFD: guests use plain XSAVE. */
			e->eax &= BIT(0) | BIT(2);	/* XSAVEOPT, XGETBV1 */
			e->ebx = 0;
			e->ecx = 0;
		} else if (!(vmx_guest_xcr0_mask() & BIT_ULL(e->index))) {
			*e = (struct vmx_cpuid_entry){ .function = e->function,
							.index = e->index,
							.flags = e->flags };
		}
		break;
	case 0x80000001:
		e->ecx &= ~(CPUIDX1_ECX_SVM | CPUIDX1_ECX_SKINIT |
			    CPUIDX1_ECX_PERFCTR);
		break;
	}
}

struct vmx_cpuid *vmx_cpuid_default(void)
{
	struct vmx_cpuid *c;
	u32 max_std = cpuid_eax(0), max_ext = cpuid_eax(0x80000000);
	u32 i, fn, sub;

	c = kzalloc(struct_size(c, entries, VMX_MAX_CPUID_ENTRIES),
		    GFP_KERNEL_ACCOUNT);
	if (!c)
		return NULL;

	for (i = 0; i < ARRAY_SIZE(vmx_cpuid_std_leaves); i++) {
		fn = vmx_cpuid_std_leaves[i];
		if (fn > max_std)
			continue;
		if (!vmx_cpuid_indexed(fn)) {
			vmx_cpuid_adjust(vmx_cpuid_add(c, fn, 0, 0));
			continue;
		}
		for (sub = 0; sub < VMX_CPUID_SUBLEAVES; sub++)
			vmx_cpuid_adjust(vmx_cpuid_add(c, fn, sub, VMX_CPUID_INDEXED));
	}
	for (fn = 0x80000000; fn <= min(max_ext, 0x80000008U); fn++)
		vmx_cpuid_adjust(vmx_cpuid_add(c, fn, 0, 0));

	/* Our own leaf: a hypervisor is present, and it is vmx. */
	c->entries[c->nent++] = (struct vmx_cpuid_entry) {
		.function = VMX_HV_LEAF, .eax = VMX_HV_LEAF,
		.ebx = VMX_HV_SIG_EBX, .ecx = VMX_HV_SIG_ECX,
		.edx = VMX_HV_SIG_EDX,
	};
	return c;
}

static struct vmx_cpuid_entry *vmx_cpuid_lookup(struct vmx_cpuid *c, u32 fn,
						u32 index)
{
	u32 i;

	for (i = 0; i < c->nent; i++) {
		struct vmx_cpuid_entry *e = &c->entries[i];

		if (e->function == fn &&
		    (!(e->flags & VMX_CPUID_INDEXED) || e->index == index))
			return e;
	}
	return NULL;
}

/* Size of the XSAVE area for the features in @xcr0 (leaf 0xd.0 EBX). */
static u32 vmx_xsave_size(struct vmx_cpuid *c, u64 xcr0)
{
	u32 size = 512 + 64, i;

	for (i = 2; i < 64; i++) {
		struct vmx_cpuid_entry *e;

		if (!(xcr0 & BIT_ULL(i)))
			continue;
		e = vmx_cpuid_lookup(c, 0xd, i);
		if (e && e->eax)
			size = max(size, e->ebx + e->eax);
	}
	return size;
}

/* Answer a guest CPUID: EAX/ECX in, EAX/EBX/ECX/EDX out. */
void vmx_cpuid_emulate(struct vmx_vcpu *vcpu, u64 cr4)
{
	u32 fn = vcpu->gprs[VMX_RAX], index = vcpu->gprs[VMX_RCX];
	struct vmx_cpuid_entry out = { 0 }, *e;
	struct vmx_cpuid *c;

	rcu_read_lock();
	c = rcu_dereference(vcpu->vm->cpuid);
	e = vmx_cpuid_lookup(c, fn, index);
	if (e)
		out = *e;
	if (fn == 1) {
		out.ebx = (out.ebx & ~CPUID1_EBX_APIC_ID) | (vcpu->id << 24);
		out.ecx &= ~CPUID1_ECX_OSXSAVE;
		if (cr4 & X86_CR4_OSXSAVE)
			out.ecx |= CPUID1_ECX_OSXSAVE;
	} else if (fn == 0xd && index == 0 && e) {
		out.ebx = vmx_xsave_size(c, vcpu->xcr0);
	}
	rcu_read_unlock();

	vcpu->gprs[VMX_RAX] = out.eax;
	vcpu->gprs[VMX_RBX] = out.ebx;
	vcpu->gprs[VMX_RCX] = out.ecx;
	vcpu->gprs[VMX_RDX] = out.edx;
}

static long vmx_cpuid_copy_out(struct vmx_cpuid __user *argp,
			       const struct vmx_cpuid *c)
{
	struct vmx_cpuid hdr;

	if (copy_from_user(&hdr, argp, sizeof(hdr)))
		return -EFAULT;
	if (hdr.flags || hdr.reserved)
		return -EINVAL;
	if (hdr.nent < c->nent) {
		hdr.nent = c->nent;
		return put_user(hdr.nent, &argp->nent) ? -EFAULT : -E2BIG;
	}
	if (copy_to_user(argp->entries, c->entries,
			 c->nent * sizeof(c->entries[0])) ||
	    put_user(c->nent, &argp->nent))
		return -EFAULT;
	return 0;
}

long vmx_cpuid_get_default(struct vmx_cpuid __user *argp)
{
	struct vmx_cpuid *c = vmx_cpuid_default();
	long ret;

	if (!c)
		return -ENOMEM;
	ret = vmx_cpuid_copy_out(argp, c);
	kfree(c);
	return ret;
}

long vmx_cpuid_set(struct vmx_vm *vm, struct vmx_cpuid __user *argp)
{
	struct vmx_cpuid hdr, *c, *old;
	u32 i;

	if (copy_from_user(&hdr, argp, sizeof(hdr)))
		return -EFAULT;
	if (hdr.flags || hdr.reserved)
		return -EINVAL;
	if (hdr.nent > VMX_MAX_CPUID_ENTRIES)
		return -E2BIG;

	c = kzalloc(struct_size(c, entries, VMX_MAX_CPUID_ENTRIES),
		    GFP_KERNEL_ACCOUNT);
	if (!c)
		return -ENOMEM;
	c->nent = hdr.nent;
	if (copy_from_user(c->entries, argp->entries,
			   hdr.nent * sizeof(c->entries[0]))) {
		kfree(c);
		return -EFAULT;
	}
	for (i = 0; i < c->nent; i++) {
		if (c->entries[i].flags & ~VMX_CPUID_INDEXED || c->entries[i].pad) {
			kfree(c);
			return -EINVAL;
		}
	}

	mutex_lock(&vm->lock);
	old = rcu_dereference_protected(vm->cpuid, lockdep_is_held(&vm->lock));
	rcu_assign_pointer(vm->cpuid, c);
	mutex_unlock(&vm->lock);
	synchronize_rcu();
	kfree(old);
	return 0;
}
