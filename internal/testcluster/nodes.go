package testcluster

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// Runtime is a container runtime, named as the scheme of Node.status.nodeInfo
// containerRuntimeVersion.
type Runtime string

// The container runtimes that seeded nodes can report.
const (
	// CRIO reports image sizes uncompressed, as OpenShift nodes do.
	CRIO Runtime = "cri-o"
	// Containerd reports image sizes compressed.
	Containerd Runtime = "containerd"
)

// KubeletVersion is the kubelet version that seeded nodes report, matching the control plane.
const KubeletVersion = "v1.37.2"

// DefaultMaxImages is the kubelet's default nodeStatusMaxImages: a node reports only its
// largest images, this many at most.
const DefaultMaxImages = 50

// maxNamesPerImage is how many names the kubelet reports per image in Node.status.images.
const maxNamesPerImage = 5

// Placeholder names that the kubelet reports for an image without repository digests or tags.
const (
	PlaceholderDigestName = "<none>@<none>"
	PlaceholderTagName    = "<none>:<none>"
)

// criOMetadataBytes estimates the manifest, config and signature bytes that CRI-O adds to
// the layer sizes of an image.
const criOMetadataBytes = 12 << 10

// Image is an image in a node's container image store.
type Image struct {
	// Repository is the fully qualified repository, e.g. "quay.io/openshift/origin-cli".
	Repository string
	// Tags are the tags the node pulled this image by. Empty for an image pulled by digest.
	Tags []string
	// Digest is the manifest digest, "sha256:" and 64 hex digits.
	Digest string
	// MirrorRepositories are further repositories that the node pulled the same digest
	// through, such as a registry mirror. Each adds a digest name.
	MirrorRepositories []string
	// CompressedSize is the sum of the compressed layers and the config blob in bytes, as a
	// registry reports it. containerd reports this size.
	CompressedSize int64
	// UncompressedSize is the sum of the uncompressed layers in bytes. CRI-O reports this
	// size plus the manifest, config and signatures.
	UncompressedSize int64
	// Dangling marks an image that lost its tags, which the node reports only under the
	// placeholder names.
	Dangling bool
}

// Names returns the names that the kubelet reports for the image: digest names first, then
// tag names, at most 5.
func (i Image) Names() []string {
	if i.Dangling {
		return []string{PlaceholderDigestName, PlaceholderTagName}
	}

	var names []string
	if i.Digest != "" {
		names = append(names, i.Repository+"@"+i.Digest)
		for _, mirror := range i.MirrorRepositories {
			names = append(names, mirror+"@"+i.Digest)
		}
	}
	for _, tag := range i.Tags {
		names = append(names, i.Repository+":"+tag)
	}
	if len(names) > maxNamesPerImage {
		names = names[:maxNamesPerImage]
	}
	return names
}

// SizeBytes returns the size that a node with the given runtime reports for the image.
func (i Image) SizeBytes(runtime Runtime) int64 {
	if runtime == Containerd {
		return i.CompressedSize
	}
	return i.UncompressedSize + criOMetadataBytes
}

// Node is a node to create with SeedNodes. Fields left empty get values typical of the
// runtime: Red Hat Enterprise Linux CoreOS for CRI-O, Ubuntu for containerd.
type Node struct {
	Name          string
	Labels        map[string]string
	Taints        []corev1.Taint
	Unschedulable bool
	// NotReady sets the Ready condition to Unknown, as the node lifecycle controller does
	// when a kubelet stops posting status.
	NotReady bool

	// Runtime selects the container runtime. Empty means CRIO.
	Runtime Runtime
	// RuntimeVersion is the runtime version after the scheme, e.g. "2.1.4" for containerd.
	RuntimeVersion string
	OSImage        string
	KernelVersion  string
	// InternalIP is the node's address, which must be a loopback address because the test
	// API server prefers it when it contacts the node. Empty derives one in 127.1.0.0/16
	// from the name.
	InternalIP string
	// KubeletPort is status.daemonEndpoints.kubeletEndpoint.Port. Zero means 10250, the
	// kubelet's default.
	KubeletPort int32

	// Images is the node's whole image store. Node status lists only the largest of them.
	Images []Image
	// MaxImages caps Node.status.images as the kubelet setting nodeStatusMaxImages does. Zero
	// selects the kubelet default of 50, and a negative value lists every image.
	MaxImages int
}

