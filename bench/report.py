#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""hvbench's table: vmx.ko against KVM, from the rigs' serial logs.

  report.py [--check] [--out DIR] RIG=SERIAL_LOG ...

Reads the "hvbench: SIDE NAME VALUE UNIT" lines of each log, prints the
table (workload, rig, vmx, KVM, unit, vmx/KVM), writes DIR/results.json
(a list of {name, rig, vmx, kvm, unit, ratio}) and DIR/ratios.png (gnuplot,
if installed).  --check: exit 1 unless every workload has both figures.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys

WORKLOADS = [
    "cpuid", "hypercall", "pio_out_user", "mmio_write_user", "hlt_user",
    "irq_inject_user", "first_touch", "first_touch_populated", "fault_1_slot", "fault_64_slots",
    "fault_4096_slots", "dirty_write_fault", "dirty_harvest_64MiB",
    "vm_lifecycle_wall", "vm_lifecycle_cpu", "mem_per_vm_1vcpu",
    "mem_per_extra_vcpu",
]
LINE = re.compile(r"^hvbench: (vmx|kvm) (\S+) (-?[0-9.]+) (\S+)\s*$")


def key_of(name):
    """hypercall_user / hypercall_kernel are one row: what each side did."""
    return "hypercall" if name.startswith("hypercall") else name


def parse(path):
    figures = {}
    with open(path, errors="replace") as f:
        for line in f:
            m = LINE.match(line.strip("\r\n"))
            if m:
                side, name, value, unit = m.groups()
                figures.setdefault(key_of(name), {})[side] = (
                    name, float(value), unit)
    return figures


def rows_of(rig, figures):
    rows = []
    for key in WORKLOADS:
        f = figures.get(key, {})
        vmx, kvm = f.get("vmx"), f.get("kvm")
        name = key
        if vmx and kvm and vmx[0] != kvm[0]:
            name = "%s (vmx %s, KVM %s)" % (key, vmx[0].split("_")[-1],
                                           kvm[0].split("_")[-1])
        unit = (vmx or kvm or (None, None, "?"))[2]
        ratio = None
        if vmx and kvm and kvm[1] > 0:
            ratio = round(vmx[1] / kvm[1], 3)
        rows.append({"name": name, "rig": rig,
                     "vmx": vmx[1] if vmx else None,
                     "kvm": kvm[1] if kvm else None,
                     "unit": unit, "ratio": ratio})
    return rows


def fmt(v):
    return "-" if v is None else ("%.1f" % v)


def print_table(rows):
    head = ("workload", "rig", "vmx", "KVM", "unit", "vmx/KVM")
    cells = [head] + [(r["name"], r["rig"], fmt(r["vmx"]), fmt(r["kvm"]),
                       r["unit"], "-" if r["ratio"] is None else
                       "%.2f" % r["ratio"]) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    for i, c in enumerate(cells):
        print("  ".join(x.ljust(w) if j < 2 or j == 4 else x.rjust(w)
                        for j, (x, w) in enumerate(zip(c, widths))))
        if i == 0:
            print("  ".join("-" * w for w in widths))


def plot(rows, out):
    if not shutil.which("gnuplot"):
        print("report: gnuplot not installed: no chart", file=sys.stderr)
        return
    data = os.path.join(out, "ratios.dat")
    with open(data, "w") as f:
        for r in rows:
            if r["ratio"] is not None:
                f.write('"%s %s" %g\n' % (r["name"].split(" ")[0], r["rig"],
                                          r["ratio"]))
    png = os.path.join(out, "ratios.png")
    script = """
set terminal png size 1200,700 noenhanced
set output '%s'
set title 'vmx.ko / KVM (guest time or memory; below 1: vmx is better)'
set style fill solid
set boxwidth 0.7
set yrange [0:*]
set xtics rotate by -60 font ',8'
set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2
plot '%s' using 0:2:xtic(1) with boxes notitle
""" % (png, data)
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    print("report: chart %s" % png)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--out", default="build/bench")
    ap.add_argument("logs", nargs="+", metavar="RIG=SERIAL_LOG")
    args = ap.parse_args()
    rows = []
    for arg in args.logs:
        rig, _, path = arg.partition("=")
        rows += rows_of(rig, parse(path))
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(rows, f, indent=1)
    print_table(rows)
    plot(rows, args.out)
    missing = ["%s %s" % (r["rig"], r["name"]) for r in rows
               if r["vmx"] is None or r["kvm"] is None]
    if missing:
        print("report: no figure for both sides: " + ", ".join(missing),
              file=sys.stderr)
        return 1 if args.check else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
