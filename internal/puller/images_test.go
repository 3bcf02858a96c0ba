package puller

import (
	"strings"
	"testing"
)

const testDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// wantProblem is the part of a Problem a test checks exactly, plus text its Detail must
// contain.
type wantProblem struct {
	key      string
	warning  bool
	summary  string
	contains []string
}

func TestImagesProblems(t *testing.T) {
	tests := []struct {
		name   string
		images map[string]string
		want   []wantProblem
	}{
		{
			name:   "nil map",
			images: nil,
			want:   []wantProblem{{key: "", summary: "Missing Images", contains: []string{"empty"}}},
		},
		{
			name:   "empty map",
			images: map[string]string{},
			want:   []wantProblem{{key: "", summary: "Missing Images"}},
		},
		{
			name: "pinned references",
			images: map[string]string{
				"tag":        "quay.io/team/api:3.8.2",
				"digest":     "quay.io/team/scratch@" + testDigest,
				"tag-digest": "quay.io/team/api:latest@" + testDigest,
				"port":       "localhost:5000/app:v1",
			},
		},
		{
			name:   "latest tag",
			images: map[string]string{"web": "nginx:latest"},
			want: []wantProblem{{key: "web", warning: true, summary: "Mutable Image Tag",
				contains: []string{`"web"`, `"nginx:latest"`, `has the tag "latest"`,
					"resolve_digests = true", "nginx@sha256:"}}},
		},
		{
			name:   "no tag",
			images: map[string]string{"web": "quay.io/team/web"},
			want: []wantProblem{{key: "web", warning: true, summary: "Mutable Image Tag",
				contains: []string{"no tag or digest", "quay.io/team/web@sha256:"}}},
		},
		{
			name:   "registry port without tag",
			images: map[string]string{"web": "localhost:5000/latest"},
			want: []wantProblem{{key: "web", warning: true, summary: "Mutable Image Tag",
				contains: []string{"no tag or digest"}}},
		},
		{
			name:   "uppercase repository",
			images: map[string]string{"app": "quay.io/Team/app:1"},
			want: []wantProblem{{key: "app", summary: "Invalid Image Reference",
				contains: []string{`"app"`, `"quay.io/Team/app:1"`, "lowercase"}}},
		},
		{
			name:   "scheme",
			images: map[string]string{"app": "https://quay.io/team/app:1"},
			want: []wantProblem{{key: "app", summary: "Invalid Image Reference",
				contains: []string{"no scheme"}}},
		},
		{
			name:   "empty reference",
			images: map[string]string{"app": ""},
			want: []wantProblem{{key: "app", summary: "Invalid Image Reference",
				contains: []string{"empty"}}},
		},
		{
			name:   "bad digest",
			images: map[string]string{"app": "quay.io/team/app@sha256:abc"},
			want: []wantProblem{{key: "app", summary: "Invalid Image Reference",
				contains: []string{"sha256:abc"}}},
		},
		{
			name:   "key without letters",
			images: map[string]string{"_-_": "nginx:1.27"},
			want: []wantProblem{{key: "_-_", summary: "Invalid Image Key",
				contains: []string{`"_-_"`}}},
		},
		{
			name:   "non-ASCII key only",
			images: map[string]string{"日本": "nginx:1.27"},
			want:   []wantProblem{{key: "日本", summary: "Invalid Image Key"}},
		},
		{
			name:   "reserved sleeper",
			images: map[string]string{"ImageDist_Sleeper": "nginx:1.27"},
			want: []wantProblem{{key: "ImageDist_Sleeper", summary: "Reserved Image Key",
				contains: []string{`"imagedist-sleeper"`}}},
		},
		{
			name:   "reserved wait",
			images: map[string]string{"imagedist-wait": "nginx:1.27"},
			want:   []wantProblem{{key: "imagedist-wait", summary: "Reserved Image Key"}},
		},
		{
			name: "duplicate container name",
			images: map[string]string{
				"static_bin": "quay.io/team/a:1",
				"Static-Bin": "quay.io/team/b:1",
				"static.bin": "quay.io/team/c:1",
			},
			// Sorted keys: "Static-Bin", "static.bin", "static_bin".
			want: []wantProblem{
				{key: "static.bin", summary: "Duplicate Container Name",
					contains: []string{`"Static-Bin"`, `"static.bin"`, `"static-bin"`}},
				{key: "static_bin", summary: "Duplicate Container Name",
					contains: []string{`"Static-Bin"`, `"static_bin"`}},
			},
		},
		{
			name: "duplicate reference",
			images: map[string]string{
				"a": "docker.io/library/nginx:1.27",
				"b": "nginx:1.27",
			},
			want: []wantProblem{{key: "b", warning: true, summary: "Duplicate Image Reference",
				contains: []string{`"a"`, `"b"`, "docker.io/library/nginx:1.27"}}},
		},
		{
			name: "duplicate digest with and without tag",
			images: map[string]string{
				"a": "quay.io/team/app@" + testDigest,
				"b": "quay.io/team/app:v1@" + testDigest,
			},
			want: []wantProblem{{key: "b", warning: true, summary: "Duplicate Image Reference"}},
		},
		{
			name: "same repository other tags",
			images: map[string]string{
				"a": "quay.io/team/app:1",
				"b": "quay.io/team/app:2",
			},
		},
		{
			name: "invalid key and reference together",
			images: map[string]string{
				"***": "Nginx",
				"ok":  "nginx:1.27",
			},
			want: []wantProblem{
				{key: "***", summary: "Invalid Image Key"},
				{key: "***", summary: "Invalid Image Reference"},
			},
		},
		{
			name: "problems sorted by key",
			images: map[string]string{
				"z": "nginx",
				"a": "busybox",
			},
			want: []wantProblem{
				{key: "a", warning: true, summary: "Mutable Image Tag"},
				{key: "z", warning: true, summary: "Mutable Image Tag"},
			},
		},
	}

	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			_, problems := Images(test.images)

			if len(problems) != len(test.want) {
				t.Fatalf("got %d problems, want %d: %+v", len(problems), len(test.want), problems)
			}
			for i, want := range test.want {
				got := problems[i]
				if got.Key != want.key {
					t.Errorf("problem %d: Key = %q, want %q", i, got.Key, want.key)
				}
				if got.Warning != want.warning {
					t.Errorf("problem %d: Warning = %v, want %v", i, got.Warning, want.warning)
				}
				if got.Summary != want.summary {
					t.Errorf("problem %d: Summary = %q, want %q", i, got.Summary, want.summary)
				}
				for _, text := range want.contains {
					if !strings.Contains(got.Detail, text) {
						t.Errorf("problem %d: Detail %q does not contain %q", i, got.Detail, text)
					}
				}
				if !strings.HasSuffix(got.Detail, ".") {
					t.Errorf("problem %d: Detail %q is not a full sentence", i, got.Detail)
				}
			}
		})
	}
}

