package main

import (
	"bufio"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// unitTime is the unit of the wall time per operation that every benchmark line carries.
const unitTime = "ns/op"

// result is one line of benchmark output: one repetition of one benchmark.
type result struct {
	// name is the benchmark's full name without the -GOMAXPROCS suffix.
	name       string
	iterations int
	// metrics holds every value of the line by unit, ns/op included.
	metrics map[string]float64
}

// environmentKeys are the header lines of `go test -bench` output that the report repeats.
var environmentKeys = []string{"goos", "goarch", "pkg", "cpu"}

// procsSuffix is the -GOMAXPROCS suffix that the testing package appends to names when
// GOMAXPROCS is not 1.
var procsSuffix = regexp.MustCompile(`-[0-9]+$`)

// parseBenchmarks reads `go test -bench` output and returns the results in input order and
// the header lines (goos, goarch, pkg, cpu) by key. Lines that are neither are skipped, such
// as log output. When a benchmark prints output of its own, the testing package writes the
// name and the figures on separate lines, and the figures are matched to the name before.
func parseBenchmarks(input io.Reader) ([]result, map[string]string, error) {
	var results []result
	environment := map[string]string{}
	pending := ""

	scanner := bufio.NewScanner(input)
	scanner.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for scanner.Scan() {
		line := scanner.Text()
		if key, value, ok := parseEnvironmentLine(line); ok {
			environment[key] = value
			continue
		}

		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		name := ""
		if strings.HasPrefix(fields[0], "Benchmark") {
			name = procsSuffix.ReplaceAllString(fields[0], "")
			fields = fields[1:]
			pending = name
		}
		if len(fields) == 0 {
			continue
		}
		if name == "" {
			name = pending
		}
		if name == "" {
			continue
		}

		iterations, metrics, ok := parseFigures(fields)
		if !ok {
			continue
		}
		results = append(results, result{name: name, iterations: iterations, metrics: metrics})
		pending = ""
	}
	return results, environment, scanner.Err()
}

// parseEnvironmentLine parses a header line such as "cpu: AMD EPYC 7B13".
func parseEnvironmentLine(line string) (key, value string, ok bool) {
	key, value, ok = strings.Cut(line, ": ")
	if !ok {
		return "", "", false
	}
	for _, known := range environmentKeys {
		if key == known {
			return key, strings.TrimSpace(value), true
		}
	}
	return "", "", false
}

// parseFigures parses the iteration count followed by value and unit pairs, which must
// include ns/op.
func parseFigures(fields []string) (int, map[string]float64, bool) {
	if len(fields) < 3 || len(fields)%2 == 0 {
		return 0, nil, false
	}
	iterations, err := strconv.Atoi(fields[0])
	if err != nil || iterations <= 0 {
		return 0, nil, false
	}

	metrics := map[string]float64{}
	for i := 1; i < len(fields); i += 2 {
		value, err := strconv.ParseFloat(fields[i], 64)
		if err != nil {
			return 0, nil, false
		}
		metrics[fields[i+1]] = value
	}
	if _, ok := metrics[unitTime]; !ok {
		return 0, nil, false
	}
	return iterations, metrics, true
}

// failureLines returns the lines of go test output that report a failure: "--- FAIL",
// "FAIL", "panic:", and the messages of a failing test or benchmark, which go test indents
// under the name as "    file_test.go:42: text".
func failureLines(output string) []string {
	var failures []string
	failing := false
	for _, line := range strings.Split(output, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "--- FAIL"), strings.HasPrefix(trimmed, "panic:"):
			failing = true
			failures = append(failures, line)
		case trimmed == "FAIL" || strings.HasPrefix(trimmed, "FAIL\t"):
			failures = append(failures, line)
		case failing && testMessage.MatchString(line):
			failures = append(failures, line)
		case !strings.HasPrefix(line, " "):
			failing = false
		}
	}
	return failures
}

// testMessage matches a message that t.Log or t.Error wrote, as go test prints it.
var testMessage = regexp.MustCompile(`^\s+\S+_test\.go:\d+: `)
