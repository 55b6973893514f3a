#!/usr/bin/env bash
# Measures Sentry envelope ingest through the real HTTP server on SQLite with
# the ingest pipeline (write-ahead log with group commit, in-memory dedupe,
# flushes every 500 ms): session updates per second, p50/p99 reply latency,
# heap and RSS before and after. The load generator runs in the same process
# (same cores); the CPU seconds per update it prints are the figure that does
# not depend on how busy the machine is.
# Usage: scripts/bench-ingest.sh [ENVELOPES] [SENDERS] [DEVICES]
#   (defaults 20000 envelopes of 100 updates, 32 connections, 100000 devices)
set -euo pipefail
cd "$(dirname "$0")/.."
envelopes=${1:-20000}
senders=${2:-32}
devices=${3:-100000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
RIPCORD_BENCH_SENDERS="$senders" RIPCORD_BENCH_DEVICES="$devices" \
	go test -run XXX -bench 'SentryIngestPipeline' -benchtime "${envelopes}x" -count 1 \
	-cpuprofile "$tmp/cpu.out" -o "$tmp/daemon.test" ./internal/daemon/ | tee "$tmp/out.txt" | grep -E '^Benchmark'
cpu=$(go tool pprof -top "$tmp/daemon.test" "$tmp/cpu.out" 2>/dev/null | awk '/Total samples/ { gsub("s", "", $(NF-1)); print $(NF-1) }')
awk -v c="$cpu" -v n="$envelopes" 'BEGIN { if (c > 0) printf "CPU: %.1f s for %d updates = %.1f µs per update (server and load generator), so %d cores could take about %.0f updates/s\n", c, n * 100, c * 1e6 / (n * 100), 2, 2 / (c / (n * 100)) }'
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
