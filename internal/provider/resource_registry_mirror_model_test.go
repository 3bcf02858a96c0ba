package provider

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	fakediscovery "k8s.io/client-go/discovery/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/imagedist/terraform-provider-imagedist/internal/mirrors"
)

func TestRegistryMirrorRulesRoundTrip(t *testing.T) {
	ctx := context.Background()
	blocks := []mirrorRuleModel{
		{
			Source:             types.StringValue("quay.io/team"),
			Mirrors:            stringList([]string{"b.example.com/q", "a.example.com/q"}),
			MirrorSourcePolicy: types.StringValue(mirrors.PolicyNeverContactSource),
		},
		{
			Source:             types.StringValue("*.example.org"),
			Mirrors:            types.ListNull(types.StringType),
			MirrorSourcePolicy: types.StringNull(),
		},
		{
			Source:             types.StringValue("registry.example.net"),
			Mirrors:            stringList(nil),
			MirrorSourcePolicy: types.StringNull(),
		},
	}

	rules := rulesFromBlocks(blocks)
	want := []mirrors.Rule{
		{Source: "quay.io/team", Mirrors: []string{"b.example.com/q", "a.example.com/q"},
			Policy: mirrors.PolicyNeverContactSource},
		{Source: "*.example.org"},
		{Source: "registry.example.net"},
	}
	if !reflect.DeepEqual(rules, want) {
		t.Fatalf("rulesFromBlocks = %#v, want %#v", rules, want)
	}

	back := blocksFromRules(rules, blocks)
	if !reflect.DeepEqual(back, blocks) {
		t.Errorf("blocksFromRules = %#v, want the original blocks %#v", back, blocks)
	}

	list, diags := mirrorBlockList(ctx, back)
	if diags.HasError() {
		t.Fatalf("mirrorBlockList: %v", diags)
	}
	decoded, diags := mirrorBlocks(ctx, list)
	if diags.HasError() {
		t.Fatalf("mirrorBlocks: %v", diags)
	}
	if !reflect.DeepEqual(decoded, blocks) {
		t.Errorf("mirrorBlocks(mirrorBlockList(...)) = %#v, want %#v", decoded, blocks)
	}
}

func TestRegistryMirrorBlocksWithoutPrior(t *testing.T) {
	rules := []mirrors.Rule{{Source: "quay.io"}, {Source: "docker.io", Mirrors: []string{"m.io"}}}
	blocks := blocksFromRules(rules, nil)

	if !blocks[0].Mirrors.IsNull() {
		t.Errorf("mirrors of a rule without mirrors = %v, want null", blocks[0].Mirrors)
	}
	if got := stringElements(blocks[1].Mirrors); !slices.Equal(got, []string{"m.io"}) {
		t.Errorf("mirrors = %v, want [m.io]", got)
	}
	if !blocks[1].MirrorSourcePolicy.IsNull() {
		t.Errorf("unset policy = %v, want null", blocks[1].MirrorSourcePolicy)
	}
}

func TestRegistryMirrorObjectKinds(t *testing.T) {
	tests := map[string][]string{
		mirrors.PullTypeDigest: {mirrors.KindImageDigestMirrorSet},
		mirrors.PullTypeTag:    {mirrors.KindImageTagMirrorSet},
		mirrors.PullTypeBoth:   {mirrors.KindImageDigestMirrorSet, mirrors.KindImageTagMirrorSet},
	}
	for pullType, want := range tests {
		got := stringElements(objectKindsValue("name", pullType))
		if !slices.Equal(got, want) {
			t.Errorf("objectKindsValue(%q) = %v, want %v", pullType, got, want)
		}
	}
}

func TestRegistryMirrorOwnedLabels(t *testing.T) {
	cluster := map[string]string{"team": "a", "added-by-others": "x"}
	prior := types.MapValueMust(types.StringType, map[string]attr.Value{
		"team": types.StringValue("b"), "removed": types.StringValue("y"),
	})

	got := ownedLabels(prior, cluster, false)
	want := types.MapValueMust(types.StringType, map[string]attr.Value{
		"team": types.StringValue("a"),
	})
	if !got.Equal(want) {
		t.Errorf("ownedLabels(prior) = %v, want %v", got, want)
	}

	if got := ownedLabels(types.MapNull(types.StringType), cluster, false); !got.IsNull() {
		t.Errorf("ownedLabels(null prior) = %v, want null", got)
	}
	if got := ownedLabels(types.MapNull(types.StringType), cluster, true); len(
		got.Elements()) != 2 {
		t.Errorf("ownedLabels(imported) = %v, want both cluster labels", got)
	}
	if got := ownedLabels(types.MapNull(types.StringType), nil, true); !got.IsNull() {
		t.Errorf("ownedLabels(imported, no labels) = %v, want null", got)
	}
}

