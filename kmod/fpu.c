// SPDX-License-Identifier: GPL-2.0
/*
 * Guest FPU, XSAVE, XCR0 and PKRU state.
 *
 * The guest's registers are switched by hand inside kernel_fpu_begin/end,
 * which saves the task's own state and lets us own the registers.  This
 * needs none of the FPU helpers newer kernels reserve for KVM.
 *
 * Two host registers are not part of that bargain and are switched here
 * explicitly: XCR0 (the guest may run with fewer components) and PKRU (a
 * guest with CR4.PKE can write it with WRPKRU, and the VMM thread shares
 * the register: its protection keys must not be the guest's).
 */
#include <linux/bits.h>
#include <asm/asm.h>
#include <asm/fpu/api.h>
#include <asm/fpu/xcr.h>
#include <asm/special_insns.h>

#include "core.h"

static bool vmx_have_xsave;
static bool vmx_have_pku;
static u64 vmx_host_xcr0;

/* XSAVE features a guest may enable: x87, SSE, AVX, AVX-512. */
#define VMX_XCR0_SUPPORTED	(XFEATURE_MASK_FP | XFEATURE_MASK_SSE | \
				 XFEATURE_MASK_YMM | XFEATURE_MASK_OPMASK | \
				 XFEATURE_MASK_ZMM_Hi256 | XFEATURE_MASK_Hi16_ZMM)

/* XSAVE header: XSTATE_BV at 512, XCOMP_BV at 520, rest reserved. */
#define VMX_XSAVE_HDR		512
#define VMX_XSAVE_MXCSR		24

void vmx_fpu_setup(void)
{
	vmx_have_xsave = boot_cpu_has(X86_FEATURE_XSAVE);
	vmx_have_pku = boot_cpu_has(X86_FEATURE_OSPKE);
	vmx_host_xcr0 = vmx_have_xsave ? xgetbv(XCR_XFEATURE_ENABLED_MASK) : 0;
}

u64 vmx_guest_xcr0_mask(void)
{
	return vmx_have_xsave ? vmx_host_xcr0 & VMX_XCR0_SUPPORTED : XFEATURE_MASK_FP;
}

/*
 * The architectural rules for an XCR0 value (SDM 13.3), against what the
 * module lets a guest enable: x87 always; AVX needs SSE; the three
 * AVX-512 components all or none, and only with AVX.  One check for the
 * guest's XSETBV and for VMX_SET_FPU, so that no value that reaches
 * vcpu->xcr0 can make the entry's XSETBV fault.
 */
bool vmx_xcr0_valid(u64 xcr0)
{
	u64 avx512 = xcr0 & XFEATURE_MASK_AVX512;

	if (!(xcr0 & XFEATURE_MASK_FP) || xcr0 & ~vmx_guest_xcr0_mask())
		return false;
	if ((xcr0 & XFEATURE_MASK_YMM) && !(xcr0 & XFEATURE_MASK_SSE))
		return false;
	if (avx512 && (avx512 != XFEATURE_MASK_AVX512 ||
		       !(xcr0 & XFEATURE_MASK_YMM)))
		return false;
	return true;
}

/*
 * XSETBV that reports a fault instead of oopsing.  vmx_xcr0_valid() keeps
 * bad values out; this is the second line, should a CPU disagree.
 */
static int vmx_xsetbv_safe(u64 xcr0)
{
	int ret = -EIO;

	asm volatile("1: xsetbv\n\t"
		     "xor %[ret], %[ret]\n"
		     "2:\n\t"
		     _ASM_EXTABLE(1b, 2b)
		     : [ret] "+r" (ret)
		     : "c" (XCR_XFEATURE_ENABLED_MASK), "a" ((u32)xcr0),
		       "d" ((u32)(xcr0 >> 32))
		     : "memory");
	return ret;
}

static void vmx_pkru_enter(struct vmx_vcpu *vcpu)
{
	if (!vmx_have_pku)
		return;
	vcpu->host_pkru = rdpkru();
	if (vcpu->guest_pkru != vcpu->host_pkru)
		wrpkru(vcpu->guest_pkru);
}

static void vmx_pkru_exit(struct vmx_vcpu *vcpu)
{
	if (!vmx_have_pku)
		return;
	vcpu->guest_pkru = rdpkru();
	if (vcpu->guest_pkru != vcpu->host_pkru)
		wrpkru(vcpu->host_pkru);
}

/*
 * The guest's area is restored and saved with the host's XCR0 in force
 * and every component a guest may use requested, so that all of its
 * registers (SSE too, whatever the guest's XCR0) are the guest's while it
 * runs; the guest's own XCR0 is switched in only around the entry.
 */
