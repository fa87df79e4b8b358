/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one interface between the generic core and a hardware backend.
 *
 * The core never tests a vendor or a CPU feature itself: it walks the
 * list of compiled-in backends, keeps the first whose probe() accepts the
 * CPU, and from then on calls it only through this table.
 */
#ifndef VMX_BACKEND_H
#define VMX_BACKEND_H

#include <linux/types.h>

/**
 * struct vmx_backend_ops - what a backend (SVM, Intel VMX) provides
 * @name:		short name for log lines ("svm", "intel")
 * @backend_id:		VMX_BACKEND_* reported to user space
 * @features:		VMX_FEAT_* bits this backend offers
 * @probe:		0 if the boot CPU can run this backend; otherwise
 *			-ENODEV (wrong vendor or no such extension) or
 *			-EOPNOTSUPP (present but unusable, reason logged).
 *			Runs in process context; may not touch CPU state.
 * @hardware_setup:	global set-up once the backend is chosen: read
 *			capabilities, allocate per-CPU areas for every
 *			possible CPU.  Process context, may sleep.
 * @hardware_unsetup:	undo @hardware_setup; every CPU is disabled.
 * @cpu_enable:		switch virtualization on for the current CPU.
 *			IRQs off, may not sleep.  Returns -EBUSY when
 *			another hypervisor owns the extension.
 * @cpu_disable:	switch it off again on the current CPU; IRQs off.
 * @cpu_emergency_disable: the same from the crash/emergency-reboot path:
 *			NMI context, no locks, must tolerate any state.
 */
struct vmx_backend_ops {
	const char *name;
	u32 backend_id;
	u64 features;

	int (*probe)(void);
	int (*hardware_setup)(void);
	void (*hardware_unsetup)(void);
	int (*cpu_enable)(void);
	void (*cpu_disable)(void);
	void (*cpu_emergency_disable)(void);
};

#ifdef CONFIG_VMX_HV_SVM
extern const struct vmx_backend_ops svm_backend_ops;
#endif
#ifdef CONFIG_VMX_HV_INTEL
extern const struct vmx_backend_ops vtx_backend_ops;
#endif

#endif /* VMX_BACKEND_H */
