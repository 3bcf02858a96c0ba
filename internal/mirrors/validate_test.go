package mirrors

import (
	"strings"
	"testing"
)

func TestValidateRules(t *testing.T) {
	// Each expected problem is given as "path|Summary|detail substring".
	tests := []struct {
		name  string
		rules []Rule
		want  []string
	}{
		{
			name: "valid rules",
			rules: []Rule{
				{Source: "quay.io/ns", Mirrors: []string{"mirror.local/quay", "m2.local:5000/q"}},
				{Source: "*.redhat.io", Mirrors: []string{"mirror.local/rh"},
					Policy: PolicyNeverContactSource},
				{Source: "docker.io", Mirrors: []string{"mirror.local/hub"},
					Policy: PolicyAllowContactingSource},
				{Source: "gcr.io"},
			},
		},
		{name: "no rules"},
		{
			name:  "missing source",
			rules: []Rule{{Mirrors: []string{"mirror.local"}}},
			want:  []string{"mirror[0].source|Missing Mirror Source|is empty"},
		},
		{
			name:  "source with tag",
			rules: []Rule{{Source: "quay.io/ns/repo:v1", Mirrors: []string{"mirror.local"}}},
			want: []string{`mirror[0].source|Invalid Mirror Source|` +
				`"quay.io/ns/repo:v1" contains a tag (":v1")`},
		},
		{
			name: "ports out of range",
			rules: []Rule{{Source: "quay.io:0/team",
				Mirrors: []string{"mirror.local:65536/q", "mirror.local:65535/q"}}},
			want: []string{
				`mirror[0].source|Invalid Mirror Source|has the port 0, which is not from 1 ` +
					`to 65535`,
				`mirror[0].mirrors[0]|Invalid Mirror|has the port 65536`,
			},
		},
		{
			name:  "source with scheme",
			rules: []Rule{{Source: "https://quay.io", Mirrors: []string{"mirror.local"}}},
			want:  []string{`mirror[0].source|Invalid Mirror Source|scheme "https://"`},
		},
		{
			name: "wildcard mirror",
			rules: []Rule{
				{Source: "quay.io", Mirrors: []string{"mirror.local", "*.mirror.local"}},
			},
			want: []string{`mirror[0].mirrors[1]|Invalid Mirror|is a wildcard`},
		},
		{
			name: "mirror with digest",
			rules: []Rule{
				{Source: "quay.io", Mirrors: []string{"mirror.local/x@sha256:00"}},
			},
			want: []string{`mirror[0].mirrors[0]|Invalid Mirror|contains a digest`},
		},
		{
			name: "duplicate mirror",
			rules: []Rule{
				{Source: "quay.io", Mirrors: []string{"a.local", "b.local", "A.local"}},
			},
			want: []string{`mirror[0].mirrors[2]|Duplicate Mirror|repeats mirrors[0] ("a.local")`},
		},
		{
			name:  "unknown policy",
			rules: []Rule{{Source: "quay.io", Mirrors: []string{"m.local"}, Policy: "Never"}},
			want: []string{`mirror[0].mirror_source_policy|Invalid Mirror Source Policy|` +
				`"Never" is not a valid policy`},
		},
		{
			name: "policy in wrong case",
			rules: []Rule{
				{Source: "quay.io", Mirrors: []string{"m.local"}, Policy: "nevercontactsource"},
			},
			want: []string{`mirror[0].mirror_source_policy|Invalid Mirror Source Policy|` +
				`case-sensitive: use "NeverContactSource"`},
		},
		{
			name:  "never contact without mirrors",
			rules: []Rule{{Source: "quay.io", Policy: PolicyNeverContactSource}},
			want: []string{`mirror[0].mirror_source_policy|Mirror Source Policy Without Mirrors|` +
				`lists no mirrors`},
		},
		{
			name:  "allow contacting without mirrors",
			rules: []Rule{{Source: "quay.io", Policy: PolicyAllowContactingSource}},
			want: []string{`mirror[0].mirror_source_policy|Mirror Source Policy Without Mirrors|` +
				`"AllowContactingSource"`},
		},
		{
			name: "never contact with source as mirror",
			rules: []Rule{{
				Source:  "quay.io/ns",
				Mirrors: []string{"mirror.local/ns", "Quay.io/ns"},
				Policy:  PolicyNeverContactSource,
			}},
			want: []string{`mirror[0].mirror_source_policy|Source Listed As Its Own Mirror|` +
				`mirrors[1] "Quay.io/ns" is the source itself`},
		},
		{
			name: "allow contacting with source as mirror",
			rules: []Rule{{
				Source:  "quay.io/ns",
				Mirrors: []string{"quay.io/ns"},
				Policy:  PolicyAllowContactingSource,
			}},
		},
		{
			name: "duplicate source across rules",
			rules: []Rule{
				{Source: "quay.io/ns", Mirrors: []string{"a.local"}},
				{Source: "docker.io", Mirrors: []string{"b.local"}},
				{Source: "QUAY.io/ns", Mirrors: []string{"c.local"}},
			},
			want: []string{`mirror[2].source|Duplicate Mirror Source|` +
				`repeats the source of mirror[0] ("quay.io/ns")`},
		},
		{
			name: "several problems in order",
			rules: []Rule{
				{Source: "quay.io:tag", Mirrors: []string{"ok.local", "bad_host"},
					Policy: "Sometimes"},
				{Source: "", Mirrors: []string{"x.local", "x.local"}},
			},
			want: []string{
				`mirror[0].source|Invalid Mirror Source|"quay.io:tag" has the port "tag"`,
				`mirror[0].mirrors[1]|Invalid Mirror|"bad_host"`,
				`mirror[0].mirror_source_policy|Invalid Mirror Source Policy|"Sometimes"`,
				`mirror[1].source|Missing Mirror Source|empty`,
				`mirror[1].mirrors[1]|Duplicate Mirror|repeats mirrors[0]`,
			},
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problems := ValidateRules(tt.rules)
			if len(problems) != len(tt.want) {
				t.Fatalf("got %d problems, expected %d: %+v", len(problems), len(tt.want), problems)
			}
			for i, want := range tt.want {
				parts := strings.SplitN(want, "|", 3)
				got := problems[i]
				if got.Path() != parts[0] {
					t.Errorf("problem %d path = %q, expected %q", i, got.Path(), parts[0])
				}
				if got.Summary != parts[1] {
					t.Errorf("problem %d summary = %q, expected %q", i, got.Summary, parts[1])
				}
				if !strings.Contains(got.Detail, parts[2]) {
					t.Errorf("problem %d detail = %q, expected it to contain %q",
						i, got.Detail, parts[2])
				}
				if !strings.Contains(got.Detail, "mirror["+problemIndex(got)+"]") {
					t.Errorf("problem %d detail %q does not name its rule", i, got.Detail)
				}
			}
		})
	}
}

