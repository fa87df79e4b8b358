// SPDX-License-Identifier: GPL-2.0
/*
 * Statistics over the "vmx" generic netlink family: counters equal the
 * exits a guest was made to perform, the VM list names the VM with its
 * owner and vCPUs, create/destroy events reach the "events" group, a VM
 * is hidden from other users, and vmxstat --json reports a live VM.
 *
 * Raw AF_NETLINK sockets and a small attribute parser: no libnl inside
 * the rig.
 */
#include "test_util.h"
#include "kselftest_harness.h"

#include <limits.h>
#include <pthread.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/vmx_stats.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include "vmx_harness.h"
#include "guest.h"

#define NL_BUF		(64 * 1024)

struct nl {
	int fd;
	uint16_t family;
	uint32_t events_group;
	uint32_t seq;
};

/* One VM (GET_VM) or one counters message (GET_STATS). */
struct vm_info {
	uint64_t id;
	uint32_t pid, uid, nr_vcpus;
	uint64_t mem_bytes, created_ns;
};

struct counters {
	int64_t vcpu_id;	/* -1: the VM's sum */
	uint64_t vm_id;
	uint32_t nr_vcpus;
	uint64_t c[VMX_STATS_C_MAX + 1];
	uint64_t exit_kind[VMX_STATS_EXIT_MAX + 1];
	uint64_t user_exit[VMX_STATS_USER_EXIT_MAX + 1];
	uint64_t injected[VMX_STATS_INJ_MAX + 1];
};

#define MAX_MSGS	64

struct reply {
	int n;
	int error;		/* from NLMSG_ERROR or NLMSG_DONE */
	struct vm_info vm[MAX_MSGS];
	struct counters ctr[MAX_MSGS];
	uint8_t cmd[MAX_MSGS];
};

#define nla_for_each(a, head, len)					\
	for ((a) = (struct nlattr *)(head);				\
	     (len) >= (int)NLA_HDRLEN && (a)->nla_len >= NLA_HDRLEN &&	\
	     (a)->nla_len <= (len);					\
	     (len) -= NLA_ALIGN((a)->nla_len),				\
	     (a) = (struct nlattr *)((char *)(a) + NLA_ALIGN((a)->nla_len)))

static void *nla_data(struct nlattr *a)
{
	return (char *)a + NLA_HDRLEN;
}

static int nla_dlen(struct nlattr *a)
{
	return a->nla_len - NLA_HDRLEN;
}

static uint64_t nla_u64(struct nlattr *a)
{
	uint64_t v = 0;

	memcpy(&v, nla_data(a), nla_dlen(a) >= 8 ? 8 : 4);
	return v;
}

static uint32_t nla_u32(struct nlattr *a)
{
	uint32_t v;

	memcpy(&v, nla_data(a), 4);
	return v;
}

static void nla_array(struct nlattr *nest, uint64_t *out, int max)
{
	int len = nla_dlen(nest);
	struct nlattr *a;

	nla_for_each(a, nla_data(nest), len)
		if ((a->nla_type & NLA_TYPE_MASK) <= max)
			out[a->nla_type & NLA_TYPE_MASK] = nla_u64(a);
}

static void parse_counters(struct nlattr *nest, struct counters *c)
{
	int len = nla_dlen(nest);
	struct nlattr *a;

	nla_for_each(a, nla_data(nest), len) {
		int type = a->nla_type & NLA_TYPE_MASK;

		if (type == VMX_STATS_C_EXIT_KIND)
			nla_array(a, c->exit_kind, VMX_STATS_EXIT_MAX);
		else if (type == VMX_STATS_C_USER_EXIT)
			nla_array(a, c->user_exit, VMX_STATS_USER_EXIT_MAX);
		else if (type == VMX_STATS_C_INJECTED)
			nla_array(a, c->injected, VMX_STATS_INJ_MAX);
		else if (type <= VMX_STATS_C_MAX && nla_dlen(a) == 8)
			c->c[type] = nla_u64(a);
	}
}

