#!/bin/sh
# vmxrun in the rig: try vmxrun's errors, run the project's multiboot
# kernel (fw_cfg, exit port, AP start-ups), drive the console from a
# terminal, boot the rig's own Debian kernel as a nested guest
# (guests/linux/init.sh checks CPUs, memory, clock, disk, net and powers
# off), boot it again on a tap to read back what the first boot synced,
# panic a guest kernel (its reboot must end vmxrun) and check vmxrun's
# signals.  TAP on stdout.
#
# Files (put there by scripts/rig.sh): /examples/vmxrun, /guest/vmlinuz,
# /guest/initrd.img, /guest/mbtest.elf, /lib/modules/tun.ko, and
# /tests/ptyrun (from make selftests); /examples/vmxstat for
# VMXRUN_MEASURE.  VMXRUN_BOOT_TIMEOUT: seconds per boot (default 400).
# The rig's guests mode sets VMXRUN_STRESS (more boots) and
# VMXRUN_MEASURE (exit rates of an idle and a busy guest).
VMXRUN=${VMXRUN:-/examples/vmxrun}
PTYRUN=${PTYRUN:-$(dirname "$0")/ptyrun}
G=${VMXRUN_GUEST_DIR:-/guest}
BOOT_TIMEOUT=${VMXRUN_BOOT_TIMEOUT:-400}
DISK=/tmp/vmxrun-disk.img
OUT=/tmp/vmxrun-out.txt
n=0
failed=0

tap() {		# tap 0|1 description
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n $2"
	else
		echo "not ok $n $2"
		failed=$((failed + 1))
	fi
}

skip() {
	n=$((n + 1))
	echo "ok $n $1 # SKIP $2"
}

# vmxrun with stdin closed; its output in $OUT, its status in $rc.
vmxrun() {
	# TERM first: vmxrun then says where each vCPU was.
	timeout -s TERM -k 10 "$BOOT_TIMEOUT" "$VMXRUN" "$@" </dev/null >"$OUT" 2>&1
	rc=$?
}

# expect_error STATUS "stderr text" args...: a refused start-up.
expect_error() {
	want=$1 text=$2
	shift 2
	vmxrun "$@"
	[ "$rc" = "$want" ] && grep -q "$text" "$OUT"
	r=$?
	[ $r = 0 ] || sed 's/^/# /' "$OUT" | head -n 5
	tap $r "vmxrun $* -> status $want, '$text' (got $rc)"
}

# The @@l2 lines of one boot as TAP, with the boot time as a comment.
l2_results() {	# l2_results LABEL
	up=$(sed -n 's/^@@l2 up \([0-9.]*\).*/\1/p' "$OUT" | head -n 1)
	if [ -n "$up" ]; then
		echo "# $1: /init reached after $up guest seconds"
		tap 0 "$1: the kernel reached /init"
	else
		tail -n 30 "$OUT" | sed 's/^/# /'
		tap 1 "$1: the kernel reached /init"
	fi
	grep -a '^@@l2 \(ok\|fail\)' "$OUT" | while read -r _ res name detail; do
		if [ "$res" = ok ]; then
			echo "ok - $1: $name $detail"
		else
			echo "not ok - $1: $name $detail"
		fi
	done >/tmp/vmxrun-l2.tap
	while read -r res _ rest; do
		[ "$res" = ok ]; tap $? "$rest"
	done </tmp/vmxrun-l2.tap
	grep -a '^@@l2 \(irqs\|info\)' "$OUT" | sed 's/^/# /'
	grep -q '^@@l2 done' "$OUT"; tap $? "$1: /init finished"
	[ "$rc" = 0 ]; tap $? "$1: poweroff ends vmxrun with status 0 (got $rc)"
}

# tsc=reliable: the rigs' L1 kernels have no invariant TSC (neither QEMU's
# TCG nor Bochs advertises one, and L1 boots with tsc=unstable), so vmx
# rightly leaves CPUID 0x80000007 EDX[8] out of its default and a non-Intel
# SMP guest would then call its TSCs unsynchronized and fall back to
# jiffies.  On a host with an invariant TSC the guest is told through CPUID
# and needs no flag.  The vCPUs share one TSC offset either way.
linux_boot() {	# linux_boot BOOT-NUMBER NET [L2-ARGS]
	vmxrun --kernel "$G/vmlinuz" --initrd "$G/initrd.img" --cpus 2 \
		--memory 256M --disk "$DISK" --net "$2" \
		--cmdline "console=ttyS0 quiet panic=-1 tsc=reliable l2.cpus=2 l2.mem_mb=256 l2.boot=$1 l2.now=$(date +%s) $3"
}

