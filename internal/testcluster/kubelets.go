package testcluster

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/imagedist/terraform-provider-imagedist/internal/imageref"
)

// Waiting reasons and condition reasons as kubelet v1.37.2 writes them.
const (
	ReasonErrImagePull       = "ErrImagePull"
	ReasonImagePullBackOff   = "ImagePullBackOff"
	reasonInvalidImageName   = "InvalidImageName"
	reasonPodInitializing    = "PodInitializing"
	reasonCompleted          = "Completed"
	reasonContainersNotReady = "ContainersNotReady"
	reasonNotInitialized     = "ContainersNotInitialized"
)

// Bounds of the image sizes that the played kubelets report in Node.status.images.
const (
	minPulledImageBytes = 5_000_000
	maxPulledImageBytes = 500_000_000
)

// defaultKubeletsInterval is the time between passes when Kubelets.PollInterval is zero.
const defaultKubeletsInterval = 100 * time.Millisecond

// PullFailure is a pull failure to report in place of pulling, as a kubelet does.
type PullFailure struct {
	// Reason is the container's waiting reason, such as ReasonErrImagePull or
	// ReasonImagePullBackOff.
	Reason  string
	Message string
}

// Kubelets plays the kubelet of every node for pods, and the scheduler for DaemonSet pods,
// which the local control plane does not run. Each pass binds DaemonSet pods to their target
// node, confirms the deletion of terminating pods, writes the status that a kubelet would
// write for the other pods on existing nodes, and adds the images it pulled to
// Node.status.images. Pulls succeed unless FailPull makes them fail. Nothing runs, so
// containers never exit and readiness probes are not evaluated.
type Kubelets struct {
	Client kubernetes.Interface
	// Namespace limits the kubelets to pods in this namespace. Empty means all namespaces.
	Namespace string
	// PollInterval is the time between two passes. Zero means 100 ms.
	PollInterval time.Duration
	// Logf receives the errors of a pass, after which the kubelets try again. An error that
	// repeats in consecutive passes is logged once. Nil discards them.
	Logf func(format string, args ...any)

	mu       sync.Mutex
	failures map[pullKey]PullFailure
	// logged is the set of error messages of the last pass, so repeats are not logged.
	logged map[string]bool
}

// pullKey is an image reference on a node. An empty node means every node.
type pullKey struct {
	node, image string
}

// FailPull makes pulls of image, the exact reference in the pod spec, on node fail with
// failure until ClearPull. An empty node means every node. A container that already runs
// keeps running, because a kubelet does not pull again for a started container.
func (k *Kubelets) FailPull(node, image string, failure PullFailure) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.failures == nil {
		k.failures = map[pullKey]PullFailure{}
	}
	k.failures[pullKey{node, image}] = failure
}

// ClearPull removes the failure that FailPull set for the same node and image, so the next
// pass pulls the image, as the kubelet's back-off retry would.
func (k *Kubelets) ClearPull(node, image string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.failures, pullKey{node, image})
}

// pullFailures returns a copy of the failures, so that a pass works on one consistent set.
func (k *Kubelets) pullFailures() map[pullKey]PullFailure {
	k.mu.Lock()
	defer k.mu.Unlock()
	copied := make(map[pullKey]PullFailure, len(k.failures))
	for key, failure := range k.failures {
		copied[key] = failure
	}
	return copied
}

// lookupFailure returns the failure set for image on node, or else for image on every node.
func lookupFailure(failures map[pullKey]PullFailure, node, image string) (PullFailure, bool) {
	if failure, ok := failures[pullKey{node, image}]; ok {
		return failure, true
	}
	failure, ok := failures[pullKey{"", image}]
	return failure, ok
}

// Start runs the kubelets in the background until ctx is done and returns a function that
// waits for them to stop.
func (k *Kubelets) Start(ctx context.Context) (wait func()) {
	return startLoop(ctx, k.PollInterval, defaultKubeletsInterval, func(ctx context.Context) {
		errs := k.pass(ctx)
		if ctx.Err() == nil {
			k.logErrors(errs)
		}
	})
}

func (k *Kubelets) logErrors(errs []error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	current := make(map[string]bool, len(errs))
	for _, err := range errs {
		message := err.Error()
		if !k.logged[message] && !current[message] && k.Logf != nil {
			k.Logf("kubelets: %s", message)
		}
		current[message] = true
	}
	k.logged = current
}