func problemIndex(p Problem) string {
	return strings.TrimPrefix(strings.SplitN(p.Path(), "]", 2)[0], "mirror[")
}

func TestProblemPathAndFields(t *testing.T) {
	problems := ValidateRules([]Rule{
		{Source: "quay.io"},
		{Source: "docker.io", Mirrors: []string{"ok.local", "x:y:z"}},
	})
	if len(problems) != 1 {
		t.Fatalf("got %d problems, expected 1: %+v", len(problems), problems)
	}
	p := problems[0]
	if p.Rule != 1 {
		t.Errorf("Rule = %d, expected 1", p.Rule)
	}
	if p.Field != FieldMirrors {
		t.Errorf("Field = %q, expected %q", p.Field, FieldMirrors)
	}
	if p.Mirror != 1 {
		t.Errorf("Mirror = %d, expected 1", p.Mirror)
	}
	if !strings.HasPrefix(p.Error(), "Invalid Mirror: mirror[1].mirrors[1]") {
		t.Errorf("Error() = %q", p.Error())
	}

	sourceProblem := ValidateRules([]Rule{{Source: "x:y"}})[0]
	if sourceProblem.Mirror != -1 {
		t.Errorf("Mirror of a source problem = %d, expected -1", sourceProblem.Mirror)
	}
}
