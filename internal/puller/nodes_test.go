package puller

import (
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func node(name string, labels map[string]string, taints ...corev1.Taint) corev1.Node {
	return corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec:       corev1.NodeSpec{Taints: taints},
	}
}

func taint(key, value string, effect corev1.TaintEffect) corev1.Taint {
	return corev1.Taint{Key: key, Value: value, Effect: effect}
}

func requiredAffinity(requirements ...corev1.NodeSelectorRequirement) *corev1.Affinity {
	return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: requirements}},
		},
	}}
}

func TestSelectedNodes(t *testing.T) {
	worker := map[string]string{"node-role.kubernetes.io/worker": ""}

	tests := []struct {
		name   string
		spec   Spec
		modify func(*appsv1.DaemonSet)
		nodes  []corev1.Node
		want   []string
	}{
		{
			name:  "no nodes",
			nodes: nil,
			want:  nil,
		},
		{
			name: "untainted nodes sorted",
			nodes: []corev1.Node{
				node("c", nil), node("a", nil), node("b", nil),
			},
			want: []string{"a", "b", "c"},
		},
		{
			name: "NoSchedule taint excludes",
			nodes: []corev1.Node{
				node("master", nil, taint("node-role.kubernetes.io/master", "",
					corev1.TaintEffectNoSchedule)),
				node("worker", nil),
			},
			want: []string{"worker"},
		},
		{
			name: "NoExecute taint excludes",
			nodes: []corev1.Node{
				node("drained", nil, taint("maintenance", "true", corev1.TaintEffectNoExecute)),
				node("worker", nil),
			},
			want: []string{"worker"},
		},
		{
			name: "PreferNoSchedule taint ignored",
			nodes: []corev1.Node{
				node("soft", nil, taint("spot", "true", corev1.TaintEffectPreferNoSchedule)),
			},
			want: []string{"soft"},
		},
		{
			name: "controller tolerations",
			nodes: []corev1.Node{
				node("not-ready", nil, taint(corev1.TaintNodeNotReady, "",
					corev1.TaintEffectNoExecute)),
				node("unreachable", nil, taint(corev1.TaintNodeUnreachable, "",
					corev1.TaintEffectNoExecute)),
				node("disk", nil, taint(corev1.TaintNodeDiskPressure, "",
					corev1.TaintEffectNoSchedule)),
				node("memory", nil, taint(corev1.TaintNodeMemoryPressure, "",
					corev1.TaintEffectNoSchedule)),
				node("pid", nil, taint(corev1.TaintNodePIDPressure, "",
					corev1.TaintEffectNoSchedule)),
				node("cordoned", nil, taint(corev1.TaintNodeUnschedulable, "",
					corev1.TaintEffectNoSchedule)),
			},
			want: []string{"cordoned", "disk", "memory", "not-ready", "pid", "unreachable"},
		},
		{
			name: "not-ready NoSchedule not tolerated",
			nodes: []corev1.Node{
				node("starting", nil, taint(corev1.TaintNodeNotReady, "",
					corev1.TaintEffectNoSchedule)),
			},
			want: nil,
		},
		{
			name: "network-unavailable without hostNetwork",
			nodes: []corev1.Node{
				node("no-network", nil, taint(corev1.TaintNodeNetworkUnavailable, "",
					corev1.TaintEffectNoSchedule)),
				node("worker", nil),
			},
			want: []string{"worker"},
		},
		{
			name:   "network-unavailable with hostNetwork",
			modify: func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.HostNetwork = true },
			nodes: []corev1.Node{
				node("no-network", nil, taint(corev1.TaintNodeNetworkUnavailable, "",
					corev1.TaintEffectNoSchedule)),
			},
			want: []string{"no-network"},
		},
		{
			name: "cordoned without taint",
			nodes: []corev1.Node{{
				ObjectMeta: metav1.ObjectMeta{Name: "cordoned"},
				Spec:       corev1.NodeSpec{Unschedulable: true},
			}},
			want: []string{"cordoned"},
		},
		{
			name: "toleration Equal matches value",
			spec: Spec{Tolerations: []corev1.Toleration{{
				Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "build",
				Effect: corev1.TaintEffectNoSchedule,
			}}},
			nodes: []corev1.Node{
				node("build", nil, taint("dedicated", "build", corev1.TaintEffectNoSchedule)),
				node("gpu", nil, taint("dedicated", "gpu", corev1.TaintEffectNoSchedule)),
				node("build-exec", nil, taint("dedicated", "build",
					corev1.TaintEffectNoExecute)),
			},
			want: []string{"build"},
		},
		{
			name: "toleration Exists for a key",
			spec: Spec{Tolerations: []corev1.Toleration{{
				Key: "dedicated", Operator: corev1.TolerationOpExists,
			}}},
			nodes: []corev1.Node{
				node("build", nil, taint("dedicated", "build", corev1.TaintEffectNoSchedule)),
				node("gpu", nil, taint("dedicated", "gpu", corev1.TaintEffectNoExecute)),
				node("other", nil, taint("other", "", corev1.TaintEffectNoSchedule)),
			},
			want: []string{"build", "gpu"},
		},
		{
			name: "toleration Exists for all",
			spec: Spec{Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}}},
			nodes: []corev1.Node{
				node("master", nil, taint("node-role.kubernetes.io/master", "",
					corev1.TaintEffectNoSchedule)),
				node("other", nil, taint("other", "x", corev1.TaintEffectNoExecute)),
			},
			want: []string{"master", "other"},
		},
		{
			name: "one of two taints untolerated",
			spec: Spec{Tolerations: []corev1.Toleration{{
				Key: "a", Operator: corev1.TolerationOpExists,
			}}},
			nodes: []corev1.Node{
				node("both", nil, taint("a", "", corev1.TaintEffectNoSchedule),
					taint("b", "", corev1.TaintEffectNoSchedule)),
			},
			want: nil,
		},
		{
			name: "comparison operators off",
			spec: Spec{Tolerations: []corev1.Toleration{{
				Key: "level", Operator: corev1.TolerationOpGt, Value: "1",
				Effect: corev1.TaintEffectNoSchedule,
			}}},
			nodes: []corev1.Node{
				node("level-5", nil, taint("level", "5", corev1.TaintEffectNoSchedule)),
			},
			want: nil,
		},
		{
			name: "node selector",
			spec: Spec{NodeSelector: worker},
			nodes: []corev1.Node{
				node("w1", worker),
				node("m1", map[string]string{"node-role.kubernetes.io/master": ""}),
				node("w2", map[string]string{"node-role.kubernetes.io/worker": "",
					"extra": "x"}),
			},
			want: []string{"w1", "w2"},
		},
		{
			name: "affinity In",
			spec: Spec{Affinity: requiredAffinity(corev1.NodeSelectorRequirement{
				Key: "kubernetes.io/arch", Operator: corev1.NodeSelectorOpIn,
				Values: []string{"amd64"},
			})},
			nodes: []corev1.Node{
				node("x86", map[string]string{"kubernetes.io/arch": "amd64"}),
				node("arm", map[string]string{"kubernetes.io/arch": "arm64"}),
				node("unlabelled", nil),
			},
			want: []string{"x86"},
		},
		{
			name: "affinity NotIn",
			spec: Spec{Affinity: requiredAffinity(corev1.NodeSelectorRequirement{
				Key: "kubernetes.io/arch", Operator: corev1.NodeSelectorOpNotIn,
				Values: []string{"amd64"},
			})},
			nodes: []corev1.Node{
				node("x86", map[string]string{"kubernetes.io/arch": "amd64"}),
				node("arm", map[string]string{"kubernetes.io/arch": "arm64"}),
				node("unlabelled", nil),
			},
			want: []string{"arm", "unlabelled"},
		},
		{
			name: "affinity terms ORed",
			spec: Spec{Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
					NodeSelectorTerms: []corev1.NodeSelectorTerm{
						{MatchExpressions: []corev1.NodeSelectorRequirement{{
							Key: "zone", Operator: corev1.NodeSelectorOpIn,
							Values: []string{"a"},
						}}},
						{MatchFields: []corev1.NodeSelectorRequirement{{
							Key: "metadata.name", Operator: corev1.NodeSelectorOpIn,
							Values: []string{"special"},
						}}},
					},
				},
			}}},
			nodes: []corev1.Node{
				node("in-a", map[string]string{"zone": "a"}),
				node("in-b", map[string]string{"zone": "b"}),
				node("special", map[string]string{"zone": "b"}),
			},
			want: []string{"in-a", "special"},
		},
		{
			name: "preferred affinity ignored",
			spec: Spec{Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
				PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{
					Weight: 1,
					Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.
						NodeSelectorRequirement{{
						Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"},
					}}},
				}},
			}}},
			nodes: []corev1.Node{node("in-b", map[string]string{"zone": "b"})},
			want:  []string{"in-b"},
		},
		{
			name: "selector and affinity both apply",
			spec: Spec{
				NodeSelector: worker,
				Affinity: requiredAffinity(corev1.NodeSelectorRequirement{
					Key: "zone", Operator: corev1.NodeSelectorOpExists,
				}),
			},
			nodes: []corev1.Node{
				node("worker-zoned", map[string]string{"node-role.kubernetes.io/worker": "",
					"zone": "a"}),
				node("worker", worker),
				node("zoned", map[string]string{"zone": "a"}),
			},
			want: []string{"worker-zoned"},
		},
		{
			name: "invalid affinity matches nothing",
			spec: Spec{Affinity: requiredAffinity(corev1.NodeSelectorRequirement{
				Key: "zone", Operator: corev1.NodeSelectorOpGt, Values: []string{"x"},
			})},
			nodes: []corev1.Node{node("a", map[string]string{"zone": "5"})},
			want:  nil,
		},
		{
			name:   "template node name",
			modify: func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.NodeName = "b" },
			nodes:  []corev1.Node{node("a", nil), node("b", nil)},
			want:   []string{"b"},
		},
		{
			name:  "duplicate node listed once",
			nodes: []corev1.Node{node("a", nil), node("a", nil)},
			want:  []string{"a"},
		},
	}

	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			spec := test.spec
			spec.Name, spec.Namespace = "cache", "imagedist"
			ds := DaemonSet(spec)
			if test.modify != nil {
				test.modify(ds)
			}

			got := SelectedNodes(ds, test.nodes)
			if !slices.Equal(got, test.want) {
				t.Errorf("SelectedNodes = %q, want %q", got, test.want)
			}
		})
	}
}

