package nodeimages

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	mcfgv1 "github.com/openshift/api/machineconfiguration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/imagedist/terraform-provider-imagedist/internal/kubeletgc"

	"github.com/imagedist/terraform-provider-imagedist/internal/paging"
)

// Reasons of the kubelet's Warning events about a node's image garbage collection
// (pkg/kubelet/events, Kubernetes v1.37.2).
const (
	// ReasonImageGCFailed is a garbage collection run that failed, such as one that could
	// not free enough space.
	ReasonImageGCFailed = "ImageGCFailed"
	// ReasonFreeDiskSpaceFailed is a failure to free the space that disk pressure asked for.
	ReasonFreeDiskSpaceFailed = "FreeDiskSpaceFailed"
)

// nodeWarningSelector selects the Warning events about nodes, which include both reasons.
// Field selectors cannot express "reason is one of", so the reasons are matched here.
const nodeWarningSelector = "involvedObject.kind=Node,type=Warning"

// eventNamespace is the namespace in which the kubelet's event recorder
// (k8s.io/client-go/tools/record, v0.37.2) records events about cluster-scoped objects such
// as nodes. Any account that may
// create events in another namespace can put events about nodes there, so those are not read.
const eventNamespace = metav1.NamespaceDefault

// eventPageSize is the number of events requested per list page.
const eventPageSize = 500

// GCFailures are a node's image garbage collection failures among the events that the API
// server still keeps, one hour by default (--event-ttl).
type GCFailures struct {
	// Count is the number of failures, with each event's repeat count.
	Count int64
	// LastMessage and LastTime are those of the latest failure.
	LastMessage string
	LastTime    time.Time
}

// ReadGCFailures lists the Warning events about nodes in the namespace default, page by page,
// and returns the image garbage collection failures by node name. Nodes without failures are
// not in the map. When the list's continue token expires, it starts over once.
func ReadGCFailures(ctx context.Context, client corev1client.EventsGetter,
) (map[string]GCFailures, error) {
	failures, err := listGCFailures(ctx, client)
	if err != nil && isExpired(err) {
		failures, err = listGCFailures(ctx, client)
	}
	if err != nil {
		return nil, &RequestError{Verb: "list events about", Err: err}
	}
	return failures, nil
}

func listGCFailures(ctx context.Context, client corev1client.EventsGetter,
) (map[string]GCFailures, error) {
	failures := map[string]GCFailures{}
	options := metav1.ListOptions{FieldSelector: nodeWarningSelector, Limit: eventPageSize}
	tokens := paging.Tokens{}
	for {
		page, err := client.Events(eventNamespace).List(ctx, options)
		if err != nil {
			return nil, err
		}
		for i := range page.Items {
			AddGCFailure(failures, &page.Items[i])
		}
		if page.Continue == "" {
			return failures, nil
		}
		if err := tokens.Follow(page.Continue); err != nil {
			return nil, err
		}
		options.Continue = page.Continue
	}
}

// AddGCFailure adds event to failures when it is an image garbage collection failure about
// a node.
func AddGCFailure(failures map[string]GCFailures, event *corev1.Event) {
	if event.InvolvedObject.Kind != "Node" || event.InvolvedObject.Name == "" ||
		(event.Reason != ReasonImageGCFailed && event.Reason != ReasonFreeDiskSpaceFailed) {
		return
	}
	node := failures[event.InvolvedObject.Name]
	node.Count += eventCount(event)
	if when := eventTime(event); node.LastMessage == "" || when.After(node.LastTime) {
		node.LastTime = when
		node.LastMessage = event.Message
	}
	failures[event.InvolvedObject.Name] = node
}

// eventCount returns how many times the event occurred: the larger of count and
// series.count, and at least 1.
func eventCount(event *corev1.Event) int64 {
	count := int64(event.Count)
	if event.Series != nil {
		count = max(count, int64(event.Series.Count))
	}
	return max(count, 1)
}

// eventTime returns when the event last occurred: the latest of lastTimestamp, the series'
// last observed time, eventTime and firstTimestamp.
func eventTime(event *corev1.Event) time.Time {
	latest := event.FirstTimestamp.Time
	if event.EventTime.Time.After(latest) {
		latest = event.EventTime.Time
	}
	if event.Series != nil && event.Series.LastObservedTime.Time.After(latest) {
		latest = event.Series.LastObservedTime.Time
	}
	if event.LastTimestamp.Time.After(latest) {
		latest = event.LastTimestamp.Time
	}
	return latest
}

// GCThreshold is the image garbage collection high threshold that KubeletConfigs set for a
// node's machine config pool.
type GCThreshold struct {
	// Pool is the node's machine config pool.
	Pool string
	// HighThresholdPercent is imageGCHighThresholdPercent of the pool's KubeletConfig whose
	// generated MachineConfig sorts last, or the kubelet default of 85 when it does not set
	// the field.
	HighThresholdPercent int32
}

