package provider

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/imagedist/terraform-provider-imagedist/internal/puller"
)

// imageKeysAnnotation records, on the DaemonSet, the short name of each image by container
// name, so that refresh and import give back the names written in the configuration.
const imageKeysAnnotation = "imagedist.io/image-keys"

// imagePullerModel is the imagedist_image_puller resource.
type imagePullerModel struct {
	ID                 types.String   `tfsdk:"id"`
	Namespace          types.String   `tfsdk:"namespace"`
	Name               types.String   `tfsdk:"name"`
	Backend            types.String   `tfsdk:"backend"`
	MachineConfigPools types.Set      `tfsdk:"machine_config_pools"`
	Images             types.Map      `tfsdk:"images"`
	ResolveDigests     types.Bool     `tfsdk:"resolve_digests"`
	ResolvedImages     types.Map      `tfsdk:"resolved_images"`
	KeepCached         types.Bool     `tfsdk:"keep_cached"`
	HelperImage        types.String   `tfsdk:"helper_image"`
	NodeSelector       types.Map      `tfsdk:"node_selector"`
	Tolerations        types.List     `tfsdk:"tolerations"`
	NodeAffinity       types.List     `tfsdk:"node_affinity"`
	ImagePullSecrets   types.List     `tfsdk:"image_pull_secrets"`
	PriorityClassName  types.String   `tfsdk:"priority_class_name"`
	MaxUnavailable     types.String   `tfsdk:"max_unavailable"`
	CPURequest         types.String   `tfsdk:"cpu_request"`
	CPULimit           types.String   `tfsdk:"cpu_limit"`
	MemoryRequest      types.String   `tfsdk:"memory_request"`
	MemoryLimit        types.String   `tfsdk:"memory_limit"`
	Labels             types.Map      `tfsdk:"labels"`
	WaitForCached      types.Bool     `tfsdk:"wait_for_cached"`
	Nodes              types.List     `tfsdk:"nodes"`
	NodeCount          types.Int64    `tfsdk:"node_count"`
	NodesCached        types.Int64    `tfsdk:"nodes_cached"`
	ImagesMissing      types.Int64    `tfsdk:"images_missing"`
	ExcludedNodes      types.List     `tfsdk:"excluded_nodes"`
	Timeouts           timeouts.Value `tfsdk:"timeouts"`
}

type tolerationModel struct {
	Key               types.String `tfsdk:"key"`
	Operator          types.String `tfsdk:"operator"`
	Value             types.String `tfsdk:"value"`
	Effect            types.String `tfsdk:"effect"`
	TolerationSeconds types.Int64  `tfsdk:"toleration_seconds"`
}

type nodeAffinityTermModel struct {
	MatchExpressions []matchExpressionModel `tfsdk:"match_expressions"`
}

type matchExpressionModel struct {
	Key      types.String `tfsdk:"key"`
	Operator types.String `tfsdk:"operator"`
	Values   types.List   `tfsdk:"values"`
}

var (
	tolerationAttributeTypes = map[string]attr.Type{
		"key": types.StringType, "operator": types.StringType, "value": types.StringType,
		"effect": types.StringType, "toleration_seconds": types.Int64Type,
	}
	matchExpressionAttributeTypes = map[string]attr.Type{
		"key": types.StringType, "operator": types.StringType,
		"values": types.ListType{ElemType: types.StringType},
	}
	nodeAffinityTermAttributeTypes = map[string]attr.Type{
		"match_expressions": types.ListType{ElemType: types.ObjectType{
			AttrTypes: matchExpressionAttributeTypes,
		}},
	}
)

// imageMap returns the images map as Go values, or false while any of it is unknown.
func (m imagePullerModel) imageMap() (map[string]string, bool) {
	if m.Images.IsNull() || m.Images.IsUnknown() {
		return nil, false
	}
	images := map[string]string{}
	for key, value := range m.Images.Elements() {
		text, ok := value.(types.String)
		if !ok || text.IsUnknown() {
			return nil, false
		}
		images[key] = text.ValueString()
	}
	return images, true
}

