package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/imagedist/terraform-provider-imagedist/internal/imageref"
)

// FailureKind is the class of a failed look-up, which decides what the user can do.
type FailureKind int

// The classes of LookupError.
const (
	FailureOther FailureKind = iota
	// FailureUntrustedCertificate: the registry's TLS certificate failed verification.
	FailureUntrustedCertificate
	// FailurePlainHTTP: the registry responded to HTTPS with plain HTTP, and
	// InsecureRegistries does not list it.
	FailurePlainHTTP
	// FailureUnreachable: the connection was refused or timed out, or the host name does
	// not resolve.
	FailureUnreachable
	// FailureNotARegistry: the server does not respond to GET /v2/ as a registry does.
	FailureNotARegistry
	// FailureCredentialsRejected: credentials were sent and the registry rejected them.
	FailureCredentialsRejected
	// FailureCredentialsMissing: the registry asked for credentials, and none of the
	// credential sources has an entry for it.
	FailureCredentialsMissing
	// FailureAnonymousDenied: the registry asked for credentials, and there are no
	// credential sources at all.
	FailureAnonymousDenied
	// FailureAccessDenied: the registry accepted the credentials but denied the pull
	// (HTTP 403).
	FailureAccessDenied
	// FailureRepositoryNotFound: the registry has no such repository (NAME_UNKNOWN).
	FailureRepositoryNotFound
	// FailureManifestNotFound: the repository has no such tag or digest.
	FailureManifestNotFound
	// FailurePlatformNotFound: the index or image lacks the requested platform.
	FailurePlatformNotFound
	// FailureRateLimited: HTTP 429.
	FailureRateLimited
	// FailureServerError: HTTP 5xx.
	FailureServerError
	// FailureTimedOut: the look-up took longer than its timeout.
	FailureTimedOut
	// FailureInvalidManifest: the registry served a manifest, index or image config that
	// the provider rejects, such as one over its size limit or with negative sizes.
	FailureInvalidManifest
)

// LookupError is a failed look-up: what failed, what to do, and the underlying error. No
// text field contains a credential that the look-up sent, even when the registry echoed it.
type LookupError struct {
	// Reference is the image reference as the caller wrote it.
	Reference string
	Kind      FailureKind
	// Problem describes what failed, as a clause without a final period.
	Problem string
	// Cause is the underlying error as the registry or the network reported it, without
	// request URLs and without the raw detail objects of registry errors. It may be empty.
	Cause string
	// Advice is one or two sentences on what to do.
	Advice string
	// Err is the underlying error. Its text is as the registry sent it, so it may contain
	// credentials: show Error() instead.
	Err error
}

// Error returns "looking up REFERENCE: PROBLEM (CAUSE). ADVICE", without a final period, so
// that callers can append their own sentences.
func (e *LookupError) Error() string {
	text := "looking up " + e.Reference + ": " + e.Problem
	if e.Cause != "" {
		text += " (" + e.Cause + ")"
	}
	return text + ". " + strings.TrimSuffix(e.Advice, ".")
}

// Unwrap returns the underlying error.
func (e *LookupError) Unwrap() error { return e.Err }

// plainHTTPBlockedError is the error of plainHTTPGuard.
type plainHTTPBlockedError struct {
	host string
}

func (e *plainHTTPBlockedError) Error() string {
	return fmt.Sprintf("plain HTTP to %s is blocked because insecure_registries does not "+
		"list it", e.host)
}

// describeError classifies the error of a failed look-up into a *LookupError, without the
// credentials that the look-up sent or could have sent.
func (r Resolver) describeError(l *lookup, err error) error {
	failure := r.classifyError(l, err)
	r.addKeychainCredentials(l)
	failure.redact(l.sent.list())
	return failure
}

