// SPDX-License-Identifier: GPL-2.0
/*
 * The instruction behind an intercept, for CPUs without decode assists
 * (whose intercepts name neither the instruction nor its operands): a
 * walk of the guest's page tables as the VMCB's CR0/CR3/CR4/EFER set
 * them, a read of guest RAM through the VMM's mapping of the slot, and a
 * decoder for the one instruction we need (MOV to CR4).  No permission
 * checks: the CPU fetched these bytes a moment ago.
 */
#include <linux/mm.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/uaccess.h>

#include "svm.h"

/* Guest page-table entries (legacy, PAE and long-mode formats). */
#define SVM_PTE_P		BIT_ULL(0)
#define SVM_PTE_PS		BIT_ULL(7)
#define SVM_PTE_ADDR		GENMASK_ULL(51, 12)
#define SVM_PTE32_ADDR		GENMASK_ULL(31, 12)
#define SVM_PDE32_4M_ADDR	GENMASK_ULL(31, 22)
#define SVM_PDE32_4M_HIGH	GENMASK_ULL(20, 13)	/* PSE-36: PA bits 39:32 */
#define SVM_PAE_CR3_ADDR	GENMASK_ULL(31, 5)

#define SVM_REX_B		BIT(0)
#define SVM_REX_R		BIT(2)
#define SVM_MODRM_REG(m)	(((m) >> 3) & 7)
#define SVM_MODRM_RM(m)		((m) & 7)
#define SVM_MODRM_REG_CR4	4

static int svm_read_pte(struct vmx_vcpu *vcpu, u64 table, u64 index,
			bool wide, u64 *pte)
{
	u32 pte32;
	int ret;

	if (wide)
		return vmx_read_guest_phys(vcpu, table + index * 8, pte, 8);
	ret = vmx_read_guest_phys(vcpu, table + index * 4, &pte32, 4);
	*pte = pte32;
	return ret;
}

/* A large page at @level (1: 4 KiB tables, 2: PD, 3: PDPT)? */
static bool svm_pte_is_leaf(u64 pte, int level, bool wide, u64 cr4)
{
	if (level == 1)
		return true;
	if (!(pte & SVM_PTE_PS))
		return false;
	return wide ? level <= 3 : (level == 2 && (cr4 & X86_CR4_PSE));
}

static u64 svm_leaf_gpa(u64 pte, u64 gva, int shift, bool wide)
{
	u64 offset = gva & (BIT_ULL(shift) - 1);

	if (wide)
		return (pte & SVM_PTE_ADDR & ~(BIT_ULL(shift) - 1)) | offset;
	if (shift == 12)
		return (pte & SVM_PTE32_ADDR) | offset;
	return (pte & SVM_PDE32_4M_ADDR) | ((pte & SVM_PDE32_4M_HIGH) << 19) |
	       offset;
}

/* Guest linear address -> guest physical, walking the guest's tables. */
static int svm_gva_to_gpa(struct svm_vcpu *svm, u64 gva, u64 *gpa)
{
	struct vmcb_save_area *save = &svm->vmcb->save;
	struct vmx_vcpu *vcpu = &svm->vcpu;
	int level, bits, shift;
	u64 table, pte;
	bool wide = true;

	if (!(save->cr0 & X86_CR0_PG)) {
		*gpa = (u32)gva;
		return 0;
	}
	if (save->efer & EFER_LMA) {
		level = save->cr4 & X86_CR4_LA57 ? 5 : 4;
		table = save->cr3 & SVM_PTE_ADDR;
	} else if (save->cr4 & X86_CR4_PAE) {
		/* Four PDPTEs at CR3[31:5], indexed by bits 31:30. */
		if (vmx_read_guest_phys(vcpu, (save->cr3 & SVM_PAE_CR3_ADDR) +
					((gva >> 30) & 3) * 8, &pte, 8) ||
		    !(pte & SVM_PTE_P))
			return -EFAULT;
		level = 2;
		table = pte & SVM_PTE_ADDR;
	} else {
		level = 2;
		table = save->cr3 & SVM_PTE32_ADDR;
		wide = false;
	}

	bits = wide ? 9 : 10;
	for (; level > 0; level--) {
		shift = 12 + bits * (level - 1);
		if (svm_read_pte(vcpu, table, (gva >> shift) & (BIT(bits) - 1),
				 wide, &pte) || !(pte & SVM_PTE_P))
			return -EFAULT;
		if (svm_pte_is_leaf(pte, level, wide, save->cr4)) {
			*gpa = svm_leaf_gpa(pte, gva, shift, wide);
			return 0;
		}
		table = pte & (wide ? SVM_PTE_ADDR : SVM_PTE32_ADDR);
	}
	return -EFAULT;
}

