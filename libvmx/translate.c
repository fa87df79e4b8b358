// SPDX-License-Identifier: LGPL-2.1-or-later
/* libvmx: guest virtual -> guest physical, through the vCPU's page tables. */
#include "internal.h"
#include "assist.h"

static int lv_tr_read_phys(void *ctx, uint64_t gpa, void *buf, size_t len)
{
	return libvmx_read_gpa(ctx, gpa, buf, len);
}

int libvmx_vcpu_translate(struct libvmx_vcpu *vcpu, uint64_t gva,
			  unsigned int access, uint64_t *gpa,
			  struct libvmx_fault *fault)
{
	struct vmx_sregs sregs;
	struct vmx_regs regs;
	struct lv_paging pg;
	struct lv_xlate x;
	struct lv_fault f;
	int ret;

	if (!vcpu || !gpa || access & ~(LIBVMX_ACC_WRITE | LIBVMX_ACC_FETCH |
					LIBVMX_ACC_USER))
		return -EINVAL;
	ret = libvmx_vcpu_get_sregs(vcpu, &sregs);
	if (!ret)
		ret = libvmx_vcpu_get_regs(vcpu, &regs);
	if (ret)
		return ret;
	lv_paging_init(&pg, &sregs, regs.rflags);
	pg.read_phys = lv_tr_read_phys;
	pg.ctx = vcpu->vm;

	ret = lv_walk(&pg, gva, access, &x, &f);
	if (ret == -EACCES && fault) {
		fault->vector = f.vector;
		fault->error_code = f.error_code;
		fault->cr2 = f.cr2;
	}
	if (!ret)
		*gpa = x.gpa;
	return ret;
}
