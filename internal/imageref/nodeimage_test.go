package imageref

import (
	"errors"
	"fmt"
	"testing"
)

func TestParseNodeImageName(t *testing.T) {
	tests := []struct {
		name     string
		input    string
		wantRef  Reference
		wantKind NodeImageNameKind
	}{
		{"digest placeholder", "<none>@<none>", Reference{}, NodeImagePlaceholder},
		{"tag placeholder", "<none>:<none>", Reference{}, NodeImagePlaceholder},
		{
			"tag name", "docker.io/library/nginx:1.27",
			Reference{"docker.io", "library/nginx", "1.27", ""}, NodeImageTag,
		},
		{
			"digest name", "quay.io/org/app@" + digestA,
			Reference{"quay.io", "org/app", "", digestA}, NodeImageDigest,
		},
		{
			"tag and digest name", "quay.io/org/app:v1@" + digestA,
			Reference{"quay.io", "org/app", "v1", digestA}, NodeImageDigest,
		},
		{
			"familiar tag name", "nginx:latest",
			Reference{"docker.io", "library/nginx", "latest", ""}, NodeImageTag,
		},
		{
			"familiar digest name", "nginx@" + digestA,
			Reference{"docker.io", "library/nginx", "", digestA}, NodeImageDigest,
		},
		{
			"registry with port", "registry.example.com:5000/team/app:2.0",
			Reference{"registry.example.com:5000", "team/app", "2.0", ""}, NodeImageTag,
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref, kind, err := ParseNodeImageName(tt.input)
			if err != nil {
				t.Fatalf("ParseNodeImageName(%q) returned error: %v", tt.input, err)
			}
			if ref != tt.wantRef {
				t.Errorf("reference = %#v, want %#v", ref, tt.wantRef)
			}
			if kind != tt.wantKind {
				t.Errorf("kind = %v, want %v", kind, tt.wantKind)
			}
		})
	}
}

func TestParseNodeImageNameInvalid(t *testing.T) {
	inputs := []string{"", "<none>", "<none>@sha256:abc", "quay.io/org/app:", "quay.io/Org/app:v1"}

	for _, input := range inputs {
		t.Run(input, func(t *testing.T) {
			ref, kind, err := ParseNodeImageName(input)
			if err == nil {
				t.Fatalf("ParseNodeImageName(%q) = %#v, %v, want an error", input, ref, kind)
			}
			var refErr *ReferenceError
			if !errors.As(err, &refErr) {
				t.Errorf("error has type %T, want *ReferenceError", err)
			}
			if kind != 0 {
				t.Errorf("kind = %v, want the zero kind with an error", kind)
			}
		})
	}
}

func TestNodeImageNameKindString(t *testing.T) {
	tests := map[NodeImageNameKind]string{
		NodeImagePlaceholder: "placeholder",
		NodeImageTag:         "tag",
		NodeImageDigest:      "digest",
		NodeImageNameKind(0): "NodeImageNameKind(0)",
	}

	for kind, want := range tests {
		if got := kind.String(); got != want {
			t.Errorf("NodeImageNameKind(%d).String() = %q, want %q", int(kind), got, want)
		}
	}
}

