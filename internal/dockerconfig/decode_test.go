package dockerconfig

import (
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
)

// secretMarker is part of every credential in the error tests, so a test can check that no
// message repeats it.
const secretMarker = "s3cr3t"

func b64(s string) string {
	return base64.StdEncoding.EncodeToString([]byte(s))
}

func TestDecodeEntry(t *testing.T) {
	tests := []struct {
		name         string
		document     string
		key          string
		wantUsername string
		wantPassword string
		wantEmail    string
		wantExtra    []string
	}{
		{
			"username and password fields",
			`{"auths":{"quay.io":{"username":"robot","password":"pw","email":"a@b.c"}}}`,
			"quay.io", "robot", "pw", "a@b.c", nil,
		},
		{
			"auth field only",
			`{"auths":{"quay.io":{"auth":"` + b64("robot:pw") + `"}}}`,
			"quay.io", "robot", "pw", "", nil,
		},
		{
			"auth overrides fields",
			`{"auths":{"quay.io":{"username":"old","password":"old","auth":"` +
				b64("robot:pw") + `"}}}`,
			"quay.io", "robot", "pw", "", nil,
		},
		{
			"auth split at first colon",
			`{"auths":{"quay.io":{"auth":"` + b64("robot:a:b::c:") + `"}}}`,
			"quay.io", "robot", "a:b::c:", "", nil,
		},
		{
			"auth with empty password",
			`{"auths":{"quay.io":{"auth":"` + b64("robot:") + `"}}}`,
			"quay.io", "robot", "", "", nil,
		},
		{
			"unpadded auth",
			`{"auths":{"quay.io":{"auth":"` + strings.TrimRight(b64("robot:pw1"), "=") + `"}}}`,
			"quay.io", "robot", "pw1", "", nil,
		},
		{
			"field names in any case",
			`{"Auths":{"quay.io":{"USERNAME":"robot","Password":"pw","EMail":"a@b.c"}}}`,
			"quay.io", "robot", "pw", "a@b.c", nil,
		},
		{
			"unknown fields kept",
			`{"auths":{"quay.io":{"auth":"` + b64("robot:pw") +
				`","identitytoken":"tok","serveraddress":"quay.io"}}}`,
			"quay.io", "robot", "pw", "", []string{"identitytoken", "serveraddress"},
		},
		{
			"null fields",
			`{"auths":{"quay.io":{"username":null,"password":null,"auth":null}}}`,
			"quay.io", "", "", "", nil,
		},
		{
			"null entry",
			`{"auths":{"quay.io":null}}`,
			"quay.io", "", "", "", nil,
		},
		{
			"empty entry",
			`{"auths":{"quay.io":{}}}`,
			"quay.io", "", "", "", nil,
		},
		{
			"key kept as written",
			`{"auths":{"https://index.docker.io/v1/":{"auth":"` + b64("u:p") + `"}}}`,
			"https://index.docker.io/v1/", "u", "p", "", nil,
		},
		{
			"pretty printed",
			"{\n  \"auths\" : {\n    \"quay.io\" : {\n      \"auth\" : \"" + b64("u:p") +
				"\"\n    }\n  }\n}\n",
			"quay.io", "u", "p", "", nil,
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			config, err := Decode([]byte(tt.document))
			if err != nil {
				t.Fatalf("Decode returned error: %v", err)
			}
			entry, found := config.Entry(tt.key)
			if !found {
				t.Fatalf("no entry %q in %v", tt.key, config)
			}
			if entry.Username != tt.wantUsername {
				t.Errorf("username = %q, want %q", entry.Username, tt.wantUsername)
			}
			if entry.Password != tt.wantPassword {
				t.Errorf("password = %q, want %q", entry.Password, tt.wantPassword)
			}
			if entry.Email != tt.wantEmail {
				t.Errorf("email = %q, want %q", entry.Email, tt.wantEmail)
			}
			if names := entry.extraNames(); !slices.Equal(names, tt.wantExtra) {
				t.Errorf("extra fields = %q, want %q", names, tt.wantExtra)
			}
		})
	}
}

func TestDecodeExtraFieldRaw(t *testing.T) {
	document := `{"auths":{"quay.io":{"identitytoken": "tok" ,"x":{"a": [1, 2]}}}}`

	config, err := Decode([]byte(document))
	if err != nil {
		t.Fatalf("Decode returned error: %v", err)
	}
	entry, _ := config.Entry("quay.io")

	if got := string(entry.Extra["identitytoken"]); got != `"tok"` {
		t.Errorf("identitytoken = %s, want %s", got, `"tok"`)
	}
	if got := string(entry.Extra["x"]); got != `{"a": [1, 2]}` {
		t.Errorf("x = %s, want %s", got, `{"a": [1, 2]}`)
	}
}

