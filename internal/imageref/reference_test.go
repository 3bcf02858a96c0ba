package imageref

import (
	"errors"
	"strings"
	"testing"
)

const (
	digestA = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	digestB = "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
)

var (
	digest384 = "sha384:" + strings.Repeat("ab", 48)
	digest512 = "sha512:" + strings.Repeat("0f", 64)
)

func TestParseValid(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  Reference
		// canonical is the expected String().
		canonical string
	}{
		{
			"official image", "nginx",
			Reference{"docker.io", "library/nginx", "latest", ""},
			"docker.io/library/nginx:latest",
		},
		{
			"official image with tag", "nginx:1.27",
			Reference{"docker.io", "library/nginx", "1.27", ""},
			"docker.io/library/nginx:1.27",
		},
		{
			"library namespace", "library/nginx",
			Reference{"docker.io", "library/nginx", "latest", ""},
			"docker.io/library/nginx:latest",
		},
		{
			"docker.io single component", "docker.io/nginx",
			Reference{"docker.io", "library/nginx", "latest", ""},
			"docker.io/library/nginx:latest",
		},
		{
			"index.docker.io rewritten", "index.docker.io/library/nginx:1.27",
			Reference{"docker.io", "library/nginx", "1.27", ""},
			"docker.io/library/nginx:1.27",
		},
		{
			"index.docker.io single component", "index.docker.io/nginx",
			Reference{"docker.io", "library/nginx", "latest", ""},
			"docker.io/library/nginx:latest",
		},
		{
			"user namespace", "bitnami/redis:7.2",
			Reference{"docker.io", "bitnami/redis", "7.2", ""},
			"docker.io/bitnami/redis:7.2",
		},
		{
			"digest only", "quay.io/org/app@" + digestA,
			Reference{"quay.io", "org/app", "", digestA},
			"quay.io/org/app@" + digestA,
		},
		{
			"tag and digest", "quay.io/org/app:v1@" + digestA,
			Reference{"quay.io", "org/app", "v1", digestA},
			"quay.io/org/app:v1@" + digestA,
		},
		{
			"familiar with digest", "nginx@" + digestA,
			Reference{"docker.io", "library/nginx", "", digestA},
			"docker.io/library/nginx@" + digestA,
		},
		{
			"sha384 digest", "quay.io/org/app@" + digest384,
			Reference{"quay.io", "org/app", "", digest384},
			"quay.io/org/app@" + digest384,
		},
		{
			"sha512 digest", "quay.io/org/app@" + digest512,
			Reference{"quay.io", "org/app", "", digest512},
			"quay.io/org/app@" + digest512,
		},
		{
			"localhost registry", "localhost/app",
			Reference{"localhost", "app", "latest", ""},
			"localhost/app:latest",
		},
		{
			"localhost with port", "localhost:5000/app:dev",
			Reference{"localhost:5000", "app", "dev", ""},
			"localhost:5000/app:dev",
		},
		{
			"ipv4 registry", "127.0.0.1:5000/a/b/c",
			Reference{"127.0.0.1:5000", "a/b/c", "latest", ""},
			"127.0.0.1:5000/a/b/c:latest",
		},
		{
			"ipv6 registry with port", "[::1]:5000/app:v2",
			Reference{"[::1]:5000", "app", "v2", ""},
			"[::1]:5000/app:v2",
		},
		{
			"ipv6 registry", "[fd00::1]/team/app",
			Reference{"[fd00::1]", "team/app", "latest", ""},
			"[fd00::1]/team/app:latest",
		},
		{
			"registry keeps its case", "Quay.IO/org/app",
			Reference{"Quay.IO", "org/app", "latest", ""},
			"Quay.IO/org/app:latest",
		},
		{
			"dotted host without tld", "registry.local/app",
			Reference{"registry.local", "app", "latest", ""},
			"registry.local/app:latest",
		},
		{
			"all separators", "registry.example.com:5000/a.b/c_d/e__f/g-h/i---j:V1.0-rc_1",
			Reference{"registry.example.com:5000", "a.b/c_d/e__f/g-h/i---j", "V1.0-rc_1", ""},
			"registry.example.com:5000/a.b/c_d/e__f/g-h/i---j:V1.0-rc_1",
		},
		{
			// Like the container tools, a bare "localhost:5000" is the official image
			// "localhost" with tag "5000", because a registry needs a repository after it.
			"bare host and port", "localhost:5000",
			Reference{"docker.io", "library/localhost", "5000", ""},
			"docker.io/library/localhost:5000",
		},
		{
			"tag starting with underscore", "app:_x",
			Reference{"docker.io", "library/app", "_x", ""},
			"docker.io/library/app:_x",
		},
		{
			"tag of 128 characters", "app:" + strings.Repeat("t", 128),
			Reference{"docker.io", "library/app", strings.Repeat("t", 128), ""},
			"docker.io/library/app:" + strings.Repeat("t", 128),
		},
		{
			"repository of 255 characters", "quay.io/" + strings.Repeat("a", 255),
			Reference{"quay.io", strings.Repeat("a", 255), "latest", ""},
			"quay.io/" + strings.Repeat("a", 255) + ":latest",
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.input)
			if err != nil {
				t.Fatalf("Parse(%q) returned error: %v", tt.input, err)
			}
			if got != tt.want {
				t.Errorf("Parse(%q) = %#v, want %#v", tt.input, got, tt.want)
			}
			if got.String() != tt.canonical {
				t.Errorf("String() = %q, want %q", got.String(), tt.canonical)
			}

			again, err := Parse(got.String())
			if err != nil {
				t.Fatalf("Parse(%q) of the canonical form returned error: %v", got.String(), err)
			}
			if again != got {
				t.Errorf("Parse(String()) = %#v, want %#v", again, got)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		name     string
		input    string
		sentinel error
		contains []string
	}{
		{"empty", "", ErrEmpty, []string{"nginx:1.27"}},
		{"space inside", "nginx :1.27", ErrWhitespace, nil},
		{"trailing newline", "nginx\n", ErrWhitespace, nil},
		{"https scheme", "https://quay.io/org/app", ErrScheme, []string{`"quay.io/org/app"`}},
		{"docker scheme", "docker://nginx", ErrScheme, nil},
		{"uppercase official image", "Nginx", ErrUppercase, []string{`"nginx"`}},
		{"uppercase path component", "quay.io/Org/app", ErrUppercase, []string{`"org"`}},
		{"uppercase first component", "Team/app", ErrUppercase, []string{`"team"`}},
		{"double slash", "quay.io//app", ErrEmptyComponent, []string{"extra slash"}},
		{"leading slash", "/app", ErrEmptyComponent, nil},
		{"trailing slash", "app/", ErrEmptyComponent, nil},
		{"registry only", "quay.io/", ErrEmptyComponent, nil},
		{"missing name before digest", "@" + digestA, ErrEmptyComponent, []string{"missing"}},
		{"missing name before tag", ":1.27", ErrEmptyComponent, nil},
		{"double dot", "quay.io/a..b", ErrInvalidComponent, nil},
		{"leading separator", "quay.io/-app", ErrInvalidComponent, nil},
		{"trailing separator", "quay.io/app_", ErrInvalidComponent, nil},
		{"mixed separators", "quay.io/a_-b", ErrInvalidComponent, nil},
		{"triple underscore", "quay.io/a___b", ErrInvalidComponent, nil},
		{"invalid character", "quay.io/a+b", ErrInvalidComponent, []string{`"a+b"`}},
		{"placeholder", "<none>:<none>", ErrInvalidComponent, nil},
		{"empty tag", "nginx:", ErrInvalidTag, []string{"empty"}},
		{"tag starting with dot", "nginx:.x", ErrInvalidTag, nil},
		{"tag starting with hyphen", "nginx:-x", ErrInvalidTag, nil},
		{"tag with plus", "nginx:1+2", ErrInvalidTag, []string{`'+'`}},
		{"tag of 129 characters", "nginx:" + strings.Repeat("t", 129), ErrInvalidTag,
			[]string{"129", "128"}},
		{"repository of 256 characters", "quay.io/" + strings.Repeat("a", 256), ErrNameTooLong,
			[]string{"256", "255"}},
		{"library prefix counts", strings.Repeat("a", 248), ErrNameTooLong, nil},
		{"image id", strings.Repeat("ab", 32), ErrImageID, []string{"sha256:"}},
		{"empty digest", "nginx@", ErrInvalidDigest, []string{"algorithm:hex"}},
		{"digest without colon", "nginx@sha256", ErrInvalidDigest, nil},
		{"digest without hex", "nginx@sha256:", ErrInvalidDigest, nil},
		{"short sha256", "nginx@sha256:abc", ErrInvalidDigest, []string{"64"}},
		{"long sha256", "nginx@" + digestA + "0", ErrInvalidDigest, []string{"65"}},
		{"uppercase algorithm", "nginx@" + strings.ToUpper(digestA), ErrUnsupportedAlgo, nil},
		{"uppercase hex digits", "nginx@sha256:" + strings.ToUpper(digestA[7:]), ErrInvalidDigest,
			[]string{"lowercase"}},
		{"non-hex digest", "nginx@sha256:" + strings.Repeat("g", 64), ErrInvalidDigest,
			[]string{"hex"}},
		{"short sha512", "nginx@sha512:" + strings.Repeat("a", 64), ErrInvalidDigest,
			[]string{"128"}},
		{"md5 digest", "nginx@md5:" + strings.Repeat("a", 32), ErrUnsupportedAlgo,
			[]string{"sha256"}},
		{"second at sign", "nginx@" + digestA + "@" + digestB, ErrInvalidDigest, nil},
		{"registry port too large", "quay.io:99999/app", ErrInvalidPort, []string{"quay.io:99999"}},
		{"registry empty label", "quay..io/app", ErrInvalidHost, nil},
		{"registry bad ipv6", "[zz::1]:5000/app", ErrInvalidHost, nil},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.input)
			if err == nil {
				t.Fatalf("Parse(%q) = %#v, want an error", tt.input, got)
			}
			if !errors.Is(err, tt.sentinel) {
				t.Errorf("Parse(%q) error %q does not wrap %q", tt.input, err, tt.sentinel)
			}
			var refErr *ReferenceError
			if !errors.As(err, &refErr) {
				t.Fatalf("Parse(%q) error has type %T, want *ReferenceError", tt.input, err)
			}
			if !strings.HasPrefix(err.Error(), "invalid image reference ") {
				t.Errorf("message %q does not start with the rule's subject", err)
			}
			for _, want := range tt.contains {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("message %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestReferenceFamiliarForms(t *testing.T) {
	tests := []struct {
		input          string
		familiarName   string
		familiarString string
		identity       string
	}{
		{"nginx", "nginx", "nginx:latest", "docker.io/library/nginx:latest"},
		{"docker.io/library/nginx:1.27", "nginx", "nginx:1.27", "docker.io/library/nginx:1.27"},
		{"bitnami/redis", "bitnami/redis", "bitnami/redis:latest",
			"docker.io/bitnami/redis:latest"},
		{"docker.io/library/team/app", "library/team/app", "library/team/app:latest",
			"docker.io/library/team/app:latest"},
		{"quay.io/org/app:v1", "quay.io/org/app", "quay.io/org/app:v1", "quay.io/org/app:v1"},
		{"quay.io/org/app:v1@" + digestA, "quay.io/org/app", "quay.io/org/app:v1@" + digestA,
			"quay.io/org/app@" + digestA},
		{"nginx@" + digestA, "nginx", "nginx@" + digestA, "docker.io/library/nginx@" + digestA},
		{"localhost:5000/library/app", "localhost:5000/library/app",
			"localhost:5000/library/app:latest", "localhost:5000/library/app:latest"},
		{"docker.io/my.org/app", "docker.io/my.org/app", "docker.io/my.org/app:latest",
			"docker.io/my.org/app:latest"},
		{"docker.io/localhost/app", "docker.io/localhost/app", "docker.io/localhost/app:latest",
			"docker.io/localhost/app:latest"},
		{"docker.io/library/my.app", "my.app", "my.app:latest",
			"docker.io/library/my.app:latest"},
	}

	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			ref, err := Parse(tt.input)
			if err != nil {
				t.Fatalf("Parse(%q) returned error: %v", tt.input, err)
			}
			if got := ref.FamiliarName(); got != tt.familiarName {
				t.Errorf("FamiliarName() = %q, want %q", got, tt.familiarName)
			}
			if got := ref.FamiliarString(); got != tt.familiarString {
				t.Errorf("FamiliarString() = %q, want %q", got, tt.familiarString)
			}
			if got := ref.Identity(); got != tt.identity {
				t.Errorf("Identity() = %q, want %q", got, tt.identity)
			}

			again, err := Parse(ref.FamiliarString())
			if err != nil {
				t.Fatalf("Parse(%q) of the familiar form returned error: %v",
					ref.FamiliarString(), err)
			}
			if again != ref {
				t.Errorf("Parse(FamiliarString()) = %#v, want %#v", again, ref)
			}
		})
	}
}

