package provider

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/imagedist/terraform-provider-imagedist/internal/dockerconfig"
	"github.com/imagedist/terraform-provider-imagedist/internal/registry"
)

// A registry that echoes the credentials it received gets them into neither the diagnostic
// of imagedist_image nor the error attribute of imagedist_images.
func TestLookupErrorsLeaveOutEchoedCredentials(t *testing.T) {
	const password = "Echo-canary-pw:x"
	server := httptest.NewUnstartedServer(http.HandlerFunc(
		func(w http.ResponseWriter, request *http.Request) {
			header := request.Header.Get("Authorization")
			if header == "" {
				w.Header().Set("WWW-Authenticate", `Basic realm="echo"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			decoded, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(header, "Basic "))
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = fmt.Fprintf(w, `{"errors":[{"code":"UNAUTHORIZED","message":`+
				`"bad credentials %s for header %s, password=%s"}]}`, decoded, header, password)
		}))
	server.Config.ErrorLog = log.New(io.Discard, "", 0)
	server.StartTLS()
	t.Cleanup(server.Close)
	host := strings.TrimPrefix(server.URL, "https://")

	document, err := dockerconfig.Encode([]dockerconfig.Entry{
		{Server: host, Username: "echouser", Password: password}})
	if err != nil {
		t.Fatal(err)
	}
	config, err := dockerconfig.Decode(document)
	if err != nil {
		t.Fatal(err)
	}
	resolver := registry.Resolver{Transport: server.Client().Transport,
		Keychain: registry.NewKeychain(config)}
	shared, err := resolver.WithSharedConnections()
	if err != nil {
		t.Fatal(err)
	}
	reference := host + "/app:v1"
	secrets := []string{password, "canary",
		base64.StdEncoding.EncodeToString([]byte("echouser:" + password))}

	_, err = resolver.Inspect(context.Background(), reference, nil)
	texts := map[string]string{"imagedist_image detail": lookupErrorDetail(reference, err)}
	elements, _ := imagesElements([]string{reference},
		inspectAll(context.Background(), shared, []string{reference}, nil))
	texts["imagedist_images error"] = elements[0].(types.Object).Attributes()["error"].String()

	for name, text := range texts {
		if !strings.Contains(text, "bad credentials") {
			t.Errorf("%s %q does not quote the registry's message", name, text)
		}
		for _, secret := range secrets {
			if strings.Contains(text, secret) {
				t.Errorf("%s %q contains %q", name, text, secret)
			}
		}
	}
}