# The host's end of the tap once vmxrun has created it (in the background).
tap_configure() {	# tap_configure NAME ADDRESS/PREFIX
	i=0
	while [ ! -d "/sys/class/net/$1" ] && [ $i -lt 60 ]; do
		sleep 1
		i=$((i + 1))
	done
	ip addr add "$2" dev "$1" && ip link set "$1" up
}

if [ ! -x "$VMXRUN" ] || [ ! -f "$G/vmlinuz" ]; then
	echo "1..1"
	echo "ok 1 vmxrun # SKIP $VMXRUN or $G/vmlinuz missing from the rig"
	exit 0
fi

# Errors first: each must be refused before any guest runs.
expect_error 2 "no --kernel" --memory 64M
expect_error 2 "No such file" --kernel /nonexistent
expect_error 2 "not a bzImage" --kernel /init
head -c 8192 "$G/vmlinuz" >/tmp/truncated.bzImage
expect_error 2 "truncated" --kernel /tmp/truncated.bzImage
expect_error 2 "32M to 3G" --kernel "$G/vmlinuz" --memory 1M
expect_error 2 "1 to 64" --kernel "$G/vmlinuz" --cpus 0
expect_error 2 "disk" --kernel "$G/vmlinuz" --disk /nonexistent.img
expect_error 2 "at most 15 characters" --kernel "$G/vmlinuz" --net vmxtap0123456789

if [ -f "$G/mbtest.elf" ]; then
	vmxrun --kernel "$G/mbtest.elf" --cpus 2 --memory 64M --cmdline "hello"
	grep -q 'mbtest: cpus=2 ' "$OUT" && [ "$rc" = 1 ]
	r=$?
	[ $r = 0 ] || sed 's/^/# /' "$OUT" | tail -n 10
	tap $r "multiboot: fw_cfg and multiboot info read, exit port 0 -> status 1 (got $rc)"
	vmxrun --kernel "$G/mbtest.elf" --memory 64M --cmdline "exit=3"
	[ "$rc" = 7 ]; tap $? "multiboot: exit port 3 -> status 7 (got $rc)"
	# INIT, SIPI, SIPI back to back, 20 times, as Linux starts its APs:
	# a SIPI that arrives before the AP's thread saw the INIT must count.
	vmxrun --kernel "$G/mbtest.elf" --cpus 2 --memory 64M --cmdline "smp"
	grep -q 'mbtest: smp 20 of 20 starts' "$OUT" && [ "$rc" = 1 ]
	r=$?
	[ $r = 0 ] || sed 's/^/# /' "$OUT" | tail -n 10
	tap $r "multiboot: an AP starts at each of 20 INIT-SIPI-SIPI (got $rc)"
else
	skip "multiboot" "$G/mbtest.elf missing"
fi

# The console on a terminal (ptyrun gives vmxrun one): bytes typed reach
# the guest's UART, Ctrl-A x quits with status 0.
if [ -f "$G/mbtest.elf" ] && [ -x "$PTYRUN" ]; then
	timeout -s TERM -k 10 120 "$PTYRUN" "waiting for input" "hi" \
		"mbtest: got i" "^Ax" -- "$VMXRUN" --kernel "$G/mbtest.elf" --memory 64M --cmdline wait \
		</dev/null >"$OUT" 2>&1
	rc=$?
	grep -q 'mbtest: got h' "$OUT" && grep -q 'mbtest: got i' "$OUT" && [ "$rc" = 0 ]
	r=$?
	[ $r = 0 ] || sed 's/^/# /' "$OUT" | tail -n 10
	tap $r "console: typed bytes reach the guest, Ctrl-A x quits with status 0 (got $rc)"
else
	skip "console" "$G/mbtest.elf or $PTYRUN missing"
