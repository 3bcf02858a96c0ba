// Package mirrors holds the domain logic behind registry mirror rules on OpenShift: checking
// rules against OpenShift's own grammar before anything reaches the cluster, rendering them as
// ImageDigestMirrorSet and ImageTagMirrorSet objects (config.openshift.io/v1) and back, finding
// mirrorSourcePolicy conflicts with mirror sets already on the cluster, and predicting whether a
// change makes the machine-config operator drain nodes.
//
// The package imports no Terraform module, so it is tested without Terraform or a cluster.
package mirrors

import (
	"fmt"
	"strconv"
	"strings"

	configv1 "github.com/openshift/api/config/v1"
)

// Policy values of Rule.Policy. The empty string leaves mirrorSourcePolicy unset, which the
// container runtime treats like AllowContactingSource.
const (
	PolicyAllowContactingSource = string(configv1.AllowContactingSource)
	PolicyNeverContactSource    = string(configv1.NeverContactSource)
)

// Rule is one mirror rule: pulls of images under Source may be served by Mirrors, tried in
// order, and Policy decides whether Source itself is contacted when every mirror fails.
type Rule struct {
	Source  string
	Mirrors []string
	Policy  string
}

// Attribute names of a rule, as the resource schema spells them in a "mirror" block list.
const (
	FieldSource  = "source"
	FieldMirrors = "mirrors"
	FieldPolicy  = "mirror_source_policy"
)

// Problem is one invalid value in a list of rules.
type Problem struct {
	// Rule is the index of the rule in the list passed to ValidateRules.
	Rule int
	// Field is FieldSource, FieldMirrors or FieldPolicy.
	Field string
	// Mirror is the index into Rule.Mirrors when Field is FieldMirrors, and -1 otherwise.
	Mirror int
	// Summary is a short Title Case heading; Detail names the rule, the value and the fix.
	Summary string
	Detail  string
}

// Path returns the attribute path of the value, such as "mirror[0].source" or
// "mirror[2].mirrors[1]".
func (p Problem) Path() string {
	if p.Field == FieldMirrors && p.Mirror >= 0 {
		return fmt.Sprintf("mirror[%d].%s[%d]", p.Rule, p.Field, p.Mirror)
	}
	return fmt.Sprintf("mirror[%d].%s", p.Rule, p.Field)
}

// Error formats the problem as one line, so a Problem can be returned as an error.
func (p Problem) Error() string {
	return p.Summary + ": " + p.Detail
}

// ValidateRules checks rules against OpenShift's rules for mirror sets and returns every
// problem found, in rule order. It checks the CRD grammar of sources and mirrors, the rules
// that the API types document (no duplicate mirrors, a policy only with mirrors) and those
// that the machine-config operator enforces when it renders registries.conf (NeverContactSource
// with the source among its own mirrors). It also rejects a source repeated across rules,
// because one resource must state one set of mirrors per source.
func ValidateRules(rules []Rule) []Problem {
	var problems []Problem
	firstRuleBySource := make(map[string]int, len(rules))

	for i, rule := range rules {
		problems = append(problems, validateSource(i, rule)...)
		problems = append(problems, validateMirrors(i, rule)...)
		problems = append(problems, validatePolicy(i, rule)...)

		if locationDefect(rule.Source, true) != "" {
			continue
		}
		key := canonicalLocation(rule.Source)
		if first, seen := firstRuleBySource[key]; seen {
			problems = append(problems, Problem{
				Rule: i, Field: FieldSource, Mirror: -1,
				Summary: "Duplicate Mirror Source",
				Detail: fmt.Sprintf("mirror[%d].source %q repeats the source of mirror[%d] (%q). "+
					"Merge the two rules into one, listing the mirrors in the order "+
					"they should be tried.", i, rule.Source, first, rules[first].Source),
			})
			continue
		}
		firstRuleBySource[key] = i
	}
	return problems
}

func validateSource(i int, rule Rule) []Problem {
	if rule.Source == "" {
		return []Problem{{
			Rule: i, Field: FieldSource, Mirror: -1,
			Summary: "Missing Mirror Source",
			Detail: fmt.Sprintf("mirror[%d].source is empty. Set it to the registry or "+
				"repository whose pulls the mirrors serve, such as \"quay.io/example\".", i),
		}}
	}
	defect := locationDefect(rule.Source, true)
	if defect == "" {
		defect = portRangeDefect(rule.Source)
	}
	if defect == "" {
		return nil
	}
	return []Problem{{
		Rule: i, Field: FieldSource, Mirror: -1,
		Summary: "Invalid Mirror Source",
		Detail: fmt.Sprintf("mirror[%d].source %q %s. A source has the form host[:port][/path] "+
			"or *.domain, with no scheme, tag or digest, for example \"registry.example.com:5000/"+
			"team\" or \"*.example.com\".", i, rule.Source, defect),
	}}
}

