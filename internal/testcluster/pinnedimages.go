package testcluster

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	mcfgv1 "github.com/openshift/api/machineconfiguration/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

var (
	pinnedImageSetResource = schema.GroupVersionResource{
		Group: "machineconfiguration.openshift.io", Version: "v1", Resource: "pinnedimagesets",
	}
	machineConfigNodeResource = schema.GroupVersionResource{
		Group: "machineconfiguration.openshift.io", Version: "v1",
		Resource: "machineconfignodes",
	}
)

// PinnedImages plays the part of the machine-config operator and daemon that pins images,
// which the local control plane cannot run. For each pool that lists PinnedImageSets in
// spec.pinnedImageSets, it gives every node of the pool a MachineConfigNode. It then writes
// the status that the daemon reports once it has pulled and pinned a set's images: current
// and desired generation equal to the set's generation. Nodes set with FailNode get a failed
// generation with a message instead. No image is pulled and no node changes.
type PinnedImages struct {
	Client       dynamic.Interface
	Kubernetes   kubernetes.Interface
	PollInterval time.Duration // zero means 100 ms
	Logf         func(format string, args ...any)

	mu       sync.Mutex
	failures map[string]string // node name to the pinning error
}

// FailNode makes pinning fail on node with message until ClearNode.
func (p *PinnedImages) FailNode(node, message string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failures == nil {
		p.failures = map[string]string{}
	}
	p.failures[node] = message
}

// ClearNode lets pinning on node succeed again.
func (p *PinnedImages) ClearNode(node string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.failures, node)
}

// Start runs the stand-in until ctx is done and returns a function that waits for it to stop.
func (p *PinnedImages) Start(ctx context.Context) (wait func()) {
	return startLoop(ctx, p.PollInterval, 100*time.Millisecond, func(ctx context.Context) {
		if err := p.sync(ctx); err != nil && ctx.Err() == nil && p.Logf != nil {
			p.Logf("pinned images: %v", err)
		}
	})
}

func (p *PinnedImages) sync(ctx context.Context) error {
	poolList, err := p.Client.Resource(machineConfigPoolResource).List(ctx,
		metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing MachineConfigPools: %w", err)
	}
	setList, err := p.Client.Resource(pinnedImageSetResource).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing PinnedImageSets: %w", err)
	}
	generations := map[string]int64{}
	for _, set := range setList.Items {
		generations[set.GetName()] = set.GetGeneration()
	}

	for i := range poolList.Items {
		var pool mcfgv1.MachineConfigPool
		err := runtime.DefaultUnstructuredConverter.FromUnstructured(poolList.Items[i].Object,
			&pool)
		if err != nil {
			return fmt.Errorf("decoding MachineConfigPool %s: %w", poolList.Items[i].GetName(),
				err)
		}
		if len(pool.Spec.PinnedImageSets) == 0 || pool.Spec.NodeSelector == nil {
			continue
		}
		selector, err := metav1.LabelSelectorAsSelector(pool.Spec.NodeSelector)
		if err != nil {
			return fmt.Errorf("node selector of pool %s: %w", pool.Name, err)
		}
		nodes, err := p.Kubernetes.CoreV1().Nodes().List(ctx, metav1.ListOptions{
			LabelSelector: selector.String(),
		})
		if err != nil {
			return fmt.Errorf("listing the nodes of pool %s: %w", pool.Name, err)
		}
		for _, node := range nodes.Items {
			if err := p.syncNode(ctx, &pool, node.Name, generations); err != nil {
				return err
			}
		}
	}
	return nil
}

// syncNode writes the pinned image set status of one node of pool.
func (p *PinnedImages) syncNode(ctx context.Context, pool *mcfgv1.MachineConfigPool,
	node string, generations map[string]int64) error {
	p.mu.Lock()
	failure, failing := p.failures[node]
	p.mu.Unlock()

	var desired []mcfgv1.MachineConfigNodeStatusPinnedImageSet
	for _, ref := range pool.Spec.PinnedImageSets {
		generation, ok := generations[ref.Name]
		if !ok {
			continue
		}
		entry := mcfgv1.MachineConfigNodeStatusPinnedImageSet{
			Name:              ref.Name,
			DesiredGeneration: int32(generation),
			CurrentGeneration: int32(generation),
		}
		if failing {
			entry.CurrentGeneration = 0
			entry.LastFailedGeneration = int32(generation)
			entry.LastFailedGenerationError = failure
		}
		desired = append(desired, entry)
	}
	slices.SortFunc(desired, func(a, b mcfgv1.MachineConfigNodeStatusPinnedImageSet) int {
		return cmp.Compare(a.Name, b.Name)
	})

	nodes := p.Client.Resource(machineConfigNodeResource)
	object, err := nodes.Get(ctx, node, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		object, err = p.createMachineConfigNode(ctx, pool, node)
	}
	if err != nil {
		return fmt.Errorf("reading MachineConfigNode %s: %w", node, err)
	}
	var current mcfgv1.MachineConfigNode
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(object.Object,
		&current); err != nil {
		return fmt.Errorf("decoding MachineConfigNode %s: %w", node, err)
	}
	if equality.Semantic.DeepEqual(current.Status.PinnedImageSets, desired) {
		return nil
	}
	status := current.Status
	status.PinnedImageSets = desired
	status.ObservedGeneration = current.Generation
	if err := setStatus(object, &status); err != nil {
		return err
	}
	if _, err := nodes.UpdateStatus(ctx, object, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating the status of MachineConfigNode %s: %w", node, err)
	}
	return nil
}

func (p *PinnedImages) createMachineConfigNode(ctx context.Context,
	pool *mcfgv1.MachineConfigPool, node string) (*unstructured.Unstructured, error) {
	rendered := pool.Status.Configuration.Name
	if rendered == "" {
		rendered = "rendered-" + pool.Name + "-initial"
	}
	machineConfigNode := &mcfgv1.MachineConfigNode{
		TypeMeta: metav1.TypeMeta{
			APIVersion: "machineconfiguration.openshift.io/v1", Kind: "MachineConfigNode",
		},
		ObjectMeta: metav1.ObjectMeta{Name: node},
		Spec: mcfgv1.MachineConfigNodeSpec{
			Node: mcfgv1.MCOObjectReference{Name: node},
			Pool: mcfgv1.MCOObjectReference{Name: pool.Name},
			ConfigVersion: mcfgv1.MachineConfigNodeSpecMachineConfigVersion{
				Desired: rendered,
			},
		},
	}
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(machineConfigNode)
	if err != nil {
		return nil, err
	}
	unstructured.RemoveNestedField(content, "status")
	return p.Client.Resource(machineConfigNodeResource).Create(ctx,
		&unstructured.Unstructured{Object: content}, metav1.CreateOptions{})
}