// pass lists the nodes and pods once and acts on each pod. It goes on after an error and
// returns all of them.
func (k *Kubelets) pass(ctx context.Context) []error {
	nodeList, err := k.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return []error{fmt.Errorf("listing nodes: %w", err)}
	}
	podList, err := k.Client.CoreV1().Pods(k.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return []error{fmt.Errorf("listing pods: %w", err)}
	}

	nodes := make(map[string]*corev1.Node, len(nodeList.Items))
	for i := range nodeList.Items {
		nodes[nodeList.Items[i].Name] = &nodeList.Items[i]
	}
	failures := k.pullFailures()
	pulled := map[string][]string{} // node name to the images pulled there
	var errs []error

	for i := range podList.Items {
		pod := &podList.Items[i]
		node := nodes[pod.Spec.NodeName]
		switch {
		case pod.Spec.NodeName == "":
			err = k.schedule(ctx, pod, nodes)
		case node == nil:
			// No kubelet runs for a node that does not exist, so the pod stays as it is.
			continue
		case pod.DeletionTimestamp != nil:
			err = k.confirmDeletion(ctx, pod)
		case pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed:
			continue
		default:
			var images []string
			images, err = k.syncPodStatus(ctx, pod, node, failures)
			pulled[node.Name] = append(pulled[node.Name], images...)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}

	for name, images := range pulled {
		if err := k.recordImages(ctx, nodes[name], images); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// schedule binds a DaemonSet pod to the node that its node affinity names. Other pods stay
// unscheduled, because there is no scheduler.
func (k *Kubelets) schedule(ctx context.Context, pod *corev1.Pod,
	nodes map[string]*corev1.Node) error {
	target := daemonSetTarget(pod)
	if target == "" || nodes[target] == nil {
		return nil
	}

	binding := &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: target},
	}
	err := k.Client.CoreV1().Pods(pod.Namespace).Bind(ctx, binding, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("binding pod %s/%s to node %s: %w", pod.Namespace, pod.Name, target,
			err)
	}
	return nil
}

// daemonSetTarget returns the node that a DaemonSet pod is meant for, or "" for other pods.
// The DaemonSet controller targets a node with a required node affinity term that matches
// the field metadata.name with the operator In and that one node name.
func daemonSetTarget(pod *corev1.Pod) string {
	affinity := pod.Spec.Affinity
	if affinity == nil || affinity.NodeAffinity == nil ||
		affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return ""
	}
	for _, term := range affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.
		NodeSelectorTerms {
		for _, field := range term.MatchFields {
			if field.Key == metav1.ObjectNameField &&
				field.Operator == corev1.NodeSelectorOpIn && len(field.Values) == 1 {
				return field.Values[0]
			}
		}
	}
	return ""
}

// confirmDeletion deletes a terminating pod at once, as its kubelet does once the containers
// have stopped. Without it a graceful deletion never finishes.
func (k *Kubelets) confirmDeletion(ctx context.Context, pod *corev1.Pod) error {
	options := metav1.DeleteOptions{
		GracePeriodSeconds: new(int64),
		Preconditions:      &metav1.Preconditions{UID: &pod.UID},
	}
	err := k.Client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, options)
	// A conflict means that the UID precondition failed, so the pod is gone and another one
	// has its name.
	if err != nil && !isGone(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("deleting terminating pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// syncPodStatus writes the status that the node's kubelet would report, when it differs from
// the current one apart from times, and returns the images pulled for the pod.
func (k *Kubelets) syncPodStatus(ctx context.Context, pod *corev1.Pod, node *corev1.Node,
	failures map[pullKey]PullFailure) ([]string, error) {
	failureFor := func(image string) (PullFailure, bool) {
		return lookupFailure(failures, node.Name, image)
	}
	desired := kubeletPodStatus(pod, node, failureFor, time.Now())
	images := pulledImages(pod, &desired)
	if sameIgnoringTimes(&pod.Status, &desired) {
		return images, nil
	}

	pods := k.Client.CoreV1().Pods(pod.Namespace)
	current := pod
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if current == nil {
			latest, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if latest.UID != pod.UID || latest.DeletionTimestamp != nil {
				return nil
			}
			desired = kubeletPodStatus(latest, node, failureFor, time.Now())
			current = latest
		}
		updated := current.DeepCopy()
		updated.Status = desired
		_, err := pods.UpdateStatus(ctx, updated, metav1.UpdateOptions{})
		current = nil
		return err
	})
	if err != nil && !isGone(err) {
		return nil, fmt.Errorf("updating the status of pod %s/%s: %w", pod.Namespace, pod.Name,
			err)
	}
	return images, nil
}

