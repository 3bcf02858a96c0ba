package mirrors

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	configv1 "github.com/openshift/api/config/v1"
	operatorv1alpha1 "github.com/openshift/api/operator/v1alpha1"
)

// Existing holds the mirror objects already on the cluster.
type Existing struct {
	DigestMirrorSets      []configv1.ImageDigestMirrorSet
	TagMirrorSets         []configv1.ImageTagMirrorSet
	ContentSourcePolicies []operatorv1alpha1.ImageContentSourcePolicy
}

// Conflict is a source for which one of the rules and an object already on the cluster set
// different mirrorSourcePolicy values. The machine-config operator rejects such a combination
// across ImageDigestMirrorSet, ImageTagMirrorSet and ImageContentSourcePolicy objects, and then
// renders no registries.conf for any of them.
type Conflict struct {
	// Rule is the index of the conflicting rule.
	Rule int
	// Source is the rule's source as written.
	Source string
	// Policy is the rule's policy; "" means unset.
	Policy string
	// Object is the object already on the cluster, and ObjectPolicy its policy for the source.
	Object       ObjectRef
	ObjectPolicy string
	// Own lists the objects that the rules render to, for the message.
	Own []ObjectRef
}

// Summary returns a Title Case heading for a diagnostic.
func (c Conflict) Summary() string {
	return "Conflicting Mirror Source Policy"
}

// Detail names both objects, both policies and the fix.
func (c Conflict) Detail() string {
	own := make([]string, len(c.Own))
	for i, ref := range c.Own {
		own[i] = ref.String()
	}
	ours := "this resource"
	if len(own) > 0 {
		ours = strings.Join(own, " and ")
	}
	detail := fmt.Sprintf("mirror[%d].source %q has mirror_source_policy %s in %s, but %s has "+
		"%s for the same source. The machine-config operator rejects different policies for "+
		"one source and stops updating registries.conf on every node. Use the same policy in "+
		"both, or remove the rule from one of them.",
		c.Rule, c.Source, describePolicy(c.Policy, ""), ours,
		c.Object, describePolicy(c.ObjectPolicy, c.Object.Kind))
	if c.Object.Kind != KindImageContentSourcePolicy {
		// Two resources of one configuration each see the other's object on the cluster, so
		// fixing one of them still fails the other's plan until the fix is applied.
		detail += " If the other object belongs to another resource of this configuration, " +
			"change the policy of one of the two and apply that resource alone first " +
			"(terraform apply -target=ADDRESS), because until then the other resource's " +
			"plan still sees the old policy on the cluster."
	}
	return detail
}

// Error formats the conflict as one line.
func (c Conflict) Error() string {
	return c.Summary() + ": " + c.Detail()
}

func describePolicy(policy, kind string) string {
	switch {
	case kind == KindImageContentSourcePolicy:
		return fmt.Sprintf("no policy (an ImageContentSourcePolicy always allows contacting "+
			"the source, like %s)", PolicyAllowContactingSource)
	case policy == "":
		return fmt.Sprintf("no policy (which means %s)", PolicyAllowContactingSource)
	}
	return policy
}

// EffectivePolicy maps an unset policy to AllowContactingSource, which is how registries.conf
// renders it: only NeverContactSource blocks the source.
func EffectivePolicy(policy string) string {
	if policy == "" {
		return PolicyAllowContactingSource
	}
	return policy
}

// Conflicts returns every pair of a rule and an existing object that set different
// mirrorSourcePolicy values for the same source. Sources are compared with the host part
// lowercased. Objects named in own (this resource's objects, see OwnObjects) are skipped, so
// that an update never conflicts with the version it replaces. The result is sorted by rule
// index, then kind, then name.
func Conflicts(rules []Rule, own []ObjectRef, existing Existing) []Conflict {
	byRef := existingPolicies(existing, own)
	var conflicts []Conflict

	for i, rule := range rules {
		source := canonicalLocation(rule.Source)
		for _, entry := range byRef[source] {
			if EffectivePolicy(entry.policy) == EffectivePolicy(rule.Policy) {
				continue
			}
			conflicts = append(conflicts, Conflict{
				Rule:         i,
				Source:       rule.Source,
				Policy:       rule.Policy,
				Object:       entry.ref,
				ObjectPolicy: entry.policy,
				Own:          slices.Clone(own),
			})
		}
	}

	slices.SortStableFunc(conflicts, func(a, b Conflict) int {
		return cmp.Or(cmp.Compare(a.Rule, b.Rule),
			cmp.Compare(a.Object.Kind, b.Object.Kind),
			cmp.Compare(a.Object.Name, b.Object.Name))
	})
	return conflicts
}

type policyEntry struct {
	ref    ObjectRef
	policy string
}

// existingPolicies indexes the policy of every source in existing, skipping own objects.
func existingPolicies(existing Existing, own []ObjectRef) map[string][]policyEntry {
	index := make(map[string][]policyEntry)
	add := func(ref ObjectRef, source, policy string) {
		if slices.Contains(own, ref) {
			return
		}
		key := canonicalLocation(source)
		entry := policyEntry{ref: ref, policy: policy}
		if !slices.Contains(index[key], entry) {
			index[key] = append(index[key], entry)
		}
	}

	for _, set := range existing.DigestMirrorSets {
		ref := ObjectRef{Kind: KindImageDigestMirrorSet, Name: set.Name}
		for _, item := range set.Spec.ImageDigestMirrors {
			add(ref, item.Source, string(item.MirrorSourcePolicy))
		}
	}
	for _, set := range existing.TagMirrorSets {
		ref := ObjectRef{Kind: KindImageTagMirrorSet, Name: set.Name}
		for _, item := range set.Spec.ImageTagMirrors {
			add(ref, item.Source, string(item.MirrorSourcePolicy))
		}
	}
	for _, policy := range existing.ContentSourcePolicies {
		ref := ObjectRef{Kind: KindImageContentSourcePolicy, Name: policy.Name}
		for _, item := range policy.Spec.RepositoryDigestMirrors {
			add(ref, item.Source, "")
		}
	}
	return index
}
