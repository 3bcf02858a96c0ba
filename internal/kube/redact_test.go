package kube

import (
	"strings"
	"testing"
)

// TestErrorsNeverContainCredentials runs failing configurations that carry credentials
// through Check, RESTConfig and Clients, and searches every error text for them.
func TestErrorsNeverContainCredentials(t *testing.T) {
	pki := newTestPKI(t)
	notInCluster(t)
	dir := t.TempDir()
	brokenKubeconfig := writeFile(t, dir, "broken", "apiVersion: v1\nkind: Config\nusers:\n"+
		"- name: a\n  user:\n    token: ["+secretKubeToken+"\n")
	kindKubeconfig := writeFile(t, dir, "kind", "apiVersion: v1\nkind: "+secretKubeToken+"\n")
	goodKubeconfig := writeFile(t, dir, "good", primaryKubeconfig(pki))
	badCAKubeconfig := writeFile(t, dir, "bad-ca", strings.Replace(primaryKubeconfig(pki),
		"certificate-authority-data: "+b64(pki.caPEM),
		"certificate-authority-data: "+b64("-----BEGIN CERTIFICATE-----\n"+secretKubeToken+
			"\n-----END CERTIFICATE-----\n"), 1))

	sentinels := []string{
		secretToken, secretPassword, secretKubeToken, secretKubePassword,
		secretProxyPassword, secretEnvValue,
	}
	keyLines := strings.Split(strings.TrimSpace(pki.keyPEM), "\n")
	for _, line := range keyLines[1 : len(keyLines)-1] {
		sentinels = append(sentinels, line)
	}

	configs := map[string]Config{
		"token with whitespace": {Host: "https://127.0.0.1:1", Token: secretToken + " x"},
		"token and certificate": {
			Host: "https://127.0.0.1:1", Token: secretToken,
			ClientCertificate: pki.certPEM, ClientKey: pki.keyPEM,
		},
		"password without username": {Host: "https://127.0.0.1:1", Password: secretPassword},
		"key without certificate":   {Host: "https://127.0.0.1:1", ClientKey: pki.keyPEM},
		"mismatched key": {
			Host: "https://127.0.0.1:1", ClientCertificate: pki.certPEM, ClientKey: pki.otherKeyPEM,
		},
		"key as certificate": {
			Host: "https://127.0.0.1:1", ClientCertificate: pki.keyPEM, ClientKey: pki.keyPEM,
		},
		"truncated key": {
			Host: "https://127.0.0.1:1", ClientCertificate: pki.certPEM,
			ClientKey: pki.keyPEM[:len(pki.keyPEM)/2],
		},
		"host with password": {Host: "https://admin:" + secretPassword + "@127.0.0.1:1"},
		"host with password and bad port": {
			Host: "https://admin:" + secretPassword + "@127.0.0.1:port",
		},
		"proxy with password and bad scheme": {
			Host: "https://127.0.0.1:1", ProxyURL: "ftp://u:" + secretProxyPassword + "@127.0.0.1",
		},
		"proxy with password and bad port": {
			Host: "https://127.0.0.1:1", ProxyURL: "http://u:" + secretProxyPassword + "@h:port",
		},
		"proxy with bad escape in password": {
			Host: "https://127.0.0.1:1", ProxyURL: "http://u:" + secretProxyPassword + "%zz@h:1",
		},
		"http host with credentials": {
			Host: "http://127.0.0.1:1", Username: "admin", Password: secretPassword,
		},
		"exec with secret env and no command": {
			Host: "https://127.0.0.1:1",
			Exec: &ExecConfig{APIVersion: "v0", Env: map[string]string{"KEY": secretEnvValue}},
		},
		"missing host with credentials": {Token: secretToken, Username: "u", Password: secretPassword},
		"unparsable kubeconfig":         {ConfigPaths: []string{brokenKubeconfig}, Token: secretToken},
		"kubeconfig quoting its kind":   {ConfigPaths: []string{kindKubeconfig}},
		"kubeconfig with bad CA":        {ConfigPaths: []string{badCAKubeconfig}},
		"unknown context": {
			ConfigPaths: []string{goodKubeconfig}, ConfigContext: "nope", Password: secretPassword,
		},
	}

	for name, config := range configs {
		t.Run(name, func(t *testing.T) {
			problems := config.Check()
			if len(problems) == 0 {
				t.Fatal("Check() found no problem; the case does not test an error path")
			}
			var texts []string
			for _, problem := range problems {
				texts = append(texts, problem.Error())
			}

			_, err := config.RESTConfig()
			if err == nil {
				t.Fatal("RESTConfig() succeeded")
			}
			texts = append(texts, err.Error())

			clients := NewClients(config, "test")
			_, err = clients.Kubernetes()
			if err == nil {
				t.Fatal("Kubernetes() succeeded")
			}
			texts = append(texts, err.Error())

			for _, text := range texts {
				for _, sentinel := range sentinels {
					if strings.Contains(text, sentinel) {
						t.Errorf("error text contains credential %q:\n%s", sentinel, text)
					}
				}
			}
		})
	}
}

func TestRedactorReplacesSecrets(t *testing.T) {
	secrets := &redactor{}
	secrets.add("abc", "longer-secret-value", "secret")

	got := secrets.redact("x longer-secret-value y secret z abc")

	if strings.Contains(got, "secret") {
		t.Errorf("redact left a secret: %q", got)
	}
	if !strings.Contains(got, "abc") {
		t.Errorf("redact replaced a value shorter than %d characters: %q", minRedactLength, got)
	}
	if got != "x [REDACTED] y [REDACTED] z abc" {
		t.Errorf("redact = %q", got)
	}
}
