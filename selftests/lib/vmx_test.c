// SPDX-License-Identifier: GPL-2.0
/*
 * Host side of the selftest framework (see vmx_test.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmx_test.h"
#include "guest.h"

extern char __executable_start[], _end[];
extern const uint64_t guest_idt_stubs[GUEST_NR_VECTORS];
void guest_return_stub(void);

/* Descriptor bits (SDM Vol. 3, 3.4.5). */
#define DESC_CODE64	0x00af9a000000ffffULL	/* P, DPL0, code RX, L, G */
#define DESC_DATA	0x00cf92000000ffffULL	/* P, DPL0, data RW, DB, G */
#define DESC_TSS_TYPE	0x89ULL			/* P, 64-bit available TSS */
#define GATE_INT64	0x8e00ULL		/* P, DPL0, interrupt gate */
#define PTE_P		0x1ULL
#define PTE_RW		0x2ULL
#define PTE_PS		0x80ULL

#define CR0_PE		(1ULL << 0)
#define CR0_MP		(1ULL << 1)
#define CR0_ET		(1ULL << 4)
#define CR0_NE		(1ULL << 5)
#define CR0_WP		(1ULL << 16)
#define CR0_PG		(1ULL << 31)
#define CR4_PAE		(1ULL << 5)
#define CR4_OSFXSR	(1ULL << 9)
#define CR4_OSXMMEXCPT	(1ULL << 10)
#define EFER_SCE	(1ULL << 0)
#define EFER_LME	(1ULL << 8)
#define EFER_LMA	(1ULL << 10)
#define EFER_NXE	(1ULL << 11)

static void *gpa(struct test_vm *t, uint64_t addr)
{
	return t->ram + addr;
}

static void test_build_tables(struct test_vm *t)
{
	uint64_t *gdt = gpa(t, TEST_GDT), *pml4 = gpa(t, TEST_PML4);
	uint64_t *pdpt = gpa(t, TEST_PDPT), *pd = gpa(t, TEST_PD);
	uint64_t *idt = gpa(t, TEST_IDT), tss = TEST_TSS;
	int i;

	gdt[0] = 0;
	gdt[TEST_SEL_CODE / 8] = DESC_CODE64;
	gdt[TEST_SEL_DATA / 8] = DESC_DATA;
	/* 16-byte TSS descriptor: limit 0x67, base split over both words. */
	gdt[TEST_SEL_TSS / 8] = 0x67 | ((tss & 0xffffff) << 16) |
				(DESC_TSS_TYPE << 40) | ((tss >> 24) << 56);
	gdt[TEST_SEL_TSS / 8 + 1] = tss >> 32;

	for (i = 0; i < GUEST_NR_VECTORS; i++) {
		uint64_t h = guest_idt_stubs[i];

		idt[2 * i] = (h & 0xffff) | ((uint64_t)TEST_SEL_CODE << 16) |
			     (GATE_INT64 << 32) | ((h >> 16) & 0xffff) << 48;
		idt[2 * i + 1] = h >> 32;
	}

	pml4[0] = TEST_PDPT | PTE_P | PTE_RW;
	pdpt[0] = TEST_PD | PTE_P | PTE_RW;
	for (i = 0; i < 512; i++)
		pd[i] = ((uint64_t)i << 21) | PTE_P | PTE_RW | PTE_PS;
}

static struct vmx_segment seg(uint16_t sel, uint8_t type, uint8_t s,
			      uint8_t l, uint8_t db, uint64_t base,
			      uint32_t limit, uint8_t g)
{
	return (struct vmx_segment) {
		.base = base, .limit = limit, .selector = sel, .type = type,
		.s = s, .present = 1, .l = l, .db = db, .g = g,
	};
}

int test_vcpu_long_mode(struct test_vm *t, struct libvmx_vcpu *vcpu,
			void (*guest_code)(void))
{
	struct vmx_sregs sregs = { 0 };
	struct vmx_regs regs = { 0 };
	uint64_t stack_top, id = libvmx_vcpu_id(vcpu);
	struct vmx_segment data;
	int ret;

	ret = libvmx_vcpu_get_sregs(vcpu, &sregs);
	if (ret)
		return ret;
	sregs.cs = seg(TEST_SEL_CODE, 0xb, 1, 1, 0, 0, 0xffffffff, 1);
	data = seg(TEST_SEL_DATA, 0x3, 1, 0, 1, 0, 0xffffffff, 1);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.tr = seg(TEST_SEL_TSS, 0xb, 0, 0, 0, TEST_TSS, 0x67, 0);
	sregs.ldt = (struct vmx_segment){ .unusable = 1 };
	sregs.gdt.base = TEST_GDT;
	sregs.gdt.limit = 0x27;
	sregs.idt.base = TEST_IDT;
	sregs.idt.limit = GUEST_NR_VECTORS * 16 - 1;
	sregs.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	sregs.cr3 = TEST_PML4;
	sregs.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
	sregs.efer = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;
	ret = libvmx_vcpu_set_sregs(vcpu, &sregs);
	if (ret)
		return ret;

	/* Own stack per vCPU; guest_code "returns" into GUEST_DONE. */
	stack_top = TEST_RAM_SIZE - id * TEST_STACK_SIZE - 16;
	*(uint64_t *)gpa(t, stack_top - 8) = (uint64_t)(uintptr_t)guest_return_stub;
	regs.rsp = stack_top - 8;
	regs.rip = (uint64_t)(uintptr_t)guest_code;
	regs.rflags = 2;
	return libvmx_vcpu_set_regs(vcpu, &regs);
}