func TestRegistryMirrorMergeLabels(t *testing.T) {
	current := map[string]string{"team": "a", "old": "1", "added-by-others": "x"}
	prior := types.MapValueMust(types.StringType, map[string]attr.Value{
		"team": types.StringValue("a"), "old": types.StringValue("1"),
	})
	planned := types.MapValueMust(types.StringType, map[string]attr.Value{
		"team": types.StringValue("b"),
	})

	got := mergeLabels(current, prior, planned)
	want := map[string]string{"team": "b", "added-by-others": "x"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mergeLabels = %v, want %v", got, want)
	}
	if got := mergeLabels(nil, types.MapNull(types.StringType),
		types.MapNull(types.StringType)); got != nil {
		t.Errorf("mergeLabels of nothing = %v, want nil", got)
	}
}

// The rules recorded for diverged objects differ from both objects' rules, so the plan shows
// drift whichever object was edited, and they do not depend on prior state.
func TestRegistryMirrorObservedRules(t *testing.T) {
	digest := []mirrors.Rule{{Source: "quay.io", Mirrors: []string{"m.io"}}}
	tag := []mirrors.Rule{{Source: "quay.io", Mirrors: []string{"other.io"}}}
	observed := mirrors.Observed{PullType: mirrors.PullTypeBoth, Rules: digest,
		TagRules: tag, TagRulesDiffer: true}

	got := observedRules(observed)
	if reflect.DeepEqual(got, digest) || reflect.DeepEqual(got, tag) {
		t.Errorf("diverged rules = %v, want a value that differs from both sets", got)
	}
	if want := slices.Concat(digest, tag); !reflect.DeepEqual(got, want) {
		t.Errorf("diverged rules = %v, want %v", got, want)
	}
	if again := observedRules(observed); !reflect.DeepEqual(again, got) {
		t.Errorf("second read = %v, first = %v, want the same", again, got)
	}

	observed.TagRules = nil
	if got := observedRules(observed); len(got) != 0 {
		t.Errorf("with an empty tag set, rules = %v, want none", got)
	}
	same := mirrors.Observed{PullType: mirrors.PullTypeBoth, Rules: digest, TagRules: digest}
	if got := observedRules(same); !reflect.DeepEqual(got, digest) {
		t.Errorf("equal sets give %v, want %v", got, digest)
	}
}

func TestRegistryMirrorProblemPaths(t *testing.T) {
	rules := []mirrors.Rule{
		{Source: "quay.io:latest/x"},
		{Source: "docker.io", Mirrors: []string{"m.io", "*.bad.io"}},
		{Source: "ghcr.io", Policy: mirrors.PolicyNeverContactSource},
	}
	diags := validateMirrorRules(rules)

	want := []path.Path{
		path.Root("mirror").AtListIndex(0).AtName("source"),
		path.Root("mirror").AtListIndex(1).AtName("mirrors").AtListIndex(1),
		path.Root("mirror").AtListIndex(2).AtName("mirror_source_policy"),
	}
	if len(diags) != len(want) {
		t.Fatalf("got %d diagnostics, want %d: %v", len(diags), len(want), diags)
	}
	for i, d := range diags {
		withPath, ok := d.(interface{ Path() path.Path })
		if !ok {
			t.Errorf("diagnostic %d has no attribute path: %v", i, d)
			continue
		}
		if !withPath.Path().Equal(want[i]) {
			t.Errorf("diagnostic %d path = %s, want %s", i, withPath.Path(), want[i])
		}
	}
}

func TestRegistryMirrorMissingKinds(t *testing.T) {
	both := []string{mirrors.KindImageDigestMirrorSet, mirrors.KindImageTagMirrorSet}
	tests := []struct {
		name      string
		resources []*metav1.APIResourceList
		want      []string
	}{
		{name: "no group", want: both},
		{
			name: "digest only",
			resources: []*metav1.APIResourceList{{
				GroupVersion: "config.openshift.io/v1",
				APIResources: []metav1.APIResource{{Name: "imagedigestmirrorsets"}},
			}},
			want: []string{mirrors.KindImageTagMirrorSet},
		},
		{
			name: "both served",
			resources: []*metav1.APIResourceList{{
				GroupVersion: "config.openshift.io/v1",
				APIResources: []metav1.APIResource{
					{Name: "imagedigestmirrorsets"}, {Name: "imagetagmirrorsets"},
				},
			}},
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			client := &fakediscovery.FakeDiscovery{Fake: &clienttesting.Fake{
				Resources: test.resources,
			}}
			got, err := missingMirrorKinds(client, both)
			if err != nil {
				t.Fatalf("missingMirrorKinds: %v", err)
			}
			if !slices.Equal(got, test.want) {
				t.Errorf("missing = %v, want %v", got, test.want)
			}
		})
	}
}

func TestRegistryMirrorMissingCRDDetail(t *testing.T) {
	detail := missingCRDDetail([]string{mirrors.KindImageTagMirrorSet})
	for _, want := range []string{"imagetagmirrorsets.config.openshift.io", "OpenShift"} {
		if !strings.Contains(detail, want) {
			t.Errorf("detail %q does not contain %q", detail, want)
		}
	}
	if got := mirrorKindResource(mirrors.KindImageDigestMirrorSet); got != (schema.
		GroupVersionResource{Group: "config.openshift.io", Version: "v1",
		Resource: "imagedigestmirrorsets"}) {
		t.Errorf("digest resource = %v", got)
	}
}
