#!/bin/busybox sh
# /init of the rig's initramfs.  Everything it prints goes to the serial
# console; lines starting with "@@vmx" are read by scripts/rig-parse.py.
#
# Kernel command line: vmx.mode=test|bench|fuzz|demo|guests, vmx.timeout=<seconds
# per program>, vmx.fuzz_time=<seconds of tools/vmxfuzz, 0: none>,
# vmx.fuzz_seed=<N>, vmx.fuzz_threads=<N>, vmx.fuzz_disable=<class,...>,
# vmx.fuzz_verbose=1, vmx.fuzz_replay=<mode:hex>,
# vmx.leak_slab_kb and vmx.leak_free_kb (how much
# unreclaimable slab may grow and free memory shrink across the module's
# life before the leak check fails), vmx.stress=<nested Linux boots that
# guests mode adds to vmxrun_test>.

/bin/busybox mkdir -p /proc /sys /dev /tmp
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# Pseudo-terminals, for vmxrun_test's console test (selftests/helpers/ptyrun.c).
mkdir -p /dev/pts
mount -t devpts -o ptmxmode=0666 devpts /dev/pts
[ -e /dev/ptmx ] || ln -s pts/ptmx /dev/ptmx

mode=test
timeout=300
fuzz_time=0
fuzz_seed=1
fuzz_threads=3
fuzz_disable=
fuzz_verbose=
fuzz_replay=
leak_slab_kb=2048
leak_free_kb=32768
stress=0
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	vmx.mode=*) mode=${arg#vmx.mode=} ;;
	vmx.timeout=*) timeout=${arg#vmx.timeout=} ;;
	vmx.fuzz_time=*) fuzz_time=${arg#vmx.fuzz_time=} ;;
	vmx.fuzz_seed=*) fuzz_seed=${arg#vmx.fuzz_seed=} ;;
	vmx.fuzz_threads=*) fuzz_threads=${arg#vmx.fuzz_threads=} ;;
	vmx.fuzz_disable=*) fuzz_disable=${arg#vmx.fuzz_disable=} ;;
	vmx.fuzz_verbose=1) fuzz_verbose=--verbose ;;
	vmx.fuzz_replay=*) fuzz_replay=${arg#vmx.fuzz_replay=} ;;
	vmx.leak_slab_kb=*) leak_slab_kb=${arg#vmx.leak_slab_kb=} ;;
	vmx.leak_free_kb=*) leak_free_kb=${arg#vmx.leak_free_kb=} ;;
	vmx.stress=*) stress=${arg#vmx.stress=} ;;
	esac
done

echo "@@vmx guest-up kernel=$(uname -r) cpus=$(nproc) mode=$mode"

# Run one program, bracketed by markers carrying its exit code.
run() {
	name=$1
	shift
	echo "@@vmx begin $name"
	timeout -s KILL "$timeout" "$@"
	rc=$?
	echo "@@vmx end $name rc=$rc"
}

# hvbench on vmx.ko, then on Debian's KVM, in this same boot.
compare() {
	args=$(cat /bench/hvbench.args)
	# shellcheck disable=SC2086
	insmod /lib/modules/vmx.ko && run hvbench-vmx /bench/hvbench vmx $args
	rmmod vmx
	kvm=$(cat /lib/modules/kvm/order)
	for m in $kvm; do
		insmod "$m" || echo "hvbench: insmod $m failed"
	done
	# shellcheck disable=SC2086
	run hvbench-kvm /bench/hvbench kvm $args
	rev=""
	for m in $kvm; do
		m=${m##*/}
		rev="$(echo "${m%.ko}" | tr - _) $rev"
	done
	for m in $rev; do
		rmmod "$m"
	done
}

# The leak check's view of kernel memory: caches dropped twice, with time
# in between for RCU-freed objects and per-CPU lists to drain.
settle() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
	sleep 2
	echo 3 >/proc/sys/vm/drop_caches
	sleep 1
}

meminfo_kb() {
	awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo
}

# "name active_objs objsize" of the kmalloc and vmx slab caches.
slab_snapshot() {
	grep -E '^(kmalloc|vmx)' /proc/slabinfo | awk '{ print $1, $2, $4 }'
}

# The leak check, as a TAP program: unreclaimable slab and free memory
# after the module's last unload against before its first load.
leakcheck() {
	local slab1 free1 dslab dfree
	settle
	slab1=$(meminfo_kb SUnreclaim)
	free1=$(meminfo_kb MemFree)
	dslab=$((slab1 - slab0))
	dfree=$((free0 - free1))
	echo "@@vmx begin leakcheck"
	echo "1..2"
	echo "# SUnreclaim ${slab0} -> ${slab1} kB, MemFree ${free0} -> ${free1} kB"
	slab_snapshot >/tmp/slab1
	# Caches whose live objects grew, largest growth in bytes first.
	awk 'NR == FNR { n[$1] = $2; next }
	     ($2 - n[$1]) * $3 > 0 { printf "%d %s +%d objs\n", ($2 - n[$1]) * $3, $1, $2 - n[$1] }' \
		/tmp/slab0 /tmp/slab1 | sort -rn | head -n 8 |
		awk '{ printf "# slab %s %s %s (%d bytes)\n", $2, $3, $4, $1 }'
	if [ "$dslab" -le "$leak_slab_kb" ]; then ok=ok; else ok="not ok"; fi
	echo "$ok 1 leakcheck SUnreclaim grew ${dslab} kB after unload (limit ${leak_slab_kb} kB)"
	if [ "$dfree" -le "$leak_free_kb" ]; then ok=ok; else ok="not ok"; fi
	echo "$ok 2 leakcheck MemFree shrank ${dfree} kB after unload (limit ${leak_free_kb} kB)"
	echo "@@vmx end leakcheck rc=0"
}

# The fuzzer, bounded: its own time limit plus a margin to stop.
fuzz() {
	[ "$fuzz_time" -gt 0 ] && [ -x /tests/vmxfuzz ] || return 0
	echo "@@vmx begin vmxfuzz"
	timeout -s KILL $((fuzz_time + 60)) /tests/vmxfuzz --seed "$fuzz_seed" \
		--time "$fuzz_time" --threads "$fuzz_threads" \
		${fuzz_disable:+--disable "$fuzz_disable"} $fuzz_verbose \
		${fuzz_replay:+--replay "$fuzz_replay"}
	rc=$?
	echo "@@vmx end vmxfuzz rc=$rc"
}

unload() {
	if rmmod vmx; then
		echo "@@vmx unload ok"
	else
		echo "@@vmx unload failed"
	fi
}

# The QEMU rig pins the preempt-notifier static key (vmx_rig_pin.c says
# why); loaded before the baselines so the leak check does not see it.
if [ -f /lib/modules/vmx_rig_pin.ko ]; then
	insmod /lib/modules/vmx_rig_pin.ko || echo "@@vmx rig_pin failed"
fi
settle
slab0=$(meminfo_kb SUnreclaim)
free0=$(meminfo_kb MemFree)
slab_snapshot >/tmp/slab0

if insmod /lib/modules/vmx.ko; then
	echo "@@vmx insmod ok"
else
	echo "@@vmx insmod failed"
fi

case "$mode" in
test)
	for t in $(cat /tests/loaded); do
		run "$t" "/tests/$t"
	done
	fuzz
	unload
	leakcheck
	export VMX_KO=/lib/modules/vmx.ko VMX_HOG_KO=/lib/modules/vmx_hog.ko
	export KVM_KOS="$(cat /lib/modules/kvm/order)"
	for t in $(cat /tests/unloaded); do
		run "$t" "/tests/$t"
	done
	if [ -e /sys/module/vmx ] && ! rmmod vmx; then
		echo "@@vmx unload failed"
	fi
	;;
