package kubeletgc

import (
	"reflect"
	"strings"
	"testing"

	mcfgv1 "github.com/openshift/api/machineconfiguration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	workerLabel = "pools.operator.machineconfiguration.openshift.io/worker"
	masterLabel = "pools.operator.machineconfiguration.openshift.io/master"
	infraLabel  = "pools.operator.machineconfiguration.openshift.io/infra"
)

func labelSelector(key string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{key: ""}}
}

func pool(name string, labels map[string]string) mcfgv1.MachineConfigPool {
	return mcfgv1.MachineConfigPool{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

// clusterPools are the default worker and master pools plus an infra pool that also carries
// the worker label, so one selector matches two pools.
func clusterPools() []mcfgv1.MachineConfigPool {
	return []mcfgv1.MachineConfigPool{
		pool("worker", map[string]string{workerLabel: ""}),
		pool("master", map[string]string{masterLabel: ""}),
		pool("infra", map[string]string{infraLabel: "", workerLabel: ""}),
	}
}

func kubeletConfig(
	name string, selector *metav1.LabelSelector, suffix string,
) mcfgv1.KubeletConfig {
	config := mcfgv1.KubeletConfig{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       mcfgv1.KubeletConfigSpec{MachineConfigPoolSelector: selector},
	}
	if suffix != "" {
		config.Annotations = map[string]string{AnnotationMachineConfigNameSuffix: suffix}
	}

	return config
}

func TestValidateSelectorAcceptsValidSelectors(t *testing.T) {
	tests := map[string]*metav1.LabelSelector{
		"match labels": labelSelector(workerLabel),
		"match expression": {MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: workerLabel, Operator: metav1.LabelSelectorOpExists},
		}},
		"in expression": {MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "custom", Operator: metav1.LabelSelectorOpIn, Values: []string{"a", "b"}},
		}},
	}

	for name, selector := range tests {
		t.Run(name, func(t *testing.T) {
			if problems := ValidateSelector(selector); len(problems) != 0 {
				t.Errorf("ValidateSelector() = %v, want no problems", problems)
			}
		})
	}
}

func TestValidateSelectorRejectsSelectorsThatMatchNothing(t *testing.T) {
	tests := []struct {
		name     string
		selector *metav1.LabelSelector
		detail   string
	}{
		{"nil", nil, "is empty"},
		{"empty", &metav1.LabelSelector{}, "is empty"},
		{"empty maps", &metav1.LabelSelector{MatchLabels: map[string]string{},
			MatchExpressions: []metav1.LabelSelectorRequirement{}}, "is empty"},
		{"invalid key", labelSelector("bad key!"), "not a valid label selector"},
		{"invalid value", &metav1.LabelSelector{MatchLabels: map[string]string{"k": "-bad-"}},
			"not a valid label selector"},
		{"in without values", &metav1.LabelSelector{
			MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "custom", Operator: metav1.LabelSelectorOpIn},
			},
		}, "not a valid label selector"},
		{"unknown operator", &metav1.LabelSelector{
			MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "custom", Operator: "Near", Values: []string{"a"}},
			},
		}, "not a valid label selector"},
	}

	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			problems := ValidateSelector(test.selector)

			if len(problems) != 1 {
				t.Fatalf("ValidateSelector() returned %d problems, want 1: %v",
					len(problems), problems)
			}
			if problems[0].Attribute != AttributePoolSelector {
				t.Errorf("Attribute = %q, want %q", problems[0].Attribute, AttributePoolSelector)
			}
			if problems[0].Summary != "Invalid Machine Config Pool Selector" {
				t.Errorf("Summary = %q", problems[0].Summary)
			}
			if !strings.Contains(problems[0].Detail, test.detail) {
				t.Errorf("Detail = %q, want it to contain %q", problems[0].Detail, test.detail)
			}
		})
	}
}

func TestSelectedPools(t *testing.T) {
	tests := []struct {
		name     string
		selector *metav1.LabelSelector
		want     []string
	}{
		{"worker label", labelSelector(workerLabel), []string{"infra", "worker"}},
		{"master label", labelSelector(masterLabel), []string{"master"}},
		{"no pool", labelSelector("custom"), nil},
		{"does not exist", &metav1.LabelSelector{
			MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: masterLabel, Operator: metav1.LabelSelectorOpDoesNotExist},
			},
		}, []string{"infra", "worker"}},
	}

	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			got, err := SelectedPools(test.selector, clusterPools())

			if err != nil {
				t.Fatalf("SelectedPools() error = %v", err)
			}
			if !reflect.DeepEqual(got, test.want) {
				t.Errorf("SelectedPools() = %v, want %v", got, test.want)
			}
		})
	}
}

