package puller

import (
	"cmp"
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// pullFailureReasons are the waiting reasons with which the kubelet reports that it could not
// pull or inspect an image.
var pullFailureReasons = map[string]bool{
	"ErrImagePull":              true,
	"ImagePullBackOff":          true,
	"InvalidImageName":          true,
	"ErrImageNeverPull":         true,
	"RegistryUnavailable":       true,
	"SignatureValidationFailed": true,
	"ErrImageInspect":           true,
}

// ImageError is a pull failure of one image on one node.
type ImageError struct {
	// Key is the images key of the image.
	Key string
	// Reason is the container's waiting reason, such as "ErrImagePull".
	Reason string
	// Message is the kubelet's message, often the registry's error.
	Message string
}

// NodeStatus is the cache state of the images on one node.
type NodeStatus struct {
	Node string
	// Pod is the name of the pod judged, or "" when the node has none.
	Pod string
	// Ready is true when the pod's Ready condition is True.
	Ready bool
	// Present are the keys of the images cached on the node, sorted.
	Present []string
	// Missing are the keys of the images not cached yet, sorted.
	Missing []string
	// Errors are the pull failures, sorted by Key. Their images are in Missing too.
	Errors []ImageError
}

// NodeStatuses judges, for each node in nodes, whether each image is cached, from the
// puller's own pods. pods is every pod of the DaemonSet, of any template revision. The result
// has one entry per distinct node, sorted by name. Present, Missing and Errors are never nil.
//
// For each node, the judged pod is the newest one bound to it (spec.nodeName) that is not
// being deleted, by creationTimestamp, with the lowest name breaking ties.
//
// An image is present when the pod's spec has a container or init container named
// image.Container that runs image.Reference. That container's status must also have an
// imageID and show that the image ran: running, terminated with exit code 0, or restarted
// after a termination. So a pod of an older template that ran a different reference under the
// same name does not count. Container statuses are read instead of node.status.images,
// because the kubelet lists only the 50 largest images there by default.
func NodeStatuses(images []Image, nodes []string, pods []corev1.Pod) []NodeStatus {
	names := slices.Clone(nodes)
	slices.Sort(names)
	names = slices.Compact(names)

	podByNode := newestPods(pods)
	statuses := make([]NodeStatus, 0, len(names))
	for _, node := range names {
		statuses = append(statuses, judgeNode(images, node, podByNode[node]))
	}
	return statuses
}

// newestPods maps each node name to the pod judged for it.
func newestPods(pods []corev1.Pod) map[string]*corev1.Pod {
	podByNode := map[string]*corev1.Pod{}
	for i := range pods {
		pod := &pods[i]
		if pod.Spec.NodeName == "" || pod.DeletionTimestamp != nil {
			continue
		}
		current, found := podByNode[pod.Spec.NodeName]
		if !found || newer(pod, current) {
			podByNode[pod.Spec.NodeName] = pod
		}
	}
	return podByNode
}

func newer(pod, other *corev1.Pod) bool {
	created, otherCreated := pod.CreationTimestamp.Time, other.CreationTimestamp.Time
	if !created.Equal(otherCreated) {
		return created.After(otherCreated)
	}
	return pod.Name < other.Name
}

func judgeNode(images []Image, node string, pod *corev1.Pod) NodeStatus {
	status := NodeStatus{
		Node:    node,
		Present: []string{},
		Missing: []string{},
		Errors:  []ImageError{},
	}
	if pod != nil {
		status.Pod = pod.Name
		status.Ready = podReady(pod)
	}

	for _, image := range images {
		containerStatus := imageContainerStatus(pod, image)
		switch {
		case containerStatus == nil:
			status.Missing = append(status.Missing, image.Key)
		case pullFailed(containerStatus):
			status.Missing = append(status.Missing, image.Key)
			status.Errors = append(status.Errors, ImageError{
				Key:     image.Key,
				Reason:  containerStatus.State.Waiting.Reason,
				Message: containerStatus.State.Waiting.Message,
			})
		case imageRan(containerStatus):
			status.Present = append(status.Present, image.Key)
		default:
			status.Missing = append(status.Missing, image.Key)
		}
	}

	slices.Sort(status.Present)
	slices.Sort(status.Missing)
	slices.SortFunc(status.Errors, func(a, b ImageError) int { return cmp.Compare(a.Key, b.Key) })
	return status
}

// imageContainerStatus returns the status of the container that pulls image in pod, or nil
// when pod is nil, has no such container, runs another reference under its name, or reports
// no status for it yet.
func imageContainerStatus(pod *corev1.Pod, image Image) *corev1.ContainerStatus {
	if pod == nil {
		return nil
	}
	if specRuns(pod.Spec.Containers, image) {
		return findStatus(pod.Status.ContainerStatuses, image.Container)
	}
	if specRuns(pod.Spec.InitContainers, image) {
		return findStatus(pod.Status.InitContainerStatuses, image.Container)
	}
	return nil
}

func specRuns(containers []corev1.Container, image Image) bool {
	return slices.ContainsFunc(containers, func(c corev1.Container) bool {
		return c.Name == image.Container && c.Image == image.Reference
	})
}

func findStatus(statuses []corev1.ContainerStatus, name string) *corev1.ContainerStatus {
	for i := range statuses {
		if statuses[i].Name == name {
			return &statuses[i]
		}
	}
	return nil
}

func pullFailed(status *corev1.ContainerStatus) bool {
	waiting := status.State.Waiting
	return waiting != nil && pullFailureReasons[waiting.Reason]
}

// imageRan reports whether the kubelet started a container from the image, which it can only
// do once the image is on the node.
func imageRan(status *corev1.ContainerStatus) bool {
	if status.ImageID == "" {
		return false
	}
	if status.State.Running != nil {
		return true
	}
	if terminated := status.State.Terminated; terminated != nil && terminated.ExitCode == 0 {
		return true
	}
	return status.RestartCount > 0 && status.LastTerminationState.Terminated != nil
}

func podReady(pod *corev1.Pod) bool {
	for _, condition := range pod.Status.Conditions {
		if condition.Type == corev1.PodReady {
			return condition.Status == corev1.ConditionTrue
		}
	}
	return false
}
