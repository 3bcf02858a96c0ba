package dockerconfig

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/imagedist/terraform-provider-imagedist/internal/imageref"
)

// sharedPullSecret is shaped like OpenShift's openshift-config/pull-secret after a person
// edited it: entries owned by others, unknown fields, uneven whitespace and escapes that a
// re-encode would change.
const sharedPullSecret = "{\n" +
	"  \"auths\": {\n" +
	"    \"cloud.openshift.com\": {\"auth\": \"Y2xvdWQ6dG9rZW4=\", \"email\": \"a@example.com\"},\n" +
	"    \"quay.io\" : { \"auth\":\"cXVheTp0b2tlbg==\",\"identitytoken\" : \"x\\u002fy\" },\n" +
	"    \"registry.redhat.io\": {\"username\": \"rh\", \"password\": \"p\\u0026w\"}\n" +
	"  },\n" +
	"  \"credHelpers\": {\"gcr.io\": \"gcloud\"}\n" +
	"}\n"

// memberText returns the text of one auths entry, from its name to the end of its value.
func memberText(t *testing.T, config *Config, key string) string {
	t.Helper()

	index := config.entryIndex(key)
	if index < 0 {
		t.Fatalf("no entry %q", key)
	}
	m := config.auths.members[index]
	return string(config.data[m.nameStart:m.valueEnd])
}

func decodeString(t *testing.T, document string) *Config {
	t.Helper()

	config, err := Decode([]byte(document))
	if err != nil {
		t.Fatalf("Decode returned error: %v", err)
	}
	return config
}

func TestMergeAppendsEntry(t *testing.T) {
	config := decodeString(t, sharedPullSecret)
	entry := Entry{Server: "https://registry.example.com:443/", Username: "bob", Password: "pw"}

	if err := config.Merge(entry); err != nil {
		t.Fatalf("Merge returned error: %v", err)
	}

	insertAt := strings.Index(sharedPullSecret, "}\n  },") + 1
	want := sharedPullSecret[:insertAt] +
		`,"registry.example.com":{"username":"bob","password":"pw","auth":"Ym9iOnB3"}` +
		sharedPullSecret[insertAt:]
	if got := string(config.Bytes()); got != want {
		t.Errorf("Merge output\ngot:\n%s\nwant:\n%s", got, want)
	}

	merged, found := config.Entry("registry.example.com")
	if !found {
		t.Fatal("merged entry not found after Merge")
	}
	if merged.Username != "bob" || merged.Password != "pw" {
		t.Errorf("merged entry = %v, want bob with password pw", merged)
	}
	if got := len(config.Entries()); got != 4 {
		t.Errorf("got %d entries after Merge, want 4", got)
	}
}

func TestMergeReplacesEntry(t *testing.T) {
	config := decodeString(t, sharedPullSecret)
	entry := Entry{Server: "quay.io", Username: "robot", Password: "new", Email: "r@example.com"}

	if err := config.Merge(entry); err != nil {
		t.Fatalf("Merge returned error: %v", err)
	}

	oldValue := `{ "auth":"cXVheTp0b2tlbg==","identitytoken" : "x\u002fy" }`
	newValue := `{"username":"robot","password":"new","email":"r@example.com",` +
		`"auth":"cm9ib3Q6bmV3"}`
	want := strings.Replace(sharedPullSecret, oldValue, newValue, 1)
	if got := string(config.Bytes()); got != want {
		t.Errorf("Merge output\ngot:\n%s\nwant:\n%s", got, want)
	}

	replaced, _ := config.Entry("quay.io")
	if len(replaced.Extra) != 0 {
		t.Errorf("replaced entry keeps extra fields %q, want none", replaced.extraNames())
	}
	if replaced.Password != "new" {
		t.Error("replaced entry does not have the new password")
	}
}

func TestMergeThenRemoveRestoresBytes(t *testing.T) {
	documents := map[string]string{
		"shared pull secret": sharedPullSecret,
		"empty auths":        `{"auths":{}}`,
		"spaced empty auths": "{ \"auths\" : {\n} }\n",
		"one entry":          `{"auths":{"quay.io":{"auth":"YTpi"}}}`,
	}
	entry := Entry{Server: "ghcr.io", Username: "octo", Password: `p"w&<>`}

	for name, document := range documents {
		t.Run(name, func(t *testing.T) {
			config := decodeString(t, document)

			if err := config.Merge(entry); err != nil {
				t.Fatalf("Merge returned error: %v", err)
			}
			removed, err := config.Remove("ghcr.io")
			if err != nil {
				t.Fatalf("Remove returned error: %v", err)
			}

			if !removed {
				t.Error("Remove reported no entry after Merge added one")
			}
			if got := string(config.Bytes()); got != document {
				t.Errorf("document after Merge and Remove\ngot:\n%q\nwant:\n%q", got, document)
			}
		})
	}
}

