package kubeletgc

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	mcfgv1 "github.com/openshift/api/machineconfiguration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
)

// PoolLabelPrefix, followed by the pool name, is the label key that the machine-config
// operator puts on each pool it creates, such as
// pools.operator.machineconfiguration.openshift.io/worker.
const PoolLabelPrefix = "pools.operator.machineconfiguration.openshift.io/"

// MaxConfigsPerPool is the number of KubeletConfigs the machine-config operator renders for
// one pool: one MachineConfig without a suffix and nine with the suffixes 1 to 9.
const MaxConfigsPerPool = 10

// ValidateSelector checks a machineConfigPoolSelector. The machine-config operator skips a
// KubeletConfig whose selector is missing or empty, so such a selector is a problem rather than
// "every pool", and so is a selector that metav1.LabelSelectorAsSelector rejects.
func ValidateSelector(selector *metav1.LabelSelector) []Problem {
	if selector == nil ||
		(len(selector.MatchLabels) == 0 && len(selector.MatchExpressions) == 0) {
		return []Problem{{
			Attribute: AttributePoolSelector,
			Summary:   summaryPoolSelector,
			Detail: "machine_config_pool_selector is empty, and the machine-config operator " +
				"applies a KubeletConfig with an empty selector to no pool. Select a pool " +
				"by its labels, such as " +
				"pools.operator.machineconfiguration.openshift.io/worker = \"\".",
		}}
	}

	if _, err := metav1.LabelSelectorAsSelector(selector); err != nil {
		return []Problem{{
			Attribute: AttributePoolSelector,
			Summary:   summaryPoolSelector,
			Detail: fmt.Sprintf("machine_config_pool_selector is not a valid label "+
				"selector: %v. Use valid label keys and values.", err),
		}}
	}

	return nil
}

// ValidatePoolName checks a pool named in machine_config_pool: it must be a valid object name
// (a DNS-1123 subdomain), and PoolLabelPrefix followed by it a valid label key, whose name
// part has at most 63 characters.
func ValidatePoolName(name string) []Problem {
	var reasons []string
	reasons = append(reasons, validation.IsDNS1123Subdomain(name)...)
	if len(reasons) == 0 {
		for _, reason := range validation.IsQualifiedName(PoolLabelPrefix + name) {
			reasons = append(reasons, "in the pool's label key "+PoolLabelPrefix+name+
				", the "+reason)
		}
	}
	if len(reasons) == 0 {
		return nil
	}
	return []Problem{{
		Attribute: AttributePool,
		Summary:   summaryPool,
		Detail: fmt.Sprintf("machine_config_pool %q is not the name of a machine config "+
			"pool: %s. Use the pool's name as `oc get machineconfigpool` lists it, such as "+
			"worker.", name, strings.Join(reasons, "; ")),
	}}
}

// poolSelector converts a KubeletConfig selector the way the machine-config operator treats
// it: nil, empty or invalid selectors select nothing, and ok is false for them.
func poolSelector(selector *metav1.LabelSelector) (labels.Selector, bool) {
	converted, err := metav1.LabelSelectorAsSelector(selector)
	if err != nil || converted.Empty() {
		return nil, false
	}

	return converted, true
}

// SelectedPools returns the sorted names of the pools whose labels match selector. It returns
// an error for a selector that ValidateSelector rejects.
func SelectedPools(
	selector *metav1.LabelSelector, pools []mcfgv1.MachineConfigPool,
) ([]string, error) {
	if problems := ValidateSelector(selector); len(problems) > 0 {
		return nil, fmt.Errorf("%s", problems[0].Detail)
	}
	converted, _ := poolSelector(selector)

	return matchPools(converted, pools), nil
}

func matchPools(selector labels.Selector, pools []mcfgv1.MachineConfigPool) []string {
	var names []string
	for _, pool := range pools {
		if selector.Matches(labels.Set(pool.Labels)) {
			names = append(names, pool.Name)
		}
	}
	sort.Strings(names)

	return names
}

// ConfigMatch is an existing KubeletConfig that selects at least one of the pools that the
// target selector selects.
type ConfigMatch struct {
	// Name is the KubeletConfig's name.
	Name string
	// Pools are the sorted names of the pools that both selectors select.
	Pools []string
	// MachineConfigNameSuffix is the value of the AnnotationMachineConfigNameSuffix annotation
	// ("" for the first KubeletConfig of a pool). The machine-config operator merges the
	// generated MachineConfigs in lexical name order, and each carries a whole kubelet.conf,
	// so the one with the higher suffix replaces the file of the lower ones.
	// NOTE: that each file is whole comes from reading the operator's kubelet-config
	// controller, not from a cluster.
	MachineConfigNameSuffix string
}

// MatchingConfigs returns the KubeletConfigs in existing, other than the one named self, that
// select one of the pools that target selects, sorted by name. OpenShift merges all of them
// into the pool's kubelet configuration, up to MaxConfigsPerPool per pool, so the caller can
// report them before it creates another one. Existing KubeletConfigs with empty or invalid
// selectors select no pool, as in the machine-config operator. MatchingConfigs returns an error
// for a target selector that ValidateSelector rejects.
func MatchingConfigs(
	target *metav1.LabelSelector, self string, existing []mcfgv1.KubeletConfig,
	pools []mcfgv1.MachineConfigPool,
) ([]ConfigMatch, error) {
	targetPools, err := SelectedPools(target, pools)
	if err != nil {
		return nil, err
	}
	var targeted []mcfgv1.MachineConfigPool
	for _, pool := range pools {
		if slices.Contains(targetPools, pool.Name) {
			targeted = append(targeted, pool)
		}
	}

	var matches []ConfigMatch
	for _, config := range existing {
		if config.Name == self {
			continue
		}
		selector, ok := poolSelector(config.Spec.MachineConfigPoolSelector)
		if !ok {
			continue
		}
		shared := matchPools(selector, targeted)
		if len(shared) == 0 {
			continue
		}
		matches = append(matches, ConfigMatch{
			Name:                    config.Name,
			Pools:                   shared,
			MachineConfigNameSuffix: config.Annotations[AnnotationMachineConfigNameSuffix],
		})
	}
	sort.Slice(matches, func(i, j int) bool { return matches[i].Name < matches[j].Name })

	return matches, nil
}
