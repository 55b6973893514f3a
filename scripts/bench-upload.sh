#!/usr/bin/env bash
# Compares Ripcord's build upload (HTTP + auth + streaming to the artifact
# store while hashing + database row + audit entry) with sha256sum reading the
# same file, in one run, and measures API read latency.
# Usage: scripts/bench-upload.sh [SIZE_MIB]   (default 256)
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-256}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
file="$tmp/artifact.bin"
head -c "$((size_mib << 20))" /dev/urandom > "$file"
cat "$file" > /dev/null # warm the page cache for both contenders

start=$(date +%s.%N)
sha256sum "$file" > /dev/null
end=$(date +%s.%N)
sha_mbs=$(awk -v s="$start" -v e="$end" -v n="$size_mib" 'BEGIN { printf "%.0f", n * 1.048576 / (e - s) }')

out=$(RIPCORD_BENCH_FILE="$file" go test -run XXX -bench 'BuildUpload' -benchtime 5x -count 1 ./internal/daemon/)
echo "$out" | grep -E '^Benchmark'
go test -run XXX -bench 'APIReleaseGet' -benchtime 3s -count 1 ./internal/daemon/ | grep -E '^Benchmark'
up_mbs=$(echo "$out" | awk '/BenchmarkBuildUpload/ { print int($5) }')
echo
echo "file: ${size_mib} MiB"
echo "sha256sum:      ${sha_mbs} MB/s"
echo "ripcord upload: ${up_mbs} MB/s"
awk -v u="$up_mbs" -v s="$sha_mbs" 'BEGIN { printf "upload / sha256sum throughput: %.2f\n", u / s }'
