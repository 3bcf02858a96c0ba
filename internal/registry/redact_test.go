package registry

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRedactCredentialsWholeWords(t *testing.T) {
	cases := map[string]string{
		`Secret "pull-secret" is invalid: secret`: `Secret "pull-secret" is invalid: (redacted)`,
		"password=secret; token secret.":          "password=(redacted); token (redacted).",
		"secrets and mysecret stay":               "secrets and mysecret stay",
		"a secretsecret run stays":                "a secretsecret run stays",
		"(secret)":                                "((redacted))",
		"user:secret@host":                        "user:(redacted)@host",
		"short pw stays":                          "short pw stays",
		"-dash-start and x-dash-start":            "(redacted) and x-dash-start",
		"token=-dash-start.":                      "token=(redacted).",
	}
	for text, want := range cases {
		got := RedactCredentials(text, "secret", "pw", "-dash-start")
		if got != want {
			t.Errorf("RedactCredentials(%q) = %q, want %q", text, got, want)
		}
	}
}

// echoPassword is the password of the echoing servers. It contains characters that JSON
// escapes, as a password may.
const echoPassword = `Ech0-canary-pw:x"q`

// startEchoRegistry serves a registry that rejects every request and quotes the credentials
// it received in the error body: the Authorization header, decoded, and a bearer token that
// its own token endpoint issued, which is the password.
func startEchoRegistry(t *testing.T, bearer bool) string {
	t.Helper()
	var server *httptest.Server
	server = httptest.NewUnstartedServer(http.HandlerFunc(
		func(w http.ResponseWriter, request *http.Request) {
			header := request.Header.Get("Authorization")
			if request.URL.Path == "/token" {
				_, password, _ := request.BasicAuth()
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(map[string]string{"token": password})
				return
			}
			if bearer && !strings.HasPrefix(header, "Bearer ") {
				w.Header().Set("WWW-Authenticate", fmt.Sprintf(
					`Bearer realm="%s/token",service="echo"`, server.URL))
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			if !bearer && header == "" {
				w.Header().Set("WWW-Authenticate", `Basic realm="echo"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			decoded, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(header, "Basic "))
			message := fmt.Sprintf("bad credentials %s for header %s, token %s",
				decoded, header, strings.TrimPrefix(header, "Bearer "))
			body, _ := json.Marshal(map[string]any{"errors": []map[string]string{
				{"code": "DENIED", "message": message, "detail": message}}})
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write(body)
		}))
	server.Config.ErrorLog = log.New(io.Discard, "", 0)
	server.StartTLS()
	t.Cleanup(server.Close)
	return strings.TrimPrefix(server.URL, "https://")
}

func TestLookupErrorsRedactEchoedCredentials(t *testing.T) {
	userPassword := "echouser:" + echoPassword
	forms := []string{echoPassword, strings.Trim(fmt.Sprintf("%q", echoPassword), `"`),
		userPassword, base64.StdEncoding.EncodeToString([]byte(userPassword)), "canary"}
	for name, bearer := range map[string]bool{"basic": false, "bearer token": true} {
		t.Run(name, func(t *testing.T) {
			host := startEchoRegistry(t, bearer)
			transport := http.DefaultTransport.(*http.Transport).Clone()
			transport.TLSClientConfig.InsecureSkipVerify = true
			resolver := Resolver{Transport: transport,
				Keychain: keychainFor(t, host, "echouser", echoPassword)}
			shared, err := resolver.WithSharedConnections()
			if err != nil {
				t.Fatal(err)
			}

			for _, r := range []Resolver{resolver, shared} {
				for operation, err := range lookupBoth(context.Background(), r,
					host+"/app:v1") {
					checkLookupError(t, operation, err, FailureAccessDenied,
						[]string{"bad credentials", "(redacted)"}, forms)
				}
			}
		})
	}
}
