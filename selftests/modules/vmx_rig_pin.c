// SPDX-License-Identifier: GPL-2.0
/*
 * Rig-only module for the QEMU rig: holds one
 * reference on the kernel's preempt-notifier static key for the whole
 * boot, so that loading and unloading vmx.ko (which takes and drops its
 * own reference, as kvm.ko does) never re-patches the scheduler's text.
 *
 * Why: QEMU 7.2's multi-threaded TCG can keep running a stale translation
 * of code another vCPU just patched.  Seen as: one CPU spinning for ever
 * at the static-key site in __schedule() with IRQs off (the int3 that
 * text_poke_bp() placed is gone from memory but not from that CPU's
 * translated code, so the int3 handler backs up and retries), its timer
 * and IPIs pending in the APIC's IRR, RCU stalled.  spec_force_test, which
 * loads vmx.ko once per test, hit it in about one rig boot in six.  The
 * Bochs rig does not load this module, so the key's toggling stays
 * covered there.  The rig now runs single-threaded TCG by default; the
 * module stays for VMX_QEMU_TCG_THREAD=multi and costs nothing otherwise.
 */
#include <linux/module.h>
#include <linux/preempt.h>

static int __init vmx_rig_pin_init(void)
{
	preempt_notifier_inc();
	return 0;
}

static void __exit vmx_rig_pin_exit(void)
{
	preempt_notifier_dec();
}

module_init(vmx_rig_pin_init);
module_exit(vmx_rig_pin_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vmx rig: keep the preempt-notifier static key enabled");
