package puller

import (
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var (
	testImageID = "quay.io/team/api@sha256:" + strings.Repeat("a", 64)
	apiImage    = Image{Key: "api", Reference: "quay.io/team/api:3.8.2", Container: "api"}
	staticImage = Image{Key: "Static_Bin", Reference: "quay.io/team/static@" + testDigest,
		Container: "static-bin"}
	testImages = []Image{staticImage, apiImage}
	baseTime   = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
)

func running() corev1.ContainerState {
	return corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
}

func terminated(exitCode int32) corev1.ContainerState {
	return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		ExitCode: exitCode,
	}}
}

func waiting(reason, message string) corev1.ContainerState {
	return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
		Reason: reason, Message: message,
	}}
}

func containerStatus(name string, state corev1.ContainerState) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: state, ImageID: testImageID}
}

// keepCachedPod returns a pod of the KeepCached form that runs images on nodeName, with the
// given container statuses.
func keepCachedPod(name, nodeName string, created time.Time, images []Image,
	statuses ...corev1.ContainerStatus) corev1.Pod {
	pod := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(created)},
		Spec: corev1.PodSpec{
			NodeName:       nodeName,
			InitContainers: []corev1.Container{{Name: ContainerSleeper, Image: "busybox"}},
		},
		Status: corev1.PodStatus{ContainerStatuses: statuses},
	}
	for _, image := range images {
		pod.Spec.Containers = append(pod.Spec.Containers,
			corev1.Container{Name: image.Container, Image: image.Reference})
	}
	return pod
}

// pullOnlyPod returns a pod of the KeepCached false form, with the given init container
// statuses.
func pullOnlyPod(name, nodeName string, created time.Time, images []Image,
	statuses ...corev1.ContainerStatus) corev1.Pod {
	pod := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(created)},
		Spec: corev1.PodSpec{
			NodeName:       nodeName,
			InitContainers: []corev1.Container{{Name: ContainerSleeper, Image: "busybox"}},
			Containers:     []corev1.Container{{Name: ContainerWait, Image: "busybox"}},
		},
		Status: corev1.PodStatus{InitContainerStatuses: statuses},
	}
	for _, image := range images {
		pod.Spec.InitContainers = append(pod.Spec.InitContainers,
			corev1.Container{Name: image.Container, Image: image.Reference})
	}
	return pod
}

func ready(pod corev1.Pod) corev1.Pod {
	pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{
		Type: corev1.PodReady, Status: corev1.ConditionTrue,
	})
	return pod
}

func deleting(pod corev1.Pod) corev1.Pod {
	now := metav1.NewTime(baseTime.Add(time.Hour))
	pod.DeletionTimestamp = &now
	return pod
}

