package testcluster

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

const (
	testInitImage    = "registry.example.com/imagedist/prepare:1.0"
	testAppImage     = "quay.io/imagedist-test/app:2.1"
	testSidecarImage = "registry.example.com:5000/imagedist/sidecar@sha256:" +
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

func TestKubeletsImageID(t *testing.T) {
	digest := "sha256:" + strings.Repeat("ab", 32)
	tests := []struct {
		reference string
		expected  string
	}{
		{"nginx:1.27", "docker.io/library/nginx@sha256:" + hexDigest("nginx:1.27")},
		{"nginx", "docker.io/library/nginx@sha256:" + hexDigest("nginx")},
		{"quay.io/org/app:v1", "quay.io/org/app@sha256:" + hexDigest("quay.io/org/app:v1")},
		{"localhost:5000/app@" + digest, "localhost:5000/app@" + digest},
		{"quay.io/org/app:v1@" + digest, "quay.io/org/app@" + digest},
		{"index.docker.io/team/tool:2", "docker.io/team/tool@sha256:" +
			hexDigest("index.docker.io/team/tool:2")},
		// An invalid reference keeps its name as written.
		{"Quay.io/Org/App:v1", "Quay.io/Org/App@sha256:" + hexDigest("Quay.io/Org/App:v1")},
	}
	for _, test := range tests {
		if id := ImageID(test.reference); id != test.expected {
			t.Errorf("ImageID(%q) = %q, expected %q", test.reference, id, test.expected)
		}
	}

	if ImageID("quay.io/org/app:v1") == ImageID("quay.io/org/app:v2") {
		t.Errorf("two tags of one repository get the same image ID")
	}
}

func testNode(name string, runtime Runtime) *corev1.Node {
	return Node{Name: name, Runtime: runtime, InternalIP: "127.0.3.4"}.Object()
}

func testPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "puller-abcde", Namespace: "cache", UID: "8d0c7d4e-1111-2222-3333-444455556666",
			Generation: 1,
		},
		Spec: corev1.PodSpec{
			NodeName:       "worker-0",
			InitContainers: []corev1.Container{{Name: "prepare", Image: testInitImage}},
			Containers: []corev1.Container{
				{Name: "app", Image: testAppImage},
				{Name: "sidecar", Image: testSidecarImage},
			},
		},
		Status: corev1.PodStatus{
			Phase:    corev1.PodPending,
			QOSClass: corev1.PodQOSBestEffort,
			Conditions: []corev1.PodCondition{
				{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
			},
		},
	}
}

// failing returns a failure lookup for the given images.
func failing(failures map[string]PullFailure) func(string) (PullFailure, bool) {
	return func(image string) (PullFailure, bool) {
		failure, ok := failures[image]
		return failure, ok
	}
}

func podCondition(status *corev1.PodStatus,
	kind corev1.PodConditionType) (corev1.PodCondition, bool) {
	for _, condition := range status.Conditions {
		if condition.Type == kind {
			return condition, true
		}
	}
	return corev1.PodCondition{}, false
}

func checkCondition(t *testing.T, status *corev1.PodStatus, kind corev1.PodConditionType,
	expected corev1.ConditionStatus, message string) {
	t.Helper()
	condition, ok := podCondition(status, kind)
	if !ok {
		t.Errorf("condition %s is missing", kind)
		return
	}
	if condition.Status != expected {
		t.Errorf("condition %s = %s, expected %s", kind, condition.Status, expected)
	}
	if condition.Message != message {
		t.Errorf("condition %s message = %q, expected %q", kind, condition.Message, message)
	}
}