func TestMergeCreatesAuths(t *testing.T) {
	entry := Entry{Server: "quay.io", Username: "u", Password: "p"}
	value := `{"username":"u","password":"p","auth":"dTpw"}`
	tests := []struct {
		name     string
		document string
		want     string
	}{
		{"empty object", `{}`, `{"auths":{"quay.io":` + value + `}}`},
		{"spaced empty object", "{ \n}", `{ ` + "\n" + `"auths":{"quay.io":` + value + `}}`},
		{"null auths", `{"auths":null}`, `{"auths":{"quay.io":` + value + `}}`},
		{
			"other fields", `{"credsStore":"desktop"}`,
			`{"credsStore":"desktop","auths":{"quay.io":` + value + `}}`,
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			config := decodeString(t, tt.document)

			if err := config.Merge(entry); err != nil {
				t.Fatalf("Merge returned error: %v", err)
			}

			if got := string(config.Bytes()); got != tt.want {
				t.Errorf("Merge output\ngot:  %s\nwant: %s", got, tt.want)
			}
		})
	}
}

func TestMergeIntoEmptyEqualsEncode(t *testing.T) {
	entry := Entry{Server: "docker.io", Username: "bob", Password: "密码&<>", Email: "b@example.com"}
	encoded, err := Encode([]Entry{entry})
	if err != nil {
		t.Fatalf("Encode returned error: %v", err)
	}
	config := decodeString(t, `{}`)

	if err := config.Merge(entry); err != nil {
		t.Fatalf("Merge returned error: %v", err)
	}

	if !bytes.Equal(config.Bytes(), encoded) {
		t.Errorf("Merge into {} = %s, want the Encode output %s", config.Bytes(), encoded)
	}
}

func TestMergeLegacy(t *testing.T) {
	document := `{"https://index.docker.io/v1/":{"auth":"YTpi","email":"e@example.com"}}`
	config, err := DecodeLegacy([]byte(document))
	if err != nil {
		t.Fatalf("DecodeLegacy returned error: %v", err)
	}

	if err := config.Merge(Entry{Server: "quay.io", Username: "u", Password: "p"}); err != nil {
		t.Fatalf("Merge returned error: %v", err)
	}

	want := `{"https://index.docker.io/v1/":{"auth":"YTpi","email":"e@example.com"},` +
		`"quay.io":{"username":"u","password":"p","auth":"dTpw"}}`
	if got := string(config.Bytes()); got != want {
		t.Errorf("Merge output\ngot:  %s\nwant: %s", got, want)
	}
	if !config.Legacy() {
		t.Error("Legacy() = false after Merge into a legacy document")
	}
}

func TestMergeLeavesOtherSpellings(t *testing.T) {
	config := decodeString(t, `{"auths":{"https://index.docker.io/v1/":{"auth":"YTpi"}}}`)

	if err := config.Merge(Entry{Server: "docker.io", Username: "u", Password: "p"}); err != nil {
		t.Fatalf("Merge returned error: %v", err)
	}

	if got := memberText(t, config, "https://index.docker.io/v1/"); got !=
		`"https://index.docker.io/v1/":{"auth":"YTpi"}` {
		t.Errorf("other spelling changed to %s", got)
	}
	found, err := config.Lookup("docker.io")
	if err != nil {
		t.Fatalf("Lookup returned error: %v", err)
	}
	if len(found) != 2 {
		t.Errorf("Lookup(docker.io) found %d entries, want both spellings", len(found))
	}
}

func TestMergeInvalidEntryKeepsConfig(t *testing.T) {
	config := decodeString(t, sharedPullSecret)
	invalid := []Entry{
		{Server: "quay.io", Username: "a:b", Password: "p"},
		{Server: "quay.io", Username: "robot"},
		{Server: "quay.io/org", Username: "robot", Password: "p"},
	}

	for _, entry := range invalid {
		if err := config.Merge(entry); err == nil {
			t.Errorf("Merge(%v) returned no error", entry)
		}
		if got := string(config.Bytes()); got != sharedPullSecret {
			t.Errorf("Merge(%v) changed the document after failing:\n%s", entry, got)
		}
	}
}

