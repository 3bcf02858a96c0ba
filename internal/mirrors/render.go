package mirrors

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	configv1 "github.com/openshift/api/config/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Pull types select the pulls that the rules apply to. An ImageDigestMirrorSet serves only pulls by
// digest and an ImageTagMirrorSet only pulls by tag, so "both" renders one of each.
const (
	PullTypeDigest = "digest"
	PullTypeTag    = "tag"
	PullTypeBoth   = "both"
)

// PullTypes lists the valid pull types, for schema validators and messages.
var PullTypes = []string{PullTypeDigest, PullTypeTag, PullTypeBoth}

// Kinds of the objects that carry mirror rules.
const (
	KindImageDigestMirrorSet     = "ImageDigestMirrorSet"
	KindImageTagMirrorSet        = "ImageTagMirrorSet"
	KindImageContentSourcePolicy = "ImageContentSourcePolicy"
)

// ObjectRef names a cluster-scoped object by kind and name.
type ObjectRef struct {
	Kind string
	Name string
}

// String formats the reference as kind/name, the form oc and kubectl accept.
func (r ObjectRef) String() string {
	return r.Kind + "/" + r.Name
}

// OwnObjects returns the objects that Render creates for name and pullType.
func OwnObjects(name, pullType string) []ObjectRef {
	var refs []ObjectRef
	if pullType == PullTypeDigest || pullType == PullTypeBoth {
		refs = append(refs, ObjectRef{Kind: KindImageDigestMirrorSet, Name: name})
	}
	if pullType == PullTypeTag || pullType == PullTypeBoth {
		refs = append(refs, ObjectRef{Kind: KindImageTagMirrorSet, Name: name})
	}
	return refs
}

// Rendered holds the objects built from one set of rules. A field is nil when the pull type
// does not call for that kind.
type Rendered struct {
	DigestMirrorSet *configv1.ImageDigestMirrorSet
	TagMirrorSet    *configv1.ImageTagMirrorSet
}

// Render builds the ImageDigestMirrorSet and/or ImageTagMirrorSet named name for pullType,
// with the rules in the given order and each rule's mirrors in the given order, because
// OpenShift tries mirrors in list order. labels are copied onto every object. Render returns
// an error for an invalid name or pull type, and for rules that ValidateRules rejects, so
// nothing it returns fails OpenShift's own checks for the same reasons.
func Render(name, pullType string, rules []Rule, labels map[string]string) (Rendered, error) {
	if messages := validation.IsDNS1123Subdomain(name); len(messages) > 0 {
		return Rendered{}, fmt.Errorf("invalid mirror set name %q: %s",
			name, strings.Join(messages, "; "))
	}
	if !slices.Contains(PullTypes, pullType) {
		return Rendered{}, fmt.Errorf("invalid pull type %q: use one of %s",
			pullType, strings.Join(PullTypes, ", "))
	}
	if problems := ValidateRules(rules); len(problems) > 0 {
		errs := make([]error, len(problems))
		for i, problem := range problems {
			errs[i] = problem
		}
		return Rendered{}, fmt.Errorf("invalid mirror rules: %w", errors.Join(errs...))
	}

	var rendered Rendered
	if pullType == PullTypeDigest || pullType == PullTypeBoth {
		rendered.DigestMirrorSet = &configv1.ImageDigestMirrorSet{
			TypeMeta:   typeMeta(KindImageDigestMirrorSet),
			ObjectMeta: objectMeta(name, labels),
			Spec:       configv1.ImageDigestMirrorSetSpec{ImageDigestMirrors: digestMirrors(rules)},
		}
	}
	if pullType == PullTypeTag || pullType == PullTypeBoth {
		rendered.TagMirrorSet = &configv1.ImageTagMirrorSet{
			TypeMeta:   typeMeta(KindImageTagMirrorSet),
			ObjectMeta: objectMeta(name, labels),
			Spec:       configv1.ImageTagMirrorSetSpec{ImageTagMirrors: tagMirrors(rules)},
		}
	}
	return rendered, nil
}

func typeMeta(kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: configv1.GroupVersion.String(), Kind: kind}
}

func objectMeta(name string, labels map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Labels: maps.Clone(labels)}
}

func digestMirrors(rules []Rule) []configv1.ImageDigestMirrors {
	items := make([]configv1.ImageDigestMirrors, len(rules))
	for i, rule := range rules {
		items[i] = configv1.ImageDigestMirrors{
			Source:             rule.Source,
			Mirrors:            toImageMirrors(rule.Mirrors),
			MirrorSourcePolicy: configv1.MirrorSourcePolicy(rule.Policy),
		}
	}
	return items
}

