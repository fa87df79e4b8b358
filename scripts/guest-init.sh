#!/bin/busybox sh
# /init of the rig's initramfs.  Everything it prints goes to the serial
# console; lines starting with "@@vmx" are read by scripts/rig-parse.py.
#
# Kernel command line: vmx.mode=test|bench|demo, vmx.timeout=<seconds per program>.

/bin/busybox mkdir -p /proc /sys /dev /tmp
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

mode=test
timeout=300
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	vmx.mode=*) mode=${arg#vmx.mode=} ;;
	vmx.timeout=*) timeout=${arg#vmx.timeout=} ;;
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
	if rmmod vmx; then
		echo "@@vmx unload ok"
	else
		echo "@@vmx unload failed"
	fi
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
demo)
	# Let the module's greeting line reach the console too.
	dmesg | grep 'vmx: .* backend enabled' || true
	run demo /examples/hello
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
