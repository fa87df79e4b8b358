// SPDX-License-Identifier: GPL-2.0
/*
 * vmxstat: per-VM and per-vCPU statistics of the vmx hypervisor, read
 * from its "vmx" generic netlink family (uapi/linux/vmx_stats.h).
 *
 * Each refresh takes two snapshots: the VM list (GET_VM) and every
 * visible VM's counters (GET_STATS); rates are the difference between
 * two refreshes divided by the time between them.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/vmx_stats.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

struct counters {
	uint64_t c[VMX_STATS_C_MAX + 1];
	uint64_t exit_kind[VMX_STATS_EXIT_MAX + 1];
	uint64_t user_exit[VMX_STATS_USER_EXIT_MAX + 1];
	uint64_t injected[VMX_STATS_INJ_MAX + 1];
};

struct vcpu {
	uint32_t id;
	struct counters ctr;
	double exit_rate;
};

struct vm {
	uint64_t id;
	uint32_t pid, uid, nr_vcpus;
	uint64_t mem_bytes, created_ns;
	bool have_stats;
	struct counters ctr;
	int nr_vcpu_stats;
	struct vcpu *vcpus;
	double exit_rate;
};

struct snapshot {
	int nr;
	struct vm *vms;
	double when;		/* CLOCK_MONOTONIC seconds */
};

struct options {
	double interval;
	bool once, json, vcpus, totals;
	int count;
};

static const char *const exit_kind_names[VMX_STATS_EXIT_MAX + 1] = {
	[VMX_STATS_EXIT_CPUID]		= "cpuid",
	[VMX_STATS_EXIT_MSR]		= "msr",
	[VMX_STATS_EXIT_NPF]		= "npf",
	[VMX_STATS_EXIT_HLT]		= "hlt",
	[VMX_STATS_EXIT_IO]		= "io",
	[VMX_STATS_EXIT_MMIO]		= "mmio",
	[VMX_STATS_EXIT_INTR]		= "intr",
	[VMX_STATS_EXIT_IRQ_WINDOW]	= "irq_window",
	[VMX_STATS_EXIT_HYPERCALL]	= "hypercall",
	[VMX_STATS_EXIT_EXCEPTION]	= "exception",
	[VMX_STATS_EXIT_OTHER]		= "other",
};

/* VMX_EXIT_* in uapi/linux/vmx.h. */
static const char *const user_exit_names[VMX_STATS_USER_EXIT_MAX + 1] = {
	[1] = "io", [2] = "mmio", [3] = "hlt", [4] = "shutdown",
	[5] = "hypercall", [6] = "fail_entry", [7] = "internal_error",
	[8] = "intr", [9] = "irq_window", [10] = "msr",
};

static const char *const injected_names[VMX_STATS_INJ_MAX + 1] = {
	[VMX_STATS_INJ_EXCEPTION]	= "exception",
	[VMX_STATS_INJ_NMI]		= "nmi",
	[VMX_STATS_INJ_IRQ]		= "irq",
	[VMX_STATS_INJ_REDELIVERED]	= "redelivered",
};

