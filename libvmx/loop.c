// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libvmx: the run loop.  Runs a vCPU and hands each exit to the VMM's
 * callbacks: plain port I/O directly, MMIO and string port I/O through
 * the instruction assist (the kernel has no emulator), hypercalls with
 * their result written back.  A guest mistake the assist finds (#PF, #GP,
 * an instruction it cannot do) is injected into the guest.
 */
#include <string.h>

#include "internal.h"
#include "assist.h"

/*
 * @stop: a device callback asked to stop the loop (> 0) in the middle of
 * an assisted instruction; the assist sees -ECANCELED instead, so that
 * its own positive codes and ours never meet.
 */
struct lv_loop_ctx {
	struct libvmx_vcpu *vcpu;
	const struct libvmx_exit_ops *ops;
	void *opaque;
	int stop;
};

/* A callback's result as the assist may see it. */
static int lv_loop_cb_result(struct lv_loop_ctx *c, int ret)
{
	if (ret <= 0)
		return ret;
	c->stop = ret;
	return -ECANCELED;
}

static int lv_loop_read_phys(void *ctx, uint64_t gpa, void *buf, size_t len)
{
	struct lv_loop_ctx *c = ctx;

	return libvmx_read_gpa(c->vcpu->vm, gpa, buf, len);
}

static int lv_loop_write_phys(void *ctx, uint64_t gpa, const void *buf,
			      size_t len)
{
	struct lv_loop_ctx *c = ctx;

	return libvmx_write_gpa(c->vcpu->vm, gpa, buf, len);
}

/* A bus with nothing on it: reads all ones, writes vanish. */
static void lv_open_bus(void *data, unsigned int size, bool is_write)
{
	if (!is_write)
		memset(data, 0xff, size);
}

static int lv_loop_mmio(void *ctx, uint64_t gpa, void *data,
			unsigned int size, bool is_write)
{
	struct lv_loop_ctx *c = ctx;

	if (!c->ops->mmio) {
		lv_open_bus(data, size, is_write);
		return 0;
	}
	return lv_loop_cb_result(c, c->ops->mmio(c->opaque, c->vcpu, gpa, data,
						 size, is_write));
}

static int lv_loop_pio(void *ctx, uint16_t port, void *data,
		       unsigned int size, bool is_out)
{
	struct lv_loop_ctx *c = ctx;

	if (!c->ops->pio) {
		lv_open_bus(data, size, is_out);
		return 0;
	}
	return lv_loop_cb_result(c, c->ops->pio(c->opaque, c->vcpu, port, data,
						size, is_out));
}

static int lv_inject_fault(struct libvmx_vcpu *vcpu, const struct lv_fault *f)
{
	struct vmx_sregs sregs;
	int ret;

	if (f->vector == LV_VEC_PF) {
		ret = libvmx_vcpu_get_sregs(vcpu, &sregs);
		if (ret)
			return ret;
		sregs.cr2 = f->cr2;
		ret = libvmx_vcpu_set_sregs(vcpu, &sregs);
		if (ret)
			return ret;
	}
	return libvmx_vcpu_inject(vcpu, VMX_EVENT_EXCEPTION, f->vector,
				  f->has_error_code, f->error_code);
}

static int lv_loop_put_regs(struct libvmx_vcpu *vcpu, const struct vmx_regs *regs)
{
	if (!vcpu->sync)
		return libvmx_vcpu_set_regs(vcpu, regs);
	lv_vcpu_put_regs(vcpu, regs);
	return 0;
}

#define LV_RFLAGS_TF	(1ULL << 8)
#define LV_DR6_BS	(1ULL << 14)

/*
 * The assist completed an instruction of a guest that single-steps
 * (RFLAGS.TF): the trap the CPU would have raised after it, DR6.BS and a
 * #DB, as the kernel does for the instructions it completes.  A module
 * without VMX_GET_DEBUGREGS still gets the #DB.
 */
static int lv_loop_single_step(struct libvmx_vcpu *vcpu)
{
	struct vmx_debugregs dbg;
	int ret = libvmx_vcpu_get_debugregs(vcpu, &dbg);

	if (!ret) {
		dbg.dr6 |= LV_DR6_BS;
		ret = libvmx_vcpu_set_debugregs(vcpu, &dbg);
	}
	if (ret && ret != -ENOTTY)
		return ret;
	return libvmx_vcpu_inject(vcpu, VMX_EVENT_EXCEPTION, LV_VEC_DB, 0, 0);
}