fi

dd if=/dev/zero of="$DISK" bs=1M count=8 2>/dev/null
linux_boot 1 none
l2_results "boot 1"
# The second boot's network is a tap (vmxrun creates it) whose host end
# the guest pings.
[ -e /dev/net/tun ] || insmod /lib/modules/tun.ko 2>/dev/null
tap_configure vmxtap0 10.0.2.2/24 &
linux_boot 2 vmxtap0 l2.peer=10.0.2.2
wait
l2_results "boot 2"

# A kernel panic with panic=-1 reboots, which ends vmxrun with status 0.
saved_timeout=$BOOT_TIMEOUT
BOOT_TIMEOUT=150
vmxrun --kernel "$G/vmlinuz" --initrd "$G/initrd.img" --cpus 2 \
	--memory 128M --net none --cmdline "console=ttyS0 quiet panic=-1 tsc=reliable l2.mode=panic"
BOOT_TIMEOUT=$saved_timeout
grep -q 'Kernel panic - not syncing' "$OUT" && [ "$rc" = 0 ]
r=$?
[ $r = 0 ] || tail -n 15 "$OUT" | sed 's/^/# /'
tap $r "a guest kernel panic (panic=-1) reboots: vmxrun ends with status 0 (got $rc)"

# Signals: SIGUSR1 reports each vCPU and goes on, SIGTERM stops with 143.
"$VMXRUN" --kernel "$G/vmlinuz" --initrd "$G/initrd.img" --cpus 2 \
	--memory 128M --cmdline "console=ttyS0 quiet" </dev/null >"$OUT" 2>&1 &
pid=$!
sleep 2
kill -USR1 $pid
sleep 1
kill -TERM $pid
wait $pid
rc=$?
lines=$(grep -c '^vmxrun: vCPU [01]: .* exits, the last' "$OUT")
[ "$rc" = 143 ] && [ "$lines" = 4 ] && grep -q 'stopped by signal 15' "$OUT"
r=$?
[ $r = 0 ] || grep '^vmxrun' "$OUT" | sed 's/^/# /'
tap $r "SIGUSR1 reports 2 vCPUs and runs on, SIGTERM reports and stops with 143 (got $rc, $lines lines)"

# VMXRUN_MEASURE=1 (the rig's guests mode): exit rates of an idle and a
# busy nested Linux, as vmxstat shows them (figures, not a check).
wait_for() {	# wait_for PATTERN SECONDS
	i=0
	while ! grep -q "$1" "$OUT" && [ $i -lt "$2" ]; do
		sleep 1
		i=$((i + 1))
	done
	grep -q "$1" "$OUT"
}
if [ "${VMXRUN_MEASURE:-0}" = 1 ] && [ -x /examples/vmxstat ]; then
	"$VMXRUN" --kernel "$G/vmlinuz" --initrd "$G/initrd.img" --cpus 2 \
		--memory 256M --disk "$DISK" --net none --cmdline \
		"console=ttyS0 quiet panic=-1 tsc=reliable l2.cpus=2 l2.mem_mb=256 l2.boot=2 l2.mode=measure" \
		</dev/null >"$OUT" 2>&1 &
	pid=$!
	for phase in idle busy; do
		if wait_for "^@@l2 $phase" "$BOOT_TIMEOUT"; then
			sleep 2
			echo "# exit rates, $phase nested Linux (2 vCPUs):"
			/examples/vmxstat --once -v -d 8 | sed 's/^/#   /'
		fi
	done
	wait $pid
fi

# VMXRUN_STRESS=N (the rig's guests mode): N more boots, one TAP line
# each, the failed ones with the end of their console.
i=0
while [ "$i" -lt "${VMXRUN_STRESS:-0}" ]; do
	i=$((i + 1))
	linux_boot 1 none
	grep -q '^@@l2 done' "$OUT" && ! grep -q '^@@l2 fail' "$OUT" && [ "$rc" = 0 ]
	r=$?
	[ $r = 0 ] || tail -n 40 "$OUT" | sed 's/^/# /'
	tap $r "stress boot $i of $VMXRUN_STRESS (status $rc)"
done

echo "1..$n"
[ "$failed" = 0 ]
