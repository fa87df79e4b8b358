// SPDX-License-Identifier: GPL-2.0
/*
 * The "vmx" generic netlink family: the VM list, per-vCPU counters and
 * VM create/destroy events for operators (uapi/linux/vmx_stats.h).
 */
#include <linux/cred.h>
#include <linux/net.h>
#include <linux/pid.h>
#include <net/genetlink.h>
#include <net/sock.h>

#include "core.h"
#include "compat.h"

static struct genl_family vmx_nl_family;

/*
 * A VM is visible to its owner and to CAP_SYS_ADMIN.  The socket's opener
 * and the current caller must both qualify, so that neither a passed
 * socket nor a process that dropped its privileges reads another's VM.
 */
static bool vmx_nl_may_see(struct sk_buff *skb, const struct vmx_stats_vm *rec)
{
	struct sock *sk = NETLINK_CB(skb).sk;
	const struct cred *opener;

	if (netlink_capable(skb, CAP_SYS_ADMIN))
		return true;
	if (!sk || !sk->sk_socket || !sk->sk_socket->file)
		return false;
	opener = sk->sk_socket->file->f_cred;
	return uid_eq(opener->euid, rec->uid) && uid_eq(current_euid(), rec->uid);
}

static int vmx_nl_put_vm(struct sk_buff *skb, const struct vmx_stats_vm *rec)
{
	struct vmx_vm *vm = rec->vm;

	if (nla_put_u64_64bit(skb, VMX_STATS_A_VM_ID, rec->id, VMX_STATS_A_PAD) ||
	    nla_put_u32(skb, VMX_STATS_A_PID, pid_vnr(rec->pid)) ||
	    nla_put_u32(skb, VMX_STATS_A_UID,
			from_kuid_munged(current_user_ns(), rec->uid)) ||
	    nla_put_u32(skb, VMX_STATS_A_NR_VCPUS, atomic_read(&vm->nr_vcpus)) ||
	    nla_put_u64_64bit(skb, VMX_STATS_A_MEM_BYTES,
			      vmx_stats_vm_mem_bytes(vm), VMX_STATS_A_PAD) ||
	    nla_put_u64_64bit(skb, VMX_STATS_A_CREATED_NS, rec->created_ns,
			      VMX_STATS_A_PAD))
		return -EMSGSIZE;
	return 0;
}

/* A nested array of u64 counters, attribute type = index, from @first. */
static int vmx_nl_put_array(struct sk_buff *skb, int type, const u64 *val,
			    int first, int last)
{
	struct nlattr *nest = nla_nest_start(skb, type);
	int i;

	if (!nest)
		return -EMSGSIZE;
	for (i = first; i <= last; i++)
		if (nla_put_u64_64bit(skb, i, val[i], 0))
			return -EMSGSIZE;
	nla_nest_end(skb, nest);
	return 0;
}

static int vmx_nl_put_u64(struct sk_buff *skb, int type, u64 val)
{
	return nla_put_u64_64bit(skb, type, val, VMX_STATS_C_PAD);
}

static int vmx_nl_put_counters(struct sk_buff *skb,
			       const struct vmx_vcpu_stat *s)
{
	struct nlattr *nest = nla_nest_start(skb, VMX_STATS_A_COUNTERS);

	if (!nest ||
	    vmx_nl_put_u64(skb, VMX_STATS_C_RUNS, s->runs) ||
	    vmx_nl_put_u64(skb, VMX_STATS_C_EXITS, s->exits) ||
	    vmx_nl_put_u64(skb, VMX_STATS_C_EXITS_TO_USER, s->exits_to_user) ||
	    vmx_nl_put_u64(skb, VMX_STATS_C_NPT_FAULTS, s->npt_faults) ||
	    vmx_nl_put_u64(skb, VMX_STATS_C_NPT_FILLED, s->npt_filled) ||
	    vmx_nl_put_u64(skb, VMX_STATS_C_HALTS,
			   s->exit_kind[VMX_STATS_EXIT_HLT]) ||
	    vmx_nl_put_u64(skb, VMX_STATS_C_HOST_INTR,
			   s->exit_kind[VMX_STATS_EXIT_INTR]) ||
	    vmx_nl_put_u64(skb, VMX_STATS_C_GUEST_NS, s->guest_ns) ||
	    vmx_nl_put_array(skb, VMX_STATS_C_EXIT_KIND, s->exit_kind, 1,
			     VMX_STATS_EXIT_MAX) ||
	    vmx_nl_put_array(skb, VMX_STATS_C_USER_EXIT, s->user_exit, 1,
			     VMX_STATS_USER_EXIT_MAX) ||
	    vmx_nl_put_array(skb, VMX_STATS_C_INJECTED, s->injected, 1,
			     VMX_STATS_INJ_MAX))
		return -EMSGSIZE;
	nla_nest_end(skb, nest);
	return 0;
}