// Object returns the Node as the API server would store it after a kubelet registered it
// and posted its status, with heartbeat times set to now.
func (n Node) Object() *corev1.Node {
	labels := map[string]string{
		corev1.LabelHostname:   n.Name,
		corev1.LabelOSStable:   "linux",
		corev1.LabelArchStable: "amd64",
	}
	for key, value := range n.Labels {
		labels[key] = value
	}

	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: n.Name, Labels: labels},
		Spec: corev1.NodeSpec{
			Taints:        slices.Clone(n.Taints),
			Unschedulable: n.Unschedulable,
		},
		Status: n.status(time.Now()),
	}
}

func (n Node) runtime() Runtime {
	return cmp.Or(n.Runtime, CRIO)
}

func (n Node) status(now time.Time) corev1.NodeStatus {
	capacity, allocatable := n.resources()
	return corev1.NodeStatus{
		Capacity:    capacity,
		Allocatable: allocatable,
		Conditions:  n.conditions(now),
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: n.internalIP()},
			{Type: corev1.NodeHostName, Address: n.Name},
		},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{
			KubeletEndpoint: corev1.DaemonEndpoint{Port: cmp.Or(n.KubeletPort, 10250)},
		},
		NodeInfo: n.nodeInfo(),
		Images:   n.StatusImages(),
	}
}

// StatusImages returns Node.status.images as the kubelet reports it: sorted by reported
// size, largest first, and capped at MaxImages.
func (n Node) StatusImages() []corev1.ContainerImage {
	runtime := n.runtime()
	images := make([]corev1.ContainerImage, 0, len(n.Images))
	for _, image := range n.Images {
		images = append(images, corev1.ContainerImage{
			Names:     image.Names(),
			SizeBytes: image.SizeBytes(runtime),
		})
	}
	slices.SortStableFunc(images, func(a, b corev1.ContainerImage) int {
		return cmp.Compare(b.SizeBytes, a.SizeBytes)
	})

	limit := n.MaxImages
	if limit == 0 {
		limit = DefaultMaxImages
	}
	if limit > 0 && len(images) > limit {
		images = images[:limit]
	}
	return images
}

func (n Node) resources() (capacity, allocatable corev1.ResourceList) {
	// OpenShift raises the kubelet's default of 110 pods per node to 250.
	pods := "250"
	if n.runtime() == Containerd {
		pods = "110"
	}

	capacity = corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse("8"),
		corev1.ResourceMemory:           resource.MustParse("32857680Ki"),
		corev1.ResourceEphemeralStorage: resource.MustParse("125293548Ki"),
		corev1.ResourcePods:             resource.MustParse(pods),
		"hugepages-1Gi":                 resource.MustParse("0"),
		"hugepages-2Mi":                 resource.MustParse("0"),
	}
	allocatable = corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse("7500m"),
		corev1.ResourceMemory:           resource.MustParse("31706704Ki"),
		corev1.ResourceEphemeralStorage: resource.MustParse("114396791822"),
		corev1.ResourcePods:             resource.MustParse(pods),
		"hugepages-1Gi":                 resource.MustParse("0"),
		"hugepages-2Mi":                 resource.MustParse("0"),
	}
	return capacity, allocatable
}

func (n Node) conditions(now time.Time) []corev1.NodeCondition {
	heartbeat := metav1.NewTime(now.Truncate(time.Second))
	since := metav1.NewTime(now.Add(-72 * time.Hour).Truncate(time.Second))
	condition := func(kind corev1.NodeConditionType, status corev1.ConditionStatus,
		reason, message string) corev1.NodeCondition {
		return corev1.NodeCondition{
			Type:               kind,
			Status:             status,
			LastHeartbeatTime:  heartbeat,
			LastTransitionTime: since,
			Reason:             reason,
			Message:            message,
		}
	}

	ready := condition(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady",
		"kubelet is posting ready status")
	if n.NotReady {
		ready = condition(corev1.NodeReady, corev1.ConditionUnknown, "NodeStatusUnknown",
			"Kubelet stopped posting node status.")
	}

	return []corev1.NodeCondition{
		condition(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory",
			"kubelet has sufficient memory available"),
		condition(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure",
			"kubelet has no disk pressure"),
		condition(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID",
			"kubelet has sufficient PID available"),
		ready,
	}
}