func TestKubeletsPodStatusAllPulled(t *testing.T) {
	pod := testPod()
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	status := kubeletPodStatus(pod, testNode("worker-0", Containerd), failing(nil), now)

	if status.Phase != corev1.PodRunning {
		t.Errorf("phase = %s, expected Running", status.Phase)
	}
	if status.QOSClass != corev1.PodQOSBestEffort {
		t.Errorf("qosClass = %q, expected the API server's value kept", status.QOSClass)
	}
	if status.StartTime == nil || !status.StartTime.Time.Equal(now) {
		t.Errorf("startTime = %v, expected %v", status.StartTime, now)
	}
	if status.HostIP != "127.0.3.4" {
		t.Errorf("hostIP = %q, expected the node's internal IP 127.0.3.4", status.HostIP)
	}
	if !strings.HasPrefix(status.PodIP, "10.") {
		t.Errorf("podIP = %q, expected an address in 10.128.0.0/14", status.PodIP)
	}
	if status.ObservedGeneration != 1 {
		t.Errorf("observedGeneration = %d, expected 1", status.ObservedGeneration)
	}

	if len(status.InitContainerStatuses) != 1 {
		t.Fatalf("init container statuses = %d, expected 1", len(status.InitContainerStatuses))
	}
	initStatus := status.InitContainerStatuses[0]
	terminated := initStatus.State.Terminated
	if terminated == nil {
		t.Fatalf("init container state = %+v, expected terminated", initStatus.State)
	}
	if terminated.ExitCode != 0 || terminated.Reason != "Completed" {
		t.Errorf("init container terminated with %d %q, expected 0 Completed",
			terminated.ExitCode, terminated.Reason)
	}
	if initStatus.ImageID != ImageID(testInitImage) {
		t.Errorf("init container imageID = %q, expected %q", initStatus.ImageID,
			ImageID(testInitImage))
	}
	if initStatus.Image != testInitImage {
		t.Errorf("init container image = %q, expected %q", initStatus.Image, testInitImage)
	}
	if !strings.HasPrefix(initStatus.ContainerID, "containerd://") {
		t.Errorf("init containerID = %q, expected the containerd:// scheme",
			initStatus.ContainerID)
	}

	if len(status.ContainerStatuses) != 2 {
		t.Fatalf("container statuses = %d, expected 2", len(status.ContainerStatuses))
	}
	for i, container := range pod.Spec.Containers {
		containerStatus := status.ContainerStatuses[i]
		if containerStatus.Name != container.Name {
			t.Errorf("container status %d is %q, expected %q", i, containerStatus.Name,
				container.Name)
		}
		if containerStatus.State.Running == nil || !containerStatus.State.Running.StartedAt.
			Time.Equal(now) {
			t.Errorf("container %s state = %+v, expected running since %v", container.Name,
				containerStatus.State, now)
		}
		if !containerStatus.Ready {
			t.Errorf("container %s is not ready", container.Name)
		}
		if containerStatus.Started == nil || !*containerStatus.Started {
			t.Errorf("container %s is not started", container.Name)
		}
		if containerStatus.ImageID != ImageID(container.Image) {
			t.Errorf("container %s imageID = %q, expected %q", container.Name,
				containerStatus.ImageID, ImageID(container.Image))
		}
	}

	for _, kind := range []corev1.PodConditionType{
		corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.PodReady,
		corev1.ContainersReady, corev1.PodScheduled,
	} {
		checkCondition(t, &status, kind, corev1.ConditionTrue, "")
	}
	if images := pulledImages(pod, &status); !slices.Equal(images,
		[]string{testInitImage, testAppImage, testSidecarImage}) {
		t.Errorf("pulled images = %v, expected all three", images)
	}
}

func TestKubeletsPodStatusInitContainerFails(t *testing.T) {
	pod := testPod()
	pod.Spec.InitContainers = append(pod.Spec.InitContainers,
		corev1.Container{Name: "second", Image: "quay.io/imagedist-test/second:1"})
	failure := PullFailure{Reason: ReasonImagePullBackOff,
		Message: `Back-off pulling image "` + testInitImage + `"`}
	status := kubeletPodStatus(pod, testNode("worker-0", CRIO),
		failing(map[string]PullFailure{testInitImage: failure}), time.Now())

	if status.Phase != corev1.PodPending {
		t.Errorf("phase = %s, expected Pending", status.Phase)
	}
	first := status.InitContainerStatuses[0]
	if first.State.Waiting == nil || *first.State.Waiting != (corev1.ContainerStateWaiting{
		Reason: failure.Reason, Message: failure.Message}) {
		t.Errorf("first init container state = %+v, expected waiting with the failure",
			first.State)
	}
	if first.ImageID != "" {
		t.Errorf("first init container imageID = %q, expected none before a pull",
			first.ImageID)
	}
	second := status.InitContainerStatuses[1]
	if second.State.Waiting == nil || second.State.Waiting.Reason != "PodInitializing" {
		t.Errorf("second init container state = %+v, expected waiting PodInitializing",
			second.State)
	}
	for _, containerStatus := range status.ContainerStatuses {
		if containerStatus.State.Waiting == nil ||
			containerStatus.State.Waiting.Reason != "PodInitializing" {
			t.Errorf("container %s state = %+v, expected waiting PodInitializing",
				containerStatus.Name, containerStatus.State)
		}
		if containerStatus.Ready {
			t.Errorf("container %s is ready before initialization", containerStatus.Name)
		}
	}

	checkCondition(t, &status, corev1.PodInitialized, corev1.ConditionFalse,
		"containers with incomplete status: [prepare second]")
	checkCondition(t, &status, corev1.PodReady, corev1.ConditionFalse,
		"containers with unready status: [app sidecar]")
	checkCondition(t, &status, corev1.ContainersReady, corev1.ConditionFalse,
		"containers with unready status: [app sidecar]")
	if images := pulledImages(pod, &status); len(images) != 0 {
		t.Errorf("pulled images = %v, expected none", images)
	}
}

