package mirrors

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	configv1 "github.com/openshift/api/config/v1"
)

var sampleRules = []Rule{
	{Source: "quay.io/ns", Mirrors: []string{"z.local/q", "a.local/q", "m.local/q"},
		Policy: PolicyNeverContactSource},
	{Source: "*.redhat.io", Mirrors: []string{"mirror.local/rh"}},
	{Source: "docker.io"},
}

func TestRenderPullTypes(t *testing.T) {
	tests := []struct {
		pullType  string
		wantIDMS  bool
		wantITMS  bool
		wantOwned []ObjectRef
	}{
		{PullTypeDigest, true, false,
			[]ObjectRef{{KindImageDigestMirrorSet, "mirrors"}}},
		{PullTypeTag, false, true,
			[]ObjectRef{{KindImageTagMirrorSet, "mirrors"}}},
		{PullTypeBoth, true, true, []ObjectRef{
			{KindImageDigestMirrorSet, "mirrors"}, {KindImageTagMirrorSet, "mirrors"}}},
	}
	for _, tt := range tests {
		t.Run(tt.pullType, func(t *testing.T) {
			labels := map[string]string{"team": "platform"}
			rendered, err := Render("mirrors", tt.pullType, sampleRules, labels)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if (rendered.DigestMirrorSet != nil) != tt.wantIDMS {
				t.Errorf("DigestMirrorSet present = %v, expected %v",
					rendered.DigestMirrorSet != nil, tt.wantIDMS)
			}
			if (rendered.TagMirrorSet != nil) != tt.wantITMS {
				t.Errorf("TagMirrorSet present = %v, expected %v",
					rendered.TagMirrorSet != nil, tt.wantITMS)
			}
			if got := OwnObjects("mirrors", tt.pullType); !reflect.DeepEqual(got, tt.wantOwned) {
				t.Errorf("OwnObjects = %v, expected %v", got, tt.wantOwned)
			}

			if set := rendered.DigestMirrorSet; set != nil {
				checkMeta(t, set.APIVersion, set.Kind, set.Name, set.Labels,
					KindImageDigestMirrorSet)
				want := []configv1.ImageDigestMirrors{
					{Source: "quay.io/ns", Mirrors: []configv1.ImageMirror{
						"z.local/q", "a.local/q", "m.local/q"},
						MirrorSourcePolicy: configv1.NeverContactSource},
					{Source: "*.redhat.io", Mirrors: []configv1.ImageMirror{"mirror.local/rh"}},
					{Source: "docker.io"},
				}
				if !reflect.DeepEqual(set.Spec.ImageDigestMirrors, want) {
					t.Errorf("imageDigestMirrors = %+v, expected %+v",
						set.Spec.ImageDigestMirrors, want)
				}
			}
			if set := rendered.TagMirrorSet; set != nil {
				checkMeta(t, set.APIVersion, set.Kind, set.Name, set.Labels,
					KindImageTagMirrorSet)
				want := []configv1.ImageTagMirrors{
					{Source: "quay.io/ns", Mirrors: []configv1.ImageMirror{
						"z.local/q", "a.local/q", "m.local/q"},
						MirrorSourcePolicy: configv1.NeverContactSource},
					{Source: "*.redhat.io", Mirrors: []configv1.ImageMirror{"mirror.local/rh"}},
					{Source: "docker.io"},
				}
				if !reflect.DeepEqual(set.Spec.ImageTagMirrors, want) {
					t.Errorf("imageTagMirrors = %+v, expected %+v",
						set.Spec.ImageTagMirrors, want)
				}
			}

			// The objects own a copy of the labels.
			labels["team"] = "changed"
			if set := rendered.DigestMirrorSet; set != nil && set.Labels["team"] != "platform" {
				t.Errorf("DigestMirrorSet labels share the caller's map")
			}
			if set := rendered.TagMirrorSet; set != nil && set.Labels["team"] != "platform" {
				t.Errorf("TagMirrorSet labels share the caller's map")
			}
		})
	}
}

func checkMeta(t *testing.T, apiVersion, kind, name string, labels map[string]string,
	wantKind string) {
	t.Helper()
	if apiVersion != "config.openshift.io/v1" {
		t.Errorf("apiVersion = %q", apiVersion)
	}
	if kind != wantKind {
		t.Errorf("kind = %q, expected %q", kind, wantKind)
	}
	if name != "mirrors" {
		t.Errorf("name = %q", name)
	}
	if labels["team"] != "platform" {
		t.Errorf("labels = %v", labels)
	}
}

