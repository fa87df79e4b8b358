#!/usr/bin/env bash
# Every Kconfig symbol must be honoured by the out-of-tree build: given a
# default in the top Makefile and used by kmod/Kbuild.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
status=0
for sym in $(awk '/^config /{print $2}' "$top/Kconfig"); do
	grep -q "^CONFIG_$sym ?=" "$top/Makefile" ||
		{ echo "Kconfig symbol $sym has no default in Makefile"; status=1; }
	grep -q "CONFIG_$sym" "$top/kmod/Kbuild" "$top/Kbuild" ||
		{ echo "Kconfig symbol $sym is not used by Kbuild"; status=1; }
done
exit $status
