#!/usr/bin/env python3
"""Check a rig's serial log: TAP of every test program, module unload,
and the guest kernel log.  Writes <out>/<rig>.tap, <out>/<rig>.dmesg and
<out>/<rig>.counts ("passed failed skipped"), prints the failures and a
closing count line, and exits non-zero on any failure."""
import argparse
import re
import sys

# Lines in the guest kernel log that fail a run whatever the tests said.
BAD_KERNEL_LINE = re.compile(
    r"BUG:|WARNING:|Oops|general protection|KASAN|kmemleak|"
    r"lockdep|possible recursive locking|circular locking|"
    r"Kernel panic|Call Trace|RIP: 00|UBSAN|refcount_t:|list_(add|del) corruption"
)
RESULT = re.compile(r"^(not ok|ok) (\d+) (.*?)(?: # (SKIP|TODO)\b(.*))?$")
PLAN = re.compile(r"^1\.\.(\d+)")


def sections(lines):
    """Yield (name, rc, body lines) for each @@vmx begin/end pair."""
    name, body = None, []
    for line in lines:
        m = re.match(r"^@@vmx begin (\S+)", line)
        if m:
            name, body = m.group(1), []
            continue
        m = re.match(r"^@@vmx end (\S+) rc=(\d+)", line)
        if m and name == m.group(1):
            yield name, int(m.group(2)), body
            name = None
            continue
        if name:
            body.append(line)
    if name:
        yield name, None, body


def check_program(name, rc, body, failures):
    """Count one program's TAP; return (passed, failed, skipped)."""
    passed = failed = skipped = 0
    plan = None
    for line in body:
        m = PLAN.match(line)
        if m and plan is None:
            plan = int(m.group(1))
            continue
        m = RESULT.match(line)
        if not m:
            continue
        if m.group(1) == "not ok":
            failed += 1
            failures.append(f"{name}: not ok {m.group(2)} {m.group(3)}")
        elif m.group(4) == "SKIP":
            skipped += 1
        else:
            passed += 1
    ran = passed + failed + skipped
    if plan is None:
        failures.append(f"{name}: no TAP plan")
        failed += 1
    elif ran != plan:
        failures.append(f"{name}: plan 1..{plan} but {ran} results (crash or hang?)")
        failed += max(plan - ran, 1)
    if rc is None:
        failures.append(f"{name}: never finished (guest died or hung)")
        failed += 1
    elif rc == 137:
        failures.append(f"{name}: killed by the per-program timeout")
        failed += 1
    elif rc != 0 and not failed:
        failures.append(f"{name}: exit code {rc}")
        failed += 1
    return passed, failed, skipped


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rig", required=True)
    ap.add_argument("--serial", required=True)
    ap.add_argument("--tests", required=True, help="expected programs, whitespace separated")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    try:
        with open(args.serial, errors="replace") as f:
            lines = [l.rstrip("\r\n") for l in f]
    except FileNotFoundError:
        lines = []
    failures = []
    passed = failed = skipped = 0

    if "@@vmx insmod ok" not in lines:
        failures.append("vmx.ko did not load")
        failed += 1

    seen = {}
    tap = []
    for name, rc, body in sections(lines):
        seen[name] = True
        tap.append(f"# program {name} rc={rc}")
        tap.extend(l for l in body if not l.startswith("["))
        p, fl, s = check_program(name, rc, body, failures)
        passed, failed, skipped = passed + p, failed + fl, skipped + s
    for name in args.tests.split():
        if name not in seen:
            failures.append(f"{name}: never started")
            failed += 1

    if "@@vmx unload ok" not in lines or "@@vmx unload failed" in lines:
        failures.append("vmx.ko did not unload after the tests")
        failed += 1
    if "@@vmx guest-done" not in lines:
        failures.append("the guest did not reach the end of /init (crash, hang or timeout)")
        failed += 1

    dmesg = []
    inside = False
    for line in lines:
        if line == "@@vmx dmesg-begin":
            inside = True
        elif line == "@@vmx dmesg-end":
            inside = False
        elif inside:
            dmesg.append(line)
    # Only what happened from the module's first line on is ours: the
    # emulated machines make some kernels warn while booting (e.g. 6.12's
    # CPU topology parser under Bochs).
    log = dmesg or lines
    first = next((i for i, l in enumerate(log) if re.search(r"\] vmx: ", l)), 0)
    # Console lines outside the dump count too: a crash never reaches it.
    bad = [l for l in log[first:] if BAD_KERNEL_LINE.search(l)]
    console = lines[:lines.index("@@vmx dmesg-begin")] if dmesg else lines
    first = next((i for i, l in enumerate(console) if re.search(r"\] vmx: ", l)), 0)
    bad += [l for l in console[first:]
            if l.startswith("[") and BAD_KERNEL_LINE.search(l) and l not in bad]
    if bad:
        failures.append("kernel log has error lines:\n    " + "\n    ".join(bad[:20]))
        failed += 1

    with open(f"{args.out}/{args.rig}.tap", "w") as f:
        f.write("\n".join(tap) + "\n")
    with open(f"{args.out}/{args.rig}.dmesg", "w") as f:
        f.write("\n".join(dmesg or lines) + "\n")
    with open(f"{args.out}/{args.rig}.counts", "w") as f:
        f.write(f"{passed} {failed} {skipped}\n")

    for msg in failures:
        print(f"FAIL {args.rig}: {msg}")
    print(f"rig {args.rig}: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