bool svm_in_64bit_mode(struct svm_vcpu *svm)
{
	return (svm->vmcb->save.efer & EFER_LMA) &&
	       (svm->vmcb->save.cs.attrib & SVM_ATTR_L);
}

/*
 * Read up to @len bytes of the instruction at CS:RIP into @buf; returns
 * how many could be read (an instruction may end before a page that is
 * not mapped).
 */
int svm_fetch_insn(struct svm_vcpu *svm, u8 *buf, int len)
{
	u64 linear = svm->vcpu.rip, gva, gpa;
	int n = 0, chunk;

	if (!svm_in_64bit_mode(svm))
		linear = (u32)(svm->vmcb->save.cs.base + linear);
	while (n < len) {
		gva = linear + n;
		chunk = min_t(int, len - n, PAGE_SIZE - offset_in_page(gva));
		if (svm_gva_to_gpa(svm, gva, &gpa) ||
		    vmx_read_guest_phys(&svm->vcpu, gpa, buf + n, chunk))
			break;
		n += chunk;
	}
	return n;
}

static bool svm_is_legacy_prefix(u8 b)
{
	switch (b) {
	case 0x26: case 0x2e: case 0x36: case 0x3e:	/* segments */
	case 0x64: case 0x65:
	case 0x66: case 0x67:				/* operand, address size */
	case 0xf2: case 0xf3:				/* REPNE, REP */
		return true;
	}
	return false;
}

/* ModRM.rm (with REX.B) to our register numbering. */
static const u8 svm_modrm_gpr[16] = {
	VMX_RAX, VMX_RCX, VMX_RDX, VMX_RBX, VMX_RSP, VMX_RBP, VMX_RSI, VMX_RDI,
	VMX_R8, VMX_R9, VMX_R10, VMX_R11, VMX_R12, VMX_R13, VMX_R14, VMX_R15,
};

/* x86 register number 0-15 (RAX RCX RDX RBX RSP RBP RSI RDI R8...). */
int svm_gpr_from_x86(unsigned int nr)
{
	return svm_modrm_gpr[nr & 15];
}

/*
 * MOV to CR4 is [prefixes] [REX] 0F 22 /r with ModRM.reg = 4; ModRM.rm
 * (REX.B its high bit) is the source register whatever ModRM.mod says.
 * Legacy prefixes do not change it; a REX followed by another prefix is
 * ignored; REX.R would name CR12 (#UD); LOCK makes it CR8 on AMD.
 * Returns the source as enum vmx_gpr and its length in *@insn_len, or
 * -EINVAL for anything else.
 */
int svm_decode_mov_to_cr4(const u8 *insn, int n, bool long64, int *insn_len)
{
	int i = 0;
	u8 rex = 0, modrm;

	for (; i < n; i++) {
		if (svm_is_legacy_prefix(insn[i]))
			rex = 0;
		else if (long64 && (insn[i] & 0xf0) == 0x40)
			rex = insn[i];
		else
			break;
	}
	if (i + 3 > n || insn[i] != 0x0f || insn[i + 1] != 0x22)
		return -EINVAL;
	modrm = insn[i + 2];
	if (SVM_MODRM_REG(modrm) != SVM_MODRM_REG_CR4 || (rex & SVM_REX_R))
		return -EINVAL;
	*insn_len = i + 3;
	return svm_gpr_from_x86(SVM_MODRM_RM(modrm) | (rex & SVM_REX_B ? 8 : 0));
}