func TestKubeletsPodStatusContainerFails(t *testing.T) {
	pod := testPod()
	failure := PullFailure{Reason: ReasonErrImagePull, Message: "429 Too Many Requests"}
	status := kubeletPodStatus(pod, testNode("worker-0", CRIO),
		failing(map[string]PullFailure{testAppImage: failure}), time.Now())

	// kubelet v1.37.2 keeps a pod Pending while one of its containers waits.
	if status.Phase != corev1.PodPending {
		t.Errorf("phase = %s, expected Pending", status.Phase)
	}
	if status.InitContainerStatuses[0].State.Terminated == nil {
		t.Errorf("init container state = %+v, expected terminated",
			status.InitContainerStatuses[0].State)
	}
	app, sidecar := status.ContainerStatuses[0], status.ContainerStatuses[1]
	if app.State.Waiting == nil || app.State.Waiting.Reason != ReasonErrImagePull ||
		app.State.Waiting.Message != failure.Message {
		t.Errorf("app state = %+v, expected waiting with the failure", app.State)
	}
	if app.Ready || app.ImageID != "" {
		t.Errorf("app ready = %t, imageID = %q, expected not ready and no image ID", app.Ready,
			app.ImageID)
	}
	if sidecar.State.Running == nil || !sidecar.Ready {
		t.Errorf("sidecar state = %+v ready = %t, expected running and ready", sidecar.State,
			sidecar.Ready)
	}

	checkCondition(t, &status, corev1.PodInitialized, corev1.ConditionTrue, "")
	checkCondition(t, &status, corev1.PodReady, corev1.ConditionFalse,
		"containers with unready status: [app]")
	if images := pulledImages(pod, &status); !slices.Equal(images,
		[]string{testInitImage, testSidecarImage}) {
		t.Errorf("pulled images = %v, expected the init and sidecar images", images)
	}
}

func TestKubeletsPodStatusInvalidImage(t *testing.T) {
	pod := testPod()
	pod.Spec.Containers[0].Image = "Quay.io/Org/App:v1"
	status := kubeletPodStatus(pod, testNode("worker-0", CRIO), failing(nil), time.Now())

	waiting := status.ContainerStatuses[0].State.Waiting
	if waiting == nil || waiting.Reason != "InvalidImageName" {
		t.Fatalf("state = %+v, expected waiting InvalidImageName",
			status.ContainerStatuses[0].State)
	}
	if !strings.Contains(waiting.Message, "Quay.io/Org/App:v1") {
		t.Errorf("message %q does not name the image", waiting.Message)
	}
}

func TestKubeletsPodStatusStableAcrossPasses(t *testing.T) {
	pod := testPod()
	node := testNode("worker-0", CRIO)
	first := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	pod.Status = kubeletPodStatus(pod, node, failing(nil), first)

	later := first.Add(time.Minute)
	second := kubeletPodStatus(pod, node, failing(nil), later)
	if !sameIgnoringTimes(&pod.Status, &second) {
		t.Errorf("a second pass changed the status:\nfirst  %+v\nsecond %+v", pod.Status,
			second)
	}
	if !second.StartTime.Time.Equal(first) {
		t.Errorf("startTime = %v, expected it kept at %v", second.StartTime, first)
	}
	if started := second.ContainerStatuses[0].State.Running.StartedAt; !started.Time.Equal(first) {
		t.Errorf("startedAt = %v, expected it kept at %v", started, first)
	}
	ready, _ := podCondition(&second, corev1.PodReady)
	if !ready.LastTransitionTime.Time.Equal(first) {
		t.Errorf("Ready lastTransitionTime = %v, expected it kept at %v",
			ready.LastTransitionTime, first)
	}

	// A kubelet does not pull again for a started container, so a new failure does not
	// stop it.
	failure := PullFailure{Reason: ReasonErrImagePull, Message: "manifest unknown"}
	third := kubeletPodStatus(pod, node,
		failing(map[string]PullFailure{testAppImage: failure, testInitImage: failure}), later)
	if !sameIgnoringTimes(&pod.Status, &third) {
		t.Errorf("a failure set after the start changed the status: %+v", third)
	}
}

func TestKubeletsPodStatusFailureCleared(t *testing.T) {
	pod := testPod()
	node := testNode("worker-0", CRIO)
	failure := PullFailure{Reason: ReasonErrImagePull, Message: "manifest unknown"}
	pod.Status = kubeletPodStatus(pod, node,
		failing(map[string]PullFailure{testAppImage: failure}), time.Now())

	cleared := kubeletPodStatus(pod, node, failing(nil), time.Now())
	if sameIgnoringTimes(&pod.Status, &cleared) {
		t.Fatalf("clearing the failure left the status unchanged")
	}
	if cleared.Phase != corev1.PodRunning {
		t.Errorf("phase = %s, expected Running", cleared.Phase)
	}
	if cleared.ContainerStatuses[0].ImageID != ImageID(testAppImage) {
		t.Errorf("app imageID = %q, expected %q", cleared.ContainerStatuses[0].ImageID,
			ImageID(testAppImage))
	}
	checkCondition(t, &cleared, corev1.PodReady, corev1.ConditionTrue, "")
}

func TestKubeletsSameIgnoringTimes(t *testing.T) {
	pod := testPod()
	status := kubeletPodStatus(pod, testNode("worker-0", CRIO), failing(nil), time.Now())

	shifted := status.DeepCopy()
	shifted.StartTime = &metav1.Time{Time: time.Unix(0, 0)}
	shifted.Conditions[1].LastTransitionTime = metav1.Time{Time: time.Unix(0, 0)}
	shifted.ContainerStatuses[0].State.Running.StartedAt = metav1.Time{Time: time.Unix(0, 0)}
	if !sameIgnoringTimes(&status, shifted) {
		t.Errorf("statuses that differ only in times compare as different")
	}

	changed := status.DeepCopy()
	changed.ContainerStatuses[1].Ready = false
	if sameIgnoringTimes(&status, changed) {
		t.Errorf("statuses that differ in readiness compare as equal")
	}
}

