#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make bench: vmx.ko against Debian's KVM, the same workloads (hvbench) in
# the same boot of each rig, then the table, build/bench/results.json and
# build/bench/ratios.png (bench/report.py).
#
#   bench/run.sh            SVM 6.1 (QEMU -icount) and VMX 6.1 (Bochs)
#   bench/run.sh --smoke    SVM 6.1 only, tiny counts; fails unless every
#                           workload has a figure for both sides
#   bench/run.sh RIG KVER   one rig
#
# Figures are guest time of the rig (QEMU -icount shift=0: 1 ns = one
# instruction; Bochs: ips=50M, clock sync=none).  The host wall clock of
# each boot is printed as well, for information only.
# VMX_HVBENCH_ARGS_SVM / VMX_HVBENCH_ARGS_VMX override the counts.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
kconfig_args="CONFIG_VMX_HV=m CONFIG_VMX_HV_SVM=y CONFIG_VMX_HV_INTEL=y VMX_OUT_OF_TREE=1"
out="$top/build/bench"
smoke=0
rigs=("svm 6.1" "vmx 6.1")
if [ "${1:-}" = --smoke ]; then
	# Apart, so that make check leaves make bench's results alone.
	smoke=1
	rigs=("svm 6.1")
	out="$top/build/bench/smoke"
elif [ $# -ge 2 ]; then
	rigs=("$1 $2")
fi

# Exits per workload, MiB touched, VMs for the lifecycle/memory figures.
args_for() {
	if [ "$smoke" = 1 ]; then
		echo "-n 20 -m 4 -k 2"
	elif [ "$1" = svm ]; then
		echo "${VMX_HVBENCH_ARGS_SVM:--n 2000 -m 64 -k 8}"
	else
		echo "${VMX_HVBENCH_ARGS_VMX:--n 1000 -m 64 -k 4}"
	fi
}

build() {
	bash scripts/kbuild.sh "$1" "$kconfig_args" >/dev/null
	make -s libvmx selftests examples >/dev/null
	make -s -C bench >/dev/null
}

mkdir -p "$out"
logs=()
for r in "${rigs[@]}"; do
	read -r rig kver <<<"$r"
	build "$kver"
	start=$(date +%s)
	VMX_BENCH_PROGS=hvbench VMX_HVBENCH_ARGS="$(args_for "$rig")" \
		bash scripts/rig.sh "$rig" "$kver" bench >"$out/$rig-$kver.rig.log" 2>&1 ||
		echo "bench: $rig-$kver: the rig did not finish cleanly (build/bench/$rig-$kver.rig.log)"
	cp "build/rig/$rig-$kver-bench/serial.log" "$out/$rig-$kver.serial.log"
	grep -a 'hvbench: .*: ' "$out/$rig-$kver.serial.log" || true
	echo "bench: $rig-$kver: host wall clock $(( $(date +%s) - start ))s (not a figure)"
	logs+=("$rig-$kver=$out/$rig-$kver.serial.log")
done
check=()
[ "$smoke" = 1 ] && check=(--check)
python3 bench/report.py "${check[@]}" --out "$out" "${logs[@]}"
