package puller

import (
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The che.eclipse.org/v1alpha1 KubernetesImagePuller custom resource of the
// kubernetes-image-puller operator (che-incubator/kubernetes-image-puller-operator). The
// operator runs a Deployment of kubernetes-image-puller, which creates the DaemonSet.
const (
	KubernetesImagePullerAPIVersion = "che.eclipse.org/v1alpha1"
	KubernetesImagePullerKind       = "KubernetesImagePuller"
)

// KubernetesImagePullerResource is the resource of KubernetesImagePuller objects, for dynamic
// clients.
var KubernetesImagePullerResource = schema.GroupVersionResource{
	Group: "che.eclipse.org", Version: "v1alpha1", Resource: "kubernetesimagepullers",
}

// Fields of the KubernetesImagePuller spec. Every one of them is a string in the CRD, the
// numbers, lists and JSON documents included.
const (
	FieldImages               = "images"
	FieldNodeSelector         = "nodeSelector"
	FieldAffinity             = "affinity"
	FieldTolerations          = "tolerations"
	FieldImagePullSecrets     = "imagePullSecrets"
	FieldCachingCPURequest    = "cachingCPURequest"
	FieldCachingCPULimit      = "cachingCPULimit"
	FieldCachingMemoryRequest = "cachingMemoryRequest"
	FieldCachingMemoryLimit   = "cachingMemoryLimit"
	FieldCachingIntervalHours = "cachingIntervalHours"
	FieldDaemonSetName        = "daemonsetName"
	FieldConfigMapName        = "configMapName"
	FieldDeploymentName       = "deploymentName"
	FieldImagePullerImage     = "imagePullerImage"
)

// Separators of the list fields images and imagePullSecrets, as kubernetes-image-puller
// splits them.
const (
	listSeparator  = ";"
	entrySeparator = "="
)

// ContainerCopySleep is the init container that kubernetes-image-puller adds to its
// DaemonSet to copy the sleep binary. No image name may take this container name.
const ContainerCopySleep = "copy-sleep"

// LegacyImagePullerImages are the imagePullerImage values that the operator (release 1.1.2) resets
// to "" in the spec, because they were once its defaults. Setting one of them makes the
// stored spec differ from the rendered one.
var LegacyImagePullerImages = []string{
	"quay.io/eclipse/kubernetes-image-puller:1.1.1",
	"quay.io/eclipse/kubernetes-image-puller:next",
}

// cachingResources maps the caching fields of the spec to the resource list and resource
// name that each of them sets on every caching container.
var cachingResources = []struct {
	field    string
	limit    bool
	resource corev1.ResourceName
}{
	{FieldCachingCPURequest, false, corev1.ResourceCPU},
	{FieldCachingCPULimit, true, corev1.ResourceCPU},
	{FieldCachingMemoryRequest, false, corev1.ResourceMemory},
	{FieldCachingMemoryLimit, true, corev1.ResourceMemory},
}

// OperatorSpec is the content of a KubernetesImagePuller as ParseKubernetesImagePuller reads
// it.
type OperatorSpec struct {
	// Spec has Name and Namespace from the metadata, Labels from the metadata labels
	// without the puller's app.kubernetes.io labels,
	// KeepCached true (the operator always runs one sleeping container per image), and
	// HelperImage from imagePullerImage. The fields that the CR cannot express,
	// PriorityClassName and MaxUnavailable, are zero.
	Spec
	// CachingIntervalHours is the number of hours between two recreations of the DaemonSet.
	// Zero means that the CR leaves it unset, and the operator then uses 1.
	CachingIntervalHours int
}

// KubernetesImagePuller renders the KubernetesImagePuller custom resource for spec, named
// spec.Name in spec.Namespace. The same input always gives the same object.
//
// The images field lists "name=image" entries in the order of spec.Images, with the
// container names as names. nodeSelector, affinity and tolerations are JSON, "{}" or "[]"
// when unset. The caching resource fields come from the CPU and memory of spec.Resources,
// and are omitted when unset. The DaemonSet, ConfigMap and Deployment all take spec.Name.
// cachingIntervalHours is omitted below 1, so the operator's default of 1 hour applies, and
// imagePullerImage is set only when spec.HelperImage is not empty. The operator runs that
// image as its kubernetes-image-puller Deployment too, so it must be a
// kubernetes-image-puller image, never DefaultHelperImage. The labels are spec.Labels and
// the puller's app.kubernetes.io labels, which win over spec.Labels.
//
// Spec fields that the CR cannot express are ignored: KeepCached (the operator always
// keeps the images cached), PriorityClassName, MaxUnavailable, and resources other than
// CPU and memory. Callers check spec.Images with Images and OperatorProblems first.
func KubernetesImagePuller(spec Spec, cachingIntervalHours int) *unstructured.Unstructured {
	fields := map[string]any{
		FieldImages:           renderImages(spec.Images),
		FieldNodeSelector:     renderJSON(spec.NodeSelector, "{}"),
		FieldAffinity:         renderJSON(spec.Affinity, "{}"),
		FieldTolerations:      renderJSON(spec.Tolerations, "[]"),
		FieldImagePullSecrets: strings.Join(spec.ImagePullSecrets, listSeparator),
		FieldDaemonSetName:    spec.Name,
		FieldConfigMapName:    spec.Name,
		FieldDeploymentName:   spec.Name,
	}
	for _, caching := range cachingResources {
		list := spec.Resources.Requests
		if caching.limit {
			list = spec.Resources.Limits
		}
		if quantity, ok := list[caching.resource]; ok {
			fields[caching.field] = quantity.String()
		}
	}
	if cachingIntervalHours >= 1 {
		fields[FieldCachingIntervalHours] = strconv.Itoa(cachingIntervalHours)
	}
	if spec.HelperImage != "" {
		fields[FieldImagePullerImage] = spec.HelperImage
	}

	object := &unstructured.Unstructured{Object: map[string]any{"spec": fields}}
	object.SetAPIVersion(KubernetesImagePullerAPIVersion)
	object.SetKind(KubernetesImagePullerKind)
	object.SetName(spec.Name)
	object.SetNamespace(spec.Namespace)
	object.SetLabels(daemonSetLabels(spec))
	return object
}

func renderImages(images []Image) string {
	entries := make([]string, 0, len(images))
	for _, image := range images {
		entries = append(entries, image.Container+entrySeparator+image.Reference)
	}
	return strings.Join(entries, listSeparator)
}

// renderJSON encodes value, or returns empty when value is nil or empty.
func renderJSON(value any, empty string) string {
	switch typed := value.(type) {
	case map[string]string:
		if len(typed) == 0 {
			return empty
		}
	case []corev1.Toleration:
		if len(typed) == 0 {
			return empty
		}
	case *corev1.Affinity:
		if typed == nil || *typed == (corev1.Affinity{}) {
			return empty
		}
	}

	encoded, err := json.Marshal(value)
	if err != nil {
		// The three types above encode without error: they hold only strings, numbers,
		// slices and pointers to structs of those.
		panic(fmt.Sprintf("encoding %T: %v", value, err))
	}
	return string(encoded)
}

// ParseKubernetesImagePuller reads a KubernetesImagePuller back, for refresh and import.
// Each image entry gives an Image whose Key and Container are the entry's name, in the order
// of the images field. An empty or absent field means unset.
//
// An error names the field that cannot be read: a field that is not a string, invalid JSON,
// an invalid quantity or interval, or an images entry that is not exactly "name=image" or
// repeats a name. kubernetes-image-puller skips such entries and keeps the last of two
// entries with one name, but a silent skip here would hide the change from the plan.
func ParseKubernetesImagePuller(object *unstructured.Unstructured) (OperatorSpec, error) {
	result, err := parseKubernetesImagePuller(object)
	if err != nil {
		return OperatorSpec{}, fmt.Errorf("KubernetesImagePuller %s/%s: %w",
			object.GetNamespace(), object.GetName(), err)
	}
	return result, nil
}

func parseKubernetesImagePuller(object *unstructured.Unstructured) (OperatorSpec, error) {
	result := OperatorSpec{Spec: Spec{
		Name:       object.GetName(),
		Namespace:  object.GetNamespace(),
		KeepCached: true,
		Labels:     userLabels(object.GetLabels()),
	}}
	fields, err := specStrings(object)
	if err != nil {
		return OperatorSpec{}, err
	}

	if result.Images, err = parseImages(fields[FieldImages]); err != nil {
		return OperatorSpec{}, err
	}
	if err := parseJSONField(fields, FieldNodeSelector, &result.NodeSelector); err != nil {
		return OperatorSpec{}, err
	}
	if err := parseJSONField(fields, FieldAffinity, &result.Affinity); err != nil {
		return OperatorSpec{}, err
	}
	if result.Affinity != nil && *result.Affinity == (corev1.Affinity{}) {
		result.Affinity = nil
	}
	if err := parseJSONField(fields, FieldTolerations, &result.Tolerations); err != nil {
		return OperatorSpec{}, err
	}
	if len(result.NodeSelector) == 0 {
		result.NodeSelector = nil
	}
	if len(result.Tolerations) == 0 {
		result.Tolerations = nil
	}

	result.ImagePullSecrets = splitList(fields[FieldImagePullSecrets])
	if result.Resources, err = parseResources(fields); err != nil {
		return OperatorSpec{}, err
	}
	if result.CachingIntervalHours, err = parseInterval(fields); err != nil {
		return OperatorSpec{}, err
	}
	result.HelperImage = strings.TrimSpace(fields[FieldImagePullerImage])
	return result, nil
}

// userLabels returns labels without the ones that KubernetesImagePuller sets itself, or nil
// when none is left.
func userLabels(labels map[string]string) map[string]string {
	result := maps.Clone(labels)
	for key := range podLabels("") {
		delete(result, key)
	}
	if len(result) == 0 {
		return nil
	}
	return result
}

// specStrings returns the spec fields, all of which must be strings, with surrounding
// whitespace removed.
func specStrings(object *unstructured.Unstructured) (map[string]string, error) {
	raw, found, err := unstructured.NestedMap(object.Object, "spec")
	if err != nil {
		return nil, fmt.Errorf("spec is not an object: %w", err)
	}
	if !found {
		return map[string]string{}, nil
	}

	fields := make(map[string]string, len(raw))
	for name, value := range raw {
		text, ok := value.(string)
		if !ok {
			return nil, fmt.Errorf("spec.%s is a %T, expected a string", name, value)
		}
		fields[name] = strings.TrimSpace(text)
	}
	return fields, nil
}

// parseImages splits the images field as kubernetes-image-puller does: on ";", with each
// entry trimmed and one empty last entry dropped. Unlike kubernetes-image-puller, it
// rejects entries that are not "name=image" and repeated names.
func parseImages(value string) ([]Image, error) {
	if value == "" {
		return nil, nil
	}
	entries := strings.Split(value, listSeparator)
	if entries[len(entries)-1] == "" {
		entries = entries[:len(entries)-1]
	}

	images := make([]Image, 0, len(entries))
	seen := map[string]bool{}
	for i, entry := range entries {
		entry = strings.TrimSpace(entry)
		parts := strings.Split(entry, entrySeparator)
		if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
			return nil, fmt.Errorf("spec.%s: entry %d, %s, is invalid: expected "+
				"name=image with one \"=\"", FieldImages, i+1, quote(entry))
		}
		name := parts[0]
		if seen[name] {
			return nil, fmt.Errorf("spec.%s: the name %s appears more than once, so "+
				"kubernetes-image-puller caches only its last image", FieldImages, quote(name))
		}
		seen[name] = true
		images = append(images, Image{Key: name, Container: name, Reference: parts[1]})
	}
	return images, nil
}