// spec builds the puller's DaemonSet settings from a plan whose values are known. images is
// the result of puller.Images for the plan's images map.
func (m imagePullerModel) spec(ctx context.Context, images []puller.Image) (
	puller.Spec, diag.Diagnostics) {
	var diags diag.Diagnostics
	spec := puller.Spec{
		Name:              m.Name.ValueString(),
		Namespace:         m.Namespace.ValueString(),
		Images:            images,
		KeepCached:        m.KeepCached.ValueBool(),
		HelperImage:       m.HelperImage.ValueString(),
		NodeSelector:      stringMap(m.NodeSelector),
		ImagePullSecrets:  stringElements(m.ImagePullSecrets),
		PriorityClassName: m.PriorityClassName.ValueString(),
		MaxUnavailable:    parseIntOrPercent(m.MaxUnavailable.ValueString()),
		Labels:            stringMap(m.Labels),
		Resources:         m.resources(),
	}

	var tolerations []tolerationModel
	diags.Append(m.Tolerations.ElementsAs(ctx, &tolerations, false)...)
	for _, toleration := range tolerations {
		spec.Tolerations = append(spec.Tolerations, corev1.Toleration{
			Key:               toleration.Key.ValueString(),
			Operator:          corev1.TolerationOperator(toleration.Operator.ValueString()),
			Value:             toleration.Value.ValueString(),
			Effect:            corev1.TaintEffect(toleration.Effect.ValueString()),
			TolerationSeconds: toleration.TolerationSeconds.ValueInt64Pointer(),
		})
	}

	var terms []nodeAffinityTermModel
	diags.Append(m.NodeAffinity.ElementsAs(ctx, &terms, false)...)
	if len(terms) > 0 {
		selector := &corev1.NodeSelector{}
		for _, term := range terms {
			var expressions []corev1.NodeSelectorRequirement
			for _, expression := range term.MatchExpressions {
				expressions = append(expressions, corev1.NodeSelectorRequirement{
					Key:      expression.Key.ValueString(),
					Operator: corev1.NodeSelectorOperator(expression.Operator.ValueString()),
					Values:   stringElements(expression.Values),
				})
			}
			selector.NodeSelectorTerms = append(selector.NodeSelectorTerms,
				corev1.NodeSelectorTerm{MatchExpressions: expressions})
		}
		spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: selector,
		}}
	}
	return spec, diags
}

func (m imagePullerModel) resources() corev1.ResourceRequirements {
	var requirements corev1.ResourceRequirements
	put := func(list *corev1.ResourceList, name corev1.ResourceName, value types.String) {
		if value.IsNull() || value.IsUnknown() {
			return
		}
		// The validator has parsed the value already.
		quantity, err := resource.ParseQuantity(value.ValueString())
		if err != nil {
			return
		}
		if *list == nil {
			*list = corev1.ResourceList{}
		}
		(*list)[name] = quantity
	}
	put(&requirements.Requests, corev1.ResourceCPU, m.CPURequest)
	put(&requirements.Requests, corev1.ResourceMemory, m.MemoryRequest)
	put(&requirements.Limits, corev1.ResourceCPU, m.CPULimit)
	put(&requirements.Limits, corev1.ResourceMemory, m.MemoryLimit)
	return requirements
}

// imageKeysByContainer reads the imageKeysAnnotation from an object's annotations. A missing
// or unreadable annotation gives an empty map, so the container names serve as short names.
func imageKeysByContainer(annotations map[string]string) map[string]string {
	keys := map[string]string{}
	if text, ok := annotations[imageKeysAnnotation]; ok {
		_ = json.Unmarshal([]byte(text), &keys)
	}
	return keys
}

// encodeImageKeys renders the imageKeysAnnotation value for images.
func encodeImageKeys(images []puller.Image) string {
	keys := map[string]string{}
	for _, image := range images {
		keys[image.Container] = image.Key
	}
	// A map of strings always encodes, with its keys sorted.
	encoded, _ := json.Marshal(keys)
	return string(encoded)
}