func TestDecodeKubectlOutput(t *testing.T) {
	document := `{"auths":{"registry.example.com":{"username":"bob",` +
		`"password":"p{a}s\"s:w\\o\u0026rd\u003c\u003e","auth":"Ym9iOnB7YX1zInM6d1xvJnJkPD4="}}}`

	config, err := Decode([]byte(document))
	if err != nil {
		t.Fatalf("Decode returned error: %v", err)
	}
	entry, found := config.Entry("registry.example.com")
	if !found {
		t.Fatal("no entry for registry.example.com")
	}

	if entry.Username != "bob" {
		t.Errorf("username = %q, want %q", entry.Username, "bob")
	}
	if entry.Password != `p{a}s"s:w\o&rd<>` {
		t.Errorf("password = %q, want %q", entry.Password, `p{a}s"s:w\o&rd<>`)
	}
}

func TestDecodeEntriesInDocumentOrder(t *testing.T) {
	document := `{"auths":{"quay.io":{},"ghcr.io":{},"docker.io":{}}}`

	config, err := Decode([]byte(document))
	if err != nil {
		t.Fatalf("Decode returned error: %v", err)
	}

	var keys []string
	for _, entry := range config.Entries() {
		keys = append(keys, entry.Key)
	}
	if want := []string{"quay.io", "ghcr.io", "docker.io"}; !slices.Equal(keys, want) {
		t.Errorf("keys = %q, want %q", keys, want)
	}
}

func TestDecodeWithoutAuths(t *testing.T) {
	tests := []struct {
		name       string
		document   string
		wantFields []string
	}{
		{"empty object", `{}`, nil},
		{"other fields only", `{"credsStore":"desktop","credHelpers":{"gcr.io":"gcloud"}}`,
			[]string{"credsStore", "credHelpers"}},
		{"null auths", `{"auths":null,"HttpHeaders":{"X":"y"}}`, []string{"HttpHeaders"}},
		{"empty auths", ` { "auths" : { } } `, nil},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			config, err := Decode([]byte(tt.document))
			if err != nil {
				t.Fatalf("Decode returned error: %v", err)
			}
			if entries := config.Entries(); len(entries) != 0 {
				t.Errorf("Entries() = %v, want none", entries)
			}
			if got := config.OtherFields(); !slices.Equal(got, tt.wantFields) {
				t.Errorf("OtherFields() = %q, want %q", got, tt.wantFields)
			}
			if config.Legacy() {
				t.Error("Legacy() = true for a .dockerconfigjson document")
			}
		})
	}
}

