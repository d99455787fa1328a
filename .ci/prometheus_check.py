#!/usr/bin/env python3
"""Checks observability/ against a real Prometheus that scraped the storage_service example.

Run by .ci/prometheus.sh once the example has finished its workload and outage and still serves
/metrics. Through Prometheus' HTTP API it checks that:

- every rule loaded, evaluates without error, and every alert has a summary, a description and a
  runbook_url whose document and section exist;
- every PromQL expression of the rules and of the dashboard (template variables replaced by
  their "All" value) is valid and returned data at some point of the run, and each template
  variable's label_values() query finds values. An alert's expression is evaluated with `bool`
  on its first top-level comparison, so the check asks "do the series it compares exist, with
  these labels" rather than "did it fire";
- the alerts named with --expect-fired fired during the run, and those named with
  --expect-silent did not (the ALERTS series);
- each alert has a promtool test that expects it and one that expects no alert.

An expression without data fails the check, unless every series it reads that is missing from
the whole run is named with --may-be-absent: then it is listed as such, so a series the example
does not produce yet is visible, not hidden.

Standard library only.
"""

import argparse
import json
import math
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

# Grafana's built-in interval variables and what stands for them here; the run is short and
# scraped every second.
BUILTIN_VARIABLES = {"__rate_interval": "1m", "__interval": "15s", "__range": "5m"}

COMPARISONS = ("==", "!=", ">=", "<=", ">", "<")

