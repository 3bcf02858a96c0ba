package testcluster

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
	"k8s.io/client-go/util/retry"
)

// imagePullerCR returns a KubernetesImagePuller named cache in namespace team.
func imagePullerCR(spec map[string]any) *unstructured.Unstructured {
	object := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "che.eclipse.org/v1alpha1",
		"kind":       "KubernetesImagePuller",
		"metadata":   map[string]any{"name": "cache", "namespace": "team"},
		"spec":       spec,
	}}
	object.SetUID(types.UID("4f1c2a9e-0000-4000-8000-000000000001"))
	return object
}

func buildDaemonSet(t *testing.T, spec map[string]any) *appsv1.DaemonSet {
	t.Helper()
	daemonSet, err := ImagePullerDaemonSet(imagePullerCR(spec))
	if err != nil {
		t.Fatalf("ImagePullerDaemonSet: %v", err)
	}
	return daemonSet
}

func TestImagePullerOperatorDaemonSetShape(t *testing.T) {
	daemonSet := buildDaemonSet(t, map[string]any{
		"daemonsetName":        "pullers",
		"images":               "web=nginx:1.27;api=quay.io/team/api:3.8.2",
		"imagePullerImage":     "registry.example.com/kip:1.2.0",
		"cachingCPURequest":    "5m",
		"cachingCPULimit":      "100m",
		"cachingMemoryRequest": "8Mi",
		"cachingMemoryLimit":   "16Mi",
		"nodeSelector":         `{"disk":"ssd"}`,
		"affinity": `{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":` +
			`{"nodeSelectorTerms":[{"matchExpressions":[{"key":"kubernetes.io/arch",` +
			`"operator":"In","values":["amd64"]}]}]}}}`,
		"tolerations":      `[{"key":"dedicated","operator":"Exists","effect":"NoSchedule"}]`,
		"imagePullSecrets": "quay;mirror;",
	})

	if daemonSet.Name != "pullers" || daemonSet.Namespace != "team" {
		t.Errorf("DaemonSet = %s/%s, want team/pullers", daemonSet.Namespace, daemonSet.Name)
	}
	for _, labels := range []map[string]string{
		daemonSet.Spec.Selector.MatchLabels, daemonSet.Spec.Template.Labels,
	} {
		if labels["test"] != "daemonset-test" ||
			labels["app.kubernetes.io/name"] != "image-puller" || len(labels) != 2 {
			t.Errorf("labels = %v, want test=daemonset-test and "+
				"app.kubernetes.io/name=image-puller", labels)
		}
	}

	owners := daemonSet.OwnerReferences
	if len(owners) != 1 {
		t.Fatalf("ownerReferences = %+v, want one", owners)
	}
	owner := owners[0]
	if owner.APIVersion != "che.eclipse.org/v1alpha1" || owner.Kind != "KubernetesImagePuller" ||
		owner.Name != "cache" || owner.UID != "4f1c2a9e-0000-4000-8000-000000000001" {
		t.Errorf("owner = %+v, want KubernetesImagePuller cache", owner)
	}
	if owner.Controller == nil || !*owner.Controller {
		t.Errorf("owner.controller is not true")
	}
	if owner.BlockOwnerDeletion == nil || !*owner.BlockOwnerDeletion {
		t.Errorf("owner.blockOwnerDeletion is not true")
	}

	pod := daemonSet.Spec.Template.Spec
	if len(pod.InitContainers) != 1 {
		t.Fatalf("init containers = %d, want 1", len(pod.InitContainers))
	}
	initContainer := pod.InitContainers[0]
	if initContainer.Name != "copy-sleep" ||
		initContainer.Image != "registry.example.com/kip:1.2.0" {
		t.Errorf("init container = %s %s, want copy-sleep registry.example.com/kip:1.2.0",
			initContainer.Name, initContainer.Image)
	}
	if got := strings.Join(initContainer.Command, " "); got != "/bin/sh -c cp /bin/sleep /kip/sleep" {
		t.Errorf("init command = %q", got)
	}

	// Containers come sorted by name.
	wantContainers := [][2]string{{"api", "quay.io/team/api:3.8.2"}, {"web", "nginx:1.27"}}
	if len(pod.Containers) != len(wantContainers) {
		t.Fatalf("containers = %d, want %d", len(pod.Containers), len(wantContainers))
	}
	wantResources := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("5m"),
			corev1.ResourceMemory: resource.MustParse("8Mi"),
		},
		Limits: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("100m"),
			corev1.ResourceMemory: resource.MustParse("16Mi"),
		},
	}
	for i, container := range pod.Containers {
		checkCachingContainer(t, container, wantContainers[i][0], wantContainers[i][1],
			wantResources)
	}

	if pod.NodeSelector["disk"] != "ssd" || len(pod.NodeSelector) != 1 {
		t.Errorf("nodeSelector = %v, want disk=ssd", pod.NodeSelector)
	}
	if pod.Affinity == nil || pod.Affinity.NodeAffinity == nil {
		t.Errorf("affinity = %+v, want a node affinity", pod.Affinity)
	}
	if len(pod.Tolerations) != 1 || pod.Tolerations[0].Key != "dedicated" {
		t.Errorf("tolerations = %+v, want dedicated", pod.Tolerations)
	}
	var secrets []string
	for _, secret := range pod.ImagePullSecrets {
		secrets = append(secrets, secret.Name)
	}
	if !slices.Equal(secrets, []string{"quay", "mirror"}) {
		t.Errorf("imagePullSecrets = %v, want [quay mirror]", secrets)
	}
	if pod.TerminationGracePeriodSeconds == nil || *pod.TerminationGracePeriodSeconds != 1 {
		t.Errorf("terminationGracePeriodSeconds = %v, want 1", pod.TerminationGracePeriodSeconds)
	}
	if len(pod.Volumes) != 1 || pod.Volumes[0].Name != "kip" || pod.Volumes[0].EmptyDir == nil {
		t.Fatalf("volumes = %+v, want the emptyDir kip", pod.Volumes)
	}
	if limit := pod.Volumes[0].EmptyDir.SizeLimit; limit == nil || limit.String() != "50Mi" {
		t.Errorf("kip sizeLimit = %v, want 50Mi", limit)
	}
}

