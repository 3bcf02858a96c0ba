package testcluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// imagePullerResource is the che.eclipse.org/v1alpha1 KubernetesImagePuller resource.
var imagePullerResource = schema.GroupVersionResource{
	Group: "che.eclipse.org", Version: "v1alpha1", Resource: "kubernetesimagepullers",
}

// Defaults and names of the kubernetes-image-puller operator (release 1.1.2) and of the
// kubernetes-image-puller process that it deploys, which creates the DaemonSet.
const (
	KIPDefaultImage         = "quay.io/eclipse/kubernetes-image-puller:next"
	KIPDefaultDaemonSetName = "kubernetes-image-puller"
	kipDefaultConfigMap     = "k8s-image-puller"
	kipDefaultDeployment    = "kubernetes-image-puller"
	kipDefaultCPURequest    = ".05"
	kipDefaultCPULimit      = ".2"
	kipDefaultMemoryRequest = "10Mi"
	kipDefaultMemoryLimit   = "20Mi"
	kipInitContainer        = "copy-sleep"
	kipVolume               = "kip"
	kipMountPath            = "/kip"
	kipSleepPath            = "/kip/sleep"
	kipVolumeLimit          = "50Mi"
	kipSleepDuration        = "720h"
	// kipSpecHashAnnotation records a hash of what the stand-in rendered on the DaemonSet, so
	// a pass updates it only when the CR changed. The real process recreates the DaemonSet
	// instead, and does not set this annotation.
	kipSpecHashAnnotation = "imagedist.test/kubernetes-image-puller-hash"
)

// kipLabels are the labels of the DaemonSet, its selector and its pods.
var kipLabels = map[string]string{
	"test":                   "daemonset-test",
	"app.kubernetes.io/name": "image-puller",
}

// kipLegacyImages are the imagePullerImage values that the operator resets to "", because
// they were once its defaults.
var kipLegacyImages = []string{
	"quay.io/eclipse/kubernetes-image-puller:1.1.1",
	"quay.io/eclipse/kubernetes-image-puller:next",
}

// Condition types and reasons that the operator writes in status.conditions.
const (
	kipConditionReady    = "Ready"
	kipConditionDegraded = "Degraded"
	kipReasonReady       = "AllResourcesReady"
	kipReasonError       = "ReconcileError"
)

// defaultImagePullerInterval is the time between passes when PollInterval is zero.
const defaultImagePullerInterval = 100 * time.Millisecond

// ImagePullerOperator plays the kubernetes-image-puller operator for KubernetesImagePuller
// custom resources, because the local control plane has no operator image to run. Each pass
// creates or updates the DaemonSet of every CR as kubernetes-image-puller shapes it, and
// writes the CR's status.
//
// The real operator creates a Deployment that runs kubernetes-image-puller, which creates
// the DaemonSet with an owner reference to the Deployment, and recreates it every
// cachingIntervalHours. The stand-in skips the Deployment, ConfigMap, ServiceAccount and
// RBAC objects: it owns the DaemonSet from the CR directly, so deleting the CR still
// garbage-collects the DaemonSet, and it updates the DaemonSet in place only when the CR
// changes.
type ImagePullerOperator struct {
	Client  kubernetes.Interface
	Dynamic dynamic.Interface
	// Namespace limits the operator to CRs in this namespace. Empty means all namespaces.
	Namespace string
	// PollInterval is the time between two passes. Zero means 100 ms.
	PollInterval time.Duration
	// Logf receives the errors of a pass, after which the operator tries again. An error
	// that repeats in consecutive passes is logged once. Nil discards them.
	Logf func(format string, args ...any)

	mu     sync.Mutex
	logged map[string]bool // error messages of the last pass
}

// Start runs the operator in the background until ctx is done and returns a function that
// waits for it to stop.
func (o *ImagePullerOperator) Start(ctx context.Context) (wait func()) {
	return startLoop(ctx, o.PollInterval, defaultImagePullerInterval,
		func(ctx context.Context) {
			errs := o.pass(ctx)
			if ctx.Err() == nil {
				o.logErrors(errs)
			}
		})
}