static void parse_msg(struct nlmsghdr *h, struct reply *r)
{
	struct genlmsghdr *g = NLMSG_DATA(h);
	int len = h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
	struct vm_info *vm;
	struct counters *c;
	struct nlattr *a;

	if (r->n >= MAX_MSGS)
		return;
	vm = &r->vm[r->n];
	c = &r->ctr[r->n];
	memset(vm, 0, sizeof(*vm));
	memset(c, 0, sizeof(*c));
	c->vcpu_id = -1;
	r->cmd[r->n++] = g->cmd;
	nla_for_each(a, (char *)g + GENL_HDRLEN, len) {
		switch (a->nla_type & NLA_TYPE_MASK) {
		case VMX_STATS_A_VM_ID:
			vm->id = c->vm_id = nla_u64(a);
			break;
		case VMX_STATS_A_PID:
			vm->pid = nla_u32(a);
			break;
		case VMX_STATS_A_UID:
			vm->uid = nla_u32(a);
			break;
		case VMX_STATS_A_NR_VCPUS:
			vm->nr_vcpus = c->nr_vcpus = nla_u32(a);
			break;
		case VMX_STATS_A_MEM_BYTES:
			vm->mem_bytes = nla_u64(a);
			break;
		case VMX_STATS_A_CREATED_NS:
			vm->created_ns = nla_u64(a);
			break;
		case VMX_STATS_A_VCPU_ID:
			c->vcpu_id = nla_u32(a);
			break;
		case VMX_STATS_A_COUNTERS:
			parse_counters(a, c);
			break;
		}
	}
}

static int nl_send(struct nl *nl, uint16_t type, uint16_t flags, uint8_t cmd,
		   uint16_t attr, const void *data, int dlen)
{
	struct {
		struct nlmsghdr h;
		struct genlmsghdr g;
		char buf[256];
	} req = { 0 };
	struct nlattr *a = (struct nlattr *)req.buf;

	req.h.nlmsg_type = type;
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	req.h.nlmsg_seq = ++nl->seq;
	req.g.cmd = cmd;
	req.g.version = 1;
	req.h.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	if (attr) {
		a->nla_type = attr;
		a->nla_len = NLA_HDRLEN + dlen;
		memcpy(nla_data(a), data, dlen);
		req.h.nlmsg_len += NLA_ALIGN(a->nla_len);
	}
	if (send(nl->fd, &req, req.h.nlmsg_len, 0) < 0)
		return -errno;
	return 0;
}

/* Read replies to the last request until its ACK, error or DONE. */
static int nl_recv(struct nl *nl, struct reply *r, void (*raw)(struct nlmsghdr *, void *),
		   void *arg)
{
	static char buf[NL_BUF];

	memset(r, 0, sizeof(*r));
	for (;;) {
		int len = recv(nl->fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h;

		if (len < 0)
			return -errno;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, len);
		     h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_seq != nl->seq)
				continue;
			if (h->nlmsg_type == NLMSG_ERROR) {
				r->error = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
				return r->error;
			}
			if (h->nlmsg_type == NLMSG_DONE) {
				r->error = *(int *)NLMSG_DATA(h);
				return r->error;
			}
			if (raw)
				raw(h, arg);
			else
				parse_msg(h, r);
		}
	}
}

struct ctrl_arg {
	const char *group;
	uint16_t family;
	uint32_t group_id;
};

static void ctrl_parse(struct nlmsghdr *h, void *arg)
{
	struct genlmsghdr *g = NLMSG_DATA(h);
	int len = h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
	struct ctrl_arg *c = arg;
	struct nlattr *a, *grp, *ga;

	nla_for_each(a, (char *)g + GENL_HDRLEN, len) {
		int glen = nla_dlen(a);

		if (a->nla_type == CTRL_ATTR_FAMILY_ID)
			memcpy(&c->family, nla_data(a), 2);
		if (a->nla_type != CTRL_ATTR_MCAST_GROUPS)
			continue;
		nla_for_each(grp, nla_data(a), glen) {
			int l = nla_dlen(grp);
			uint32_t id = 0;
			const char *name = "";

			nla_for_each(ga, nla_data(grp), l) {
				if (ga->nla_type == CTRL_ATTR_MCAST_GRP_ID)
					id = nla_u32(ga);
				if (ga->nla_type == CTRL_ATTR_MCAST_GRP_NAME)
					name = nla_data(ga);
			}
			if (!strcmp(name, c->group))
				c->group_id = id;
		}
	}
}