func TestKubeletsLookupFailure(t *testing.T) {
	everywhere := PullFailure{Reason: ReasonErrImagePull, Message: "everywhere"}
	onNode := PullFailure{Reason: ReasonImagePullBackOff, Message: "on worker-1"}
	failures := map[pullKey]PullFailure{
		{"", "a"}:         everywhere,
		{"worker-1", "a"}: onNode,
		{"worker-1", "b"}: onNode,
	}
	tests := []struct {
		node, image string
		expected    PullFailure
		found       bool
	}{
		{"worker-1", "a", onNode, true},
		{"worker-2", "a", everywhere, true},
		{"worker-1", "b", onNode, true},
		{"worker-2", "b", PullFailure{}, false},
		{"worker-1", "c", PullFailure{}, false},
	}
	for _, test := range tests {
		failure, found := lookupFailure(failures, test.node, test.image)
		if failure != test.expected || found != test.found {
			t.Errorf("lookupFailure(%s, %s) = %+v, %t, expected %+v, %t", test.node,
				test.image, failure, found, test.expected, test.found)
		}
	}
}

func TestKubeletsFailAndClearPull(t *testing.T) {
	var kubelets Kubelets
	failure := PullFailure{Reason: ReasonErrImagePull, Message: "denied"}
	kubelets.FailPull("worker-1", "a", failure)
	kubelets.FailPull("", "a", failure)

	kubelets.ClearPull("worker-1", "a")
	failures := kubelets.pullFailures()
	if _, found := failures[pullKey{"worker-1", "a"}]; found {
		t.Errorf("failure on worker-1 is still set after ClearPull")
	}
	if _, found := failures[pullKey{"", "a"}]; !found {
		t.Errorf("ClearPull on worker-1 removed the failure for every node")
	}

	// The copy does not change when the kubelets' failures do.
	kubelets.ClearPull("", "a")
	if len(failures) != 1 {
		t.Errorf("the copy of the failures changed with ClearPull")
	}
}

func TestKubeletsDaemonSetTarget(t *testing.T) {
	affinity := func(requirements ...corev1.NodeSelectorRequirement) *corev1.Affinity {
		return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{
					{MatchFields: requirements},
				},
			},
		}}
	}
	nameIn := func(names ...string) corev1.NodeSelectorRequirement {
		return corev1.NodeSelectorRequirement{
			Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: names,
		}
	}
	tests := []struct {
		name     string
		affinity *corev1.Affinity
		expected string
	}{
		{"daemonset pod", affinity(nameIn("worker-1")), "worker-1"},
		{"no affinity", nil, ""},
		{"two names", affinity(nameIn("worker-1", "worker-2")), ""},
		{"not in", affinity(corev1.NodeSelectorRequirement{
			Key: "metadata.name", Operator: corev1.NodeSelectorOpNotIn, Values: []string{"a"},
		}), ""},
		{"other field", affinity(corev1.NodeSelectorRequirement{
			Key: "metadata.uid", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"},
		}), ""},
	}
	for _, test := range tests {
		pod := &corev1.Pod{Spec: corev1.PodSpec{Affinity: test.affinity}}
		if target := daemonSetTarget(pod); target != test.expected {
			t.Errorf("%s: daemonSetTarget = %q, expected %q", test.name, target, test.expected)
		}
	}
}

func TestKubeletsPulledImageSize(t *testing.T) {
	for i := range 2000 {
		reference := fmt.Sprintf("quay.io/org/app-%d:v%d", i, i%7)
		size := pulledImageSize(reference)
		if size < 5_000_000 || size > 500_000_000 {
			t.Fatalf("pulledImageSize(%q) = %d, expected 5 MB to 500 MB", reference, size)
		}
		if again := pulledImageSize(reference); again != size {
			t.Fatalf("pulledImageSize(%q) = %d then %d, expected the same", reference, size,
				again)
		}
	}
}

// listedImages returns n images of sizes 1000 MB, 999 MB and so on.
func listedImages(n int) []corev1.ContainerImage {
	images := make([]corev1.ContainerImage, n)
	for i := range images {
		images[i] = corev1.ContainerImage{
			Names:     []string{fmt.Sprintf("quay.io/seed/image-%d@sha256:%064d", i, i)},
			SizeBytes: int64(1000-i) * 1_000_000,
		}
	}
	return images
}

func containsImageID(images []corev1.ContainerImage, id string) bool {
	return slices.ContainsFunc(images, func(image corev1.ContainerImage) bool {
		return slices.Contains(image.Names, id)
	})
}

