package main

import (
	"slices"
	"strings"
	"testing"
)

const sampleOutput = `goos: linux
goarch: amd64
pkg: github.com/imagedist/terraform-provider-imagedist/internal/benchmarks
cpu: AMD EPYC 7B13
benchmarks: seeded 1000 nodes with 50 images each in 12s
BenchmarkNodeInventory/nodes=1000/ref-bare-list-2         	       1	 512345678 ns/op	        12.00 api-requests	        48.50 peak-rss-MiB
BenchmarkNodeInventory/nodes=1000/ref-kubectl-2           	       1	7412345678 ns/op	        3.000 api-requests	       801.2 peak-rss-MiB
BenchmarkNodeInventory/nodes=1000/provider-read-full-2
    nodes_bench_test.go:90: a log line
       1	 923456789 ns/op	       210.0 peak-rss-MiB	     15360 state-KiB
--- BENCH: BenchmarkNodeInventory/nodes=1000/provider-read-full-2
    nodes_bench_test.go:91: another log line
BenchmarkPlain	       3	       100.0 ns/op
PASS
ok  	github.com/imagedist/terraform-provider-imagedist/internal/benchmarks	61.2s
`

func TestParseBenchmarksResults(t *testing.T) {
	results, _, err := parseBenchmarks(strings.NewReader(sampleOutput))
	if err != nil {
		t.Fatal(err)
	}

	expectedNames := []string{
		"BenchmarkNodeInventory/nodes=1000/ref-bare-list",
		"BenchmarkNodeInventory/nodes=1000/ref-kubectl",
		"BenchmarkNodeInventory/nodes=1000/provider-read-full",
		"BenchmarkPlain",
	}
	if len(results) != len(expectedNames) {
		t.Fatalf("got %d results, expected %d: %+v", len(results), len(expectedNames), results)
	}
	for i, name := range expectedNames {
		if results[i].name != name {
			t.Errorf("result %d is named %q, expected %q", i, results[i].name, name)
		}
	}

	first := results[0]
	if first.iterations != 1 {
		t.Errorf("iterations = %d, expected 1", first.iterations)
	}
	if got := first.metrics[unitTime]; got != 512345678 {
		t.Errorf("ns/op = %v, expected 512345678", got)
	}
	if got := first.metrics[unitAPIRequests]; got != 12 {
		t.Errorf("api-requests = %v, expected 12", got)
	}
	if got := first.metrics[unitPeakRSS]; got != 48.5 {
		t.Errorf("peak-rss-MiB = %v, expected 48.5", got)
	}
	if got := results[2].metrics["state-KiB"]; got != 15360 {
		t.Errorf("state-KiB of the split line = %v, expected 15360", got)
	}
	if got := results[3].iterations; got != 3 {
		t.Errorf("iterations of BenchmarkPlain = %d, expected 3", got)
	}
}

func TestParseBenchmarksEnvironment(t *testing.T) {
	_, environment, err := parseBenchmarks(strings.NewReader(sampleOutput))
	if err != nil {
		t.Fatal(err)
	}

	expected := map[string]string{
		"goos":   "linux",
		"goarch": "amd64",
		"pkg":    "github.com/imagedist/terraform-provider-imagedist/internal/benchmarks",
		"cpu":    "AMD EPYC 7B13",
	}
	for key, value := range expected {
		if environment[key] != value {
			t.Errorf("%s = %q, expected %q", key, environment[key], value)
		}
	}
	if len(environment) != len(expected) {
		t.Errorf("environment = %v, expected only %v", environment, expected)
	}
}

func TestParseBenchmarksMalformedLines(t *testing.T) {
	input := strings.Join([]string{
		"BenchmarkA-2 	 1	 abc ns/op",
		"BenchmarkB-2 	 0	 100 ns/op",
		"BenchmarkC-2 	 1	 100 peak-rss-MiB",
		"BenchmarkD-2 	 1	 100",
		"BenchmarkE-2 	 x	 100 ns/op",
		"    1	 100 ns/op",
		"--- SKIP: BenchmarkF",
	}, "\n")

	results, _, err := parseBenchmarks(strings.NewReader(input))
	if err != nil {
		t.Fatal(err)
	}
	// Every line with a name has invalid figures. The figures line without a name counts for
	// the last name, as when a benchmark's log output splits its line.
	if len(results) != 1 || results[0].name != "BenchmarkE" {
		t.Fatalf("got %+v, expected only the figures line matched to BenchmarkE", results)
	}
}

func TestParseBenchmarksNameWithoutProcs(t *testing.T) {
	input := "BenchmarkNodeInventory/nodes=5000/provider-read-summary 	 1	 100 ns/op\n"

	results, _, err := parseBenchmarks(strings.NewReader(input))
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 {
		t.Fatalf("got %d results, expected 1", len(results))
	}
	if results[0].name != "BenchmarkNodeInventory/nodes=5000/provider-read-summary" {
		t.Errorf("name = %q, expected it unchanged", results[0].name)
	}
}

func TestFailureLines(t *testing.T) {
	output := strings.Join([]string{
		"BenchmarkNodeInventory/nodes=1000/ref-bare-list-2 \t1\t141 ns/op",
		"    nodes_bench_test.go:80: seeded 1000 nodes",
		"--- FAIL: BenchmarkNodeInventory/nodes=1000/terraform-plan-full",
		"    nodes_bench_test.go:120: terraform plan: exit status 1",
		"FAIL",
		"exit status 1",
		"FAIL\tgithub.com/imagedist/terraform-provider-imagedist/internal/benchmarks\t30.1s",
	}, "\n")

	got := failureLines(output)
	want := []string{
		"--- FAIL: BenchmarkNodeInventory/nodes=1000/terraform-plan-full",
		"    nodes_bench_test.go:120: terraform plan: exit status 1",
		"FAIL",
		"FAIL\tgithub.com/imagedist/terraform-provider-imagedist/internal/benchmarks\t30.1s",
	}
	if !slices.Equal(got, want) {
		t.Errorf("failureLines =\n%q\nwant\n%q", got, want)
	}
	if lines := failureLines("ok  \tpkg\t1.0s\n    x_test.go:3: progress"); len(lines) != 0 {
		t.Errorf("failureLines of a passing run = %q, want none", lines)
	}
}
