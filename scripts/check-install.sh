#!/usr/bin/env bash
# make install into a scratch DESTDIR, then build and run a program with
# pkg-config against what was installed (shared and static).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
prefix=/usr/local
make -s -C "$top" install DESTDIR="$dest" PREFIX="$prefix" >/dev/null

lib="$dest$prefix/lib"
for f in "$dest$prefix/include/vmx/libvmx.h" "$dest$prefix/include/linux/vmx.h" \
	"$lib/libvmx.a" "$lib/libvmx.so.0" "$lib/pkgconfig/libvmx.pc"; do
	[ -e "$f" ] || { echo "missing after install: $f"; exit 1; }
done
ls "$dest$prefix/share/man/man3/"*.3 >/dev/null

cat >"$dest/prog.c" <<'C'
#include <errno.h>
#include <vmx/libvmx.h>
int main(void)
{
	struct libvmx *vmx;
	int ret = libvmx_open(&vmx);

	/* No module on the build host: a clean errno, nothing printed. */
	if (ret == 0)
		libvmx_close(vmx);
	return ret == 0 || ret == -ENOENT || ret == -EACCES ? 0 : 1;
}
C
export PKG_CONFIG_SYSROOT_DIR="$dest" PKG_CONFIG_LIBDIR="$lib/pkgconfig"
# shellcheck disable=SC2046
cc -o "$dest/prog" "$dest/prog.c" $(pkg-config --cflags --libs libvmx)
LD_LIBRARY_PATH="$lib" "$dest/prog"
objdump -p "$dest/prog" | grep -q 'NEEDED.*libvmx.so.0'
# The static archive: libvmx itself linked in, its dependencies as
# pkg-config --static lists them (Debian ships Zydis only as a shared
# library, so those stay dynamic).
# shellcheck disable=SC2046
cc -o "$dest/prog-static" "$dest/prog.c" $(pkg-config --cflags libvmx) \
	-L"$lib" -Wl,-Bstatic -lvmx -Wl,-Bdynamic \
	$(pkg-config --static --libs-only-l libvmx | sed 's/-lvmx//')
"$dest/prog-static"
! objdump -p "$dest/prog-static" | grep -q 'NEEDED.*libvmx'

