package imageref

import (
	"errors"
	"strings"
	"testing"
)

func TestRegistryKeyValid(t *testing.T) {
	tests := []struct {
		name   string
		server string
		want   string
	}{
		{"plain host", "quay.io", "quay.io"},
		{"https scheme and trailing slash", "https://registry.example.com/", "registry.example.com"},
		{"http scheme", "http://registry.example.com", "registry.example.com"},
		{"uppercase scheme", "HTTPS://quay.io", "quay.io"},
		{"port 443 dropped", "registry.example.com:443", "registry.example.com"},
		{"port 443 with scheme", "https://registry.example.com:443/", "registry.example.com"},
		{"port 5000 kept", "registry.example.com:5000", "registry.example.com:5000"},
		{"port 5000 with scheme", "http://registry.example.com:5000/", "registry.example.com:5000"},
		{"port 80 kept", "http://registry.example.com:80", "registry.example.com:80"},
		{"host lowercased", "Registry.Example.COM", "registry.example.com"},
		{"v2 suffix", "https://quay.io/v2/", "quay.io"},
		{"v1 suffix without slash", "quay.io/v1", "quay.io"},
		{"docker.io", "docker.io", DockerHubKey},
		{"index.docker.io", "index.docker.io", DockerHubKey},
		{"registry-1.docker.io", "registry-1.docker.io", DockerHubKey},
		{"docker hub v1 url", "https://index.docker.io/v1/", DockerHubKey},
		{"docker hub v2 url", "https://index.docker.io/v2/", DockerHubKey},
		{"docker.io with scheme", "https://docker.io", DockerHubKey},
		{"docker.io port 443", "docker.io:443", DockerHubKey},
		{"docker hub uppercase", "Docker.IO", DockerHubKey},
		{"docker.io other port", "docker.io:5000", "docker.io:5000"},
		{"single label host", "registry", "registry"},
		{"localhost with port", "localhost:5000", "localhost:5000"},
		{"ipv4 with port", "127.0.0.1:5000", "127.0.0.1:5000"},
		{"ipv6 loopback", "[::1]", "[::1]"},
		{"ipv6 with port", "[::1]:5000", "[::1]:5000"},
		{"ipv6 lowercased", "https://[FD00::A1]:5000/", "[fd00::a1]:5000"},
		{"ipv6 port 443", "[fd00::1]:443", "[fd00::1]"},
		{"wildcard label", "*.example.com", "*.example.com"},
		{"wildcard lowercased", "https://*.Example.com/", "*.example.com"},
		{"hyphen inside label", "my-registry.example.com", "my-registry.example.com"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RegistryKey(tt.server)
			if err != nil {
				t.Fatalf("RegistryKey(%q) returned error: %v", tt.server, err)
			}
			if got != tt.want {
				t.Errorf("RegistryKey(%q) = %q, want %q", tt.server, got, tt.want)
			}

			again, err := RegistryKey(got)
			if err != nil {
				t.Fatalf("RegistryKey(%q) of its own key returned error: %v", got, err)
			}
			if again != got {
				t.Errorf("RegistryKey(%q) = %q, want the key unchanged", got, again)
			}
		})
	}
}