func TestNodeStatusesOneNode(t *testing.T) {
	tests := []struct {
		name string
		pods []corev1.Pod
		want NodeStatus
	}{
		{
			name: "no pod",
			want: NodeStatus{Node: "n1", Present: []string{},
				Missing: []string{"Static_Bin", "api"}, Errors: []ImageError{}},
		},
		{
			name: "all running and ready",
			pods: []corev1.Pod{ready(keepCachedPod("p1", "n1", baseTime, testImages,
				containerStatus("api", running()),
				containerStatus("static-bin", running())))},
			want: NodeStatus{Node: "n1", Pod: "p1", Ready: true,
				Present: []string{"Static_Bin", "api"}, Missing: []string{},
				Errors: []ImageError{}},
		},
		{
			name: "Ready condition False",
			pods: []corev1.Pod{func() corev1.Pod {
				pod := keepCachedPod("p1", "n1", baseTime, testImages,
					containerStatus("api", running()))
				pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady,
					Status: corev1.ConditionFalse}}
				return pod
			}()},
			want: NodeStatus{Node: "n1", Pod: "p1", Present: []string{"api"},
				Missing: []string{"Static_Bin"}, Errors: []ImageError{}},
		},
		{
			name: "running without image ID",
			pods: []corev1.Pod{keepCachedPod("p1", "n1", baseTime, testImages,
				corev1.ContainerStatus{Name: "api", State: running()})},
			want: NodeStatus{Node: "n1", Pod: "p1", Present: []string{},
				Missing: []string{"Static_Bin", "api"}, Errors: []ImageError{}},
		},
		{
			name: "container creating",
			pods: []corev1.Pod{keepCachedPod("p1", "n1", baseTime, testImages,
				containerStatus("api", waiting("ContainerCreating", "")))},
			want: NodeStatus{Node: "n1", Pod: "p1", Present: []string{},
				Missing: []string{"Static_Bin", "api"}, Errors: []ImageError{}},
		},
		{
			name: "terminated with exit code 0",
			pods: []corev1.Pod{keepCachedPod("p1", "n1", baseTime, testImages,
				containerStatus("api", terminated(0)))},
			want: NodeStatus{Node: "n1", Pod: "p1", Present: []string{"api"},
				Missing: []string{"Static_Bin"}, Errors: []ImageError{}},
		},
		{
			name: "terminated with exit code 1",
			pods: []corev1.Pod{keepCachedPod("p1", "n1", baseTime, testImages,
				containerStatus("api", terminated(1)))},
			want: NodeStatus{Node: "n1", Pod: "p1", Present: []string{},
				Missing: []string{"Static_Bin", "api"}, Errors: []ImageError{}},
		},
		{
			name: "restarted after termination",
			pods: []corev1.Pod{keepCachedPod("p1", "n1", baseTime, testImages,
				corev1.ContainerStatus{
					Name:                 "api",
					ImageID:              testImageID,
					State:                waiting("CrashLoopBackOff", "back-off"),
					RestartCount:         3,
					LastTerminationState: terminated(2),
				})},
			want: NodeStatus{Node: "n1", Pod: "p1", Present: []string{"api"},
				Missing: []string{"Static_Bin"}, Errors: []ImageError{}},
		},
		{
			name: "restart count without last termination",
			pods: []corev1.Pod{keepCachedPod("p1", "n1", baseTime, testImages,
				corev1.ContainerStatus{
					Name:         "api",
					ImageID:      testImageID,
					State:        waiting("CrashLoopBackOff", "back-off"),
					RestartCount: 3,
				})},
			want: NodeStatus{Node: "n1", Pod: "p1", Present: []string{},
				Missing: []string{"Static_Bin", "api"}, Errors: []ImageError{}},
		},
		{
			name: "pull failures sorted by key",
			pods: []corev1.Pod{keepCachedPod("p1", "n1", baseTime, testImages,
				corev1.ContainerStatus{Name: "api",
					State: waiting("ImagePullBackOff", "Back-off pulling image")},
				corev1.ContainerStatus{Name: "static-bin",
					State: waiting("ErrImagePull", "manifest unknown")})},
			want: NodeStatus{Node: "n1", Pod: "p1", Present: []string{},
				Missing: []string{"Static_Bin", "api"}, Errors: []ImageError{
					{Key: "Static_Bin", Reason: "ErrImagePull", Message: "manifest unknown"},
					{Key: "api", Reason: "ImagePullBackOff",
						Message: "Back-off pulling image"},
				}},
		},
		{
			name: "pull failure after an earlier run",
			pods: []corev1.Pod{keepCachedPod("p1", "n1", baseTime, testImages,
				corev1.ContainerStatus{
					Name:                 "api",
					ImageID:              testImageID,
					State:                waiting("ErrImagePull", "not found"),
					RestartCount:         1,
					LastTerminationState: terminated(0),
				})},
			want: NodeStatus{Node: "n1", Pod: "p1", Present: []string{},
				Missing: []string{"Static_Bin", "api"}, Errors: []ImageError{
					{Key: "api", Reason: "ErrImagePull", Message: "not found"},
				}},
		},
		{
			name: "outdated pod runs another reference",
			pods: []corev1.Pod{keepCachedPod("p1", "n1", baseTime, []Image{
				{Key: "api", Reference: "quay.io/team/api:3.8.1", Container: "api"},
				staticImage,
			}, containerStatus("api", running()), containerStatus("static-bin", running()))},
			want: NodeStatus{Node: "n1", Pod: "p1", Present: []string{"Static_Bin"},
				Missing: []string{"api"}, Errors: []ImageError{}},
		},
		{
			name: "outdated pod without the container",
			pods: []corev1.Pod{keepCachedPod("p1", "n1", baseTime, []Image{staticImage},
				containerStatus("static-bin", running()),
				containerStatus("api", running()))},
			want: NodeStatus{Node: "n1", Pod: "p1", Present: []string{"Static_Bin"},
				Missing: []string{"api"}, Errors: []ImageError{}},
		},
		{
			name: "newest pod wins",
			pods: []corev1.Pod{
				keepCachedPod("old", "n1", baseTime, testImages,
					containerStatus("api", running()),
					containerStatus("static-bin", running())),
				keepCachedPod("new", "n1", baseTime.Add(time.Minute), testImages,
					containerStatus("api", running())),
			},
			want: NodeStatus{Node: "n1", Pod: "new", Present: []string{"api"},
				Missing: []string{"Static_Bin"}, Errors: []ImageError{}},
		},
		{
			name: "newest pod wins in any order",
			pods: []corev1.Pod{
				keepCachedPod("new", "n1", baseTime.Add(time.Minute), testImages,
					containerStatus("api", running())),
				keepCachedPod("old", "n1", baseTime, testImages,
					containerStatus("api", running()),
					containerStatus("static-bin", running())),
			},
			want: NodeStatus{Node: "n1", Pod: "new", Present: []string{"api"},
				Missing: []string{"Static_Bin"}, Errors: []ImageError{}},
		},
		{
			name: "terminating pod skipped",
			pods: []corev1.Pod{
				keepCachedPod("old", "n1", baseTime, testImages,
					containerStatus("api", running())),
				deleting(keepCachedPod("new", "n1", baseTime.Add(time.Minute), testImages,
					containerStatus("api", running()),
					containerStatus("static-bin", running()))),
			},
			want: NodeStatus{Node: "n1", Pod: "old", Present: []string{"api"},
				Missing: []string{"Static_Bin"}, Errors: []ImageError{}},
		},
		{
			name: "only terminating pod",
			pods: []corev1.Pod{deleting(keepCachedPod("p1", "n1", baseTime, testImages,
				containerStatus("api", running())))},
			want: NodeStatus{Node: "n1", Present: []string{},
				Missing: []string{"Static_Bin", "api"}, Errors: []ImageError{}},
		},
		{
			name: "same creation time lowest name",
			pods: []corev1.Pod{
				keepCachedPod("pod-b", "n1", baseTime, testImages),
				keepCachedPod("pod-a", "n1", baseTime, testImages,
					containerStatus("api", running())),
				keepCachedPod("pod-c", "n1", baseTime, testImages),
			},
			want: NodeStatus{Node: "n1", Pod: "pod-a", Present: []string{"api"},
				Missing: []string{"Static_Bin"}, Errors: []ImageError{}},
		},
		{
			name: "pod on another node",
			pods: []corev1.Pod{keepCachedPod("p1", "n2", baseTime, testImages,
				containerStatus("api", running()))},
			want: NodeStatus{Node: "n1", Present: []string{},
				Missing: []string{"Static_Bin", "api"}, Errors: []ImageError{}},
		},
		{
			name: "unscheduled pod",
			pods: []corev1.Pod{keepCachedPod("p1", "", baseTime, testImages,
				containerStatus("api", running()))},
			want: NodeStatus{Node: "n1", Present: []string{},
				Missing: []string{"Static_Bin", "api"}, Errors: []ImageError{}},
		},
		{
			name: "pull only init containers done",
			pods: []corev1.Pod{ready(pullOnlyPod("p1", "n1", baseTime, testImages,
				containerStatus(ContainerSleeper, terminated(0)),
				containerStatus("static-bin", terminated(0)),
				containerStatus("api", terminated(0))))},
			want: NodeStatus{Node: "n1", Pod: "p1", Ready: true,
				Present: []string{"Static_Bin", "api"}, Missing: []string{},
				Errors: []ImageError{}},
		},
		{
			name: "pull only init container pulling",
			pods: []corev1.Pod{pullOnlyPod("p1", "n1", baseTime, testImages,
				containerStatus(ContainerSleeper, terminated(0)),
				corev1.ContainerStatus{Name: "static-bin", ImageID: testImageID,
					State: running()},
				corev1.ContainerStatus{Name: "api",
					State: waiting("PodInitializing", "")})},
			want: NodeStatus{Node: "n1", Pod: "p1", Present: []string{"Static_Bin"},
				Missing: []string{"api"}, Errors: []ImageError{}},
		},
		{
			name: "pull only init container failed pull",
			pods: []corev1.Pod{pullOnlyPod("p1", "n1", baseTime, testImages,
				containerStatus(ContainerSleeper, terminated(0)),
				corev1.ContainerStatus{Name: "static-bin",
					State: waiting("InvalidImageName", "bad name")})},
			want: NodeStatus{Node: "n1", Pod: "p1", Present: []string{},
				Missing: []string{"Static_Bin", "api"}, Errors: []ImageError{
					{Key: "Static_Bin", Reason: "InvalidImageName", Message: "bad name"},
				}},
		},
		{
			name: "status in the other list",
			pods: []corev1.Pod{func() corev1.Pod {
				pod := keepCachedPod("p1", "n1", baseTime, testImages)
				pod.Status.InitContainerStatuses = []corev1.ContainerStatus{
					containerStatus("api", running()),
				}
				return pod
			}()},
			want: NodeStatus{Node: "n1", Pod: "p1", Present: []string{},
				Missing: []string{"Static_Bin", "api"}, Errors: []ImageError{}},
		},
	}

	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			got := NodeStatuses(testImages, []string{"n1"}, test.pods)

			if len(got) != 1 {
				t.Fatalf("got %d statuses, want 1: %+v", len(got), got)
			}
			if !reflect.DeepEqual(got[0], test.want) {
				t.Errorf("NodeStatuses =\n%+v\nwant\n%+v", got[0], test.want)
			}
		})
	}
}