func TestReferenceName(t *testing.T) {
	ref, err := Parse("quay.io/org/app:v1@" + digestA)
	if err != nil {
		t.Fatalf("Parse returned error: %v", err)
	}

	if got := ref.Name(); got != "quay.io/org/app" {
		t.Errorf("Name() = %q, want %q", got, "quay.io/org/app")
	}
}

func FuzzParse(f *testing.F) {
	seeds := []string{
		"nginx", "nginx:1.27", "quay.io/org/app@" + digestA, "[::1]:5000/app:v1@" + digestA,
		"localhost:5000", "index.docker.io/nginx", "a__b/c--d", "Team/app", "<none>@<none>",
		"docker.io/0.0/0",
	}
	for _, seed := range seeds {
		f.Add(seed)
	}

	f.Fuzz(func(t *testing.T, input string) {
		ref, err := Parse(input)
		if err != nil {
			var refErr *ReferenceError
			if !errors.As(err, &refErr) {
				t.Fatalf("Parse(%q) error has type %T, want *ReferenceError", input, err)
			}
			return
		}

		for _, form := range []string{ref.String(), ref.FamiliarString()} {
			again, err := Parse(form)
			if err != nil {
				t.Fatalf("Parse(%q) = %#v, but Parse(%q) failed: %v", input, ref, form, err)
			}
			if again != ref {
				t.Fatalf("Parse(%q) = %#v, but Parse(%q) = %#v", input, ref, form, again)
			}
		}
	})
}

