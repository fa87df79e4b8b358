// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libvmx: put a vCPU straight into 64-bit mode, so that a guest can be a
 * plain C function: a GDT (64-bit code, data, TSS), an IDT whose gates
 * point at handlers the caller placed in guest memory, and 4-level page tables mapping guest virtual == guest physical for the
 * first identity_size bytes, in 2 MiB pages.
 */
#include <string.h>

#include "internal.h"

/* Offsets inside the caller's table area. */
#define LM_GDT		0x0000
#define LM_TSS		0x1000
#define LM_IDT		0x2000
#define LM_PML4		0x3000
#define LM_PDPT		0x4000
#define LM_PD		0x5000

#define LM_SEL_CODE	0x08
#define LM_SEL_DATA	0x10
#define LM_SEL_TSS	0x18

/* Descriptor and page-table bits (SDM Vol. 3, 3.4.5, 4.5). */
#define LM_DESC_CODE64	0x00af9a000000ffffULL	/* P, DPL0, code RX, L, G */
#define LM_DESC_DATA	0x00cf92000000ffffULL	/* P, DPL0, data RW, DB, G */
#define LM_DESC_TSS	0x89ULL			/* P, 64-bit available TSS */
#define LM_GATE_INT64	0x8e00ULL		/* P, DPL0, interrupt gate */
#define LM_PTE_P	0x1ULL
#define LM_PTE_RW	0x2ULL
#define LM_PTE_PS	0x80ULL
#define LM_GIB		(1ULL << 30)

#define LM_CR0		0x80010033ULL	/* PG WP NE ET MP PE */
#define LM_CR4		0x620ULL	/* OSXMMEXCPT OSFXSR PAE */
#define LM_EFER		0xd01ULL	/* NXE LMA LME SCE */

size_t libvmx_long_mode_tables_size(uint64_t identity_size)
{
	return LM_PD + (identity_size / LM_GIB) * 4096;
}

static int lm_write(struct libvmx_vm *vm, uint64_t gpa, const void *p,
		    size_t len)
{
	return libvmx_write_gpa(vm, gpa, p, len);
}

static int lm_build_gdt_idt(struct libvmx_vm *vm, const struct libvmx_long_mode *lm)
{
	uint64_t gdt[5] = { 0 }, tss = lm->tables_gpa + LM_TSS, idt[2 * 256];
	uint8_t tss_page[104] = { 0 };
	unsigned int i;
	int ret;

	gdt[LM_SEL_CODE / 8] = LM_DESC_CODE64;
	gdt[LM_SEL_DATA / 8] = LM_DESC_DATA;
	gdt[LM_SEL_TSS / 8] = 0x67 | ((tss & 0xffffff) << 16) |
			      (LM_DESC_TSS << 40) | ((tss >> 24 & 0xff) << 56);
	gdt[LM_SEL_TSS / 8 + 1] = tss >> 32;
	ret = lm_write(vm, lm->tables_gpa + LM_GDT, gdt, sizeof(gdt));
	if (!ret)
		ret = lm_write(vm, tss, tss_page, sizeof(tss_page));
	if (ret || !lm->idt_handlers)
		return ret;

	for (i = 0; i < lm->nr_handlers; i++) {
		uint64_t h = lm->idt_handlers[i];

		idt[2 * i] = (h & 0xffff) | ((uint64_t)LM_SEL_CODE << 16) |
			     (LM_GATE_INT64 << 32) | ((h >> 16) & 0xffff) << 48;
		idt[2 * i + 1] = h >> 32;
	}
	return lm_write(vm, lm->tables_gpa + LM_IDT, idt,
			lm->nr_handlers * 2 * sizeof(idt[0]));
}