func TestNodeStatusesPullFailureReasons(t *testing.T) {
	reasons := []string{"ErrImagePull", "ImagePullBackOff", "InvalidImageName",
		"ErrImageNeverPull", "RegistryUnavailable", "SignatureValidationFailed",
		"ErrImageInspect"}
	for _, reason := range reasons {
		t.Run(reason, func(t *testing.T) {
			pod := keepCachedPod("p1", "n1", baseTime, []Image{apiImage},
				corev1.ContainerStatus{Name: "api", State: waiting(reason, "message")})

			got := NodeStatuses([]Image{apiImage}, []string{"n1"}, []corev1.Pod{pod})[0]

			want := []ImageError{{Key: "api", Reason: reason, Message: "message"}}
			if !reflect.DeepEqual(got.Errors, want) {
				t.Errorf("Errors = %+v, want %+v", got.Errors, want)
			}
			if !reflect.DeepEqual(got.Missing, []string{"api"}) {
				t.Errorf("Missing = %q, want [api]", got.Missing)
			}
		})
	}

	for _, reason := range []string{"ContainerCreating", "PodInitializing",
		"CrashLoopBackOff", "CreateContainerConfigError"} {
		t.Run(reason, func(t *testing.T) {
			pod := keepCachedPod("p1", "n1", baseTime, []Image{apiImage},
				corev1.ContainerStatus{Name: "api", State: waiting(reason, "message")})

			got := NodeStatuses([]Image{apiImage}, []string{"n1"}, []corev1.Pod{pod})[0]

			if len(got.Errors) != 0 {
				t.Errorf("Errors = %+v, want none for %s", got.Errors, reason)
			}
		})
	}
}