// addKeychainCredentials records in l.sent the credentials that the keychain gives for the
// look-up's repository, as a request may not have sent them before the failure.
func (r Resolver) addKeychainCredentials(l *lookup) {
	if r.Keychain == nil {
		return
	}
	authenticator, err := r.Keychain.Resolve(l.ref.Context())
	if err != nil {
		return
	}
	config, err := authenticator.Authorization()
	if err != nil || config == nil {
		return
	}
	l.sent.addAuthConfig(*config)
}

// classifyError returns the *LookupError of err: what failed and what to do.
func (r Resolver) classifyError(l *lookup, err error) *LookupError {
	reference, parsed, ref := l.reference, l.parsed, l.ref
	var described *LookupError
	if errors.As(err, &described) {
		described.Reference = reference
		return described
	}
	if errors.Is(l.ctx.Err(), context.DeadlineExceeded) && l.parent.Err() == nil {
		return &LookupError{Reference: reference, Err: err, Kind: FailureTimedOut,
			Problem: fmt.Sprintf("the look-up at the registry %s did not finish within %s",
				parsed.Registry, l.timeout),
			Advice: "Check that the registry and any proxy in between respond, then run " +
				"Terraform again."}
	}

	failure := &LookupError{Reference: reference, Err: err, Kind: FailureOther,
		Problem: "the look-up failed", Cause: err.Error(),
		Advice: "Check the reference and the registry."}
	host := parsed.Registry
	var transportErr *transport.Error
	switch {
	case describeCertificateError(err, host, failure):
	case errors.Is(err, http.ErrSchemeMismatch) && !r.isInsecure(host):
		failure.Kind = FailurePlainHTTP
		failure.Problem = fmt.Sprintf("the registry at %s speaks plain HTTP, not HTTPS", host)
		failure.Cause = ""
		failure.Advice = fmt.Sprintf("Add %q to insecure_registries on the provider to allow "+
			"plain HTTP, which sends credentials unencrypted, or serve the registry over "+
			"HTTPS.", host)
	case errors.As(err, &transportErr):
		r.describeHTTPError(parsed, ref, transportErr, failure)
	case describeNetworkError(err, host, failure):
	case errInvalidManifest(err):
		failure.Kind = FailureInvalidManifest
		failure.Problem = fmt.Sprintf("the registry at %s served an invalid manifest", host)
		failure.Cause = invalidManifestCause(err)
		failure.Advice = "Check the image in the registry, and push it again with a " +
			"current client."
	case errors.Is(err, context.Canceled):
		failure.Problem = "the look-up was canceled"
		failure.Advice = "Run Terraform again."
	default:
		var blocked *plainHTTPBlockedError
		if errors.As(err, &blocked) {
			failure.Kind = FailurePlainHTTP
			failure.Problem = fmt.Sprintf("a request to %s over plain HTTP was blocked",
				blocked.host)
			failure.Advice = fmt.Sprintf("Add %q to insecure_registries on the provider "+
				"only if that server speaks plain HTTP.", blocked.host)
		}
	}
	return failure
}

// describeCertificateError fills failure and returns true when err is a failed TLS
// certificate verification.
func describeCertificateError(err error, host string, failure *LookupError) bool {
	var verification *tls.CertificateVerificationError
	var unknownAuthority x509.UnknownAuthorityError
	var wrongHost x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &unknownAuthority):
		failure.Problem = fmt.Sprintf("the TLS certificate of the registry at %s is signed "+
			"by a CA that the provider does not trust", host)
		failure.Advice = "Set registry_ca_certificates on the provider to the PEM " +
			"certificate of that CA, or have the registry serve a certificate from a CA " +
			"that the system trusts. insecure_registries does not help, because the " +
			"registry speaks HTTPS."
	case errors.As(err, &wrongHost):
		failure.Problem = fmt.Sprintf("the TLS certificate of the registry at %s is not "+
			"valid for that host", host)
		failure.Advice = fmt.Sprintf("Have the registry serve a certificate whose subject "+
			"alternative names include %q, or write the reference with a host that the "+
			"certificate names.", hostOnly(host))
	case errors.As(err, &invalid):
		failure.Problem = fmt.Sprintf("the TLS certificate of the registry at %s is not "+
			"valid", host)
		failure.Advice = "Renew or fix the registry's certificate, and check the clock " +
			"of the machine that runs Terraform."
	case errors.As(err, &verification):
		failure.Problem = fmt.Sprintf("the TLS certificate of the registry at %s could not "+
			"be verified", host)
		failure.Advice = "Set registry_ca_certificates on the provider to the PEM " +
			"certificate of the CA that signed it, or fix the registry's certificate."
	default:
		return false
	}
	failure.Kind = FailureUntrustedCertificate
	failure.Cause = innerURLError(err)
	if verification != nil || errors.As(err, &verification) {
		failure.Cause = verification.Error()
	}
	return true
}