// flattenDaemonSet maps the cluster's DaemonSet into model. Quantities that mean the same as
// the prior state's keep its spelling, and labels are read only for the keys the prior state
// manages, or every key but the puller's own on import.
func flattenDaemonSet(ctx context.Context, model *imagePullerModel,
	daemonSet *appsv1.DaemonSet) diag.Diagnostics {
	var diags diag.Diagnostics
	pod := daemonSet.Spec.Template.Spec

	model.ID = types.StringValue(daemonSet.Namespace + "/" + daemonSet.Name)
	model.Namespace = types.StringValue(daemonSet.Namespace)
	model.Name = types.StringValue(daemonSet.Name)
	model.Backend = types.StringValue(backendDaemonSet)
	model.MachineConfigPools = types.SetNull(types.StringType)

	imageContainers, keepCached := imageContainers(&pod)
	model.KeepCached = types.BoolValue(keepCached)
	keys := imageKeysByContainer(daemonSet.Annotations)
	onCluster := map[string]string{}
	var first *corev1.Container
	for i := range imageContainers {
		container := &imageContainers[i]
		key, ok := keys[container.Name]
		if !ok {
			key = container.Name
		}
		onCluster[key] = container.Image
		if first == nil {
			first = container
		}
	}
	flattenImages(model, onCluster)

	model.HelperImage = helperImageValue(model.HelperImage, helperImage(&pod))
	model.NodeSelector = mapOrNull(pod.NodeSelector)
	model.ImagePullSecrets = pullSecretNames(pod.ImagePullSecrets)
	model.PriorityClassName = optionalString(pod.PriorityClassName)
	model.MaxUnavailable = types.StringValue(defaultMaxUnavailable)
	if update := daemonSet.Spec.UpdateStrategy.RollingUpdate; update != nil &&
		update.MaxUnavailable != nil {
		model.MaxUnavailable = types.StringValue(update.MaxUnavailable.String())
	}
	model.Labels = managedLabels(model.Labels, daemonSet.Labels)

	var requirements corev1.ResourceRequirements
	if first != nil {
		requirements = first.Resources
	}
	flattenResources(model, requirements)

	diags.Append(flattenTolerations(ctx, model, pod.Tolerations)...)
	diags.Append(flattenNodeAffinity(ctx, model, pod.Affinity)...)
	return diags
}

// helperImageValue reads the helper image, keeping it null while the prior state leaves it
// unset and the cluster has the default.
func helperImageValue(prior types.String, image string) types.String {
	if prior.IsNull() && image == puller.DefaultHelperImage {
		return prior
	}
	return optionalString(image)
}

// flattenResources reads the requests and limits of a cached-image container.
func flattenResources(model *imagePullerModel, requirements corev1.ResourceRequirements) {
	model.CPURequest = quantityValue(model.CPURequest, requirements.Requests, corev1.ResourceCPU)
	model.MemoryRequest = quantityValue(model.MemoryRequest, requirements.Requests,
		corev1.ResourceMemory)
	model.CPULimit = quantityValue(model.CPULimit, requirements.Limits, corev1.ResourceCPU)
	model.MemoryLimit = quantityValue(model.MemoryLimit, requirements.Limits,
		corev1.ResourceMemory)
}

func mapOrNull(values map[string]string) types.Map {
	if len(values) == 0 {
		return types.MapNull(types.StringType)
	}
	return types.MapValueMust(types.StringType, stringValues(values))
}

func stringValues(values map[string]string) map[string]attr.Value {
	out := make(map[string]attr.Value, len(values))
	for key, value := range values {
		out[key] = types.StringValue(value)
	}
	return out
}

func stringListOrNull(values []string) types.List {
	if len(values) == 0 {
		return types.ListNull(types.StringType)
	}
	elements := make([]attr.Value, len(values))
	for i, value := range values {
		elements[i] = types.StringValue(value)
	}
	return types.ListValueMust(types.StringType, elements)
}