func (o *ImagePullerOperator) logErrors(errs []error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	current := make(map[string]bool, len(errs))
	for _, err := range errs {
		message := err.Error()
		if !o.logged[message] && !current[message] && o.Logf != nil {
			o.Logf("kubernetes-image-puller operator: %s", message)
		}
		current[message] = true
	}
	o.logged = current
}

// pass reconciles every KubernetesImagePuller once. It goes on after an error and returns
// all of them.
func (o *ImagePullerOperator) pass(ctx context.Context) []error {
	list, err := o.Dynamic.Resource(imagePullerResource).Namespace(o.Namespace).
		List(ctx, metav1.ListOptions{})
	if err != nil {
		return []error{fmt.Errorf("listing KubernetesImagePullers: %w", err)}
	}

	var errs []error
	live := map[types.UID]bool{}
	for i := range list.Items {
		if list.Items[i].GetDeletionTimestamp() == nil {
			live[list.Items[i].GetUID()] = true
		}
		if err := o.reconcile(ctx, &list.Items[i]); err != nil {
			errs = append(errs, err)
		}
	}
	return append(errs, o.removeOrphans(ctx, live)...)
}

// removeOrphans deletes the DaemonSets of KubernetesImagePullers that are gone or being
// deleted. The real operator's kubernetes-image-puller process deletes its DaemonSet when
// the Deployment that runs it stops, which is soon after the CR goes. The garbage collector
// would remove the DaemonSet through its ownerReference too, but on a new control plane it
// took minutes to notice a deleted custom resource.
func (o *ImagePullerOperator) removeOrphans(ctx context.Context, live map[types.UID]bool) []error {
	daemonSets, err := o.Client.AppsV1().DaemonSets(o.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return []error{fmt.Errorf("listing DaemonSets: %w", err)}
	}
	var errs []error
	for _, daemonSet := range daemonSets.Items {
		owner := metav1.GetControllerOf(&daemonSet)
		if owner == nil || owner.Kind != "KubernetesImagePuller" || live[owner.UID] ||
			daemonSet.DeletionTimestamp != nil {
			continue
		}
		propagation := metav1.DeletePropagationBackground
		err := o.Client.AppsV1().DaemonSets(daemonSet.Namespace).Delete(ctx, daemonSet.Name,
			metav1.DeleteOptions{PropagationPolicy: &propagation})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting DaemonSet %s/%s of a deleted "+
				"KubernetesImagePuller: %w", daemonSet.Namespace, daemonSet.Name, err))
		}
	}
	return errs
}

func (o *ImagePullerOperator) reconcile(ctx context.Context,
	puller *unstructured.Unstructured) error {
	if puller.GetDeletionTimestamp() != nil {
		return nil
	}
	id := puller.GetNamespace() + "/" + puller.GetName()

	puller, err := o.writeDefaults(ctx, puller)
	if err != nil {
		return fmt.Errorf("KubernetesImagePuller %s: writing spec defaults: %w", id, err)
	}

	daemonSet, err := ImagePullerDaemonSet(puller)
	if err == nil {
		err = o.applyDaemonSet(ctx, daemonSet)
	}
	if err != nil {
		err = fmt.Errorf("KubernetesImagePuller %s: %w", id, err)
		return errors.Join(err, o.writeStatus(ctx, puller, "", err))
	}
	image := daemonSet.Spec.Template.Spec.InitContainers[0].Image
	return o.writeStatus(ctx, puller, image, nil)
}

// writeDefaults stores the ConfigMap and Deployment names in the spec when they are unset
// and clears a legacy imagePullerImage, as the operator does. It returns the CR as stored.
func (o *ImagePullerOperator) writeDefaults(ctx context.Context,
	puller *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	updated := puller.DeepCopy()
	changed := false
	for field, value := range map[string]string{
		"configMapName":  kipDefaultConfigMap,
		"deploymentName": kipDefaultDeployment,
	} {
		current, _, _ := unstructured.NestedString(updated.Object, "spec", field)
		if current != "" {
			continue
		}
		err := unstructured.SetNestedField(updated.Object, value, "spec", field)
		if err != nil {
			return nil, err
		}
		changed = true
	}
	image, _, _ := unstructured.NestedString(updated.Object, "spec", "imagePullerImage")
	if slices.Contains(kipLegacyImages, image) {
		unstructured.RemoveNestedField(updated.Object, "spec", "imagePullerImage")
		changed = true
	}
	if !changed {
		return puller, nil
	}

	return o.Dynamic.Resource(imagePullerResource).Namespace(puller.GetNamespace()).
		Update(ctx, updated, metav1.UpdateOptions{})
}