func TestRedactUserInfo(t *testing.T) {
	tests := []struct{ in, want string }{
		{"user:hunter2@registry.example.com/app:1", "REDACTED@registry.example.com/app:1"},
		{"https://user:hunter2@registry.example.com/app", "https://REDACTED@registry.example.com/app"},
		{"a@b@registry.example.com/app", "REDACTED@registry.example.com/app"},
		{"nginx@sha256:" + strings.Repeat("a", 64), "nginx@sha256:" + strings.Repeat("a", 64)},
		{"quay.io/org/app@sha256:abc", "quay.io/org/app@sha256:abc"},
		{"registry.example.com/app:1", "registry.example.com/app:1"},
	}
	for _, tt := range tests {
		if got := RedactUserInfo(tt.in); got != tt.want {
			t.Errorf("RedactUserInfo(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseUserInfoNotEchoed(t *testing.T) {
	for _, reference := range []string{
		"user:hunter2@registry.example.com/app:1",
		"https://user:hunter2@registry.example.com/app:1",
		"user:hunter2@registry.example.com/app with space",
	} {
		_, err := Parse(reference)
		if !errors.Is(err, ErrUserInfo) {
			t.Errorf("Parse(%q) error = %v, want ErrUserInfo", reference, err)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Parse(%q) error repeats the password: %v", reference, err)
		}
	}
}
