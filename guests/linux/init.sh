#!/bin/busybox sh
# /init of the initramfs vmxrun boots in the rigs (the L2 guest).  It
# checks what a VMM must get right and prints one "@@l2" line per check,
# which the L1 test (selftests/vmxrun_test.sh) reads, then powers off
# through ACPI S5.
#
# Kernel command line: l2.mode=test|demo|measure|panic, l2.cpus=N (expected CPUs),
# l2.mem_mb=N (the --memory given), l2.boot=1|2 (first or second boot of
# the same disk image), l2.peer=IP (the host's end of a tap: ping it;
# without it the guest pings its own address), l2.now=SECONDS (the L1's
# clock when vmxrun started: check the wall clock the RTC gave).
/bin/busybox mkdir -p /proc /sys /dev /tmp
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

mode=test cpus=1 mem_mb=0 boot=1 peer= now=
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	l2.mode=*) mode=${arg#l2.mode=} ;;
	l2.cpus=*) cpus=${arg#l2.cpus=} ;;
	l2.mem_mb=*) mem_mb=${arg#l2.mem_mb=} ;;
	l2.boot=*) boot=${arg#l2.boot=} ;;
	l2.peer=*) peer=${arg#l2.peer=} ;;
	l2.now=*) now=${arg#l2.now=} ;;
	esac
done

check() {	# check NAME CONDITION-RESULT DETAIL
	if [ "$2" = 0 ]; then
		echo "@@l2 ok $1 $3"
	else
		echo "@@l2 fail $1 $3"
	fi
}

# l2.mode=panic: crash the kernel; with panic=-1 it reboots at once.
# Before anything of ours is written to the console: the tty sends it
# from the UART's interrupt, perhaps on the other CPU, and the panic's
# console write does not wait for the port lock (oops_in_progress), so
# the two would interleave on the wire and garble "Kernel panic".
if [ "$mode" = panic ]; then
	echo c >/proc/sysrq-trigger
fi

# Guest seconds from power-on to here (the kernel's own clock).
echo "@@l2 up $(cut -d' ' -f1 /proc/uptime) kernel=$(uname -r)"

# Modules of the virtio stack (=m in Debian's cloud kernels), in order.
for m in $(cat /lib/modules/order 2>/dev/null); do
	insmod "/lib/modules/$m" 2>/dev/null
done

n=$(grep -c '^processor' /proc/cpuinfo)
[ "$n" = "$cpus" ]; check cpus $? "online=$n expected=$cpus"

kb=$(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo)
# MemTotal excludes what the kernel reserved for itself: ask for 80%.
[ "$mem_mb" -gt 0 ] && [ $((kb / 1024)) -ge $((mem_mb * 8 / 10)) ] &&
	[ $((kb / 1024)) -le "$mem_mb" ]
check memory $? "memtotal_kb=$kb expected_mb=$mem_mb"

# The wall clock the kernel read from the CMOS RTC at boot, run on since:
# not before vmxrun started, and not more than a slow boot after.
if [ -n "$now" ]; then
	t=$(date +%s)
	[ $((t - now)) -ge -2 ] && [ $((t - now)) -le 900 ]
	check wall_clock $? "l2=$t l1_at_start=$now"
fi

cs=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)
[ "$cs" = tsc ]; check clocksource $? "clocksource=$cs"
unstable=$(dmesg | grep -m1 -i 'tsc.*unstable\|unstable.*tsc')
[ -z "$unstable" ]; check tsc_stable $? "$unstable"
dmesg | grep -i 'tsc\|clocksource' | head -n 12 | sed 's/^/@@l2 info /'

# The disk: the first boot writes a stamp and syncs; the second reads it.
if [ -b /dev/vda ]; then
	if [ "$boot" = 1 ]; then
		stamp="vmxrun-$(cat /proc/sys/kernel/random/uuid)"
		echo "$stamp" | dd of=/dev/vda bs=512 seek=8 conv=fsync 2>/dev/null
		got=$(dd if=/dev/vda bs=512 skip=8 count=1 iflag=direct 2>/dev/null | head -n1)
		[ "$got" = "$stamp" ]; check disk_rw $? "stamp=$stamp"
	else
		got=$(dd if=/dev/vda bs=512 skip=8 count=1 2>/dev/null | head -n1)
		case "$got" in vmxrun-*) r=0 ;; *) r=1 ;; esac
		check disk_persist $r "stamp=$got"
	fi
else
	check disk 1 "no /dev/vda"
fi

if [ -d /sys/class/net/eth0 ]; then
	# Without a tap, the guest pings its own address (over loopback);
	# with one, the host's end: the frames cross vmxrun both ways.
	ip link set lo up && ip addr add 10.0.2.15/24 dev eth0 &&
		ip link set eth0 up && ping -c 2 -W 5 "${peer:-10.0.2.15}" >/tmp/ping 2>&1
	r=$?
	[ $r = 0 ] || sed 's/^/@@l2 info ping: /' /tmp/ping
	check net $r "eth0 $(cat /sys/class/net/eth0/address) ping ${peer:-10.0.2.15}"
else
	check net 1 "no eth0"
fi

echo "@@l2 irqs $(grep -E 'LOC|ttyS|virtio' /proc/interrupts | tr -s ' ' | tr '\n' ';')"

if [ "$mode" = demo ]; then
	echo "demo: a shell command inside the nested Linux guest:"
	echo "\$ uname -a; nproc; head -n1 /proc/meminfo"
	uname -a
	nproc
	head -n1 /proc/meminfo
fi

# l2.mode=measure: an idle phase, then a busy one (a CPU-bound task and
# direct disk reads), while the L1 test samples the exit rates.
if [ "$mode" = measure ]; then
	echo "@@l2 idle"
	sleep 12
	echo "@@l2 busy"
	(while :; do :; done) &
	spin=$!
	end=$(($(cut -d. -f1 /proc/uptime) + 12))
	while [ "$(cut -d. -f1 /proc/uptime)" -lt $end ]; do
		dd if=/dev/vda of=/dev/null bs=4k count=256 iflag=direct 2>/dev/null
	done
	kill $spin
	echo "@@l2 measured"
fi

echo "@@l2 done $(cut -d' ' -f1 /proc/uptime)"
poweroff -f
