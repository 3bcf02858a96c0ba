package mirrors

import (
	"strconv"
	"strings"
	"testing"

	configv1 "github.com/openshift/api/config/v1"
	operatorv1alpha1 "github.com/openshift/api/operator/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func idms(name, source string, policy configv1.MirrorSourcePolicy) configv1.ImageDigestMirrorSet {
	return configv1.ImageDigestMirrorSet{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: configv1.ImageDigestMirrorSetSpec{ImageDigestMirrors: []configv1.ImageDigestMirrors{
			{Source: source, Mirrors: []configv1.ImageMirror{"m.local"}, MirrorSourcePolicy: policy},
		}},
	}
}

func itms(name, source string, policy configv1.MirrorSourcePolicy) configv1.ImageTagMirrorSet {
	return configv1.ImageTagMirrorSet{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: configv1.ImageTagMirrorSetSpec{ImageTagMirrors: []configv1.ImageTagMirrors{
			{Source: source, Mirrors: []configv1.ImageMirror{"m.local"}, MirrorSourcePolicy: policy},
		}},
	}
}

func icsp(name, source string) operatorv1alpha1.ImageContentSourcePolicy {
	return operatorv1alpha1.ImageContentSourcePolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: operatorv1alpha1.ImageContentSourcePolicySpec{
			RepositoryDigestMirrors: []operatorv1alpha1.RepositoryDigestMirrors{
				{Source: source, Mirrors: []string{"m.local"}},
			},
		},
	}
}

func TestConflicts(t *testing.T) {
	never := configv1.NeverContactSource
	allow := configv1.AllowContactingSource
	own := OwnObjects("ours", PullTypeBoth)

	tests := []struct {
		name     string
		rules    []Rule
		existing Existing
		// want lists "rule index|kind/name|object policy" per expected conflict, in order.
		want []string
	}{
		{
			name:  "no objects",
			rules: []Rule{{Source: "quay.io", Mirrors: []string{"a.local"}}},
		},
		{
			name:  "never against unset",
			rules: []Rule{{Source: "quay.io", Mirrors: []string{"a.local"}, Policy: "NeverContactSource"}},
			existing: Existing{DigestMirrorSets: []configv1.ImageDigestMirrorSet{
				idms("other", "quay.io", "")}},
			want: []string{"0|ImageDigestMirrorSet/other|"},
		},
		{
			name:  "unset against never in tag set",
			rules: []Rule{{Source: "quay.io", Mirrors: []string{"a.local"}}},
			existing: Existing{TagMirrorSets: []configv1.ImageTagMirrorSet{
				itms("tags", "Quay.IO", never)}},
			want: []string{"0|ImageTagMirrorSet/tags|NeverContactSource"},
		},
		{
			name:  "unset matches allow",
			rules: []Rule{{Source: "quay.io", Mirrors: []string{"a.local"}}},
			existing: Existing{DigestMirrorSets: []configv1.ImageDigestMirrorSet{
				idms("other", "quay.io", allow)}},
		},
		{
			name: "same policy",
			rules: []Rule{{Source: "quay.io", Mirrors: []string{"a.local"},
				Policy: "NeverContactSource"}},
			existing: Existing{DigestMirrorSets: []configv1.ImageDigestMirrorSet{
				idms("other", "quay.io", never)}},
		},
		{
			name: "never against content source policy",
			rules: []Rule{{Source: "quay.io/ns", Mirrors: []string{"a.local"},
				Policy: "NeverContactSource"}},
			existing: Existing{ContentSourcePolicies: []operatorv1alpha1.ImageContentSourcePolicy{
				icsp("legacy", "quay.io/ns")}},
			want: []string{"0|ImageContentSourcePolicy/legacy|"},
		},
		{
			name:  "allow against content source policy",
			rules: []Rule{{Source: "quay.io/ns", Mirrors: []string{"a.local"}, Policy: "AllowContactingSource"}},
			existing: Existing{ContentSourcePolicies: []operatorv1alpha1.ImageContentSourcePolicy{
				icsp("legacy", "quay.io/ns")}},
		},
		{
			name:  "different source is no conflict",
			rules: []Rule{{Source: "quay.io/ns", Mirrors: []string{"a.local"}}},
			existing: Existing{DigestMirrorSets: []configv1.ImageDigestMirrorSet{
				idms("other", "quay.io", never), idms("other2", "quay.io/ns/repo", never)}},
		},
		{
			name: "own objects skipped",
			rules: []Rule{{Source: "quay.io", Mirrors: []string{"a.local"},
				Policy: "NeverContactSource"}},
			existing: Existing{
				DigestMirrorSets: []configv1.ImageDigestMirrorSet{idms("ours", "quay.io", "")},
				TagMirrorSets:    []configv1.ImageTagMirrorSet{itms("ours", "quay.io", allow)},
			},
		},
		{
			name: "same name other kind is not own",
			rules: []Rule{{Source: "quay.io", Mirrors: []string{"a.local"},
				Policy: "NeverContactSource"}},
			existing: Existing{ContentSourcePolicies: []operatorv1alpha1.ImageContentSourcePolicy{
				icsp("ours", "quay.io")}},
			want: []string{"0|ImageContentSourcePolicy/ours|"},
		},
		{
			name: "sorted by rule then kind then name",
			rules: []Rule{
				{Source: "docker.io", Mirrors: []string{"a.local"}},
				{Source: "quay.io", Mirrors: []string{"a.local"}, Policy: "NeverContactSource"},
			},
			existing: Existing{
				DigestMirrorSets: []configv1.ImageDigestMirrorSet{
					idms("zeta", "quay.io", ""), idms("alpha", "quay.io", allow),
					idms("hub", "docker.io", never)},
				TagMirrorSets: []configv1.ImageTagMirrorSet{itms("tags", "quay.io", "")},
				ContentSourcePolicies: []operatorv1alpha1.ImageContentSourcePolicy{
					icsp("legacy", "quay.io")},
			},
			want: []string{
				"0|ImageDigestMirrorSet/hub|NeverContactSource",
				"1|ImageContentSourcePolicy/legacy|",
				"1|ImageDigestMirrorSet/alpha|AllowContactingSource",
				"1|ImageDigestMirrorSet/zeta|",
				"1|ImageTagMirrorSet/tags|",
			},
		},
		{
			name: "repeated source in one object reported once",
			rules: []Rule{{Source: "quay.io", Mirrors: []string{"a.local"},
				Policy: "NeverContactSource"}},
			existing: Existing{DigestMirrorSets: []configv1.ImageDigestMirrorSet{{
				ObjectMeta: metav1.ObjectMeta{Name: "twice"},
				Spec: configv1.ImageDigestMirrorSetSpec{
					ImageDigestMirrors: []configv1.ImageDigestMirrors{
						{Source: "quay.io"}, {Source: "quay.io"}},
				},
			}}},
			want: []string{"0|ImageDigestMirrorSet/twice|"},
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conflicts := Conflicts(tt.rules, own, tt.existing)
			if len(conflicts) != len(tt.want) {
				t.Fatalf("got %d conflicts, expected %d: %+v", len(conflicts), len(tt.want),
					conflicts)
			}
			for i, want := range tt.want {
				parts := strings.SplitN(want, "|", 3)
				got := conflicts[i]
				if strconv.Itoa(got.Rule) != parts[0] {
					t.Errorf("conflict %d rule = %d, expected %s", i, got.Rule, parts[0])
				}
				if got.Object.String() != parts[1] {
					t.Errorf("conflict %d object = %s, expected %s", i, got.Object, parts[1])
				}
				if got.ObjectPolicy != parts[2] {
					t.Errorf("conflict %d object policy = %q, expected %q",
						i, got.ObjectPolicy, parts[2])
				}
			}
		})
	}
}

