package provider

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/resourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/imagedist/terraform-provider-imagedist/internal/kube"
	"github.com/imagedist/terraform-provider-imagedist/internal/kubeletgc"
)

func (r *kubeletImageGCResource) Schema(
	ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse,
) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Manages the kubelet image garbage collection settings of one " +
			"OpenShift machine config pool through a `KubeletConfig` " +
			"(`machineconfiguration.openshift.io/v1`). Only the image GC keys of " +
			"`spec.kubeletConfig` are managed: keys set by other tools stay as they are.\n\n" +
			"**Creating, changing or destroying it drains and reboots every node in the " +
			"pool**, one batch at a time " +
			"as the pool's `maxUnavailable` allows, because the machine-config operator " +
			"rewrites the kubelet configuration of each node.\n\n" +
			"The values are checked at plan time with the kubelet's own rules, because " +
			"neither the API server nor the machine-config operator checks them and a value " +
			"the kubelet rejects leaves every node of the pool NotReady after the reboot.\n\n" +
			fmt.Sprintf("OpenShift merges up to %d KubeletConfigs per pool, and for a key that "+
				"several set, the one with the highest MachineConfig name suffix wins. Before creating, the provider warns about the "+
				"other KubeletConfigs for the same pool and fails when the pool already has "+
				"%d.\n\n", kubeletgc.MaxConfigsPerPool, kubeletgc.MaxConfigsPerPool) +
			fmt.Sprintf("After create and update, the provider waits for the machine-config "+
				"operator to accept or reject the KubeletConfig, for at most `timeouts.create` "+
				"or `timeouts.update` (default %d minutes). With `wait_for_rollout`, it also "+
				"waits until every machine in the pool runs the new configuration. A change "+
				"of only `timeouts` or `wait_for_rollout` leaves the KubeletConfig as it is, "+
				"so the provider reads the current verdict and rollout instead of waiting "+
				"for new ones.\n\n",
				int(kubeletImageGCDefaultTimeout.Minutes())) +
			"Hosted control planes (HyperShift, ROSA with HCP) do not apply KubeletConfigs " +
			"created in the hosted cluster: configure the kubelet through the NodePool's " +
			"`spec.config` in the management cluster instead.\n\n" +
			"Plain Kubernetes has no KubeletConfig CRD, and apply fails there with an error " +
			"naming it.",
		Attributes: kubeletImageGCAttributes(),
		Blocks: map[string]schema.Block{
			"timeouts": timeouts.Block(ctx, timeouts.Opts{Create: true, Update: true}),
		},
	}
}

func kubeletImageGCAttributes() map[string]schema.Attribute {
	attributes := map[string]schema.Attribute{
		"id": schema.StringAttribute{
			Computed:            true,
			MarkdownDescription: "The KubeletConfig's name.",
			PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
		},
		"name": schema.StringAttribute{
			Required: true,
			MarkdownDescription: "The name of the KubeletConfig (cluster-scoped). Changing it " +
				"replaces the KubeletConfig.",
			Validators:    []validator.String{dns1123SubdomainValidator()},
			PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
		},
		"machine_config_pool": schema.StringAttribute{
			Optional: true,
			MarkdownDescription: "The name of a machine config pool created by OpenShift, such " +
				"as `worker` or `master`. The KubeletConfig selects it by the label `" +
				poolLabelPrefix + "<pool>`. Exactly one of `machine_config_pool` and " +
				"`machine_config_pool_selector` is required.",
		},
		"machine_config_pool_selector": schema.SingleNestedAttribute{
			Optional: true,
			MarkdownDescription: "Selects the pools by label, for custom pools. An empty " +
				"selector is rejected, because the machine-config operator applies a " +
				"KubeletConfig with an empty selector to no pool. The selector of a " +
				"KubeletConfig made outside Terraform must not use `matchExpressions`, which " +
				"this attribute cannot hold: refresh and import fail and name them.",
			Attributes: map[string]schema.Attribute{
				"match_labels": schema.MapAttribute{
					ElementType: types.StringType,
					Required:    true,
					MarkdownDescription: "Labels that a pool must carry, such as `" +
						poolLabelPrefix + "infra = \"\"`.",
					Validators: []validator.Map{
						mapvalidator.SizeAtLeast(1), nullMapValueValidator{},
					},
				},
			},
		},
		"wait_for_rollout": schema.BoolAttribute{
			Optional: true,
			Computed: true,
			Default:  booldefault.StaticBool(false),
			MarkdownDescription: "Whether create and update also wait until every machine of " +
				"the selected pools runs the new configuration, and fail when a pool reports " +
				"Degraded. The generated MachineConfig keeps its name across changes, so the " +
				"wait ends only once each pool has moved on from the rendered configuration " +
				"it ran before the change. A rollout reboots each node and takes minutes per node. Defaults " +
				"to `false`.",
		},
	}
	for name, attribute := range kubeletImageGCSettingAttributes() {
		attributes[name] = attribute
	}
	for name, attribute := range kubeletImageGCStatusAttributes() {
		attributes[name] = attribute
	}
	return attributes
}