unsigned int test_backend(void)
{
	struct libvmx *vmx;
	struct vmx_caps caps;
	unsigned int backend = 0;

	if (libvmx_open(&vmx))
		return 0;
	if (!libvmx_get_caps(vmx, &caps))
		backend = caps.backend;
	libvmx_close(vmx);
	return backend;
}

int test_vm_create(struct test_vm **out, int nr_vcpus, void (*guest_code)(void))
{
	size_t image = _end - __executable_start;
	struct test_vm *t;
	void *ram;
	int ret, i;

	if (nr_vcpus < 1 || nr_vcpus > TEST_MAX_VCPUS ||
	    (uint64_t)(uintptr_t)_end > TEST_RAM_SIZE - TEST_MAX_VCPUS * TEST_STACK_SIZE)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	ret = libvmx_open(&t->vmx);
	if (ret)
		goto fail;
	ret = libvmx_get_caps(t->vmx, &t->caps);
	if (ret)
		goto fail;
	ret = libvmx_vm_create(t->vmx, 0, &t->vm);
	if (ret)
		goto fail;
	ret = libvmx_vm_add_ram(t->vm, TEST_RAM_SLOT, 0, TEST_RAM_SIZE, 0, &ram);
	if (ret)
		goto fail;
	t->ram = ram;

	guest_is_amd = t->caps.backend == VMX_BACKEND_SVM;
	memcpy(t->ram + (uintptr_t)__executable_start, __executable_start, image);
	test_build_tables(t);

	for (i = 0; i < nr_vcpus; i++) {
		ret = libvmx_vcpu_create(t->vm, i, &t->vcpus[i]);
		if (ret)
			goto fail;
		t->nr_vcpus++;
		if (guest_code) {
			ret = test_vcpu_long_mode(t, t->vcpus[i], guest_code);
			if (ret)
				goto fail;
		}
	}
	*out = t;
	return 0;
fail:
	test_vm_destroy(t);
	return ret;
}

void test_vm_destroy(struct test_vm *t)
{
	int i;

	if (!t)
		return;
	for (i = 0; i < t->nr_vcpus; i++)
		libvmx_vcpu_destroy(t->vcpus[i]);
	libvmx_vm_destroy(t->vm);
	libvmx_close(t->vmx);
	free(t);
}

enum ucall_cmd test_run(struct libvmx_vcpu *vcpu, struct ucall *uc)
{
	struct vmx_run *run = libvmx_vcpu_run_area(vcpu);
	int ret;

	memset(uc, 0, sizeof(*uc));
	ret = libvmx_vcpu_run(vcpu);
	if (ret) {
		errno = -ret;
		return UCALL_NONE;
	}
	if (run->exit_reason != VMX_EXIT_IO || run->io.port != UCALL_PORT ||
	    run->io.direction != VMX_IO_OUT || run->io.size != 4)
		return UCALL_NONE;
	if (libvmx_read_gpa(libvmx_vcpu_vm(vcpu), (uint32_t)run->io.data, uc,
			    sizeof(*uc)))
		return UCALL_NONE;
	return uc->cmd;
}

const char *test_exit_name(uint32_t reason)
{
	static const char *const names[] = {
		[VMX_EXIT_NONE] = "NONE", [VMX_EXIT_IO] = "IO",
		[VMX_EXIT_MMIO] = "MMIO", [VMX_EXIT_HLT] = "HLT",
		[VMX_EXIT_SHUTDOWN] = "SHUTDOWN",
		[VMX_EXIT_HYPERCALL] = "HYPERCALL",
		[VMX_EXIT_FAIL_ENTRY] = "FAIL_ENTRY",
		[VMX_EXIT_INTERNAL_ERROR] = "INTERNAL_ERROR",
		[VMX_EXIT_INTR] = "INTR", [VMX_EXIT_IRQ_WINDOW] = "IRQ_WINDOW",
		[VMX_EXIT_MSR] = "MSR",
	};

	return reason < sizeof(names) / sizeof(names[0]) && names[reason] ?
	       names[reason] : "?";
}

const char *test_describe(struct libvmx_vcpu *vcpu, const struct ucall *uc)
{
	static __thread char buf[512];
	struct vmx_run *run = libvmx_vcpu_run_area(vcpu);

	switch (uc->cmd) {
	case UCALL_ABORT:
		snprintf(buf, sizeof(buf), "guest assertion %s:%lu: %s (0x%lx, 0x%lx)",
			 uc->file, (unsigned long)uc->line, uc->expr,
			 (unsigned long)uc->args[0], (unsigned long)uc->args[1]);
		break;
	case UCALL_UNEXPECTED:
		snprintf(buf, sizeof(buf), "unexpected guest exception %lu, error 0x%lx at rip 0x%lx",
			 (unsigned long)uc->args[0], (unsigned long)uc->args[1],
			 (unsigned long)uc->args[2]);
		break;
	case UCALL_NONE:
		snprintf(buf, sizeof(buf), "exit %s (%u) at rip 0x%llx; internal %u [0x%llx 0x%llx 0x%llx]",
			 test_exit_name(run->exit_reason), run->exit_reason,
			 (unsigned long long)run->rip, run->internal.suberror,
			 (unsigned long long)run->internal.data[0],
			 (unsigned long long)run->internal.data[1],
			 (unsigned long long)run->internal.data[2]);
		break;
	default:
		snprintf(buf, sizeof(buf), "ucall %lu", (unsigned long)uc->cmd);
	}
	return buf;
}
