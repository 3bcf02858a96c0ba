package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	mcfgv1 "github.com/openshift/api/machineconfiguration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/imagedist/terraform-provider-imagedist/internal/kubeletgc"
)

// poolLabelPrefix starts the label that OpenShift puts on each pool it creates, with the pool
// name after the slash and an empty value.
const poolLabelPrefix = kubeletgc.PoolLabelPrefix

// kubeletImageGCModel is the Terraform state of imagedist_kubelet_image_gc.
type kubeletImageGCModel struct {
	ID                     types.String   `tfsdk:"id"`
	Name                   types.String   `tfsdk:"name"`
	MachineConfigPool      types.String   `tfsdk:"machine_config_pool"`
	PoolSelector           types.Object   `tfsdk:"machine_config_pool_selector"`
	HighThresholdPercent   types.Int64    `tfsdk:"high_threshold_percent"`
	LowThresholdPercent    types.Int64    `tfsdk:"low_threshold_percent"`
	MinimumGCAge           types.String   `tfsdk:"minimum_gc_age"`
	MaximumGCAge           types.String   `tfsdk:"maximum_gc_age"`
	NodeStatusMaxImages    types.Int64    `tfsdk:"node_status_max_images"`
	WaitForRollout         types.Bool     `tfsdk:"wait_for_rollout"`
	Verdict                types.String   `tfsdk:"verdict"`
	VerdictMessage         types.String   `tfsdk:"verdict_message"`
	RenderedMachineConfigs types.Map      `tfsdk:"rendered_machine_configs"`
	PoolRollout            types.Map      `tfsdk:"pool_rollout"`
	Timeouts               timeouts.Value `tfsdk:"timeouts"`
}

// poolSelectorModel is the machine_config_pool_selector attribute.
type poolSelectorModel struct {
	MatchLabels types.Map `tfsdk:"match_labels"`
}

var poolSelectorAttributeTypes = map[string]attr.Type{
	"match_labels": types.MapType{ElemType: types.StringType},
}

// settings returns the image GC settings of the model. known is false while a value is not
// known yet, as when it comes from another resource.
func (m kubeletImageGCModel) settings() (settings kubeletgc.Settings, known bool) {
	for _, value := range []attr.Value{m.HighThresholdPercent, m.LowThresholdPercent,
		m.MinimumGCAge, m.MaximumGCAge, m.NodeStatusMaxImages} {
		if value.IsUnknown() {
			return settings, false
		}
	}
	settings.HighThresholdPercent = int32Pointer(m.HighThresholdPercent)
	settings.LowThresholdPercent = int32Pointer(m.LowThresholdPercent)
	settings.MinimumGCAge = m.MinimumGCAge.ValueStringPointer()
	settings.MaximumGCAge = m.MaximumGCAge.ValueStringPointer()
	settings.NodeStatusMaxImages = int32Pointer(m.NodeStatusMaxImages)
	return settings, true
}

// int32Pointer converts a value that the schema keeps within the int32 range.
func int32Pointer(value types.Int64) *int32 {
	if value.IsNull() || value.IsUnknown() {
		return nil
	}
	converted := int32(value.ValueInt64())
	return &converted
}

func int64Value(value *int32) types.Int64 {
	if value == nil {
		return types.Int64Null()
	}
	return types.Int64Value(int64(*value))
}

// poolSelector returns the selector the KubeletConfig gets, or nil when neither attribute is
// set. known is false while a value is not known yet.
func (m kubeletImageGCModel) poolSelector(ctx context.Context) (
	selector *metav1.LabelSelector, known bool) {
	if m.MachineConfigPool.IsUnknown() || m.PoolSelector.IsUnknown() {
		return nil, false
	}
	if !m.MachineConfigPool.IsNull() {
		return &metav1.LabelSelector{MatchLabels: map[string]string{
			poolLabelPrefix + m.MachineConfigPool.ValueString(): "",
		}}, true
	}
	if m.PoolSelector.IsNull() {
		return nil, true
	}

	var block poolSelectorModel
	if diags := m.PoolSelector.As(ctx, &block, basetypes.ObjectAsOptions{}); diags.HasError() {
		return nil, false
	}
	if block.MatchLabels.IsUnknown() {
		return nil, false
	}
	labels := map[string]string{}
	for key, value := range block.MatchLabels.Elements() {
		text, ok := value.(types.String)
		if !ok || text.IsUnknown() {
			return nil, false
		}
		labels[key] = text.ValueString()
	}
	return &metav1.LabelSelector{MatchLabels: labels}, true
}

