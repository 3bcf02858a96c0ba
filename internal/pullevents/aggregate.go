package pullevents

import (
	"cmp"
	"math"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/imagedist/terraform-provider-imagedist/internal/imageref"
)

// Options selects the events that Summary counts.
type Options struct {
	// Images are image references of interest, as the user wrote them ("nginx:1.27"). An
	// event counts when its image matches one, as imageref.Matcher matches. All images when
	// empty.
	Images []string
	// NodeNames are the nodes of interest. All nodes when empty.
	NodeNames []string
	// Since, when positive, keeps only the events that last occurred within Since before Now.
	Since time.Duration
	// Now is the time Since is measured back from.
	Now time.Time
}

// Summary is the sum of the selected image events.
type Summary struct {
	// Images are sorted by Reference.
	Images         []Image
	Pulls          int64
	AlreadyPresent int64
	Failures       int64
	BackOffs       int64
	// EventCount is the number of Events passed to Add, image events or not.
	EventCount int64
}

// Counts are the figures of one image, or of one image on one node.
type Counts struct {
	// Pulls is the number of successful pulls.
	Pulls int64
	// AlreadyPresent is the number of times a container found the image on its node.
	AlreadyPresent int64
	// Failures is the number of failed attempts to make the image present, pulls or checks.
	Failures int64
	// BackOffs is the number of times the kubelet skipped a pull while backing off.
	BackOffs int64
	// LastFailure is nil when Failures is 0.
	LastFailure *Failure
}

// Failure describes the latest failed attempt.
type Failure struct {
	// Reason is the kubelet's reason, such as ErrImagePull or InvalidImageName.
	Reason string
	// Message is the error text of the event that named the image, and empty when no such
	// event has the same reason as the latest failure.
	Message string
	Time    time.Time
}

// PullTime is a pull duration and the number of pulls that took it.
type PullTime struct {
	Duration time.Duration
	Count    int64
}

// Image is the figures of one image.
type Image struct {
	// Reference is the image as the events name it, normalized by imageref.Parse, such as
	// docker.io/library/nginx:1.27. It is kept as written when it does not parse.
	Reference string
	Counts
	// PullTimes are the pull durations the Pulled events contain, sorted, each with the
	// number of pulls that took it. An event that repeated adds its count, not a copy per
	// pull, so a huge count costs no memory.
	PullTimes []PullTime
	// Nodes are sorted by Name.
	Nodes []Node
}

// Node is the figures of one image on one node.
type Node struct {
	Name string
	Counts
}

// Aggregator sums image events. Build it with NewAggregator, pass every Event to Add, then
// call Summary.
type Aggregator struct {
	options  Options
	matchers []*imageref.Matcher
	nodes    map[string]bool
	records  []record
	events   int64
}

// NewAggregator returns an Aggregator for the given options. The error is imageref.Parse's
// for the first entry of options.Images that is not a valid image reference.
func NewAggregator(options Options) (*Aggregator, error) {
	aggregator := &Aggregator{options: options}
	for _, reference := range options.Images {
		matcher, err := imageref.NewMatcher(reference)
		if err != nil {
			return nil, err
		}
		aggregator.matchers = append(aggregator.matchers, matcher)
	}
	if len(options.NodeNames) > 0 {
		aggregator.nodes = make(map[string]bool, len(options.NodeNames))
		for _, name := range options.NodeNames {
			aggregator.nodes[name] = true
		}
	}
	return aggregator, nil
}

// Add parses one Event and keeps it when it is an image event. The filters apply in Summary,
// because an `Error:` event outside them may take its image from an event inside them, and
// the other way round.
func (a *Aggregator) Add(event *corev1.Event) {
	a.events++
	parsed, ok := parseEvent(event)
	if ok && parsed.container.node != "" {
		a.records = append(a.records, parsed)
	}
}

// Reset drops every event added so far, as when a list restarts from the beginning.
func (a *Aggregator) Reset() {
	a.records = nil
	a.events = 0
}

// tally is the events of one image in one container.
type tally struct {
	pulls, alreadyPresent         int64
	namedFailures, errorFailures  int64
	namedBackOffs, errorBackOffs  int64
	lastFailure, lastNamedFailure *Failure
	image, node                   string
	durations                     []PullTime
}