func TestKubeletsNodeImagesSorted(t *testing.T) {
	current := []corev1.ContainerImage{
		{Names: []string{"big"}, SizeBytes: 900_000_000},
		{Names: []string{"small"}, SizeBytes: 1_000_000},
	}
	merged := withPulledImages(current, []string{testAppImage, testSidecarImage})

	if len(merged) != 4 {
		t.Fatalf("merged %d images, expected 4: %v", len(merged), merged)
	}
	for i := 1; i < len(merged); i++ {
		if merged[i-1].SizeBytes < merged[i].SizeBytes {
			t.Errorf("images are not sorted largest first: %v", merged)
		}
	}
	for _, reference := range []string{testAppImage, testSidecarImage} {
		index := slices.IndexFunc(merged, func(image corev1.ContainerImage) bool {
			return slices.Contains(image.Names, ImageID(reference))
		})
		if index < 0 {
			t.Errorf("%s is missing", reference)
			continue
		}
		if merged[index].SizeBytes != pulledImageSize(reference) {
			t.Errorf("%s size = %d, expected %d", reference, merged[index].SizeBytes,
				pulledImageSize(reference))
		}
	}
	app := merged[slices.IndexFunc(merged, func(image corev1.ContainerImage) bool {
		return slices.Contains(image.Names, ImageID(testAppImage))
	})]
	if !slices.Equal(app.Names, []string{ImageID(testAppImage), testAppImage}) {
		t.Errorf("names = %v, expected the image ID and the reference", app.Names)
	}
	if len(current) != 2 {
		t.Errorf("withPulledImages changed its input")
	}

	// A fully qualified digest reference is its own image ID, named once.
	sidecar := merged[slices.IndexFunc(merged, func(image corev1.ContainerImage) bool {
		return slices.Contains(image.Names, testSidecarImage)
	})]
	if len(sidecar.Names) != 1 {
		t.Errorf("names = %v, expected the digest reference once", sidecar.Names)
	}

	again := withPulledImages(merged, []string{testAppImage})
	if len(again) != len(merged) {
		t.Errorf("pulling a listed image again changed the list to %v", again)
	}
}

func TestKubeletsNodeImagesCapped(t *testing.T) {
	full := listedImages(DefaultMaxImages)

	// Every listed image is larger than 500 MB, so a pulled image does not make the list.
	merged := withPulledImages(full, []string{testAppImage})
	if len(merged) != DefaultMaxImages {
		t.Errorf("list has %d images, expected the cap %d", len(merged), DefaultMaxImages)
	}
	if containsImageID(merged, ImageID(testAppImage)) {
		t.Errorf("an image smaller than all %d listed ones was listed", DefaultMaxImages)
	}

	// A pulled image larger than the smallest listed one replaces it.
	small := listedImages(DefaultMaxImages)
	for i := range small {
		small[i].SizeBytes = int64(DefaultMaxImages-i) * 1000
	}
	merged = withPulledImages(small, []string{testAppImage})
	if len(merged) != DefaultMaxImages {
		t.Errorf("list has %d images, expected the cap %d", len(merged), DefaultMaxImages)
	}
	if !slices.Contains(merged[0].Names, ImageID(testAppImage)) {
		t.Errorf("the largest image is %v, expected the pulled image", merged[0].Names)
	}
	if containsImageID(merged, small[DefaultMaxImages-1].Names[0]) {
		t.Errorf("the smallest image is still listed after a larger one was pulled")
	}

	// A node that lists more than the default cap has no cap.
	long := listedImages(DefaultMaxImages + 10)
	for i := range long {
		long[i].SizeBytes = int64(len(long)-i) * 1000
	}
	merged = withPulledImages(long, []string{testAppImage})
	if len(merged) != len(long)+1 {
		t.Errorf("list has %d images, expected %d", len(merged), len(long)+1)
	}
}

// newFakeKubelets returns kubelets on a fake clientset that holds node worker-0 and one pod
// bound to it, and counts the status updates.
func newFakeKubelets(t *testing.T) (*Kubelets, *fake.Clientset, *int) {
	t.Helper()
	node := testNode("worker-0", CRIO)
	client := fake.NewClientset(node, testPod())
	updates := 0
	client.PrependReactor("update", "*", func(action k8stesting.Action) (bool,
		runtime.Object, error) {
		if action.GetSubresource() == "status" {
			updates++
		}
		return false, nil, nil
	})
	return &Kubelets{Client: client, Namespace: "cache"}, client, &updates
}