func kubeletImageGCSettingAttributes() map[string]schema.Attribute {
	int32Range := int64validator.Between(math.MinInt32, math.MaxInt32)
	return map[string]schema.Attribute{
		kubeletgc.AttributeHighThresholdPercent: schema.Int64Attribute{
			Optional: true,
			MarkdownDescription: fmt.Sprintf("`imageGCHighThresholdPercent`: the disk usage, in "+
				"percent (0 to 100), above which the kubelet always collects unused images. "+
				"The kubelet default is %d.", kubeletgc.DefaultHighThresholdPercent),
			Validators: []validator.Int64{int32Range},
		},
		kubeletgc.AttributeLowThresholdPercent: schema.Int64Attribute{
			Optional: true,
			MarkdownDescription: fmt.Sprintf("`imageGCLowThresholdPercent`: the disk usage, in "+
				"percent, down to which image garbage collection frees space. It must be "+
				"strictly less than `high_threshold_percent`. The kubelet default is %d.",
				kubeletgc.DefaultLowThresholdPercent),
			Validators: []validator.Int64{int32Range},
		},
		kubeletgc.AttributeMinimumGCAge: schema.StringAttribute{
			Optional: true,
			MarkdownDescription: fmt.Sprintf("`imageMinimumGCAge`: the minimum age of an unused "+
				"image before it is collected, as a Go duration such as `90s` or `2m`. "+
				"Durations compare by value, so `90s` and `1m30s` are no change. The "+
				"kubelet default is `%s`.", kubeletgc.DefaultMinimumGCAge),
			PlanModifiers: []planmodifier.String{equivalentDurationModifier{}},
		},
		kubeletgc.AttributeMaximumGCAge: schema.StringAttribute{
			Optional: true,
			MarkdownDescription: "`imageMaximumGCAge`: the age after which an unused image is " +
				"collected whatever the disk usage, as a Go duration. It must be greater than " +
				"`minimum_gc_age` unless it is `0s`, which turns age-based collection off (the " +
				"kubelet default). A value above `0s` needs the kubelet's `ImageMaximumGCAge` " +
				"feature gate, which is on by default from Kubernetes 1.30 (OpenShift 4.17). " +
				"An older kubelet rejects it and its node becomes NotReady. The provider does " +
				"not check the nodes' kubelet version.",
			PlanModifiers: []planmodifier.String{equivalentDurationModifier{}},
		},
		kubeletgc.AttributeNodeStatusMaxImages: schema.Int64Attribute{
			Optional: true,
			MarkdownDescription: fmt.Sprintf("`nodeStatusMaxImages`: the maximum number of "+
				"images each node reports in `status.images`, which bounds what "+
				"`imagedist_node_images` can see. `-1` means no limit. The kubelet default "+
				"is %d.", kubeletgc.DefaultNodeStatusMaxImages),
			Validators: []validator.Int64{int32Range},
		},
	}
}

func kubeletImageGCStatusAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"verdict": schema.StringAttribute{
			Computed: true,
			MarkdownDescription: fmt.Sprintf("The machine-config operator's verdict on the "+
				"KubeletConfig: `%s`, `%s` or `%s`.", kubeletgc.ConfigAccepted,
				kubeletgc.ConfigFailed, kubeletgc.ConfigPending),
		},
		"verdict_message": schema.StringAttribute{
			Computed:            true,
			MarkdownDescription: "The message of the operator's last condition.",
		},
		"rendered_machine_configs": schema.MapAttribute{
			Computed:    true,
			ElementType: types.StringType,
			MarkdownDescription: "The MachineConfig that the operator renders for each selected " +
				"pool, by pool name, such as `99-worker-generated-kubelet`.",
		},
		"pool_rollout": schema.MapAttribute{
			Computed:    true,
			ElementType: types.StringType,
			MarkdownDescription: "The rollout state of each selected pool, by pool name, as " +
				"read at the last refresh, such as " +
				"`done: machine config pool worker: 3 of 3 machines updated, 3 ready, 0 " +
				"unavailable`.",
		},
	}
}

