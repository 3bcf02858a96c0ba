package provider

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/imagedist/terraform-provider-imagedist/internal/dockerconfig"
)

func TestRedactAdmissionMessage(t *testing.T) {
	const password = "ADMISSION-secret-pw-0123456789"
	document, err := dockerconfig.Encode([]dockerconfig.Entry{
		{Server: "registry.example.com", Username: "u", Password: password},
	})
	if err != nil {
		t.Fatal(err)
	}
	encoded := base64.StdEncoding.EncodeToString(document)
	credentials := entryCredentials([]dockerconfig.Entry{
		{Server: "registry.example.com", Username: "u", Password: password},
	})
	credentials = append(credentials, string(document), encoded)

	// An admission webhook may quote the Secret's data in full, truncated, or decoded.
	messages := map[string]string{
		"full base64":      "denied; full: " + encoded,
		"truncated base64": "denied; truncated: " + encoded[:len(encoded)/2],
		"decoded JSON":     "denied; data: " + string(document),
		"truncated JSON":   "denied; data: " + string(document)[:strings.Index(string(document), password)+4],
		"escaped JSON":     `denied; data: {\"auths\":{\"r\":{\"password\":\"` + password[:6],
	}
	for name, message := range messages {
		t.Run(name, func(t *testing.T) {
			redacted := redact(message, credentials...)
			if strings.Contains(redacted, password[:4]) {
				t.Errorf("redacted message %q still contains the start of the password", redacted)
			}
			if base64Run.MatchString(redacted) {
				t.Errorf("redacted message %q still contains a long base64 run", redacted)
			}
			if !strings.HasPrefix(redacted, "denied;") {
				t.Errorf("redacted message %q lost the reason", redacted)
			}
		})
	}
}

func TestRedactLongestCredentialFirst(t *testing.T) {
	// With the short credential replaced first, the long one would no longer be found.
	redacted := redact("token abcdefgh-long-secret end", "efgh", "abcdefgh-long-secret")
	if redacted != "token (redacted) end" {
		t.Errorf("redact gave %q", redacted)
	}
}

func TestRedactKeepsPlainMessages(t *testing.T) {
	message := `secrets "registry-credentials" is forbidden: User "ci" cannot update resource`
	if redacted := redact(message); redacted != message {
		t.Errorf("redact changed a message without credentials: %q", redacted)
	}
}

func TestRedactKeepsLongerWords(t *testing.T) {
	// Only the whole word is the password: inside "pull-secret" it is part of a name.
	message := `Updating openshift-config/pull-secret failed: ` +
		`Secret "pull-secret" is invalid: data: password "secret" rejected`
	want := `Updating openshift-config/pull-secret failed: ` +
		`Secret "pull-secret" is invalid: data: password "(redacted)" rejected`
	if redacted := redact(message, "secret"); redacted != want {
		t.Errorf("redact gave %q, want %q", redacted, want)
	}
}
