#!/usr/bin/env bash
# The test suite.  "check.sh all" is what `make check` and CI run:
# set-up, host unit tests, builds against both kernels, style checks, the
# SVM rig on 6.1 and 6.12 and the VMX rig on 6.1.  Ends with one line
# "N passed, N failed, N skipped" over everything it ran.
#
#   check.sh all | unit | build | style | bench | svm KVER | vmx KVER | fuzz KVER
#
# "fuzz" runs only tools/vmxfuzz (and the leak check) in the SVM rig,
# VMX_FUZZ_TIME seconds (default 300) with VMX_FUZZ_SEED.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
logs="$top/build/check/logs"
mkdir -p "$logs"

passed=0
failed=0
skipped=0
kconfig_args="CONFIG_VMX_HV=m CONFIG_VMX_HV_SVM=y CONFIG_VMX_HV_INTEL=y VMX_OUT_OF_TREE=1"

# step NAME CMD...: one pass/fail item; output kept in build/check/logs/.
step() {
	local name=$1 start
	shift
	start=$(date +%s)
	if "$@" >"$logs/$name.log" 2>&1; then
		passed=$((passed + 1))
		printf 'PASS %-28s %4ss\n' "$name" $(($(date +%s) - start))
	else
		failed=$((failed + 1))
		printf 'FAIL %-28s %4ss  (build/check/logs/%s.log)\n' "$name" \
			$(($(date +%s) - start)) "$name"
		tail -n 15 "$logs/$name.log" | sed 's/^/    /'
	fi
}

# Add the counts of a TAP stream (kselftest harness) on stdin.
add_tap_counts() {
	local p f s
	read -r p f s < <(awk '
		/^ok [0-9]+ .*# SKIP/ { s++; next }
		/^ok [0-9]+/ { p++ }
		/^not ok [0-9]+/ { f++ }
		END { print p + 0, f + 0, s + 0 }')
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
}

# Fail on any output: for tools that print only problems.
silent() {
	local out
	out=$("$@" 2>&1)
	local rc=$?
	[ -n "$out" ] && printf '%s\n' "$out"
	[ $rc -eq 0 ] && [ -z "$out" ]
}

run_setup() {
	bash scripts/setup.sh || { echo "setup failed" >&2; exit 1; }
}

run_unit() {
	if ! make -s libvmx >"$logs/unit-build.log" 2>&1 ||
	   ! make -s -C libvmx/tests >>"$logs/unit-build.log" 2>&1; then
		failed=$((failed + 1))
		echo "FAIL unit tests do not build (build/check/logs/unit-build.log)"
		return
	fi
	local t
	for t in build/libvmx-tests/*_test; do
		"$t" >"$logs/unit-$(basename "$t").log" 2>&1
		local rc=$?
		add_tap_counts <"$logs/unit-$(basename "$t").log"
		grep '^not ok' "$logs/unit-$(basename "$t").log" | sed "s|^|FAIL $(basename "$t"): |"
		if [ $rc -ne 0 ] && ! grep -q '^not ok' "$logs/unit-$(basename "$t").log"; then
			failed=$((failed + 1))
			echo "FAIL $(basename "$t") exited $rc"
		fi
	done
	step kconfig-consistent bash scripts/check-kconfig.sh
	# A bounded libFuzzer run over the instruction assist (ASan+UBSan).
	step fuzz-assist make -s -C libvmx/tests fuzz FUZZ_TIME="${VMX_FUZZ_TIME:-30}"
}

sparse_build() {
	# C=2: check every file; sparse prints only problems.
	silent bash scripts/kbuild.sh "$1" "$kconfig_args C=2"
}

run_build() {
	local kver
	for kver in 6.1 6.12; do
		step "kmod-$kver" bash scripts/kbuild.sh "$kver" "$kconfig_args"
	done
	step kmod-KDIR make -s kmod KDIR="$top/build/kernels/6.12/headers"
	step kmod-svm-only bash scripts/kbuild-variant.sh 6.1 svm-only \
		"CONFIG_VMX_HV=m CONFIG_VMX_HV_SVM=y CONFIG_VMX_HV_INTEL=n VMX_OUT_OF_TREE=1"
	step kmod-intel-only bash scripts/kbuild-variant.sh 6.1 intel-only \
		"CONFIG_VMX_HV=m CONFIG_VMX_HV_SVM=n CONFIG_VMX_HV_INTEL=y VMX_OUT_OF_TREE=1"
	step libvmx make -s libvmx
	step selftests make -s selftests
	step examples make -s examples
	step tools make -s tools
	step guests make -s guests
	step install-pkgconfig bash scripts/check-install.sh
}

run_style() {
	local cp="$top/build/kernels/6.12/src/scripts/checkpatch.pl"
	# shellcheck disable=SC2046
	step checkpatch perl "$cp" --no-tree -q --terse --strict -f \
		$(git ls-files 'kmod/*.[ch]' 'uapi/*.h' 'selftests/modules/*.c')
	for kver in 6.1 6.12; do
		step "sparse-$kver" sparse_build "$kver"
	done
}

# run_rig RIG KVER [MODE]: the rig's TAP counts into the totals.
run_rig() {
	local rig=$1 kver=$2 mode=${3:-test} counts p f s name
	name=$rig-$kver$([ "$mode" = guests ] && echo -guests)
	if ! bash scripts/kbuild.sh "$kver" "$kconfig_args" >"$logs/rig-build-$kver.log" 2>&1 ||
	   ! make -s selftests examples tools guests >>"$logs/rig-build-$kver.log" 2>&1; then
		failed=$((failed + 1))
		echo "FAIL $rig-$kver: build (build/check/logs/rig-build-$kver.log)"
		return
	fi
	rm -f "build/check/$name.counts"
	bash scripts/rig.sh "$rig" "$kver" "$mode"
	counts="build/check/$name.counts"
	if [ ! -f "$counts" ]; then
		failed=$((failed + 1))
		echo "FAIL $name: the rig produced no results"
		return
	fi
	read -r p f s <"$counts"
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
}

# hvbench in the SVM rig with tiny counts: every figure, both sides.
run_bench_smoke() {
	step bench-smoke-svm-6.1 bash bench/run.sh --smoke
}

main() {
	local what=${1:-all}
	run_setup
	case "$what" in
	all)
		run_unit
		run_build
		run_style
		run_rig svm 6.1
		run_bench_smoke
		run_rig svm 6.12
		run_rig vmx 6.1
		;;
	unit) run_unit ;;
	build) run_build ;;
	style) run_style ;;
	bench) run_bench_smoke ;;
	svm|vmx) run_rig "$what" "${2:-6.1}" "${3:-test}" ;;
	fuzz) run_rig svm "${2:-6.1}" fuzz ;;
	*) echo "usage: check.sh all|unit|build|style|bench|svm KVER [guests]|vmx KVER [guests]|fuzz KVER" >&2; exit 2 ;;
	esac
	echo "$passed passed, $failed failed, $skipped skipped"
	[ "$failed" -eq 0 ]
}

main "$@"
