// SPDX-License-Identifier: GPL-2.0
/*
 * CPUID: every guest CPUID is answered in the kernel from the VM's table,
 * which the VMM sets (VMX_SET_CPUID) or leaves at the default.
 *
 * The default is an allowlist, never the host minus a denylist: a guest
 * sees a bit only if a rule says the module virtualizes it (or that it is
 * mere information), so a new host CPU hands guests nothing new.  The
 * rules are the vendor-neutral ones below plus the backend's own
 * (vmx_ops->cpuid_policy: vendor leaves and bits, and what its controls
 * lack on this CPU).  VMX_SET_CPUID holds a VMM to the same rules.
 *
 * A few fields depend on the vCPU and are filled in at the time of the
 * CPUID: the APIC ids, OSXSAVE, the XSAVE area size, and for the default
 * table the topology (N vCPUs as N cores of one package, one thread each).
 */
#include <linux/bitfield.h>
#include <linux/log2.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/uaccess.h>
#include <asm/cpufeature.h>
#include <asm/fpu/types.h>
#include <asm/processor.h>
#include <asm/tsc.h>

#include "core.h"

#define EAX	VMX_CPUID_EAX
#define EBX	VMX_CPUID_EBX
#define ECX	VMX_CPUID_ECX
#define EDX	VMX_CPUID_EDX
#define ALL	U32_MAX

#define VMX_HV_LEAF		0x40000000
#define VMX_HV_LEAF_LAST	0x4fffffff
/* "vmxvmxvmxvmx" in EBX, ECX, EDX (little endian). */
#define VMX_HV_SIG_EBX		0x76786d76	/* "vmxv" */
#define VMX_HV_SIG_ECX		0x6d76786d	/* "mxvm" */
#define VMX_HV_SIG_EDX		0x786d7678	/* "xvmx" */

#define VMX_CPUID_EXT_BASE	0x80000000
/* Sub-leaves above this follow its rule (0xD: component 63, reserved). */
#define VMX_CPUID_MAX_INDEX	63

/*
 * Kernel-private flag of a table (never seen by user space): built by
 * vmx_cpuid_default(), so its topology follows the VM's vCPU count.
 */
#define VMX_CPUID_TABLE_DEFAULT	BIT(31)

/* Leaf 1 */
#define CPUID1_EBX_LOGICAL	GENMASK(23, 16)
#define CPUID1_EBX_APIC_ID	GENMASK(31, 24)
#define CPUID1_ECX_PCID		BIT(17)
#define CPUID1_ECX_X2APIC	BIT(21)
#define CPUID1_ECX_TSC_DEADLINE	BIT(24)
#define CPUID1_ECX_XSAVE	BIT(26)
#define CPUID1_ECX_OSXSAVE	BIT(27)
#define CPUID1_ECX_HYPERVISOR	BIT(31)
#define CPUID1_ECX_FMA		BIT(12)
#define CPUID1_ECX_AVX		BIT(28)
#define CPUID1_ECX_F16C		BIT(29)
#define CPUID1_EDX_APIC		BIT(9)
#define CPUID1_EDX_HTT		BIT(28)
/* Leaf 4 and 0x8000001D (cache topology) */
#define CPUID4_EAX_TYPE		GENMASK(4, 0)
#define CPUID4_EAX_LEVEL	GENMASK(7, 5)
#define CPUID4_EAX_SHARING	GENMASK(25, 14)
#define CPUID4_EAX_CORES	GENMASK(31, 26)
/* Leaf 6 */
#define CPUID6_EAX_ARAT		BIT(2)
/* Leaf 7.0 */
#define CPUID7_EAX_MAX_INDEX	ALL
#define CPUID7_EBX_FSGSBASE	BIT(0)
#define CPUID7_EBX_AVX2		BIT(5)
#define CPUID7_EBX_SMEP		BIT(7)
#define CPUID7_EBX_SMAP		BIT(20)
#define CPUID7_EBX_AVX512	(BIT(16) | BIT(17) | BIT(21) | BIT(26) | \
				 BIT(27) | BIT(28) | BIT(30) | BIT(31))