static const char *const counter_names[VMX_STATS_C_MAX + 1] = {
	[VMX_STATS_C_RUNS]		= "runs",
	[VMX_STATS_C_EXITS]		= "exits",
	[VMX_STATS_C_EXITS_TO_USER]	= "exits_to_user",
	[VMX_STATS_C_NPT_FAULTS]	= "npt_faults",
	[VMX_STATS_C_NPT_FILLED]	= "npt_filled",
	[VMX_STATS_C_HALTS]		= "halts",
	[VMX_STATS_C_HOST_INTR]		= "host_intr",
	[VMX_STATS_C_GUEST_NS]		= "guest_ns",
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *xrealloc(void *p, size_t size)
{
	p = realloc(p, size);
	if (!p) {
		fprintf(stderr, "vmxstat: out of memory\n");
		exit(1);
	}
	return p;
}

static void parse_array(struct nlattr *nest, uint64_t *out, int max)
{
	struct nlattr *a;
	int rem;

	nla_for_each_nested(a, nest, rem)
		if (nla_type(a) <= max && nla_len(a) == 8)
			out[nla_type(a)] = nla_get_u64(a);
}

static void parse_counters(struct nlattr *nest, struct counters *c)
{
	struct nlattr *a;
	int rem;

	memset(c, 0, sizeof(*c));
	nla_for_each_nested(a, nest, rem) {
		int type = nla_type(a);

		if (type == VMX_STATS_C_EXIT_KIND)
			parse_array(a, c->exit_kind, VMX_STATS_EXIT_MAX);
		else if (type == VMX_STATS_C_USER_EXIT)
			parse_array(a, c->user_exit, VMX_STATS_USER_EXIT_MAX);
		else if (type == VMX_STATS_C_INJECTED)
			parse_array(a, c->injected, VMX_STATS_INJ_MAX);
		else if (type <= VMX_STATS_C_MAX && nla_len(a) == 8)
			c->c[type] = nla_get_u64(a);
	}
}

static struct vm *find_vm(struct snapshot *s, uint64_t id)
{
	int i;

	for (i = 0; i < s->nr; i++)
		if (s->vms[i].id == id)
			return &s->vms[i];
	return NULL;
}

static int parse_msg(struct nl_msg *msg, struct nlattr **tb)
{
	return genlmsg_parse(nlmsg_hdr(msg), 0, tb, VMX_STATS_A_MAX, NULL);
}

static int on_vm(struct nl_msg *msg, void *arg)
{
	struct nlattr *tb[VMX_STATS_A_MAX + 1];
	struct snapshot *s = arg;
	struct vm *vm;

	if (parse_msg(msg, tb) || !tb[VMX_STATS_A_VM_ID])
		return NL_SKIP;
	s->vms = xrealloc(s->vms, (s->nr + 1) * sizeof(*s->vms));
	vm = &s->vms[s->nr++];
	memset(vm, 0, sizeof(*vm));
	vm->id = nla_get_u64(tb[VMX_STATS_A_VM_ID]);
	if (tb[VMX_STATS_A_PID])
		vm->pid = nla_get_u32(tb[VMX_STATS_A_PID]);
	if (tb[VMX_STATS_A_UID])
		vm->uid = nla_get_u32(tb[VMX_STATS_A_UID]);
	if (tb[VMX_STATS_A_NR_VCPUS])
		vm->nr_vcpus = nla_get_u32(tb[VMX_STATS_A_NR_VCPUS]);
	if (tb[VMX_STATS_A_MEM_BYTES])
		vm->mem_bytes = nla_get_u64(tb[VMX_STATS_A_MEM_BYTES]);
	if (tb[VMX_STATS_A_CREATED_NS])
		vm->created_ns = nla_get_u64(tb[VMX_STATS_A_CREATED_NS]);
	return NL_OK;
}

static int on_stats(struct nl_msg *msg, void *arg)
{
	struct nlattr *tb[VMX_STATS_A_MAX + 1];
	struct snapshot *s = arg;
	struct vcpu *vcpu;
	struct vm *vm;

	if (parse_msg(msg, tb) || !tb[VMX_STATS_A_VM_ID] ||
	    !tb[VMX_STATS_A_COUNTERS])
		return NL_SKIP;
	/* A VM created between the two dumps is left for the next refresh. */
	vm = find_vm(s, nla_get_u64(tb[VMX_STATS_A_VM_ID]));
	if (!vm)
		return NL_SKIP;
	if (!tb[VMX_STATS_A_VCPU_ID]) {
		parse_counters(tb[VMX_STATS_A_COUNTERS], &vm->ctr);
		vm->have_stats = true;
		return NL_OK;
	}
	vm->vcpus = xrealloc(vm->vcpus, (vm->nr_vcpu_stats + 1) * sizeof(*vcpu));
	vcpu = &vm->vcpus[vm->nr_vcpu_stats++];
	memset(vcpu, 0, sizeof(*vcpu));
	vcpu->id = nla_get_u32(tb[VMX_STATS_A_VCPU_ID]);
	parse_counters(tb[VMX_STATS_A_COUNTERS], &vcpu->ctr);
	return NL_OK;
}

static int dump(struct nl_sock *sk, int family, uint8_t cmd,
		int (*fn)(struct nl_msg *, void *), void *arg)
{
	struct nl_msg *msg = nlmsg_alloc();
	int ret;

	if (!msg)
		return -NLE_NOMEM;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, NLM_F_DUMP,
			 cmd, VMX_STATS_GENL_VERSION)) {
		nlmsg_free(msg);
		return -NLE_NOMEM;
	}
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, fn, arg);
	ret = nl_send_auto(sk, msg);
	nlmsg_free(msg);
	if (ret < 0)
		return ret;
	return nl_recvmsgs_default(sk);
}

