#!/usr/bin/env bash
# The main job: set up, build everything, boot the sandbox guest, load
# vmx.ko and run the example VMM (examples/hello), whose guest prints a
# greeting through port I/O.
#
#   DEMO_RIG=svm|vmx (default svm: QEMU with AMD SVM; vmx: Bochs, Intel VMX)
#   KVER=6.1|6.12    (default 6.1)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
rig=${DEMO_RIG:-svm}
kver=${KVER:-6.1}

bash scripts/setup.sh
echo "demo: building vmx.ko for Debian $kver, libvmx and the example VMM"
bash scripts/kbuild.sh "$kver" \
	"CONFIG_VMX_HV=m CONFIG_VMX_HV_SVM=y CONFIG_VMX_HV_INTEL=y VMX_OUT_OF_TREE=1"
make -s libvmx selftests examples
echo "demo: booting the $rig sandbox guest; inside it: insmod vmx.ko && /examples/hello"
echo "---------------------------------------------------------------------"
if bash scripts/rig.sh "$rig" "$kver" demo; then
	echo "---------------------------------------------------------------------"
	echo "demo: done (serial log: build/rig/$rig-$kver-demo/serial.log)"
else
	echo "---------------------------------------------------------------------"
	echo "demo: FAILED (serial log: build/rig/$rig-$kver-demo/serial.log)" >&2
	exit 1
fi