static void *vmx_nl_dump_put(struct sk_buff *skb, struct netlink_callback *cb,
			     u8 cmd)
{
	return genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			   &vmx_nl_family, NLM_F_MULTI, cmd);
}

static int vmx_nl_get_vm_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct vmx_stats_vm *rec;
	struct sk_buff *msg;
	void *hdr;
	u64 id;
	int ret;

	if (!info->attrs[VMX_STATS_A_VM_ID])
		return -EINVAL;
	id = nla_get_u64(info->attrs[VMX_STATS_A_VM_ID]);
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &vmx_nl_family, 0,
				VMX_STATS_CMD_GET_VM);
	if (!hdr) {
		ret = -EMSGSIZE;
		goto out_free;
	}

	vmx_stats_lock_list();
	rec = vmx_stats_vm_find(id);
	if (!rec || rec->id != id || !vmx_nl_may_see(skb, rec))
		ret = -ENOENT;
	else
		ret = vmx_nl_put_vm(msg, rec);
	vmx_stats_unlock_list();
	if (ret)
		goto out_free;
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

out_free:
	nlmsg_free(msg);
	return ret;
}

/* cb->args[0]: id of the next VM to report. */
static int vmx_nl_get_vm_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct vmx_stats_vm *rec;
	void *hdr;

	vmx_stats_lock_list();
	for (rec = vmx_stats_vm_find(cb->args[0]); rec;
	     rec = vmx_stats_vm_find(rec->id + 1)) {
		cb->args[0] = rec->id;
		if (!vmx_nl_may_see(cb->skb, rec))
			continue;
		hdr = vmx_nl_dump_put(skb, cb, VMX_STATS_CMD_GET_VM);
		if (!hdr)
			break;
		if (vmx_nl_put_vm(skb, rec)) {
			genlmsg_cancel(skb, hdr);
			break;
		}
		genlmsg_end(skb, hdr);
	}
	if (!rec)
		cb->args[0] = U64_MAX;
	vmx_stats_unlock_list();
	return skb->len;
}

/* One GET_STATS message: the VM's sum (@vcpu NULL) or one vCPU. */
static int vmx_nl_put_stats(struct sk_buff *skb, struct netlink_callback *cb,
			    const struct vmx_stats_vm *rec,
			    const struct vmx_vcpu *vcpu)
{
	struct vmx_vm *vm = rec->vm;
	struct vmx_vcpu_stat s = { 0 };
	void *hdr;
	int i;

	if (vcpu) {
		vmx_stats_vcpu_add(vcpu, &s);
	} else {
		for (i = 0; i < VMX_MAX_VCPUS; i++) {
			const struct vmx_vcpu *v = READ_ONCE(vm->vcpus[i]);

			if (v)
				vmx_stats_vcpu_add(v, &s);
		}
	}

	hdr = vmx_nl_dump_put(skb, cb, VMX_STATS_CMD_GET_STATS);
	if (!hdr)
		return -EMSGSIZE;
	if (nla_put_u64_64bit(skb, VMX_STATS_A_VM_ID, rec->id, VMX_STATS_A_PAD) ||
	    (vcpu && nla_put_u32(skb, VMX_STATS_A_VCPU_ID, vcpu->id)) ||
	    (!vcpu && nla_put_u32(skb, VMX_STATS_A_NR_VCPUS,
				  atomic_read(&vm->nr_vcpus))) ||
	    vmx_nl_put_counters(skb, &s)) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return 0;
}

/*
 * The sum, then each vCPU, of one VM.  cb->args[1]: 0 before the sum,
 * else 1 + the next vCPU index.  Returns -EMSGSIZE when @skb is full.
 */
static int vmx_nl_dump_vm_stats(struct sk_buff *skb, struct netlink_callback *cb,
				const struct vmx_stats_vm *rec)
{
	int i, ret;

	if (!cb->args[1]) {
		ret = vmx_nl_put_stats(skb, cb, rec, NULL);
		if (ret)
			return ret;
		cb->args[1] = 1;
	}
	for (i = cb->args[1] - 1; i < VMX_MAX_VCPUS; i++) {
		const struct vmx_vcpu *vcpu = READ_ONCE(rec->vm->vcpus[i]);

		if (!vcpu)
			continue;
		ret = vmx_nl_put_stats(skb, cb, rec, vcpu);
		if (ret) {
			cb->args[1] = i + 1;
			return ret;
		}
	}
	cb->args[1] = 0;
	return 0;
}