#define CPUID7_ECX_UMIP		BIT(2)
#define CPUID7_ECX_VAES_VPCLMUL	(BIT(9) | BIT(10))
#define CPUID7_ECX_AVX512	(BIT(1) | BIT(6) | BIT(11) | BIT(12) | BIT(14))
#define CPUID7_EDX_AVX512	(BIT(2) | BIT(3) | BIT(8) | BIT(23))
/* Leaf 7.1 */
#define CPUID7_1_EAX_AVX	(BIT(4) | BIT(23))	/* AVX-VNNI, AVX-IFMA */
#define CPUID7_1_EAX_AVX512	BIT(5)			/* AVX512_BF16 */
/* Leaf 0xB and 0x1F: extended topology */
#define CPUIDB_EAX_SHIFT	GENMASK(4, 0)
#define CPUIDB_EBX_COUNT	GENMASK(15, 0)
#define CPUIDB_ECX_INDEX	GENMASK(7, 0)
#define CPUIDB_ECX_TYPE		GENMASK(15, 8)
#define CPUIDB_TYPE_SMT		1
#define CPUIDB_TYPE_CORE	2
/* Leaf 0xD.1 */
#define CPUIDD1_EAX_XSAVEOPT	BIT(0)
#define CPUIDD1_EAX_XGETBV1	BIT(2)
#define CPUIDD_ECX_SUPERVISOR	BIT(0)
/* Leaf 0x80000007 */
#define CPUIDX7_EDX_INVTSC	BIT(8)
/* Leaf 0x80000008 */
#define CPUIDX8_EAX_PHYS	GENMASK(7, 0)
#define CPUIDX8_EAX_VIRT	GENMASK(15, 8)
#define CPUIDX8_EAX_GUEST_PHYS	GENMASK(23, 16)
#define CPUIDX8_ECX_NC		GENMASK(7, 0)
#define CPUIDX8_ECX_APIC_SIZE	GENMASK(15, 12)
/* Leaf 0x8000001E */
#define CPUIDX1E_EBX_CORE_ID	GENMASK(7, 0)

/* Linear addresses: 4-level paging only (LA57 is never offered). */
#define VMX_GUEST_VIRT_BITS	48

/*
 * The vendor-neutral allowlist: leaves and bits that mean the same on
 * every x86 vendor and that the core handles the same way whatever the
 * backend.  Topology (0xB) and XSAVE (0xD) leaves are built by the code
 * below; their rules only say that they exist.
 */