// describeNetworkError fills failure and returns true when err is a failed connection.
func describeNetworkError(err error, host string, failure *LookupError) bool {
	var dnsErr *net.DNSError
	var netErr net.Error
	var opErr *net.OpError
	switch {
	case errors.As(err, &dnsErr):
		failure.Problem = fmt.Sprintf("the registry host %s was not found", hostOnly(host))
		failure.Advice = "Check the registry host in the reference, and the DNS settings " +
			"of the machine that runs Terraform."
	case errors.Is(err, syscall.ECONNREFUSED):
		failure.Problem = fmt.Sprintf("the registry at %s is unreachable: the connection "+
			"was refused", host)
		failure.Advice = "Check that the registry runs, and that the host and port in the " +
			"reference are right."
	case errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &netErr) && netErr.Timeout()):
		failure.Problem = fmt.Sprintf("the registry at %s is unreachable: it did not answer "+
			"in time", host)
		failure.Advice = fmt.Sprintf("Check that the registry runs, and that no firewall or "+
			"proxy stops the provider's connections to it. The provider waits up to %s "+
			"for the response to each request.", ResponseHeaderTimeout)
	case errors.As(err, &opErr):
		failure.Problem = fmt.Sprintf("the registry at %s is unreachable", host)
		failure.Advice = "Check that the registry runs, and that the host and port in the " +
			"reference are right."
	default:
		return false
	}
	failure.Kind = FailureUnreachable
	failure.Cause = innerURLError(err)
	return true
}

// invalidManifestCause returns the text of the size or content error in err, without the
// request URL around it.
func invalidManifestCause(err error) string {
	var tooLarge *tooLargeError
	if errors.As(err, &tooLarge) {
		return tooLarge.Error()
	}
	var invalid *invalidManifestError
	if errors.As(err, &invalid) {
		return invalid.Error()
	}
	return err.Error()
}

// innerURLError returns the text of the first *url.Error in err without its method and URL,
// which for a failed ping is the HTTPS attempt, or else err's text.
func innerURLError(err error) string {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return urlErr.Err.Error()
	}
	return err.Error()
}

// hostOnly returns host without its port.
func hostOnly(host string) string {
	if name, _, err := net.SplitHostPort(host); err == nil {
		return name
	}
	return host
}