/* Finish an MMIO or string I/O instruction in user space. */
static int lv_loop_assist(struct lv_loop_ctx *c, struct vmx_run *run)
{
	struct lv_assist_ops aops = {
		.read_phys = lv_loop_read_phys, .write_phys = lv_loop_write_phys,
		.mmio = lv_loop_mmio, .pio = lv_loop_pio, .ctx = c,
	};
	struct vmx_sregs sregs;
	struct vmx_regs regs;
	struct lv_fault fault;
	uint64_t rip;
	int ret;

	ret = libvmx_vcpu_get_regs(c->vcpu, &regs);
	if (!ret)
		ret = libvmx_vcpu_get_sregs(c->vcpu, &sregs);
	if (ret)
		return ret;
	rip = regs.rip;

	c->stop = 0;
	ret = lv_assist(&regs, &sregs, run, &aops, &fault);
	/*
	 * A device asked to stop: the instruction is left undone (registers
	 * untouched) and runs again, whole, when the loop is resumed.
	 */
	if (c->stop)
		return c->stop;
	switch (ret) {
	case 0:
		ret = lv_loop_put_regs(c->vcpu, &regs);
		/* RIP stays for a REP chunk: the instruction is not done. */
		if (!ret && regs.rip != rip && (regs.rflags & LV_RFLAGS_TF))
			ret = lv_loop_single_step(c->vcpu);
		return ret;
	case -EACCES:
		ret = lv_loop_put_regs(c->vcpu, &regs);
		return ret ? ret : lv_inject_fault(c->vcpu, &fault);
	case -EOPNOTSUPP:
		return libvmx_vcpu_inject(c->vcpu, VMX_EVENT_EXCEPTION,
					  LV_VEC_UD, 0, 0);
	}
	return ret;
}

static int lv_loop_hypercall(struct lv_loop_ctx *c, struct vmx_run *run)
{
	uint64_t ret_val = run->hypercall.ret, args[5];
	int ret, i;

	if (!c->ops->hypercall)
		return VMX_EXIT_HYPERCALL;
	for (i = 0; i < 5; i++)
		args[i] = run->hypercall.args[i];
	ret = c->ops->hypercall(c->opaque, c->vcpu, run->hypercall.nr, args,
				&ret_val);
	run->hypercall.ret = ret_val;
	return ret;
}

/* One exit: 0 to run on, > 0 to stop the loop with that, < 0 error. */
static int lv_loop_dispatch(struct lv_loop_ctx *c, struct vmx_run *run)
{
	int ret;

	switch (run->exit_reason) {
	case VMX_EXIT_IO:
		if (run->io.string)
			return lv_loop_assist(c, run);
		c->stop = 0;
		ret = lv_loop_pio(c, run->io.port, &run->io.data, run->io.size,
				  run->io.direction == VMX_IO_OUT);
		return c->stop ? c->stop : ret;
	case VMX_EXIT_MMIO:
		return lv_loop_assist(c, run);
	case VMX_EXIT_HYPERCALL:
		return lv_loop_hypercall(c, run);
	}
	if (c->ops->exit)
		return c->ops->exit(c->opaque, c->vcpu, run);
	return run->exit_reason ? (int)run->exit_reason : VMX_EXIT_INTR;
}

static const struct libvmx_exit_ops lv_no_ops;

/* What the assist needs comes with the exits that need it. */
static void lv_loop_want_decode_regs(struct libvmx_vcpu *vcpu)
{
	if (vcpu->sync)
		vcpu->run->sync_want |= VMX_SYNC_ON_DECODE;
}

int libvmx_vcpu_dispatch(struct libvmx_vcpu *vcpu,
			 const struct libvmx_exit_ops *ops, void *opaque)
{
	struct lv_loop_ctx c = { .vcpu = vcpu, .ops = ops ? ops : &lv_no_ops,
				 .opaque = opaque };

	if (!vcpu)
		return -EINVAL;
	lv_loop_want_decode_regs(vcpu);
	return lv_loop_dispatch(&c, vcpu->run);
}

int libvmx_vcpu_loop(struct libvmx_vcpu *vcpu, const struct libvmx_exit_ops *ops,
		     void *opaque)
{
	struct lv_loop_ctx c = { .vcpu = vcpu, .ops = ops ? ops : &lv_no_ops,
				 .opaque = opaque };
	struct vmx_run *run;
	int ret;

	if (!vcpu)
		return -EINVAL;
	run = vcpu->run;
	lv_loop_want_decode_regs(vcpu);
	for (;;) {
		ret = libvmx_vcpu_run(vcpu);
		/* A signal: INTR is an exit like the others. */
		if (ret && !(ret == -EINTR && run->exit_reason == VMX_EXIT_INTR))
			return ret;
		ret = lv_loop_dispatch(&c, run);
		if (ret)
			return ret;
	}
}
