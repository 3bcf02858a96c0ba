package mirrors

import (
	"strings"
	"testing"
)

func TestDrainsNodes(t *testing.T) {
	base := []Rule{
		{Source: "quay.io/ns", Mirrors: []string{"a.local/q", "b.local/q"}},
		{Source: "docker.io", Mirrors: []string{"hub.local"}, Policy: PolicyNeverContactSource},
	}
	with := func(edit func(rules []Rule) []Rule) []Rule {
		copied := make([]Rule, len(base))
		for i, rule := range base {
			copied[i] = rule
			copied[i].Mirrors = append([]string(nil), rule.Mirrors...)
		}
		return edit(copied)
	}

	tests := []struct {
		name     string
		old, new []Rule
		pullType string
		drains   bool
		// reason is a substring of the expected explanation.
		reason string
	}{
		{"unchanged digest", base, base, PullTypeDigest, false, "do not change"},
		{"unchanged tag", base, base, PullTypeTag, false, "do not change"},
		{"unset to allow is no change", base, with(func(r []Rule) []Rule {
			r[0].Policy = PolicyAllowContactingSource
			return r
		}), PullTypeTag, false, "do not change"},
		{"host case is no change", base, with(func(r []Rule) []Rule {
			r[0].Mirrors[0] = "A.LOCAL/q"
			return r
		}), PullTypeTag, false, "do not change"},
		{"rule order is no change", base, []Rule{base[1], base[0]}, PullTypeBoth, false,
			"do not change"},
		{"mirror appended to digest", base, with(func(r []Rule) []Rule {
			r[0].Mirrors = append(r[0].Mirrors, "c.local/q")
			return r
		}), PullTypeDigest, false, "only added"},
		{"mirror inserted first in digest", base, with(func(r []Rule) []Rule {
			r[0].Mirrors = append([]string{"c.local/q"}, r[0].Mirrors...)
			return r
		}), PullTypeDigest, false, "only added"},
		{"mirrors reordered in digest", base, with(func(r []Rule) []Rule {
			r[0].Mirrors = []string{"b.local/q", "a.local/q"}
			return r
		}), PullTypeDigest, false, "only added"},
		{"source added to digest", base, with(func(r []Rule) []Rule {
			return append(r, Rule{Source: "gcr.io", Mirrors: []string{"g.local"}})
		}), PullTypeDigest, false, "only added"},
		{"blocking source added to digest", base, with(func(r []Rule) []Rule {
			return append(r, Rule{Source: "gcr.io", Mirrors: []string{"g.local"},
				Policy: PolicyNeverContactSource})
		}), PullTypeDigest, false, "only added"},
		{"create digest", nil, base, PullTypeDigest, false, "only added"},
		{"source without mirrors added", base, with(func(r []Rule) []Rule {
			return append(r, Rule{Source: "gcr.io"})
		}), PullTypeDigest, true, `new rule for "gcr.io" has no mirrors`},
		{"mirror removed from digest", base, with(func(r []Rule) []Rule {
			r[0].Mirrors = r[0].Mirrors[:1]
			return r
		}), PullTypeDigest, true, `mirror "b.local/q" of "quay.io/ns" is removed`},
		{"mirror replaced in digest", base, with(func(r []Rule) []Rule {
			r[0].Mirrors[1] = "c.local/q"
			return r
		}), PullTypeDigest, true, `mirror "b.local/q" of "quay.io/ns" is removed`},
		{"source removed from digest", base, base[:1], PullTypeDigest, true,
			`rule for source "docker.io" is removed`},
		{"destroy digest", base, nil, PullTypeDigest, true, "is removed"},
		{"policy set to never", base, with(func(r []Rule) []Rule {
			r[0].Policy = PolicyNeverContactSource
			return r
		}), PullTypeDigest, true, "policy of \"quay.io/ns\" changes from no policy"},
		{"policy never to allow", base, with(func(r []Rule) []Rule {
			r[1].Policy = PolicyAllowContactingSource
			return r
		}), PullTypeDigest, true, "changes from NeverContactSource to AllowContactingSource"},
		{"mirror appended to tag", base, with(func(r []Rule) []Rule {
			r[0].Mirrors = append(r[0].Mirrors, "c.local/q")
			return r
		}), PullTypeTag, true, `Tag mirrors (ImageTagMirrorSet) changed`},
		{"mirror appended to both", base, with(func(r []Rule) []Rule {
			r[0].Mirrors = append(r[0].Mirrors, "c.local/q")
			return r
		}), PullTypeBoth, true, `rule for source "quay.io/ns" changes`},
		{"create tag", nil, base, PullTypeTag, true, `source "quay.io/ns" is added`},
		{"destroy tag", base, nil, PullTypeTag, true, `source "quay.io/ns" is removed`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			drains, reason := DrainsNodes(tt.old, tt.new, tt.pullType)
			if drains != tt.drains {
				t.Errorf("drains = %v, expected %v (reason %q)", drains, tt.drains, reason)
			}
			if !strings.Contains(reason, tt.reason) {
				t.Errorf("reason = %q, expected it to contain %q", reason, tt.reason)
			}
		})
	}
}
