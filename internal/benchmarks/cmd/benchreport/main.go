// Command benchreport reads the output of `go test -bench` on standard input and writes a
// markdown report to standard output. For each group and variant, the report gives the
// median, minimum and maximum wall time over the repetitions and the medians of the other
// metrics. It also divides each variant's medians by those of each reference of its group.
//
// A benchmark's name up to its last slash is its group, and the last element is its variant.
// Variants whose name starts with "ref-" are the references. Usage:
//
//	go test -run '^$' -bench . -count 5 ./internal/benchmarks | go run ./internal/benchmarks/cmd/benchreport
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
)

func main() {
	input, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchreport: reading benchmark output: %v\n", err)
		os.Exit(1)
	}
	// go test writes a failing benchmark's messages to standard output, so they arrive here
	// with the results. They go to standard error, and the exit status is 1.
	failures := failureLines(string(input))
	for _, line := range failures {
		fmt.Fprintln(os.Stderr, line)
	}

	results, environment, err := parseBenchmarks(bytes.NewReader(input))
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchreport: reading benchmark output: %v\n", err)
		os.Exit(1)
	}
	if len(results) == 0 {
		fmt.Fprintln(os.Stderr, "benchreport: no benchmark results on standard input")
		os.Exit(1)
	}

	out := bufio.NewWriter(os.Stdout)
	writeReport(out, environment, groupResults(results))
	if err := out.Flush(); err != nil {
		fmt.Fprintf(os.Stderr, "benchreport: writing the report: %v\n", err)
		os.Exit(1)
	}
	if len(failures) > 0 {
		fmt.Fprintln(os.Stderr, "benchreport: the benchmark run failed (see the lines above), "+
			"so the report covers only the variants that finished")
		os.Exit(1)
	}
}