static const struct vmx_cpuid_rule vmx_cpuid_common[] = {
	/* Highest leaf (clamped to the table), vendor string. */
	{ .function = 0, .info = { ALL, ALL, ALL, ALL } },
	{
		.function = 1,
		/* Signature; brand index, CLFLUSH size, topology (patched). */
		.info = {
			[EAX] = ALL, [EBX] = ALL,
			/* APIC (the VMM's), self-snoop, HTT (topology) */
			[EDX] = CPUID1_EDX_APIC | BIT(27) | CPUID1_EDX_HTT,
		},
		.vmm = {
			[ECX] = CPUID1_ECX_X2APIC | CPUID1_ECX_TSC_DEADLINE |
				CPUID1_ECX_OSXSAVE | CPUID1_ECX_HYPERVISOR,
		},
		.feat = {
			/*
			 * SSE3, PCLMULQDQ, SSSE3, FMA, CX16, PCID, SSE4.1,
			 * SSE4.2, MOVBE, POPCNT, AES, XSAVE, AVX, F16C, RDRAND.
			 * Never MONITOR, VMX, SMX, EST, TM2, DS-CPL, DTES64,
			 * xTPR, PDCM, DCA: nothing virtualizes them.
			 */
			[ECX] = BIT(0) | BIT(1) | BIT(9) | CPUID1_ECX_FMA |
				BIT(13) | CPUID1_ECX_PCID | BIT(19) | BIT(20) |
				BIT(22) | BIT(23) | BIT(25) | CPUID1_ECX_XSAVE |
				CPUID1_ECX_AVX | CPUID1_ECX_F16C | BIT(30),
			/*
			 * FPU VME DE PSE TSC MSR PAE MCE CX8 SEP MTRR PGE
			 * MCA CMOV PAT PSE36 CLFSH MMX FXSR SSE SSE2.  Never
			 * PSN, DS, ACPI, TM, PBE.
			 */
			[EDX] = GENMASK(8, 0) | GENMASK(17, 11) | BIT(19) |
				GENMASK(26, 23),
		},
	},
	/* Power management: only ARAT, a property of the VMM's APIC. */
	{ .function = 6, .vmm = { [EAX] = CPUID6_EAX_ARAT } },
	{
		.function = 7, .index = 0, .nr_index = 1,
		.info = {
			[EAX] = CPUID7_EAX_MAX_INDEX,
			/* FDP_EXCPTN_ONLY, ZERO_FCS_FDS: FPU behaviour */
			[EBX] = BIT(6) | BIT(13),
		},
		.feat = {
			/*
			 * FSGSBASE BMI1 AVX2 SMEP BMI2 ERMS AVX512F/DQ RDSEED
			 * ADX SMAP AVX512IFMA CLFLUSHOPT CLWB AVX512PF/ER/CD
			 * SHA AVX512BW/VL.  Never TSC_ADJUST (no MSR 0x3B),
			 * SGX, HLE/RTM, PQM/PQE (RDT), MPX, PT.  INVPCID is
			 * the backend's (an optional control on Intel).
			 */
			[EBX] = CPUID7_EBX_FSGSBASE | BIT(3) | CPUID7_EBX_AVX2 |
				CPUID7_EBX_SMEP | BIT(8) | BIT(9) | BIT(18) |
				BIT(19) | CPUID7_EBX_SMAP | BIT(23) | BIT(24) |
				BIT(29) | CPUID7_EBX_AVX512,
			/*
			 * PREFETCHWT1 AVX512VBMI UMIP AVX512_VBMI2 GFNI VAES
			 * VPCLMULQDQ AVX512_VNNI/BITALG/VPOPCNTDQ CLDEMOTE
			 * MOVDIRI MOVDIR64B.  Never PKU/OSPKE, WAITPKG, CET
			 * shadow stacks, TME, LA57, RDPID (reads TSC_AUX
			 * unintercepted), KL, bus-lock detection, ENQCMD,
			 * SGX_LC.
			 */
			[ECX] = BIT(0) | CPUID7_ECX_UMIP | BIT(8) |
				CPUID7_ECX_VAES_VPCLMUL | CPUID7_ECX_AVX512 |
				BIT(25) | BIT(27) | BIT(28),
			/*
			 * AVX512_4VNNIW/4FMAPS FSRM AVX512_VP2INTERSECT
			 * MD_CLEAR SERIALIZE AVX512_FP16.  Never FLUSH_L1D,
			 * ARCH_CAPABILITIES, CORE_CAPABILITIES (no such MSRs),
			 * CET IBT, AMX, hybrid, TSXLDTRK, PCONFIG, arch LBR,
			 * SRBDS_CTRL.  SPEC_CTRL, STIBP, SSBD are the Intel
			 * backend's, as far as spec.c handles the MSR.
			 */
			[EDX] = CPUID7_EDX_AVX512 | BIT(4) | BIT(10) | BIT(14),
		},
	},
	{
		.function = 7, .index = 1, .nr_index = 1,
		/* AVX-VNNI, AVX512_BF16, CMPCCXADD, FZRM, FSRS, FSRC, AVX-IFMA */
		.feat = {
			[EAX] = CPUID7_1_EAX_AVX | CPUID7_1_EAX_AVX512 | BIT(7) |
				BIT(10) | BIT(11) | BIT(12),
		},
	},
	/* Extended topology: built below, anything goes from a VMM. */
	{ .function = 0xb, .info = { ALL, ALL, ALL, ALL } },
	/* XSAVE: built and checked below against the guest XCR0 mask. */
	{ .function = 0xd, .info = { ALL, ALL, ALL, ALL } },
	/* Highest extended leaf (clamped), vendor string on some CPUs. */
	{ .function = 0x80000000, .info = { ALL, ALL, ALL, ALL } },
	{
		.function = 0x80000001,
		.info = { [EAX] = ALL, [EBX] = ALL },
		.feat = {
			/* LAHF_LM, ABM/LZCNT, PREFETCHW */
			[ECX] = BIT(0) | BIT(5) | BIT(8),
			/* SYSCALL, NX, 1 GiB pages, long mode */
			[EDX] = BIT(11) | BIT(20) | BIT(26) | BIT(29),
		},
	},
	/* Brand string. */
	{ .function = 0x80000002, .info = { ALL, ALL, ALL, ALL } },
	{ .function = 0x80000003, .info = { ALL, ALL, ALL, ALL } },
	{ .function = 0x80000004, .info = { ALL, ALL, ALL, ALL } },
	/* L2/L3 cache. */
	{ .function = 0x80000006, .info = { ALL, ALL, ALL, ALL } },
	/* Only the invariant TSC, and only where it holds. */
	{ .function = 0x80000007, .feat = { [EDX] = CPUIDX7_EDX_INVTSC } },
	/* Address sizes (checked against the host and the NPT). */
	{ .function = 0x80000008, .info = { [EAX] = ALL } },
};

/* Features that need XSAVE state components a guest may not enable. */
static const struct {
	u32 function, index, reg, bits;
	u64 xfeatures;
} vmx_cpuid_xsave_deps[] = {
	{ 1, 0, ECX, CPUID1_ECX_FMA | CPUID1_ECX_AVX | CPUID1_ECX_F16C,
	  XFEATURE_MASK_YMM },
	{ 7, 0, EBX, CPUID7_EBX_AVX2, XFEATURE_MASK_YMM },
	{ 7, 0, ECX, CPUID7_ECX_VAES_VPCLMUL, XFEATURE_MASK_YMM },
	{ 7, 1, EAX, CPUID7_1_EAX_AVX, XFEATURE_MASK_YMM },
	{ 7, 0, EBX, CPUID7_EBX_AVX512, XFEATURE_MASK_AVX512 },
	{ 7, 0, ECX, CPUID7_ECX_AVX512, XFEATURE_MASK_AVX512 },
	{ 7, 0, EDX, CPUID7_EDX_AVX512, XFEATURE_MASK_AVX512 },
	{ 7, 1, EAX, CPUID7_1_EAX_AVX512, XFEATURE_MASK_AVX512 },
};