func TestRenderErrors(t *testing.T) {
	tests := []struct {
		name     string
		objName  string
		pullType string
		rules    []Rule
		want     string
	}{
		{"bad name", "Mirrors_1", PullTypeDigest, sampleRules, `invalid mirror set name "Mirrors_1"`},
		{"empty name", "", PullTypeDigest, sampleRules, "invalid mirror set name"},
		{"bad pull type", "m", "digests", sampleRules, `invalid pull type "digests"`},
		{"empty pull type", "m", "", sampleRules, `invalid pull type ""`},
		{"invalid rule", "m", PullTypeTag, []Rule{{Source: "quay.io:latest"}},
			"Invalid Mirror Source: mirror[0].source"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rendered, err := Render(tt.objName, tt.pullType, tt.rules, nil)
			if err == nil {
				t.Fatalf("Render succeeded, expected an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, expected it to contain %q", err, tt.want)
			}
			if rendered.DigestMirrorSet != nil || rendered.TagMirrorSet != nil {
				t.Errorf("Render returned objects with an error")
			}
		})
	}
}

func TestRenderFromObjectsRoundTrip(t *testing.T) {
	for _, pullType := range PullTypes {
		t.Run(pullType, func(t *testing.T) {
			labels := map[string]string{"a": "b"}
			rendered, err := Render("mirrors", pullType, sampleRules, labels)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			observed, err := FromObjects(rendered.DigestMirrorSet, rendered.TagMirrorSet)
			if err != nil {
				t.Fatalf("FromObjects: %v", err)
			}
			if observed.PullType != pullType {
				t.Errorf("PullType = %q, expected %q", observed.PullType, pullType)
			}
			if !reflect.DeepEqual(observed.Rules, sampleRules) {
				t.Errorf("Rules = %+v, expected %+v", observed.Rules, sampleRules)
			}
			if observed.TagRulesDiffer {
				t.Errorf("TagRulesDiffer is true for objects rendered together")
			}
			if !reflect.DeepEqual(observed.Labels, labels) {
				t.Errorf("Labels = %v, expected %v", observed.Labels, labels)
			}
			wantTagRules := pullType == PullTypeBoth
			if (observed.TagRules != nil) != wantTagRules {
				t.Errorf("TagRules = %+v, expected present = %v", observed.TagRules, wantTagRules)
			}
		})
	}
}

func TestFromObjectsDivergedTagSet(t *testing.T) {
	rendered, err := Render("mirrors", PullTypeBoth, sampleRules, nil)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	rendered.TagMirrorSet.Spec.ImageTagMirrors[0].Mirrors = []configv1.ImageMirror{"a.local/q"}

	observed, err := FromObjects(rendered.DigestMirrorSet, rendered.TagMirrorSet)
	if err != nil {
		t.Fatalf("FromObjects: %v", err)
	}
	if !observed.TagRulesDiffer {
		t.Errorf("TagRulesDiffer = false after editing the ImageTagMirrorSet")
	}
	if !reflect.DeepEqual(observed.Rules, sampleRules) {
		t.Errorf("Rules = %+v, expected the ImageDigestMirrorSet's rules", observed.Rules)
	}
	if got := observed.TagRules[0].Mirrors; !reflect.DeepEqual(got, []string{"a.local/q"}) {
		t.Errorf("TagRules[0].Mirrors = %v", got)
	}
}

// With both objects, a label edited or removed on either one is left out of Labels.
func TestFromObjectsLabelsOfBothSets(t *testing.T) {
	labels := map[string]string{"team": "platform", "tier": "infra", "env": "prod"}
	rendered, err := Render("mirrors", PullTypeBoth, sampleRules, labels)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	rendered.TagMirrorSet.Labels["team"] = "other"
	delete(rendered.DigestMirrorSet.Labels, "tier")

	observed, err := FromObjects(rendered.DigestMirrorSet, rendered.TagMirrorSet)
	if err != nil {
		t.Fatalf("FromObjects: %v", err)
	}
	if want := map[string]string{"env": "prod"}; !reflect.DeepEqual(observed.Labels, want) {
		t.Errorf("Labels = %v, want %v", observed.Labels, want)
	}
}

func TestFromObjectsErrors(t *testing.T) {
	if _, err := FromObjects(nil, nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("FromObjects(nil, nil) error = %v, expected ErrNotFound", err)
	}

	digest, err := Render("one", PullTypeDigest, sampleRules, nil)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	tag, err := Render("two", PullTypeTag, sampleRules, nil)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	_, err = FromObjects(digest.DigestMirrorSet, tag.TagMirrorSet)
	if err == nil || !strings.Contains(err.Error(), "different names") {
		t.Errorf("error = %v, expected one about different names", err)
	}
}

func TestFromObjectsEmptyMirrorsAreNil(t *testing.T) {
	set := &configv1.ImageDigestMirrorSet{Spec: configv1.ImageDigestMirrorSetSpec{
		ImageDigestMirrors: []configv1.ImageDigestMirrors{
			{Source: "quay.io", Mirrors: []configv1.ImageMirror{}},
		},
	}}
	observed, err := FromObjects(set, nil)
	if err != nil {
		t.Fatalf("FromObjects: %v", err)
	}
	if observed.Rules[0].Mirrors != nil {
		t.Errorf("Mirrors = %#v, expected nil", observed.Rules[0].Mirrors)
	}
}