func TestKubeletsPassUpdatesOnlyChanges(t *testing.T) {
	kubelets, client, updates := newFakeKubelets(t)
	ctx := t.Context()

	if errs := kubelets.pass(ctx); len(errs) > 0 {
		t.Fatalf("first pass: %v", errs)
	}
	if *updates != 2 {
		t.Errorf("first pass made %d status updates, expected the pod and the node", *updates)
	}
	pod, err := client.CoreV1().Pods("cache").Get(ctx, "puller-abcde", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pod.Status.Phase != corev1.PodRunning {
		t.Errorf("phase = %s, expected Running", pod.Status.Phase)
	}
	node, err := client.CoreV1().Nodes().Get(ctx, "worker-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, reference := range []string{testInitImage, testAppImage, testSidecarImage} {
		if !containsImageID(node.Status.Images, ImageID(reference)) {
			t.Errorf("node images lack %s", reference)
		}
	}

	*updates = 0
	if errs := kubelets.pass(ctx); len(errs) > 0 {
		t.Fatalf("second pass: %v", errs)
	}
	if *updates != 0 {
		t.Errorf("second pass made %d status updates, expected none", *updates)
	}

	kubelets.FailPull("", "quay.io/other:1", PullFailure{Reason: ReasonErrImagePull})
	if errs := kubelets.pass(ctx); len(errs) > 0 || *updates != 0 {
		t.Errorf("pass after an unrelated failure: errors %v, %d updates, expected none",
			errs, *updates)
	}
}

func TestKubeletsPassConfirmsDeletion(t *testing.T) {
	kubelets, client, _ := newFakeKubelets(t)
	ctx := t.Context()
	pod, err := client.CoreV1().Pods("cache").Get(ctx, "puller-abcde", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	pod.DeletionTimestamp = &now
	if _, err := client.CoreV1().Pods("cache").Update(ctx, pod,
		metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	if errs := kubelets.pass(ctx); len(errs) > 0 {
		t.Fatalf("pass: %v", errs)
	}
	_, err = client.CoreV1().Pods("cache").Get(ctx, "puller-abcde", metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("terminating pod still exists after a pass: %v", err)
	}
	var deletes []k8stesting.DeleteAction
	for _, action := range client.Actions() {
		if deleteAction, ok := action.(k8stesting.DeleteAction); ok {
			deletes = append(deletes, deleteAction)
		}
	}
	if len(deletes) != 1 {
		t.Fatalf("pass sent %d deletes, expected 1", len(deletes))
	}
	options := deletes[0].GetDeleteOptions()
	if options.GracePeriodSeconds == nil || *options.GracePeriodSeconds != 0 {
		t.Errorf("delete grace period = %v, expected 0", options.GracePeriodSeconds)
	}
}

func TestKubeletsPassLeavesPodOnMissingNode(t *testing.T) {
	kubelets, client, updates := newFakeKubelets(t)
	ctx := t.Context()
	if err := client.CoreV1().Nodes().Delete(ctx, "worker-0",
		metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	if errs := kubelets.pass(ctx); len(errs) > 0 {
		t.Fatalf("pass: %v", errs)
	}
	if *updates != 0 {
		t.Errorf("pass made %d status updates for a pod on a missing node", *updates)
	}
}

func TestKubeletsLogRepeatsOnce(t *testing.T) {
	var messages []string
	kubelets := &Kubelets{Logf: func(format string, args ...any) {
		messages = append(messages, fmt.Sprintf(format, args...))
	}}
	first := fmt.Errorf("listing pods: connection refused")
	second := fmt.Errorf("binding pod a/b to node c: conflict")

	kubelets.logErrors([]error{first})
	kubelets.logErrors([]error{first, second})
	kubelets.logErrors(nil)
	kubelets.logErrors([]error{first})

	expected := []string{
		"kubelets: " + first.Error(), "kubelets: " + second.Error(), "kubelets: " + first.Error(),
	}
	if !slices.Equal(messages, expected) {
		t.Errorf("logged %q, expected %q", messages, expected)
	}
}

// TestAccKubeletsDaemonSet runs a DaemonSet on the seeded workers with the kubelets played
// by Kubelets, with one image failing on one node and one init image failing on another.
func TestAccKubeletsDaemonSet(t *testing.T) {
	requireAcceptance(t)
	began := time.Now()
	cluster, _ := startCluster(t, Options{})
	client, err := cluster.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	nodes := DemoNodes()
	if err := SeedNodes(ctx, client, nodes); err != nil {
		t.Fatalf("SeedNodes: %v", err)
	}
	var workers []string
	for _, node := range nodes {
		if _, ok := node.Labels[LabelWorkerRole]; ok {
			workers = append(workers, node.Name)
		}
	}
	namespace := "kubelets-" + utilrand.String(5)
	if err := CreateNamespace(ctx, client, namespace, nil); err != nil {
		t.Fatal(err)
	}
	if err := WaitForServiceAccount(ctx, client, namespace, "default"); err != nil {
		t.Fatal(err)
	}

	appFailure := PullFailure{Reason: ReasonErrImagePull,
		Message: "reading manifest 2.1 in quay.io/imagedist-test/app: toomanyrequests"}
	initFailure := PullFailure{Reason: ReasonImagePullBackOff,
		Message: `Back-off pulling image "` + testInitImage + `"`}
	kubelets := &Kubelets{Client: client, Namespace: namespace, Logf: t.Logf}
	kubelets.FailPull("worker-1", testAppImage, appFailure)
	kubelets.FailPull("worker-2", testInitImage, initFailure)
	kubeletsCtx, stop := context.WithCancel(ctx)
	waitForKubelets := kubelets.Start(kubeletsCtx)
	t.Cleanup(func() {
		stop()
		waitForKubelets()
	})

	createPullerDaemonSet(t, client, namespace)
	createUnscheduledPod(t, client, namespace)
	t.Logf("cluster and DaemonSet ready after %s", time.Since(began).Round(time.Millisecond))

	waitForPods(t, client, namespace, "pods bound to every worker, healthy ones Ready",
		func(pods map[string]*corev1.Pod) bool {
			for _, worker := range workers {
				pod := pods[worker]
				if pod == nil {
					return false
				}
				if worker != "worker-1" && worker != "worker-2" && !podReady(pod) {
					return false
				}
			}
			return len(pods) == len(workers) && !podReady(pods["worker-1"]) &&
				waitingReason(pods["worker-1"].Status.ContainerStatuses, "app") != ""
		})
	pods := podsByNode(t, client, namespace)
	if _, ok := pods["master-0"]; ok {
		t.Errorf("a puller pod is bound to the control-plane node master-0")
	}
	for _, worker := range []string{"worker-0", "worker-containerd-0"} {
		checkPulledPod(t, pods[worker])
	}
	if !strings.HasPrefix(pods["worker-containerd-0"].Status.ContainerStatuses[0].ContainerID,
		"containerd://") {
		t.Errorf("container ID on worker-containerd-0 = %q, expected the containerd:// scheme",
			pods["worker-containerd-0"].Status.ContainerStatuses[0].ContainerID)
	}
	checkWaiting(t, pods["worker-1"].Status.ContainerStatuses, "app", appFailure)
	checkWaiting(t, pods["worker-2"].Status.InitContainerStatuses, "prepare", initFailure)
	if phase := pods["worker-2"].Status.Phase; phase != corev1.PodPending {
		t.Errorf("pod on worker-2 phase = %s, expected Pending", phase)
	}
	if reason := waitingReason(pods["worker-2"].Status.ContainerStatuses,
		"app"); reason != "PodInitializing" {
		t.Errorf("app on worker-2 waits with %q, expected PodInitializing", reason)
	}
	checkStillUnscheduled(t, client, namespace)
	checkNodeImages(t, client, "worker-containerd-0")

	kubelets.ClearPull("worker-1", testAppImage)
	kubelets.ClearPull("worker-2", testInitImage)
	cleared := time.Now()
	waitForPods(t, client, namespace, "every pod Ready after ClearPull",
		func(pods map[string]*corev1.Pod) bool {
			return podReady(pods["worker-1"]) && podReady(pods["worker-2"])
		})
	t.Logf("pods Ready %s after ClearPull", time.Since(cleared).Round(time.Millisecond))
	pods = podsByNode(t, client, namespace)
	checkPulledPod(t, pods["worker-1"])
	checkPulledPod(t, pods["worker-2"])

	deleted := time.Now()
	err = client.AppsV1().DaemonSets(namespace).Delete(ctx, "puller", metav1.DeleteOptions{})
	if err != nil {
		t.Fatalf("deleting the DaemonSet: %v", err)
	}
	waitForPods(t, client, namespace, "no puller pods after deleting the DaemonSet",
		func(pods map[string]*corev1.Pod) bool { return len(pods) == 0 })
	t.Logf("puller pods gone %s after the DaemonSet deletion",
		time.Since(deleted).Round(time.Millisecond))

	stop()
	stopped := make(chan struct{})
	go func() {
		waitForKubelets()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Errorf("kubelets did not stop within 10 s of the context's end")
	}
}

func createPullerDaemonSet(t *testing.T, client kubernetes.Interface, namespace string) {
	t.Helper()
	labels := map[string]string{"app": "puller"}
	daemonSet := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "puller", Namespace: namespace},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					NodeSelector:   map[string]string{LabelWorkerRole: ""},
					InitContainers: []corev1.Container{{Name: "prepare", Image: testInitImage}},
					Containers: []corev1.Container{
						{Name: "app", Image: testAppImage},
						{Name: "sidecar", Image: testSidecarImage},
					},
				},
			},
		},
	}
	_, err := client.AppsV1().DaemonSets(namespace).Create(t.Context(), daemonSet,
		metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating the DaemonSet: %v", err)
	}
}