/* Features behind a CR4 bit: only if the host kernel itself uses them. */
static const struct {
	u32 function, reg, bit;
	u16 feature;
} vmx_cpuid_host_deps[] = {
	{ 1, ECX, CPUID1_ECX_PCID, X86_FEATURE_PCID },
	{ 1, ECX, CPUID1_ECX_XSAVE, X86_FEATURE_XSAVE },
	{ 7, EBX, CPUID7_EBX_FSGSBASE, X86_FEATURE_FSGSBASE },
	{ 7, EBX, CPUID7_EBX_SMEP, X86_FEATURE_SMEP },
	{ 7, EBX, CPUID7_EBX_SMAP, X86_FEATURE_SMAP },
	{ 7, ECX, CPUID7_ECX_UMIP, X86_FEATURE_UMIP },
};

/* ---- rules ---- */

static bool vmx_cpuid_rule_covers(const struct vmx_cpuid_rule *r, u32 fn,
				  u32 index)
{
	return r->function == fn &&
	       (!r->nr_index ||
		(index >= r->index && index - r->index < r->nr_index));
}

static void vmx_cpuid_rule_merge(struct vmx_cpuid_rule *out,
				 const struct vmx_cpuid_rule *r)
{
	int i;

	for (i = 0; i < VMX_CPUID_NR_REGS; i++) {
		out->feat[i] |= r->feat[i];
		out->info[i] |= r->info[i];
		out->vmm[i] |= r->vmm[i];
	}
}

/*
 * The rule for leaf @fn, sub-leaf @index: the core's and the backend's
 * together, minus what the backend's controls lack.  False if neither
 * knows the leaf: then it must be all zeros.
 */
static bool vmx_cpuid_rule(u32 fn, u32 index, struct vmx_cpuid_rule *out)
{
	const struct vmx_cpuid_policy *p = vmx_ops->cpuid_policy;
	bool found = false;
	unsigned int i;

	memset(out, 0, sizeof(*out));
	index = min_t(u32, index, VMX_CPUID_MAX_INDEX);
	for (i = 0; i < ARRAY_SIZE(vmx_cpuid_common); i++) {
		if (vmx_cpuid_rule_covers(&vmx_cpuid_common[i], fn, index)) {
			vmx_cpuid_rule_merge(out, &vmx_cpuid_common[i]);
			found = true;
		}
	}
	for (i = 0; i < p->nr_rules; i++) {
		if (vmx_cpuid_rule_covers(&p->rules[i], fn, index)) {
			vmx_cpuid_rule_merge(out, &p->rules[i]);
			found = true;
		}
	}
	if (found && p->hide)
		p->hide(fn, index, out->feat);
	out->function = fn;
	out->index = index;
	return found;
}

/* Does any rule describe leaf @fn sub-leaf by sub-leaf? */
static bool vmx_cpuid_leaf_indexed(u32 fn)
{
	const struct vmx_cpuid_policy *p = vmx_ops->cpuid_policy;
	unsigned int i;

	if (fn == 0xd)
		return true;
	for (i = 0; i < ARRAY_SIZE(vmx_cpuid_common); i++)
		if (vmx_cpuid_common[i].function == fn &&
		    vmx_cpuid_common[i].nr_index)
			return true;
	for (i = 0; i < p->nr_rules; i++)
		if (p->rules[i].function == fn && p->rules[i].nr_index)
			return true;
	return false;
}

static bool vmx_cpuid_is_topology(u32 fn)
{
	return fn == 0xb || fn == 0x1f;
}

static bool vmx_cpuid_is_hv(u32 fn)
{
	return fn >= VMX_HV_LEAF && fn <= VMX_HV_LEAF_LAST;
}

/* ---- the default table ---- */

static void vmx_cpuid_get_regs(const struct vmx_cpuid_entry *e, u32 *r)
{
	r[EAX] = e->eax;
	r[EBX] = e->ebx;
	r[ECX] = e->ecx;
	r[EDX] = e->edx;
}

static void vmx_cpuid_set_regs(struct vmx_cpuid_entry *e, const u32 *r)
{
	e->eax = r[EAX];
	e->ebx = r[EBX];
	e->ecx = r[ECX];
	e->edx = r[EDX];
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

static struct vmx_cpuid_entry *vmx_cpuid_add(struct vmx_cpuid *c, u32 fn,
					     u32 index, bool indexed)
{
	struct vmx_cpuid_entry *e;

	if (c->nent >= VMX_MAX_CPUID_ENTRIES)
		return NULL;
	e = &c->entries[c->nent++];
	e->function = fn;
	e->index = indexed ? index : 0;
	e->flags = indexed ? VMX_CPUID_INDEXED : 0;
	return e;
}

/* Does the host's invariant TSC stay invariant for a guest? */
static bool vmx_cpuid_tsc_invariant(void)
{
	return boot_cpu_has(X86_FEATURE_CONSTANT_TSC) &&
	       boot_cpu_has(X86_FEATURE_NONSTOP_TSC) && !check_tsc_unstable();
}

/* Host feature bits the module cannot pass on, though a rule allows them. */
static void vmx_cpuid_drop_unbacked(u32 fn, u32 index, u32 *r)
{
	u64 xcr0 = vmx_guest_xcr0_mask();
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(vmx_cpuid_xsave_deps); i++)
		if (vmx_cpuid_xsave_deps[i].function == fn &&
		    vmx_cpuid_xsave_deps[i].index == index &&
		    (xcr0 & vmx_cpuid_xsave_deps[i].xfeatures) !=
		    vmx_cpuid_xsave_deps[i].xfeatures)
			r[vmx_cpuid_xsave_deps[i].reg] &= ~vmx_cpuid_xsave_deps[i].bits;
	for (i = 0; i < ARRAY_SIZE(vmx_cpuid_host_deps); i++)
		if (vmx_cpuid_host_deps[i].function == fn && !index &&
		    !boot_cpu_has(vmx_cpuid_host_deps[i].feature))
			r[vmx_cpuid_host_deps[i].reg] &= ~vmx_cpuid_host_deps[i].bit;
	if (fn == 0x80000007 && !vmx_cpuid_tsc_invariant())
		r[EDX] &= ~CPUIDX7_EDX_INVTSC;
}