func TestSelectedNodesNilDaemonSet(t *testing.T) {
	if got := SelectedNodes(nil, []corev1.Node{node("a", nil)}); got != nil {
		t.Errorf("SelectedNodes(nil) = %q, want nil", got)
	}
}

func TestSelectedNodesKeepsTemplate(t *testing.T) {
	ds := DaemonSet(Spec{Name: "cache", Tolerations: []corev1.Toleration{{Key: "a",
		Operator: corev1.TolerationOpExists}}})
	ds.Spec.Template.Spec.Tolerations = slices.Grow(ds.Spec.Template.Spec.Tolerations, 10)

	SelectedNodes(ds, []corev1.Node{node("a", nil)})

	if got := len(ds.Spec.Template.Spec.Tolerations); got != 1 {
		t.Errorf("template has %d tolerations after SelectedNodes, want 1", got)
	}
	spare := ds.Spec.Template.Spec.Tolerations[:2]
	if spare[1].Key != "" {
		t.Errorf("SelectedNodes wrote into the template's spare capacity: %+v", spare[1])
	}
}

func TestSelectNodesExclusions(t *testing.T) {
	daemonSet := &appsv1.DaemonSet{}
	daemonSet.Spec.Template.Spec.NodeSelector = map[string]string{"role": "worker"}
	node := func(name string, labels map[string]string, taints ...corev1.Taint) corev1.Node {
		var n corev1.Node
		n.Name = name
		n.Labels = labels
		n.Spec.Taints = taints
		return n
	}
	worker := map[string]string{"role": "worker"}
	nodes := []corev1.Node{
		node("c-tainted", worker, corev1.Taint{Key: "dedicated", Value: "gpu",
			Effect: corev1.TaintEffectNoSchedule}),
		node("a-worker", worker),
		node("b-infra", map[string]string{"role": "infra"}),
		node("a-worker", worker),
	}

	selected, excluded := SelectNodes(daemonSet, nodes)

	if want := []string{"a-worker"}; !slices.Equal(selected, want) {
		t.Errorf("selected = %v, want %v", selected, want)
	}
	want := []Exclusion{
		{"b-infra", "its labels do not match the node selector or node affinity"},
		{"c-tainted", `taint "dedicated=gpu:NoSchedule" is not tolerated`},
	}
	if !slices.Equal(excluded, want) {
		t.Errorf("excluded = %v, want %v", excluded, want)
	}
}
