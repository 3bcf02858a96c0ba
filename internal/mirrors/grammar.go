package mirrors

import (
	"fmt"
	"strings"
)

// The location grammar below is OpenShift's CRD pattern for spec.imageDigestMirrors[].source,
// spec.imageDigestMirrors[].mirrors[] and their imageTagMirrors twins (github.com/openshift/api,
// config/v1, at the version pinned in go.mod). The API server checks it with Go's regexp
// package, so a location accepted here is accepted there and the reverse, which a differential
// test checks. It is parsed by hand rather than matched, so that an error can name the wrong
// part:
//
//	location  = host [":" port] *("/" component)
//	host      = label *("." label)
//	label     = alnum [*(alnum / "-") alnum]      ; letters of either case
//	port      = 1*DIGIT                           ; no range check
//	component = lower *(separator lower)
//	lower     = 1*(a-z / 0-9)
//	separator = "." / "_" / "__" / *"-"           ; any run of hyphens, including none
//	wildcard  = "*" 1*("." label)                 ; sources only, no port and no path
//
// There is no tag, digest, scheme, user info or IPv6 literal in either form.

// locationDefect returns why s is not a valid mirror location, or "" when it is valid. The
// reason is a clause that follows the quoted value, such as `contains a tag (":latest")`.
// wildcard permits the "*.host" form, which OpenShift accepts for sources only.
func locationDefect(s string, wildcard bool) string {
	if s == "" {
		return "is empty"
	}
	if i := strings.Index(s, "://"); i >= 0 {
		return fmt.Sprintf("starts with the scheme %q, which a location never carries", s[:i+3])
	}
	if i := strings.IndexByte(s, '@'); i >= 0 {
		return fmt.Sprintf("contains a digest or user info (%q)", s[i:])
	}
	if i := strings.IndexFunc(s, isSpace); i >= 0 {
		return "contains whitespace"
	}
	if strings.HasPrefix(s, "*") {
		if !wildcard {
			return "is a wildcard, which OpenShift accepts for a source but not for a mirror"
		}
		return wildcardDefect(s)
	}

	hostPort, path, hasPath := strings.Cut(s, "/")
	if defect := hostPortDefect(hostPort, hasPath); defect != "" {
		return defect
	}
	if !hasPath {
		return ""
	}

	components := strings.Split(path, "/")
	for i, component := range components {
		last := i == len(components)-1
		if defect := componentDefect(component, last); defect != "" {
			return defect
		}
	}
	return ""
}

func isSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f'
}

// wildcardDefect checks the "*.host" form: a leading "*." and then dot-separated host labels.
func wildcardDefect(s string) string {
	rest, ok := strings.CutPrefix(s, "*.")
	if !ok {
		return `has a "*" that is not followed by ".": a wildcard has the form "*.example.com"`
	}
	if strings.Contains(rest, "/") {
		return "is a wildcard with a path, but a wildcard source names hosts only"
	}
	if strings.Contains(rest, ":") {
		return "is a wildcard with a port, but a wildcard source names hosts only"
	}
	for _, label := range strings.Split(rest, ".") {
		if defect := labelDefect(label); defect != "" {
			return defect
		}
	}
	return ""
}

// hostPortDefect checks host[:port]. hasPath only improves the message for "name:tag" input.
func hostPortDefect(hostPort string, hasPath bool) string {
	if hostPort == "" {
		return "has no host before the first \"/\""
	}

	host, port, hasPort := strings.Cut(hostPort, ":")
	for _, label := range strings.Split(host, ".") {
		if defect := labelDefect(label); defect != "" {
			return defect
		}
	}
	if !hasPort {
		return ""
	}

	if port == "" {
		return `has an empty port after ":"`
	}
	for _, r := range port {
		if r < '0' || r > '9' {
			if !hasPath {
				return fmt.Sprintf("has the port %q, which is not a number; "+
					"if it is an image tag, remove it", port)
			}
			return fmt.Sprintf("has the port %q, which is not a number", port)
		}
	}
	return ""
}

// labelDefect checks one DNS label of a host. Unlike path components, host labels may contain
// uppercase letters, because the CRD pattern allows them.
func labelDefect(label string) string {
	if label == "" {
		return "has an empty host label (a leading, trailing or doubled \".\")"
	}
	for _, r := range label {
		if !isAlnum(r) && r != '-' {
			return fmt.Sprintf("has the host label %q with the character %q; "+
				"host labels contain only letters, digits and inner hyphens", label, r)
		}
	}
	if label[0] == '-' || label[len(label)-1] == '-' {
		return fmt.Sprintf("has the host label %q, which starts or ends with a hyphen", label)
	}
	return ""
}

// componentDefect checks one path component. last reports whether it is the final one, where
// a ":" most likely starts an image tag.
func componentDefect(component string, last bool) string {
	if component == "" {
		return "has an empty path component (a doubled or trailing \"/\")"
	}
	if i := strings.IndexByte(component, ':'); i >= 0 {
		if last {
			return fmt.Sprintf("contains a tag (%q)", component[i:])
		}
		return fmt.Sprintf("has the path component %q with a \":\"", component)
	}
	if strings.ToLower(component) != component {
		return fmt.Sprintf("has the path component %q with uppercase letters, "+
			"which repository paths do not allow", component)
	}

	for _, r := range component {
		if !isLowerAlnum(r) && r != '.' && r != '_' && r != '-' {
			return fmt.Sprintf("has the path component %q with the character %q", component, r)
		}
	}
	if !isLowerAlnum(rune(component[0])) || !isLowerAlnum(rune(component[len(component)-1])) {
		return fmt.Sprintf("has the path component %q, which must start and end with "+
			"a lowercase letter or digit", component)
	}

	// Check every run of separator characters between two alphanumeric runs.
	for i := 0; i < len(component); {
		if isLowerAlnum(rune(component[i])) {
			i++
			continue
		}
		j := i
		for j < len(component) && !isLowerAlnum(rune(component[j])) {
			j++
		}
		if !validSeparator(component[i:j]) {
			return fmt.Sprintf("has the path component %q with the separator %q; "+
				`use ".", "_", "__" or hyphens`, component, component[i:j])
		}
		i = j
	}
	return ""
}

func validSeparator(separator string) bool {
	switch separator {
	case ".", "_", "__":
		return true
	}
	return strings.Trim(separator, "-") == ""
}

func isAlnum(r rune) bool {
	return isLowerAlnum(r) || (r >= 'A' && r <= 'Z')
}

func isLowerAlnum(r rune) bool {
	return (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9')
}

// canonicalLocation returns the form used to compare locations: the host part lowercased,
// because DNS names are case-insensitive, and the path kept as is, because the grammar
// already requires it to be lowercase. Two locations that differ only in host case name the
// same repository, so they count as duplicates here even though OpenShift compares the raw
// strings.
func canonicalLocation(location string) string {
	hostPort, path, hasPath := strings.Cut(location, "/")
	if !hasPath {
		return strings.ToLower(hostPort)
	}
	return strings.ToLower(hostPort) + "/" + path
}
