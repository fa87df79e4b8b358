#!/usr/bin/env bash
# The initramfs vmxrun boots in the rigs: busybox, guests/linux/init.sh as
# /init, and the virtio modules (=m in Debian's cloud kernels) with their
# dependencies, in load order.
#
#   scripts/l2-initramfs.sh KVER OUT.img
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
kver=${1:?usage: l2-initramfs.sh KVER OUT}
out=${2:?usage: l2-initramfs.sh KVER OUT}
mods="$top/build/kernels/$kver/modules"
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

mkdir -p "$root"/{bin,lib/modules}
cp /bin/busybox "$root/bin/busybox"
install -m 755 "$top/guests/linux/init.sh" "$root/init"

declare -A seen=()
order=()
# Add module $1 (a name) after its dependencies, unless built in.
add_module() {
	local name=$1 file dep
	[ -n "${seen[$name]:-}" ] && return
	seen[$name]=1
	file=$(find "$mods/kernel" -name "$name.ko*" | head -n1)
	if [ -z "$file" ]; then
		grep -q "/$name.ko" "$mods/modules.builtin" && return
		echo "l2-initramfs: module $name missing for $kver" >&2
		exit 1
	fi
	local ko="$root/lib/modules/$name.ko"
	case "$file" in
	*.xz) xz -dc "$file" >"$ko" ;;
	*.zst) zstd -qdc "$file" >"$ko" ;;
	*) cp "$file" "$ko" ;;
	esac
	for dep in $(/sbin/modinfo -F depends "$ko" | tr ',' ' '); do
		add_module "$dep"
	done
	order+=("$name.ko")
}
for m in virtio_mmio virtio_blk virtio_net; do
	# Names with '-' and '_' are the same to modprobe; files use '_' here.
	add_module "$m"
done
printf '%s\n' "${order[@]}" >"$root/lib/modules/order"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out"
