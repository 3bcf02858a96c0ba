package dockerconfig

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/imagedist/terraform-provider-imagedist/internal/imageref"
)

// TestEncodeMatchesKubectl compares with documents that kubectl v1.32.4 wrote for
// `kubectl create secret docker-registry NAME --dry-run=client` with the same server, username,
// password and email.
func TestEncodeMatchesKubectl(t *testing.T) {
	tests := []struct {
		name  string
		entry Entry
		want  string
	}{
		{
			"json and html special characters",
			Entry{Server: "registry.example.com", Username: "bob", Password: `p{a}s"s:w\o&rd<>`},
			`{"auths":{"registry.example.com":{"username":"bob",` +
				`"password":"p{a}s\"s:w\\o\u0026rd\u003c\u003e",` +
				`"auth":"Ym9iOnB7YX1zInM6d1xvJnJkPD4="}}}`,
		},
		{
			"non-ascii password with email",
			Entry{
				Server: "registry.example.com", Username: "bob", Password: "密码pässwörd",
				Email: "bob@example.com",
			},
			`{"auths":{"registry.example.com":{"username":"bob","password":"密码pässwörd",` +
				`"email":"bob@example.com","auth":"Ym9iOuWvhueggXDDpHNzd8O2cmQ="}}}`,
		},
		{
			"trailing colon and port",
			Entry{Server: "registry.example.com:5000", Username: "robot", Password: "secret:"},
			`{"auths":{"registry.example.com:5000":{"username":"robot","password":"secret:",` +
				`"auth":"cm9ib3Q6c2VjcmV0Og=="}}}`,
		},
		{
			"control characters and line separator",
			Entry{Server: "[::1]:5000", Username: "u", Password: "tab\there\nnl\u2028ls"},
			`{"auths":{"[::1]:5000":{"username":"u","password":"tab\there\nnl\u2028ls",` +
				`"auth":"dTp0YWIJaGVyZQpubOKAqGxz"}}}`,
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Encode([]Entry{tt.entry})
			if err != nil {
				t.Fatalf("Encode returned error: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("Encode output differs from kubectl's\ngot:  %s\nwant: %s", got, tt.want)
			}
		})
	}
}

func TestEncodeNormalizesKeys(t *testing.T) {
	tests := []struct {
		server string
		key    string
	}{
		{"https://registry.example.com/", "registry.example.com"},
		{"registry.example.com:443", "registry.example.com"},
		{"registry.example.com:5000", "registry.example.com:5000"},
		{"docker.io", "index.docker.io"},
		{"index.docker.io", "index.docker.io"},
		{"registry-1.docker.io", "index.docker.io"},
		{"https://index.docker.io/v1/", "index.docker.io"},
		{"https://index.docker.io/v2/", "index.docker.io"},
		{"HTTP://[FD00::1]:5000", "[fd00::1]:5000"},
	}

	for _, tt := range tests {
		t.Run(tt.server, func(t *testing.T) {
			data, err := Encode([]Entry{{Server: tt.server, Username: "u", Password: "p"}})
			if err != nil {
				t.Fatalf("Encode returned error: %v", err)
			}

			var doc struct {
				Auths map[string]json.RawMessage `json:"auths"`
			}
			if err := json.Unmarshal(data, &doc); err != nil {
				t.Fatalf("output is not JSON: %v", err)
			}
			if len(doc.Auths) != 1 {
				t.Fatalf("output has %d entries, want 1: %s", len(doc.Auths), data)
			}
			if _, found := doc.Auths[tt.key]; !found {
				t.Errorf("output %s has no key %q", data, tt.key)
			}
		})
	}
}

func TestEncodeSortsKeys(t *testing.T) {
	entries := []Entry{
		{Server: "quay.io", Username: "q", Password: "1"},
		{Server: "docker.io", Username: "d", Password: "2"},
		{Server: "ghcr.io", Username: "g", Password: "3"},
	}
	want := `{"auths":{` +
		`"ghcr.io":{"username":"g","password":"3","auth":"Zzoz"},` +
		`"index.docker.io":{"username":"d","password":"2","auth":"ZDoy"},` +
		`"quay.io":{"username":"q","password":"1","auth":"cTox"}}}`

	forward, err := Encode(entries)
	if err != nil {
		t.Fatalf("Encode returned error: %v", err)
	}
	backward, err := Encode([]Entry{entries[2], entries[1], entries[0]})
	if err != nil {
		t.Fatalf("Encode of reversed entries returned error: %v", err)
	}

	if string(forward) != want {
		t.Errorf("Encode output\ngot:  %s\nwant: %s", forward, want)
	}
	if string(backward) != string(forward) {
		t.Errorf("Encode output depends on entry order\nforward:  %s\nbackward: %s",
			forward, backward)
	}
}

