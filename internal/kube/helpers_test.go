package kube

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Credential values planted in configurations. No error text may ever contain them.
const (
	secretToken         = "tok-SENTINEL-9f8e7d6c5b4a"
	secretPassword      = "pw-SENTINEL-1a2b3c4d5e"
	secretKubeToken     = "kubeconfig-token-SENTINEL-77aa88bb"
	secretKubePassword  = "kubeconfig-pw-SENTINEL-33cc44dd"
	secretProxyPassword = "proxy-pw-SENTINEL-55ee66ff"
	secretEnvValue      = "env-SENTINEL-0011223344"
)

// testPKI is a CA with a client certificate it signed, and a second, unrelated key.
type testPKI struct {
	caPEM, certPEM, keyPEM, otherKeyPEM string
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()

	caKey := newKey(t)
	caTemplate := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test-ca"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatalf("creating CA certificate: %v", err)
	}

	clientKey := newKey(t)
	clientTemplate := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "test-user"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	clientDER, err := x509.CreateCertificate(
		rand.Reader, clientTemplate, caTemplate, &clientKey.PublicKey, caKey)
	if err != nil {
		t.Fatalf("creating client certificate: %v", err)
	}

	return testPKI{
		caPEM:       encodePEM("CERTIFICATE", caDER),
		certPEM:     encodePEM("CERTIFICATE", clientDER),
		keyPEM:      encodeKey(t, clientKey),
		otherKeyPEM: encodeKey(t, newKey(t)),
	}
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generating key: %v", err)
	}
	return key
}

func encodeKey(t *testing.T, key *ecdsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("encoding key: %v", err)
	}
	return encodePEM("PRIVATE KEY", der)
}

func encodePEM(blockType string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}))
}

func b64(text string) string {
	return base64.StdEncoding.EncodeToString([]byte(text))
}

// Loopback addresses on ports where nothing listens in these tests. Building clients never
// connects, so the addresses are never dialled.
const (
	alphaServer = "https://127.0.0.1:16443"
	betaServer  = "https://127.0.0.2:16443"
	gammaServer = "https://127.0.0.3:16443"
)

// primaryKubeconfig defines several clusters, users and contexts, including contexts that
// refer to undefined users and clusters.
func primaryKubeconfig(pki testPKI) string {
	return `apiVersion: v1
kind: Config
current-context: alpha-alice
clusters:
- name: alpha
  cluster:
    server: ` + alphaServer + `
    certificate-authority-data: ` + b64(pki.caPEM) + `
- name: beta
  cluster:
    server: ` + betaServer + `
    insecure-skip-tls-verify: true
    tls-server-name: beta.internal
- name: serverless
  cluster:
    insecure-skip-tls-verify: true
users:
- name: alice
  user:
    token: ` + secretKubeToken + `
- name: bob
  user:
    client-certificate-data: ` + b64(pki.certPEM) + `
    client-key-data: ` + b64(pki.keyPEM) + `
- name: carol
  user:
    username: carol
    password: ` + secretKubePassword + `
contexts:
- name: alpha-alice
  context:
    cluster: alpha
    user: alice
- name: beta-bob
  context:
    cluster: beta
    user: bob
- name: dangling-user
  context:
    cluster: alpha
    user: ghost-user
- name: dangling-cluster
  context:
    cluster: ghost-cluster
    user: alice
- name: no-cluster
  context:
    user: alice
- name: no-server
  context:
    cluster: serverless
    user: alice
`
}

// secondaryKubeconfig also defines a context named alpha-alice, pointing elsewhere, to show
// which file wins when several are merged.
func secondaryKubeconfig() string {
	return `apiVersion: v1
kind: Config
current-context: gamma-dave
clusters:
- name: gamma
  cluster:
    server: ` + gammaServer + `
    insecure-skip-tls-verify: true
users:
- name: dave
  user:
    token: dave-token
contexts:
- name: gamma-dave
  context:
    cluster: gamma
    user: dave
- name: alpha-alice
  context:
    cluster: gamma
    user: dave
`
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatalf("creating directory for %s: %v", name, err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatalf("writing %s: %v", name, err)
	}
	return path
}

// notInCluster hides any in-cluster environment of the machine running the tests.
func notInCluster(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
}

// onlyProblem fails unless problems is exactly one problem on attribute with summary.
func onlyProblem(t *testing.T, problems []SettingError, attribute, summary string) SettingError {
	t.Helper()
	if len(problems) != 1 {
		t.Fatalf("got %d problems, want 1 on %q: %v", len(problems), attribute, problems)
	}
	problem := problems[0]
	if problem.Attribute != attribute {
		t.Errorf("problem attribute = %q, want %q (%v)", problem.Attribute, attribute, problem)
	}
	if problem.Summary != summary {
		t.Errorf("problem summary = %q, want %q (%v)", problem.Summary, summary, problem)
	}
	return problem
}

func requireContains(t *testing.T, text string, parts ...string) {
	t.Helper()
	for _, part := range parts {
		if !strings.Contains(text, part) {
			t.Errorf("text does not contain %q:\n%s", part, text)
		}
	}
}

func requireNoProblems(t *testing.T, config Config) {
	t.Helper()
	if problems := config.Check(); len(problems) != 0 {
		t.Fatalf("Check() = %v, want no problems", problems)
	}
}