static void snapshot_free(struct snapshot *s)
{
	int i;

	for (i = 0; i < s->nr; i++)
		free(s->vms[i].vcpus);
	free(s->vms);
	memset(s, 0, sizeof(*s));
}

static int snapshot_take(struct nl_sock *sk, int family, struct snapshot *s)
{
	int ret;

	memset(s, 0, sizeof(*s));
	s->when = now();
	ret = dump(sk, family, VMX_STATS_CMD_GET_VM, on_vm, s);
	if (!ret)
		ret = dump(sk, family, VMX_STATS_CMD_GET_STATS, on_stats, s);
	if (ret < 0) {
		fprintf(stderr, "vmxstat: reading statistics: %s\n",
			nl_geterror(ret));
		return -1;
	}
	return 0;
}

static struct vcpu *find_vcpu(struct vm *vm, uint32_t id)
{
	int i;

	for (i = 0; vm && i < vm->nr_vcpu_stats; i++)
		if (vm->vcpus[i].id == id)
			return &vm->vcpus[i];
	return NULL;
}

static double rate(uint64_t cur, uint64_t old, double dt)
{
	return dt > 0 && cur >= old ? (cur - old) / dt : 0;
}

/* Exit rates of @cur against @old (a VM new since then: from zero). */
static void compute_rates(struct snapshot *cur, struct snapshot *old)
{
	double dt = old ? cur->when - old->when : 0;
	int i, j;

	for (i = 0; i < cur->nr; i++) {
		struct vm *vm = &cur->vms[i];
		struct vm *ovm = old ? find_vm(old, vm->id) : NULL;

		vm->exit_rate = rate(vm->ctr.c[VMX_STATS_C_EXITS],
				     ovm ? ovm->ctr.c[VMX_STATS_C_EXITS] : 0, dt);
		for (j = 0; j < vm->nr_vcpu_stats; j++) {
			struct vcpu *v = &vm->vcpus[j];
			struct vcpu *ov = find_vcpu(ovm, v->id);

			v->exit_rate = rate(v->ctr.c[VMX_STATS_C_EXITS],
					    ov ? ov->ctr.c[VMX_STATS_C_EXITS] : 0,
					    dt);
		}
	}
}