// newKubeletConfig builds the KubeletConfig for a plan.
func newKubeletConfig(name string, selector *metav1.LabelSelector,
	settings kubeletgc.Settings) *unstructured.Unstructured {
	config := &unstructured.Unstructured{Object: map[string]any{}}
	config.SetAPIVersion(kubeletConfigGVR.GroupVersion().String())
	config.SetKind("KubeletConfig")
	config.SetName(name)
	applySpec(config, selector, settings)
	return config
}

// applySpec writes the selector and the image GC keys into config. It removes the image GC
// keys that settings leaves unset and keeps every other key of spec.kubeletConfig, which
// other tools may manage.
func applySpec(config *unstructured.Unstructured, selector *metav1.LabelSelector,
	settings kubeletgc.Settings) {
	spec, _ := config.Object["spec"].(map[string]any)
	if spec == nil {
		spec = map[string]any{}
		config.Object["spec"] = spec
	}

	labels := map[string]any{}
	for key, value := range selector.MatchLabels {
		labels[key] = value
	}
	// Only matchLabels is managed. Dropping matchExpressions that another tool set would
	// widen the selection to more pools.
	poolSelector, _ := spec["machineConfigPoolSelector"].(map[string]any)
	if poolSelector == nil {
		poolSelector = map[string]any{}
	}
	poolSelector["matchLabels"] = labels
	spec["machineConfigPoolSelector"] = poolSelector

	fields, _ := spec["kubeletConfig"].(map[string]any)
	if fields == nil {
		fields = map[string]any{}
	}
	for _, key := range []string{kubeletgc.KeyHighThresholdPercent,
		kubeletgc.KeyLowThresholdPercent, kubeletgc.KeyMinimumGCAge, kubeletgc.KeyMaximumGCAge,
		kubeletgc.KeyNodeStatusMaxImages} {
		delete(fields, key)
	}
	var rendered map[string]any
	// Render returns a JSON object of numbers and strings, which always decodes.
	_ = json.Unmarshal(kubeletgc.Render(settings).Raw, &rendered)
	for key, value := range rendered {
		fields[key] = value
	}
	spec["kubeletConfig"] = fields
}

// typedKubeletConfig converts an object that the dynamic client returned.
func typedKubeletConfig(object *unstructured.Unstructured) (*mcfgv1.KubeletConfig, error) {
	encoded, err := object.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encoding KubeletConfig %s: %w", object.GetName(), err)
	}
	var config mcfgv1.KubeletConfig
	if err := json.Unmarshal(encoded, &config); err != nil {
		return nil, fmt.Errorf("decoding KubeletConfig %s: %w", object.GetName(), err)
	}
	return &config, nil
}

// flattenKubeletConfig maps the cluster's KubeletConfig into model. A duration that means the
// same as the prior state's value keeps the prior spelling, so "90s" in the configuration
// and "1m30s" on the cluster are no change.
func flattenKubeletConfig(ctx context.Context, model *kubeletImageGCModel,
	config *mcfgv1.KubeletConfig) diag.Diagnostics {
	var diags diag.Diagnostics

	settings, err := kubeletgc.Parse(config.Spec.KubeletConfig)
	if err != nil {
		diags.AddError("Unable to Read Image GC Settings",
			fmt.Sprintf("KubeletConfig %q has image GC keys the provider cannot read, so it "+
				"cannot plan a change from them. Correct or remove the key in "+
				"spec.kubeletConfig on the cluster, for example with `oc edit kubeletconfig "+
				"%s`, and run the plan again.\n\n%v", config.Name, config.Name, err))
		return diags
	}

	model.ID = types.StringValue(config.Name)
	model.Name = types.StringValue(config.Name)
	model.HighThresholdPercent = int64Value(settings.HighThresholdPercent)
	model.LowThresholdPercent = int64Value(settings.LowThresholdPercent)
	model.NodeStatusMaxImages = int64Value(settings.NodeStatusMaxImages)
	model.MinimumGCAge = durationValue(model.MinimumGCAge, settings.MinimumGCAge)
	model.MaximumGCAge = durationValue(model.MaximumGCAge, settings.MaximumGCAge)
	diags.Append(flattenSelector(ctx, model, config.Spec.MachineConfigPoolSelector)...)
	return diags
}