/* Physical address bits a guest can use: the host's, within the NPT. */
static u32 vmx_cpuid_phys_bits(void)
{
	return min_t(u32, boot_cpu_data.x86_phys_bits, VMX_MAX_GPA_BITS);
}

static u32 vmx_cpuid_virt_bits(void)
{
	return min_t(u32, boot_cpu_data.x86_virt_bits, VMX_GUEST_VIRT_BITS);
}

/* One ordinary leaf: the host's value through the rule. */
static void vmx_cpuid_fill(struct vmx_cpuid_entry *e,
			   const struct vmx_cpuid_rule *r)
{
	u32 regs[VMX_CPUID_NR_REGS];
	int i;

	cpuid_count(e->function, e->index, &regs[EAX], &regs[EBX], &regs[ECX],
		    &regs[EDX]);
	for (i = 0; i < VMX_CPUID_NR_REGS; i++)
		regs[i] &= r->feat[i] | r->info[i];
	vmx_cpuid_drop_unbacked(e->function, e->index, regs);

	switch (e->function) {
	case 1:
		regs[ECX] |= CPUID1_ECX_HYPERVISOR;
		/* Leaf 1 EBX[23:16] is valid: it counts the vCPUs. */
		regs[EDX] |= CPUID1_EDX_HTT;
		break;
	case 0x80000008:
		regs[EAX] = FIELD_PREP(CPUIDX8_EAX_PHYS, vmx_cpuid_phys_bits()) |
			    FIELD_PREP(CPUIDX8_EAX_VIRT, vmx_cpuid_virt_bits());
		break;
	case 0x8000001e:
		/* Extended APIC id, core id, node: all per vCPU. */
		regs[EAX] = 0;
		regs[EBX] = 0;
		regs[ECX] = 0;
		break;
	}
	vmx_cpuid_set_regs(e, regs);
}

/* Leaf 0xB or 0x1F: a thread level and a core level, then the end. */
static int vmx_cpuid_build_topology(struct vmx_cpuid *c, u32 fn)
{
	static const u8 types[] = { CPUIDB_TYPE_SMT, CPUIDB_TYPE_CORE, 0 };
	struct vmx_cpuid_entry *e;
	u32 i;

	for (i = 0; i < ARRAY_SIZE(types); i++) {
		e = vmx_cpuid_add(c, fn, i, true);
		if (!e)
			return -E2BIG;
		/* EAX, EBX and EDX are filled in per vCPU. */
		e->ecx = FIELD_PREP(CPUIDB_ECX_INDEX, i) |
			 FIELD_PREP(CPUIDB_ECX_TYPE, types[i]);
	}
	return 0;
}

/* Leaf 0xD: only the components a guest may enable in XCR0. */
static int vmx_cpuid_build_xsave(struct vmx_cpuid *c)
{
	u64 mask = vmx_guest_xcr0_mask();
	struct vmx_cpuid_entry *e;
	u32 i, size = 512 + 64;

	if (!boot_cpu_has(X86_FEATURE_XSAVE))
		return 0;
	for (i = 0; i < 64; i++) {
		if (i >= 2 && !(mask & BIT_ULL(i)))
			continue;
		e = vmx_cpuid_add(c, 0xd, i, true);
		if (!e)
			return -E2BIG;
		cpuid_count(0xd, i, &e->eax, &e->ebx, &e->ecx, &e->edx);
		if (i == 1) {
			/* Plain XSAVE only: no XSAVEC/XSAVES/XFD, no XSS. */
			e->eax &= CPUIDD1_EAX_XSAVEOPT | CPUIDD1_EAX_XGETBV1;
			e->ebx = 0;
			e->ecx = 0;
			e->edx = 0;
		} else if (i >= 2) {
			e->ecx &= ~CPUIDD_ECX_SUPERVISOR;
			e->edx = 0;
			size = max(size, e->eax + e->ebx);
		}
	}
	e = vmx_cpuid_lookup(c, 0xd, 0);
	e->eax = lower_32_bits(mask);
	e->edx = upper_32_bits(mask);
	e->ecx = size;		/* all of @mask; EBX is per vCPU */
	return 0;
}