// GCThresholds returns the threshold of each node whose machine config pool has at least
// one KubeletConfig, by node name. A node's pool is the pool whose spec.nodeSelector
// matches its labels. A node that matches the worker pool and one custom pool belongs to
// the custom pool, as the machine-config operator assigns it. A node that matches no pool,
// or several custom pools, has no entry. Neither has a node of a pool that a KubeletConfig
// whose spec.kubeletConfig does not parse selects: the returned error names each such
// KubeletConfig, and the thresholds of the other pools are returned with it. A custom pool
// whose machineConfigSelector also takes another role's MachineConfigs, as OpenShift
// documents for custom pools that take the worker role, also gets the KubeletConfigs of the
// pool of that role.
func GCThresholds(nodes []Node, pools []mcfgv1.MachineConfigPool,
	configs []mcfgv1.KubeletConfig) (map[string]GCThreshold, error) {
	byPool := map[string]GCThreshold{}
	var invalid []error
	for i := range pools {
		threshold, ok, err := poolThreshold(&pools[i], pools, configs)
		if err != nil {
			invalid = append(invalid, err)
			continue
		}
		if ok {
			byPool[pools[i].Name] = threshold
		}
	}

	thresholds := map[string]GCThreshold{}
	for i := range nodes {
		pool, ok := nodePool(nodes[i].Labels, pools)
		if !ok {
			continue
		}
		if threshold, ok := byPool[pool]; ok {
			thresholds[nodes[i].Name] = threshold
		}
	}
	return thresholds, errors.Join(invalid...)
}

// roleLabel is the label of a MachineConfig that names the role, and so the pool, that it was
// generated for.
const roleLabel = "machineconfiguration.openshift.io/role"

// sourcePools returns pool and the other pools whose generated MachineConfigs pool takes
// through its machineConfigSelector, each MachineConfig being labelled with its pool's name
// as the role.
func sourcePools(pool *mcfgv1.MachineConfigPool,
	pools []mcfgv1.MachineConfigPool) []*mcfgv1.MachineConfigPool {
	sources := []*mcfgv1.MachineConfigPool{pool}
	selector, err := metav1.LabelSelectorAsSelector(pool.Spec.MachineConfigSelector)
	if err != nil || selector.Empty() {
		return sources
	}
	for i := range pools {
		other := &pools[i]
		if other.Name != pool.Name && selector.Matches(labels.Set{roleLabel: other.Name}) {
			sources = append(sources, other)
		}
	}
	return sources
}

// poolThreshold returns the high threshold of the KubeletConfig that selects pool and whose
// generated MachineConfig sorts last by name. The machine-config operator renders each
// KubeletConfig into a full kubelet.conf, the pool's template with only that KubeletConfig's
// fields set (syncKubeletConfig in openshift/machine-config-operator), and the last
// MachineConfig's file replaces the others. A last KubeletConfig without the field thus
// gives the kubelet default, even when an earlier one sets it.
func poolThreshold(pool *mcfgv1.MachineConfigPool, pools []mcfgv1.MachineConfigPool,
	configs []mcfgv1.KubeletConfig) (GCThreshold, bool, error) {
	type applied struct {
		machineConfig string
		settings      kubeletgc.Settings
	}
	var selecting []applied
	for _, source := range sourcePools(pool, pools) {
		for i := range configs {
			config := &configs[i]
			selector, err := metav1.LabelSelectorAsSelector(
				config.Spec.MachineConfigPoolSelector)
			// The machine-config operator applies a KubeletConfig with an empty or invalid
			// selector to no pool.
			if err != nil || selector.Empty() || !selector.Matches(labels.Set(source.Labels)) {
				continue
			}
			settings, err := kubeletgc.Parse(config.Spec.KubeletConfig)
			if err != nil {
				return GCThreshold{}, false, fmt.Errorf("KubeletConfig %s: %w", config.Name,
					err)
			}
			selecting = append(selecting, applied{
				machineConfig: kubeletgc.GeneratedMachineConfigName(config, source.Name),
				settings:      settings,
			})
		}
	}
	if len(selecting) == 0 {
		return GCThreshold{}, false, nil
	}

	slices.SortFunc(selecting, func(a, b applied) int {
		return strings.Compare(a.machineConfig, b.machineConfig)
	})
	threshold := GCThreshold{Pool: pool.Name,
		HighThresholdPercent: kubeletgc.DefaultHighThresholdPercent}
	if last := selecting[len(selecting)-1]; last.settings.HighThresholdPercent != nil {
		threshold.HighThresholdPercent = *last.settings.HighThresholdPercent
	}
	return threshold, true, nil
}

// workerPool is the machine config pool that every OpenShift worker node matches, unless a
// custom pool takes it.
const workerPool = "worker"

// nodePool returns the name of the pool whose node selector matches nodeLabels.
func nodePool(nodeLabels map[string]string, pools []mcfgv1.MachineConfigPool) (string, bool) {
	var matched []string
	for i := range pools {
		selector, err := metav1.LabelSelectorAsSelector(pools[i].Spec.NodeSelector)
		if err != nil || selector.Empty() || !selector.Matches(labels.Set(nodeLabels)) {
			continue
		}
		matched = append(matched, pools[i].Name)
	}
	if len(matched) > 1 {
		matched = slices.DeleteFunc(matched, func(name string) bool { return name == workerPool })
	}
	if len(matched) != 1 {
		return "", false
	}
	return matched[0], true
}