// describeHTTPError fills failure from an HTTP error status of the registry.
func (r Resolver) describeHTTPError(parsed imageref.Reference, ref name.Reference,
	transportErr *transport.Error, failure *LookupError) {
	failure.Cause = registryMessage(transportErr)
	status := transportErr.StatusCode
	request := transportErr.Request
	if request != nil && request.URL.Path == "/v2/" && status != http.StatusUnauthorized {
		failure.Kind = FailureNotARegistry
		failure.Problem = fmt.Sprintf("the server at %s does not answer as a container "+
			"registry", parsed.Registry)
		failure.Advice = "Check the registry host and port in the reference."
		return
	}

	switch {
	case status == http.StatusUnauthorized:
		r.describeCredentials(parsed, ref, failure)
	case status == http.StatusForbidden:
		r.describeCredentials(parsed, ref, failure)
		if failure.Kind == FailureCredentialsRejected {
			failure.Kind = FailureAccessDenied
			failure.Problem = strings.Replace(failure.Problem, "rejected the credentials",
				"denied the pull with the credentials", 1)
			failure.Advice = fmt.Sprintf("Grant that account pull access to %s, or check "+
				"the repository in the reference.", parsed.Repository)
		}
	case status == http.StatusNotFound:
		describeNotFound(parsed, transportErr, failure)
	case status == http.StatusTooManyRequests:
		failure.Kind = FailureRateLimited
		failure.Problem = "the registry limits the request rate"
		failure.Advice = "Try again later, or look up with credentials, which raise the " +
			"limit at most registries."
	case status >= 500:
		failure.Kind = FailureServerError
		failure.Problem = "the registry failed to answer"
		failure.Advice = "Try again later. The registry's logs give the reason."
	default:
		failure.Problem = "the registry rejected the request"
		failure.Advice = "Check the reference."
	}
}

// describeNotFound distinguishes a missing repository from a missing tag or digest by the
// registry's error code, because a 404 alone could be either.
func describeNotFound(parsed imageref.Reference, transportErr *transport.Error,
	failure *LookupError) {
	switch {
	case hasErrorCode(transportErr, transport.NameUnknownErrorCode):
		failure.Kind = FailureRepositoryNotFound
		failure.Problem = fmt.Sprintf("the registry has no repository %s", parsed.Repository)
		failure.Advice = "Check the repository name and the registry host in the reference."
	case parsed.Digest != "":
		failure.Kind = FailureManifestNotFound
		failure.Problem = fmt.Sprintf("the repository %s has no manifest with digest %s",
			parsed.Repository, parsed.Digest)
		failure.Advice = "Check the digest and the repository. An image deleted from the " +
			"registry is gone by digest too."
	case hasErrorCode(transportErr, transport.ManifestUnknownErrorCode):
		failure.Kind = FailureManifestNotFound
		failure.Problem = fmt.Sprintf("the registry has no tag %q in repository %s",
			parsed.Tag, parsed.Repository)
		// The distribution registry (v3.1) returns MANIFEST_UNKNOWN for a repository that
		// does not exist too.
		failure.Advice = "Check the tag and the repository name in the reference."
	default:
		failure.Kind = FailureManifestNotFound
		failure.Problem = fmt.Sprintf("the registry has no tag %q in repository %s, or no "+
			"such repository", parsed.Tag, parsed.Repository)
		failure.Advice = "Check the tag and the repository name in the reference."
	}
}

func hasErrorCode(transportErr *transport.Error, code transport.ErrorCode) bool {
	for _, diagnostic := range transportErr.Errors {
		if diagnostic.Code == code {
			return true
		}
	}
	return false
}

// registryMessage returns the HTTP status and the registry's error codes and messages. It
// leaves out non-text details, which registries fill with objects such as the requested
// scope, and which go-containerregistry would print as Go maps.
func registryMessage(transportErr *transport.Error) string {
	parts := []string{fmt.Sprintf("HTTP %d %s", transportErr.StatusCode,
		http.StatusText(transportErr.StatusCode))}
	for _, diagnostic := range transportErr.Errors {
		text := string(diagnostic.Code)
		if diagnostic.Message != "" {
			text += ": " + diagnostic.Message
		}
		if detail, ok := diagnostic.Detail.(string); ok && detail != "" {
			text += ": " + detail
		}
		parts = append(parts, text)
	}
	return strings.Join(parts, ", ")
}

// maxListedKeys bounds the registry keys that an error lists per credential source, because
// a global pull secret may have many.
const maxListedKeys = 10