/*
 * cb->args[0]: id of the VM being reported; args[1]: see above;
 * args[2]: a visible VM was found (an unknown filter id is ENOENT).
 */
static int vmx_nl_get_stats_dumpit(struct sk_buff *skb,
				   struct netlink_callback *cb)
{
	struct nlattr **attrs = vmx_genl_dump_attrs(cb);
	struct nlattr *want = attrs ? attrs[VMX_STATS_A_VM_ID] : NULL;
	u64 only = want ? nla_get_u64(want) : 0;
	struct vmx_stats_vm *rec;
	int ret = 0;

	if (only && cb->args[0] < only)
		cb->args[0] = only;
	vmx_stats_lock_list();
	for (rec = vmx_stats_vm_find(cb->args[0]); rec;
	     rec = vmx_stats_vm_find(rec->id + 1)) {
		if (only && rec->id != only)
			break;
		if (cb->args[0] != rec->id)
			cb->args[1] = 0;
		cb->args[0] = rec->id;
		if (!vmx_nl_may_see(cb->skb, rec))
			continue;
		cb->args[2] = 1;
		ret = vmx_nl_dump_vm_stats(skb, cb, rec);
		if (ret)
			break;
	}
	if (!rec || (only && rec->id != only)) {
		cb->args[0] = U64_MAX;
		cb->args[1] = 0;
	}
	vmx_stats_unlock_list();
	if (only && !cb->args[2])
		return -ENOENT;
	return skb->len;
}

/* Sent without the list lock: multicast may take its own locks. */
void vmx_netlink_vm_event(u8 cmd, u64 vm_id, u32 pid)
{
	struct sk_buff *msg;
	void *hdr;

	if (!genl_has_listeners(&vmx_nl_family, &init_net, 0))
		return;
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return;
	hdr = genlmsg_put(msg, 0, 0, &vmx_nl_family, 0, cmd);
	if (!hdr ||
	    nla_put_u64_64bit(msg, VMX_STATS_A_VM_ID, vm_id, VMX_STATS_A_PAD) ||
	    nla_put_u32(msg, VMX_STATS_A_PID, pid)) {
		nlmsg_free(msg);
		return;
	}
	genlmsg_end(msg, hdr);
	genlmsg_multicast(&vmx_nl_family, msg, 0, 0, GFP_KERNEL);
}

static const struct nla_policy vmx_nl_policy[VMX_STATS_A_MAX + 1] = {
	[VMX_STATS_A_VM_ID]	= { .type = NLA_U64 },
};

static const struct genl_small_ops vmx_nl_ops[] = {
	{
		.cmd	= VMX_STATS_CMD_GET_VM,
		.doit	= vmx_nl_get_vm_doit,
		.dumpit	= vmx_nl_get_vm_dumpit,
	},
	{
		.cmd	= VMX_STATS_CMD_GET_STATS,
		.dumpit	= vmx_nl_get_stats_dumpit,
	},
};

static const struct genl_multicast_group vmx_nl_mcgrps[] = {
	/* Events reveal every VM: administrators only. */
	{ .name = VMX_STATS_MCGRP_EVENTS, .flags = GENL_MCAST_CAP_SYS_ADMIN },
};

static struct genl_family vmx_nl_family = {
	.name		= VMX_STATS_GENL_NAME,
	.version	= VMX_STATS_GENL_VERSION,
	.maxattr	= VMX_STATS_A_MAX,
	.policy		= vmx_nl_policy,
	/* Every command validates strictly: no legacy commands to spare. */
	.resv_start_op	= VMX_STATS_CMD_GET_STATS + 1,
	.parallel_ops	= true,	/* vmx_stats_lock serializes what matters */
	.module		= THIS_MODULE,
	.small_ops	= vmx_nl_ops,
	.n_small_ops	= ARRAY_SIZE(vmx_nl_ops),
	.mcgrps		= vmx_nl_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(vmx_nl_mcgrps),
};

int vmx_netlink_init(void)
{
	return genl_register_family(&vmx_nl_family);
}

void vmx_netlink_exit(void)
{
	genl_unregister_family(&vmx_nl_family);
}
