#!/usr/bin/python3
"""Checks a Prometheus text exposition (stdin) the way a scraper would read it: every sample's
family declared by # HELP and # TYPE before its first sample, each family once; histogram
buckets cumulative and ending in +Inf equal to _count. Prints the problems (exit 1) or the
number of families (exit 0). Usage: curl .../metrics | prom_check.py"""
import re, sys


def main():
    helps, types, seen, problems = set(), {}, set(), []
    buckets = {}
    counts = {}
    for n, line in enumerate(sys.stdin.read().splitlines(), 1):
        if not line:
            continue
        m = re.match(r"# (HELP|TYPE) (\w+) (.+)$", line)
        if m:
            kind, name, rest = m.groups()
            if kind == "HELP":
                if name in helps:
                    problems.append(f"line {n}: HELP of {name} twice")
                helps.add(name)
            else:
                if name in types:
                    problems.append(f"line {n}: TYPE of {name} twice")
                types[name] = rest
            continue
        m = re.match(r"(\w+)(\{[^}]*\})? (\S+)$", line)
        if not m:
            problems.append(f"line {n}: not a sample: {line}")
            continue
        name, labels, value = m.groups()
        family = re.sub(r"_(bucket|sum|count)$", "", name) if re.sub(r"_(bucket|sum|count)$", "", name) in types else name
        if family not in types or family not in helps:
            problems.append(f"line {n}: {name} without HELP and TYPE before it")
        seen.add(family)
        if name.endswith("_bucket"):
            le = re.search(r'le="([^"]+)"', labels or "").group(1)
            buckets.setdefault(family, []).append((float("inf") if le == "+Inf" else float(le), float(value)))
        if name.endswith("_count") and types.get(family) == "histogram":
            counts[family] = float(value)
    for fam, b in buckets.items():
        if [v for _, v in b] != sorted(v for _, v in b) or b[-1][0] != float("inf"):
            problems.append(f"{fam}: buckets not cumulative or no +Inf last")
        elif counts.get(fam) != b[-1][1]:
            problems.append(f"{fam}: +Inf bucket {b[-1][1]} != _count {counts.get(fam)}")
    if problems:
        print("\n".join(problems))
        sys.exit(1)
    print(f"{len(seen)} families")


if __name__ == "__main__":
    main()