static int vmx_cpuid_build_leaf(struct vmx_cpuid *c, u32 fn, u32 index,
				bool indexed)
{
	struct vmx_cpuid_rule r;
	struct vmx_cpuid_entry *e;

	if (vmx_cpuid_is_topology(fn))
		return vmx_cpuid_build_topology(c, fn);
	if (fn == 0xd)
		return vmx_cpuid_build_xsave(c);
	vmx_cpuid_rule(fn, index, &r);
	e = vmx_cpuid_add(c, fn, index, indexed);
	if (!e)
		return -E2BIG;
	vmx_cpuid_fill(e, &r);
	return 0;
}

/* Cache leaves end at the first sub-leaf of type 0 (which is kept). */
static bool vmx_cpuid_cache_leaf_end(struct vmx_cpuid *c, u32 fn, u32 index)
{
	struct vmx_cpuid_entry *e;

	if (fn != 4 && fn != 0x8000001d)
		return false;
	e = vmx_cpuid_lookup(c, fn, index);
	return e && !(e->eax & CPUID4_EAX_TYPE);
}

static u32 vmx_cpuid_host_max(u32 fn)
{
	u32 base = fn & VMX_CPUID_EXT_BASE;

	return cpuid_eax(base);
}

/* Sub-leaves of leaf 7 beyond the host's highest (7.0 EAX) do not exist. */
static bool vmx_cpuid_host_has_index(u32 fn, u32 index)
{
	return fn != 7 || index <= cpuid_eax(7);
}

static int vmx_cpuid_build_rule(struct vmx_cpuid *c,
				const struct vmx_cpuid_rule *r)
{
	u32 i, nr = r->nr_index ? r->nr_index : 1;
	int ret;

	if (r->function > vmx_cpuid_host_max(r->function))
		return 0;
	for (i = 0; i < nr; i++) {
		u32 index = r->index + i;

		/* A leaf in both lists is built once, from both rules. */
		if (vmx_cpuid_lookup(c, r->function, index) ||
		    !vmx_cpuid_host_has_index(r->function, index))
			continue;
		ret = vmx_cpuid_build_leaf(c, r->function, index, r->nr_index);
		if (ret)
			return ret;
		if (vmx_cpuid_cache_leaf_end(c, r->function, index))
			break;
	}
	return 0;
}

static int vmx_cpuid_entry_cmp(const void *a, const void *b)
{
	const struct vmx_cpuid_entry *x = a, *y = b;

	if (x->function != y->function)
		return x->function < y->function ? -1 : 1;
	if (x->index != y->index)
		return x->index < y->index ? -1 : 1;
	return 0;
}

/* Highest leaf of the range of @base (0 or 0x80000000) in the table. */
static u32 vmx_cpuid_table_max(struct vmx_cpuid *c, u32 base)
{
	u32 i, max = base;

	for (i = 0; i < c->nent; i++)
		if ((c->entries[i].function & VMX_CPUID_EXT_BASE) == base &&
		    !vmx_cpuid_is_hv(c->entries[i].function))
			max = max(max, c->entries[i].function);
	return max;
}

/* Highest leaves: never more than the table holds. */
static void vmx_cpuid_clamp_max(struct vmx_cpuid *c)
{
	struct vmx_cpuid_entry *e;
	u32 i, max_sub7 = 0;

	e = vmx_cpuid_lookup(c, 0, 0);
	if (e)
		e->eax = min(e->eax, vmx_cpuid_table_max(c, 0));
	e = vmx_cpuid_lookup(c, VMX_CPUID_EXT_BASE, 0);
	if (e)
		e->eax = min(e->eax, vmx_cpuid_table_max(c, VMX_CPUID_EXT_BASE));
	for (i = 0; i < c->nent; i++)
		if (c->entries[i].function == 7)
			max_sub7 = max(max_sub7, c->entries[i].index);
	e = vmx_cpuid_lookup(c, 7, 0);
	if (e)
		e->eax = min(e->eax, max_sub7);
}

static int vmx_cpuid_build(struct vmx_cpuid *c)
{
	const struct vmx_cpuid_policy *p = vmx_ops->cpuid_policy;
	struct vmx_cpuid_entry *e;
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(vmx_cpuid_common); i++) {
		ret = vmx_cpuid_build_rule(c, &vmx_cpuid_common[i]);
		if (ret)
			return ret;
	}
	for (i = 0; i < p->nr_rules; i++) {
		ret = vmx_cpuid_build_rule(c, &p->rules[i]);
		if (ret)
			return ret;
	}
	sort(c->entries, c->nent, sizeof(c->entries[0]), vmx_cpuid_entry_cmp,
	     NULL);
	vmx_cpuid_clamp_max(c);

	/* Our own leaf: a hypervisor is present, and it is vmx. */
	e = vmx_cpuid_add(c, VMX_HV_LEAF, 0, false);
	if (!e)
		return -E2BIG;
	*e = (struct vmx_cpuid_entry) {
		.function = VMX_HV_LEAF, .eax = VMX_HV_LEAF,
		.ebx = VMX_HV_SIG_EBX, .ecx = VMX_HV_SIG_ECX,
		.edx = VMX_HV_SIG_EDX,
	};
	return 0;
}