func TestEncodeNoEntries(t *testing.T) {
	got, err := Encode(nil)

	if err != nil {
		t.Fatalf("Encode(nil) returned error: %v", err)
	}
	if string(got) != `{"auths":{}}` {
		t.Errorf("Encode(nil) = %s, want {\"auths\":{}}", got)
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		username string
		password string
	}{
		{"json special characters", "bob", `p{a}s"s:w\o&rd`},
		{"html characters", "bob", "<script>alert('&')</script>"},
		{"latin accents", "bob", "pässwörd"},
		{"chinese", "用户", "密码"},
		{"emoji", "bob", "🔑🐳"},
		{"trailing colon", "bob", "secret:"},
		{"only colons", "bob", ":::"},
		{"control characters", "bob", "a\x00b\x01c\td\ne\x7f"},
		{"line and paragraph separators", "bob", "a\u2028b\u2029c"},
		{"unicode escape text", "bob", `\u0041`},
		{"four KiB", "bob", strings.Repeat("0123456789abcdef", 256)},
		{"empty-looking username", "-", "x"},
		{"at sign in username", "robot@org", "token"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entry := Entry{
				Server: "registry.example.com", Username: tt.username, Password: tt.password,
				Email: "ops@example.com",
			}
			data, err := Encode([]Entry{entry})
			if err != nil {
				t.Fatalf("Encode returned error: %v", err)
			}

			config, err := Decode(data)
			if err != nil {
				t.Fatalf("Decode of Encode output returned error: %v", err)
			}
			got, found := config.Entry("registry.example.com")
			if !found {
				t.Fatalf("decoded document has no entry %q", "registry.example.com")
			}
			if got.Username != tt.username {
				t.Errorf("username = %q, want %q", got.Username, tt.username)
			}
			if got.Password != tt.password {
				t.Errorf("password differs after the round trip (length %d, want %d)",
					len(got.Password), len(tt.password))
			}
			if got.Email != entry.Email {
				t.Errorf("email = %q, want %q", got.Email, entry.Email)
			}

			fields := decodeFields(t, data, "registry.example.com")
			if fields.Password != tt.password {
				t.Errorf("password field differs from the auth field after decoding")
			}
			auth, err := base64.StdEncoding.DecodeString(fields.Auth)
			if err != nil {
				t.Fatalf("auth field is not padded base64: %v", err)
			}
			if string(auth) != tt.username+":"+tt.password {
				t.Errorf("auth field does not decode to username:password")
			}
		})
	}
}

func TestEncodeInvalid(t *testing.T) {
	const password = "s3cr3t-Pa55"
	tests := []struct {
		name     string
		entries  []Entry
		sentinel error
		contains []string
	}{
		{
			"empty username",
			[]Entry{{Server: "quay.io", Password: password}},
			ErrMissingUsername, []string{`"quay.io"`},
		},
		{
			"username with colon",
			[]Entry{{Server: "quay.io", Username: "org:robot", Password: password}},
			ErrUsernameColon, []string{"colon"},
		},
		{
			"empty password",
			[]Entry{{Server: "quay.io", Username: "robot"}},
			ErrMissingPassword, []string{"password"},
		},
		{
			"invalid utf-8 password",
			[]Entry{{Server: "quay.io", Username: "robot", Password: password + "\xff"}},
			ErrInvalidUTF8, []string{"password"},
		},
		{
			"invalid utf-8 email",
			[]Entry{{Server: "quay.io", Username: "robot", Password: password, Email: "\xc3"}},
			ErrInvalidUTF8, []string{"email"},
		},
		{
			"duplicate docker hub",
			[]Entry{
				{Server: "docker.io", Username: "a", Password: password},
				{Server: "https://index.docker.io/v1/", Username: "b", Password: password},
			},
			ErrDuplicateKey,
			[]string{`"docker.io"`, `"https://index.docker.io/v1/"`, "index.docker.io"},
		},
		{
			"duplicate port 443",
			[]Entry{
				{Server: "quay.io", Username: "a", Password: password},
				{Server: "quay.io:443", Username: "b", Password: password},
			},
			ErrDuplicateKey, []string{`"quay.io"`, `"quay.io:443"`},
		},
		{
			"server with path",
			[]Entry{{Server: "quay.io/org", Username: "robot", Password: password}},
			imageref.ErrPath, []string{`"quay.io/org"`},
		},
		{
			"empty server",
			[]Entry{{Username: "robot", Password: password}},
			imageref.ErrEmpty, nil,
		},
		{
			"second entry invalid",
			[]Entry{
				{Server: "quay.io", Username: "a", Password: password},
				{Server: "ghcr.io", Username: "b"},
			},
			ErrMissingPassword, []string{`"ghcr.io"`},
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := Encode(tt.entries)
			if err == nil {
				t.Fatalf("Encode returned %s, want an error", data)
			}
			if !errors.Is(err, tt.sentinel) {
				t.Errorf("error %q does not wrap %q", err, tt.sentinel)
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("error %q contains the password", err)
			}
			for _, want := range tt.contains {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

// decodeFields reads one entry's raw fields with encoding/json, independently of Decode.
func decodeFields(t *testing.T, data []byte, key string) authFields {
	t.Helper()

	var doc struct {
		Auths map[string]authFields `json:"auths"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("document is not valid JSON: %v", err)
	}
	fields, found := doc.Auths[key]
	if !found {
		t.Fatalf("document has no entry %q", key)
	}
	return fields
}