bench)
	# One insmod per line of /bench/runs (module parameters).
	rmmod vmx
	while IFS= read -r params; do
		echo "@@vmx bench params: ${params:-(defaults)}"
		# shellcheck disable=SC2086
		insmod /lib/modules/vmx.ko $params || continue
		for b in $(cat /bench/progs); do
			[ "$b" = hvbench ] || run bench "/bench/$b"
		done
		rmmod vmx
	done </bench/runs
	[ -x /bench/hvbench ] && compare
	echo "@@vmx bench done"
	;;
fuzz)
	fuzz
	unload
	leakcheck
	;;
guests)
	# vmxrun_test with more nested Linux boots after it.
	export VMXRUN_STRESS=$stress VMXRUN_MEASURE=1
	for t in $(cat /tests/loaded); do
		run "$t" "/tests/$t"
	done
	unload
	leakcheck
	;;
demo)
	# Let the module's greeting line reach the console too.
	dmesg | grep 'vmx: .* backend enabled' || true
	run hello /examples/hello
	# The main job: an unmodified Linux on vmx.ko, console on the serial line.
	echo "demo: vmxrun boots Debian's $(uname -r) kernel on vmx.ko (2 vCPUs)"
	dd if=/dev/zero of=/tmp/demo-disk.img bs=1M count=8 2>/dev/null
	run demo /examples/vmxrun --kernel /guest/vmlinuz \
		--initrd /guest/initrd.img --cpus 2 --memory 192M \
		--disk /tmp/demo-disk.img --net none --cmdline \
		"console=ttyS0 panic=-1 loglevel=4 pci=off tsc=reliable l2.mode=demo l2.cpus=2 l2.mem_mb=192 l2.now=$(date +%s)" </dev/null
	rmmod vmx
	;;
esac

echo "@@vmx dmesg-begin"
dmesg
echo "@@vmx dmesg-end"
echo "@@vmx guest-done"
# Let the serial line drain: the emulators drop what is still queued.
sleep 2
poweroff -f
