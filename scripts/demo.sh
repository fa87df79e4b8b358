#!/usr/bin/env bash
# The main job: set up, build everything, boot the sandbox guest, load
# vmx.ko, run the example VMM (examples/hello), then vmxrun booting an
# unmodified Debian Linux kernel with two vCPUs, its console and a shell
# command's output on the screen.
#
#   DEMO_RIG=svm|vmx (default svm: QEMU with AMD SVM; vmx: Bochs, Intel VMX)
#   KVER=6.1|6.12    (default 6.1)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
rig=${DEMO_RIG:-svm}
kver=${KVER:-6.1}

bash scripts/setup.sh
echo "demo: building vmx.ko for Debian $kver, libvmx, the example VMM and vmxrun"
bash scripts/kbuild.sh "$kver" \
	"CONFIG_VMX_HV=m CONFIG_VMX_HV_SVM=y CONFIG_VMX_HV_INTEL=y VMX_OUT_OF_TREE=1"
make -s libvmx selftests examples tools guests
echo "demo: booting the $rig sandbox guest; inside it: insmod vmx.ko; /examples/hello; vmxrun --kernel ..."
echo "---------------------------------------------------------------------"
if bash scripts/rig.sh "$rig" "$kver" demo; then
	echo "---------------------------------------------------------------------"
	echo "demo: done (serial log: build/rig/$rig-$kver-demo/serial.log)"
else
	echo "---------------------------------------------------------------------"
	echo "demo: FAILED (serial log: build/rig/$rig-$kver-demo/serial.log)" >&2
	exit 1
fi
