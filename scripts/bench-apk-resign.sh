#!/usr/bin/env bash
# Times Ripcord's APK re-signing and verification against apksigner in one
# run, on a generated ~100 MB APK (60 x 1 MiB stored assets, ~40 MB of
# deflated dex, a stored .so, minSdk 21 so v1+v2+v3 are all written; v4 off).
# Prints medians of RUNS runs (default 3), peak memory and the ratios.
# Needs: go, apksigner, aapt2 + android-framework-res, /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

go test -c -o "$work/apk.test" ./internal/apk
RIPCORD_BENCH_FIXTURE_DIR="$work" "$work/apk.test" -test.run '^TestWriteBenchFixture$' >/dev/null
in="$work/in.apk"
printf 'input: %s bytes\n' "$(stat -c %s "$in")"

# median SECONDS... of a list
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# measure NAME CMD...: runs CMD RUNS times; sets T (median s) and M (max KiB).
measure() {
  local ts=() mem=0 line
  for _ in $(seq "$RUNS"); do
    line="$(/usr/bin/time -f '%e %M' "$@" 2>&1 >/dev/null | tail -n 1)"
    ts+=("${line% *}")
    mem=$(( ${line#* } > mem ? ${line#* } : mem ))
  done
  T="$(median "${ts[@]}")"; M="$mem"
}

measure apksigner sign --key "$work/key.pk8" --cert "$work/cert.pem" --v4-signing-enabled false --out "$work/as.apk" "$in"
as_sign="$T"; as_sign_mem="$M"
measure apksigner verify "$work/as.apk"
as_verify="$T"; as_verify_mem="$M"

export RIPCORD_BENCH_APK="$in" RIPCORD_BENCH_KEY="$work/key.pk8" RIPCORD_BENCH_CERT="$work/cert.pem"
# bench NAME: one process per run, like apksigner; T is the median of the
# benchmark's own ns/op, M the largest peak RSS (which includes the test
# binary itself).
bench() {
  local ts=() mem=0 out m
  for _ in $(seq "$RUNS"); do
    out="$(/usr/bin/time -f 'MAXRSS %M' "$work/apk.test" -test.run '^$' -test.bench "^Benchmark$1\$" -test.benchtime 1x 2>&1)"
    ts+=("$(awk '/^Benchmark/ {printf "%.3f", $3/1e9}' <<<"$out")")
    m="$(awk '/^MAXRSS/ {print $2}' <<<"$out")"
    mem=$(( m > mem ? m : mem ))
  done
  T="$(median "${ts[@]}")"; M="$mem"
}
bench Resign; rc_sign="$T"; rc_sign_mem="$M"
bench Verify; rc_verify="$T"; rc_verify_mem="$M"
bench VerifyReuseV2ForV1; rc_qverify="$T"; rc_qverify_mem="$M"

printf '%-22s %8s %10s\n' operation seconds peak_MiB
printf '%-22s %8s %10d\n' "apksigner sign" "$as_sign" $((as_sign_mem / 1024))
printf '%-22s %8s %10d\n' "ripcord resign" "$rc_sign" $((rc_sign_mem / 1024))
printf '%-22s %8s %10d\n' "apksigner verify" "$as_verify" $((as_verify_mem / 1024))
printf '%-22s %8s %10d\n' "ripcord verify" "$rc_verify" $((rc_verify_mem / 1024))
printf '%-22s %8s %10d\n' "ripcord verify reuse" "$rc_qverify" $((rc_qverify_mem / 1024))
awk -v a="$as_sign" -v r="$rc_sign" 'BEGIN {printf "resign speed-up: %.1fx (target 10x)\n", a / r}'
awk -v a="$as_verify" -v r="$rc_verify" 'BEGIN {printf "verify speed-up: %.1fx (target 5x)\n", a / r}'
awk -v a="$as_verify" -v r="$rc_qverify" 'BEGIN {printf "verify speed-up with ReuseV2ForV1: %.1fx\n", a / r}'