func TestNodeStatusesSeveralNodes(t *testing.T) {
	pods := []corev1.Pod{
		keepCachedPod("p-b", "b", baseTime, testImages,
			containerStatus("api", running()), containerStatus("static-bin", running())),
		keepCachedPod("p-a", "a", baseTime, testImages, containerStatus("api", running())),
		keepCachedPod("p-x", "not-selected", baseTime, testImages),
	}

	got := NodeStatuses(testImages, []string{"c", "b", "a", "b"}, pods)

	wantNodes := []string{"a", "b", "c"}
	if len(got) != len(wantNodes) {
		t.Fatalf("got %d statuses, want %d: %+v", len(got), len(wantNodes), got)
	}
	wantPods := []string{"p-a", "p-b", ""}
	wantPresent := [][]string{{"api"}, {"Static_Bin", "api"}, {}}
	for i := range wantNodes {
		if got[i].Node != wantNodes[i] {
			t.Errorf("status %d: Node = %q, want %q", i, got[i].Node, wantNodes[i])
		}
		if got[i].Pod != wantPods[i] {
			t.Errorf("status %d: Pod = %q, want %q", i, got[i].Pod, wantPods[i])
		}
		if !reflect.DeepEqual(got[i].Present, wantPresent[i]) {
			t.Errorf("status %d: Present = %q, want %q", i, got[i].Present, wantPresent[i])
		}
	}
}

func TestNodeStatusesNoNodes(t *testing.T) {
	got := NodeStatuses(testImages, nil, []corev1.Pod{keepCachedPod("p", "a", baseTime,
		testImages)})
	if len(got) != 0 {
		t.Errorf("NodeStatuses = %+v, want none", got)
	}
}

func TestNodeStatusesKeepsInput(t *testing.T) {
	nodes := []string{"b", "a"}
	NodeStatuses(testImages, nodes, nil)
	if nodes[0] != "b" || nodes[1] != "a" {
		t.Errorf("NodeStatuses reordered its input: %q", nodes)
	}
}

// TestNodeStatusesRenderedPods judges pods built from the rendered template, so the
// container names DaemonSet writes and the ones NodeStatuses reads cannot drift apart.
func TestNodeStatusesRenderedPods(t *testing.T) {
	for _, keepCached := range []bool{true, false} {
		spec := goldenSpec(keepCached)
		template := DaemonSet(spec).Spec.Template
		pod := corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "p1", CreationTimestamp: metav1.NewTime(baseTime)},
			Spec:       *template.Spec.DeepCopy(),
		}
		pod.Spec.NodeName = "n1"
		for _, c := range pod.Spec.InitContainers {
			pod.Status.InitContainerStatuses = append(pod.Status.InitContainerStatuses,
				containerStatus(c.Name, terminated(0)))
		}
		for _, c := range pod.Spec.Containers {
			pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses,
				containerStatus(c.Name, running()))
		}

		got := NodeStatuses(spec.Images, []string{"n1"}, []corev1.Pod{pod})[0]

		if !reflect.DeepEqual(got.Present, []string{"Static_Bin", "api"}) {
			t.Errorf("keepCached %v: Present = %q, want both images", keepCached, got.Present)
		}
		if len(got.Missing) != 0 {
			t.Errorf("keepCached %v: Missing = %q, want none", keepCached, got.Missing)
		}
	}
}
