#!/usr/bin/env bash
# make bench: runs the Go benchmarks of internal/benchmarks, which start local control planes
# seeded with generated nodes and a loopback registry, and writes a markdown report.
#
#   tools/bench.sh            node counts 1000,5000, 5 repetitions
#   QUICK=1 tools/bench.sh    1000 nodes, 3 repetitions
#
# Environment: IMAGEDIST_BENCH_NODES (comma-separated node counts), IMAGEDIST_BENCH_COUNT
# (repetitions), BENCH (the go test -bench pattern, default "."), BENCH_TIMEOUT (go test
# -timeout of each repetition, default 15m for QUICK=1 and 30m otherwise). QUICK=1 overrides
# the node counts and repetitions. The raw go test output goes to .bench/raw-TIME.txt and the
# report to .bench/report.md.
#
# Each repetition is a go test run of its own with -count 1, which starts and seeds its own
# control planes. With -count N instead, go test repeats each sub-benchmark N times in a row,
# so a burst of other work on the machine would slow one variant and not the others.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=$root/.bench
mkdir -p "$out/plugins"

if [[ ${QUICK:-0} != 0 ]]; then
  nodes=1000
  count=3
  timeout=${BENCH_TIMEOUT:-15m}
else
  nodes=${IMAGEDIST_BENCH_NODES:-1000,5000}
  count=${IMAGEDIST_BENCH_COUNT:-5}
  timeout=${BENCH_TIMEOUT:-30m}
fi
pattern=${BENCH:-.}

# The values are checked before anything is built or started, so a typo costs seconds.
if ! [[ $nodes =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]]; then
  echo "tools/bench.sh: IMAGEDIST_BENCH_NODES=$nodes is not a comma-separated list of" \
    "positive node counts, such as 1000,5000" >&2
  exit 2
fi
if ! [[ $count =~ ^[1-9][0-9]*$ ]]; then
  echo "tools/bench.sh: IMAGEDIST_BENCH_COUNT=$count is not a positive number of" \
    "repetitions" >&2
  exit 2
fi
if ! [[ $timeout =~ ^[0-9]+[smh]$ ]]; then
  echo "tools/bench.sh: BENCH_TIMEOUT=$timeout is not a duration such as 90s, 20m or 1h" >&2
  exit 2
fi

step() { printf '\n==> %s\n' "$*"; }

step "Building what is missing (the first run builds Kubernetes, etcd and Terraform from source)"
tools/build.sh build etcd kube-apiserver kubectl terraform registry

step "Building the provider"
go build -o "$out/plugins/terraform-provider-imagedist" .

raw=$out/raw-$(date -u +%Y%m%dT%H%M%SZ).txt
: > "$raw"
# go test -timeout does not cover benchmarks, so timeout(1) bounds each repetition: it
# interrupts go test, which stops the benchmark binary, and kills it a minute later if it is
# still running. The control-plane and registry processes die with the binary, because they
# are started with a parent-death signal.
# A failed repetition ends the run, which still gets a report of what finished, and the
# script then exits non-zero.
status=0
for repetition in $(seq 1 "$count"); do
  step "Repetition $repetition of $count: benchmarks $pattern at $nodes nodes" \
    "(output in ${raw#"$root"/})"
  IMAGEDIST_BENCH=1 \
    IMAGEDIST_BENCH_NODES=$nodes \
    IMAGEDIST_BENCH_PROVIDER=$out/plugins/terraform-provider-imagedist \
    timeout --signal=INT --kill-after=60s "$timeout" \
    go test -run '^$' -bench "$pattern" -benchtime 1x -count 1 -timeout "$timeout" \
    ./internal/benchmarks 2>&1 | tee -a "$raw" || status=$?
  if [[ $status == 124 ]]; then
    echo "tools/bench.sh: repetition $repetition did not finish within $timeout" \
      "(BENCH_TIMEOUT)" | tee -a "$raw" >&2
  fi
  if [[ $status != 0 ]]; then
    break
  fi
done

step "Writing the report to .bench/report.md"
if ! grep -q '^Benchmark.*ns/op' "$raw"; then
  echo "No benchmark finished; see ${raw#"$root"/}." >&2
  exit 1
fi
{
  # benchreport exits 1 when the run failed, which status already records here.
  go run ./internal/benchmarks/cmd/benchreport < "$raw" || true
  echo
  echo "## Machine and run"
  echo
  cpu_model=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
  echo "- CPU: $cpu_model, $(nproc) cores available"
  echo "- Memory: $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
  echo "- Kernel: $(uname -sr)"
  echo "- $(go version)"
  echo "- Node counts: $nodes; repetitions: $count; raw output: ${raw#"$root"/}"
  echo "- Commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "- Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$out/report.md"
cat "$out/report.md"
if [[ $status != 0 ]]; then
  echo "go test failed (exit $status); the report covers the benchmarks that finished." >&2
fi
exit "$status"