func TestConflictDetail(t *testing.T) {
	rules := []Rule{{Source: "quay.io/ns", Mirrors: []string{"a.local"},
		Policy: "NeverContactSource"}}

	conflicts := Conflicts(rules, OwnObjects("ours", PullTypeBoth), Existing{
		DigestMirrorSets: []configv1.ImageDigestMirrorSet{idms("theirs", "quay.io/ns", "")},
	})
	if len(conflicts) != 1 {
		t.Fatalf("got %d conflicts, expected 1", len(conflicts))
	}
	c := conflicts[0]
	if c.Summary() != "Conflicting Mirror Source Policy" {
		t.Errorf("Summary = %q", c.Summary())
	}
	for _, want := range []string{
		`mirror[0].source "quay.io/ns"`,
		"NeverContactSource in ImageDigestMirrorSet/ours and ImageTagMirrorSet/ours",
		"ImageDigestMirrorSet/theirs has no policy (which means AllowContactingSource)",
		"apply that resource alone first (terraform apply -target=ADDRESS)",
	} {
		if !strings.Contains(c.Detail(), want) {
			t.Errorf("Detail = %q, expected it to contain %q", c.Detail(), want)
		}
	}

	conflicts = Conflicts(rules, nil, Existing{
		ContentSourcePolicies: []operatorv1alpha1.ImageContentSourcePolicy{
			icsp("legacy", "quay.io/ns")},
	})
	if len(conflicts) != 1 {
		t.Fatalf("got %d conflicts, expected 1", len(conflicts))
	}
	for _, want := range []string{
		"in this resource",
		"ImageContentSourcePolicy/legacy has no policy",
	} {
		if !strings.Contains(conflicts[0].Detail(), want) {
			t.Errorf("Detail = %q, expected it to contain %q", conflicts[0].Detail(), want)
		}
	}
	if strings.Contains(conflicts[0].Detail(), "-target") {
		t.Errorf("Detail = %q, which suggests -target for an ImageContentSourcePolicy, "+
			"which no resource of this provider manages", conflicts[0].Detail())
	}
}
