package provider

import (
	"fmt"
	"strings"
	"testing"

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