func validateMirrors(i int, rule Rule) []Problem {
	var problems []Problem
	firstIndex := make(map[string]int, len(rule.Mirrors))

	for j, mirror := range rule.Mirrors {
		defect := locationDefect(mirror, false)
		if defect == "" {
			defect = portRangeDefect(mirror)
		}
		if defect != "" {
			problems = append(problems, Problem{
				Rule: i, Field: FieldMirrors, Mirror: j,
				Summary: "Invalid Mirror",
				Detail: fmt.Sprintf("mirror[%d].mirrors[%d] %q %s. A mirror has the form "+
					"host[:port][/path], with no scheme, wildcard, tag or digest, for example "+
					"\"mirror.example.com:5000/quay\".", i, j, mirror, defect),
			})
			continue
		}

		key := canonicalLocation(mirror)
		if first, seen := firstIndex[key]; seen {
			problems = append(problems, Problem{
				Rule: i, Field: FieldMirrors, Mirror: j,
				Summary: "Duplicate Mirror",
				Detail: fmt.Sprintf("mirror[%d].mirrors[%d] %q repeats mirrors[%d] (%q). "+
					"OpenShift stores mirrors as a set, so remove one of them.",
					i, j, mirror, first, rule.Mirrors[first]),
			})
			continue
		}
		firstIndex[key] = j
	}
	return problems
}

// portRangeDefect checks the port of a location that the CRD grammar accepts. The CRD pattern
// takes any digits, but no registry listens on port 0 or above 65535.
func portRangeDefect(location string) string {
	hostPort, _, _ := strings.Cut(location, "/")
	_, port, hasPort := strings.Cut(hostPort, ":")
	if !hasPort {
		return ""
	}
	if number, err := strconv.Atoi(port); err != nil || number < 1 || number > 65535 {
		return fmt.Sprintf("has the port %s, which is not from 1 to 65535", port)
	}
	return ""
}

func validatePolicy(i int, rule Rule) []Problem {
	switch rule.Policy {
	case "":
		return nil
	case PolicyAllowContactingSource, PolicyNeverContactSource:
	default:
		fix := fmt.Sprintf("Use %q, %q or leave it unset.",
			PolicyAllowContactingSource, PolicyNeverContactSource)
		for _, valid := range []string{PolicyAllowContactingSource, PolicyNeverContactSource} {
			if strings.EqualFold(rule.Policy, valid) {
				fix = fmt.Sprintf("Values are case-sensitive: use %q.", valid)
			}
		}
		return []Problem{policyProblem(i, "Invalid Mirror Source Policy",
			fmt.Sprintf("mirror[%d].mirror_source_policy %q is not a valid policy. %s",
				i, rule.Policy, fix))}
	}

	// The API types document a policy as valid only when the rule lists mirrors. With
	// NeverContactSource and no mirror the source would be blocked outright.
	if len(rule.Mirrors) == 0 {
		return []Problem{policyProblem(i, "Mirror Source Policy Without Mirrors",
			fmt.Sprintf("mirror[%d].mirror_source_policy is %q but the rule lists no mirrors. "+
				"Add at least one mirror or remove the policy.", i, rule.Policy))}
	}

	if rule.Policy != PolicyNeverContactSource {
		return nil
	}
	source := canonicalLocation(rule.Source)
	for j, mirror := range rule.Mirrors {
		if canonicalLocation(mirror) == source {
			return []Problem{policyProblem(i, "Source Listed As Its Own Mirror",
				fmt.Sprintf("mirror[%d].mirror_source_policy is %q but mirrors[%d] %q is the "+
					"source itself, which the machine-config operator rejects. Remove that "+
					"mirror or use %q.", i, rule.Policy, j, mirror,
					PolicyAllowContactingSource))}
		}
	}
	return nil
}

func policyProblem(i int, summary, detail string) Problem {
	return Problem{Rule: i, Field: FieldPolicy, Mirror: -1, Summary: summary, Detail: detail}
}