func durationValue(prior types.String, cluster *string) types.String {
	if cluster == nil {
		return types.StringNull()
	}
	if !prior.IsNull() && !prior.IsUnknown() &&
		kubeletgc.EquivalentDuration(prior.ValueString(), *cluster) {
		return prior
	}
	return types.StringValue(*cluster)
}

// flattenSelector sets machine_config_pool when the selector is the single label of an
// OpenShift pool and the state does not use machine_config_pool_selector, and the selector
// attribute otherwise.
func flattenSelector(ctx context.Context, model *kubeletImageGCModel,
	selector *metav1.LabelSelector) diag.Diagnostics {
	var labels map[string]string
	if selector != nil {
		labels = selector.MatchLabels
	}
	if selector != nil && len(selector.MatchExpressions) > 0 {
		var diags diag.Diagnostics
		diags.AddError("Unsupported Machine Config Pool Selector",
			fmt.Sprintf("The KubeletConfig's spec.machineConfigPoolSelector has "+
				"matchExpressions (%s), which machine_config_pool_selector cannot express. "+
				"Managing it would show a narrower selection than the cluster applies. "+
				"Replace the matchExpressions with matchLabels on the cluster, or manage this "+
				"KubeletConfig outside Terraform.", describeExpressions(selector)))
		return diags
	}

	if model.PoolSelector.IsNull() && len(labels) == 1 {
		for key, value := range labels {
			pool, found := strings.CutPrefix(key, poolLabelPrefix)
			if found && pool != "" && value == "" {
				model.MachineConfigPool = types.StringValue(pool)
				model.PoolSelector = types.ObjectNull(poolSelectorAttributeTypes)
				return nil
			}
		}
	}

	matchLabels, diags := types.MapValueFrom(ctx, types.StringType, labels)
	if diags.HasError() {
		return diags
	}
	object, objectDiags := types.ObjectValueFrom(ctx, poolSelectorAttributeTypes,
		poolSelectorModel{MatchLabels: matchLabels})
	diags.Append(objectDiags...)
	model.MachineConfigPool = types.StringNull()
	model.PoolSelector = object
	return diags
}

// flattenStatus sets the computed status attributes from the KubeletConfig and the pools
// that its selector selects.
func flattenStatus(ctx context.Context, model *kubeletImageGCModel,
	config *mcfgv1.KubeletConfig, pools []mcfgv1.MachineConfigPool) diag.Diagnostics {
	var diags diag.Diagnostics

	verdict, message := kubeletgc.Verdict(config.Status.Conditions)
	model.Verdict = types.StringValue(string(verdict))
	model.VerdictMessage = types.StringValue(message)

	rendered := map[string]string{}
	rollout := map[string]string{}
	for i := range pools {
		rendered[pools[i].Name] = kubeletgc.GeneratedMachineConfigName(config, pools[i].Name)
		state, text := kubeletgc.PoolRollout(&pools[i])
		rollout[pools[i].Name] = string(state) + ": " + text
	}

	renderedMap, mapDiags := types.MapValueFrom(ctx, types.StringType, rendered)
	diags.Append(mapDiags...)
	rolloutMap, mapDiags := types.MapValueFrom(ctx, types.StringType, rollout)
	diags.Append(mapDiags...)
	model.RenderedMachineConfigs = renderedMap
	model.PoolRollout = rolloutMap
	return diags
}

// describeExpressions spells the matchExpressions of selector in kubectl's selector syntax,
// such as "tier in (a,b)" or "!legacy".
func describeExpressions(selector *metav1.LabelSelector) string {
	return metav1.FormatLabelSelector(&metav1.LabelSelector{
		MatchExpressions: selector.MatchExpressions,
	})
}