// Summary pairs the events without an image with their container's image, applies the
// filters and returns the sums.
func (a *Aggregator) Summary() Summary {
	records := slices.Clone(a.records)
	// Events that name the image sort first among those of the same time, so that the
	// `Error:` event of an attempt, written in the same second, finds its image.
	slices.SortStableFunc(records, func(x, y record) int {
		if order := x.time.Compare(y.time); order != 0 {
			return order
		}
		return cmp.Compare(boolRank(x.reference == ""), boolRank(y.reference == ""))
	})
	assignReferences(records)

	tallies := map[string]map[container]*tally{}
	for i := range records {
		r := &records[i]
		if r.reference == "" || !a.selected(r) {
			continue
		}
		image := normalize(r.reference)
		byContainer := tallies[image]
		if byContainer == nil {
			byContainer = map[container]*tally{}
			tallies[image] = byContainer
		}
		t := byContainer[r.container]
		if t == nil {
			t = &tally{image: image, node: r.container.node}
			byContainer[r.container] = t
		}
		t.add(r)
	}

	summary := Summary{EventCount: a.events}
	for image, byContainer := range tallies {
		entry := buildImage(image, byContainer)
		summary.Pulls += entry.Pulls
		summary.AlreadyPresent += entry.AlreadyPresent
		summary.Failures += entry.Failures
		summary.BackOffs += entry.BackOffs
		summary.Images = append(summary.Images, entry)
	}
	slices.SortFunc(summary.Images, func(x, y Image) int {
		return cmp.Compare(x.Reference, y.Reference)
	})
	return summary
}

func boolRank(value bool) int {
	if value {
		return 1
	}
	return 0
}

// assignReferences gives each record without a reference the reference of the latest earlier
// record of its container that has one, or else of the earliest later one. records must be
// sorted by time.
func assignReferences(records []record) {
	latest := map[container]string{}
	waiting := map[container][]int{}
	for i := range records {
		r := &records[i]
		if r.reference != "" {
			latest[r.container] = r.reference
			for _, index := range waiting[r.container] {
				records[index].reference = r.reference
			}
			delete(waiting, r.container)
			continue
		}
		if reference, ok := latest[r.container]; ok {
			r.reference = reference
			continue
		}
		waiting[r.container] = append(waiting[r.container], i)
	}
}

// selected reports whether a record passes the node, time and image filters.
func (a *Aggregator) selected(r *record) bool {
	if a.nodes != nil && !a.nodes[r.container.node] {
		return false
	}
	if a.options.Since > 0 && r.time.Before(a.options.Now.Add(-a.options.Since)) {
		return false
	}
	if len(a.matchers) == 0 {
		return true
	}
	name := normalize(r.reference)
	for _, matcher := range a.matchers {
		if matcher.MatchesName(name) {
			return true
		}
	}
	return false
}

// normalize returns the fully qualified form of a reference, or the reference itself when it
// does not parse, as for an InvalidImageName failure.
func normalize(reference string) string {
	parsed, err := imageref.Parse(reference)
	if err != nil {
		return reference
	}
	return parsed.String()
}

func (t *tally) add(r *record) {
	switch r.kind {
	case kindPulled:
		t.pulls += r.count
		if r.hasDuration {
			// The correlator keeps only the latest message of combined events, so that
			// duration stands for one pull. Otherwise every occurrence had this message.
			repeats := r.count
			if r.combined {
				repeats = 1
			}
			t.durations = append(t.durations, PullTime{Duration: r.duration, Count: repeats})
		}
	case kindAlreadyPresent:
		t.alreadyPresent += r.count
	case kindFailed:
		t.namedFailures += r.count
		failure := &Failure{Reason: r.reason, Message: r.message, Time: r.time}
		t.lastNamedFailure = failure
		t.lastFailure = failure
	case kindContainerFailed:
		t.errorFailures += r.count
		t.lastFailure = &Failure{Reason: r.reason, Time: r.time}
	case kindBackOff:
		t.namedBackOffs += r.count
	case kindContainerBackOff:
		t.errorBackOffs += r.count
	}
}

