package kube

import (
	"errors"
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

func TestRedactorShortValuesOnlyAsWholeWords(t *testing.T) {
	secrets := &redactor{}
	secrets.add("abcd")

	cases := map[string]string{
		"token abcd rejected":        "token [REDACTED] rejected",
		`token "abcd"`:               `token "[REDACTED]"`,
		"u:abcd@proxy":               "u:[REDACTED]@proxy",
		"abcd":                       "[REDACTED]",
		"password xxabcdyy is wrong": "password xxabcdyy is wrong",
		"abcdef and zabcd":           "abcdef and zabcd",
		"ümlautabcd and abcd1 and é": "ümlautabcd and abcd1 and é",
	}
	for text, want := range cases {
		if got := secrets.redact(text); got != want {
			t.Errorf("redact(%q) = %q, want %q", text, got, want)
		}
	}
}

func TestRedactorLongValuesAnywhere(t *testing.T) {
	secrets := &redactor{}
	secrets.add("abcdefghijkl")

	got := secrets.redact("xxabcdefghijklyy")
	if got != "xx[REDACTED]yy" {
		t.Errorf("redact = %q, want the long value replaced inside a word", got)
	}
}

func TestRedactorOverlappingValues(t *testing.T) {
	secrets := &redactor{}
	secrets.add("abcdefghijklmnop", "mnopqrstuvwxyz12", "REDACTED")

	got := secrets.redact("<abcdefghijklmnopqrstuvwxyz12> and REDACTED")
	if got != "<[REDACTED]> and [REDACTED]" {
		t.Errorf("redact = %q, want overlapping values hidden as one", got)
	}
}

func TestRedactorLongestFirst(t *testing.T) {
	secrets := &redactor{}
	secrets.add("pass", "pass-word-longer")

	got := secrets.redact("pw pass-word-longer and pass")
	if got != "pw [REDACTED] and [REDACTED]" {
		t.Errorf("redact = %q", got)
	}
}

func TestRedactProblemsLeavesShortValues(t *testing.T) {
	secrets := &redactor{}
	secrets.add("host", "a-much-longer-secret")

	problems := secrets.redactProblems([]SettingError{{
		Summary: "Invalid Host", Detail: "Set host; not a-much-longer-secret.",
	}})
	if problems[0].Detail != "Set host; not [REDACTED]." {
		t.Errorf("Detail = %q, want only the long value replaced", problems[0].Detail)
	}
	if problems[0].Summary != "Invalid Host" {
		t.Errorf("Summary = %q", problems[0].Summary)
	}
}

func TestKubeconfigSecretsOfEveryClusterRegistered(t *testing.T) {
	content := `apiVersion: v1
kind: Config
current-context: c
clusters:
- name: c
  cluster:
    server: https://127.0.0.1:16443
- name: other
  cluster:
    server: "https://srv-user:SERVERSECRETpw-1@127.0.0.2:16443/%zz"
    proxy-url: "http://proxy-user:PROXYSECRETpw-2@proxy:3128/%zz"
- name: no-scheme
  cluster:
    server: "srv-user:NOSCHEMESECRETpw-3@127.0.0.3:16443"
users:
- name: u
  user:
    token: TOKENSECRET-4
contexts:
- name: c
  context: {cluster: c, user: u}
`
	config, err := decodeKubeconfig([]byte(content))
	if err != nil {
		t.Fatal(err)
	}
	secrets := &redactor{}
	addKubeconfigSecrets(secrets, config)

	text := "a SERVERSECRETpw-1 b PROXYSECRETpw-2 c NOSCHEMESECRETpw-3 d TOKENSECRET-4 " +
		"e proxy-user:PROXYSECRETpw-2@proxy"
	got := secrets.redact(text)
	for _, secret := range []string{"SERVERSECRET", "PROXYSECRET", "NOSCHEMESECRET", "TOKENSECRET"} {
		if strings.Contains(got, secret) {
			t.Errorf("redact left %s in %q", secret, got)
		}
	}
}

// TestKubeconfigProxyURLNotQuoted covers a proxy-url that client-go cannot parse, whose
// password contains the user's token as a substring.
func TestKubeconfigProxyURLNotQuoted(t *testing.T) {
	const password = "TOPSECRETabcdpw"
	path := writeFile(t, t.TempDir(), "config",
		kubeconfigWithCluster("https://127.0.0.1:16443", "http://u:"+password+"@proxy:3128/%zz"))

	problem := onlyProblem(t, Config{ConfigPaths: []string{path}}.Check(),
		AttributeConfigPath, "Invalid Proxy URL")
	requireContains(t, problem.Detail, "proxy-url", `cluster "c"`, path, "percent-encoding",
		"proxy_url")
	for _, part := range []string{"TOPSECRET", "abcdpw", "u:"} {
		if strings.Contains(problem.Detail, part) {
			t.Errorf("detail contains %q: %s", part, problem.Detail)
		}
	}

	// proxy_url replaces the kubeconfig's proxy-url, so the bad one no longer matters.
	requireNoProblems(t, Config{ConfigPaths: []string{path}, ProxyURL: "http://127.0.0.1:3128"})
}

// TestClientsBuildErrorRedactsKubeconfigSecrets checks that errors from building clients,
// after the settings were accepted, hide the kubeconfig's credentials too.
func TestClientsBuildErrorRedactsKubeconfigSecrets(t *testing.T) {
	pki := newTestPKI(t)
	path := writeFile(t, t.TempDir(), "config", primaryKubeconfig(pki))
	clients := NewClients(Config{ConfigPaths: []string{path}}, "test")
	if _, err := clients.REST(); err != nil {
		t.Fatalf("REST() error: %v", err)
	}

	clients.mu.Lock()
	err := clients.buildError("test client", errors.New("bad token "+secretKubeToken+
		" and password "+secretKubePassword))
	clients.mu.Unlock()

	for _, secret := range []string{secretKubeToken, secretKubePassword} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("build error contains a kubeconfig credential: %v", err)
		}
	}
	requireContains(t, err.Error(), "building the test client failed", "[REDACTED]")
}