// createUnscheduledPod creates a pod that is not a DaemonSet pod, which the kubelets must
// leave unscheduled.
func createUnscheduledPod(t *testing.T, client kubernetes.Interface, namespace string) {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "unscheduled", Namespace: namespace},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "app", Image: testAppImage}},
		},
	}
	_, err := client.CoreV1().Pods(namespace).Create(t.Context(), pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating pod %s: %v", pod.Name, err)
	}
}

func checkStillUnscheduled(t *testing.T, client kubernetes.Interface, namespace string) {
	t.Helper()
	pod, err := client.CoreV1().Pods(namespace).Get(t.Context(), "unscheduled",
		metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading pod unscheduled: %v", err)
	}
	if pod.Spec.NodeName != "" {
		t.Errorf("pod unscheduled was bound to %s, expected no binding without a scheduler",
			pod.Spec.NodeName)
	}
	if len(pod.Status.ContainerStatuses) != 0 {
		t.Errorf("pod unscheduled has container statuses %v, expected none",
			pod.Status.ContainerStatuses)
	}
}

// podsByNode returns the puller pods by the node they are bound to. Unbound puller pods are
// under "".
func podsByNode(t *testing.T, client kubernetes.Interface,
	namespace string) map[string]*corev1.Pod {
	t.Helper()
	list, err := client.CoreV1().Pods(namespace).List(t.Context(), metav1.ListOptions{
		LabelSelector: "app=puller",
	})
	if err != nil {
		t.Fatalf("listing puller pods: %v", err)
	}
	pods := map[string]*corev1.Pod{}
	for i := range list.Items {
		pods[list.Items[i].Spec.NodeName] = &list.Items[i]
	}
	return pods
}