struct vmx_cpuid *vmx_cpuid_default(void)
{
	struct vmx_cpuid *c;

	c = kzalloc(struct_size(c, entries, VMX_MAX_CPUID_ENTRIES),
		    GFP_KERNEL_ACCOUNT);
	if (!c)
		return NULL;
	/* The rules hold far fewer leaves than a table can. */
	if (WARN_ON_ONCE(vmx_cpuid_build(c))) {
		kfree(c);
		return NULL;
	}
	c->flags = VMX_CPUID_TABLE_DEFAULT;
	return c;
}

/* ---- answering a guest CPUID ---- */

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

/* Bits to hold every APIC id of a package of @n cores. */
static u32 vmx_cpuid_core_shift(u32 n)
{
	return n > 1 ? order_base_2(n) : 0;
}

/*
 * The default table's topology: N vCPUs as N cores of one package, one
 * thread per core, APIC id = vCPU id.  N covers every vCPU id so far.
 */
static void vmx_cpuid_default_topology(struct vmx_vcpu *vcpu,
				       struct vmx_cpuid_entry *out)
{
	u32 n = max_t(u32, atomic_read(&vcpu->vm->nr_vcpus), vcpu->id + 1);
	u32 shift = vmx_cpuid_core_shift(n), ids = BIT(shift) - 1;
	struct vmx_cpuid_rule r;

	switch (out->function) {
	case 1:
		out->ebx &= ~CPUID1_EBX_LOGICAL;
		out->ebx |= FIELD_PREP(CPUID1_EBX_LOGICAL, min(ids + 1, 255U));
		break;
	case 4:
	case 0x8000001d:
		if (!(out->eax & CPUID4_EAX_TYPE))
			break;
		out->eax &= ~CPUID4_EAX_SHARING;
		/* L1 and L2 per core, L3 shared by the package. */
		if (FIELD_GET(CPUID4_EAX_LEVEL, out->eax) >= 3)
			out->eax |= FIELD_PREP(CPUID4_EAX_SHARING, ids);
		if (out->function == 4) {
			out->eax &= ~CPUID4_EAX_CORES;
			out->eax |= FIELD_PREP(CPUID4_EAX_CORES, min(ids, 63U));
		}
		break;
	case 0xb:
	case 0x1f:
		switch (FIELD_GET(CPUIDB_ECX_TYPE, out->ecx)) {
		case CPUIDB_TYPE_SMT:
			out->eax = 0;
			out->ebx = 1;
			break;
		case CPUIDB_TYPE_CORE:
			out->eax = shift;
			out->ebx = n;
			break;
		}
		break;
	case 0x80000008:
		/* Core count and APIC id size, where the policy shows them. */
		vmx_cpuid_rule(out->function, 0, &r);
		if ((r.info[ECX] & CPUIDX8_ECX_NC) != CPUIDX8_ECX_NC)
			break;
		out->ecx &= ~(CPUIDX8_ECX_NC | CPUIDX8_ECX_APIC_SIZE);
		out->ecx |= FIELD_PREP(CPUIDX8_ECX_NC, min(n - 1, 255U)) |
			    FIELD_PREP(CPUIDX8_ECX_APIC_SIZE, shift);
		break;
	case 0x8000001e:
		out->ebx = FIELD_PREP(CPUIDX1E_EBX_CORE_ID, vcpu->id);
		break;
	}
}

/* What depends on the vCPU, whoever made the table. */
static void vmx_cpuid_per_vcpu(struct vmx_vcpu *vcpu, struct vmx_cpuid *c,
			       struct vmx_cpuid_entry *out, u64 cr4)
{
	switch (out->function) {
	case 1:
		out->ebx &= ~CPUID1_EBX_APIC_ID;
		out->ebx |= FIELD_PREP(CPUID1_EBX_APIC_ID, vcpu->id);
		out->ecx &= ~CPUID1_ECX_OSXSAVE;
		if (cr4 & X86_CR4_OSXSAVE)
			out->ecx |= CPUID1_ECX_OSXSAVE;
		break;
	case 0xb:
	case 0x1f:
		out->edx = vcpu->id;		/* x2APIC id */
		break;
	case 0xd:
		if (out->index == 0)
			out->ebx = vmx_xsave_size(c, vcpu->xcr0);
		break;
	case 0x8000001e:
		out->eax = vcpu->id;		/* extended APIC id */
		break;
	}
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
	if (e) {
		out = *e;
		/* An entry without VMX_CPUID_INDEXED answers every ECX. */
		out.index = index;
		if (c->flags & VMX_CPUID_TABLE_DEFAULT)
			vmx_cpuid_default_topology(vcpu, &out);
		vmx_cpuid_per_vcpu(vcpu, c, &out, cr4);
	}
	rcu_read_unlock();

