package puller

import (
	"reflect"
	"strings"
	"testing"

	mcfgv1 "github.com/openshift/api/machineconfiguration/v1"
)

const (
	pinnedDigestA = "quay.io/team/a@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	pinnedDigestB = "quay.io/team/b@sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func TestValidatePinned(t *testing.T) {
	valid := []Image{
		{Key: "a", Reference: pinnedDigestA},
		{Key: "b", Reference: "quay.io/team/b:1@sha256:" + strings.Repeat("b", 64)},
	}
	if problems := ValidatePinned(valid); len(problems) != 0 {
		t.Errorf("ValidatePinned(digests) = %v, want no problems", problems)
	}

	problems := ValidatePinned([]Image{{Key: "tagged", Reference: "quay.io/team/a:1.0"}})
	if len(problems) != 1 {
		t.Fatalf("ValidatePinned(tag) = %v, want one problem", problems)
	}
	if problems[0].Key != "tagged" || problems[0].Warning {
		t.Errorf("problem = %+v, want an error on key tagged", problems[0])
	}
	if !strings.Contains(problems[0].Detail, "quay.io/team/a@sha256:") {
		t.Errorf("detail %q does not show the digest form", problems[0].Detail)
	}

	many := make([]Image, MaxPinnedImages+1)
	for i := range many {
		many[i] = Image{Key: strings.Repeat("k", i%50+1), Reference: pinnedDigestA}
	}
	problems = ValidatePinned(many)
	if len(problems) != 1 || problems[0].Key != "" ||
		!strings.Contains(problems[0].Detail, "at most 500") {
		t.Errorf("ValidatePinned(%d images) = %v, want one problem on the map", len(many),
			problems)
	}
}

func TestPinnedImageSetRendering(t *testing.T) {
	set := PinnedImageSet("release", []Image{
		{Key: "b", Reference: pinnedDigestB},
		{Key: "a", Reference: pinnedDigestA},
		{Key: "again", Reference: pinnedDigestA},
	}, map[string]string{"team": "platform", LabelName: "overridden"})

	want := []mcfgv1.PinnedImageRef{{Name: pinnedDigestA}, {Name: pinnedDigestB}}
	if !reflect.DeepEqual(set.Spec.PinnedImages, want) {
		t.Errorf("pinnedImages = %v, want %v (sorted, each once)", set.Spec.PinnedImages, want)
	}
	if set.Name != "release" || set.Labels["team"] != "platform" ||
		set.Labels[LabelName] != nameLabelValue || set.Labels[LabelInstance] != "release" {
		t.Errorf("metadata = %+v", set.ObjectMeta)
	}
}

func TestPinnedNodeStatuses(t *testing.T) {
	images := []Image{{Key: "b", Reference: pinnedDigestB}, {Key: "a", Reference: pinnedDigestA}}
	node := func(name string, sets ...mcfgv1.MachineConfigNodeStatusPinnedImageSet) mcfgv1.MachineConfigNode {
		var mcn mcfgv1.MachineConfigNode
		mcn.Name = name
		mcn.Spec.Node.Name = name
		mcn.Status.PinnedImageSets = sets
		return mcn
	}
	entry := func(name string, current, desired, failed int32,
		message string) mcfgv1.MachineConfigNodeStatusPinnedImageSet {
		return mcfgv1.MachineConfigNodeStatusPinnedImageSet{Name: name,
			CurrentGeneration: current, DesiredGeneration: desired,
			LastFailedGeneration: failed, LastFailedGenerationError: message}
	}
	machineConfigNodes := []mcfgv1.MachineConfigNode{
		node("done", entry("other", 9, 9, 0, ""), entry("release", 3, 3, 0, "")),
		node("old", entry("release", 2, 3, 0, "")),
		node("failed", entry("release", 2, 3, 3, " pull failed \n")),
		node("old-failure", entry("release", 2, 3, 2, "an earlier failure")),
		node("other-set", entry("other", 3, 3, 0, "")),
	}
	nodes := []string{"old", "done", "failed", "old-failure", "other-set", "absent", "done"}

	statuses := PinnedNodeStatuses(images, "release", 3, nodes, machineConfigNodes)

	byNode := map[string]NodeStatus{}
	var order []string
	for _, status := range statuses {
		byNode[status.Node] = status
		order = append(order, status.Node)
	}
	wantOrder := []string{"absent", "done", "failed", "old", "old-failure", "other-set"}
	if !reflect.DeepEqual(order, wantOrder) {
		t.Errorf("nodes = %v, want %v (sorted, each once)", order, wantOrder)
	}
	if done := byNode["done"]; !done.Ready || !reflect.DeepEqual(done.Present,
		[]string{"a", "b"}) || len(done.Missing) != 0 {
		t.Errorf("done = %+v, want both images present", done)
	}
	for _, name := range []string{"old", "old-failure", "other-set", "absent"} {
		status := byNode[name]
		if status.Ready || !reflect.DeepEqual(status.Missing, []string{"a", "b"}) ||
			len(status.Errors) != 0 {
			t.Errorf("%s = %+v, want both images missing without errors", name, status)
		}
	}
	failed := byNode["failed"]
	wantErrors := []ImageError{
		{Key: "a", Reason: ReasonPinningFailed, Message: "pull failed"},
		{Key: "b", Reason: ReasonPinningFailed, Message: "pull failed"},
	}
	if !reflect.DeepEqual(failed.Errors, wantErrors) {
		t.Errorf("failed errors = %+v, want %+v", failed.Errors, wantErrors)
	}
}
