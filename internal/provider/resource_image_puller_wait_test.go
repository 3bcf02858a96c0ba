package provider

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/imagedist/terraform-provider-imagedist/internal/puller"
)

func TestDescribeMissing(t *testing.T) {
	statuses := []puller.NodeStatus{
		{Node: "done", Present: []string{"a"}},
		{Node: "failing", Pod: "p1", Missing: []string{"a", "b"}, Errors: []puller.ImageError{
			{Key: "a", Reason: "ErrImagePull", Message: "manifest unknown"},
		}},
		{Node: "empty", Missing: []string{"a"}},
	}

	text := describeMissing(statuses)

	want := "- failing: a (ErrImagePull: manifest unknown); b (not pulled yet)\n" +
		"- empty: a (no puller pod on the node yet)"
	if text != want {
		t.Errorf("describeMissing() =\n%s\nwant\n%s", text, want)
	}
	if strings.Contains(text, "done") {
		t.Errorf("describeMissing() lists a node that has every image:\n%s", text)
	}
}

func TestDescribeMissingRateLimit(t *testing.T) {
	for _, message := range []string{
		"429 Too Many Requests", "toomanyrequests: You have reached your pull rate limit",
	} {
		text := describeMissing([]puller.NodeStatus{{Node: "n", Missing: []string{"a"},
			Errors: []puller.ImageError{{Key: "a", Reason: "ErrImagePull", Message: message}}}})
		if !strings.Contains(text, "limits the pull rate") {
			t.Errorf("describeMissing() for %q has no rate-limit hint:\n%s", message, text)
		}
	}
	text := describeMissing([]puller.NodeStatus{{Node: "n", Missing: []string{"a"},
		Errors: []puller.ImageError{{Key: "a", Reason: "ErrImagePull", Message: "unauthorized"}}}})
	if strings.Contains(text, "limits the pull rate") {
		t.Errorf("describeMissing() gives a rate-limit hint for another failure:\n%s", text)
	}
}

func TestDescribeMissingCapsNodes(t *testing.T) {
	var statuses []puller.NodeStatus
	for i := range maxReportedNodes + 5 {
		statuses = append(statuses, puller.NodeStatus{Node: fmt.Sprintf("node-%02d", i),
			Missing: []string{"a"}})
	}

	lines := strings.Split(describeMissing(statuses), "\n")

	if len(lines) != maxReportedNodes+1 {
		t.Errorf("%d lines, want %d nodes and a summary", len(lines), maxReportedNodes)
	}
	if last := lines[len(lines)-1]; last != "- and 5 more nodes" {
		t.Errorf("last line = %q, want the count of the nodes left out", last)
	}
}

// A DaemonSet whose pods are still being replaced after a template change is not done, even
// when every node's old pod has the images, because the controller deletes those pods next.
func TestDaemonSetTargetWaitsForRollout(t *testing.T) {
	for _, test := range []struct {
		name     string
		updated  int32
		expected bool
	}{
		{"rollout in progress", 1, false},
		{"rollout finished", 2, true},
	} {
		t.Run(test.name, func(t *testing.T) {
			daemonSet := &appsv1.DaemonSet{
				ObjectMeta: metav1.ObjectMeta{Name: "prepull", Namespace: "apps",
					Generation: 2},
				Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{
					MatchLabels: map[string]string{"app": "prepull"}}},
				Status: appsv1.DaemonSetStatus{ObservedGeneration: 2,
					DesiredNumberScheduled: 2, CurrentNumberScheduled: 2,
					UpdatedNumberScheduled: test.updated},
			}
			client := fake.NewClientset(daemonSet)
			target := daemonSetTarget(context.Background(), client, daemonSet, nil, time.Time{})
			judgement, err := target.judge()
			if err != nil {
				t.Fatalf("judge: %v", err)
			}
			if judgement.done != test.expected {
				t.Errorf("done = %v, expected %v", judgement.done, test.expected)
			}
		})
	}
}
