#!/usr/bin/env bash
# The observability stage: the rules and the dashboard in observability/ against a real
# Prometheus (Debian's package) that scrapes the storage_service example through its workload
# and its outage.
#
#   1. promtool check rules / check config / test rules;
#   2. Prometheus on 127.0.0.1 (a free port, a temporary storage dir, scrape and rule evaluation
#      every second) scraping the example, run with --serve so its final numbers stay up;
#   3. .ci/prometheus_check.py: every rule healthy, every expression of the rules and the
#      dashboard valid and with data, S3CircuitOpen fired for s3-upload during the outage.
#
# The example's outage lasts seconds, the alerts' `for:` minutes (3m for S3CircuitOpen). This
# Prometheus therefore loads a copy of the alert rules whose `for:` lines alone are shortened
# (to $CI_FOR); the expressions are the shipped ones. The real `for:` durations are what the
# promtool tests check. Holding the outage open for over three minutes would add as much to
# every CI run and prove no more about the expressions.
#
#   bash .ci/prometheus.sh
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
OBS="$ROOT/observability"
WORK="$ROOT/.ci/work/prometheus"
CI_FOR=5s
pids=()
added_policy=

cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    if [ -n "$added_policy" ]; then as_root rm -f /usr/sbin/policy-rc.d; fi
}
trap cleanup EXIT
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
say() { printf '  %s\n' "$*"; }

rm -rf "$WORK" && mkdir -p "$WORK"

if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
    say "installing Debian's prometheus package (it ships promtool)"
    # The package's service would listen on every interface: keep it from starting (this
    # script starts its own on 127.0.0.1), and leave out the node exporter it recommends.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
        as_root chmod +x /usr/sbin/policy-rc.d
        added_policy=1
    fi
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends prometheus >/dev/null
    if [ -n "$added_policy" ]; then as_root rm -f /usr/sbin/policy-rc.d && added_policy=; fi
fi
prometheus --version 2>&1 | head -1

promtool check rules "$OBS"/rules/*.yml
promtool check config "$OBS/prometheus.yml"
promtool test rules "$OBS"/tests/*.test.yml

# The CI copy of the alert rules: only the `for:` lines change.
sed -E "s/^( +for: ).*/\1$CI_FOR/" "$OBS/rules/s3-ops-alerts.yml" >"$WORK/s3-ops-alerts.ci.yml"
if diff <(grep -Ev '^ +for: ' "$OBS/rules/s3-ops-alerts.yml") <(grep -Ev '^ +for: ' "$WORK/s3-ops-alerts.ci.yml"); then
    say "CI alert rules: $(grep -cE '^ +for: ' "$WORK/s3-ops-alerts.ci.yml") 'for:' lines shortened to $CI_FOR, nothing else changed"
else
    echo "the CI copy of the alert rules differs in more than its for: lines" >&2
    exit 1
fi

say "building the example"
example=$(cargo build -p s3-ops-examples --example storage_service --message-format=json-render-diagnostics |
    python3 -c 'import json, sys; print([m["executable"] for m in map(json.loads, sys.stdin) if m.get("executable")][-1])')

metrics_port=$(free_port)
prom_port=$(free_port)
cat >"$WORK/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $OBS/rules/s3-ops-recording.yml
  - $WORK/s3-ops-alerts.ci.yml
scrape_configs:
  - job_name: s3-ops-example
    static_configs:
      - targets: ["127.0.0.1:$metrics_port"]
EOF
promtool check config "$WORK/prometheus.yml"

prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/data" \
    --web.listen-address="127.0.0.1:$prom_port" >"$WORK/prometheus.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 150); do curl -sf -o /dev/null "http://127.0.0.1:$prom_port/-/ready" && break; sleep 0.2; done
curl -sf -o /dev/null "http://127.0.0.1:$prom_port/-/ready" || {
    cat "$WORK/prometheus.log"
    echo "Prometheus did not start" >&2
    exit 1
}
say "Prometheus on http://127.0.0.1:$prom_port scrapes http://127.0.0.1:$metrics_port/metrics every second"

start=$(date +%s)
"$example" --metrics-addr "127.0.0.1:$metrics_port" --serve >"$WORK/example.log" 2>&1 &
example_pid=$!
pids+=("$example_pid")
for _ in $(seq 1 600); do
    grep -q 'until Ctrl-C (--serve)' "$WORK/example.log" && break
    kill -0 "$example_pid" 2>/dev/null || break
    sleep 0.5
done
if ! grep -q 'until Ctrl-C (--serve)' "$WORK/example.log"; then
    cat "$WORK/example.log"
    echo "the example ended (or hung) before serving its final metrics" >&2
    exit 1
fi
say "the example ran its workload and outage in $(($(date +%s) - start))s; it still serves /metrics"
# A few more scrapes and rule evaluations of the final numbers.
sleep 5

# Series the example does not produce are allowed to be missing, and listed by the checker:
# it makes no skipped retry and hedges no read (a hedged read's percentile is process-wide,
# which would make the example's tests count requests that depend on the tests before them);
# transitions and overrides are required once the runtime names them.
may_be_absent=s3_retries_skipped_total,s3_hedged_attempts_total
for series in s3_circuit_breaker_transitions_total s3_circuit_breaker_override; do
    grep -rqs "\"$series\"" s3-ops-runtime/src || may_be_absent+=",$series"
done

status=0
python3 .ci/prometheus_check.py --prometheus "http://127.0.0.1:$prom_port" --start "$start" \
    --dashboard "$OBS/grafana/s3-ops-dashboard.json" --rule-tests "$OBS"/tests/*.test.yml \
    --repo "$ROOT" --may-be-absent "$may_be_absent" \
    --expect-fired S3CircuitOpen:circuit_name=s3-upload \
    --expect-silent S3CircuitOpen:circuit_name=s3-download \
    --expect-silent S3CircuitBreakerOverridden || status=$?

kill -INT "$example_pid"
example_status=0
wait "$example_pid" || example_status=$?
if [ "$example_status" != 0 ]; then
    tail -40 "$WORK/example.log"
    echo "the example reported a failure (exit status $example_status)" >&2
    status=1
fi
exit "$status"