func parseJSONField(fields map[string]string, field string, target any) error {
	value := fields[field]
	if value == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(value), target); err != nil {
		return fmt.Errorf("spec.%s: invalid JSON %s: %w", field, quote(value), err)
	}
	return nil
}

// splitList splits a ";" list and drops empty items, which kubernetes-image-puller would
// pass on as pull secrets with an empty name.
func splitList(value string) []string {
	var items []string
	for item := range strings.SplitSeq(value, listSeparator) {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}

func parseResources(fields map[string]string) (corev1.ResourceRequirements, error) {
	var resources corev1.ResourceRequirements
	for _, caching := range cachingResources {
		value := fields[caching.field]
		if value == "" {
			continue
		}
		quantity, err := resource.ParseQuantity(value)
		if err != nil {
			return corev1.ResourceRequirements{}, fmt.Errorf("spec.%s: invalid quantity "+
				"%s: %w", caching.field, quote(value), err)
		}

		list := &resources.Requests
		if caching.limit {
			list = &resources.Limits
		}
		if *list == nil {
			*list = corev1.ResourceList{}
		}
		(*list)[caching.resource] = quantity
	}
	return resources, nil
}

func parseInterval(fields map[string]string) (int, error) {
	value := fields[FieldCachingIntervalHours]
	if value == "" {
		return 0, nil
	}
	hours, err := strconv.Atoi(value)
	if err != nil || hours < 1 {
		return 0, fmt.Errorf("spec.%s: invalid value %s, expected a whole number of "+
			"hours of at least 1", FieldCachingIntervalHours, quote(value))
	}
	return hours, nil
}

// OperatorProblems checks what the KubernetesImagePuller format cannot express, on top of
// what Images checks. A reference that contains ";" or "=" cannot be encoded in the images
// field, and a container name "copy-sleep" clashes with kubernetes-image-puller's init
// container. The problems have the keys of images, sorted as images are.
func OperatorProblems(images []Image) []Problem {
	var problems []Problem
	for _, image := range images {
		if strings.ContainsAny(image.Reference, listSeparator+entrySeparator) {
			problems = append(problems, Problem{
				Key:     image.Key,
				Summary: "Image Reference Not Expressible",
				Detail: fmt.Sprintf("The image %s has the reference %s, which contains "+
					"\";\" or \"=\". The operator backend lists images as "+
					"name=image;name=image, so it cannot carry that reference. Remove "+
					"the character, or use the daemonset backend.",
					quote(image.Key), quote(image.Reference)),
			})
		}
		if image.Container == ContainerCopySleep {
			problems = append(problems, Problem{
				Key:     image.Key,
				Summary: "Reserved Image Key",
				Detail: fmt.Sprintf("The key %s becomes the container name %q, which "+
					"kubernetes-image-puller uses for its own init container. Choose "+
					"another key.", quote(image.Key), ContainerCopySleep),
			})
		}
	}
	return problems
}

// ImagePullerImageWarning returns a warning detail when the operator resets image, the
// imagePullerImage of a spec, to "", or "" when it keeps the value.
func ImagePullerImageWarning(image string) string {
	for _, legacy := range LegacyImagePullerImages {
		if image == legacy {
			return fmt.Sprintf("The kubernetes-image-puller operator replaces the helper "+
				"image %q with its own default, because it was once the default, so every "+
				"plan would show a change. Leave helper_image unset to use the default.",
				image)
		}
	}
	return ""
}
