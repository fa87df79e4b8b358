// SPDX-License-Identifier: GPL-2.0
/*
 * Extended page tables: the entry format the core's MMU builds, and the
 * INVEPT/INVVPID flush of a vCPU's guest translations.
 */
#include "vtx.h"

/* EPT entries (SDM Vol. 3, 29.3.2): read/write/execute, memory type WB. */
#define VTX_EPT_READ		BIT_ULL(0)
#define VTX_EPT_WRITE		BIT_ULL(1)
#define VTX_EPT_EXEC		BIT_ULL(2)
#define VTX_EPT_MT_WB		(6ULL << 3)
#define VTX_EPT_LARGE		BIT_ULL(7)
#define VTX_EPT_RWX		(VTX_EPT_READ | VTX_EPT_WRITE | VTX_EPT_EXEC)

const struct vmx_npt_format vtx_ept_format = {
	.present	= VTX_EPT_RWX,
	.huge		= VTX_EPT_LARGE,
	.table		= VTX_EPT_RWX,
	.leaf		= VTX_EPT_READ | VTX_EPT_MT_WB,
	.write		= VTX_EPT_WRITE,
	.exec		= VTX_EPT_EXEC,
};

/* Guest TLB entries (EPT-derived and VPID-tagged) are stale here. */
void vtx_flush_guest_tlb(struct vtx_vcpu *vtx)
{
	u64 eptp = vtx_vmread(EPT_POINTER);

	if (vtx_ept_vpid_cap & VTX_EPT_CAP_INVEPT_SINGLE)
		vtx_invept(VTX_INVEPT_SINGLE, eptp);
	else
		vtx_invept(VTX_INVEPT_ALL, 0);
	if (!vtx->vpid)
		return;	/* VPID 0: entry and exit flush linear mappings */
	if (vtx_ept_vpid_cap & VTX_VPID_CAP_SINGLE)
		vtx_invvpid(VTX_INVVPID_SINGLE, vtx->vpid, 0);
	else
		vtx_invvpid(VTX_INVVPID_ALL, 0, 0);
}