// counts returns the tally's figures. The named event and the `Error:` event of one attempt
// count once, and either alone counts too, so the larger of the two counts is the number of
// attempts.
func (t *tally) counts() Counts {
	counts := Counts{
		Pulls:          t.pulls,
		AlreadyPresent: t.alreadyPresent,
		Failures:       max(t.namedFailures, t.errorFailures),
		BackOffs:       max(t.namedBackOffs, t.errorBackOffs),
	}
	if t.lastFailure != nil {
		last := *t.lastFailure
		if t.lastNamedFailure != nil && t.lastNamedFailure.Reason == last.Reason {
			last.Message = t.lastNamedFailure.Message
		}
		counts.LastFailure = &last
	}
	return counts
}

// buildImage sums the tallies of one image per node and in all.
func buildImage(reference string, byContainer map[container]*tally) Image {
	image := Image{Reference: reference}
	nodes := map[string]*Counts{}
	for _, t := range byContainer {
		counts := t.counts()
		addCounts(&image.Counts, counts)
		node := nodes[t.node]
		if node == nil {
			node = &Counts{}
			nodes[t.node] = node
		}
		addCounts(node, counts)
		image.PullTimes = append(image.PullTimes, t.durations...)
	}
	image.PullTimes = mergePullTimes(image.PullTimes)

	for name, counts := range nodes {
		image.Nodes = append(image.Nodes, Node{Name: name, Counts: *counts})
	}
	slices.SortFunc(image.Nodes, func(x, y Node) int { return cmp.Compare(x.Name, y.Name) })
	return image
}

func addCounts(total *Counts, counts Counts) {
	total.Pulls += counts.Pulls
	total.AlreadyPresent += counts.AlreadyPresent
	total.Failures += counts.Failures
	total.BackOffs += counts.BackOffs
	if counts.LastFailure != nil &&
		(total.LastFailure == nil || laterFailure(counts.LastFailure, total.LastFailure)) {
		last := *counts.LastFailure
		total.LastFailure = &last
	}
}

// laterFailure reports whether a happened after b. Between failures of the same time, the
// one with a message wins, then the larger reason, so that the result does not depend on
// map order.
func laterFailure(a, b *Failure) bool {
	if order := a.Time.Compare(b.Time); order != 0 {
		return order > 0
	}
	if (a.Message != "") != (b.Message != "") {
		return a.Message != ""
	}
	return cmp.Or(cmp.Compare(a.Reason, b.Reason), cmp.Compare(a.Message, b.Message)) > 0
}

// mergePullTimes sorts times by duration and adds up the counts of equal durations.
func mergePullTimes(times []PullTime) []PullTime {
	slices.SortFunc(times, func(a, b PullTime) int { return cmp.Compare(a.Duration, b.Duration) })
	var merged []PullTime
	for _, time := range times {
		if time.Count <= 0 {
			continue
		}
		if last := len(merged) - 1; last >= 0 && merged[last].Duration == time.Duration {
			merged[last].Count += time.Count
			continue
		}
		merged = append(merged, time)
	}
	return merged
}

// total returns the number of pulls in times.
func total(times []PullTime) int64 {
	var n int64
	for _, time := range times {
		n += time.Count
	}
	return n
}

// atRank returns the duration of the pull at rank (1-based) in sorted times.
func atRank(sorted []PullTime, rank int64) time.Duration {
	for _, time := range sorted {
		if rank <= time.Count {
			return time.Duration
		}
		rank -= time.Count
	}
	return sorted[len(sorted)-1].Duration
}

// Median returns the middle pull duration of sorted times in seconds, or the mean of the
// two middle ones for an even number of pulls. It returns false for no pulls.
func Median(sorted []PullTime) (float64, bool) {
	n := total(sorted)
	if n == 0 {
		return 0, false
	}
	if n%2 == 1 {
		return atRank(sorted, n/2+1).Seconds(), true
	}
	return (atRank(sorted, n/2).Seconds() + atRank(sorted, n/2+1).Seconds()) / 2, true
}

// NearestRankPercentile returns the p-th percentile (0 < p <= 100) of the pull durations of
// sorted times in seconds by the nearest-rank method: the smallest duration that at least p
// percent of the pulls took no longer than, which is the one at rank ceil(p/100 * n). It
// returns false for no pulls.
func NearestRankPercentile(sorted []PullTime, p float64) (float64, bool) {
	n := total(sorted)
	if n == 0 || p <= 0 || p > 100 {
		return 0, false
	}
	rank := int64(math.Ceil(p / 100 * float64(n)))
	rank = min(max(rank, 1), n)
	return atRank(sorted, rank).Seconds(), true
}
