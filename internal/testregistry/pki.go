package testregistry

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"
)

// certificateLifetime is how long the generated certificates stay valid. A test registry
// lives for one test run, so a day is plenty and limits what a leaked CA key could sign.
const certificateLifetime = 24 * time.Hour

// serverCredentials are the PEM files the registry serves TLS with.
type serverCredentials struct {
	caCertificatePEM     []byte
	serverCertificatePEM []byte
	serverKeyPEM         []byte
}

// newServerCredentials generates an ECDSA P-256 CA and a serving certificate that it signs
// for IP 127.0.0.1 and DNS name localhost. The CA key is discarded once the serving
// certificate is signed, so nothing else can ever be issued under this CA.
func newServerCredentials() (*serverCredentials, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the CA key: %w", err)
	}
	caTemplate, err := certificateTemplate("imagedist test registry CA")
	if err != nil {
		return nil, err
	}
	caTemplate.IsCA = true
	caTemplate.BasicConstraintsValid = true
	caTemplate.MaxPathLenZero = true
	caTemplate.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, caKey.Public(), caKey)
	if err != nil {
		return nil, fmt.Errorf("self-signing the CA certificate: %w", err)
	}
	caCertificate, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("parsing the generated CA certificate: %w", err)
	}

	serverKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the server key: %w", err)
	}
	serverTemplate, err := certificateTemplate("127.0.0.1")
	if err != nil {
		return nil, err
	}
	serverTemplate.KeyUsage = x509.KeyUsageDigitalSignature
	serverTemplate.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	serverTemplate.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	serverTemplate.DNSNames = []string{"localhost"}
	serverDER, err := x509.CreateCertificate(rand.Reader, serverTemplate, caCertificate,
		serverKey.Public(), caKey)
	if err != nil {
		return nil, fmt.Errorf("signing the server certificate: %w", err)
	}

	serverKeyDER, err := x509.MarshalPKCS8PrivateKey(serverKey)
	if err != nil {
		return nil, fmt.Errorf("encoding the server key: %w", err)
	}
	return &serverCredentials{
		caCertificatePEM:     pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		serverCertificatePEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: serverDER}),
		serverKeyPEM:         pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: serverKeyDER}),
	}, nil
}

// certificateTemplate returns a template with a random serial number and a validity that
// starts a minute ago, so a certificate is usable at once even where clocks differ slightly.
func certificateTemplate(commonName string) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generating a certificate serial number: %w", err)
	}
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: commonName},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(certificateLifetime),
	}, nil
}
