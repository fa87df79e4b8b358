// SPDX-License-Identifier: GPL-2.0
/*
 * AMD nested page table entries: the ordinary long-mode page table
 * format.  Guest accesses are user accesses from NPT's point of view, so
 * every present entry has U/S set; A/D are preset so the CPU never needs
 * to write them.
 */
#include "svm.h"

const struct vmx_npt_format svm_npt_format = {
	.present	= SVM_NPT_P,
	.huge		= SVM_NPT_PS,
	.table		= SVM_NPT_P | SVM_NPT_RW | SVM_NPT_US | SVM_NPT_A,
	.leaf		= SVM_NPT_P | SVM_NPT_US | SVM_NPT_A,
	.write		= SVM_NPT_RW | SVM_NPT_D,
	.no_exec	= SVM_NPT_NX,
};