// kubeletPodStatus builds the status that a kubelet reports for a pod on node. Init
// containers run in order until one fails to pull, and then the pod stays Pending with the
// later init containers and all containers waiting in PodInitializing. After the init
// containers, every container whose image pulls runs and the others wait with the failure.
// Fields that the kubelet does not own, such as qosClass, are kept from the current status,
// and so are the times of states and conditions that do not change.
func kubeletPodStatus(pod *corev1.Pod, node *corev1.Node,
	failureFor func(image string) (PullFailure, bool), now time.Time) corev1.PodStatus {
	status := *pod.Status.DeepCopy()
	timestamp := metav1.NewTime(now)
	old := &pod.Status
	runtime := nodeRuntime(node)

	initialized := true
	var incomplete []string
	status.InitContainerStatuses = nil
	for _, container := range pod.Spec.InitContainers {
		previous := findContainerStatus(old.InitContainerStatuses, container.Name)
		var containerStatus corev1.ContainerStatus
		switch {
		case !initialized:
			containerStatus = waitingStatus(container, corev1.ContainerStateWaiting{
				Reason: reasonPodInitializing,
			})
		case completed(previous, container.Image):
			containerStatus = *previous
		default:
			containerStatus = startContainer(pod, container, runtime, failureFor, timestamp)
			if containerStatus.State.Running != nil {
				containerStatus = completeInitContainer(containerStatus, timestamp)
			}
		}
		if containerStatus.State.Terminated == nil {
			initialized = false
			incomplete = append(incomplete, container.Name)
		}
		status.InitContainerStatuses = append(status.InitContainerStatuses, containerStatus)
	}

	var unready []string
	status.ContainerStatuses = nil
	for _, container := range pod.Spec.Containers {
		previous := findContainerStatus(old.ContainerStatuses, container.Name)
		var containerStatus corev1.ContainerStatus
		switch {
		case !initialized:
			containerStatus = waitingStatus(container, corev1.ContainerStateWaiting{
				Reason: reasonPodInitializing,
			})
		case running(previous, container.Image):
			containerStatus = *previous
		default:
			containerStatus = startContainer(pod, container, runtime, failureFor, timestamp)
		}
		if !containerStatus.Ready {
			unready = append(unready, container.Name)
		}
		status.ContainerStatuses = append(status.ContainerStatuses, containerStatus)
	}

	// As in kubelet v1.37.2, a pod with any init container or container still waiting is
	// Pending, even when its other containers run.
	status.Phase = corev1.PodRunning
	if !initialized || len(unready) > 0 {
		status.Phase = corev1.PodPending
	}
	status.ObservedGeneration = pod.Generation
	status.Conditions = podConditions(pod, incomplete, unready, timestamp)
	if status.StartTime == nil {
		status.StartTime = &timestamp
	}
	setAddresses(&status, pod, node)
	return status
}

// startContainer pulls the container's image and returns its running status, or its waiting
// status when the pull fails.
func startContainer(pod *corev1.Pod, container corev1.Container, runtime string,
	failureFor func(image string) (PullFailure, bool), now metav1.Time) corev1.ContainerStatus {
	if _, err := imageref.Parse(container.Image); err != nil {
		return waitingStatus(container, corev1.ContainerStateWaiting{
			Reason: reasonInvalidImageName,
			Message: fmt.Sprintf("Failed to apply default image tag %q: %v", container.Image,
				err),
		})
	}
	if failure, ok := failureFor(container.Image); ok {
		return waitingStatus(container, corev1.ContainerStateWaiting{
			Reason: failure.Reason, Message: failure.Message,
		})
	}

	started := true
	return corev1.ContainerStatus{
		Name:        container.Name,
		State:       corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		Ready:       true,
		Started:     &started,
		Image:       container.Image,
		ImageID:     ImageID(container.Image),
		ContainerID: runtime + "://" + hexDigest("container/"+string(pod.UID)+"/"+container.Name),
	}
}

// completeInitContainer turns a running init container into one that exited with code 0.
func completeInitContainer(status corev1.ContainerStatus, now metav1.Time) corev1.ContainerStatus {
	started := false
	status.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		ExitCode:    0,
		Reason:      reasonCompleted,
		StartedAt:   status.State.Running.StartedAt,
		FinishedAt:  now,
		ContainerID: status.ContainerID,
	}}
	status.Started = &started
	return status
}