func (n Node) nodeInfo() corev1.NodeSystemInfo {
	runtime := n.runtime()
	runtimeVersion, osImage, kernel := n.RuntimeVersion, n.OSImage, n.KernelVersion
	if runtime == Containerd {
		runtimeVersion = cmp.Or(runtimeVersion, "2.1.4")
		osImage = cmp.Or(osImage, "Ubuntu 24.04.3 LTS")
		kernel = cmp.Or(kernel, "6.8.0-85-generic")
	} else {
		runtimeVersion = cmp.Or(runtimeVersion, "1.33.4-2.rhaos4.20.gitabc1234.el9")
		osImage = cmp.Or(osImage,
			"Red Hat Enterprise Linux CoreOS 9.6.20250925-0 (Plow)")
		kernel = cmp.Or(kernel, "5.14.0-570.49.1.el9_6.x86_64")
	}

	id := hexDigest("machine-id/" + n.Name)
	return corev1.NodeSystemInfo{
		MachineID:               id[:32],
		SystemUUID:              uuidFromHex(hexDigest("system-uuid/" + n.Name)),
		BootID:                  uuidFromHex(hexDigest("boot-id/" + n.Name)),
		KernelVersion:           kernel,
		OSImage:                 osImage,
		ContainerRuntimeVersion: string(runtime) + "://" + runtimeVersion,
		KubeletVersion:          KubeletVersion,
		OperatingSystem:         "linux",
		Architecture:            "amd64",
	}
}

func (n Node) internalIP() string {
	if n.InternalIP != "" {
		return n.InternalIP
	}
	sum := sha256.Sum256([]byte(n.Name))
	return net.IPv4(127, 1, sum[0], max(sum[1], 1)).String()
}

// checkLoopback returns an error unless the node's InternalIP is a loopback address. The
// test API server contacts nodes at that address, so any other address could send a test's
// requests off the machine.
func (n Node) checkLoopback() error {
	address := n.internalIP()
	if ip := net.ParseIP(address); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("node %s has InternalIP %q, expected a loopback address in "+
			"127.0.0.0/8", n.Name, address)
	}
	return nil
}

// hexDigest returns the SHA-256 of text in lowercase hex, for deterministic IDs and digests.
func hexDigest(text string) string {
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:])
}

func uuidFromHex(h string) string {
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// seedWorkers is how many nodes SeedNodes writes at once.
const seedWorkers = 16

// SeedNodes creates the nodes, or updates them when they exist, then writes their status
// through the status subresource as a kubelet does. A node whose InternalIP is not a loopback
// address is an error.
func SeedNodes(ctx context.Context, client kubernetes.Interface, nodes []Node) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	work := make(chan Node)
	errs := make(chan error, seedWorkers)
	var wg sync.WaitGroup
	for range min(seedWorkers, len(nodes)) {
		wg.Go(func() {
			for node := range work {
				if err := seedNode(ctx, client, node); err != nil {
					errs <- err
					cancel()
					return
				}
			}
		})
	}

feed:
	for _, node := range nodes {
		select {
		case work <- node:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	close(errs)

	if err, ok := <-errs; ok {
		return err
	}
	return ctx.Err()
}

func seedNode(ctx context.Context, client kubernetes.Interface, node Node) error {
	if err := node.checkLoopback(); err != nil {
		return err
	}
	desired := node.Object()
	nodes := client.CoreV1().Nodes()

	created, err := nodes.Create(ctx, withoutStatus(desired), metav1.CreateOptions{})
	// The API server's TaintNodesByCondition admission plugin gives a new node the taint
	// node.kubernetes.io/not-ready, which the node lifecycle controller removes once the
	// node reports Ready. That controller does not run here, so the seeding sets the taints.
	if apierrors.IsAlreadyExists(err) ||
		err == nil && !equality.Semantic.DeepEqual(created.Spec.Taints, desired.Spec.Taints) {
		created, err = updateNodeSpec(ctx, client, desired)
	}
	if err != nil {
		return fmt.Errorf("creating node %s: %w", node.Name, err)
	}

	// The controller manager may annotate a new node between the two writes, so a conflict
	// rereads the node and retries.
	current := created
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if current == nil {
			latest, err := nodes.Get(ctx, node.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			current = latest
		}
		current.Status = desired.Status
		_, err := nodes.UpdateStatus(ctx, current, metav1.UpdateOptions{})
		current = nil
		return err
	})
	if err != nil {
		return fmt.Errorf("updating the status of node %s: %w", node.Name, err)
	}
	return nil
}

func withoutStatus(node *corev1.Node) *corev1.Node {
	copied := node.DeepCopy()
	copied.Status = corev1.NodeStatus{}
	return copied
}

func updateNodeSpec(ctx context.Context, client kubernetes.Interface,
	desired *corev1.Node) (*corev1.Node, error) {
	var updated *corev1.Node
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		existing, err := client.CoreV1().Nodes().Get(ctx, desired.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		existing.Labels = desired.Labels
		existing.Spec.Taints = desired.Spec.Taints
		existing.Spec.Unschedulable = desired.Spec.Unschedulable
		updated, err = client.CoreV1().Nodes().Update(ctx, existing, metav1.UpdateOptions{})
		return err
	})
	return updated, err
}