// applyDaemonSet creates the DaemonSet, or updates it when its hash annotation differs. It
// does not take over a DaemonSet that another object controls.
func (o *ImagePullerOperator) applyDaemonSet(ctx context.Context,
	desired *appsv1.DaemonSet) error {
	daemonSets := o.Client.AppsV1().DaemonSets(desired.Namespace)
	existing, err := daemonSets.Get(ctx, desired.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if _, err := daemonSets.Create(ctx, desired, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating DaemonSet %s: %w", desired.Name, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading DaemonSet %s: %w", desired.Name, err)
	}

	owner := metav1.GetControllerOf(existing)
	if owner == nil || owner.UID != desired.OwnerReferences[0].UID {
		return fmt.Errorf("DaemonSet %s exists and is not controlled by this "+
			"KubernetesImagePuller; delete it or choose another daemonsetName", desired.Name)
	}
	hash := desired.Annotations[kipSpecHashAnnotation]
	if existing.Annotations[kipSpecHashAnnotation] == hash {
		return nil
	}

	existing.Labels = desired.Labels
	existing.Annotations = desired.Annotations
	existing.Spec.Template = desired.Spec.Template
	if _, err := daemonSets.Update(ctx, existing, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating DaemonSet %s: %w", desired.Name, err)
	}
	return nil
}

// writeStatus writes status.imagePullerImage and the Ready and Degraded conditions through
// the status subresource when they change. A nil failure means Ready.
//
// The real operator sets Ready when its kubernetes-image-puller Deployment has an available
// replica, which does not wait for the DaemonSet's pods either.
func (o *ImagePullerOperator) writeStatus(ctx context.Context,
	puller *unstructured.Unstructured, image string, failure error) error {
	var status struct {
		ImagePullerImage string             `json:"imagePullerImage,omitempty"`
		Conditions       []metav1.Condition `json:"conditions,omitempty"`
	}
	if raw, found, _ := unstructured.NestedMap(puller.Object, "status"); found {
		// A status that does not decode is replaced as a whole.
		_ = runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &status)
	}
	before, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&status)
	if err != nil {
		return err
	}

	generation := puller.GetGeneration()
	if failure == nil {
		status.ImagePullerImage = image
		meta.SetStatusCondition(&status.Conditions, metav1.Condition{
			Type: kipConditionReady, Status: metav1.ConditionTrue, Reason: kipReasonReady,
			Message: "The image puller is deployed.", ObservedGeneration: generation,
		})
		meta.RemoveStatusCondition(&status.Conditions, kipConditionDegraded)
	} else {
		for _, conditionType := range []string{kipConditionReady, kipConditionDegraded} {
			conditionStatus := metav1.ConditionTrue
			if conditionType == kipConditionReady {
				conditionStatus = metav1.ConditionFalse
			}
			meta.SetStatusCondition(&status.Conditions, metav1.Condition{
				Type: conditionType, Status: conditionStatus, Reason: kipReasonError,
				Message: failure.Error(), ObservedGeneration: generation,
			})
		}
	}

	after, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&status)
	if err != nil {
		return err
	}
	if equality.Semantic.DeepEqual(before, after) {
		return nil
	}
	updated := puller.DeepCopy()
	updated.Object["status"] = after
	_, err = o.Dynamic.Resource(imagePullerResource).Namespace(puller.GetNamespace()).
		UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("KubernetesImagePuller %s/%s: writing status: %w",
			puller.GetNamespace(), puller.GetName(), err)
	}
	return nil
}