func pullSecretNames(references []corev1.LocalObjectReference) types.List {
	names := make([]string, len(references))
	for i, reference := range references {
		names[i] = reference.Name
	}
	return stringListOrNull(names)
}

// managedLabels returns the DaemonSet's labels that prior manages, or on import (prior null)
// every label except the puller's own.
func managedLabels(prior types.Map, labels map[string]string) types.Map {
	selected := map[string]string{}
	if prior.IsNull() || prior.IsUnknown() {
		for key, value := range labels {
			if !slices.Contains(pullerLabelKeys, key) {
				selected[key] = value
			}
		}
		return mapOrNull(selected)
	}
	for key := range prior.Elements() {
		if value, ok := labels[key]; ok {
			selected[key] = value
		}
	}
	if len(selected) == 0 && len(prior.Elements()) == 0 {
		return prior
	}
	return types.MapValueMust(types.StringType, stringValues(selected))
}

// quantityValue reads one quantity, keeping the prior spelling when the value is the same, so
// `0.005` in the configuration and `5m` on the cluster are no change.
func quantityValue(prior types.String, list corev1.ResourceList,
	name corev1.ResourceName) types.String {
	quantity, ok := list[name]
	if !ok {
		return types.StringNull()
	}
	if !prior.IsNull() && !prior.IsUnknown() {
		if parsed, err := resource.ParseQuantity(prior.ValueString()); err == nil &&
			parsed.Cmp(quantity) == 0 {
			return prior
		}
	}
	return types.StringValue(quantity.String())
}

func flattenTolerations(ctx context.Context, model *imagePullerModel,
	tolerations []corev1.Toleration) diag.Diagnostics {
	objectType := types.ObjectType{AttrTypes: tolerationAttributeTypes}
	if len(tolerations) == 0 {
		model.Tolerations = types.ListNull(objectType)
		return nil
	}
	values := make([]tolerationModel, len(tolerations))
	for i, toleration := range tolerations {
		values[i] = tolerationModel{
			Key:               optionalString(toleration.Key),
			Operator:          optionalString(string(toleration.Operator)),
			Value:             optionalString(toleration.Value),
			Effect:            optionalString(string(toleration.Effect)),
			TolerationSeconds: types.Int64PointerValue(toleration.TolerationSeconds),
		}
	}
	list, diags := types.ListValueFrom(ctx, objectType, values)
	model.Tolerations = list
	return diags
}

func flattenNodeAffinity(ctx context.Context, model *imagePullerModel,
	affinity *corev1.Affinity) diag.Diagnostics {
	objectType := types.ObjectType{AttrTypes: nodeAffinityTermAttributeTypes}
	var selector *corev1.NodeSelector
	if affinity != nil && affinity.NodeAffinity != nil {
		selector = affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	}
	if selector == nil || len(selector.NodeSelectorTerms) == 0 {
		model.NodeAffinity = types.ListNull(objectType)
		return nil
	}
	terms := make([]nodeAffinityTermModel, len(selector.NodeSelectorTerms))
	for i, term := range selector.NodeSelectorTerms {
		for _, expression := range term.MatchExpressions {
			terms[i].MatchExpressions = append(terms[i].MatchExpressions,
				matchExpressionModel{
					Key:      types.StringValue(expression.Key),
					Operator: types.StringValue(string(expression.Operator)),
					Values:   stringListOrNull(expression.Values),
				})
		}
	}
	list, diags := types.ListValueFrom(ctx, objectType, terms)
	model.NodeAffinity = list
	return diags
}

