#!/usr/bin/env python3
"""Prints the wrapper benchmarks' table (ns/call and ratios) from criterion's estimates.

Usage: python3 benches/summarize.py [CRITERION_DIR]   (default: target/criterion)

Reads the slope (criterion's per-iteration estimate under linear sampling; the mean where there
is no slope) of the last run of each benchmark, with its 95 % confidence interval.
"""

import json
import pathlib
import sys

DIR = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")


def estimate(group, name):
    path = DIR / group / name / "new" / "estimates.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    est = data.get("slope") or data["mean"]
    ci = est["confidence_interval"]
    return est["point_estimate"], ci["lower_bound"], ci["upper_bound"]


def fmt(e):
    return "—" if e is None else f"{e[0]:8.1f} ({e[1]:.1f}–{e[2]:.1f})"


def ratio(a, b):
    return "—" if a is None or b is None else f"{a[0] / b[0]:.2f}"


VARIANTS = ["bare", "annotated", "hand_optimal", "recipe_port", "failsafe_backon", "autometrics"]

single = {v: estimate("single_thread", v) for v in VARIANTS}
pair = {v: estimate("two_threads", v) for v in VARIANTS}
print("| variant | 1 thread, ns/call (95 % CI) | ÷ hand-written | ÷ recipe port | "
      "2 threads, ns/call (95 % CI) | 2 threads ÷ 1 thread |")
print("|---|---|---|---|---|---|")
for v in VARIANTS:
    print(f"| {v} | {fmt(single[v])} | {ratio(single[v], single['hand_optimal'])} | "
          f"{ratio(single[v], single['recipe_port'])} | {fmt(pair[v])} | {ratio(pair[v], single[v])} |")

if single["bare"] and single["annotated"] and single["hand_optimal"]:
    b = single["bare"][0]
    print()
    print(f"wrapper cost over the bare body: annotated {single['annotated'][0] - b:.1f} ns, "
          f"hand-written {single['hand_optimal'][0] - b:.1f} ns, "
          f"recipe port {single['recipe_port'][0] - b:.1f} ns")

PATHS = ["annotated_success", "annotated_open", "annotated_open_owned_name",
         "annotated_half_open_probe", "annotated_half_open_refused", "hand_open", "recipe_open",
         "failsafe_open"]
paths = {p: estimate("breaker_paths", p) for p in PATHS}
print()
print("| breaker path | ns/call (95 % CI) | ÷ annotated success |")
print("|---|---|---|")
for p in PATHS:
    print(f"| {p} | {fmt(paths[p])} | {ratio(paths[p], paths['annotated_success'])} |")

e2e = {v: estimate("e2e_put_get_4KiB", v) for v in ["plain", "annotated"]}
if any(e2e.values()):
    print()
    print("| e2e (put + get, 4 KiB) | µs/pair (95 % CI) | ÷ plain |")
    print("|---|---|---|")
    for v, e in e2e.items():
        scaled = None if e is None else tuple(x / 1000 for x in e)
        print(f"| {v} | {fmt(scaled)} | {ratio(e, e2e['plain'])} |")

PIECES = ["breaker_runtime", "breaker_store_on_success", "breaker_mutex", "metrics_runtime_cells",
          "metrics_prometheus_resolved", "metrics_prometheus_by_label"]
a1 = {p: estimate("ablation_single_thread", p) for p in PIECES}
a2 = {p: estimate("ablation_two_threads", p) for p in PIECES}
if any(a1.values()):
    print()
    print("| piece | 1 thread, ns/call (95 % CI) | 2 threads, ns/call (95 % CI) | 2 threads ÷ 1 thread |")
    print("|---|---|---|---|")
    for p in PIECES:
        print(f"| {p} | {fmt(a1[p])} | {fmt(a2[p])} | {ratio(a2[p], a1[p])} |")