func TestMatcherMatches(t *testing.T) {
	tests := []struct {
		name      string
		reference string
		names     []string
		want      bool
	}{
		{"bare name means latest", "nginx", []string{"docker.io/library/nginx:latest"}, true},
		{"bare name other tag", "nginx", []string{"docker.io/library/nginx:1.27"}, false},
		{
			"tag among names", "nginx:1.27",
			[]string{"docker.io/library/nginx@" + digestA, "docker.io/library/nginx:1.27"}, true,
		},
		{"tag prefix is not a match", "nginx:1.27", []string{"docker.io/library/nginx:1.27.1"}, false},
		{"shorter tag is not a match", "nginx:1.2", []string{"docker.io/library/nginx:1.27"}, false},
		{
			"repository prefix is not a match", "nginx",
			[]string{"docker.io/library/nginx-extra:latest"}, false,
		},
		{
			"repository suffix is not a match", "nginx",
			[]string{"docker.io/myorg/nginx:latest"}, false,
		},
		{"other registry", "nginx", []string{"quay.io/library/nginx:latest"}, false},
		{"familiar node name", "nginx", []string{"nginx:latest"}, true},
		{"node name without a tag means latest", "nginx", []string{"nginx"}, true},
		{
			"qualified node name without a tag", "quay.io/org/app:latest",
			[]string{"quay.io/org/app"}, true,
		},
		{"node name without a tag is not another tag", "nginx:1.27", []string{"nginx"}, false},
		{"legacy docker hub name", "nginx", []string{"index.docker.io/library/nginx:latest"}, true},
		{"qualified reference", "docker.io/library/nginx:1.27", []string{"nginx:1.27"}, true},
		{
			"tag matches tag and digest name", "quay.io/org/app:v1",
			[]string{"quay.io/org/app:v1@" + digestA}, true,
		},
		{
			"tag does not match digest name", "quay.io/org/app:latest",
			[]string{"quay.io/org/app@" + digestA}, false,
		},
		{"digest", "quay.io/org/app@" + digestA, []string{"quay.io/org/app@" + digestA}, true},
		{"other digest", "quay.io/org/app@" + digestA, []string{"quay.io/org/app@" + digestB}, false},
		{
			"same digest other repository", "quay.io/org/app@" + digestA,
			[]string{"quay.io/org/other@" + digestA}, false,
		},
		{
			"same digest other registry", "quay.io/org/app@" + digestA,
			[]string{"registry.example.com/org/app@" + digestA}, false,
		},
		{"digest against tag name", "quay.io/org/app@" + digestA, []string{"quay.io/org/app:v1"}, false},
		{
			"digest wins over tag", "quay.io/org/app:v1@" + digestA,
			[]string{"quay.io/org/app:v2", "quay.io/org/app@" + digestA}, true,
		},
		{
			"tag alone does not satisfy digest", "quay.io/org/app:v1@" + digestA,
			[]string{"quay.io/org/app:v1", "quay.io/org/app@" + digestB}, false,
		},
		{
			"digest matches tag and digest name", "quay.io/org/app@" + digestA,
			[]string{"quay.io/org/app:v9@" + digestA}, true,
		},
		{"placeholders", "nginx", []string{"<none>@<none>", "<none>:<none>"}, false},
		{"no names", "nginx", nil, false},
		{"unparsable name skipped", "nginx", []string{"docker.io/library/NGINX:latest"}, false},
		{
			"unparsable name then match", "nginx",
			[]string{"bad name:latest", "docker.io/library/nginx:latest"}, true,
		},
		{"registry port", "localhost:5000/app", []string{"localhost:5000/app:latest"}, true},
		{"other registry port", "localhost:5000/app", []string{"localhost:5001/app:latest"}, false},
		{"ipv6 registry", "[::1]:5000/app:v1", []string{"[::1]:5000/app:v1"}, true},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			matcher, err := NewMatcher(tt.reference)
			if err != nil {
				t.Fatalf("NewMatcher(%q) returned error: %v", tt.reference, err)
			}

			if got := matcher.Matches(tt.names); got != tt.want {
				t.Errorf("NewMatcher(%q).Matches(%q) = %v, want %v",
					tt.reference, tt.names, got, tt.want)
			}
		})
	}
}

func TestNewMatcherInvalid(t *testing.T) {
	matcher, err := NewMatcher("quay.io/Org/app")

	if err == nil {
		t.Fatalf("NewMatcher returned %#v, want an error", matcher)
	}
	if !errors.Is(err, ErrUppercase) {
		t.Errorf("error %q does not wrap ErrUppercase", err)
	}
}

func TestMatcherReference(t *testing.T) {
	matcher, err := NewMatcher("nginx")
	if err != nil {
		t.Fatalf("NewMatcher returned error: %v", err)
	}

	want := Reference{"docker.io", "library/nginx", "latest", ""}
	if got := matcher.Reference(); got != want {
		t.Errorf("Reference() = %#v, want %#v", got, want)
	}
}

// BenchmarkMatcherMatches checks one reference against the image list of a typical node, where
// most names share neither tag nor digest with the reference.
func BenchmarkMatcherMatches(b *testing.B) {
	matcher, err := NewMatcher("quay.io/org/app:v1.2.3")
	if err != nil {
		b.Fatalf("NewMatcher returned error: %v", err)
	}
	var images [][]string
	for i := range 50 {
		images = append(images, []string{
			fmt.Sprintf("quay.io/org/component-%d@%s", i, digestA),
			fmt.Sprintf("quay.io/org/component-%d:v1.2.%d", i, i),
		})
	}

	for b.Loop() {
		for _, names := range images {
			matcher.Matches(names)
		}
	}
}