/* Open a socket and resolve the "vmx" family; -ENOENT if it is missing. */
static int nl_open(struct nl *nl)
{
	struct ctrl_arg c = { .group = VMX_STATS_MCGRP_EVENTS };
	struct timeval tv = { .tv_sec = 5 };
	struct reply *r = malloc(sizeof(*r));
	int ret;

	memset(nl, 0, sizeof(*nl));
	nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (nl->fd < 0 || !r) {
		free(r);
		return -errno;
	}
	/* A lost reply fails the test instead of hanging it. */
	setsockopt(nl->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ret = nl_send(nl, GENL_ID_CTRL, 0, CTRL_CMD_GETFAMILY,
		      CTRL_ATTR_FAMILY_NAME, VMX_STATS_GENL_NAME,
		      sizeof(VMX_STATS_GENL_NAME));
	if (!ret)
		ret = nl_recv(nl, r, ctrl_parse, &c);
	free(r);
	if (ret) {
		close(nl->fd);
		return ret;
	}
	nl->family = c.family;
	nl->events_group = c.group_id;
	return c.family ? 0 : -ENOENT;
}

static int nl_request(struct nl *nl, struct reply *r, uint8_t cmd, bool dump,
		      uint64_t vm_id)
{
	int ret = nl_send(nl, nl->family, dump ? NLM_F_DUMP : 0, cmd,
			  vm_id ? VMX_STATS_A_VM_ID : 0, &vm_id, sizeof(vm_id));

	return ret ? ret : nl_recv(nl, r, NULL, NULL);
}

/* The newest VM this process created, 0 if none is listed. */
static uint64_t my_newest_vm(struct nl *nl, struct reply *r)
{
	uint64_t id = 0;
	int i;

	if (nl_request(nl, r, VMX_STATS_CMD_GET_VM, true, 0))
		return 0;
	for (i = 0; i < r->n; i++)
		if (r->vm[i].pid == (uint32_t)getpid() && r->vm[i].id > id)
			id = r->vm[i].id;
	return id;
}

/* Counters of vCPU @vcpu (-1: the sum) of VM @id. */
static int get_counters(struct nl *nl, struct reply *r, uint64_t id,
			int64_t vcpu, struct counters *out)
{
	int ret = nl_request(nl, r, VMX_STATS_CMD_GET_STATS, true, id);
	int i;

	if (ret)
		return ret;
	for (i = 0; i < r->n; i++) {
		if (r->ctr[i].vm_id == id && r->ctr[i].vcpu_id == vcpu) {
			*out = r->ctr[i];
			return 0;
		}
	}
	return -ENOENT;
}

#define NR_CPUID	7
#define NR_OUT		5
#define NR_HLT		3
#define NR_HYPERCALL	2
#define NR_RDMSR	4
#define MSR_MISC_ENABLE	0x1a0
#define PORT_COUNT	0x80

static void guest_counted(void)
{
	uint32_t a, b, c, d;
	int i;

	GUEST_SYNC(1);
	for (i = 0; i < NR_CPUID; i++)
		guest_cpuid(0, 0, &a, &b, &c, &d);
	for (i = 0; i < NR_OUT; i++)
		outb(PORT_COUNT, i);
	for (i = 0; i < NR_HLT; i++)
		guest_hlt();
	for (i = 0; i < NR_HYPERCALL; i++)
		guest_hypercall(42, i, 0);
	for (i = 0; i < NR_RDMSR; i++)
		guest_rdmsr(MSR_MISC_ENABLE);
	GUEST_DONE();
}

FIXTURE(stats) {
	struct nl nl;
	struct reply *r;
};

FIXTURE_SETUP(stats)
{
	self->r = malloc(sizeof(*self->r));
	ASSERT_NE(NULL, self->r);
	ASSERT_EQ(0, nl_open(&self->nl))
		TH_LOG("generic netlink family \"vmx\" missing");
}

FIXTURE_TEARDOWN(stats)
{
	close(self->nl.fd);
	free(self->r);
}

/* Run the counted guest from its first SYNC to DONE, answering exits. */
static int run_counted(struct libvmx_vcpu *vcpu)
{
	struct vmx_run *run = libvmx_vcpu_run_area(vcpu);
	struct ucall uc;
	int i;

	for (i = 0; i < 1000; i++) {
		enum ucall_cmd cmd = test_run(vcpu, &uc);

		if (cmd == UCALL_DONE)
			return 0;
		if (cmd != UCALL_NONE)
			return -1;
		if (run->exit_reason == VMX_EXIT_HYPERCALL)
			run->hypercall.ret = 0;
		else if (run->exit_reason != VMX_EXIT_IO &&
			 run->exit_reason != VMX_EXIT_HLT)
			return -1;
	}
	return -1;
}

#define DELTA(field)	(after.field - before.field)

TEST_F(stats, counters_equal_guest_exits)
{
	struct counters before, after, sum;
	struct test_vm *t;
	uint64_t id, total = 0;
	int k;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_counted));
	id = my_newest_vm(&self->nl, self->r);
	ASSERT_NE(0, id);
	ASSERT_SYNC(t->vcpus[0], 1);
	ASSERT_EQ(0, get_counters(&self->nl, self->r, id, 0, &before));
	ASSERT_EQ(0, run_counted(t->vcpus[0]))
		TH_LOG("unexpected exit %s", test_exit_name(
			libvmx_vcpu_run_area(t->vcpus[0])->exit_reason));
	ASSERT_EQ(0, get_counters(&self->nl, self->r, id, 0, &after));

	EXPECT_EQ(NR_CPUID, DELTA(exit_kind[VMX_STATS_EXIT_CPUID]));
	/* The OUTs and the DONE ucall. */
	EXPECT_EQ(NR_OUT + 1, DELTA(exit_kind[VMX_STATS_EXIT_IO]));
	EXPECT_EQ(NR_HLT, DELTA(exit_kind[VMX_STATS_EXIT_HLT]));
	EXPECT_EQ(NR_HLT, DELTA(c[VMX_STATS_C_HALTS]));
	EXPECT_EQ(NR_HYPERCALL, DELTA(exit_kind[VMX_STATS_EXIT_HYPERCALL]));
	EXPECT_EQ(NR_RDMSR, DELTA(exit_kind[VMX_STATS_EXIT_MSR]));
	EXPECT_EQ(0, DELTA(exit_kind[VMX_STATS_EXIT_MMIO]));
	EXPECT_EQ(0, DELTA(exit_kind[VMX_STATS_EXIT_EXCEPTION]));
	EXPECT_EQ(0, DELTA(exit_kind[VMX_STATS_EXIT_OTHER]));
	EXPECT_EQ(DELTA(exit_kind[VMX_STATS_EXIT_INTR]),
		  DELTA(c[VMX_STATS_C_HOST_INTR]));

	EXPECT_EQ(NR_OUT + 1, DELTA(user_exit[VMX_EXIT_IO]));
	EXPECT_EQ(NR_HLT, DELTA(user_exit[VMX_EXIT_HLT]));
	EXPECT_EQ(NR_HYPERCALL, DELTA(user_exit[VMX_EXIT_HYPERCALL]));
	EXPECT_EQ(0, DELTA(user_exit[VMX_EXIT_MMIO]));
	EXPECT_EQ(NR_OUT + 1 + NR_HLT + NR_HYPERCALL,
		  DELTA(c[VMX_STATS_C_EXITS_TO_USER]));
	/* A run the kernel restarted for pending work counts again. */
	EXPECT_GE(DELTA(c[VMX_STATS_C_RUNS]), NR_OUT + 1 + NR_HLT + NR_HYPERCALL);
	EXPECT_GT(DELTA(c[VMX_STATS_C_GUEST_NS]), 0);

	/* Every exit counts in exactly one kind. */
	for (k = 1; k <= VMX_STATS_EXIT_MAX; k++)
		total += DELTA(exit_kind[k]);
	EXPECT_EQ(DELTA(c[VMX_STATS_C_EXITS]), total);

	/* One vCPU: its sum is itself. */
	ASSERT_EQ(0, get_counters(&self->nl, self->r, id, -1, &sum));
	EXPECT_EQ(1, sum.nr_vcpus);
	EXPECT_GE(sum.exit_kind[VMX_STATS_EXIT_CPUID],
		  after.exit_kind[VMX_STATS_EXIT_CPUID]);
	EXPECT_EQ(after.c[VMX_STATS_C_EXITS_TO_USER],
		  sum.c[VMX_STATS_C_EXITS_TO_USER]);
	test_vm_destroy(t);
}