void vmx_vcpu_fpu_enter(struct vmx_vcpu *vcpu)
{
	u8 *area = vcpu->fpu;
	u64 mask;

	kernel_fpu_begin();
	vmx_pkru_enter(vcpu);
	if (!vmx_have_xsave) {
		asm volatile("fxrstor64 %[area]" : : [area] "m" (*area));
		return;
	}
	mask = vmx_guest_xcr0_mask();
	asm volatile("xrstor64 %[area]"
		     : : [area] "m" (*area), "a" ((u32)mask),
		       "d" ((u32)(mask >> 32)) : "memory");
	if (vcpu->xcr0 != vmx_host_xcr0 && vmx_xsetbv_safe(vcpu->xcr0)) {
		/* Run with the host's XCR0 this once; the VMM hears of it. */
		vcpu->xcr0 = vmx_host_xcr0 & vmx_guest_xcr0_mask();
		vcpu->fpu_fault = true;
	}
}

void vmx_vcpu_fpu_exit(struct vmx_vcpu *vcpu)
{
	u8 *area = vcpu->fpu;
	u64 mask;

	if (!vmx_have_xsave) {
		asm volatile("fxsave64 %[area]" : [area] "=m" (*area));
	} else {
		if (vcpu->xcr0 != vmx_host_xcr0)
			xsetbv(XCR_XFEATURE_ENABLED_MASK, vmx_host_xcr0);
		mask = vmx_guest_xcr0_mask();
		asm volatile("xsave64 %[area]"
			     : [area] "=m" (*area) : "a" ((u32)mask),
			       "d" ((u32)(mask >> 32)) : "memory");
	}
	vmx_pkru_exit(vcpu);
	kernel_fpu_end();
}

/*
 * A guest XSETBV (ECX, EDX:EAX) at @cpl: 0 with the new XCR0 taken (the
 * caller advances RIP), -EINVAL when the guest must get #GP.
 */
int vmx_vcpu_xsetbv(struct vmx_vcpu *vcpu, unsigned int cpl)
{
	u64 xcr0 = (u32)vcpu->gprs[VMX_RAX] | (vcpu->gprs[VMX_RDX] << 32);

	if (cpl || (u32)vcpu->gprs[VMX_RCX] != 0 || !vmx_xcr0_valid(xcr0))
		return -EINVAL;
	vcpu->xcr0 = xcr0;
	return 0;
}

int vmx_vcpu_get_fpu(struct vmx_vcpu *vcpu, struct vmx_fpu *fpu)
{
	memset(fpu, 0, sizeof(*fpu));
	fpu->xcr0 = vcpu->xcr0;
	memcpy(fpu->xsave, vcpu->fpu, sizeof(fpu->xsave));
	return 0;
}

/* Components the saved area may hold: what XSAVE saves for us. */
static u64 vmx_fpu_area_mask(void)
{
	return vmx_have_xsave ? vmx_guest_xcr0_mask() :
				XFEATURE_MASK_FP | XFEATURE_MASK_SSE;
}

int vmx_vcpu_set_fpu(struct vmx_vcpu *vcpu, const struct vmx_fpu *fpu)
{
	const u64 *hdr = (const u64 *)(fpu->xsave + VMX_XSAVE_HDR);
	u32 mxcsr;

	if (fpu->flags || fpu->pad ||
	    !vmx_all_zero(fpu->reserved, sizeof(fpu->reserved)))
		return -EINVAL;
	if (!vmx_xcr0_valid(fpu->xcr0))
		return -EINVAL;
	/*
	 * XRSTOR would fault on these: refuse them here instead.  The
	 * header is checked without XSAVE too, so that one area is valid
	 * or not on every CPU.
	 */
	if (hdr[0] & ~vmx_fpu_area_mask() || hdr[1] ||
	    !vmx_all_zero(&hdr[2], 48))
		return -EINVAL;
	memcpy(&mxcsr, fpu->xsave + VMX_XSAVE_MXCSR, sizeof(mxcsr));
	if (mxcsr & ~0xffffU)
		return -EINVAL;
	vcpu->xcr0 = fpu->xcr0;
	memcpy(vcpu->fpu, fpu->xsave, sizeof(fpu->xsave));
	return 0;
}

/* The x86 reset state of the FPU: FCW 0x37f, MXCSR 0x1f80, all empty. */
void vmx_fpu_reset(struct vmx_vcpu *vcpu)
{
	u8 *area = vcpu->fpu;

	memset(area, 0, 4096);
	*(u16 *)area = 0x37f;
	*(u32 *)(area + VMX_XSAVE_MXCSR) = 0x1f80;
	/* Mark x87 and SSE as holding the values above. */
	*(u64 *)(area + VMX_XSAVE_HDR) = XFEATURE_MASK_FP | XFEATURE_MASK_SSE;
	vcpu->xcr0 = XFEATURE_MASK_FP;
	/* PKRU's reset value; it matters only once the guest sets CR4.PKE. */
	vcpu->guest_pkru = 0;
}