func checkCachingContainer(t *testing.T, container corev1.Container, name, image string,
	resources corev1.ResourceRequirements) {
	t.Helper()
	if container.Name != name || container.Image != image {
		t.Errorf("container = %s %s, want %s %s", container.Name, container.Image, name, image)
	}
	if !slices.Equal(container.Command, []string{"/kip/sleep"}) ||
		!slices.Equal(container.Args, []string{"720h"}) {
		t.Errorf("container %s runs %v %v, want /kip/sleep 720h", name, container.Command,
			container.Args)
	}
	if container.ImagePullPolicy != corev1.PullAlways {
		t.Errorf("container %s imagePullPolicy = %s, want Always", name,
			container.ImagePullPolicy)
	}
	for resourceName, want := range resources.Requests {
		if got := container.Resources.Requests[resourceName]; got.Cmp(want) != 0 {
			t.Errorf("container %s request %s = %s, want %s", name, resourceName, &got, &want)
		}
	}
	for resourceName, want := range resources.Limits {
		if got := container.Resources.Limits[resourceName]; got.Cmp(want) != 0 {
			t.Errorf("container %s limit %s = %s, want %s", name, resourceName, &got, &want)
		}
	}
	if len(container.VolumeMounts) != 1 || container.VolumeMounts[0].MountPath != "/kip" {
		t.Errorf("container %s mounts = %+v, want kip at /kip", name, container.VolumeMounts)
	}
	security := container.SecurityContext
	if security == nil || security.ReadOnlyRootFilesystem == nil ||
		!*security.ReadOnlyRootFilesystem || security.Capabilities == nil ||
		!slices.Equal(security.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("container %s securityContext = %+v, want read-only root and ALL dropped",
			name, security)
	}
}