static int lm_build_page_tables(struct libvmx_vm *vm,
				const struct libvmx_long_mode *lm)
{
	uint64_t base = lm->tables_gpa;
	uint64_t pml4 = (base + LM_PDPT) | LM_PTE_P | LM_PTE_RW;
	uint64_t pdpt[512] = { 0 }, pd[512];
	unsigned int gib, i, nr = lm->identity_size / LM_GIB;
	int ret;

	ret = lm_write(vm, base + LM_PML4, &pml4, sizeof(pml4));
	for (gib = 0; !ret && gib < nr; gib++) {
		pdpt[gib] = (base + LM_PD + gib * 4096) | LM_PTE_P | LM_PTE_RW;
		for (i = 0; i < 512; i++)
			pd[i] = (gib * LM_GIB + ((uint64_t)i << 21)) |
				LM_PTE_P | LM_PTE_RW | LM_PTE_PS;
		ret = lm_write(vm, base + LM_PD + gib * 4096, pd, sizeof(pd));
	}
	if (!ret)
		ret = lm_write(vm, base + LM_PDPT, pdpt, sizeof(pdpt));
	return ret;
}

static struct vmx_segment lm_seg(uint16_t sel, uint8_t type, uint8_t s,
				 uint8_t l, uint8_t db, uint64_t base,
				 uint32_t limit, uint8_t g)
{
	return (struct vmx_segment) {
		.base = base, .limit = limit, .selector = sel, .type = type,
		.s = s, .present = 1, .l = l, .db = db, .g = g,
	};
}

static bool lm_valid(const struct libvmx_long_mode *lm)
{
	return lm && !(lm->tables_gpa % 4096) && lm->identity_size &&
	       !(lm->identity_size % LM_GIB) &&
	       lm->identity_size <= 512 * LM_GIB && !lm->flags &&
	       lm->nr_handlers <= 256 && (!lm->idt_handlers || lm->nr_handlers);
}

int libvmx_vm_build_long_mode_tables(struct libvmx_vm *vm,
				     const struct libvmx_long_mode *lm)
{
	int ret;

	if (!vm || !lm_valid(lm))
		return -EINVAL;
	ret = lm_build_gdt_idt(vm, lm);
	return ret ? ret : lm_build_page_tables(vm, lm);
}

int libvmx_setup_long_mode(struct libvmx_vcpu *vcpu,
			   const struct libvmx_long_mode *lm)
{
	struct vmx_sregs sregs;
	struct vmx_regs regs;
	struct vmx_segment data;
	int ret;

	if (!vcpu)
		return -EINVAL;
	ret = libvmx_vm_build_long_mode_tables(vcpu->vm, lm);
	if (!ret)
		ret = libvmx_vcpu_get_sregs(vcpu, &sregs);
	if (ret)
		return ret;

	sregs.cs = lm_seg(LM_SEL_CODE, 0xb, 1, 1, 0, 0, 0xffffffff, 1);
	data = lm_seg(LM_SEL_DATA, 0x3, 1, 0, 1, 0, 0xffffffff, 1);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.tr = lm_seg(LM_SEL_TSS, 0xb, 0, 0, 0, lm->tables_gpa + LM_TSS,
			  0x67, 0);
	memset(&sregs.ldt, 0, sizeof(sregs.ldt));
	sregs.ldt.unusable = 1;
	sregs.gdt.base = lm->tables_gpa + LM_GDT;
	sregs.gdt.limit = 5 * 8 - 1;
	sregs.idt.base = lm->tables_gpa + LM_IDT;
	sregs.idt.limit = lm->idt_handlers ? lm->nr_handlers * 16 - 1 : 0;
	sregs.cr0 = LM_CR0;
	sregs.cr3 = lm->tables_gpa + LM_PML4;
	sregs.cr4 = LM_CR4;
	sregs.efer = LM_EFER;
	ret = libvmx_vcpu_set_sregs(vcpu, &sregs);
	if (ret)
		return ret;

	memset(&regs, 0, sizeof(regs));
	regs.rip = lm->entry;
	regs.rsp = lm->stack;
	regs.rflags = 2;
	return libvmx_vcpu_set_regs(vcpu, &regs);
}