// flattenNodeStatuses sets the nodes list, the excluded nodes and the totals from the
// puller's judgement.
func flattenNodeStatuses(ctx context.Context, model *imagePullerModel,
	judgement pullerJudgement) diag.Diagnostics {
	var diags diag.Diagnostics
	statuses := judgement.statuses
	exclusions := make([]attr.Value, 0, len(judgement.excluded))
	for _, exclusion := range judgement.excluded {
		exclusions = append(exclusions, types.ObjectValueMust(
			imagePullerExclusionAttributeTypes, map[string]attr.Value{
				"name":   types.StringValue(exclusion.Node),
				"reason": types.StringValue(exclusion.Reason),
			}))
	}
	model.ExcludedNodes = types.ListValueMust(
		types.ObjectType{AttrTypes: imagePullerExclusionAttributeTypes}, exclusions)
	nodes := make([]attr.Value, 0, len(statuses))
	cached, missing := 0, 0
	for _, status := range statuses {
		if len(status.Missing) == 0 {
			cached++
		}
		missing += len(status.Missing)

		errors := make([]attr.Value, 0, len(status.Errors))
		for _, failure := range status.Errors {
			errors = append(errors, types.ObjectValueMust(imagePullerErrorAttributeTypes,
				map[string]attr.Value{
					"image":   types.StringValue(failure.Key),
					"reason":  types.StringValue(failure.Reason),
					"message": types.StringValue(failure.Message),
				}))
		}
		node, nodeDiags := types.ObjectValue(imagePullerNodeAttributeTypes,
			map[string]attr.Value{
				"name":    types.StringValue(status.Node),
				"pod":     types.StringValue(status.Pod),
				"ready":   types.BoolValue(status.Ready),
				"cached":  stringList(status.Present),
				"missing": stringList(status.Missing),
				"errors": types.ListValueMust(types.ObjectType{
					AttrTypes: imagePullerErrorAttributeTypes}, errors),
			})
		diags.Append(nodeDiags...)
		nodes = append(nodes, node)
	}
	list, listDiags := types.ListValue(types.ObjectType{AttrTypes: imagePullerNodeAttributeTypes},
		nodes)
	diags.Append(listDiags...)
	model.Nodes = list
	model.NodeCount = types.Int64Value(int64(len(statuses)))
	model.NodesCached = types.Int64Value(int64(cached))
	model.ImagesMissing = types.Int64Value(int64(missing))
	return diags
}

// flattenUnknownNodeStatuses sets the computed status to empty values, for an apply that
// could not read it.
func flattenUnknownNodeStatuses(model *imagePullerModel) {
	if model.ResolvedImages.IsUnknown() {
		images, _ := model.imageMap()
		model.ResolvedImages = types.MapValueMust(types.StringType, stringValues(images))
	}
	if model.Nodes.IsUnknown() {
		model.Nodes = types.ListValueMust(
			types.ObjectType{AttrTypes: imagePullerNodeAttributeTypes}, nil)
	}
	if model.ExcludedNodes.IsUnknown() {
		model.ExcludedNodes = types.ListValueMust(
			types.ObjectType{AttrTypes: imagePullerExclusionAttributeTypes}, nil)
	}
	for _, value := range []*types.Int64{&model.NodeCount, &model.NodesCached,
		&model.ImagesMissing} {
		if value.IsUnknown() {
			*value = types.Int64Value(0)
		}
	}
}

// imageContainers returns the containers of a puller pod that hold the cached images, and
// whether they keep them cached: regular containers do, while init containers only pull.
func imageContainers(pod *corev1.PodSpec) ([]corev1.Container, bool) {
	if len(pod.Containers) == 1 && pod.Containers[0].Name == puller.ContainerWait {
		var images []corev1.Container
		for _, container := range pod.InitContainers {
			if container.Name != puller.ContainerSleeper {
				images = append(images, container)
			}
		}
		return images, false
	}
	return pod.Containers, true
}

// helperImage returns the image of the init container that copies the sleeper, or "" when
// the pod has none.
func helperImage(pod *corev1.PodSpec) string {
	for _, container := range pod.InitContainers {
		if container.Name == puller.ContainerSleeper {
			return container.Image
		}
	}
	return ""
}

// pullerLabelKeys are the labels that the puller sets on its DaemonSet itself.
var pullerLabelKeys = []string{puller.LabelName, puller.LabelInstance, puller.LabelManagedBy}