func TestImagePullerOperatorDaemonSetDefaults(t *testing.T) {
	daemonSet := buildDaemonSet(t, map[string]any{"images": "web=nginx:1.27"})

	if daemonSet.Name != "kubernetes-image-puller" {
		t.Errorf("name = %q, want kubernetes-image-puller", daemonSet.Name)
	}
	pod := daemonSet.Spec.Template.Spec
	if image := pod.InitContainers[0].Image; image != KIPDefaultImage {
		t.Errorf("init image = %q, want %q", image, KIPDefaultImage)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("containers = %d, want 1", len(pod.Containers))
	}
	checkCachingContainer(t, pod.Containers[0], "web", "nginx:1.27", operatorDefaultResources())
	if pod.NodeSelector != nil || pod.Affinity != nil || pod.Tolerations != nil ||
		pod.ImagePullSecrets != nil {
		t.Errorf("nodeSelector %v, affinity %+v, tolerations %v, imagePullSecrets %v: "+
			"want none", pod.NodeSelector, pod.Affinity, pod.Tolerations, pod.ImagePullSecrets)
	}
}

// operatorDefaultResources are the caching resources that the operator sets when the CR
// leaves them unset.
func operatorDefaultResources() corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("50m"),
			corev1.ResourceMemory: resource.MustParse("10Mi"),
		},
		Limits: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("200m"),
			corev1.ResourceMemory: resource.MustParse("20Mi"),
		},
	}
}

func TestImagePullerOperatorImagesEntries(t *testing.T) {
	// kubernetes-image-puller skips entries without exactly one "=", and keeps the last
	// image of a repeated name.
	daemonSet := buildDaemonSet(t, map[string]any{
		"images": " a=x:1 ; broken ; b=y:1=2 ;; a=z:2 ; c=w:3 ;",
	})

	var got []string
	for _, container := range daemonSet.Spec.Template.Spec.Containers {
		got = append(got, container.Name+"="+container.Image)
	}
	if want := []string{"a=z:2", "c=w:3"}; !slices.Equal(got, want) {
		t.Errorf("containers = %v, want %v", got, want)
	}
}

func TestImagePullerOperatorDaemonSetErrors(t *testing.T) {
	tests := []struct {
		field, value string
	}{
		{"nodeSelector", "disk=ssd"},
		{"affinity", "{"},
		{"tolerations", "{}"},
		{"cachingCPURequest", "lots"},
		{"cachingMemoryLimit", "20 MB"},
	}
	for _, test := range tests {
		t.Run(test.field, func(t *testing.T) {
			_, err := ImagePullerDaemonSet(imagePullerCR(map[string]any{
				"images": "web=nginx:1.27", test.field: test.value,
			}))
			if err == nil {
				t.Fatalf("ImagePullerDaemonSet succeeded, want an error")
			}
			if !strings.Contains(err.Error(), "spec."+test.field) {
				t.Errorf("error %q does not name spec.%s", err, test.field)
			}
		})
	}
}

func TestImagePullerOperatorHash(t *testing.T) {
	first := buildDaemonSet(t, map[string]any{"images": "web=nginx:1.27"})
	same := buildDaemonSet(t, map[string]any{"images": "web=nginx:1.27;"})
	changed := buildDaemonSet(t, map[string]any{"images": "web=nginx:1.28"})

	hash := first.Annotations[kipSpecHashAnnotation]
	if hash == "" {
		t.Fatalf("the DaemonSet has no %s annotation", kipSpecHashAnnotation)
	}
	if same.Annotations[kipSpecHashAnnotation] != hash {
		t.Errorf("equal configurations give different hashes")
	}
	if changed.Annotations[kipSpecHashAnnotation] == hash {
		t.Errorf("a changed image gives the same hash")
	}
}

