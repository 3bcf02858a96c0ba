package main

import (
	"strings"
	"testing"
)

func benchmarkResult(name string, metrics map[string]float64) result {
	return result{name: name, iterations: 1, metrics: metrics}
}

func TestGroupResultsSplitsNames(t *testing.T) {
	groups := groupResults([]result{
		benchmarkResult("BenchmarkX/n=1/ref-a", map[string]float64{unitTime: 1}),
		benchmarkResult("BenchmarkX/n=1/b", map[string]float64{unitTime: 2}),
		benchmarkResult("BenchmarkX/n=2/ref-a", map[string]float64{unitTime: 3}),
		benchmarkResult("BenchmarkX/n=1/ref-a", map[string]float64{unitTime: 4}),
		benchmarkResult("BenchmarkPlain", map[string]float64{unitTime: 5}),
	})

	if len(groups) != 3 {
		t.Fatalf("got %d groups, expected 3", len(groups))
	}
	if groups[0].name != "BenchmarkX/n=1" || groups[1].name != "BenchmarkX/n=2" {
		t.Errorf("groups = %q, %q, expected BenchmarkX/n=1, BenchmarkX/n=2",
			groups[0].name, groups[1].name)
	}
	if groups[2].name != "BenchmarkPlain" || groups[2].variants[0].name != "BenchmarkPlain" {
		t.Errorf("a name without a slash gave group %q, variant %q", groups[2].name,
			groups[2].variants[0].name)
	}

	first := groups[0]
	if len(first.variants) != 2 || first.variants[0].name != "ref-a" || first.variants[1].name != "b" {
		t.Fatalf("variants of %s are not ref-a then b", first.name)
	}
	if got := len(first.variants[0].results); got != 2 {
		t.Errorf("ref-a has %d repetitions, expected 2", got)
	}
	if references := first.references(); len(references) != 1 || references[0].name != "ref-a" {
		t.Errorf("references of %s are not [ref-a]", first.name)
	}
}

func TestVariantMedian(t *testing.T) {
	odd := &variant{results: []result{
		benchmarkResult("B/v", map[string]float64{unitTime: 9}),
		benchmarkResult("B/v", map[string]float64{unitTime: 1}),
		benchmarkResult("B/v", map[string]float64{unitTime: 5, unitPeakRSS: 7}),
	}}
	if median, _ := odd.median(unitTime); median != 5 {
		t.Errorf("median of 9, 1, 5 = %v, expected 5", median)
	}
	if median, ok := odd.median(unitPeakRSS); !ok || median != 7 {
		t.Errorf("median of a unit one repetition reports = %v, %v, expected 7, true", median, ok)
	}
	if _, ok := odd.median(unitAPIRequests); ok {
		t.Error("median of an unreported unit is reported as present")
	}

	even := &variant{results: []result{
		benchmarkResult("B/v", map[string]float64{unitTime: 4}),
		benchmarkResult("B/v", map[string]float64{unitTime: 2}),
	}}
	if median, _ := even.median(unitTime); median != 3 {
		t.Errorf("median of 4, 2 = %v, expected 3", median)
	}
}

func TestWriteReportTablesAndRatios(t *testing.T) {
	results, environment, err := parseBenchmarks(strings.NewReader(strings.Join([]string{
		"cpu: Test CPU",
		"BenchmarkN/nodes=10/ref-list-2 	 1	 500000000 ns/op	 50.00 peak-rss-MiB	 2.000 api-requests",
		"BenchmarkN/nodes=10/ref-list-2 	 1	 700000000 ns/op	 60.00 peak-rss-MiB	 2.000 api-requests",
		"BenchmarkN/nodes=10/read-2 	 1	 1000000000 ns/op	 100.0 peak-rss-MiB	 12.50 state-KiB",
		"BenchmarkN/nodes=10/read-2 	 1	 1400000000 ns/op	 120.0 peak-rss-MiB	 12.50 state-KiB",
	}, "\n")))
	if err != nil {
		t.Fatal(err)
	}

	var report strings.Builder
	writeReport(&report, environment, groupResults(results))
	text := report.String()

	expectedLines := []string{
		"cpu: `Test CPU`",
		"## BenchmarkN/nodes=10",
		"| variant | runs | median | min | max | peak RSS (MiB) | API requests | state-KiB |",
		"| ref-list | 2 | 600.0 ms | 500.0 ms | 700.0 ms | 55 | 2 | - |",
		"| read | 2 | 1.20 s | 1.00 s | 1.40 s | 110 | - | 12.5 |",
		"| variant | time / ref-list | RSS / ref-list |",
		"| ref-list | 1.00x | 1.00x |",
		"| read | 2.00x | 2.00x |",
	}
	for _, line := range expectedLines {
		if !strings.Contains(text, line+"\n") {
			t.Errorf("report lacks the line %q:\n%s", line, text)
		}
	}
}