func TestDecodeInvalid(t *testing.T) {
	tests := []struct {
		name     string
		document string
		sentinel error
		contains []string
	}{
		{"empty input", ``, ErrInvalidJSON, []string{"is empty"}},
		{"whitespace input", " \n", ErrInvalidJSON, []string{"is empty"}},
		{"not json", `s3cr3t`, ErrInvalidJSON, []string{"byte offset"}},
		{"truncated", `{"auths":{"quay.io":{"password":"s3cr3t`, ErrInvalidJSON, nil},
		{"top-level array", `["s3cr3t"]`, ErrInvalidJSON, []string{"an array"}},
		{"top-level string", `"s3cr3t"`, ErrInvalidJSON, []string{"a string"}},
		{"top-level number", `42`, ErrInvalidJSON, []string{"a number"}},
		{"top-level null", `null`, ErrInvalidJSON, []string{"null"}},
		{"trailing data", `{"auths":{}} {"s3cr3t":1}`, ErrInvalidJSON, []string{"continues after"}},
		{"auths is array", `{"auths":["s3cr3t"]}`, ErrInvalidJSON, []string{`"auths"`, "an array"}},
		{"auths is string", `{"auths":"s3cr3t"}`, ErrInvalidJSON, []string{"a string"}},
		{"entry is string", `{"auths":{"quay.io":"s3cr3t"}}`, ErrInvalidJSON,
			[]string{`"quay.io"`, "a string"}},
		{"password is number", `{"auths":{"quay.io":{"password":12345}}}`, ErrInvalidJSON,
			[]string{`"password"`, "a number"}},
		{"auth is object", `{"auths":{"quay.io":{"auth":{"s3cr3t":1}}}}`, ErrInvalidJSON,
			[]string{`"auth"`, "an object"}},
		{"bad escape in password", `{"auths":{"quay.io":{"password":"s3cr3t\q"}}}`,
			ErrInvalidJSON, []string{"byte offset"}},
		{"invalid base64", `{"auths":{"quay.io":{"auth":"s3cr3t!!"}}}`, ErrInvalidAuth,
			[]string{`"quay.io"`, "base64"}},
		{"auth without colon", `{"auths":{"quay.io":{"auth":"` + b64("robot-s3cr3t") + `"}}}`,
			ErrInvalidAuth, []string{"no colon"}},
		{"duplicate key", `{"auths":{"quay.io":{},"ghcr.io":{},"quay.io":{}}}`, ErrDuplicateKey,
			[]string{`"quay.io"`}},
		{"duplicate auths", `{"auths":{},"Auths":{}}`, ErrDuplicateKey, []string{`"auths"`}},
		{"user info in key", `{"auths":{"https://robot:s3cr3t@quay.io":"x"}}`, ErrInvalidJSON,
			[]string{"REDACTED@quay.io"}},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			config, err := Decode([]byte(tt.document))
			if err == nil {
				t.Fatalf("Decode returned %v, want an error", config)
			}
			if !errors.Is(err, tt.sentinel) {
				t.Errorf("error %q does not wrap %q", err, tt.sentinel)
			}
			var decodeErr *Error
			if !errors.As(err, &decodeErr) {
				t.Errorf("error has type %T, want *Error", err)
			}
			if strings.Contains(err.Error(), secretMarker) {
				t.Errorf("error %q repeats a credential", err)
			}
			for _, want := range tt.contains {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

// TestDecodeSyntaxErrorHidesCharacter checks that a syntax error inside a password does not
// quote the offending character, as encoding/json's own message would.
func TestDecodeSyntaxErrorHidesCharacter(t *testing.T) {
	_, err := Decode([]byte(`{"auths":{"quay.io":{"password":"ab\Z"}}}`))

	if err == nil {
		t.Fatal("Decode of a bad escape returned no error")
	}
	if strings.Contains(err.Error(), "Z") {
		t.Errorf("error %q quotes a character of the password", err)
	}
}

func TestDecodeLegacy(t *testing.T) {
	document := `{"https://index.docker.io/v1/":{"auth":"` + b64("hubuser:pw") +
		`","email":"hub@example.com"},"quay.io":{"auth":"` + b64("robot:token") + `"}}`

	config, err := DecodeLegacy([]byte(document))
	if err != nil {
		t.Fatalf("DecodeLegacy returned error: %v", err)
	}

	if !config.Legacy() {
		t.Error("Legacy() = false for a .dockercfg document")
	}
	if got := len(config.Entries()); got != 2 {
		t.Fatalf("got %d entries, want 2", got)
	}
	hub, err := config.Lookup("docker.io")
	if err != nil {
		t.Fatalf("Lookup returned error: %v", err)
	}
	if len(hub) != 1 {
		t.Fatalf("Lookup(docker.io) found %d entries, want 1", len(hub))
	}
	if hub[0].Username != "hubuser" || hub[0].Password != "pw" {
		t.Errorf("Docker Hub entry = %v, want hubuser with password pw", hub[0])
	}
	if hub[0].Email != "hub@example.com" {
		t.Errorf("email = %q, want %q", hub[0].Email, "hub@example.com")
	}
	if fields := config.OtherFields(); fields != nil {
		t.Errorf("OtherFields() = %q, want none for a legacy document", fields)
	}
}

func TestDecodeLegacyInvalid(t *testing.T) {
	_, err := DecodeLegacy([]byte(`{"quay.io":{"auth":"` + b64("no-colon-s3cr3t") + `"}}`))

	if !errors.Is(err, ErrInvalidAuth) {
		t.Errorf("error = %v, want ErrInvalidAuth", err)
	}
}

func TestLookup(t *testing.T) {
	document := `{"auths":{` +
		`"https://index.docker.io/v1/":{"auth":"` + b64("a:1") + `"},` +
		`"docker.io":{"auth":"` + b64("b:2") + `"},` +
		`"quay.io":{"auth":"` + b64("c:3") + `"},` +
		`"quay.io/org":{"auth":"` + b64("d:4") + `"},` +
		`"Quay.io:443":{"auth":"` + b64("e:5") + `"}}}`
	config, err := Decode([]byte(document))
	if err != nil {
		t.Fatalf("Decode returned error: %v", err)
	}

	tests := []struct {
		server    string
		wantUsers []string
	}{
		{"index.docker.io", []string{"a", "b"}},
		{"https://registry-1.docker.io/", []string{"a", "b"}},
		{"quay.io", []string{"c", "e"}},
		{"ghcr.io", nil},
	}
	for _, tt := range tests {
		t.Run(tt.server, func(t *testing.T) {
			found, err := config.Lookup(tt.server)
			if err != nil {
				t.Fatalf("Lookup returned error: %v", err)
			}
			var users []string
			for _, entry := range found {
				users = append(users, entry.Username)
			}
			if !slices.Equal(users, tt.wantUsers) {
				t.Errorf("Lookup(%q) users = %q, want %q", tt.server, users, tt.wantUsers)
			}
		})
	}

	if _, err := config.Lookup("quay.io/org"); err == nil {
		t.Error("Lookup of a server with a path returned no error")
	}
}

func TestEntriesReturnsCopies(t *testing.T) {
	config, err := Decode([]byte(`{"auths":{"quay.io":{"identitytoken":"tok"}}}`))
	if err != nil {
		t.Fatalf("Decode returned error: %v", err)
	}

	entries := config.Entries()
	entries[0].Extra["identitytoken"][1] = 'X'
	entries[0].Extra["added"] = nil

	again, _ := config.Entry("quay.io")
	if got := string(again.Extra["identitytoken"]); got != `"tok"` {
		t.Errorf("identitytoken = %s after editing a copy, want %s", got, `"tok"`)
	}
	if _, found := again.Extra["added"]; found {
		t.Error("a field added to a copy appears in the Config")
	}
}