func TestImagePullerOperatorApplyDaemonSet(t *testing.T) {
	ctx := t.Context()
	first := buildDaemonSet(t, map[string]any{"images": "web=nginx:1.27"})
	client := fake.NewClientset()
	operator := &ImagePullerOperator{Client: client}
	daemonSets := client.AppsV1().DaemonSets("team")

	if err := operator.applyDaemonSet(ctx, first); err != nil {
		t.Fatalf("creating: %v", err)
	}
	changed := buildDaemonSet(t, map[string]any{"images": "web=nginx:1.28"})
	if err := operator.applyDaemonSet(ctx, changed); err != nil {
		t.Fatalf("updating: %v", err)
	}
	stored, err := daemonSets.Get(ctx, KIPDefaultDaemonSetName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if image := stored.Spec.Template.Spec.Containers[0].Image; image != "nginx:1.28" {
		t.Errorf("image after the update = %q, want nginx:1.28", image)
	}

	// A DaemonSet of the same name that the CR does not control is left alone.
	foreign := first.DeepCopy()
	foreign.Namespace = "other"
	foreign.OwnerReferences = nil
	if _, err := client.AppsV1().DaemonSets("other").Create(ctx, foreign,
		metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	desired := changed.DeepCopy()
	desired.Namespace = "other"
	err = operator.applyDaemonSet(ctx, desired)
	if err == nil || !strings.Contains(err.Error(), "not controlled") {
		t.Errorf("applying over a foreign DaemonSet: error = %v, want not controlled", err)
	}
	stored, err = client.AppsV1().DaemonSets("other").Get(ctx, KIPDefaultDaemonSetName,
		metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if image := stored.Spec.Template.Spec.Containers[0].Image; image != "nginx:1.27" {
		t.Errorf("foreign DaemonSet image = %q, want it unchanged at nginx:1.27", image)
	}
}

// --- Acceptance test against the local control plane.

func TestAccImagePullerOperator(t *testing.T) {
	requireAcceptance(t)
	cluster, _ := startCluster(t, Options{})
	client, err := cluster.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	dynamicClient, err := cluster.DynamicClient()
	if err != nil {
		t.Fatal(err)
	}

	// Each case runs its own operator in its own namespace.
	for _, namespace := range []string{"lifecycle", "invalid"} {
		object := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
		_, err := client.CoreV1().Namespaces().Create(t.Context(), object,
			metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("creating namespace %s: %v", namespace, err)
		}
	}
	t.Run("lifecycle", func(t *testing.T) {
		testOperatorLifecycle(t, client, dynamicClient, "lifecycle")
	})
	t.Run("invalid spec", func(t *testing.T) {
		testOperatorInvalidSpec(t, client, dynamicClient, "invalid")
	})
}

// startOperator runs an ImagePullerOperator for namespace until the test ends.
func startOperator(t *testing.T, client kubernetes.Interface, dynamicClient dynamic.Interface,
	namespace string) {
	ctx, cancel := context.WithCancel(context.Background())
	operator := &ImagePullerOperator{
		Client: client, Dynamic: dynamicClient, Namespace: namespace,
		PollInterval: 50 * time.Millisecond, Logf: t.Logf,
	}
	wait := operator.Start(ctx)
	t.Cleanup(func() { cancel(); wait() })
}

// createPuller creates the KubernetesImagePuller cache in namespace.
func createPuller(t *testing.T, pullers dynamic.ResourceInterface, namespace string,
	spec map[string]any) *unstructured.Unstructured {
	t.Helper()
	object := imagePullerCR(spec)
	object.SetNamespace(namespace)
	object.SetUID("")
	created, err := pullers.Create(t.Context(), object, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating the KubernetesImagePuller: %v", err)
	}
	return created
}

func testOperatorLifecycle(t *testing.T, client kubernetes.Interface,
	dynamicClient dynamic.Interface, namespace string) {
	ctx := t.Context()
	startOperator(t, client, dynamicClient, namespace)
	pullers := dynamicClient.Resource(imagePullerResource).Namespace(namespace)
	created := createPuller(t, pullers, namespace, map[string]any{
		"daemonsetName": "cache-pullers",
		"images":        "web=nginx:1.27;api=quay.io/team/api:3.8.2",
		"nodeSelector":  `{"node-role.kubernetes.io/worker":""}`,
	})
	daemonSets := client.AppsV1().DaemonSets(namespace)

	daemonSet := waitForPullerDaemonSet(t, daemonSets, func(ds *appsv1.DaemonSet) bool {
		return len(ds.Spec.Template.Spec.Containers) == 2
	})
	pod := daemonSet.Spec.Template.Spec
	checkCachingContainer(t, pod.Containers[0], "api", "quay.io/team/api:3.8.2",
		operatorDefaultResources())
	checkCachingContainer(t, pod.Containers[1], "web", "nginx:1.27",
		operatorDefaultResources())
	if pod.InitContainers[0].Name != "copy-sleep" ||
		pod.InitContainers[0].Image != KIPDefaultImage {
		t.Errorf("init container = %s %s", pod.InitContainers[0].Name,
			pod.InitContainers[0].Image)
	}
	if pod.NodeSelector["node-role.kubernetes.io/worker"] != "" ||
		len(pod.NodeSelector) != 1 {
		t.Errorf("nodeSelector = %v", pod.NodeSelector)
	}
	if owner := metav1.GetControllerOf(daemonSet); owner == nil || owner.UID != created.GetUID() {
		t.Errorf("controller = %+v, want the KubernetesImagePuller %s", owner,
			created.GetUID())
	}

	stored := waitForPullerStatus(t, pullers)
	checkPullerSpecDefaults(t, stored)

	// Changing the images updates the DaemonSet in place.
	// The operator may write the status in between, so a conflict is retried on a fresh copy.
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		current, err := pullers.Get(ctx, "cache", metav1.GetOptions{})
		if err != nil {
			return err
		}
		err = unstructured.SetNestedField(current.Object, "web=nginx:1.28", "spec", "images")
		if err != nil {
			return err
		}
		_, err = pullers.Update(ctx, current, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("updating the KubernetesImagePuller: %v", err)
	}
	updated := waitForPullerDaemonSet(t, daemonSets, func(ds *appsv1.DaemonSet) bool {
		containers := ds.Spec.Template.Spec.Containers
		return len(containers) == 1 && containers[0].Image == "nginx:1.28"
	})
	if updated.UID != daemonSet.UID {
		t.Errorf("the DaemonSet was recreated (UID %s, was %s), want an update",
			updated.UID, daemonSet.UID)
	}

	// Deleting the CR lets the garbage collector delete the DaemonSet.
	if err := pullers.Delete(ctx, "cache", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting the KubernetesImagePuller: %v", err)
	}
	deleted := time.Now()
	defer func() { t.Logf("DaemonSet gone after %s", time.Since(deleted).Round(time.Second)) }()
	// NOTE: soon after the control plane starts, the DaemonSet outlived its owner by about
	// 40 s in every run so far. The likely cause, not confirmed, is that the garbage
	// collector watches a custom resource only after its discovery sync, every 30 s in
	// kube-controller-manager v1.37.2, has found the CRD.
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 2*time.Minute, true,
		func(ctx context.Context) (bool, error) {
			_, err := daemonSets.Get(ctx, "cache-pullers", metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return true, nil
			}
			return false, err
		})
	if err != nil {
		t.Errorf("the DaemonSet still exists after its KubernetesImagePuller was deleted: %v",
			err)
	}
}

func testOperatorInvalidSpec(t *testing.T, client kubernetes.Interface,
	dynamicClient dynamic.Interface, namespace string) {
	ctx := t.Context()
	startOperator(t, client, dynamicClient, namespace)
	pullers := dynamicClient.Resource(imagePullerResource).Namespace(namespace)
	createPuller(t, pullers, namespace, map[string]any{
		"images":           "web=nginx:1.27",
		"tolerations":      "{}",
		"imagePullerImage": "quay.io/eclipse/kubernetes-image-puller:next",
	})

	var degraded *metav1.Condition
	err := waitPoll(t, func(ctx context.Context) (bool, error) {
		object, err := pullers.Get(ctx, "cache", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		degraded = findCondition(t, object, "Degraded")
		return degraded != nil, nil
	})
	if err != nil {
		t.Fatalf("no Degraded condition: %v", err)
	}
	if degraded.Status != metav1.ConditionTrue || degraded.Reason != "ReconcileError" ||
		!strings.Contains(degraded.Message, "spec.tolerations") {
		t.Errorf("Degraded = %+v, want True ReconcileError naming spec.tolerations", degraded)
	}

	object, err := pullers.Get(ctx, "cache", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if image, found, _ := unstructured.NestedString(object.Object, "spec",
		"imagePullerImage"); found {
		t.Errorf("spec.imagePullerImage = %q, want the legacy value removed", image)
	}
	_, err = client.AppsV1().DaemonSets(namespace).Get(ctx, KIPDefaultDaemonSetName,
		metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("reading the DaemonSet: %v, want not found", err)
	}
}

func waitPoll(t *testing.T, condition wait.ConditionWithContextFunc) error {
	t.Helper()
	return wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, time.Minute,
		true, condition)
}

func waitForPullerDaemonSet(t *testing.T, daemonSets appsv1client.DaemonSetInterface,
	ready func(*appsv1.DaemonSet) bool) *appsv1.DaemonSet {
	t.Helper()
	var daemonSet *appsv1.DaemonSet
	err := waitPoll(t, func(ctx context.Context) (bool, error) {
		current, err := daemonSets.Get(ctx, "cache-pullers", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		daemonSet = current
		return ready(current), nil
	})
	if err != nil {
		t.Fatalf("waiting for DaemonSet cache-pullers (last seen %+v): %v", daemonSet, err)
	}
	return daemonSet
}

// waitForPullerStatus waits until the CR is Ready and returns it.
func waitForPullerStatus(t *testing.T, pullers dynamic.ResourceInterface) *unstructured.Unstructured {
	t.Helper()
	var object *unstructured.Unstructured
	err := waitPoll(t, func(ctx context.Context) (bool, error) {
		var err error
		object, err = pullers.Get(ctx, "cache", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		ready := findCondition(t, object, "Ready")
		return ready != nil && ready.Status == metav1.ConditionTrue, nil
	})
	if err != nil {
		t.Fatalf("waiting for Ready on the KubernetesImagePuller: %v", err)
	}

	ready := findCondition(t, object, "Ready")
	if ready.Reason != "AllResourcesReady" || ready.ObservedGeneration != object.GetGeneration() {
		t.Errorf("Ready = %+v, want reason AllResourcesReady at generation %d", ready,
			object.GetGeneration())
	}
	image, _, _ := unstructured.NestedString(object.Object, "status", "imagePullerImage")
	if image != KIPDefaultImage {
		t.Errorf("status.imagePullerImage = %q, want %q", image, KIPDefaultImage)
	}
	return object
}

func checkPullerSpecDefaults(t *testing.T, object *unstructured.Unstructured) {
	t.Helper()
	for field, want := range map[string]string{
		"configMapName":  "k8s-image-puller",
		"deploymentName": "kubernetes-image-puller",
	} {
		if got, _, _ := unstructured.NestedString(object.Object, "spec", field); got != want {
			t.Errorf("spec.%s = %q, want %q written back by the operator", field, got, want)
		}
	}
}

func findCondition(t *testing.T, object *unstructured.Unstructured,
	conditionType string) *metav1.Condition {
	t.Helper()
	raw, _, err := unstructured.NestedSlice(object.Object, "status", "conditions")
	if err != nil {
		t.Fatalf("status.conditions: %v", err)
	}
	conditions := make([]metav1.Condition, 0, len(raw))
	for _, item := range raw {
		var condition metav1.Condition
		fields, ok := item.(map[string]any)
		if !ok {
			t.Fatalf("status.conditions entry %v is not an object", item)
		}
		err := runtime.DefaultUnstructuredConverter.FromUnstructured(fields, &condition)
		if err != nil {
			t.Fatalf("decoding condition %v: %v", item, err)
		}
		conditions = append(conditions, condition)
	}
	return meta.FindStatusCondition(conditions, conditionType)
}