func tagMirrors(rules []Rule) []configv1.ImageTagMirrors {
	items := make([]configv1.ImageTagMirrors, len(rules))
	for i, rule := range rules {
		items[i] = configv1.ImageTagMirrors{
			Source:             rule.Source,
			Mirrors:            toImageMirrors(rule.Mirrors),
			MirrorSourcePolicy: configv1.MirrorSourcePolicy(rule.Policy),
		}
	}
	return items
}

func toImageMirrors(mirrors []string) []configv1.ImageMirror {
	if len(mirrors) == 0 {
		return nil
	}
	out := make([]configv1.ImageMirror, len(mirrors))
	for i, mirror := range mirrors {
		out[i] = configv1.ImageMirror(mirror)
	}
	return out
}

func fromImageMirrors(mirrors []configv1.ImageMirror) []string {
	if len(mirrors) == 0 {
		return nil
	}
	out := make([]string, len(mirrors))
	for i, mirror := range mirrors {
		out[i] = string(mirror)
	}
	return out
}

// Observed is the state that FromObjects reads back from the cluster.
type Observed struct {
	// PullType is derived from which objects exist.
	PullType string
	// Rules are the ImageDigestMirrorSet's rules, or the ImageTagMirrorSet's when only that
	// object exists.
	Rules []Rule
	// TagRules are the ImageTagMirrorSet's rules when PullType is "both", and nil otherwise.
	TagRules []Rule
	// TagRulesDiffer reports that PullType is "both" but the two objects carry different rules,
	// which happens only when someone edits one of them outside this provider. Rules then
	// follows the ImageDigestMirrorSet, so a caller that compares only Rules misses the drift.
	TagRulesDiffer bool
	// Labels are the labels of the ImageDigestMirrorSet, or of the ImageTagMirrorSet when only
	// that object exists, including labels that other clients set. When both exist, they are
	// the labels that both carry with the same value, so that a label edited or removed on
	// either object is missing and shows as drift.
	Labels map[string]string
}

// ErrNotFound is returned by FromObjects when neither object exists.
var ErrNotFound = errors.New("no ImageDigestMirrorSet or ImageTagMirrorSet found")

// FromObjects reads rules back from the objects that Render built, for Read and import. Either
// object may be nil. It keeps rule and mirror order as stored.
func FromObjects(
	digestSet *configv1.ImageDigestMirrorSet, tagSet *configv1.ImageTagMirrorSet,
) (Observed, error) {
	switch {
	case digestSet == nil && tagSet == nil:
		return Observed{}, ErrNotFound
	case tagSet == nil:
		return Observed{
			PullType: PullTypeDigest,
			Rules:    rulesFromDigestSet(digestSet),
			Labels:   maps.Clone(digestSet.Labels),
		}, nil
	case digestSet == nil:
		return Observed{
			PullType: PullTypeTag,
			Rules:    rulesFromTagSet(tagSet),
			Labels:   maps.Clone(tagSet.Labels),
		}, nil
	}

	if digestSet.Name != tagSet.Name {
		return Observed{}, fmt.Errorf("ImageDigestMirrorSet %q and ImageTagMirrorSet %q "+
			"have different names, so they do not belong to one mirror resource",
			digestSet.Name, tagSet.Name)
	}
	rules := rulesFromDigestSet(digestSet)
	tagRules := rulesFromTagSet(tagSet)
	return Observed{
		PullType:       PullTypeBoth,
		Rules:          rules,
		TagRules:       tagRules,
		TagRulesDiffer: !slices.EqualFunc(rules, tagRules, equalRule),
		Labels:         commonLabels(digestSet.Labels, tagSet.Labels),
	}, nil
}

// commonLabels returns the labels that a and b both carry with the same value.
func commonLabels(a, b map[string]string) map[string]string {
	common := map[string]string{}
	for key, value := range a {
		if other, ok := b[key]; ok && other == value {
			common[key] = value
		}
	}
	return common
}

func rulesFromDigestSet(set *configv1.ImageDigestMirrorSet) []Rule {
	rules := make([]Rule, len(set.Spec.ImageDigestMirrors))
	for i, item := range set.Spec.ImageDigestMirrors {
		rules[i] = Rule{
			Source:  item.Source,
			Mirrors: fromImageMirrors(item.Mirrors),
			Policy:  string(item.MirrorSourcePolicy),
		}
	}
	return rules
}

func rulesFromTagSet(set *configv1.ImageTagMirrorSet) []Rule {
	rules := make([]Rule, len(set.Spec.ImageTagMirrors))
	for i, item := range set.Spec.ImageTagMirrors {
		rules[i] = Rule{
			Source:  item.Source,
			Mirrors: fromImageMirrors(item.Mirrors),
			Policy:  string(item.MirrorSourcePolicy),
		}
	}
	return rules
}

func equalRule(a, b Rule) bool {
	return a.Source == b.Source && a.Policy == b.Policy && slices.Equal(a.Mirrors, b.Mirrors)
}