func TestRegistryKeyInvalid(t *testing.T) {
	tests := []struct {
		name     string
		server   string
		sentinel error
		// contains are substrings the message must have, such as the suggested fix.
		contains []string
	}{
		{"empty", "", ErrEmpty, []string{"quay.io"}},
		{"leading space", " quay.io", ErrWhitespace, []string{`" quay.io"`, "remove the whitespace"}},
		{"trailing newline", "quay.io\n", ErrWhitespace, nil},
		{"inner tab", "quay\t.io", ErrWhitespace, nil},
		{"ftp scheme", "ftp://quay.io", ErrScheme, []string{`"ftp"`, "https://"}},
		{"oci scheme", "oci://quay.io", ErrScheme, nil},
		{"docker scheme", "docker://quay.io", ErrScheme, nil},
		{"empty scheme", "://quay.io", ErrScheme, nil},
		{"query", "https://quay.io/?tab=tags", ErrQueryOrFragment, nil},
		{"fragment", "quay.io#top", ErrQueryOrFragment, nil},
		{"user and password", "https://user:secret@quay.io", ErrUserInfo,
			[]string{"REDACTED@quay.io"}},
		{"user only", "robot@quay.io", ErrUserInfo, nil},
		{"path", "quay.io/org", ErrPath, []string{`"/org"`, `Use "quay.io"`}},
		{"path after v1", "https://index.docker.io/v1/library", ErrPath,
			[]string{`Use "index.docker.io"`}},
		{"double slash", "quay.io//", ErrPath, nil},
		{"path with port", "https://registry.example.com:5000/team/", ErrPath,
			[]string{`Use "registry.example.com:5000"`}},
		{"empty label", "quay..io", ErrInvalidHost, []string{"empty label"}},
		{"trailing dot", "quay.io.", ErrInvalidHost, []string{"trailing dot"}},
		{"leading hyphen", "-quay.io", ErrInvalidHost, []string{"hyphen"}},
		{"trailing hyphen", "quay-.io", ErrInvalidHost, []string{"hyphen"}},
		{"underscore", "my_registry.example.com", ErrInvalidHost, []string{`'_'`}},
		{"non-ascii host", "registrü.example.com", ErrInvalidHost, []string{"'ü'", "punycode"}},
		{"label too long", strings.Repeat("a", 64) + ".example.com", ErrInvalidHost, []string{"63"}},
		{"host too long", strings.Repeat("abcdefghi.", 26) + "com", ErrInvalidHost, []string{"253"}},
		{"missing host", "https:///v2/", ErrInvalidHost, []string{"missing"}},
		{"ipv6 without brackets", "fd00::1", ErrInvalidHost, []string{`"[fd00::1]"`}},
		{"ipv6 unclosed bracket", "[::1", ErrInvalidHost, []string{"closing bracket"}},
		{"ipv6 not an address", "[registry]:5000", ErrInvalidHost, nil},
		{"ipv4 in brackets", "[127.0.0.1]", ErrInvalidHost, nil},
		{"ipv6 zone", "[fe80::1%eth0]", ErrInvalidHost, nil},
		{"text after ipv6", "[::1]x", ErrInvalidHost, nil},
		{"lone wildcard", "*", ErrInvalidHost, nil},
		{"inner wildcard", "a.*.example.com", ErrInvalidHost, nil},
		{"partial wildcard", "reg*.example.com", ErrInvalidHost, nil},
		{"empty port", "quay.io:", ErrInvalidPort, []string{"Remove the colon"}},
		{"port zero", "quay.io:0", ErrInvalidPort, []string{"65535"}},
		{"port too large", "quay.io:65536", ErrInvalidPort, nil},
		{"port not a number", "quay.io:http", ErrInvalidPort, nil},
		{"port with sign", "quay.io:+5000", ErrInvalidPort, nil},
		{"port leading zero", "quay.io:05000", ErrInvalidPort, []string{`"5000"`}},
		{"ipv6 empty port", "[::1]:", ErrInvalidPort, nil},
		{"scheme without slashes", "https:quay.io", ErrInvalidPort, nil},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := RegistryKey(tt.server)
			if err == nil {
				t.Fatalf("RegistryKey(%q) = %q, want an error", tt.server, key)
			}
			if !errors.Is(err, tt.sentinel) {
				t.Errorf("RegistryKey(%q) error %q does not wrap %q", tt.server, err, tt.sentinel)
			}
			var serverErr *ServerError
			if !errors.As(err, &serverErr) {
				t.Fatalf("RegistryKey(%q) error has type %T, want *ServerError", tt.server, err)
			}
			if !strings.HasPrefix(err.Error(), "invalid registry server ") {
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

func TestRegistryKeyUserInfoRedacted(t *testing.T) {
	servers := []string{
		"https://robot:s3cr3t-value@quay.io/",
		"robot:s3cr3t-value@quay.io",
		"https://robot:s3cr3t-value/with-slash@quay.io",
		"https://robot:s3cr3t-value?#x@quay.io",
		"robot:s3cr3t-value with space@quay.io",
		"ftp://robot:s3cr3t-value@quay.io",
	}

	for _, server := range servers {
		_, err := RegistryKey(server)
		if !errors.Is(err, ErrUserInfo) {
			t.Errorf("RegistryKey(%q) error = %v, want ErrUserInfo", server, err)
			continue
		}
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("RegistryKey error for a server with user info repeats the password: %q", err)
		}
		var serverErr *ServerError
		if errors.As(err, &serverErr) && strings.Contains(serverErr.Server, "s3cr3t") {
			t.Errorf("ServerError.Server repeats the password: %q", serverErr.Server)
		}
	}
}

func TestRegistryKeyLongInputTruncated(t *testing.T) {
	server := "quay.io/" + strings.Repeat("x", 5000)

	_, err := RegistryKey(server)

	if err == nil {
		t.Fatal("RegistryKey of a long path returned no error")
	}
	if len(err.Error()) > 2*maxQuotedLength+200 {
		t.Errorf("message is %d bytes long, want the input truncated", len(err.Error()))
	}
	if !strings.Contains(err.Error(), "truncated") {
		t.Errorf("message %q does not say that the input was truncated", err.Error()[:100])
	}
}

func FuzzRegistryKey(f *testing.F) {
	seeds := []string{
		"quay.io", "https://index.docker.io/v1/", "registry.example.com:443", "[::1]:5000",
		"*.example.com", "user:pw@host", "HTTP://Host:80/v2", "a..b", "",
	}
	for _, seed := range seeds {
		f.Add(seed)
	}

	f.Fuzz(func(t *testing.T, server string) {
		key, err := RegistryKey(server)
		if err != nil {
			var serverErr *ServerError
			if !errors.As(err, &serverErr) {
				t.Fatalf("RegistryKey(%q) error has type %T, want *ServerError", server, err)
			}
			return
		}

		again, err := RegistryKey(key)
		if err != nil {
			t.Fatalf("RegistryKey(%q) = %q, which is not a valid server: %v", server, key, err)
		}
		if again != key {
			t.Fatalf("RegistryKey is not idempotent: %q -> %q -> %q", server, key, again)
		}
		if strings.ContainsAny(key, "/@?# ") || key != strings.ToLower(key) {
			t.Fatalf("RegistryKey(%q) = %q, which is not a lowercase host and port", server, key)
		}
	})
}