func waitingStatus(container corev1.Container,
	waiting corev1.ContainerStateWaiting) corev1.ContainerStatus {
	started := false
	return corev1.ContainerStatus{
		Name:    container.Name,
		State:   corev1.ContainerState{Waiting: &waiting},
		Started: &started,
		Image:   container.Image,
	}
}

func findContainerStatus(statuses []corev1.ContainerStatus, name string) *corev1.ContainerStatus {
	for i := range statuses {
		if statuses[i].Name == name {
			return &statuses[i]
		}
	}
	return nil
}

func completed(status *corev1.ContainerStatus, image string) bool {
	return status != nil && status.Image == image && status.State.Terminated != nil &&
		status.State.Terminated.ExitCode == 0
}

func running(status *corev1.ContainerStatus, image string) bool {
	return status != nil && status.Image == image && status.State.Running != nil
}

// podConditions returns the conditions in the order and wording of kubelet v1.37.2, keeping
// the transition time of a condition whose status does not change.
func podConditions(pod *corev1.Pod, incomplete, unready []string,
	now metav1.Time) []corev1.PodCondition {
	condition := func(kind corev1.PodConditionType, notReady []string, reason,
		format string) corev1.PodCondition {
		result := corev1.PodCondition{
			Type:               kind,
			Status:             corev1.ConditionTrue,
			ObservedGeneration: pod.Generation,
		}
		if len(notReady) > 0 {
			result.Status = corev1.ConditionFalse
			result.Reason = reason
			result.Message = fmt.Sprintf(format, notReady)
		}
		result.LastTransitionTime = now
		for _, previous := range pod.Status.Conditions {
			if previous.Type == kind && previous.Status == result.Status {
				result.LastTransitionTime = previous.LastTransitionTime
			}
		}
		return result
	}

	unreadyFormat := "containers with unready status: %s"
	return []corev1.PodCondition{
		condition(corev1.PodReadyToStartContainers, nil, "", ""),
		condition(corev1.PodInitialized, incomplete, reasonNotInitialized,
			"containers with incomplete status: %s"),
		condition(corev1.PodReady, unready, reasonContainersNotReady, unreadyFormat),
		condition(corev1.ContainersReady, unready, reasonContainersNotReady, unreadyFormat),
		condition(corev1.PodScheduled, nil, "", ""),
	}
}

// setAddresses sets the host IP to the node's internal IP and gives the pod an address in
// 10.128.0.0/14, OpenShift's default cluster network, derived from its UID.
func setAddresses(status *corev1.PodStatus, pod *corev1.Pod, node *corev1.Node) {
	for _, address := range node.Status.Addresses {
		if address.Type == corev1.NodeInternalIP {
			status.HostIP = address.Address
			status.HostIPs = []corev1.HostIP{{IP: address.Address}}
			break
		}
	}
	if status.PodIP == "" {
		sum := sha256.Sum256([]byte("pod-ip/" + string(pod.UID)))
		ip := net.IPv4(10, 128+sum[0]&3, sum[1], max(sum[2], 2)).String()
		status.PodIP = ip
		status.PodIPs = []corev1.PodIP{{IP: ip}}
	}
}

// nodeRuntime returns the scheme of the node's containerRuntimeVersion, such as "cri-o",
// which prefixes container IDs.
func nodeRuntime(node *corev1.Node) string {
	runtime, _, found := strings.Cut(node.Status.NodeInfo.ContainerRuntimeVersion, "://")
	if !found || runtime == "" {
		return string(CRIO)
	}
	return runtime
}

// pulledImages returns the images of the init containers that completed and the containers
// that run in status.
func pulledImages(pod *corev1.Pod, status *corev1.PodStatus) []string {
	var images []string
	for _, container := range pod.Spec.InitContainers {
		if completed(findContainerStatus(status.InitContainerStatuses, container.Name),
			container.Image) {
			images = append(images, container.Image)
		}
	}
	for _, container := range pod.Spec.Containers {
		if running(findContainerStatus(status.ContainerStatuses, container.Name),
			container.Image) {
			images = append(images, container.Image)
		}
	}
	return images
}

// sameIgnoringTimes reports whether two pod statuses are equal apart from their times, which
// a kubelet does not rewrite on its own.
func sameIgnoringTimes(a, b *corev1.PodStatus) bool {
	return equality.Semantic.DeepEqual(withoutTimes(a), withoutTimes(b))
}