static void guest_cpuid_loop(void)
{
	uint32_t a, b, c, d;
	int i;

	for (i = 0; i < NR_CPUID; i++)
		guest_cpuid(0, 0, &a, &b, &c, &d);
	GUEST_DONE();
}

/* A slot of its own, at 256 MiB (inside the guest's identity map). */
#define FRESH_SLOT	1
#define FRESH_GPA	0x10000000ULL
#define FRESH_SIZE	(16ULL << 20)
#define UNRELATED_SIZE	(16 * 4096)

/* One write per 4 KiB page: a nested page fault each. */
static void guest_touch_fresh(void)
{
	uint64_t a;

	for (a = FRESH_GPA; a < FRESH_GPA + FRESH_SIZE; a += 4096)
		*(volatile uint64_t *)a = a;
	GUEST_DONE();
}

struct unmapper {
	volatile bool stop;
	uint8_t *mem;		/* no slot maps it */
	uint64_t rounds;
};

/*
 * Drop the unrelated memory in a loop: each call is an invalidation of
 * the VMM's mm (the notifiers run whether or not a page was there).
 */
static void *unmap_unrelated(void *arg)
{
	struct unmapper *u = arg;

	while (!u->stop) {
		madvise(u->mem, UNRELATED_SIZE, MADV_DONTNEED);
		u->rounds++;
	}
	return NULL;
}

