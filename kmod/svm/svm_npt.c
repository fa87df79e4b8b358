// SPDX-License-Identifier: GPL-2.0
/*
 * AMD nested page table entries: the ordinary long-mode page table
 * format.  Guest accesses are user accesses from NPT's point of view, so
 * every present entry has U/S set; A/D are preset so the CPU never needs
 * to write them.
 */
#include "svm.h"

u64 svm_npt_table_entry(phys_addr_t pa)
{
	return pa | SVM_NPT_P | SVM_NPT_RW | SVM_NPT_US | SVM_NPT_A;
}

u64 svm_npt_leaf_entry(phys_addr_t pa, unsigned int prot, bool huge)
{
	u64 pte = pa | SVM_NPT_P | SVM_NPT_US | SVM_NPT_A;

	if (prot & VMX_NPT_WRITE)
		pte |= SVM_NPT_RW | SVM_NPT_D;
	if (!(prot & VMX_NPT_EXEC))
		pte |= SVM_NPT_NX;
	if (huge)
		pte |= SVM_NPT_PS;
	return pte;
}

bool svm_npt_present(u64 pte)
{
	return pte & SVM_NPT_P;
}

bool svm_npt_huge(u64 pte)
{
	return pte & SVM_NPT_PS;
}