	vcpu->gprs[VMX_RAX] = out.eax;
	vcpu->gprs[VMX_RBX] = out.ebx;
	vcpu->gprs[VMX_RCX] = out.ecx;
	vcpu->gprs[VMX_RDX] = out.edx;
}

/* ---- checking a VMM's table ---- */

/* Leaf 0xD, sub-leaf @index: nothing beyond the guest XCR0 mask. */
static int vmx_cpuid_check_xsave(struct vmx_cpuid *def, u32 index,
				 const u32 *v)
{
	u64 mask = vmx_guest_xcr0_mask();
	struct vmx_cpuid_entry *d;

	if (index == 0)
		return ((u64)v[EDX] << 32 | v[EAX]) & ~mask ? -EINVAL : 0;
	if (index == 1) {
		d = vmx_cpuid_lookup(def, 0xd, 1);
		if (v[EAX] & ~(d ? d->eax : 0) || v[ECX] || v[EDX])
			return -EINVAL;
		return 0;
	}
	if (index >= 64 || !(mask & BIT_ULL(index)))
		return v[EAX] | v[EBX] | v[ECX] | v[EDX] ? -EINVAL : 0;
	/* Size and offset are the guest's own business; no XSS component. */
	return v[ECX] & CPUIDD_ECX_SUPERVISOR || v[EDX] ? -EINVAL : 0;
}

static int vmx_cpuid_check_sizes(u32 eax)
{
	u32 phys = vmx_cpuid_phys_bits();

	if (FIELD_GET(CPUIDX8_EAX_PHYS, eax) > phys ||
	    FIELD_GET(CPUIDX8_EAX_VIRT, eax) > vmx_cpuid_virt_bits() ||
	    FIELD_GET(CPUIDX8_EAX_GUEST_PHYS, eax) > phys ||
	    eax & GENMASK(31, 24))
		return -EINVAL;
	return 0;
}

/*
 * Can the module honour @v as leaf @fn sub-leaf @index?  Feature bits
 * only as far as the default table (the host through the allowlist) has
 * them; information and the VMM's own bits freely.
 */
static int vmx_cpuid_check_leaf(struct vmx_cpuid *def, u32 fn, u32 index,
				const u32 *v)
{
	u32 host[VMX_CPUID_NR_REGS] = { 0 };
	struct vmx_cpuid_entry *d;
	struct vmx_cpuid_rule r;
	int i;

	if (vmx_cpuid_is_hv(fn))
		return 0;
	if (fn == 0xd)
		return vmx_cpuid_check_xsave(def, index, v);
	if (!vmx_cpuid_rule(fn, index, &r))
		return v[EAX] | v[EBX] | v[ECX] | v[EDX] ? -EINVAL : 0;
	d = vmx_cpuid_lookup(def, fn, index);
	if (d)
		vmx_cpuid_get_regs(d, host);
	for (i = 0; i < VMX_CPUID_NR_REGS; i++)
		if (v[i] & ~(r.info[i] | r.vmm[i] | (r.feat[i] & host[i])))
			return -EINVAL;
	if (fn == 0x80000008)
		return vmx_cpuid_check_sizes(v[EAX]);
	return 0;
}

static int vmx_cpuid_check_entry(struct vmx_cpuid *def,
				 const struct vmx_cpuid_entry *e)
{
	u32 v[VMX_CPUID_NR_REGS], index;
	int ret;

	if (e->flags & ~VMX_CPUID_INDEXED || e->pad)
		return -EINVAL;
	vmx_cpuid_get_regs(e, v);
	if (e->flags & VMX_CPUID_INDEXED || !vmx_cpuid_leaf_indexed(e->function))
		return vmx_cpuid_check_leaf(def, e->function, e->index, v);
	/* It answers every sub-leaf: it must be right for each. */
	for (index = 0; index <= VMX_CPUID_MAX_INDEX; index++) {
		ret = vmx_cpuid_check_leaf(def, e->function, index, v);
		if (ret)
			return ret;
	}
	return 0;
}

static int vmx_cpuid_check(const struct vmx_cpuid *c)
{
	struct vmx_cpuid *def = vmx_cpuid_default();
	int ret = 0;
	u32 i;

	if (!def)
		return -ENOMEM;
	for (i = 0; i < c->nent && !ret; i++)
		ret = vmx_cpuid_check_entry(def, &c->entries[i]);
	kfree(def);
	return ret;
}

/* ---- ioctls ---- */

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
	int ret;

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
	ret = vmx_cpuid_check(c);
	if (ret) {
		kfree(c);
		return ret;
	}

	mutex_lock(&vm->lock);
	old = rcu_dereference_protected(vm->cpuid, lockdep_is_held(&vm->lock));
	rcu_assign_pointer(vm->cpuid, c);
	mutex_unlock(&vm->lock);
	synchronize_rcu();
	kfree(old);
	return 0;
}