func TestImagesSortedWithContainers(t *testing.T) {
	images, problems := Images(map[string]string{
		"Static_Bin": "quay.io/team/static@" + testDigest,
		"api":        "quay.io/team/api:3.8.2",
		"Zeta":       "quay.io/team/zeta:1",
	})

	if len(problems) != 0 {
		t.Fatalf("unexpected problems: %+v", problems)
	}
	want := []Image{
		{Key: "Static_Bin", Reference: "quay.io/team/static@" + testDigest,
			Container: "static-bin"},
		{Key: "Zeta", Reference: "quay.io/team/zeta:1", Container: "zeta"},
		{Key: "api", Reference: "quay.io/team/api:3.8.2", Container: "api"},
	}
	if len(images) != len(want) {
		t.Fatalf("got %d images, want %d: %+v", len(images), len(want), images)
	}
	for i := range want {
		if images[i] != want[i] {
			t.Errorf("image %d = %+v, want %+v", i, images[i], want[i])
		}
	}
}

func TestImagesKeepsKeysWithErrors(t *testing.T) {
	images, problems := Images(map[string]string{"bad": "Nginx", "good": "nginx:1.27"})

	if len(problems) != 1 {
		t.Fatalf("got %d problems, want 1: %+v", len(problems), problems)
	}
	if len(images) != 2 {
		t.Fatalf("got %d images, want 2: %+v", len(images), images)
	}
	if images[0].Key != "bad" || images[0].Container != "bad" {
		t.Errorf("images[0] = %+v, want key and container \"bad\"", images[0])
	}
}

func TestContainerName(t *testing.T) {
	long := strings.Repeat("a", 70)
	dashAtCut := strings.Repeat("b", 62) + "_c"

	tests := []struct {
		key  string
		want string
	}{
		{"Static_Bin", "static-bin"},
		{"api", "api"},
		{"API-Server2", "api-server2"},
		{"a__b--c..d", "a-b-c-d"},
		{"--edge--", "edge"},
		{"_x_", "x"},
		{"café au lait", "caf-au-lait"},
		{"a/b:c@d", "a-b-c-d"},
		{"\u212Aelvin", "elvin"},
		{"___", ""},
		{"", ""},
		{long, strings.Repeat("a", 63)},
		{dashAtCut, strings.Repeat("b", 62)},
		{"-" + long, strings.Repeat("a", 63)},
	}
	for _, test := range tests {
		if got := containerName(test.key); got != test.want {
			t.Errorf("containerName(%q) = %q, want %q", test.key, got, test.want)
		}
	}
}