func (r *kubeletImageGCResource) ConfigValidators(_ context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{
		resourcevalidator.ExactlyOneOf(
			path.MatchRoot("machine_config_pool"),
			path.MatchRoot("machine_config_pool_selector"),
		),
		positiveTimeoutsValidator{},
	}
}

// ValidateConfig applies the kubelet's rules (kubeletgc) to the configured values, so a value
// that would stop the kubelet fails at plan time on the attribute at fault.
func (r *kubeletImageGCResource) ValidateConfig(
	ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse,
) {
	var config kubeletImageGCModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}

	settings, known := config.settings()
	if known {
		for _, problem := range settings.Validate() {
			resp.Diagnostics.AddAttributeError(path.Root(problem.Attribute), problem.Summary,
				problem.Detail)
		}
	}

	pool := config.MachineConfigPool
	if !pool.IsNull() && !pool.IsUnknown() {
		for _, problem := range kubeletgc.ValidatePoolName(pool.ValueString()) {
			resp.Diagnostics.AddAttributeError(path.Root(problem.Attribute), problem.Summary,
				problem.Detail)
		}
		return
	}
	selector, known := config.poolSelector(ctx)
	if known && selector != nil {
		for _, problem := range kubeletgc.ValidateSelector(selector) {
			resp.Diagnostics.AddAttributeError(path.Root(problem.Attribute), problem.Summary,
				problem.Detail)
		}
	}
}

// nullMapValueValidator rejects a null value in a map of strings. The message names the
// attribute path and the key, because Terraform 1.5.7 and OpenTofu 1.12.6 show only the
// first line of the block for a map nested in an object.
type nullMapValueValidator struct{}

func (nullMapValueValidator) Description(_ context.Context) string {
	return "values must not be null"
}

func (v nullMapValueValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (nullMapValueValidator) ValidateMap(
	_ context.Context, req validator.MapRequest, resp *validator.MapResponse,
) {
	elements := req.ConfigValue.Elements()
	for _, key := range slices.Sorted(maps.Keys(elements)) {
		if elements[key].IsNull() {
			resp.Diagnostics.AddAttributeError(req.Path.AtMapKey(key), "Null Map Value",
				fmt.Sprintf("%s[%q] is null. Set a string, which may be empty, or remove "+
					"the key.", req.Path, key))
		}
	}
}

// equivalentDurationModifier plans the prior value of a duration when the configuration
// spells the same duration differently, such as "1m30s" for "90s". Terraform accepts a
// planned value that equals the prior one in place of the configured one.
type equivalentDurationModifier struct{}

func (equivalentDurationModifier) Description(context.Context) string {
	return "Keeps the prior value when the configured duration means the same."
}

func (m equivalentDurationModifier) MarkdownDescription(ctx context.Context) string {
	return m.Description(ctx)
}

func (equivalentDurationModifier) PlanModifyString(_ context.Context,
	req planmodifier.StringRequest, resp *planmodifier.StringResponse) {
	if req.StateValue.IsNull() || req.StateValue.IsUnknown() || req.ConfigValue.IsNull() ||
		req.ConfigValue.IsUnknown() {
		return
	}
	if kubeletgc.EquivalentDuration(req.StateValue.ValueString(),
		req.ConfigValue.ValueString()) {
		resp.PlanValue = req.StateValue
	}
}

// ModifyPlan warns about the drains that the plan causes and, when the cluster can be read,
// about the target pools: none matching, or other KubeletConfigs for them. It keeps the
// computed status of the prior state when, after the attribute plan modifiers, nothing that
// the configuration sets differs from it, unless the operator rejected the KubeletConfig or a
// pool is degraded. The framework marks the status unknown as soon as the configuration
// differs from state, which a duration spelled differently does, and that alone would plan an
// update.
func (r *kubeletImageGCResource) ModifyPlan(
	ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse,
) {
	if !req.Plan.Raw.IsNull() {
		requireClusterSettings(r.clients, &resp.Diagnostics)
	}
	var plan, state kubeletImageGCModel
	if !req.Plan.Raw.IsNull() {
		resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	}
	if !req.State.Raw.IsNull() {
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	}
	if resp.Diagnostics.HasError() {
		return
	}

	switch {
	case req.Plan.Raw.IsNull():
		warnKubeletConfigDrain(&resp.Diagnostics, state, "Destroying")
		return
	case req.State.Raw.IsNull():
		warnKubeletConfigDrain(&resp.Diagnostics, plan, "Creating")
		r.checkTargetPools(ctx, plan, &resp.Diagnostics)
		return
	}

	if !settingsEqual(plan, state) {
		warnKubeletConfigDrain(&resp.Diagnostics, plan, "Changing")
	}
	if !plan.MachineConfigPool.Equal(state.MachineConfigPool) ||
		!plan.PoolSelector.Equal(state.PoolSelector) {
		r.checkTargetPools(ctx, plan, &resp.Diagnostics)
	}
	if !settingsEqual(plan, state) || !plan.WaitForRollout.Equal(state.WaitForRollout) ||
		!plan.Timeouts.Equal(state.Timeouts) {
		return
	}

	plan.ID = state.ID
	plan.Verdict = state.Verdict
	plan.VerdictMessage = state.VerdictMessage
	plan.RenderedMachineConfigs = state.RenderedMachineConfigs
	plan.PoolRollout = state.PoolRollout
	if state.Verdict.ValueString() != string(kubeletgc.ConfigAccepted) ||
		anyPoolDegraded(state) {
		// An unknown verdict plans an update, which waits for the operator's verdict again,
		// so a failed or missing verdict shows in every plan until the cluster reports
		// success.
		plan.Verdict = types.StringUnknown()
		plan.VerdictMessage = types.StringUnknown()
		plan.PoolRollout = types.MapUnknown(types.StringType)
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, plan)...)
}

