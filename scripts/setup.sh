#!/usr/bin/env bash
# Install everything the build and the nested test rigs need, from Debian's
# packages only, and unpack the guest kernels into build/kernels/.
#
# Idempotent: a second run checks and returns within a second or two.
# Needs root (or sudo) only when something is missing; it says what then.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
kdir="$top/build/kernels"

# Kernel flavours the project builds and tests against: KVER -> metapackage.
declare -A IMAGE_META=(
	[6.1]=linux-image-cloud-amd64
	[6.12]=linux-image-6.12-cloud-amd64
)
declare -A HEADER_META=(
	[6.1]=linux-headers-cloud-amd64
	[6.12]=linux-headers-6.12-cloud-amd64
)

PACKAGES=(
	build-essential pkg-config bc kmod cpio zstd xz-utils file python3
	qemu-system-x86 gnuplot-nox
	bochs bochsbios vgabios
	isolinux syslinux-common xorriso
	busybox-static acpica-tools
	sparse
	linux-source-6.1 linux-source-6.12
	libnl-3-dev libnl-genl-3-dev liburcu-dev
	libzydis-dev libcapstone-dev
	clang-14 libclang-rt-14-dev
	"${HEADER_META[6.1]}" "${HEADER_META[6.12]}"
)

say() { printf 'setup: %s\n' "$*"; }

missing_packages() {
	local p
	for p in "${PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
			grep -q '^install ok installed$' || printf '%s\n' "$p"
	done
}

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo "$@"
	else
		return 1
	fi
}

install_packages() {
	local missing
	missing=$(missing_packages | tr '\n' ' ')
	[ -z "$missing" ] && return 0
	say "installing: $missing"
	if ! as_root true; then
		say "these Debian packages are missing: $missing"
		say "run this script as root (or: sudo apt-get install $missing)"
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	as_root apt-get update -qq
	# shellcheck disable=SC2086
	as_root apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# The concrete package a metapackage points at (e.g. linux-image-6.1.0-56-cloud-amd64).
resolve_meta() {
	apt-cache depends "$1" 2>/dev/null |
		awk '/Depends: linux-image-/ { print $2; exit }'
}

# Guest kernels are unpacked, never installed: no postinst hook touches this host.
fetch_kernel() {
	local kver=$1 pkg dest
	dest="$kdir/$kver"
	if [ -f "$dest/vmlinuz" ] && [ -d "$dest/modules" ]; then
		return 0
	fi
	pkg=$(resolve_meta "${IMAGE_META[$kver]}")
	if [ -z "$pkg" ]; then
		say "cannot resolve ${IMAGE_META[$kver]} (run apt-get update?)"
		exit 1
	fi
	say "fetching $pkg"
	rm -rf "$dest" && mkdir -p "$dest/pkg"
	(cd "$dest/pkg" && apt-get download -qq -o APT::Sandbox::User=root "$pkg")
	dpkg -x "$dest"/pkg/*.deb "$dest/root"
	cp "$dest"/root/boot/vmlinuz-* "$dest/vmlinuz"
	basename "$dest"/root/lib/modules/* >"$dest/release"
	mv "$dest/root/lib/modules/$(cat "$dest/release")" "$dest/modules"
	rm -rf "$dest/root" "$dest/pkg"
}

# The headers installed from the metapackage that match the unpacked image.
check_headers() {
	local kver=$1 rel
	rel=$(cat "$kdir/$kver/release")
	if [ ! -d "/usr/src/linux-headers-$rel" ]; then
		say "headers for $rel missing: apt-get install ${HEADER_META[$kver]}"
		exit 1
	fi
	ln -sfn "/usr/src/linux-headers-$rel" "$kdir/$kver/headers"
}

# checkpatch, kselftest harness and extract-vmlinux come from linux-source.
extract_source_files() {
	local kver=$1 dest="$kdir/$kver/src" tarball
	[ -f "$dest/scripts/checkpatch.pl" ] && return 0
	tarball=$(ls /usr/src/linux-source-"$kver".tar.* 2>/dev/null | head -n1)
	[ -n "$tarball" ] || { say "linux-source-$kver tarball missing"; exit 1; }
	say "extracting checkpatch and kselftest from $(basename "$tarball")"
	mkdir -p "$dest"
	tar -xf "$tarball" -C "$dest" --strip-components=1 --wildcards \
		'*/scripts/checkpatch.pl' '*/scripts/spelling.txt' \
		'*/scripts/const_structs.checkpatch' '*/scripts/extract-vmlinux' \
		'*/tools/testing/selftests/kselftest.h' \
		'*/tools/testing/selftests/kselftest_harness.h'
}

main() {
	install_packages
	mkdir -p "$kdir"
	local kver
	for kver in 6.1 6.12; do
		fetch_kernel "$kver"
		check_headers "$kver"
		extract_source_files "$kver"
	done
	say "ready"
}

main "$@"
