#!/usr/bin/env python3
"""The house rule over #include lines (docs/ARCHITECTURE.md "Floors").

A module is a folder. A module includes headers of its own folder (bare: "pdf_int.h") or of
modules on lower floors (from the repository root: "firmware/base/err.h"). Refused, each with
the offending file and line:
  - an include of a module on the same or a higher floor (upward or sideways);
  - another module's private header (*_int.h);
  - an include that does not resolve to a file of the tree;
  - a source folder that is on no floor (place a new module in FLOORS first);
  - a cycle of headers including each other.
tests/ may include anything (white-box tests), but their includes must resolve too.

Usage: scripts/check_includes.py [--root DIR]     exit 0 clean, 1 with findings, 2 usage
"""
import os
import re
import sys

FLOORS = {
    "firmware/base": 1,
    "firmware/ipc": 2,
    "firmware/store": 2,
    "firmware/pades": 2,
    "hsm": 2,
    "drivers": 2,
    "firmware/orders": 3,
    "firmware/certs": 3,
    "firmware/keyholder": 4,
    "firmware/notify": 4,
    "web": 4,
    "firmware/daemon": 5,
    "provisioning": 6,
}
TOP = ("firmware", "hsm", "drivers", "web", "provisioning", "tests")
SKIP_DIRS = ("node_modules", "corpus", "artifacts")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def sources(root):
    for top in TOP:
        for d, dirs, files in os.walk(os.path.join(root, top)):
            dirs[:] = sorted(x for x in dirs if x not in SKIP_DIRS)
            for f in sorted(files):
                if f.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(d, f), root)


def module_of(path):
    return os.path.dirname(path)


def main(argv):
    root = "."
    if len(argv) == 3 and argv[1] == "--root":
        root = argv[2]
    elif len(argv) != 1:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    problems = []
    graph = {}  # header/source -> [(included header, line)]
    files = list(sources(root))
    for path in files:
        mod = module_of(path)
        in_tests = path.startswith("tests/")
        if not in_tests and mod not in FLOORS:
            problems.append(f"{path}: folder {mod}/ is on no floor: add the module to FLOORS in "
                            f"scripts/check_includes.py and docs/ARCHITECTURE.md")
            continue
        edges = graph.setdefault(path, [])
        with open(os.path.join(root, path), encoding="utf-8", errors="replace") as fh:
            for n, line in enumerate(fh, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                inc = m.group(1)
                where = f'{path}:{n}: #include "{inc}"'
                same = os.path.normpath(os.path.join(mod, inc))
                if os.path.isfile(os.path.join(root, same)) and "/" not in inc:
                    target = same
                elif in_tests and os.path.isfile(os.path.join(root, same)):
                    target = same
                elif os.path.isfile(os.path.join(root, inc)) and ".." not in inc.split("/"):
                    target = inc
                else:
                    problems.append(f"{where}: not found; write it from the repository root "
                                    f'("firmware/base/err.h") or bare within its own folder')
                    continue
                edges.append((target, n))
                tmod = module_of(target)
                if in_tests or tmod == mod:
                    continue
                if target.endswith("_int.h"):
                    problems.append(f"{where}: {target} is private to {tmod}/")
                    continue
                if tmod not in FLOORS:
                    problems.append(f"{where}: {tmod}/ is on no floor")
                    continue
                f, tf = FLOORS[mod], FLOORS[tmod]
                if tf > f:
                    problems.append(f"{where}: upward include: {mod}/ (floor {f}) may not use "
                                    f"{tmod}/ (floor {tf})")
                elif tf == f:
                    problems.append(f"{where}: sideways include: {mod}/ and {tmod}/ are both on "
                                    f"floor {f}; move the shared part one floor down")
    # cycles among headers
    state = {}
    stack = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt, line in graph.get(node, []):
            if state.get(nxt) == 1:
                cyc = stack[stack.index(nxt):] + [nxt]
                problems.append(f"{node}:{line}: circular include: " + " -> ".join(cyc))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"include check: {len(problems)} problem(s) in {len(files)} files", file=sys.stderr)
        return 1
    print(f"include check: {len(files)} files follow the floors")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
