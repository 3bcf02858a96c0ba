package kube

import (
	"testing"
)

// TestCheckRejectsUnusableSettings lists settings that no request can succeed with. Each must
// be a problem at plan time, before the provider sends anything.
func TestCheckRejectsUnusableSettings(t *testing.T) {
	notInCluster(t)
	cases := map[string]Config{
		"exec api version v1alpha1": {Host: "https://127.0.0.1:1", Exec: &ExecConfig{
			APIVersion: "client.authentication.k8s.io/v1alpha1", Command: "true"}},
		"exec api version other group": {Host: "https://127.0.0.1:1", Exec: &ExecConfig{
			APIVersion: "example.com/v1", Command: "true"}},
		"exec command empty": {Host: "https://127.0.0.1:1", Exec: &ExecConfig{
			APIVersion: "client.authentication.k8s.io/v1", Command: ""}},
		"tls server name with space": {Host: "https://127.0.0.1:1",
			TLSServerName: "api .example.com"},
		"host with invalid escape":  {Host: "https://127.0.0.1:1/%zz"},
		"token with newline":        {Host: "https://127.0.0.1:1", Token: "abc\ndef"},
		"username without password": {Host: "https://127.0.0.1:1", Username: "admin"},
		"token and basic auth": {Host: "https://127.0.0.1:1", Token: "abc",
			Username: "admin", Password: "pw"},
		"host with whitespace": {Host: " https://127.0.0.1:1"},
	}
	for name, config := range cases {
		t.Run(name, func(t *testing.T) {
			if problems := config.Check(); len(problems) == 0 {
				t.Errorf("Check() found no problem")
			}
		})
	}
}
