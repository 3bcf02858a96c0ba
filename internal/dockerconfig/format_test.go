package dockerconfig

import (
	"fmt"
	"strings"
	"testing"
)

// formatVerbs are the fmt verbs a caller might use on a value while logging or debugging.
var formatVerbs = []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %v", "%10v"}

// assertNoSecret formats value with every verb and fails if any output contains a secret.
func assertNoSecret(t *testing.T, label string, value any, secrets ...string) {
	t.Helper()

	outputs := []string{fmt.Sprint(value), fmt.Sprintln(value)}
	for _, verb := range formatVerbs {
		outputs = append(outputs, fmt.Sprintf(verb, value))
	}
	for _, output := range outputs {
		for _, secret := range secrets {
			if strings.Contains(output, secret) {
				t.Errorf("%s: formatted output %q contains a secret", label, output)
			}
		}
	}
}

func TestEntryFormatMasksPassword(t *testing.T) {
	const password = "s3cr3t-password"
	entry := Entry{Server: "quay.io", Username: "robot", Password: password}
	type wrapper struct {
		Entry   Entry
		Pointer *Entry
	}

	values := map[string]any{
		"value":          entry,
		"pointer":        &entry,
		"slice":          []Entry{entry, entry},
		"map":            map[string]Entry{"quay.io": entry},
		"exported field": wrapper{Entry: entry, Pointer: &entry},
	}
	for label, value := range values {
		assertNoSecret(t, label, value, password, b64(password))
	}
}

func TestEntryFormatOutput(t *testing.T) {
	entry := Entry{Server: "quay.io", Username: "robot", Password: "pw", Email: "r@example.com"}
	empty := Entry{Server: "quay.io", Username: "robot"}

	tests := []struct {
		format string
		value  any
		want   string
	}{
		{"%v", entry, "{Server:quay.io Username:robot Password:REDACTED Email:r@example.com}"},
		{"%s", entry, "{Server:quay.io Username:robot Password:REDACTED Email:r@example.com}"},
		{"%#v", entry, `dockerconfig.Entry{Server:"quay.io", Username:"robot", ` +
			`Password:"REDACTED", Email:"r@example.com"}`},
		{"%v", empty, "{Server:quay.io Username:robot Password: Email:}"},
	}

	for _, tt := range tests {
		if got := fmt.Sprintf(tt.format, tt.value); got != tt.want {
			t.Errorf("Sprintf(%q) = %q, want %q", tt.format, got, tt.want)
		}
	}
}

func TestAuthEntryFormatMasksCredentials(t *testing.T) {
	document := `{"auths":{"quay.io":{"auth":"` + b64("robot:s3cr3t-pw") +
		`","identitytoken":"s3cr3t-token","registrytoken":"s3cr3t-bearer"}}}`
	config, err := Decode([]byte(document))
	if err != nil {
		t.Fatalf("Decode returned error: %v", err)
	}
	entry, _ := config.Entry("quay.io")

	assertNoSecret(t, "AuthEntry", entry, secretMarker, b64("robot:s3cr3t-pw"))
	assertNoSecret(t, "*AuthEntry", &entry, secretMarker)
	assertNoSecret(t, "[]AuthEntry", config.Entries(), secretMarker)
	assertNoSecret(t, "*Config", config, secretMarker, b64("robot:s3cr3t-pw"))

	want := "{Key:quay.io Username:robot Password:REDACTED Email: " +
		"Extra:[identitytoken registrytoken]}"
	if got := fmt.Sprint(entry); got != want {
		t.Errorf("Sprint(entry) = %q, want %q", got, want)
	}
	wantGo := `dockerconfig.AuthEntry{Key:"quay.io", Username:"robot", Password:"REDACTED", ` +
		`Email:"", Extra:{"identitytoken":"REDACTED", "registrytoken":"REDACTED"}}`
	if got := fmt.Sprintf("%#v", entry); got != wantGo {
		t.Errorf("Sprintf(%%#v) = %q, want %q", got, wantGo)
	}
}

func TestConfigFormatShowsKeysOnly(t *testing.T) {
	config := decodeString(t, `{"auths":{"quay.io":{"auth":"`+b64("u:s3cr3t")+`"},"ghcr.io":{}}}`)

	if got, want := fmt.Sprint(config), "{Legacy:false Keys:[quay.io ghcr.io]}"; got != want {
		t.Errorf("Sprint(config) = %q, want %q", got, want)
	}
	want := `&dockerconfig.Config{Legacy:false, Keys:[]string{"quay.io", "ghcr.io"}}`
	if got := fmt.Sprintf("%#v", config); got != want {
		t.Errorf("Sprintf(%%#v) = %q, want %q", got, want)
	}
}

func TestErrorsHideCredentials(t *testing.T) {
	const password = "s3cr3t-password"
	_, encodeErr := Encode([]Entry{{Server: "quay.io", Username: "a:b", Password: password}})
	_, decodeErr := Decode([]byte(`{"auths":{"quay.io":{"auth":"` + b64(password) + `"}}}`))
	_, badBase64Err := Decode([]byte(`{"auths":{"quay.io":{"auth":"` + password + `"}}}`))

	for label, err := range map[string]error{
		"encode": encodeErr, "auth without colon": decodeErr, "invalid base64": badBase64Err,
	} {
		if err == nil {
			t.Errorf("%s: no error", label)
			continue
		}
		assertNoSecret(t, label, err, secretMarker, b64(password))
	}
}
