package pullevents

import (
	"fmt"
	"math"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

var baseTime = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)

// podEvent builds an event as a kubelet writes it about container app of a pod.
func podEvent(pod, node, reason, message string, count int32, at time.Duration) *corev1.Event {
	return &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: fmt.Sprintf("%s.%d", pod, at)},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "team", Name: pod,
			UID: types.UID(pod + "-uid"), FieldPath: "spec.containers{app}"},
		Reason:         reason,
		Message:        message,
		Count:          count,
		Source:         corev1.EventSource{Component: "kubelet", Host: node},
		FirstTimestamp: metav1.NewTime(baseTime.Add(at)),
		LastTimestamp:  metav1.NewTime(baseTime.Add(at)),
	}
}

func pulled(reference, duration string) string {
	return fmt.Sprintf("Successfully pulled image %q in %s (%s including waiting). Image "+
		"size: 1000 bytes.", reference, duration, duration)
}

func summarize(t *testing.T, options Options, events ...*corev1.Event) Summary {
	t.Helper()
	aggregator, err := NewAggregator(options)
	if err != nil {
		t.Fatalf("NewAggregator: %v", err)
	}
	for _, event := range events {
		aggregator.Add(event)
	}
	return aggregator.Summary()
}

func findImage(t *testing.T, summary Summary, reference string) Image {
	t.Helper()
	for _, image := range summary.Images {
		if image.Reference == reference {
			return image
		}
	}
	t.Fatalf("no image %q in %+v", reference, summary.Images)
	return Image{}
}

func TestSummaryCountsPerImageAndNode(t *testing.T) {
	events := []*corev1.Event{
		podEvent("web-1", "node-a", "Pulling", `Pulling image "nginx:1.27"`, 1, 0),
		podEvent("web-1", "node-a", "Pulled", pulled("nginx:1.27", "2s"), 1, time.Second),
		podEvent("web-2", "node-b", "Pulled",
			`Container image "docker.io/library/nginx:1.27" already present on machine`, 3,
			2*time.Second),
		podEvent("web-3", "node-b", "Pulled", pulled("nginx:1.27", "4s"), 2, 3*time.Second),
		podEvent("api-1", "node-a", "Started", "Started container app", 1, 4*time.Second),
	}
	summary := summarize(t, Options{}, events...)

	if summary.EventCount != 5 {
		t.Errorf("EventCount = %d, want 5", summary.EventCount)
	}
	if summary.Pulls != 3 {
		t.Errorf("Pulls = %d, want 3", summary.Pulls)
	}
	if summary.AlreadyPresent != 3 {
		t.Errorf("AlreadyPresent = %d, want 3", summary.AlreadyPresent)
	}
	if len(summary.Images) != 1 {
		t.Fatalf("Images has %d entries, want 1: %+v", len(summary.Images), summary.Images)
	}
	image := summary.Images[0]
	if image.Reference != "docker.io/library/nginx:1.27" {
		t.Errorf("Reference = %q, want the normalized reference", image.Reference)
	}
	wantTimes := []PullTime{{2 * time.Second, 1}, {4 * time.Second, 2}}
	if fmt.Sprint(image.PullTimes) != fmt.Sprint(wantTimes) {
		t.Errorf("PullTimes = %v, want %v", image.PullTimes, wantTimes)
	}
	if len(image.Nodes) != 2 {
		t.Fatalf("Nodes has %d entries, want 2: %+v", len(image.Nodes), image.Nodes)
	}
	a, b := image.Nodes[0], image.Nodes[1]
	if a.Name != "node-a" || a.Pulls != 1 || a.AlreadyPresent != 0 {
		t.Errorf("node-a = %+v, want 1 pull", a)
	}
	if b.Name != "node-b" || b.Pulls != 2 || b.AlreadyPresent != 3 {
		t.Errorf("node-b = %+v, want 2 pulls and 3 already present", b)
	}
}

func TestSummaryFailuresPairing(t *testing.T) {
	failedText := "rpc error: code = NotFound desc = manifest unknown"
	events := []*corev1.Event{
		// web-1 on node-a: three failed attempts, each as a named event and an `Error:`
		// event in the same second, then back-offs.
		podEvent("web-1", "node-a", "Pulling", `Pulling image "quay.io/org/app:v9"`, 3, 0),
		podEvent("web-1", "node-a", "Failed",
			`Failed to pull image "quay.io/org/app:v9": `+failedText, 3, time.Minute),
		podEvent("web-1", "node-a", "Failed", "Error: ErrImagePull", 3, time.Minute),
		podEvent("web-1", "node-a", "BackOff", `Back-off pulling image "quay.io/org/app:v9"`,
			5, 2*time.Minute),
		podEvent("web-1", "node-a", "Failed", "Error: ImagePullBackOff", 5, 2*time.Minute),
		// web-2 on node-b: only the `Error:` event survived; it takes its image from the
		// Pulling event of the same container.
		podEvent("web-2", "node-b", "Pulling", `Pulling image "quay.io/org/app:v9"`, 1, 0),
		podEvent("web-2", "node-b", "Failed", "Error: ErrImagePull", 2, 3*time.Minute),
		// web-3 on node-b pulls another image; its `Error:` must not be given app:v9.
		podEvent("web-3", "node-b", "Pulling", `Pulling image "quay.io/org/other:v1"`, 1, 0),
		podEvent("web-3", "node-b", "Failed", "Error: ErrImagePull", 1, 4*time.Minute),
		// web-4 has an `Error:` event and no event that names its image.
		podEvent("web-4", "node-b", "Failed", "Error: ErrImagePull", 1, 5*time.Minute),
	}
	summary := summarize(t, Options{}, events...)

	app := findImage(t, summary, "quay.io/org/app:v9")
	if app.Failures != 5 {
		t.Errorf("app Failures = %d, want 3 + 2", app.Failures)
	}
	if app.BackOffs != 5 {
		t.Errorf("app BackOffs = %d, want 5", app.BackOffs)
	}
	if app.LastFailure == nil {
		t.Fatal("app LastFailure is nil")
	}
	if app.LastFailure.Reason != "ErrImagePull" {
		t.Errorf("app LastFailure.Reason = %q, want ErrImagePull", app.LastFailure.Reason)
	}
	if !app.LastFailure.Time.Equal(baseTime.Add(3 * time.Minute)) {
		t.Errorf("app LastFailure.Time = %v, want web-2's failure", app.LastFailure.Time)
	}
	// web-2's last failure has no message; the image's message must then not come from an
	// older failure on another node.
	if app.LastFailure.Message != "" {
		t.Errorf("app LastFailure.Message = %q, want empty", app.LastFailure.Message)
	}

	nodeA := app.Nodes[0]
	if nodeA.Name != "node-a" || nodeA.Failures != 3 || nodeA.BackOffs != 5 {
		t.Errorf("node-a = %+v, want 3 failures and 5 back-offs", nodeA)
	}
	if nodeA.LastFailure == nil || nodeA.LastFailure.Message != failedText {
		t.Errorf("node-a LastFailure = %+v, want the pull error text", nodeA.LastFailure)
	}
	if nodeB := app.Nodes[1]; nodeB.Name != "node-b" || nodeB.Failures != 2 {
		t.Errorf("node-b = %+v, want 2 failures", nodeB)
	}

	other := findImage(t, summary, "quay.io/org/other:v1")
	if other.Failures != 1 {
		t.Errorf("other Failures = %d, want 1", other.Failures)
	}
	if summary.Failures != 6 {
		t.Errorf("total Failures = %d, want 6 without web-4's unpaired event", summary.Failures)
	}
	if len(summary.Images) != 2 {
		t.Errorf("Images has %d entries, want 2", len(summary.Images))
	}
}

func TestSummaryPairingUsesContainer(t *testing.T) {
	initPulling := podEvent("web-1", "node-a", "Pulling", `Pulling image "busybox:1"`, 1, 0)
	initPulling.InvolvedObject.FieldPath = "spec.initContainers{setup}"
	initError := podEvent("web-1", "node-a", "Failed", "Error: InvalidImageName", 1,
		time.Minute)
	initError.InvolvedObject.FieldPath = "spec.initContainers{setup}"
	events := []*corev1.Event{
		initPulling,
		podEvent("web-1", "node-a", "Pulling", `Pulling image "nginx:1.27"`, 1, 0),
		initError,
		// An `Error:` event before any named event takes the container's later image.
		podEvent("web-2", "node-a", "Failed", "Error: ErrImageNeverPull", 1, 0),
		podEvent("web-2", "node-a", "ErrImageNeverPull",
			`Container image "redis:7" is not present with pull policy of Never`, 1, 0),
	}
	summary := summarize(t, Options{}, events...)

	busybox := findImage(t, summary, "docker.io/library/busybox:1")
	if busybox.Failures != 1 || busybox.LastFailure.Reason != "InvalidImageName" {
		t.Errorf("busybox = %+v, want 1 InvalidImageName failure", busybox.Counts)
	}
	nginx := findImage(t, summary, "docker.io/library/nginx:1.27")
	if nginx.Failures != 0 {
		t.Errorf("nginx Failures = %d, want 0", nginx.Failures)
	}
	redis := findImage(t, summary, "docker.io/library/redis:7")
	if redis.Failures != 1 {
		t.Errorf("redis Failures = %d, want 1 for the two events of one attempt",
			redis.Failures)
	}
	if redis.LastFailure == nil || redis.LastFailure.Reason != "ErrImageNeverPull" ||
		redis.LastFailure.Message == "" {
		t.Errorf("redis LastFailure = %+v, want ErrImageNeverPull with message",
			redis.LastFailure)
	}
}

func TestSummaryFilters(t *testing.T) {
	now := baseTime.Add(time.Hour)
	events := []*corev1.Event{
		podEvent("a", "node-a", "Pulled", pulled("nginx:1.27", "1s"), 1, 0),
		podEvent("b", "node-b", "Pulled", pulled("nginx:1.27", "1s"), 1, 50*time.Minute),
		podEvent("c", "node-b", "Pulled", pulled("nginx-ingress:1.27", "1s"), 1,
			50*time.Minute),
		podEvent("d", "node-c", "Pulled", pulled("quay.io/org/app:v1", "1s"), 1,
			55*time.Minute),
		// Only its Pulling event is within since, but the `Error:` event is too, and takes
		// the image of the Pulling event before the window.
		podEvent("e", "node-c", "Pulling", `Pulling image "quay.io/org/app:v1"`, 1, 0),
		podEvent("e", "node-c", "Failed", "Error: ErrImagePull", 1, 58*time.Minute),
	}

	allImages := []string{"docker.io/library/nginx-ingress:1.27",
		"docker.io/library/nginx:1.27", "quay.io/org/app:v1"}
	tests := []struct {
		name       string
		options    Options
		wantImages []string
		wantPulls  int64
		wantFailed int64
	}{
		{
			name:       "none",
			options:    Options{},
			wantImages: allImages,
			wantPulls:  4,
			wantFailed: 1,
		},
		{
			name:       "images familiar",
			options:    Options{Images: []string{"nginx:1.27"}},
			wantImages: []string{"docker.io/library/nginx:1.27"},
			wantPulls:  2,
		},
		{
			name:       "nodes",
			options:    Options{NodeNames: []string{"node-b", "node-c"}},
			wantImages: allImages,
			wantPulls:  3,
			wantFailed: 1,
		},
		{
			name:       "since",
			options:    Options{Since: 15 * time.Minute, Now: now},
			wantImages: allImages,
			wantPulls:  3,
			wantFailed: 1,
		},
		{
			name:       "since excludes all",
			options:    Options{Since: time.Minute, Now: now},
			wantImages: nil,
		},
		{
			name: "all filters",
			options: Options{Images: []string{"quay.io/org/app:v1"},
				NodeNames: []string{"node-c"}, Since: 5 * time.Minute, Now: now},
			wantImages: []string{"quay.io/org/app:v1"},
			wantPulls:  1,
			wantFailed: 1,
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			summary := summarize(t, test.options, events...)
			var references []string
			for _, image := range summary.Images {
				references = append(references, image.Reference)
			}
			if fmt.Sprint(references) != fmt.Sprint(test.wantImages) {
				t.Errorf("images = %v, want %v", references, test.wantImages)
			}
			if summary.Pulls != test.wantPulls {
				t.Errorf("Pulls = %d, want %d", summary.Pulls, test.wantPulls)
			}
			if summary.Failures != test.wantFailed {
				t.Errorf("Failures = %d, want %d", summary.Failures, test.wantFailed)
			}
			if summary.EventCount != int64(len(events)) {
				t.Errorf("EventCount = %d, want %d", summary.EventCount, len(events))
			}
		})
	}
}

func TestNewAggregatorInvalidImage(t *testing.T) {
	if _, err := NewAggregator(Options{Images: []string{"Not A Reference"}}); err == nil {
		t.Fatal("NewAggregator accepted an invalid reference")
	}
}

func TestSummaryCombinedEventDuration(t *testing.T) {
	event := podEvent("a", "node-a", "Pulled", combinedPrefix+pulled("nginx", "3s"), 12, 0)
	image := summarize(t, Options{}, event).Images[0]
	if image.Pulls != 12 {
		t.Errorf("Pulls = %d, want 12", image.Pulls)
	}
	if want := []PullTime{{3 * time.Second, 1}}; fmt.Sprint(image.PullTimes) != fmt.Sprint(want) {
		t.Errorf("PullTimes = %v, want the one duration the message contains, once",
			image.PullTimes)
	}
}

func TestSummaryInvalidReferenceKept(t *testing.T) {
	events := []*corev1.Event{
		podEvent("a", "node-a", "InspectFailed",
			`Failed to apply default image tag "Bad:Name:": couldn't parse image name`, 1, 0),
		podEvent("a", "node-a", "Failed", "Error: InvalidImageName", 1, 0),
	}
	summary := summarize(t, Options{}, events...)
	image := findImage(t, summary, "Bad:Name:")
	if image.Failures != 1 {
		t.Errorf("Failures = %d, want 1", image.Failures)
	}
	if image.LastFailure.Message != "couldn't parse image name" {
		t.Errorf("LastFailure.Message = %q", image.LastFailure.Message)
	}
}

func TestMedianAndPercentile(t *testing.T) {
	seconds := func(values ...float64) []PullTime {
		var out []PullTime
		for _, value := range values {
			out = append(out, PullTime{time.Duration(value * float64(time.Second)), 1})
		}
		return mergePullTimes(out)
	}
	tests := []struct {
		name       string
		sorted     []PullTime
		wantMedian float64
		wantP95    float64
		wantOK     bool
	}{
		{name: "empty"},
		{name: "one", sorted: seconds(2), wantMedian: 2, wantP95: 2, wantOK: true},
		{name: "two", sorted: seconds(1, 4), wantMedian: 2.5, wantP95: 4, wantOK: true},
		{name: "three", sorted: seconds(1, 2, 9), wantMedian: 2, wantP95: 9, wantOK: true},
		// With 20 values, rank ceil(0.95 * 20) = 19 is the 19th value, not the largest.
		{name: "twenty",
			sorted: seconds(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
				100),
			wantMedian: 10.5, wantP95: 19, wantOK: true},
		{name: "weighted", sorted: []PullTime{{time.Second, 3}, {9 * time.Second, 1}},
			wantMedian: 1, wantP95: 9, wantOK: true},
		// With 21 values, rank ceil(19.95) = 20.
		{name: "twenty-one",
			sorted: seconds(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
				20, 100),
			wantMedian: 11, wantP95: 20, wantOK: true},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			median, ok := Median(test.sorted)
			if ok != test.wantOK || median != test.wantMedian {
				t.Errorf("Median = %v, %v; want %v, %v", median, ok, test.wantMedian,
					test.wantOK)
			}
			p95, ok := NearestRankPercentile(test.sorted, 95)
			if ok != test.wantOK || p95 != test.wantP95 {
				t.Errorf("NearestRankPercentile(95) = %v, %v; want %v, %v", p95, ok,
					test.wantP95, test.wantOK)
			}
		})
	}
}

// An event that repeated two billion times costs one entry, not one per pull.
func TestSummaryHugeCount(t *testing.T) {
	event := podEvent("a", "node-a", "Pulled", pulled("nginx", "1.5s"), math.MaxInt32, 0)
	image := summarize(t, Options{}, event).Images[0]
	if image.Pulls != math.MaxInt32 {
		t.Errorf("Pulls = %d, want %d", image.Pulls, math.MaxInt32)
	}
	if len(image.PullTimes) != 1 || image.PullTimes[0].Count != math.MaxInt32 {
		t.Errorf("PullTimes = %v, want one entry with the whole count", image.PullTimes)
	}
	if median, ok := Median(image.PullTimes); !ok || median != 1.5 {
		t.Errorf("Median = %v, %v, want 1.5", median, ok)
	}
}
