// Package benchmarks measures the provider against what users would run instead: a bare
// client-go list, kubectl, and one-at-a-time image look-ups. It measures the provider both in
// process and end to end through the Terraform CLI. The package contains only Go benchmarks,
// which skip unless IMAGEDIST_BENCH=1 is set. tools/bench.sh runs them and turns their output
// into a report with cmd/benchreport.
//
// A top-level benchmark is a group and the last element of a sub-benchmark's name is its
// variant, as in BenchmarkNodeInventory/nodes=5000/ref-kubectl. Variants named ref-* are
// references: the report states every variant of a group as a ratio of each reference of the
// group. Benchmarks report peak memory as the metric peak-rss-MiB and, where they count them,
// API server requests as api-requests.
package benchmarks