// settingsEqual reports whether two models set the same KubeletConfig.
func settingsEqual(a, b kubeletImageGCModel) bool {
	left := []attr.Value{a.Name, a.MachineConfigPool, a.PoolSelector, a.HighThresholdPercent,
		a.LowThresholdPercent, a.MinimumGCAge, a.MaximumGCAge, a.NodeStatusMaxImages}
	right := []attr.Value{b.Name, b.MachineConfigPool, b.PoolSelector, b.HighThresholdPercent,
		b.LowThresholdPercent, b.MinimumGCAge, b.MaximumGCAge, b.NodeStatusMaxImages}
	for i := range left {
		if !left[i].Equal(right[i]) {
			return false
		}
	}
	return true
}

func anyPoolDegraded(state kubeletImageGCModel) bool {
	for _, value := range stringMap(state.PoolRollout) {
		if strings.HasPrefix(value, string(kubeletgc.RolloutDegraded)) {
			return true
		}
	}
	return false
}

// warnKubeletConfigDrain warns that the apply drains and reboots the nodes of the target pools.
func warnKubeletConfigDrain(diags *diag.Diagnostics, model kubeletImageGCModel, action string) {
	target := "the selected machine config pools"
	if !model.MachineConfigPool.IsNull() && !model.MachineConfigPool.IsUnknown() {
		target = fmt.Sprintf("machine config pool %q", model.MachineConfigPool.ValueString())
	}
	diags.AddWarning("Change Drains Nodes",
		fmt.Sprintf("%s KubeletConfig %q makes the machine-config operator drain and reboot "+
			"every node of %s, one batch at a time as the pool's maxUnavailable allows.",
			action, model.Name.ValueString(), target))
}

// checkTargetPools reports, at plan time, a selector that matches no pool and the other
// KubeletConfigs of the target pools. It skips the check while the provider configuration
// is unknown and warns when the cluster cannot be read, because a plan must not need the
// cluster.
func (r *kubeletImageGCResource) checkTargetPools(ctx context.Context, plan kubeletImageGCModel,
	diags *diag.Diagnostics) {
	selector, known := plan.poolSelector(ctx)
	if r.clients == nil || !known || selector == nil || plan.Name.IsUnknown() {
		return
	}
	client, err := r.clients.Dynamic()
	var unknown *kube.UnknownSettingsError
	if errors.As(err, &unknown) {
		return
	}
	if err != nil {
		addClientError(diags, err)
		return
	}

	found := checkPoolConfigs(ctx, client, plan.Name.ValueString(), selector)
	if found.HasError() && found.ErrorsCount() > 0 && !tooManyConfigs(found) {
		diags.AddWarning("Unable to Check Machine Config Pools",
			"Reading the machine config pools and KubeletConfigs on the cluster failed, so "+
				"the plan cannot check the target pools. Apply checks them again.\n\n"+
				found.Errors()[0].Detail())
		return
	}
	diags.Append(found...)
}

func tooManyConfigs(diags diag.Diagnostics) bool {
	for _, diagnostic := range diags.Errors() {
		if diagnostic.Summary() == summaryTooManyConfigs {
			return true
		}
	}
	return false
}
