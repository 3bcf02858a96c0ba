package registrypolicy

import (
	"fmt"
	"strings"

	"github.com/imagedist/terraform-provider-imagedist/internal/mirrors"
)

// OpenShift's limits on each registrySources list. The Image CRD of the github.com/openshift/api
// version pinned in go.mod does not declare them, so the local control plane does not enforce
// them and the provider checks them itself.
// NOTE: these limits and the entry grammar follow later Image CRDs as documented, not a CRD
// file read here, so check them against the cluster's release.
const (
	MaxEntries     = 1024
	MaxEntryLength = 256
	// maxHostnameLength is the limit of a DNS name (RFC 1035), and maxLabelLength of each
	// of its labels.
	maxHostnameLength = 253
	maxLabelLength    = 63
)

// Problem is one invalid value of a policy.
type Problem struct {
	Field Field
	// Index is the index of the entry in the field's list, or -1 for the field as a whole.
	Index int
	// Summary is a short Title Case heading. Detail names the value and the fix.
	Summary string
	Detail  string
}

// Error formats the problem as one line, so a Problem can be returned as an error.
func (p Problem) Error() string {
	return p.Summary + ": " + p.Detail
}

// Validate checks a policy against OpenShift's rules for the Image spec and returns every
// problem, field by field. allowed and blocked registries are exclusive. Each list, when set,
// has 1 to MaxEntries entries of 1 to MaxEntryLength characters. Registry entries follow
// host[:port][/path] or "*.domain", search registries are host names without duplicates,
// and import domains carry no scheme or path.
// names maps each field to the name that messages use for it.
func Validate(p Policy, names map[Field]string) []Problem {
	var problems []Problem
	if p.Allowed != nil && p.Blocked != nil {
		problems = append(problems, ConflictProblem(names))
	}

	for _, field := range []Field{FieldAllowed, FieldBlocked, FieldInsecure, FieldSearch} {
		values := p.Strings(field)
		if values == nil {
			continue
		}
		problems = append(problems, checkSize(field, len(values), names[field])...)
		seen := map[string]bool{}
		for i, value := range values {
			defect := entryDefect(field, value)
			if defect == "" && field == FieldSearch && seen[strings.ToLower(value)] {
				defect = "is listed twice; each search registry may appear once"
			}
			seen[strings.ToLower(value)] = true
			if defect != "" {
				problems = append(problems, Problem{Field: field, Index: i,
					Summary: "Invalid Registry",
					Detail:  fmt.Sprintf("%s[%d] %q %s.", names[field], i, value, defect)})
			}
		}
	}

	if p.Import != nil {
		problems = append(problems, checkSize(FieldImport, len(p.Import), names[FieldImport])...)
		for i, location := range p.Import {
			if defect := domainDefect(location.DomainName); defect != "" {
				problems = append(problems, Problem{Field: FieldImport, Index: i,
					Summary: "Invalid Import Registry",
					Detail: fmt.Sprintf("%s[%d].domain_name %q %s.", names[FieldImport], i,
						location.DomainName, defect)})
			}
		}
	}
	return problems
}

// ConflictProblem is the problem of a policy that sets both allowed and blocked registries.
// names maps each field to the name that messages use for it.
func ConflictProblem(names map[Field]string) Problem {
	return Problem{Field: FieldBlocked, Index: -1, Summary: "Conflicting Registry Lists",
		Detail: fmt.Sprintf("%s and %s cannot both be set, because OpenShift accepts only "+
			"one of them: %s permits only the registries it lists and blocks all others. "+
			"Remove one of the two.", names[FieldAllowed], names[FieldBlocked],
			names[FieldAllowed])}
}

func checkSize(field Field, size int, name string) []Problem {
	switch {
	case size == 0:
		return []Problem{{Field: field, Index: -1, Summary: "Empty Registry List",
			Detail: fmt.Sprintf("%s is an empty list. Remove the attribute to leave the "+
				"field unset, or list at least one entry.", name)}}
	case size > MaxEntries:
		return []Problem{{Field: field, Index: -1, Summary: "Too Many Registries",
			Detail: fmt.Sprintf("%s has %d entries, but OpenShift accepts at most %d.",
				name, size, MaxEntries)}}
	}
	return nil
}

// entryDefect returns why value is not a valid entry of a registrySources list, or "".
func entryDefect(field Field, value string) string {
	if defect := lengthDefect(value); defect != "" {
		return defect
	}
	if field == FieldSearch {
		return hostnameDefect(value)
	}
	if defect := mirrors.LocationDefect(value, true); defect != "" {
		return defect
	}
	return mirrors.PortRangeDefect(value)
}

func lengthDefect(value string) string {
	if value == "" {
		return "is empty"
	}
	if len(value) > MaxEntryLength {
		return fmt.Sprintf("is %d characters long, but OpenShift accepts at most %d",
			len(value), MaxEntryLength)
	}
	return ""
}

// hostnameDefect checks a search registry, which the CRD declares with the hostname format:
// dot-separated labels of letters, digits and inner hyphens, with no port, path or wildcard.
func hostnameDefect(value string) string {
	if strings.Contains(value, "://") {
		return "starts with a scheme, but a search registry is a host name"
	}
	if strings.ContainsAny(value, ":/@*") {
		return "is not a host name: a search registry has no port, path, wildcard, tag " +
			"or digest"
	}
	if len(value) > maxHostnameLength {
		return fmt.Sprintf("is longer than the %d characters of a host name",
			maxHostnameLength)
	}
	for _, label := range strings.Split(value, ".") {
		if label == "" {
			return "has an empty host label (a leading, trailing or doubled \".\")"
		}
		if len(label) > maxLabelLength {
			return fmt.Sprintf("has the host label %q, longer than %d characters", label,
				maxLabelLength)
		}
		for _, r := range label {
			if !isHostRune(r) {
				return fmt.Sprintf("has the host label %q with the character %q; host labels "+
					"contain only letters, digits and inner hyphens", label, r)
			}
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Sprintf("has the host label %q, which starts or ends with a hyphen",
				label)
		}
	}
	return ""
}

func isHostRune(r rune) bool {
	return r == '-' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
}

// domainDefect checks the domainName of an import registry. OpenShift matches it against the
// registry host and port of an image stream import, with "*" and "?" as wildcards, so it has
// no scheme, path, user info or whitespace.
func domainDefect(value string) string {
	if defect := lengthDefect(value); defect != "" {
		return defect
	}
	if i := strings.Index(value, "://"); i >= 0 {
		return fmt.Sprintf("starts with the scheme %q; write the host[:port] only",
			value[:i+3])
	}
	if strings.ContainsAny(value, "/@") {
		return "contains a path, tag, digest or user info; write the host[:port] only"
	}
	if strings.ContainsAny(value, " \t\r\n") {
		return "contains whitespace"
	}
	return ""
}