func withoutTimes(status *corev1.PodStatus) *corev1.PodStatus {
	copied := status.DeepCopy()
	copied.StartTime = nil
	for i := range copied.Conditions {
		copied.Conditions[i].LastTransitionTime = metav1.Time{}
		copied.Conditions[i].LastProbeTime = metav1.Time{}
	}
	for _, statuses := range [][]corev1.ContainerStatus{
		copied.InitContainerStatuses, copied.ContainerStatuses,
		copied.EphemeralContainerStatuses,
	} {
		for i := range statuses {
			clearStateTimes(&statuses[i].State)
			clearStateTimes(&statuses[i].LastTerminationState)
		}
	}
	return copied
}

func clearStateTimes(state *corev1.ContainerState) {
	if state.Running != nil {
		state.Running.StartedAt = metav1.Time{}
	}
	if state.Terminated != nil {
		state.Terminated.StartedAt = metav1.Time{}
		state.Terminated.FinishedAt = metav1.Time{}
	}
}

// recordImages adds the images pulled on node to its Node.status.images.
func (k *Kubelets) recordImages(ctx context.Context, node *corev1.Node, images []string) error {
	if len(images) == 0 || equality.Semantic.DeepEqual(node.Status.Images,
		withPulledImages(node.Status.Images, images)) {
		return nil
	}

	nodes := k.Client.CoreV1().Nodes()
	current := node
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if current == nil {
			latest, err := nodes.Get(ctx, node.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			current = latest
		}
		merged := withPulledImages(current.Status.Images, images)
		if equality.Semantic.DeepEqual(current.Status.Images, merged) {
			return nil
		}
		updated := current.DeepCopy()
		updated.Status.Images = merged
		_, err := nodes.UpdateStatus(ctx, updated, metav1.UpdateOptions{})
		current = nil
		return err
	})
	if err != nil && !isGone(err) {
		return fmt.Errorf("updating the images of node %s: %w", node.Name, err)
	}
	return nil
}

// withPulledImages returns a copy of a node's status images with the pulled images added, as
// the kubelet lists them: sorted by size, largest first, and capped at DefaultMaxImages. So
// an image smaller than all listed ones may not appear, as on a real node. A list that is
// already longer than DefaultMaxImages comes from a node without the default cap, and is not
// capped. An image counts as listed when an entry has its ImageID among its names.
func withPulledImages(current []corev1.ContainerImage, pulled []string) []corev1.ContainerImage {
	images := slices.Clone(current)
	for _, reference := range pulled {
		id := ImageID(reference)
		listed := slices.ContainsFunc(images, func(image corev1.ContainerImage) bool {
			return slices.Contains(image.Names, id)
		})
		if listed {
			continue
		}
		names := []string{id}
		if reference != id {
			names = append(names, reference)
		}
		images = append(images, corev1.ContainerImage{
			Names:     names,
			SizeBytes: pulledImageSize(reference),
		})
	}

	slices.SortStableFunc(images, func(a, b corev1.ContainerImage) int {
		return cmp.Compare(b.SizeBytes, a.SizeBytes)
	})
	if len(current) <= DefaultMaxImages && len(images) > DefaultMaxImages {
		images = images[:DefaultMaxImages]
	}
	return images
}

// pulledImageSize returns a size between 5 MB and 500 MB derived from the reference, so that
// every node reports the same size for the same reference.
func pulledImageSize(reference string) int64 {
	sum := sha256.Sum256([]byte("image-size/" + reference))
	span := uint64(maxPulledImageBytes - minPulledImageBytes + 1)
	return minPulledImageBytes + int64(binary.BigEndian.Uint64(sum[:8])%span)
}

// ImageID returns the image ID that the played kubelets report for a reference:
// <repository>@<digest>, with the normalized repository such as docker.io/library/nginx.
// The digest is the reference's own when it has one, and otherwise "sha256:" and the SHA-256
// of the reference text, so that different tags get different IDs. A reference that does not
// parse keeps its name as written.
func ImageID(reference string) string {
	parsed, err := imageref.Parse(reference)
	if err != nil {
		name, _, _ := strings.Cut(reference, "@")
		if colon := strings.LastIndexByte(name, ':'); colon > strings.LastIndexByte(name, '/') {
			name = name[:colon]
		}
		return name + "@sha256:" + hexDigest(reference)
	}
	digest := parsed.Digest
	if digest == "" {
		digest = "sha256:" + hexDigest(reference)
	}
	return parsed.Name() + "@" + digest
}

// isGone reports whether err means that the object no longer exists, so that there is
// nothing left to do for it.
func isGone(err error) bool {
	return apierrors.IsNotFound(err)
}