func TestRemove(t *testing.T) {
	tests := []struct {
		name     string
		document string
		server   string
		want     string
	}{
		{
			"first of several", `{"auths":{"a.io":{}, "b.io":{} ,"c.io":{}}}`, "a.io",
			`{"auths":{"b.io":{} ,"c.io":{}}}`,
		},
		{
			"middle", `{"auths":{"a.io":{}, "b.io":{} ,"c.io":{}}}`, "b.io",
			`{"auths":{"a.io":{} ,"c.io":{}}}`,
		},
		{
			"last", `{"auths":{"a.io":{}, "b.io":{} ,"c.io":{}}}`, "c.io",
			`{"auths":{"a.io":{}, "b.io":{}}}`,
		},
		{"only", `{"auths":{ "a.io" : {} }}`, "a.io", `{"auths":{  }}`},
		{
			"normalized server", `{"auths":{"index.docker.io":{},"quay.io":{}}}`,
			"https://index.docker.io/v1/", `{"auths":{"quay.io":{}}}`,
		},
		{
			"pretty printed first",
			"{\n  \"auths\": {\n    \"a.io\": {},\n    \"b.io\": {}\n  }\n}",
			"a.io",
			"{\n  \"auths\": {\n    \"b.io\": {}\n  }\n}",
		},
		{
			"pretty printed last",
			"{\n  \"auths\": {\n    \"a.io\": {},\n    \"b.io\": {}\n  }\n}",
			"b.io",
			"{\n  \"auths\": {\n    \"a.io\": {}\n  }\n}",
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			config := decodeString(t, tt.document)

			removed, err := config.Remove(tt.server)
			if err != nil {
				t.Fatalf("Remove returned error: %v", err)
			}

			if !removed {
				t.Errorf("Remove(%q) reported no entry", tt.server)
			}
			if got := string(config.Bytes()); got != tt.want {
				t.Errorf("Remove output\ngot:  %q\nwant: %q", got, tt.want)
			}
		})
	}
}

func TestRemoveLegacy(t *testing.T) {
	config, err := DecodeLegacy([]byte(`{"a.io":{},"b.io":{}}`))
	if err != nil {
		t.Fatalf("DecodeLegacy returned error: %v", err)
	}

	removed, err := config.Remove("b.io")
	if err != nil {
		t.Fatalf("Remove returned error: %v", err)
	}

	if !removed {
		t.Error("Remove(b.io) reported no entry")
	}
	if got := string(config.Bytes()); got != `{"a.io":{}}` {
		t.Errorf("Remove output = %s, want %s", got, `{"a.io":{}}`)
	}
}

func TestRemoveSharedSecretKeepsOthers(t *testing.T) {
	config := decodeString(t, sharedPullSecret)
	keep := []string{"cloud.openshift.com", "registry.redhat.io"}
	before := make(map[string]string)
	for _, key := range keep {
		before[key] = memberText(t, config, key)
	}

	removed, err := config.Remove("quay.io")
	if err != nil {
		t.Fatalf("Remove returned error: %v", err)
	}

	if !removed {
		t.Fatal("Remove(quay.io) reported no entry")
	}
	if _, found := config.Entry("quay.io"); found {
		t.Error("quay.io entry still present after Remove")
	}
	for _, key := range keep {
		if got := memberText(t, config, key); got != before[key] {
			t.Errorf("entry %q changed from %s to %s", key, before[key], got)
		}
	}
	if !strings.HasSuffix(string(config.Bytes()),
		"  },\n  \"credHelpers\": {\"gcr.io\": \"gcloud\"}\n}\n") {
		t.Errorf("text after auths changed:\n%s", config.Bytes())
	}
}

func TestRemoveAbsent(t *testing.T) {
	tests := map[string]string{
		"no such key":   sharedPullSecret,
		"no auths":      `{"credsStore":"desktop"}`,
		"null auths":    `{"auths":null}`,
		"other spelled": `{"auths":{"https://ghcr.io/":{}}}`,
	}

	for name, document := range tests {
		t.Run(name, func(t *testing.T) {
			config := decodeString(t, document)

			removed, err := config.Remove("ghcr.io")
			if err != nil {
				t.Fatalf("Remove returned error: %v", err)
			}

			if removed {
				t.Error("Remove reported an entry that is not there")
			}
			if got := string(config.Bytes()); got != document {
				t.Errorf("Remove changed the document to %s", got)
			}
		})
	}
}

func TestRemoveInvalidServer(t *testing.T) {
	config := decodeString(t, sharedPullSecret)

	removed, err := config.Remove("quay.io/org")

	if !errors.Is(err, imageref.ErrPath) {
		t.Errorf("Remove error = %v, want imageref.ErrPath", err)
	}
	if removed {
		t.Error("Remove reported an entry for an invalid server")
	}
}

func TestRemoveKeyExactSpelling(t *testing.T) {
	config := decodeString(t, `{"auths":{"https://quay.io/":{"auth":"eDp5"},"quay.io":{}}}`)

	removed, err := config.RemoveKey("https://quay.io/")
	if err != nil {
		t.Fatalf("RemoveKey returned error: %v", err)
	}
	if !removed {
		t.Fatal("RemoveKey reported no entry")
	}
	if got, want := string(config.Bytes()), `{"auths":{"quay.io":{}}}`; got != want {
		t.Errorf("RemoveKey output\ngot:  %q\nwant: %q", got, want)
	}

	removed, err = config.RemoveKey("https://quay.io/")
	if err != nil || removed {
		t.Errorf("second RemoveKey = %t, %v; want false, nil", removed, err)
	}
}