/*
 * Invalidations of memory that no slot maps do not make nested page
 * faults retry: each fault of the guest fills its page the first time,
 * while another thread of the VMM unmaps unrelated memory in a loop.
 */
TEST_F(stats, unrelated_invalidations_do_not_retry_faults)
{
	struct counters before, after;
	struct unmapper u = { 0 };
	struct test_vm *t;
	pthread_t th;
	void *fresh;
	uint64_t id, faults, filled;

	ASSERT_EQ(0, test_vm_create(&t, 1, guest_touch_fresh));
	ASSERT_EQ(0, libvmx_vm_add_ram(t->vm, FRESH_SLOT, FRESH_GPA, FRESH_SIZE,
				       0, &fresh));
	/* 4 KiB host pages, so that every guest page is a fault of its own. */
	ASSERT_EQ(0, madvise(fresh, FRESH_SIZE, MADV_NOHUGEPAGE));
	u.mem = mmap(NULL, UNRELATED_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, u.mem);
	id = my_newest_vm(&self->nl, self->r);
	ASSERT_NE(0, id);
	ASSERT_EQ(0, get_counters(&self->nl, self->r, id, 0, &before));
	ASSERT_EQ(0, pthread_create(&th, NULL, unmap_unrelated, &u));
	ASSERT_UCALL(t->vcpus[0], UCALL_DONE);
	u.stop = true;
	pthread_join(th, NULL);
	ASSERT_EQ(0, get_counters(&self->nl, self->r, id, 0, &after));

	faults = DELTA(c[VMX_STATS_C_NPT_FAULTS]);
	filled = DELTA(c[VMX_STATS_C_NPT_FILLED]);
	TH_LOG("%llu faults, %llu filled, %llu unrelated invalidations",
	       (unsigned long long)faults, (unsigned long long)filled,
	       (unsigned long long)u.rounds);
	/* The race was on: the unmapper ran alongside the faults. */
	ASSERT_GE(u.rounds, 1000);
	EXPECT_GE(filled, FRESH_SIZE / 4096);
	/* A few retries for the host's own work (THP, reclaim) at most. */
	EXPECT_LE(faults, filled + filled / 20);
	munmap(u.mem, UNRELATED_SIZE);
	test_vm_destroy(t);
}

