#!/usr/bin/env bash
# Build vmx.ko with another Kconfig selection into build/k/<kver>-<name>/
# and check that the chosen backends, and only they, are in it.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
kver=$1 name=$2 args=$3
VMX_BUILD_TAG=$name bash "$top/scripts/kbuild.sh" "$kver" "$args"
syms=$(nm "$top/build/k/$kver-$name/kmod/vmx.ko")
for backend in SVM:svm_backend_ops INTEL:vtx_backend_ops; do
	want=$(grep -o "CONFIG_VMX_HV_${backend%%:*}=[yn]" <<<"$args" | cut -d= -f2)
	if grep -qw "${backend#*:}" <<<"$syms"; then have=y; else have=n; fi
	if [ "$want" != "$have" ]; then
		echo "CONFIG_VMX_HV_${backend%%:*}=$want but ${backend#*:} present=$have"
		exit 1
	fi
done
