package mirrors

import (
	"fmt"
	"slices"
)

// DrainsNodes predicts whether changing the rules from old to new makes the machine-config
// operator drain and reboot nodes, and returns a one-sentence reason for a plan-time warning.
// old is nil on create and new is nil on destroy. pullType applies to both sides: a change of
// pull type adds or removes a whole object, which always drains, so callers report that case
// without calling DrainsNodes.
//
// The prediction follows isSafeContainerRegistryConfChanges in pkg/daemon/drain.go of
// openshift/machine-config-operator. That check lets CRI-O reload without a drain only when
// no registries.conf entry is removed, no entry changes its blocked flag, every old mirror is
// kept, and every added mirror or entry is digest-only, which is what an ImageDigestMirrorSet
// renders. Mirror order is not compared. Every other change drains, including any change that
// an ImageTagMirrorSet carries.
// NOTE: the check looks at the whole file, and an unchanged tag-only entry from another
// ImageTagMirrorSet on the cluster also makes it drain, so a change predicted not to drain
// here can still drain on such a cluster.
func DrainsNodes(old, new []Rule, pullType string) (bool, string) {
	changed, reason := describeChange(old, new)
	if !changed {
		return false, "The mirror rules do not change, so nodes are not drained."
	}
	if pullType != PullTypeDigest {
		return true, fmt.Sprintf("Tag mirrors (ImageTagMirrorSet) changed, so the "+
			"machine-config operator drains and reboots every node of each pool in turn: %s.",
			reason)
	}

	drains, detail := digestChangeDrains(old, new)
	if drains {
		return true, fmt.Sprintf("The machine-config operator drains and reboots every node "+
			"of each pool in turn, because %s.", detail)
	}
	return false, "Mirrors are only added to digest mirror rules, so the machine-config " +
		"operator reloads CRI-O without draining nodes."
}

// describeChange reports whether the rules differ per source, and the first difference. Rule
// order does not count, because the operator compares registries.conf entries by location.
// NOTE: with tag mirrors a reorder of rules alone would still drain if the operator wrote the
// entries in rule order, because then the file changes. This predicts no drain for it.
func describeChange(old, new []Rule) (bool, string) {
	oldBySource := rulesBySource(old)
	newBySource := rulesBySource(new)

	for _, rule := range new {
		before, ok := oldBySource[canonicalLocation(rule.Source)]
		if !ok {
			return true, fmt.Sprintf("source %q is added", rule.Source)
		}
		if !sameRule(before, rule) {
			return true, fmt.Sprintf("the rule for source %q changes", rule.Source)
		}
	}
	for _, rule := range old {
		if _, ok := newBySource[canonicalLocation(rule.Source)]; !ok {
			return true, fmt.Sprintf("source %q is removed", rule.Source)
		}
	}
	return false, ""
}

// digestChangeDrains applies the operator's rule for digest-only entries: every old source
// stays, keeps its effective policy (the blocked flag) and keeps all of its mirrors in any
// order, and every new source has mirrors.
func digestChangeDrains(old, new []Rule) (bool, string) {
	newBySource := rulesBySource(new)
	for _, before := range old {
		after, ok := newBySource[canonicalLocation(before.Source)]
		if !ok {
			return true, fmt.Sprintf("the rule for source %q is removed", before.Source)
		}
		if EffectivePolicy(before.Policy) != EffectivePolicy(after.Policy) {
			return true, fmt.Sprintf("the mirror source policy of %q changes from %s to %s",
				before.Source, describePolicy(before.Policy, ""), describePolicy(after.Policy, ""))
		}
		kept := canonicalAll(after.Mirrors)
		for _, mirror := range before.Mirrors {
			if !slices.Contains(kept, canonicalLocation(mirror)) {
				return true, fmt.Sprintf("mirror %q of %q is removed", mirror, before.Source)
			}
		}
	}

	oldBySource := rulesBySource(old)
	for _, after := range new {
		if _, ok := oldBySource[canonicalLocation(after.Source)]; ok {
			continue
		}
		// NOTE: a new rule without mirrors is predicted to drain because it cannot be rendered
		// as a digest-only entry. The operator may instead render no entry for it at all.
		if len(after.Mirrors) == 0 {
			return true, fmt.Sprintf("the new rule for %q has no mirrors", after.Source)
		}
	}
	return false, ""
}

func rulesBySource(rules []Rule) map[string]Rule {
	bySource := make(map[string]Rule, len(rules))
	for _, rule := range rules {
		bySource[canonicalLocation(rule.Source)] = rule
	}
	return bySource
}

func sameRule(a, b Rule) bool {
	return EffectivePolicy(a.Policy) == EffectivePolicy(b.Policy) &&
		slices.Equal(canonicalAll(a.Mirrors), canonicalAll(b.Mirrors))
}

func canonicalAll(locations []string) []string {
	out := make([]string, len(locations))
	for i, location := range locations {
		out[i] = canonicalLocation(location)
	}
	return out
}