// describeCredentials fills failure for HTTP 401 or 403 by what the look-up sent. Rejected
// credentials are named by their source. Without an entry for the registry, the message
// lists the keys that the sources have. Without any source, the look-up was anonymous.
func (r Resolver) describeCredentials(parsed imageref.Reference, ref name.Reference,
	failure *LookupError) {
	host := parsed.Registry
	keychain, known := r.Keychain.(Keychain)
	if r.Keychain == nil {
		keychain, known = Keychain{}, true
	}
	if !known {
		failure.Kind = FailureCredentialsRejected
		failure.Problem = "the registry rejected the request for lack of valid credentials"
		failure.Advice = fmt.Sprintf("Check the credentials for %s.", host)
		return
	}

	repository := ref.Context()
	if _, source, found := keychain.find(repository); found {
		failure.Kind = FailureCredentialsRejected
		failure.Problem = fmt.Sprintf("the registry rejected the credentials for %s from %s",
			host, sourceName(source))
		failure.Advice = "Check the username and password of that entry. A registry may " +
			"also answer this way when the account may not pull the repository."
		return
	}
	if len(keychain.sources) == 0 {
		failure.Kind = FailureAnonymousDenied
		failure.Problem = "the registry requires credentials, and the look-up had none"
		failure.Advice = fmt.Sprintf("Give credentials for %s in a pull secret or a docker "+
			"config file. A registry may also answer this way for a repository that does "+
			"not exist.", host)
		return
	}

	failure.Kind = FailureCredentialsMissing
	if empty := keychain.sourcesWithEmptyEntry(repository); len(empty) > 0 {
		failure.Problem = fmt.Sprintf("the registry requires credentials, and the entry for "+
			"%s in %s has no username and password", host, sourceName(empty[0]))
		failure.Advice = "Set a username and password in that entry. Identity tokens and " +
			"credential helpers are not used."
		return
	}
	if len(keychain.sources) == 1 {
		failure.Problem = fmt.Sprintf("the registry requires credentials, and %s has no "+
			"entry for %s", sourceName(keychain.sources[0]), host)
	} else {
		failure.Problem = fmt.Sprintf("the registry requires credentials, and none of the "+
			"%d pull secrets has an entry for %s", len(keychain.sources), host)
	}
	failure.Advice = describeSourceKeys(keychain.sources) +
		fmt.Sprintf(" Add an entry for %q, or use credentials that have one.", host)
}

// sourceName returns the name of source for a message.
func sourceName(source CredentialSource) string {
	if source.Name == "" {
		return "a pull secret"
	}
	return source.Name
}

// describeSourceKeys lists the registry keys of each source, as the documents write them but
// without user info, which could carry a password.
func describeSourceKeys(sources []CredentialSource) string {
	sentences := make([]string, 0, len(sources))
	for _, source := range sources {
		var keys []string
		if source.Config != nil {
			for _, entry := range source.Config.Entries() {
				keys = append(keys, fmt.Sprintf("%q", withoutUserInfo(entry.Key)))
			}
		}
		subject := "It"
		if len(sources) > 1 {
			subject = sourceName(source)
		}
		switch {
		case len(keys) == 0:
			sentences = append(sentences, subject+" has no entries.")
		case len(keys) > maxListedKeys:
			sentences = append(sentences, fmt.Sprintf("%s has entries for %s and %d more.",
				subject, strings.Join(keys[:maxListedKeys], ", "), len(keys)-maxListedKeys))
		default:
			sentences = append(sentences, fmt.Sprintf("%s has entries for %s only.", subject,
				strings.Join(keys, ", ")))
		}
	}
	return strings.Join(sentences, " ")
}

// withoutUserInfo replaces anything before the last "@" of a registry key, because a key
// written as "user:password@host" would carry a credential.
func withoutUserInfo(key string) string {
	prefix := ""
	if scheme, rest, found := strings.Cut(key, "://"); found {
		prefix, key = scheme+"://", rest
	}
	if at := strings.LastIndexByte(key, '@'); at >= 0 {
		return prefix + "REDACTED" + key[at:]
	}
	return prefix + key
}