# A metric name an expression reads: the library's series (s3_...) or a recorded one (level:name:ops).
SERIES_NAME = re.compile(r"\b(?:s3_[A-Za-z0-9_]+|[A-Za-z_][A-Za-z0-9_]*:[A-Za-z0-9_:]+)")
LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?P<metric>.+?)\s*,\s*(?P<label>[A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$")
VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


class Prometheus:
    def __init__(self, url):
        self.url = url.rstrip("/")

    def call(self, path, params=None, method="POST"):
        query = urllib.parse.urlencode(params or {}, doseq=True)
        if method == "GET":
            request = urllib.request.Request(f"{self.url}{path}?{query}")
        else:
            request = urllib.request.Request(self.url + path, data=query.encode() if params else None)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                body = json.load(response)
        except urllib.error.HTTPError as err:
            body = json.load(err)
        if body.get("status") != "success":
            raise QueryError(f"{body.get('errorType', 'error')}: {body.get('error', body)}")
        return body["data"]

    def query_range(self, expr, start, end, step=1):
        return self.call("/api/v1/query_range", {"query": expr, "start": start, "end": end, "step": step})

    def query(self, expr, at):
        return self.call("/api/v1/query", {"query": expr, "time": at})

    def label_values(self, label, selector, start, end):
        """What Grafana's `label_values(selector, label)` variable query asks."""
        params = {"match[]": selector, "start": start, "end": end}
        return self.call(f"/api/v1/label/{label}/values", params, method="GET")

    def series_present(self, name, start, end):
        data = self.call("/api/v1/series", {"match[]": f'{{__name__="{name}"}}', "start": start, "end": end})
        return bool(data)


class QueryError(Exception):
    pass


def strip_strings(expr):
    return re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`', '""', expr)


def with_bool(expr):
    """`a > 1 unless b == 1` -> `a > bool 1 unless b == 1`: every series of `a` comes back, as 0 or 1."""
    depth, quote, i = 0, None, 0
    while i < len(expr):
        c = expr[i]
        if quote:
            if c == "\\":
                i += 2
                continue
            if c == quote:
                quote = None
        elif c in "\"'`":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif depth == 0:
            for op in COMPARISONS:
                if expr.startswith(op, i):
                    rest = expr[i + len(op):]
                    if re.match(r"\s*bool\b", rest):
                        return expr
                    return expr[: i + len(op)] + " bool" + rest
        i += 1
    return expr


def github_anchor(heading):
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


class Report:
    def __init__(self):
        self.failures = []
        self.absent = []

    def ok(self, what):
        print(f"  ok       {what}")

    def fail(self, what, why):
        print(f"  FAIL     {what}\n           {why}")
        self.failures.append(f"{what}: {why}")

    def no_data_allowed(self, what, series):
        print(f"  NO DATA  {what}\n           reads {', '.join(series)}, not exported during the run (allowed by --may-be-absent)")
        self.absent.append((what, series))


def one_line(expr, width=110):
    flat = " ".join(expr.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def check_expression(prom, report, source, expr, args, recorded, present_cache):
    what = f"{source}: {one_line(expr)}"
    try:
        data = prom.query_range(expr, args.start, args.end)
    except QueryError as err:
        report.fail(what, f"invalid: {err}")
        return
    values = [float(v) for series in data["result"] for _, v in series["values"]]
    if any(not math.isnan(v) for v in values):
        report.ok(f"{what}  ({len(data['result'])} series)")
        return
    # No data: which of the series it reads (through recording rules) never existed?
    bases, pending, seen = set(), set(SERIES_NAME.findall(strip_strings(expr))), set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in recorded:
            pending |= set(SERIES_NAME.findall(strip_strings(recorded[name])))
        else:
            bases.add(name)
    missing = []
    for name in sorted(bases):
        if name not in present_cache:
            present_cache[name] = prom.series_present(name, args.start, args.end)
        if not present_cache[name]:
            missing.append(name)
    if missing and all(name in args.may_be_absent for name in missing):
        report.no_data_allowed(what, missing)
    elif missing:
        report.fail(what, f"no data: {', '.join(missing)} never scraped during the run")
    elif values:
        report.fail(what, "only NaN during the run")
    else:
        report.fail(what, "no data although every series it reads was scraped: check its labels and matching")


def check_rules(prom, report, args):
    print("\n== rules loaded in Prometheus")
    groups = prom.call("/api/v1/rules")["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    if not rules:
        report.fail("rules", "Prometheus has loaded no rules")
    for rule in rules:
        what = f"{rule['type']} {rule['name']}"
        if rule.get("health") != "ok":
            report.fail(what, f"health {rule.get('health')}: {rule.get('lastError', '')}")
            continue
        if rule["type"] == "alerting":
            annotations = rule.get("annotations", {})
            missing = [key for key in ("summary", "description", "runbook_url") if not annotations.get(key)]
            if missing:
                report.fail(what, f"no {', '.join(missing)} annotation")
                continue
            problem = runbook_problem(annotations["runbook_url"], args.repo)
            if problem:
                report.fail(what, problem)
                continue
        report.ok(f"{what} (health ok)")
    return rules


def runbook_problem(url, repo):
    path, _, anchor = url.partition("#")
    doc = repo / path
    if not doc.is_file():
        return f"runbook_url {url}: no file {path}"
    headings = {github_anchor(line.lstrip("#")) for line in doc.read_text().splitlines() if line.startswith("#")}
    if anchor and anchor not in headings:
        return f"runbook_url {url}: no section #{anchor} in {path}"
    return None


def check_rule_tests(report, alerts, test_files):
    """Each alert has an expected-firing case and an expected-silent case (`exp_alerts: []`)."""
    print("\n== promtool tests cover every alert")
    cases = {}
    for test_file in test_files:
        alertname = None
        for line in Path(test_file).read_text().splitlines():
            m = re.match(r"\s*(?:-\s*)?alertname:\s*(\S+)", line)
            if m:
                alertname = m.group(1)
                continue
            m = re.match(r"\s*exp_alerts:\s*(.*?)\s*(#.*)?$", line)
            if m and alertname:
                cases.setdefault(alertname, set()).add("silent" if m.group(1) == "[]" else "fires")
                alertname = None
    for alert in sorted(alerts):
        found = cases.get(alert, set())
        if found >= {"silent", "fires"}:
            report.ok(f"{alert}: a firing case and a silent case")
        else:
            report.fail(alert, f"promtool tests lack a {' and a '.join(sorted({'silent', 'fires'} - found))} case")


def dashboard_expressions(report, path):
    """The dashboard's queries with template variables replaced, after a structural check."""
    print(f"\n== dashboard {path}")
    board = json.loads(Path(path).read_text())
    if board.get("schemaVersion", 0) < 39:
        report.fail("dashboard", f"schemaVersion {board.get('schemaVersion')} is below 39 (Grafana 11)")
    variables = {v["name"]: v for v in board.get("templating", {}).get("list", [])}
    for needed in ("datasource", "operation", "bucket", "circuit"):
        if needed not in variables:
            report.fail("dashboard", f"no template variable ${needed}")
    values = dict(BUILTIN_VARIABLES)
    values.update({name: v.get("allValue", ".*") for name, v in variables.items() if v["type"] == "query"})

    def substitute(where, text):
        def replace(m):
            name = m.group(1) or m.group(2)
            if name not in values:
                report.fail(where, f"uses ${name}, which the dashboard does not define")
                return m.group(0)
            return values[name]
        return VARIABLE.sub(replace, text)

    expressions, label_queries = [], []
    for name, variable in variables.items():
        if variable["type"] != "query":
            continue
        query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
        if variable.get("definition", query) != query:
            report.fail(f"variable ${name}", f"definition {variable['definition']!r} differs from its query {query!r}")
        m = LABEL_VALUES.match(query)
        if not m:
            report.fail(f"variable ${name}", f"not a label_values(metric, label) query: {query}")
            continue
        where = f"variable ${name}: {query}"
        label_queries.append((where, m.group("label"), substitute(where, m.group("metric"))))
    ids = set()
    for panel in board["panels"]:
        if panel["id"] in ids:
            report.fail(f"panel {panel['title']}", f"id {panel['id']} is used twice")
        ids.add(panel["id"])
        if panel["type"] == "row":
            continue
        if panel.get("datasource", {}).get("uid") != "${datasource}":
            report.fail(f"panel {panel['title']}", "does not use the $datasource variable")
        if not panel.get("targets"):
            report.fail(f"panel {panel['title']}", "has no query")
        for t in panel.get("targets", []):
            where = f"panel \"{panel['title']}\" {t['refId']}"
            expressions.append((where, substitute(where, t["expr"])))
    report.ok(f"{len(ids)} panels, {len(variables)} variables, schemaVersion {board.get('schemaVersion')}")
    return expressions, label_queries


def check_label_values(prom, report, where, label, selector, args):
    try:
        values = prom.label_values(label, selector, args.start, args.end)
    except QueryError as err:
        report.fail(where, f"invalid: {err}")
        return
    if values:
        report.ok(f"{where}  ({len(values)} values: {', '.join(values[:4])}{', …' if len(values) > 4 else ''})")
    else:
        report.fail(where, f"no values of label {label} on {selector} during the run")


def check_alert_history(prom, report, args):
    print("\n== ALERTS during the run")
    window = f"{int(args.end - args.start) + 1}s"
    for spec, want_fired in [(s, True) for s in args.expect_fired] + [(s, False) for s in args.expect_silent]:
        alertname, _, selector = spec.partition(":")
        labels = dict(pair.split("=", 1) for pair in selector.split(",") if pair)
        matchers = ", ".join([f'alertname="{alertname}"', 'alertstate="firing"'] + [f'{k}="{v}"' for k, v in labels.items()])
        expr = f"max_over_time(ALERTS{{{matchers}}}[{window}])"
        fired = bool(prom.query(expr, args.end)["result"])
        shown = ", ".join(f'{k}="{v}"' for k, v in labels.items())
        what = f"{alertname}{{{shown}}} {'fired' if want_fired else 'stayed silent'}"
        if fired == want_fired:
            report.ok(what)
        else:
            report.fail(what, f"{'never fired' if want_fired else 'fired'} during the run ({expr})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prometheus", required=True, help="base URL, e.g. http://127.0.0.1:9090")
    parser.add_argument("--start", type=float, required=True, help="the run's start, Unix seconds")
    parser.add_argument("--end", type=float, default=None, help="the run's end (default: now)")
    parser.add_argument("--dashboard", required=True)
    parser.add_argument("--rule-tests", nargs="+", required=True, help="promtool test files")
    parser.add_argument("--repo", type=Path, required=True, help="root that runbook_url paths are relative to")
    parser.add_argument("--expect-fired", action="append", default=[], metavar="ALERT[:label=value,...]")
    parser.add_argument("--expect-silent", action="append", default=[], metavar="ALERT[:label=value,...]")
    parser.add_argument("--may-be-absent", type=lambda s: set(filter(None, s.split(","))), default=set(),
                        metavar="SERIES,...", help="series the run may not produce")
    args = parser.parse_args()
    args.end = args.end or time.time()
    prom = Prometheus(args.prometheus)
    report = Report()

    rules = check_rules(prom, report, args)
    recorded = {}
    for rule in rules:
        if rule["type"] == "recording":
            # Several rules record one name (a label apart): the series read are the union.
            recorded[rule["name"]] = recorded.get(rule["name"], "") + " " + rule["query"]
    alerts = {rule["name"] for rule in rules if rule["type"] == "alerting"}
    check_rule_tests(report, alerts, args.rule_tests)

    print(f"\n== expressions over the run ({args.end - args.start:.0f}s)")
    present = {}
    for rule in rules:
        if rule["type"] == "recording":
            check_expression(prom, report, f"record {rule['name']}", rule["query"], args, recorded, present)
        else:
            check_expression(prom, report, f"alert {rule['name']}", with_bool(rule["query"]), args, recorded, present)
    expressions, label_queries = dashboard_expressions(report, args.dashboard)
    for where, label, selector in label_queries:
        check_label_values(prom, report, where, label, selector, args)
    for where, expr in expressions:
        check_expression(prom, report, where, expr, args, recorded, present)

    check_alert_history(prom, report, args)

    print()
    if report.absent:
        names = sorted({name for _, series in report.absent for name in series})
        print(f"{len(report.absent)} expressions returned no data because the run never exported {', '.join(names)}.")
    if report.failures:
        print(f"{len(report.failures)} checks FAILED:")
        for failure in report.failures:
            print(f"  - {failure}")
        return 1
    print("every check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