// kipConfig is the configuration that kubernetes-image-puller reads from the ConfigMap that
// the operator fills from the CR, with the operator's defaults applied.
type kipConfig struct {
	daemonSetName string
	image         string
	// images maps container names to image references. kubernetes-image-puller keeps them
	// in a Go map, so the container order is random there. The stand-in sorts them by name.
	images           map[string]string
	resources        corev1.ResourceRequirements
	nodeSelector     map[string]string
	affinity         *corev1.Affinity
	tolerations      []corev1.Toleration
	imagePullSecrets []string
}

// kipConfigFrom reads the spec of a CR as the operator and kubernetes-image-puller do. An
// invalid JSON field or quantity is an error, because kubernetes-image-puller exits on it. A
// malformed images entry is skipped, as kubernetes-image-puller skips it.
func kipConfigFrom(puller *unstructured.Unstructured) (kipConfig, error) {
	field := func(name, fallback string) string {
		value, _, _ := unstructured.NestedString(puller.Object, "spec", name)
		if value = strings.TrimSpace(value); value == "" {
			return fallback
		}
		return value
	}
	config := kipConfig{
		daemonSetName:    field("daemonsetName", KIPDefaultDaemonSetName),
		image:            field("imagePullerImage", KIPDefaultImage),
		images:           map[string]string{},
		imagePullSecrets: splitKIPList(field("imagePullSecrets", "")),
	}
	for _, entry := range splitKIPList(field("images", "")) {
		parts := strings.Split(entry, "=")
		if len(parts) == 2 {
			config.images[parts[0]] = parts[1]
		}
	}

	var err error
	config.resources, err = kipResources(map[string]string{
		"cachingCPURequest":    field("cachingCPURequest", kipDefaultCPURequest),
		"cachingCPULimit":      field("cachingCPULimit", kipDefaultCPULimit),
		"cachingMemoryRequest": field("cachingMemoryRequest", kipDefaultMemoryRequest),
		"cachingMemoryLimit":   field("cachingMemoryLimit", kipDefaultMemoryLimit),
	})
	if err != nil {
		return kipConfig{}, err
	}

	for name, target := range map[string]any{
		"nodeSelector": &config.nodeSelector,
		"affinity":     &config.affinity,
		"tolerations":  &config.tolerations,
	} {
		fallback := "{}"
		if name == "tolerations" {
			fallback = "[]"
		}
		if err := json.Unmarshal([]byte(field(name, fallback)), target); err != nil {
			return kipConfig{}, fmt.Errorf("spec.%s is invalid JSON: %w", name, err)
		}
	}
	// "{}" and "[]" decode into empty values, which the API server drops anyway.
	if len(config.nodeSelector) == 0 {
		config.nodeSelector = nil
	}
	if config.affinity != nil && *config.affinity == (corev1.Affinity{}) {
		config.affinity = nil
	}
	if len(config.tolerations) == 0 {
		config.tolerations = nil
	}
	return config, nil
}

// splitKIPList splits a ";" list as kubernetes-image-puller does: each item trimmed, and one
// empty last item dropped.
func splitKIPList(value string) []string {
	if value == "" {
		return nil
	}
	items := strings.Split(value, ";")
	if items[len(items)-1] == "" {
		items = items[:len(items)-1]
	}
	for i := range items {
		items[i] = strings.TrimSpace(items[i])
	}
	return items
}

func kipResources(fields map[string]string) (corev1.ResourceRequirements, error) {
	quantities := map[string]resource.Quantity{}
	for name, value := range fields {
		quantity, err := resource.ParseQuantity(value)
		if err != nil {
			return corev1.ResourceRequirements{}, fmt.Errorf("spec.%s: invalid quantity "+
				"%q: %w", name, value, err)
		}
		quantities[name] = quantity
	}
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{
			corev1.ResourceCPU:    quantities["cachingCPURequest"],
			corev1.ResourceMemory: quantities["cachingMemoryRequest"],
		},
		Limits: corev1.ResourceList{
			corev1.ResourceCPU:    quantities["cachingCPULimit"],
			corev1.ResourceMemory: quantities["cachingMemoryLimit"],
		},
	}, nil
}

