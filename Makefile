# SPDX-License-Identifier: GPL-2.0
#
# vmx: one entry point for everything.
#
#   make              module (kmod/vmx.ko), libvmx, selftests, examples, tools
#   make demo         set up, build, boot the sandbox guest, run an example VM
#   make check        the whole test suite (what CI runs)
#   make bench        vmx.ko against KVM in the SVM and VMX rigs (6.1):
#                     table, build/bench/results.json, ratios.png
#   make check-svm    selftests in the QEMU/SVM rig   (KVER=6.1|6.12)
#   make check-vmx    selftests in the Bochs/VMX rig  (KVER=6.1|6.12)
#   make fuzz         tools/vmxfuzz alone in the SVM rig, longer
#                     (KVER, FUZZ_SEED=N, FUZZ_TIME=seconds, default 300)
#   make setup        install build and rig dependencies (Debian packages)
#   make install      libvmx, headers, pkg-config file, vmxstat, man pages
#                     (PREFIX, DESTDIR)
#
# KDIR names the kernel build tree for kmod/vmx.ko; by default the running
# kernel's, else the rig's Debian 6.1 cloud headers.

TOP := $(CURDIR)
BUILD := $(TOP)/build
KVER ?= 6.1
KVERS := 6.1 6.12

# Kconfig symbols for the out-of-tree build: .config (Kconfig syntax)
# or the command line override these defaults.
-include $(TOP)/.config
CONFIG_VMX_HV ?= m
CONFIG_VMX_HV_SVM ?= y
CONFIG_VMX_HV_INTEL ?= y
KCONFIG_ARGS := CONFIG_VMX_HV=$(CONFIG_VMX_HV) \
	CONFIG_VMX_HV_SVM=$(CONFIG_VMX_HV_SVM) \
	CONFIG_VMX_HV_INTEL=$(CONFIG_VMX_HV_INTEL) VMX_OUT_OF_TREE=1

RUNNING_KDIR := /lib/modules/$(shell uname -r)/build
ifeq ($(wildcard $(RUNNING_KDIR)/Makefile),)
KDIR ?= $(BUILD)/kernels/6.1/headers
else
KDIR ?= $(RUNNING_KDIR)
endif

CC ?= gcc
export CC

.PHONY: all kmod kmod-all libvmx selftests examples tools guests setup demo \
	bench check check-unit check-build check-style check-svm check-vmx fuzz \
	install clean

all: kmod libvmx selftests examples tools guests

setup:
	@bash scripts/setup.sh

kmod:
	$(MAKE) -C $(KDIR) M=$(TOP)/kmod VMX_TOP=$(TOP) $(KCONFIG_ARGS) modules

# vmx.ko for one rig kernel, built in a mirror so kernels do not clash:
# build/k/<kver>/kmod/vmx.ko.
kmod-%: FORCE
	@bash scripts/kbuild.sh $* "$(KCONFIG_ARGS)"

kmod-all: $(addprefix kmod-,$(KVERS))

libvmx:
	$(MAKE) -C libvmx

selftests: libvmx
	$(MAKE) -C selftests

examples: libvmx
	$(MAKE) -C examples

# build/tools/vmxfuzz and build/tools/vmxstat (needs libnl-genl-3).
tools: libvmx
	$(MAKE) -C tools/vmxfuzz
	$(MAKE) -C tools/vmxstat
	$(MAKE) -C tools/vmxrun

# Guest kernels of the project's own (build/guests/), run by vmxrun.
guests:
	$(MAKE) -C guests/mbtest

demo:
	@bash scripts/demo.sh

check:
	@bash scripts/check.sh all

bench:
	@bash bench/run.sh

check-unit check-build check-style:
	@bash scripts/check.sh $(patsubst check-%,%,$@)

check-svm check-vmx:
	@bash scripts/check.sh $(patsubst check-%,%,$@) $(KVER)

fuzz:
	@VMX_FUZZ_SEED=$(FUZZ_SEED) VMX_FUZZ_TIME=$(FUZZ_TIME) \
		bash scripts/check.sh fuzz $(KVER)

install:
	$(MAKE) -C libvmx install
	$(MAKE) -C tools/vmxstat install
	$(MAKE) -C tools/vmxrun install

clean:
	-$(MAKE) -C $(KDIR) M=$(TOP)/kmod clean 2>/dev/null
	$(MAKE) -C libvmx clean
	$(MAKE) -C selftests clean
	$(MAKE) -C examples clean
	$(MAKE) -C tools/vmxfuzz clean
	$(MAKE) -C tools/vmxstat clean
	$(MAKE) -C tools/vmxrun clean
	rm -rf $(BUILD)/guests
	rm -rf $(BUILD)/k $(BUILD)/check $(BUILD)/rig

FORCE:
