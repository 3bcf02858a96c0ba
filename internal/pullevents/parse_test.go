package pullevents

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestParseMessage(t *testing.T) {
	tests := []struct {
		name     string
		reason   string
		message  string
		want     record
		wantSkip bool
	}{
		{
			name:    "pulling",
			reason:  "Pulling",
			message: `Pulling image "nginx:1.27"`,
			want:    record{kind: kindPulling, reference: "nginx:1.27"},
		},
		{
			name:   "pulled current",
			reason: "Pulled",
			message: `Successfully pulled image "quay.io/org/app:v1" in 3.061s (4.5s including ` +
				`waiting). Image size: 12345 bytes.`,
			want: record{kind: kindPulled, reference: "quay.io/org/app:v1",
				duration: 3061 * time.Millisecond, hasDuration: true},
		},
		{
			name:    "pulled without waiting or size",
			reason:  "Pulled",
			message: `Successfully pulled image "nginx" in 1m2.5s`,
			want: record{kind: kindPulled, reference: "nginx",
				duration: 62500 * time.Millisecond, hasDuration: true},
		},
		{
			name:    "pulled without duration",
			reason:  "Pulled",
			message: `Successfully pulled image "nginx"`,
			want:    record{kind: kindPulled, reference: "nginx"},
		},
		{
			name:    "pulled with unparseable duration",
			reason:  "Pulled",
			message: `Successfully pulled image "nginx" in soon (x including waiting).`,
			want:    record{kind: kindPulled, reference: "nginx"},
		},
		{
			name:    "already present",
			reason:  "Pulled",
			message: `Container image "nginx:1.27" already present on machine`,
			want:    record{kind: kindAlreadyPresent, reference: "nginx:1.27"},
		},
		{
			name:   "already present and accessible",
			reason: "Pulled",
			message: `Container image "nginx:1.27" already present on machine and can be ` +
				`accessed by the pod`,
			want: record{kind: kindAlreadyPresent, reference: "nginx:1.27"},
		},
		{
			name:   "failed to pull",
			reason: "Failed",
			message: `Failed to pull image "quay.io/org/app:v9": rpc error: code = NotFound ` +
				`desc = manifest unknown`,
			want: record{kind: kindFailed, reference: "quay.io/org/app:v9",
				reason:  "ErrImagePull",
				message: "rpc error: code = NotFound desc = manifest unknown"},
		},
		{
			name:    "failed to pull registry unavailable",
			reason:  "Failed",
			message: `Failed to pull image "quay.io/org/app:v9": RegistryUnavailable: timeout`,
			want: record{kind: kindFailed, reference: "quay.io/org/app:v9",
				reason: "RegistryUnavailable", message: "RegistryUnavailable: timeout"},
		},
		{
			name:   "failed to pull signature",
			reason: "Failed",
			message: `Failed to pull image "quay.io/org/app:v9": SignatureValidationFailed: ` +
				`no signature`,
			want: record{kind: kindFailed, reference: "quay.io/org/app:v9",
				reason:  "SignatureValidationFailed",
				message: "SignatureValidationFailed: no signature"},
		},
		{
			name:    "failed to inspect",
			reason:  "InspectFailed",
			message: `Failed to inspect image "": rpc error: code = Unavailable`,
			want: record{kind: kindFailed, reason: "ImageInspectError",
				message: "rpc error: code = Unavailable"},
		},
		{
			name:    "failed to inspect with reason Failed",
			reason:  "Failed",
			message: `Failed to inspect image "nginx:1.27": boom`,
			want: record{kind: kindFailed, reference: "nginx:1.27",
				reason: "ImageInspectError", message: "boom"},
		},
		{
			name:    "invalid image name",
			reason:  "InspectFailed",
			message: `Failed to apply default image tag "Nginx:!": couldn't parse image name`,
			want: record{kind: kindFailed, reference: "Nginx:!", reason: "InvalidImageName",
				message: "couldn't parse image name"},
		},
		{
			name:    "never pull",
			reason:  "ErrImageNeverPull",
			message: `Container image "nginx:1.27" is not present with pull policy of Never`,
			want: record{kind: kindFailed, reference: "nginx:1.27",
				reason: "ErrImageNeverPull",
				message: `Container image "nginx:1.27" is not present with pull policy ` +
					`of Never`},
		},
		{
			name:    "error ErrImagePull",
			reason:  "Failed",
			message: "Error: ErrImagePull",
			want:    record{kind: kindContainerFailed, reason: "ErrImagePull"},
		},
		{
			name:    "error InvalidImageName",
			reason:  "Failed",
			message: "Error: InvalidImageName",
			want:    record{kind: kindContainerFailed, reason: "InvalidImageName"},
		},
		{
			name:    "error ErrImageNeverPull",
			reason:  "Failed",
			message: "Error: ErrImageNeverPull",
			want:    record{kind: kindContainerFailed, reason: "ErrImageNeverPull"},
		},
		{
			name:    "error ImagePullBackOff",
			reason:  "Failed",
			message: "Error: ImagePullBackOff",
			want:    record{kind: kindContainerBackOff},
		},
		{
			name:    "back-off",
			reason:  "BackOff",
			message: `Back-off pulling image "nginx:1.27"`,
			want:    record{kind: kindBackOff, reference: "nginx:1.27"},
		},
		{
			name:    "back-off with error",
			reason:  "BackOff",
			message: `Back-off pulling image "nginx:1.27": ErrImagePull: manifest unknown`,
			want:    record{kind: kindBackOff, reference: "nginx:1.27"},
		},
		{
			name:     "back-off restarting container",
			reason:   "BackOff",
			message:  "Back-off restarting failed container app in pod x",
			wantSkip: true,
		},
		{
			name:     "container create error",
			reason:   "Failed",
			message:  "Error: container create failed: permission denied",
			wantSkip: true,
		},
		{
			name:     "started",
			reason:   "Started",
			message:  "Started container app",
			wantSkip: true,
		},
		{
			name:     "pulling with trailing text",
			reason:   "Pulling",
			message:  `Pulling image "nginx" now`,
			wantSkip: true,
		},
		{
			name:     "unquoted reference",
			reason:   "Pulling",
			message:  `Pulling image nginx`,
			wantSkip: true,
		},
		{
			name:     "pulled message under another reason",
			reason:   "Created",
			message:  `Successfully pulled image "nginx" in 1s`,
			wantSkip: true,
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			got, ok := parseMessage(test.reason, test.message)
			if test.wantSkip {
				if ok {
					t.Fatalf("parseMessage returned %+v, want no image event", got)
				}
				return
			}
			if !ok {
				t.Fatal("parseMessage returned no image event")
			}
			if got != test.want {
				t.Errorf("parseMessage = %+v\nwant %+v", got, test.want)
			}
		})
	}
}

func TestParseEventFields(t *testing.T) {
	first := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	last := first.Add(time.Minute)
	event := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web-1", UID: "u1",
			FieldPath: "spec.containers{app}"},
		Reason:            "Pulled",
		Message:           combinedPrefix + `Successfully pulled image "nginx" in 2s`,
		Count:             4,
		FirstTimestamp:    metav1.NewTime(first),
		LastTimestamp:     metav1.NewTime(last),
		ReportingInstance: "worker-9",
	}

	got, ok := parseEvent(event)
	if !ok {
		t.Fatal("parseEvent returned no image event")
	}
	want := container{namespace: "team", pod: "web-1", podUID: "u1",
		fieldPath: "spec.containers{app}", node: "worker-9"}
	if got.container != want {
		t.Errorf("container = %+v, want %+v", got.container, want)
	}
	if !got.combined {
		t.Error("combined is false for a combined message")
	}
	if got.count != 4 {
		t.Errorf("count = %d, want 4", got.count)
	}
	if !got.time.Equal(last) {
		t.Errorf("time = %v, want lastTimestamp %v", got.time, last)
	}

	event.Source.Host = "worker-1"
	if got, _ := parseEvent(event); got.container.node != "worker-1" {
		t.Errorf("node = %q, want source.host worker-1", got.container.node)
	}

	event.InvolvedObject.Kind = "Node"
	if _, ok := parseEvent(event); ok {
		t.Error("parseEvent accepted an event about a Node")
	}
}

func TestEventCountAndTime(t *testing.T) {
	first := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	series := first.Add(2 * time.Minute)
	micro := first.Add(3 * time.Minute)
	last := first.Add(4 * time.Minute)

	tests := []struct {
		name      string
		event     corev1.Event
		wantCount int64
		wantTime  time.Time
	}{
		{
			name:      "nothing set",
			event:     corev1.Event{},
			wantCount: 1,
		},
		{
			name:      "first timestamp only",
			event:     corev1.Event{Count: 3, FirstTimestamp: metav1.NewTime(first)},
			wantCount: 3,
			wantTime:  first,
		},
		{
			name: "event time over first timestamp",
			event: corev1.Event{FirstTimestamp: metav1.NewTime(first),
				EventTime: metav1.NewMicroTime(micro)},
			wantCount: 1,
			wantTime:  micro,
		},
		{
			name: "series over event time",
			event: corev1.Event{EventTime: metav1.NewMicroTime(micro),
				Series: &corev1.EventSeries{Count: 7,
					LastObservedTime: metav1.NewMicroTime(series)}},
			wantCount: 7,
			wantTime:  series,
		},
		{
			name: "last timestamp over all",
			event: corev1.Event{Count: 9, LastTimestamp: metav1.NewTime(last),
				EventTime: metav1.NewMicroTime(micro),
				Series: &corev1.EventSeries{Count: 2,
					LastObservedTime: metav1.NewMicroTime(series)}},
			wantCount: 9,
			wantTime:  last,
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			if got := eventCount(&test.event); got != test.wantCount {
				t.Errorf("eventCount = %d, want %d", got, test.wantCount)
			}
			if got := eventTime(&test.event); !got.Equal(test.wantTime) {
				t.Errorf("eventTime = %v, want %v", got, test.wantTime)
			}
		})
	}
}