TEST_F(stats, sum_over_vcpus)
{
	struct counters v0, v1, sum;
	struct test_vm *t;
	uint64_t id;
	int i;

	ASSERT_EQ(0, test_vm_create(&t, 2, guest_cpuid_loop));
	id = my_newest_vm(&self->nl, self->r);
	ASSERT_NE(0, id);
	for (i = 0; i < 2; i++)
		ASSERT_UCALL(t->vcpus[i], UCALL_DONE);
	/* The vCPUs are idle: the three reads agree. */
	ASSERT_EQ(0, get_counters(&self->nl, self->r, id, 0, &v0));
	ASSERT_EQ(0, get_counters(&self->nl, self->r, id, 1, &v1));
	ASSERT_EQ(0, get_counters(&self->nl, self->r, id, -1, &sum));
	EXPECT_EQ(2, sum.nr_vcpus);
	EXPECT_GE(v0.exit_kind[VMX_STATS_EXIT_CPUID], NR_CPUID);
	EXPECT_GE(v1.exit_kind[VMX_STATS_EXIT_CPUID], NR_CPUID);
	for (i = 1; i <= VMX_STATS_EXIT_MAX; i++)
		EXPECT_EQ(v0.exit_kind[i] + v1.exit_kind[i], sum.exit_kind[i]);
	EXPECT_EQ(v0.c[VMX_STATS_C_RUNS] + v1.c[VMX_STATS_C_RUNS],
		  sum.c[VMX_STATS_C_RUNS]);
	EXPECT_EQ(v0.c[VMX_STATS_C_GUEST_NS] + v1.c[VMX_STATS_C_GUEST_NS],
		  sum.c[VMX_STATS_C_GUEST_NS]);
	test_vm_destroy(t);
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

TEST_F(stats, vm_list_names_owner_and_vcpus)
{
	uint64_t start = realtime_ns(), id;
	struct test_vm *t;
	struct vm_info vm = { 0 };
	int i, found = 0;

	ASSERT_EQ(0, test_vm_create(&t, 3, NULL));
	id = my_newest_vm(&self->nl, self->r);
	ASSERT_NE(0, id);
	for (i = 0; i < self->r->n; i++) {
		if (self->r->vm[i].id != id)
			continue;
		found++;
		vm = self->r->vm[i];
	}
	ASSERT_EQ(1, found);
	EXPECT_EQ((uint32_t)getpid(), vm.pid);
	EXPECT_EQ(geteuid(), vm.uid);
	EXPECT_EQ(3, vm.nr_vcpus);
	EXPECT_EQ(TEST_RAM_SIZE, vm.mem_bytes);
	EXPECT_GE(vm.created_ns, start - 1000000000ULL);
	EXPECT_LE(vm.created_ns, realtime_ns() + 1000000000ULL);

	/* The same through a request for that id. */
	ASSERT_EQ(0, nl_request(&self->nl, self->r, VMX_STATS_CMD_GET_VM,
				false, id));
	ASSERT_EQ(1, self->r->n);
	EXPECT_EQ(id, self->r->vm[0].id);
	EXPECT_EQ(3, self->r->vm[0].nr_vcpus);
	test_vm_destroy(t);

	/* Gone with its last file. */
	EXPECT_EQ(-ENOENT, nl_request(&self->nl, self->r, VMX_STATS_CMD_GET_VM,
				      false, id));
	EXPECT_EQ(-ENOENT, nl_request(&self->nl, self->r,
				      VMX_STATS_CMD_GET_STATS, true, id));
	EXPECT_EQ(-EINVAL, nl_request(&self->nl, self->r, VMX_STATS_CMD_GET_VM,
				      false, 0));
	EXPECT_EQ(-EOPNOTSUPP, nl_request(&self->nl, self->r,
					  VMX_STATS_CMD_GET_STATS, false, 0));
}

struct event_arg {
	int created, destroyed;
	uint64_t created_id, destroyed_id;
	uint32_t created_pid, destroyed_pid;
};

static void event_parse(struct nlmsghdr *h, struct event_arg *e)
{
	struct reply r = { 0 };

	parse_msg(h, &r);
	if (r.cmd[0] == VMX_STATS_CMD_VM_CREATED) {
		e->created++;
		e->created_id = r.vm[0].id;
		e->created_pid = r.vm[0].pid;
	} else if (r.cmd[0] == VMX_STATS_CMD_VM_DESTROYED) {
		e->destroyed++;
		e->destroyed_id = r.vm[0].id;
		e->destroyed_pid = r.vm[0].pid;
	}
}

static void read_events(int fd, struct event_arg *e)
{
	static char buf[NL_BUF];
	struct nlmsghdr *h;
	int len;

	while ((len = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, len);
		     h = NLMSG_NEXT(h, len))
			event_parse(h, e);
}

TEST_F(stats, events_on_create_and_destroy)
{
	uint32_t grp = self->nl.events_group;
	struct event_arg e = { 0 };
	struct test_vm *t;
	struct nl ev;
	uint64_t id;

	ASSERT_NE(0, grp);
	ASSERT_EQ(0, nl_open(&ev));
	ASSERT_EQ(0, setsockopt(ev.fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP,
				&grp, sizeof(grp)));
	ASSERT_EQ(0, test_vm_create(&t, 1, NULL));
	id = my_newest_vm(&self->nl, self->r);
	ASSERT_NE(0, id);
	test_vm_destroy(t);
	usleep(10000);
	read_events(ev.fd, &e);
	close(ev.fd);

	EXPECT_EQ(1, e.created);
	EXPECT_EQ(id, e.created_id);
	EXPECT_EQ((uint32_t)getpid(), e.created_pid);
	EXPECT_EQ(1, e.destroyed);
	EXPECT_EQ(id, e.destroyed_id);
	EXPECT_EQ((uint32_t)getpid(), e.destroyed_pid);
}

/* Child: 0 if VM @id is invisible and the events group closed to it. */
static int probe_as_nobody(uint64_t id)
{
	struct reply *r = malloc(sizeof(*r));
	struct nl nl;
	uint32_t grp;
	int i;

	if (!r || nl_open(&nl))
		return 10;
	/* Still root: the VM is visible, so the checks below can fail. */
	if (nl_request(&nl, r, VMX_STATS_CMD_GET_VM, false, id) || r->n != 1)
		return 11;
	grp = nl.events_group;
	close(nl.fd);

	if (setgid(65534) || setuid(65534))
		return 12;
	if (nl_open(&nl))
		return 13;
	if (nl_request(&nl, r, VMX_STATS_CMD_GET_VM, true, 0))
		return 14;
	for (i = 0; i < r->n; i++)
		if (r->vm[i].id == id)
			return 15;
	if (nl_request(&nl, r, VMX_STATS_CMD_GET_VM, false, id) != -ENOENT)
		return 16;
	if (nl_request(&nl, r, VMX_STATS_CMD_GET_STATS, true, id) != -ENOENT)
		return 17;
	if (nl_request(&nl, r, VMX_STATS_CMD_GET_STATS, true, 0))
		return 18;
	for (i = 0; i < r->n; i++)
		if (r->ctr[i].vm_id == id)
			return 19;
	if (setsockopt(nl.fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &grp,
		       sizeof(grp)) == 0 || errno != EPERM)
		return 20;
	return 0;
}

TEST_F(stats, other_user_cannot_read)
{
	struct test_vm *t;
	uint64_t id;
	int status;
	pid_t pid;

	if (geteuid() != 0)
		SKIP(return, "needs root to switch to user nobody");
	ASSERT_EQ(0, test_vm_create(&t, 1, NULL));
	id = my_newest_vm(&self->nl, self->r);
	ASSERT_NE(0, id);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(probe_as_nobody(id));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("child check %d failed", WEXITSTATUS(status));
	test_vm_destroy(t);
}

/* vmxstat next to this program's build tree, or in the rig's /examples. */
static const char *find_vmxstat(char *path, size_t len)
{
	static const char *const rel[] = { "/../tools/vmxstat", "/../examples/vmxstat" };
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;
	int i;

	if (getenv("VMXSTAT"))
		return getenv("VMXSTAT");
	if (n <= 0)
		return NULL;
	self[n] = 0;
	slash = strrchr(self, '/');
	if (!slash)
		return NULL;
	*slash = 0;
	for (i = 0; i < 2; i++) {
		snprintf(path, len, "%s%s", self, rel[i]);
		if (access(path, X_OK) == 0)
			return path;
	}
	return NULL;
}

TEST_F(stats, vmxstat_json_names_live_vm)
{
	char path[PATH_MAX], cmd[PATH_MAX + 64], want[64], *out;
	const char *bin = find_vmxstat(path, sizeof(path));
	struct test_vm *t;
	size_t got = 0;
	uint64_t id;
	FILE *p;

	if (!bin)
		SKIP(return, "vmxstat binary not found (set VMXSTAT)");
	out = calloc(1, NL_BUF);
	ASSERT_NE(NULL, out);
	ASSERT_EQ(0, test_vm_create(&t, 2, guest_cpuid_loop));
	ASSERT_UCALL(t->vcpus[0], UCALL_DONE);
	id = my_newest_vm(&self->nl, self->r);
	ASSERT_NE(0, id);

	snprintf(cmd, sizeof(cmd), "%s --once --json -v -d 0.2", bin);
	p = popen(cmd, "r");
	ASSERT_NE(NULL, p);
	while (got < NL_BUF - 1) {
		size_t n = fread(out + got, 1, NL_BUF - 1 - got, p);

		if (!n)
			break;
		got += n;
	}
	EXPECT_EQ(0, pclose(p));
	snprintf(want, sizeof(want), "\"id\": %llu,", (unsigned long long)id);
	EXPECT_NE(NULL, strstr(out, want)) TH_LOG("output: %s", out);
	snprintf(want, sizeof(want), "\"pid\": %d,", getpid());
	EXPECT_NE(NULL, strstr(out, want)) TH_LOG("output: %s", out);
	EXPECT_NE(NULL, strstr(out, "\"vcpus\": [")) TH_LOG("output: %s", out);
	EXPECT_NE(NULL, strstr(out, "\"cpuid\": ")) TH_LOG("output: %s", out);
	/* Into the log: what an operator sees from this rig. */
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
		ksft_print_msg("vmxstat: %s\n", line);
	test_vm_destroy(t);
	free(out);
}

TEST_F(stats, malformed_requests_refused)
{
	uint32_t short_id = 1;
	uint64_t id = 1;

	/* VM_ID must be a u64. */
	EXPECT_EQ(0, nl_send(&self->nl, self->nl.family, 0,
			     VMX_STATS_CMD_GET_VM, VMX_STATS_A_VM_ID,
			     &short_id, sizeof(short_id)));
	EXPECT_EQ(-EINVAL, nl_recv(&self->nl, self->r, NULL, NULL));
	/* Unknown attributes are refused, not ignored. */
	EXPECT_EQ(0, nl_send(&self->nl, self->nl.family, NLM_F_DUMP,
			     VMX_STATS_CMD_GET_STATS, VMX_STATS_A_MAX + 5,
			     &id, sizeof(id)));
	EXPECT_EQ(-EINVAL, nl_recv(&self->nl, self->r, NULL, NULL));
	/* Events are sent by the kernel, not requested. */
	EXPECT_EQ(-EOPNOTSUPP, nl_request(&self->nl, self->r,
					  VMX_STATS_CMD_VM_CREATED, false, id));
}

struct churn {
	volatile int stop;
	int rounds, error;
};

/* VMs with vCPUs come and go while the main thread dumps. */
static void *churn_vms(void *arg)
{
	struct vmx_vcpu_create vc = { 0 };
	struct churn *c = arg;
	int dev = vmx_test_open();

	if (dev < 0) {
		c->error = -errno;
		return NULL;
	}
	while (!c->stop && c->rounds < 200) {
		int vm = create_vm(dev), v0, v1;

		if (vm < 0) {
			c->error = vm;
			break;
		}
		vc.id = 0;
		v0 = ioctl_err(vm, VMX_CREATE_VCPU, &vc);
		vc.id = 1;
		v1 = ioctl_err(vm, VMX_CREATE_VCPU, &vc);
		/* Drop the VM fd first: the vCPUs hold the VM alive. */
		close(vm);
		if (v0 >= 0)
			close(v0);
		if (v1 >= 0)
			close(v1);
		if (v0 < 0 || v1 < 0) {
			c->error = v0 < 0 ? v0 : v1;
			break;
		}
		c->rounds++;
	}
	close(dev);
	return NULL;
}

TEST_F(stats, dumps_race_vm_teardown)
{
	struct churn c = { 0 };
	pthread_t th;
	int dumps = 0, ret;

	ASSERT_EQ(0, pthread_create(&th, NULL, churn_vms, &c));
	while (c.rounds < 50 && !c.error && dumps < 2000) {
		ret = nl_request(&self->nl, self->r, VMX_STATS_CMD_GET_STATS,
				 true, 0);
		ASSERT_EQ(0, ret);
		ret = nl_request(&self->nl, self->r, VMX_STATS_CMD_GET_VM,
				 true, 0);
		ASSERT_EQ(0, ret);
		dumps++;
	}
	c.stop = 1;
	pthread_join(th, NULL);
	EXPECT_EQ(0, c.error);
	EXPECT_GE(c.rounds, 1);
	EXPECT_GE(dumps, 1);
}

TEST_HARNESS_MAIN
