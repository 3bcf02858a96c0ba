package imageref

import (
	"strings"
	"unicode"
)

// DockerHubKey is the pull secret key for Docker Hub. When no other key matches, the kubelet
// (v1.37.2) uses the credentials stored under exactly this key for images named without a
// registry or with "docker.io" or "index.docker.io".
const DockerHubKey = "index.docker.io"

// dockerHubHosts are the host names that docker, kubectl and users write for Docker Hub.
var dockerHubHosts = map[string]bool{
	"docker.io":            true,
	"index.docker.io":      true,
	"registry-1.docker.io": true,
}

// RegistryKey normalizes a registry server, as a user or `docker login` writes it, into the key
// of a pull secret's "auths" map.
//
// The key is the lowercased host plus the port when it is not 443. The scheme ("https://" or
// "http://"), a trailing slash and the "/v1/" or "/v2/" suffix that docker writes are dropped.
// "docker.io", "index.docker.io", "registry-1.docker.io" and "https://index.docker.io/v1/" all
// give DockerHubKey. IPv6 literals keep their brackets: "[fd00::1]:5000". A leftmost "*" label,
// as in "*.example.com", is kept, because the kubelet matches keys as host globs.
//
// Any other path is rejected. The kubelet also accepts keys scoped to a repository path
// ("quay.io/org"), but this package supports only whole-registry keys. The error is a
// *ServerError that wraps one of ErrEmpty, ErrWhitespace, ErrScheme, ErrUserInfo,
// ErrQueryOrFragment, ErrPath, ErrInvalidHost or ErrInvalidPort.
func RegistryKey(server string) (string, error) {
	if server == "" {
		return "", serverError(server, ErrEmpty,
			"the server is empty. Set a host such as \"quay.io\" or \"registry.example.com:5000\"")
	}

	scheme, rest, hasScheme := strings.Cut(server, "://")
	if !hasScheme {
		scheme, rest = "", server
	}

	// User info is checked first because it may hold a password, which no other message
	// may repeat.
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		redacted := server[:len(server)-len(rest)] + "REDACTED" + rest[at:]
		return "", serverError(redacted, ErrUserInfo,
			"the server contains user info before \"@\". Remove it and set the username "+
				"and password as separate values")
	}
	if strings.IndexFunc(server, unicode.IsSpace) >= 0 {
		return "", serverError(server, ErrWhitespace,
			"remove the whitespace it contains")
	}
	if lower := strings.ToLower(scheme); hasScheme && lower != "https" && lower != "http" {
		return "", serverError(server, ErrScheme,
			"the scheme %q is not supported. Use \"https://\", \"http://\" or no scheme", scheme)
	}
	if strings.ContainsAny(rest, "?#") {
		return "", serverError(server, ErrQueryOrFragment,
			"the server contains a query (?) or fragment (#). Use only the host and port")
	}

	authority, path, _ := strings.Cut(rest, "/")
	address, problem := parseHostPort(authority, true)
	if problem != nil {
		return "", serverError(server, problem.sentinel, "%s", problem.detail)
	}
	address.host = strings.ToLower(address.host)
	if address.port == "443" {
		// Registries are served over HTTPS, so ":443" names the same endpoint as no port.
		// NOTE: the kubelet (v1.37.2) compares ports as strings, so the key "host" does not
		// serve images named "host:443/app". Those would need a key with ":443", which this
		// function never returns.
		address.port = ""
	}
	if address.port == "" && dockerHubHosts[address.host] {
		address.host = DockerHubKey
	}

	switch "/" + path {
	case "/", "/v1", "/v1/", "/v2", "/v2/":
		// Docker writes the API version suffix ("https://index.docker.io/v1/"), and the
		// kubelet strips it before matching, so it names the registry itself.
	default:
		return "", serverError(server, ErrPath,
			"the path %s is not supported, because a pull secret key here is a registry host "+
				"and optional port. Use %q", quote("/"+path), address.String())
	}

	return address.String(), nil
}
