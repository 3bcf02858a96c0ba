package mirrors

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// OpenShift's CRD patterns for spec.imageDigestMirrors[].source and .mirrors[] (identical for
// imageTagMirrors), from payload-manifests/crds in github.com/openshift/api at the version
// pinned in go.mod. The API server matches them with Go's regexp package, as this test does.
var (
	crdSourcePattern = regexp.MustCompile(`^\*(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*` +
		`[a-zA-Z0-9]))+$|^((?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:(?:\.(?:` +
		`[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))+)?(?::[0-9]+)?)(?:(?:/[a-z0-9]+` +
		`(?:(?:(?:[._]|__|[-]*)[a-z0-9]+)+)?)+)?$`)
	crdMirrorPattern = regexp.MustCompile(`^((?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*` +
		`[a-zA-Z0-9])(?:(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))+)?` +
		`(?::[0-9]+)?)(?:(?:/[a-z0-9]+(?:(?:(?:[._]|__|[-]*)[a-z0-9]+)+)?)+)?$`)
)

func TestLocationDefectCases(t *testing.T) {
	tests := []struct {
		location string
		wildcard bool
		// defect is a substring of the expected defect, or "" for a valid location.
		defect string
	}{
		{"quay.io", true, ""},
		{"localhost", true, ""},
		{"localhost:5000", false, ""},
		{"Registry.Example.COM:443/team/app", false, ""},
		{"quay.io/ns/sub/repo", false, ""},
		{"quay.io/a.b/c_d/e__f/g---h/i-j", false, ""},
		{"10.0.0.1:5000/x", false, ""},
		{"*.example.com", true, ""},
		{"*.com", true, ""},
		{"", true, "is empty"},
		{"https://quay.io/ns", true, `scheme "https://"`},
		{"quay.io/ns/repo@sha256:abc", true, "digest"},
		{"user@quay.io", true, "user info"},
		{"quay.io/ns/repo:latest", true, `tag (":latest")`},
		{"busybox:latest", true, "not a number; if it is an image tag"},
		{"quay.io:abc/ns", true, `port "abc", which is not a number`},
		{"quay.io:/ns", true, "empty port"},
		{"quay.io/ns:x/repo", true, `"ns:x" with a ":"`},
		{"quay.io/Ns/repo", true, "uppercase"},
		{"quay.io/ns//repo", true, "empty path component"},
		{"quay.io/ns/", true, "empty path component"},
		{"/ns/repo", true, "no host"},
		{"quay..io", true, "empty host label"},
		{".quay.io", true, "empty host label"},
		{"-quay.io", true, "hyphen"},
		{"quay-.io", true, "hyphen"},
		{"my_registry.io", true, `character '_'`},
		{"[::1]:5000", true, "character '['"},
		{"quay.io/ns/re+po", true, `character '+'`},
		{"quay.io/_repo", true, "start and end"},
		{"quay.io/repo-", true, "start and end"},
		{"quay.io/a..b", true, `separator ".."`},
		{"quay.io/a___b", true, `separator "___"`},
		{"quay.io/a._b", true, `separator "._"`},
		{"quay.io/a-_b", true, `separator "-_"`},
		{"quay.io /ns", true, "whitespace"},
		{"*.example.com", false, "wildcard"},
		{"*", true, `"*" that is not followed`},
		{"*example.com", true, `"*" that is not followed`},
		{"*.", true, "empty host label"},
		{"*.example.com:5000", true, "wildcard with a port"},
		{"*.example.com/ns", true, "wildcard with a path"},
		{"*.exa_mple.com", true, `character '_'`},
		{"foo.*.com", true, `character '*'`},
	}
	for _, tt := range tests {
		got := locationDefect(tt.location, tt.wildcard)
		if tt.defect == "" && got != "" {
			t.Errorf("locationDefect(%q, %v) = %q, expected valid", tt.location, tt.wildcard, got)
			continue
		}
		if !strings.Contains(got, tt.defect) {
			t.Errorf("locationDefect(%q, %v) = %q, expected it to contain %q",
				tt.location, tt.wildcard, got, tt.defect)
		}
	}
}

// checkAgainstCRD fails when the hand-written grammar and the CRD pattern disagree on s.
func checkAgainstCRD(t *testing.T, s string) {
	t.Helper()
	if got, want := locationDefect(s, true) == "", crdSourcePattern.MatchString(s); got != want {
		t.Errorf("source %q: valid here = %v, valid by the CRD pattern = %v (defect %q)",
			s, got, want, locationDefect(s, true))
	}
	if got, want := locationDefect(s, false) == "", crdMirrorPattern.MatchString(s); got != want {
		t.Errorf("mirror %q: valid here = %v, valid by the CRD pattern = %v (defect %q)",
			s, got, want, locationDefect(s, false))
	}
}

func TestLocationGrammarMatchesCRD(t *testing.T) {
	// Strings built from the characters that matter to the grammar hit its edges far more
	// often than uniformly random bytes would. The seed is fixed so a failure reproduces.
	const alphabet = "aZ09-._:/*@ "
	random := rand.New(rand.NewPCG(1, 2))
	valid := 0
	for range 300000 {
		length := 1 + random.IntN(12)
		var b strings.Builder
		for range length {
			b.WriteByte(alphabet[random.IntN(len(alphabet))])
		}
		s := b.String()
		if crdSourcePattern.MatchString(s) {
			valid++
		}
		checkAgainstCRD(t, s)
		if t.Failed() {
			return
		}
	}
	// Without enough valid samples the comparison above would prove little.
	if valid < 1000 {
		t.Fatalf("only %d of the random strings were valid sources", valid)
	}
}

func FuzzLocationGrammar(f *testing.F) {
	for _, seed := range []string{"quay.io/ns/repo", "*.example.com", "a:1/b__c", "a/b---c"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkAgainstCRD(t, s)
	})
}

func TestCanonicalLocation(t *testing.T) {
	tests := map[string]string{
		"Quay.IO":             "quay.io",
		"Quay.IO:443/ns/repo": "quay.io:443/ns/repo",
		"*.Example.com":       "*.example.com",
		"quay.io/ns":          "quay.io/ns",
	}
	for in, want := range tests {
		if got := canonicalLocation(in); got != want {
			t.Errorf("canonicalLocation(%q) = %q, expected %q", in, got, want)
		}
	}
}