static int by_rate(const void *a, const void *b)
{
	const struct vm *x = a, *y = b;

	if (x->exit_rate != y->exit_rate)
		return x->exit_rate < y->exit_rate ? 1 : -1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static void json_array(const char *name, const uint64_t *v, int max,
		       const char *const *names, const char *indent)
{
	const char *sep = "";
	int i;

	printf(",\n%s\"%s\": {", indent, name);
	for (i = 1; i <= max; i++) {
		if (names[i])
			printf("%s\"%s\": %llu", sep, names[i], (unsigned long long)v[i]);
		else if (v[i])
			printf("%s\"reason_%d\": %llu", sep, i, (unsigned long long)v[i]);
		else
			continue;
		sep = ", ";
	}
	printf("}");
}

static void json_counters(const struct counters *c, double exit_rate,
			  bool have_rate, const char *indent)
{
	int i;

	printf("{");
	for (i = 1; i <= VMX_STATS_C_MAX; i++)
		if (counter_names[i])
			printf("%s\n%s\"%s\": %llu", i == VMX_STATS_C_RUNS ? "" : ",",
			       indent, counter_names[i], (unsigned long long)c->c[i]);
	json_array("exit_kinds", c->exit_kind, VMX_STATS_EXIT_MAX,
		   exit_kind_names, indent);
	json_array("user_exits", c->user_exit, VMX_STATS_USER_EXIT_MAX,
		   user_exit_names, indent);
	json_array("injected", c->injected, VMX_STATS_INJ_MAX, injected_names,
		   indent);
	if (have_rate)
		printf(",\n%s\"exit_rate\": %.1f", indent, exit_rate);
	printf("}");
}

static void print_json(struct snapshot *s, bool have_rate, double dt)
{
	int i, j;

	printf("{\n  \"interval_s\": %.3f,\n  \"vms\": [", have_rate ? dt : 0.0);
	for (i = 0; i < s->nr; i++) {
		struct vm *vm = &s->vms[i];

		printf("%s\n    {\n", i ? "," : "");
		printf("      \"id\": %llu,\n      \"pid\": %u,\n      \"uid\": %u,\n",
		       (unsigned long long)vm->id, vm->pid, vm->uid);
		printf("      \"nr_vcpus\": %u,\n      \"mem_bytes\": %llu,\n",
		       vm->nr_vcpus, (unsigned long long)vm->mem_bytes);
		printf("      \"created_ns\": %llu,\n      \"counters\": ",
		       (unsigned long long)vm->created_ns);
		json_counters(&vm->ctr, vm->exit_rate, have_rate, "        ");
		printf(",\n      \"vcpus\": [");
		for (j = 0; j < vm->nr_vcpu_stats; j++) {
			struct vcpu *v = &vm->vcpus[j];

			printf("%s\n        {\"id\": %u, \"counters\": ",
			       j ? "," : "", v->id);
			json_counters(&v->ctr, v->exit_rate, have_rate,
				      "          ");
			printf("}");
		}
		printf("%s]\n    }", vm->nr_vcpu_stats ? "\n      " : "");
	}
	printf("%s]\n}\n", s->nr ? "\n  " : "");
}

/* One counter as a rate over @dt, or the total when @dt is 0. */
static double shown(uint64_t cur, uint64_t old, double dt)
{
	return dt > 0 ? rate(cur, old, dt) : (double)cur;
}

static void print_row(const char *label, const struct counters *c,
		      const struct counters *o, double dt)
{
	static const struct counters zero;
	double guest;

	if (!o)
		o = &zero;
	guest = dt > 0 ? rate(c->c[VMX_STATS_C_GUEST_NS],
			      o->c[VMX_STATS_C_GUEST_NS], dt) / 1e7 :
			 c->c[VMX_STATS_C_GUEST_NS] / 1e9;
	printf("%s %10.0f %9.0f %8.0f %8.0f %8.0f %8.0f %8.0f %8.0f %8.0f %7.1f\n",
	       label,
	       shown(c->c[VMX_STATS_C_EXITS], o->c[VMX_STATS_C_EXITS], dt),
	       shown(c->c[VMX_STATS_C_EXITS_TO_USER],
		     o->c[VMX_STATS_C_EXITS_TO_USER], dt),
	       shown(c->exit_kind[VMX_STATS_EXIT_CPUID],
		     o->exit_kind[VMX_STATS_EXIT_CPUID], dt),
	       shown(c->exit_kind[VMX_STATS_EXIT_IO],
		     o->exit_kind[VMX_STATS_EXIT_IO], dt),
	       shown(c->exit_kind[VMX_STATS_EXIT_MMIO],
		     o->exit_kind[VMX_STATS_EXIT_MMIO], dt),
	       shown(c->exit_kind[VMX_STATS_EXIT_NPF],
		     o->exit_kind[VMX_STATS_EXIT_NPF], dt),
	       shown(c->exit_kind[VMX_STATS_EXIT_HLT],
		     o->exit_kind[VMX_STATS_EXIT_HLT], dt),
	       shown(c->exit_kind[VMX_STATS_EXIT_INTR],
		     o->exit_kind[VMX_STATS_EXIT_INTR], dt),
	       shown(c->exit_kind[VMX_STATS_EXIT_MSR],
		     o->exit_kind[VMX_STATS_EXIT_MSR], dt),
	       guest);
}

static void print_table(struct snapshot *s, struct snapshot *old, double dt,
			bool vcpus)
{
	char label[64];
	int i, j;

	if (dt > 0)
		printf("%d VMs, rates per second over %.1f s; GUEST%%: time in guest\n",
		       s->nr, dt);
	else
		printf("%d VMs, totals since creation; GUEST: seconds in guest\n",
		       s->nr);
	printf("%-26s %10s %9s %8s %8s %8s %8s %8s %8s %8s %7s\n",
	       "VM (PID UID VCPUS MEM)", "EXITS", "TO_USER", "CPUID", "IO",
	       "MMIO", "NPF", "HLT", "INTR", "MSR", dt > 0 ? "GUEST%" : "GUEST");
	for (i = 0; i < s->nr; i++) {
		struct vm *vm = &s->vms[i];
		struct vm *ovm = old ? find_vm(old, vm->id) : NULL;

		snprintf(label, sizeof(label), "%-4llu %6u %5u %2u %5lluM",
			 (unsigned long long)vm->id, vm->pid, vm->uid,
			 vm->nr_vcpus, (unsigned long long)(vm->mem_bytes >> 20));
		print_row(label, &vm->ctr, ovm ? &ovm->ctr : NULL, dt);
		for (j = 0; vcpus && j < vm->nr_vcpu_stats; j++) {
			struct vcpu *v = &vm->vcpus[j];
			struct vcpu *ov = find_vcpu(ovm, v->id);

			snprintf(label, sizeof(label), "  vcpu %-19u", v->id);
			print_row(label, &v->ctr, ov ? &ov->ctr : NULL, dt);
		}
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: vmxstat [-d SECONDS] [-v] [-n COUNT] [--once] [--totals] [--json]\n"
		"Statistics of the VMs of the vmx hypervisor, sorted by exit rate.\n\n"
		"  -d, --delay SECONDS  refresh interval (default 2)\n"
		"  -v, --vcpus          one line per vCPU under each VM\n"
		"  -n, --count COUNT    stop after COUNT refreshes\n"
		"  -1, --once           one report: rates over one interval\n"
		"  -t, --totals         counters since creation instead of rates\n"
		"  -j, --json           machine-readable output (implies --once)\n"
		"  -h, --help           this text\n");
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "delay", required_argument, NULL, 'd' },
		{ "vcpus", no_argument, NULL, 'v' },
		{ "count", required_argument, NULL, 'n' },
		{ "once", no_argument, NULL, '1' },
		{ "totals", no_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	char *end;
	int c;

	*o = (struct options){ .interval = 2 };
	while ((c = getopt_long(argc, argv, "d:vn:1tjh", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			o->interval = strtod(optarg, &end);
			if (*end || !(o->interval >= 0) || o->interval > 86400) {
				fprintf(stderr, "vmxstat: bad interval '%s'\n", optarg);
				return -1;
			}
			break;
		case 'n':
			o->count = strtol(optarg, &end, 10);
			if (*end || o->count <= 0) {
				fprintf(stderr, "vmxstat: bad count '%s'\n", optarg);
				return -1;
			}
			break;
		case 'v':
			o->vcpus = true;
			break;
		case '1':
			o->once = true;
			break;
		case 't':
			o->totals = true;
			break;
		case 'j':
			o->json = true;
			o->once = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vmxstat: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (o->once && o->interval == 0)
		o->totals = true;
	return 0;
}

static struct nl_sock *open_family(int *family)
{
	struct nl_sock *sk = nl_socket_alloc();
	int ret;

	if (!sk) {
		fprintf(stderr, "vmxstat: out of memory\n");
		return NULL;
	}
	ret = genl_connect(sk);
	if (ret < 0) {
		fprintf(stderr, "vmxstat: generic netlink: %s\n", nl_geterror(ret));
		nl_socket_free(sk);
		return NULL;
	}
	*family = genl_ctrl_resolve(sk, VMX_STATS_GENL_NAME);
	if (*family < 0) {
		fprintf(stderr, "vmxstat: vmx module not loaded (no netlink family \"%s\")\n",
			VMX_STATS_GENL_NAME);
		nl_socket_free(sk);
		return NULL;
	}
	return sk;
}

static void report(struct options *o, struct snapshot *cur,
		   struct snapshot *old)
{
	double dt = old ? cur->when - old->when : 0;

	compute_rates(cur, old);
	qsort(cur->vms, cur->nr, sizeof(*cur->vms), by_rate);
	if (o->json) {
		print_json(cur, old, dt);
		return;
	}
	if (!o->once)
		printf("\033[H\033[2J");
	print_table(cur, old, old ? dt : 0, o->vcpus);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct snapshot cur = { 0 }, old = { 0 };
	struct options o;
	struct nl_sock *sk;
	int family, n = 0, ret = 1;

	if (parse_options(argc, argv, &o))
		return 2;
	sk = open_family(&family);
	if (!sk)
		return 1;
	if (snapshot_take(sk, family, &cur))
		goto out;
	if (o.totals) {
		report(&o, &cur, NULL);
		ret = 0;
		goto out;
	}
	for (;;) {
		usleep((useconds_t)(o.interval * 1e6));
		snapshot_free(&old);
		old = cur;
		if (snapshot_take(sk, family, &cur))
			goto out;
		report(&o, &cur, &old);
		if (o.once || (o.count && ++n >= o.count))
			break;
	}
	ret = 0;
out:
	snapshot_free(&cur);
	snapshot_free(&old);
	nl_socket_free(sk);
	return ret;
}