func TestSelectedPoolsRejectsEmptySelector(t *testing.T) {
	if _, err := SelectedPools(&metav1.LabelSelector{}, clusterPools()); err == nil {
		t.Error("SelectedPools(empty) error = nil, want an error")
	}
}

func TestMatchingConfigs(t *testing.T) {
	existing := []mcfgv1.KubeletConfig{
		kubeletConfig("zz-worker-tuning", labelSelector(workerLabel), "2"),
		kubeletConfig("gc", labelSelector(workerLabel), ""),
		kubeletConfig("master-max-pods", labelSelector(masterLabel), ""),
		kubeletConfig("infra-only", labelSelector(infraLabel), "1"),
		kubeletConfig("empty-selector", &metav1.LabelSelector{}, ""),
		kubeletConfig("nil-selector", nil, ""),
		kubeletConfig("invalid-selector", labelSelector("bad key!"), ""),
		kubeletConfig("all-but-master", &metav1.LabelSelector{
			MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: masterLabel, Operator: metav1.LabelSelectorOpDoesNotExist},
			},
		}, "3"),
	}

	tests := []struct {
		name   string
		target *metav1.LabelSelector
		self   string
		want   []ConfigMatch
	}{
		{
			name:   "worker target skips itself",
			target: labelSelector(workerLabel),
			self:   "gc",
			want: []ConfigMatch{
				{Name: "all-but-master", Pools: []string{"infra", "worker"},
					MachineConfigNameSuffix: "3"},
				{Name: "infra-only", Pools: []string{"infra"}, MachineConfigNameSuffix: "1"},
				{Name: "zz-worker-tuning", Pools: []string{"infra", "worker"},
					MachineConfigNameSuffix: "2"},
			},
		},
		{
			name:   "new master config",
			target: labelSelector(masterLabel),
			self:   "new-gc",
			want:   []ConfigMatch{{Name: "master-max-pods", Pools: []string{"master"}}},
		},
		{
			name:   "infra target",
			target: labelSelector(infraLabel),
			self:   "infra-only",
			want: []ConfigMatch{
				{Name: "all-but-master", Pools: []string{"infra"}, MachineConfigNameSuffix: "3"},
				{Name: "gc", Pools: []string{"infra"}},
				{Name: "zz-worker-tuning", Pools: []string{"infra"},
					MachineConfigNameSuffix: "2"},
			},
		},
		{
			name:   "target selecting no pool",
			target: labelSelector("custom"),
			self:   "gc",
			want:   nil,
		},
	}

	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			got, err := MatchingConfigs(test.target, test.self, existing, clusterPools())

			if err != nil {
				t.Fatalf("MatchingConfigs() error = %v", err)
			}
			if !reflect.DeepEqual(got, test.want) {
				t.Errorf("MatchingConfigs() = %+v, want %+v", got, test.want)
			}
		})
	}
}

func TestMatchingConfigsRejectsInvalidTarget(t *testing.T) {
	existing := []mcfgv1.KubeletConfig{kubeletConfig("a", labelSelector(workerLabel), "")}

	for name, target := range map[string]*metav1.LabelSelector{
		"nil":     nil,
		"empty":   {},
		"invalid": labelSelector("bad key!"),
	} {
		t.Run(name, func(t *testing.T) {
			got, err := MatchingConfigs(target, "gc", existing, clusterPools())

			if err == nil {
				t.Errorf("MatchingConfigs() = %+v, want an error", got)
			}
		})
	}
}

func TestValidatePoolName(t *testing.T) {
	valid := []string{"worker", "master", "infra-2", "gpu.a100", strings.Repeat("a", 63)}
	for _, name := range valid {
		if problems := ValidatePoolName(name); len(problems) != 0 {
			t.Errorf("ValidatePoolName(%q) = %v, want no problems", name, problems)
		}
	}

	invalid := map[string]string{
		"":                             "must consist of lower case",
		"worker pool":                  "must consist of lower case",
		"Worker":                       "must consist of lower case",
		"-worker":                      "must consist of lower case",
		strings.Repeat("a", 64):        "the name part must be no more than 63 bytes",
		"worker/infra":                 "must consist of lower case",
		"a." + strings.Repeat("b", 62): "the name part must be no more than 63 bytes",
	}
	for name, reason := range invalid {
		problems := ValidatePoolName(name)
		if len(problems) != 1 {
			t.Errorf("ValidatePoolName(%q) = %v, want one problem", name, problems)
			continue
		}
		if problems[0].Attribute != AttributePool {
			t.Errorf("ValidatePoolName(%q) attribute = %s, want %s", name,
				problems[0].Attribute, AttributePool)
		}
		if !strings.Contains(problems[0].Detail, reason) {
			t.Errorf("ValidatePoolName(%q) detail = %q, want it to contain %q", name,
				problems[0].Detail, reason)
		}
	}
}
