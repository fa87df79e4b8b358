#!/usr/bin/env bash
# Build vmx.ko for one of the rig kernels (6.1, 6.12) in a mirror of the
# sources under build/k/<kver>/, so that both kernels' objects coexist.
# Extra make arguments (Kconfig symbols, C=1) follow the version.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
kver=$1
shift
kdir="$top/build/kernels/$kver/headers"
# VMX_BUILD_TAG keeps parallel work trees' objects apart (build/k/6.1-tag).
out="$top/build/k/$kver${VMX_BUILD_TAG:+-$VMX_BUILD_TAG}"

[ -e "$kdir/Makefile" ] || { echo "kbuild: no headers for $kver: run make setup" >&2; exit 1; }
mkdir -p "$out"
# Mirror as symlinks: edits show up, objects stay per kernel.
mkdir -p "$out/modules"
# Sources only: objects of an in-place build must not leak in.
(cd "$top" && find kmod uapi -type f \( -name '*.[chS]' -o -name Kbuild \) ! -name '*.mod.c') |
	while read -r f; do
		mkdir -p "$out/$(dirname "$f")"
		ln -sf "$top/$f" "$out/$f"
	done
cp -sfu "$top"/selftests/modules/* "$out/modules/"
# shellcheck disable=SC2086,SC2048
make -s -C "$kdir" M="$out/kmod" VMX_TOP="$out" $* modules
# The selftests' helper module.
make -s -C "$kdir" M="$out/modules" modules
