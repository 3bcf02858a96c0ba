package testcluster

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// certificateLifetime is how long the generated certificates stay valid. A test cluster
// lives for minutes, but a development cluster may stay up for weeks.
const certificateLifetime = 365 * 24 * time.Hour

// keyPair is a certificate with its private key, both PEM-encoded.
type keyPair struct {
	certificatePEM []byte
	keyPEM         []byte
	certificate    *x509.Certificate
	key            crypto.Signer
}

// pki contains the credentials of one cluster. The files under Dir are the only copies that
// the control-plane programs read.
type pki struct {
	ca                *keyPair
	apiServer         *keyPair
	admin             *keyPair
	controllerManager *keyPair
	// serviceAccountKeyPEM signs service-account tokens and serviceAccountPublicPEM
	// verifies them.
	serviceAccountKeyPEM    []byte
	serviceAccountPublicPEM []byte
}

// Paths of the credential files inside the cluster directory.
const (
	caCertificateFile                = "ca.crt"
	caKeyFile                        = "ca.key"
	apiServerCertificateFile         = "apiserver.crt"
	apiServerKeyFile                 = "apiserver.key"
	controllerManagerCertificateFile = "kube-controller-manager.crt"
	controllerManagerKeyFile         = "kube-controller-manager.key"
	serviceAccountKeyFile            = "service-account.key"
	serviceAccountPublicFile         = "service-account.pub"
)

// serviceIPRange is the Service cluster IP range given to kube-apiserver. Its first address
// is the IP of the default/kubernetes Service, so the serving certificate carries it too.
const serviceIPRange = "10.96.0.0/24"

var kubernetesServiceIP = net.IPv4(10, 96, 0, 1)

// newPKI generates a CA, the API server's serving certificate, client certificates for the
// admin (group system:masters) and for kube-controller-manager, and a service-account key.
func newPKI() (*pki, error) {
	ca, err := newCA("imagedist-local-ca")
	if err != nil {
		return nil, err
	}

	serving := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{
			"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
			"kubernetes.default.svc.cluster.local",
		},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), kubernetesServiceIP},
	}
	apiServer, err := ca.issue(serving)
	if err != nil {
		return nil, err
	}

	// system:masters bypasses authorization, so the admin works before RBAC is bootstrapped.
	admin, err := ca.issue(clientTemplate("imagedist-admin", "system:masters"))
	if err != nil {
		return nil, err
	}

	// The controllers share this identity, whereas kubeadm and OpenShift give each
	// controller its own service account. Minting a token per controller doubled the
	// start-up time (9 s against 4 s on a shared 2-core machine), and the group
	// system:masters grants what every controller needs.
	controllerManager, err := ca.issue(clientTemplate("system:kube-controller-manager",
		"system:masters"))
	if err != nil {
		return nil, err
	}

	serviceAccountKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the service-account signing key: %w", err)
	}
	keyPEM, err := encodePrivateKey(serviceAccountKey)
	if err != nil {
		return nil, err
	}
	publicDER, err := x509.MarshalPKIXPublicKey(serviceAccountKey.Public())
	if err != nil {
		return nil, fmt.Errorf("encoding the service-account public key: %w", err)
	}

	return &pki{
		ca:                      ca,
		apiServer:               apiServer,
		admin:                   admin,
		controllerManager:       controllerManager,
		serviceAccountKeyPEM:    keyPEM,
		serviceAccountPublicPEM: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: publicDER}),
	}, nil
}

func clientTemplate(user string, groups ...string) *x509.Certificate {
	return &x509.Certificate{
		Subject:     pkix.Name{CommonName: user, Organization: groups},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
}

func newCA(name string) (*keyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the CA key: %w", err)
	}

	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	template := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(certificateLifetime),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign |
			x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}

	der, err := x509.CreateCertificate(rand.Reader, template, template, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("self-signing the CA certificate: %w", err)
	}
	return newKeyPair(der, key)
}

// issue signs template, with a fresh key, by the CA. The template sets the subject, the
// extended key usages and the subject alternative names.
func (ca *keyPair) issue(template *x509.Certificate) (*keyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating a key for %s: %w", template.Subject.CommonName, err)
	}

	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	template.SerialNumber = serial
	template.NotBefore = now.Add(-time.Hour)
	template.NotAfter = now.Add(certificateLifetime)
	template.KeyUsage = x509.KeyUsageDigitalSignature

	der, err := x509.CreateCertificate(rand.Reader, template, ca.certificate, key.Public(), ca.key)
	if err != nil {
		return nil, fmt.Errorf("signing the certificate for %s: %w", template.Subject.CommonName, err)
	}
	return newKeyPair(der, key)
}

func newKeyPair(der []byte, key *ecdsa.PrivateKey) (*keyPair, error) {
	certificate, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parsing a generated certificate: %w", err)
	}
	keyPEM, err := encodePrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &keyPair{
		certificatePEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:         keyPEM,
		certificate:    certificate,
		key:            key,
	}, nil
}

func encodePrivateKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding a private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func randomSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generating a certificate serial number: %w", err)
	}
	return serial, nil
}

// write stores the credential files that the control-plane programs read in dir. Private
// keys are readable by the owner only.
func (p *pki) write(dir string) error {
	files := []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{caCertificateFile, p.ca.certificatePEM, 0o644},
		{caKeyFile, p.ca.keyPEM, 0o600},
		{apiServerCertificateFile, p.apiServer.certificatePEM, 0o644},
		{apiServerKeyFile, p.apiServer.keyPEM, 0o600},
		{controllerManagerCertificateFile, p.controllerManager.certificatePEM, 0o644},
		{controllerManagerKeyFile, p.controllerManager.keyPEM, 0o600},
		{serviceAccountKeyFile, p.serviceAccountKeyPEM, 0o600},
		{serviceAccountPublicFile, p.serviceAccountPublicPEM, 0o644},
	}
	for _, file := range files {
		if err := os.WriteFile(filepath.Join(dir, file.name), file.data, file.mode); err != nil {
			return fmt.Errorf("writing %s: %w", file.name, err)
		}
	}
	return nil
}