// waitForPods polls the puller pods for up to two minutes until done returns true.
func waitForPods(t *testing.T, client kubernetes.Interface, namespace, what string,
	done func(pods map[string]*corev1.Pod) bool) {
	t.Helper()
	var last map[string]*corev1.Pod
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, 2*time.Minute, true,
		func(ctx context.Context) (bool, error) {
			last = podsByNode(t, client, namespace)
			return done(last), nil
		})
	if err != nil {
		var summary []string
		for node, pod := range last {
			summary = append(summary, fmt.Sprintf("%q: %s ready=%t", node, pod.Status.Phase,
				podReady(pod)))
		}
		slices.Sort(summary)
		logEvents(t, client, namespace)
		t.Fatalf("waiting for %s: %v; pods by node: %v", what, err, summary)
	}
}

func podReady(pod *corev1.Pod) bool {
	if pod == nil {
		return false
	}
	condition, ok := podCondition(&pod.Status, corev1.PodReady)
	return ok && condition.Status == corev1.ConditionTrue
}

func waitingReason(statuses []corev1.ContainerStatus, name string) string {
	status := findContainerStatus(statuses, name)
	if status == nil || status.State.Waiting == nil {
		return ""
	}
	return status.State.Waiting.Reason
}

func checkWaiting(t *testing.T, statuses []corev1.ContainerStatus, name string,
	failure PullFailure) {
	t.Helper()
	status := findContainerStatus(statuses, name)
	if status == nil {
		t.Errorf("container %s has no status", name)
		return
	}
	if status.State.Waiting == nil || *status.State.Waiting != (corev1.ContainerStateWaiting{
		Reason: failure.Reason, Message: failure.Message}) {
		t.Errorf("container %s state = %+v, expected waiting with %+v", name, status.State,
			failure)
	}
}

// checkPulledPod checks that a pod is Running and Ready with the image IDs of its images.
func checkPulledPod(t *testing.T, pod *corev1.Pod) {
	t.Helper()
	if pod == nil {
		t.Errorf("pod is missing")
		return
	}
	if pod.Status.Phase != corev1.PodRunning || !podReady(pod) {
		t.Errorf("pod %s on %s: phase %s, ready %t, expected Running and Ready", pod.Name,
			pod.Spec.NodeName, pod.Status.Phase, podReady(pod))
	}
	for _, containers := range []struct {
		spec     []corev1.Container
		statuses []corev1.ContainerStatus
	}{
		{pod.Spec.InitContainers, pod.Status.InitContainerStatuses},
		{pod.Spec.Containers, pod.Status.ContainerStatuses},
	} {
		for _, container := range containers.spec {
			status := findContainerStatus(containers.statuses, container.Name)
			if status == nil {
				t.Errorf("pod on %s: container %s has no status", pod.Spec.NodeName,
					container.Name)
				continue
			}
			if status.ImageID != ImageID(container.Image) {
				t.Errorf("pod on %s: container %s imageID = %q, expected %q",
					pod.Spec.NodeName, container.Name, status.ImageID, ImageID(container.Image))
			}
		}
	}
}

// checkNodeImages checks that a node with fewer than 50 images lists all puller images.
func checkNodeImages(t *testing.T, client kubernetes.Interface, name string) {
	t.Helper()
	var node *corev1.Node
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, 30*time.Second, true,
		func(ctx context.Context) (bool, error) {
			var err error
			node, err = client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			return containsImageID(node.Status.Images, ImageID(testAppImage)), nil
		})
	if err != nil {
		t.Fatalf("waiting for node %s to list %s: %v", name, testAppImage, err)
	}

	for _, reference := range []string{testInitImage, testAppImage, testSidecarImage} {
		index := slices.IndexFunc(node.Status.Images, func(image corev1.ContainerImage) bool {
			return slices.Contains(image.Names, ImageID(reference))
		})
		if index < 0 {
			t.Errorf("node %s does not list %s", name, reference)
			continue
		}
		if !slices.Contains(node.Status.Images[index].Names, reference) {
			t.Errorf("node %s lists %s under %v, expected the reference among the names",
				name, reference, node.Status.Images[index].Names)
		}
	}
	for i := 1; i < len(node.Status.Images); i++ {
		if node.Status.Images[i-1].SizeBytes < node.Status.Images[i].SizeBytes {
			t.Errorf("node %s images are not sorted largest first", name)
			break
		}
	}
}

// logEvents logs the events of a namespace, which explain why a controller did not act.
func logEvents(t *testing.T, client kubernetes.Interface, namespace string) {
	t.Helper()
	events, err := client.CoreV1().Events(namespace).List(context.Background(),
		metav1.ListOptions{})
	if err != nil {
		t.Logf("listing the events of %s: %v", namespace, err)
		return
	}
	for _, event := range events.Items {
		t.Logf("event %s %s/%s: %s %s", event.Type, event.InvolvedObject.Kind,
			event.InvolvedObject.Name, event.Reason, event.Message)
	}
}
