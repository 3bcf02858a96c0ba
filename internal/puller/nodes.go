package puller

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	schedulingcorev1 "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
)

// SelectedNodes returns the sorted names of the nodes on which the DaemonSet controller runs a
// pod of ds, by the rules of the controller in Kubernetes v1.37.2 (NodeShouldRunDaemonPod in
// pkg/controller/daemon):
//
//   - the pod template's nodeName, when set, names the node;
//   - the node matches the template's nodeSelector and its required node affinity;
//   - the template's tolerations, plus those the controller adds to every daemon pod, tolerate
//     each NoSchedule and NoExecute taint of the node.
//
// The controller adds tolerations for the not-ready and unreachable NoExecute taints and the
// disk-pressure, memory-pressure, pid-pressure and unschedulable NoSchedule taints. It adds
// one for network-unavailable only to pods with hostNetwork, which the pods that DaemonSet
// renders do not use. A cordoned node (spec.unschedulable) still runs a daemon pod, because
// the controller looks only at the node's taints. Toleration operators Lt and Gt match
// nothing, as with the TaintTolerationComparisonOperators feature gate off, its default in
// v1.37.
//
// A node outside the result that runs a pod started before the node gained a NoSchedule
// taint keeps that pod, but SelectedNodes does not count it.
func SelectedNodes(ds *appsv1.DaemonSet, nodes []corev1.Node) []string {
	selected, _ := SelectNodes(ds, nodes)
	return selected
}

// Exclusion is a node on which the DaemonSet controller runs no pod of a DaemonSet, and why.
type Exclusion struct {
	Node   string
	Reason string // such as `taint "node-role.kubernetes.io/master:NoSchedule" not tolerated`
}

// SelectNodes returns what SelectedNodes returns, and every other node with the first rule it
// fails, sorted by node name.
func SelectNodes(ds *appsv1.DaemonSet, nodes []corev1.Node) ([]string, []Exclusion) {
	if ds == nil {
		return nil, nil
	}

	template := ds.Spec.Template.Spec
	tolerations := daemonPodTolerations(template)
	affinity := nodeaffinity.NewRequiredNodeAffinity(template.NodeSelector, template.Affinity)

	var selected []string
	var excluded []Exclusion
	seen := map[string]bool{}
	for i := range nodes {
		node := &nodes[i]
		if seen[node.Name] {
			continue
		}
		seen[node.Name] = true
		if template.NodeName != "" && template.NodeName != node.Name {
			excluded = append(excluded, Exclusion{node.Name,
				fmt.Sprintf("the pod template names node %q", template.NodeName)})
			continue
		}
		if matches, _ := affinity.Match(node); !matches {
			excluded = append(excluded, Exclusion{node.Name,
				"its labels do not match the node selector or node affinity"})
			continue
		}
		taint, untolerated := schedulingcorev1.FindMatchingUntoleratedTaint(logr.Discard(),
			node.Spec.Taints, tolerations, isSchedulingTaint, false)
		if untolerated {
			excluded = append(excluded, Exclusion{node.Name,
				fmt.Sprintf("taint %q is not tolerated", taint.ToString())})
			continue
		}
		selected = append(selected, node.Name)
	}

	slices.Sort(selected)
	slices.SortFunc(excluded, func(a, b Exclusion) int { return cmp.Compare(a.Node, b.Node) })
	return selected, excluded
}

// daemonToleration is a toleration with operator Exists that the DaemonSet controller adds.
type daemonToleration struct {
	key    string
	effect corev1.TaintEffect
}

// daemonTolerations are the tolerations the controller adds to every daemon pod.
var daemonTolerations = []daemonToleration{
	{corev1.TaintNodeNotReady, corev1.TaintEffectNoExecute},
	{corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute},
	{corev1.TaintNodeDiskPressure, corev1.TaintEffectNoSchedule},
	{corev1.TaintNodeMemoryPressure, corev1.TaintEffectNoSchedule},
	{corev1.TaintNodePIDPressure, corev1.TaintEffectNoSchedule},
	{corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule},
}

// daemonPodTolerations returns the template's tolerations plus the ones the DaemonSet
// controller adds to each pod it creates.
func daemonPodTolerations(template corev1.PodSpec) []corev1.Toleration {
	added := daemonTolerations
	if template.HostNetwork {
		added = append(slices.Clone(added), daemonToleration{
			corev1.TaintNodeNetworkUnavailable, corev1.TaintEffectNoSchedule,
		})
	}

	tolerations := slices.Clone(template.Tolerations)
	for _, toleration := range added {
		tolerations = append(tolerations, corev1.Toleration{
			Key:      toleration.key,
			Operator: corev1.TolerationOpExists,
			Effect:   toleration.effect,
		})
	}
	return tolerations
}

func isSchedulingTaint(taint *corev1.Taint) bool {
	return taint.Effect == corev1.TaintEffectNoSchedule ||
		taint.Effect == corev1.TaintEffectNoExecute
}
