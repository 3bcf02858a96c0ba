package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// Metric units with columns of their own. Other units get a column each after these.
const (
	unitPeakRSS     = "peak-rss-MiB"
	unitAPIRequests = "api-requests"
)

// referencePrefix starts the name of a reference variant.
const referencePrefix = "ref-"

// group is the variants of one benchmark group, in the order they first appear.
type group struct {
	name     string
	variants []*variant
}

// variant is every repetition of one benchmark.
type variant struct {
	name    string
	results []result
}

// groupResults splits each result's name at its last slash into group and variant and
// collects the repetitions of each variant. A name without a slash is a group with a single
// variant of the same name. Groups and variants keep the order of first appearance.
func groupResults(results []result) []*group {
	var groups []*group
	byName := map[string]*group{}
	for _, result := range results {
		groupName, variantName := result.name, result.name
		if i := strings.LastIndex(result.name, "/"); i >= 0 {
			groupName, variantName = result.name[:i], result.name[i+1:]
		}

		g := byName[groupName]
		if g == nil {
			g = &group{name: groupName}
			byName[groupName] = g
			groups = append(groups, g)
		}
		v := g.variant(variantName)
		v.results = append(v.results, result)
	}
	return groups
}

// variant returns the group's variant with the name, adding it when missing.
func (g *group) variant(name string) *variant {
	for _, v := range g.variants {
		if v.name == name {
			return v
		}
	}
	v := &variant{name: name}
	g.variants = append(g.variants, v)
	return v
}

// references returns the group's reference variants.
func (g *group) references() []*variant {
	var references []*variant
	for _, v := range g.variants {
		if strings.HasPrefix(v.name, referencePrefix) {
			references = append(references, v)
		}
	}
	return references
}

// extraUnits returns, sorted, the units that some variant of the group reports besides the
// wall time, peak RSS and API requests.
func (g *group) extraUnits() []string {
	var units []string
	for _, v := range g.variants {
		for _, result := range v.results {
			for unit := range result.metrics {
				if unit != unitTime && unit != unitPeakRSS && unit != unitAPIRequests &&
					!slices.Contains(units, unit) {
					units = append(units, unit)
				}
			}
		}
	}
	slices.Sort(units)
	return units
}

// values returns the variant's values of the unit, one per repetition that reported it.
func (v *variant) values(unit string) []float64 {
	var values []float64
	for _, result := range v.results {
		if value, ok := result.metrics[unit]; ok {
			values = append(values, value)
		}
	}
	return values
}

// median returns the median of the variant's values of the unit, and false when no
// repetition reported the unit.
func (v *variant) median(unit string) (float64, bool) {
	values := v.values(unit)
	if len(values) == 0 {
		return 0, false
	}
	slices.Sort(values)
	middle := len(values) / 2
	if len(values)%2 == 1 {
		return values[middle], true
	}
	return (values[middle-1] + values[middle]) / 2, true
}

// writeReport writes the markdown report.
func writeReport(out io.Writer, environment map[string]string, groups []*group) {
	fmt.Fprintln(out, "# Benchmark report")
	fmt.Fprintln(out)
	var header []string
	for _, key := range environmentKeys {
		if value, ok := environment[key]; ok {
			header = append(header, fmt.Sprintf("%s: `%s`", key, value))
		}
	}
	if len(header) > 0 {
		fmt.Fprintln(out, strings.Join(header, ", "))
		fmt.Fprintln(out)
	}
	fmt.Fprintln(out, "Times are wall time per operation. Memory and request columns are "+
		"medians over the runs. Ratios divide a variant's median by a reference's median.")

	for _, g := range groups {
		fmt.Fprintln(out)
		fmt.Fprintf(out, "## %s\n\n", g.name)
		writeFigures(out, g)
		if len(g.references()) > 0 {
			fmt.Fprintln(out)
			writeRatios(out, g)
		}
	}
}

// writeFigures writes the table of times and metrics of the group's variants.
func writeFigures(out io.Writer, g *group) {
	extra := g.extraUnits()
	columns := append([]string{"variant", "runs", "median", "min", "max", "peak RSS (MiB)",
		"API requests"}, extra...)
	writeRow(out, columns)
	alignment := []string{"---", "---:", "---:", "---:", "---:", "---:", "---:"}
	for range extra {
		alignment = append(alignment, "---:")
	}
	writeRow(out, alignment)

	for _, v := range g.variants {
		times := v.values(unitTime)
		median, _ := v.median(unitTime)
		row := []string{v.name, fmt.Sprint(len(v.results)), formatDuration(median),
			formatDuration(slices.Min(times)), formatDuration(slices.Max(times)),
			formatMedian(v, unitPeakRSS), formatMedian(v, unitAPIRequests)}
		for _, unit := range extra {
			row = append(row, formatMedian(v, unit))
		}
		writeRow(out, row)
	}
}

// writeRatios writes, for each variant, its median time and median peak RSS divided by
// those of each reference.
func writeRatios(out io.Writer, g *group) {
	references := g.references()
	columns := []string{"variant"}
	alignment := []string{"---"}
	for _, reference := range references {
		columns = append(columns, "time / "+reference.name, "RSS / "+reference.name)
		alignment = append(alignment, "---:", "---:")
	}
	writeRow(out, columns)
	writeRow(out, alignment)

	for _, v := range g.variants {
		row := []string{v.name}
		for _, reference := range references {
			row = append(row, formatRatio(v, reference, unitTime),
				formatRatio(v, reference, unitPeakRSS))
		}
		writeRow(out, row)
	}
}

func writeRow(out io.Writer, cells []string) {
	fmt.Fprintf(out, "| %s |\n", strings.Join(cells, " | "))
}

// formatDuration formats nanoseconds as milliseconds below one second and as seconds above.
func formatDuration(nanoseconds float64) string {
	if nanoseconds < 1e9 {
		return fmt.Sprintf("%.1f ms", nanoseconds/1e6)
	}
	return fmt.Sprintf("%.2f s", nanoseconds/1e9)
}

// formatMedian formats the variant's median of the unit, or "-" when it has none.
func formatMedian(v *variant, unit string) string {
	median, ok := v.median(unit)
	if !ok {
		return "-"
	}
	if median == math.Trunc(median) {
		return fmt.Sprintf("%.0f", median)
	}
	return fmt.Sprintf("%.1f", median)
}

// formatRatio formats the variant's median of the unit divided by the reference's, or "-"
// when either lacks the unit or the reference's median is zero.
func formatRatio(v, reference *variant, unit string) string {
	value, ok := v.median(unit)
	base, baseOK := reference.median(unit)
	if !ok || !baseOK || base == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", value/base)
}