// ImagePullerDaemonSet renders the DaemonSet that kubernetes-image-puller creates for a
// KubernetesImagePuller, owned by the CR and annotated with a hash of its content. It fails
// where kubernetes-image-puller exits: on invalid JSON or an invalid quantity in the spec.
func ImagePullerDaemonSet(puller *unstructured.Unstructured) (*appsv1.DaemonSet, error) {
	config, err := kipConfigFrom(puller)
	if err != nil {
		return nil, err
	}

	names := make([]string, 0, len(config.images))
	for name := range config.images {
		names = append(names, name)
	}
	slices.Sort(names)

	securityContext := &corev1.SecurityContext{
		Capabilities:           &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		ReadOnlyRootFilesystem: ptr.To(true),
	}
	mount := corev1.VolumeMount{Name: kipVolume, MountPath: kipMountPath}
	containers := make([]corev1.Container, 0, len(names))
	for _, name := range names {
		containers = append(containers, corev1.Container{
			Name:            name,
			Image:           config.images[name],
			Command:         []string{kipSleepPath},
			Args:            []string{kipSleepDuration},
			ImagePullPolicy: corev1.PullAlways,
			Resources:       *config.resources.DeepCopy(),
			VolumeMounts:    []corev1.VolumeMount{mount},
			SecurityContext: securityContext.DeepCopy(),
		})
	}

	pullSecrets := make([]corev1.LocalObjectReference, 0, len(config.imagePullSecrets))
	for _, name := range config.imagePullSecrets {
		pullSecrets = append(pullSecrets, corev1.LocalObjectReference{Name: name})
	}
	if len(pullSecrets) == 0 {
		pullSecrets = nil
	}

	limit := resource.MustParse(kipVolumeLimit)
	daemonSet := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{
			Name:      config.daemonSetName,
			Namespace: puller.GetNamespace(),
			Labels:    copyLabels(kipLabels),
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion:         imagePullerResource.GroupVersion().String(),
				Kind:               "KubernetesImagePuller",
				Name:               puller.GetName(),
				UID:                puller.GetUID(),
				Controller:         ptr.To(true),
				BlockOwnerDeletion: ptr.To(true),
			}},
		},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: copyLabels(kipLabels)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: copyLabels(kipLabels)},
				Spec: corev1.PodSpec{
					InitContainers: []corev1.Container{{
						Name:  kipInitContainer,
						Image: config.image,
						Command: []string{
							"/bin/sh", "-c", "cp /bin/sleep " + kipSleepPath,
						},
						ImagePullPolicy: corev1.PullAlways,
						VolumeMounts:    []corev1.VolumeMount{mount},
						SecurityContext: securityContext.DeepCopy(),
					}},
					Containers:                    containers,
					NodeSelector:                  config.nodeSelector,
					Affinity:                      config.affinity,
					Tolerations:                   config.tolerations,
					ImagePullSecrets:              pullSecrets,
					TerminationGracePeriodSeconds: ptr.To[int64](1),
					Volumes: []corev1.Volume{{
						Name: kipVolume,
						VolumeSource: corev1.VolumeSource{
							EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: &limit},
						},
					}},
				},
			},
		},
	}
	daemonSet.Annotations = map[string]string{kipSpecHashAnnotation: hashDaemonSet(daemonSet)}
	return daemonSet, nil
}

func copyLabels(labels map[string]string) map[string]string {
	result := make(map[string]string, len(labels))
	for key, value := range labels {
		result[key] = value
	}
	return result
}

// hashDaemonSet hashes the labels and pod template, the parts that an update changes.
func hashDaemonSet(daemonSet *appsv1.DaemonSet) string {
	encoded, err := json.Marshal([]any{daemonSet.Labels, daemonSet.Spec.Template})
	if err != nil {
		// Labels and a pod template always encode.
		panic(fmt.Sprintf("encoding a DaemonSet: %v", err))
	}
	hash := fnv.New64a()
	hash.Write(encoded)
	return fmt.Sprintf("%016x", hash.Sum64())
}
