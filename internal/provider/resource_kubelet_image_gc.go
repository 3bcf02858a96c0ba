package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	mcfgv1 "github.com/openshift/api/machineconfiguration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/retry"

	"github.com/imagedist/terraform-provider-imagedist/internal/kube"
	"github.com/imagedist/terraform-provider-imagedist/internal/kubeerrors"
	"github.com/imagedist/terraform-provider-imagedist/internal/kubeletgc"
)

var (
	_ resource.Resource                     = &kubeletImageGCResource{}
	_ resource.ResourceWithConfigure        = &kubeletImageGCResource{}
	_ resource.ResourceWithConfigValidators = &kubeletImageGCResource{}
	_ resource.ResourceWithValidateConfig   = &kubeletImageGCResource{}
	_ resource.ResourceWithImportState      = &kubeletImageGCResource{}
	_ resource.ResourceWithModifyPlan       = &kubeletImageGCResource{}
)

// kubeletImageGCDefaultTimeout bounds create and update. Accepting a KubeletConfig takes the
// operator seconds, but a rollout reboots every node of the pool, which takes minutes per
// node.
const kubeletImageGCDefaultTimeout = 60 * time.Minute

// kubeletImageGCPollInterval is the longest time between two reads of the KubeletConfig and
// the pools in a wait. The waits start at kubeletImageGCFirstPoll and double the interval up
// to this, so a verdict that the operator writes within seconds is read within seconds.
// Tests lower it.
var kubeletImageGCPollInterval = 10 * time.Second

const kubeletImageGCFirstPoll = time.Second

var (
	kubeletConfigGVR = schema.GroupVersionResource{
		Group: "machineconfiguration.openshift.io", Version: "v1", Resource: "kubeletconfigs",
	}
	machineConfigPoolGVR = schema.GroupVersionResource{
		Group: "machineconfiguration.openshift.io", Version: "v1",
		Resource: "machineconfigpools",
	}
	kubeletConfigsResource = kubeletConfigGVR.GroupResource()
)

// kubeletImageGCResource is imagedist_kubelet_image_gc.
type kubeletImageGCResource struct {
	clients *kube.Clients
}

// NewKubeletImageGCResource returns the imagedist_kubelet_image_gc resource.
func NewKubeletImageGCResource() resource.Resource {
	return &kubeletImageGCResource{}
}

func (r *kubeletImageGCResource) Metadata(
	_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse,
) {
	resp.TypeName = req.ProviderTypeName + "_kubelet_image_gc"
}

func (r *kubeletImageGCResource) Configure(
	_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse,
) {
	r.clients = clientsFromProviderData(req.ProviderData, &resp.Diagnostics)
}

func (r *kubeletImageGCResource) Create(
	ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse,
) {
	var plan kubeletImageGCModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Create(ctx, kubeletImageGCDefaultTimeout)
	resp.Diagnostics.Append(diags...)
	client := r.dynamic(&resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}

	name := plan.Name.ValueString()
	settings, _ := plan.settings()
	selector, _ := plan.poolSelector(ctx)
	// The plan has shown the warnings already.
	resp.Diagnostics.Append(checkPoolConfigs(ctx, client, name, selector).Errors()...)
	if resp.Diagnostics.HasError() {
		return
	}

	baseline := r.rolloutBaseline(ctx, client, plan, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}

	tflog.Debug(ctx, "Creating KubeletConfig", map[string]any{"name": name})
	configs := client.Resource(kubeletConfigGVR)
	object := newKubeletConfig(name, selector, settings)
	_, _, err := kube.CreateOnce(ctx, object,
		func(ctx context.Context) (*unstructured.Unstructured, error) {
			return configs.Create(ctx, object, metav1.CreateOptions{})
		},
		func(ctx context.Context) (*unstructured.Unstructured, error) {
			return configs.Get(ctx, name, metav1.GetOptions{})
		})
	if err != nil {
		addKubeletConfigWriteError(&resp.Diagnostics, "Unable to Create KubeletConfig", name, err)
		return
	}

	// Saving the state before the wait keeps the KubeletConfig in state, marked tainted,
	// when the wait fails.
	plan.ID = plan.Name
	r.waitAndFlatten(ctx, client, &plan, kubeletConfigChange{written: true, baseline: baseline},
		timeout, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, plan)...)
}

func (r *kubeletImageGCResource) Read(
	ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse,
) {
	var state kubeletImageGCModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	client := r.dynamic(&resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}

	name := state.Name.ValueString()
	object, err := client.Resource(kubeletConfigGVR).Get(ctx, name, metav1.GetOptions{})
	if kubeerrors.IsObjectNotFound(err, kubeletConfigsResource, name) {
		tflog.Info(ctx, "KubeletConfig deleted outside Terraform", map[string]any{"name": name})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		addKubeletConfigReadError(&resp.Diagnostics, name, err)
		return
	}

	resp.Diagnostics.Append(flattenFromCluster(ctx, client, &state, object)...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, state)...)
}

// Update rewrites only the image GC keys and the selector, so keys of spec.kubeletConfig
// that another tool set stay in place.
func (r *kubeletImageGCResource) Update(
	ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse,
) {
	var plan kubeletImageGCModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Update(ctx, kubeletImageGCDefaultTimeout)
	resp.Diagnostics.Append(diags...)
	client := r.dynamic(&resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}

	name := plan.Name.ValueString()
	settings, _ := plan.settings()
	selector, _ := plan.poolSelector(ctx)
	change := kubeletConfigChange{
		baseline: r.rolloutBaseline(ctx, client, plan, &resp.Diagnostics),
	}
	if resp.Diagnostics.HasError() {
		return
	}
	configs := client.Resource(kubeletConfigGVR)
	tflog.Debug(ctx, "Updating KubeletConfig", map[string]any{"name": name})
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		current, err := configs.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		change.before, err = lastCondition(current)
		if err != nil {
			return err
		}
		applySpec(current, selector, settings)
		updated, err := configs.Update(ctx, current, metav1.UpdateOptions{})
		if err != nil {
			return err
		}
		// The API server keeps the generation when the spec did not change, as when only
		// timeouts or wait_for_rollout changed. The operator then reports nothing new and
		// the pools render nothing new, so the waits read the current state instead.
		change.written = updated.GetGeneration() != current.GetGeneration()
		return nil
	})
	if err != nil {
		addKubeletConfigWriteError(&resp.Diagnostics, "Unable to Update KubeletConfig", name, err)
		return
	}

	if !change.written {
		tflog.Debug(ctx, "KubeletConfig spec unchanged", map[string]any{"name": name})
	}
	plan.ID = plan.Name
	r.waitAndFlatten(ctx, client, &plan, change, timeout, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, plan)...)
}

// Delete removes the KubeletConfig. The machine-config operator then deletes the generated
// MachineConfig and rolls the pool back, which reboots its nodes again. Delete does not wait
// for that.
func (r *kubeletImageGCResource) Delete(
	ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse,
) {
	var state kubeletImageGCModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	client := r.dynamic(&resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}

	name := state.Name.ValueString()
	tflog.Debug(ctx, "Deleting KubeletConfig", map[string]any{"name": name})
	err := client.Resource(kubeletConfigGVR).Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !kubeerrors.IsObjectNotFound(err, kubeletConfigsResource, name) {
		addKubeletConfigWriteError(&resp.Diagnostics, "Unable to Delete KubeletConfig", name, err)
	}
}

// ImportState takes the KubeletConfig's name. Read fills in the rest, with
// machine_config_pool when the selector is the single label of an OpenShift pool.
func (r *kubeletImageGCResource) ImportState(
	ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse,
) {
	if problems := validation.IsDNS1123Subdomain(req.ID); len(problems) > 0 {
		resp.Diagnostics.AddError("Invalid Import ID",
			fmt.Sprintf("Import imagedist_kubelet_image_gc by the name of its KubeletConfig, "+
				"a DNS-1123 subdomain, but %q is not one: %s.", req.ID,
				strings.Join(problems, "; ")))
		return
	}
	client := r.dynamic(&resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	_, err := client.Resource(kubeletConfigGVR).Get(ctx, req.ID, metav1.GetOptions{})
	if kubeerrors.IsObjectNotFound(err, kubeletConfigsResource, req.ID) {
		resp.Diagnostics.AddError("KubeletConfig Not Found",
			fmt.Sprintf("KubeletConfig %q does not exist on the cluster, so there is nothing "+
				"to import. List the KubeletConfigs with `oc get kubeletconfig`.", req.ID))
		return
	}
	if err != nil {
		addKubeletConfigReadError(&resp.Diagnostics, req.ID, err)
		return
	}
	resource.ImportStatePassthroughID(ctx, path.Root("name"), req, resp)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("wait_for_rollout"),
		false)...)
}

func (r *kubeletImageGCResource) dynamic(diags *diag.Diagnostics) dynamic.Interface {
	return dynamicClient(r.clients, diags)
}

// kubeletConfigChange records the write of a create or update, for the waits that follow.
type kubeletConfigChange struct {
	// written is true when the write changed the KubeletConfig's spec, and so its generation.
	written bool
	// before is the last condition before the change, or nil.
	before *mcfgv1.KubeletConfigCondition
	// baseline is each pool's rendered configuration before the change, by pool name, or
	// nil without wait_for_rollout.
	baseline map[string]poolBaseline
}

// poolBaseline is the rendered configuration and generation of a pool before the change.
type poolBaseline struct {
	rendered   string // status.configuration.name, such as rendered-worker-<hash>
	generation int64  // metadata.generation
}

// rolloutBaseline records every pool's rendered configuration before a write when plan waits
// for the rollout. The generated MachineConfig keeps its name across changes, so only a new
// rendered configuration shows that the pool took this change.
func (r *kubeletImageGCResource) rolloutBaseline(ctx context.Context, client dynamic.Interface,
	plan kubeletImageGCModel, diags *diag.Diagnostics) map[string]poolBaseline {
	if !plan.WaitForRollout.ValueBool() {
		return nil
	}
	pools, err := listPools(ctx, client)
	if err != nil {
		addAPIError(diags, "Unable to List Machine Config Pools",
			"The provider reads the pools before the change to tell when they have rolled "+
				"it out. Check that the provider's credentials may list machineconfigpools.",
			err)
		return nil
	}
	baseline := make(map[string]poolBaseline, len(pools))
	for _, pool := range pools {
		baseline[pool.Name] = poolBaseline{
			rendered: pool.Status.Configuration.Name, generation: pool.Generation,
		}
	}
	return baseline
}

// waitAndFlatten waits for the operator's verdict on the change and, with wait_for_rollout, for
// the rollout, then maps the cluster's objects into plan. Errors go to diags, and plan keeps
// the planned values for anything the cluster did not return.
func (r *kubeletImageGCResource) waitAndFlatten(ctx context.Context, client dynamic.Interface,
	plan *kubeletImageGCModel, change kubeletConfigChange, timeout time.Duration,
	diags *diag.Diagnostics) {
	// The requests keep ctx without the wait's deadline: a request near a context deadline
	// fails inside client-go's rate limiter with an error that no longer reads "timed out".
	deadline := time.Now().Add(timeout)

	name := plan.Name.ValueString()
	config, err := waitForVerdict(ctx, deadline, client, name, change)
	if err == nil && plan.WaitForRollout.ValueBool() {
		baseline := change.baseline
		if !change.written {
			baseline = nil
		}
		err = waitForRollout(ctx, deadline, client, config, baseline)
	}
	if err != nil && ctx.Err() != nil {
		// A request that the cancellation interrupted fails with an error of its own.
		err = ctx.Err()
	}
	if err != nil {
		addWaitError(diags, name, timeout, err)
	}
	if ctx.Err() != nil {
		// Terraform is stopping, so reading the KubeletConfig again would only fail too.
		flattenUnknownStatus(ctx, plan)
		return
	}

	object, getErr := client.Resource(kubeletConfigGVR).Get(ctx, name, metav1.GetOptions{})
	if getErr != nil {
		addKubeletConfigReadError(diags, name, getErr)
		flattenUnknownStatus(ctx, plan)
		return
	}
	flattenDiags := flattenFromCluster(ctx, client, plan, object)
	diags.Append(flattenDiags...)
	if flattenDiags.HasError() {
		flattenUnknownStatus(ctx, plan)
	}
}

// flattenUnknownStatus replaces unknown computed values, which state may not hold.
func flattenUnknownStatus(ctx context.Context, plan *kubeletImageGCModel) {
	if plan.Verdict.IsUnknown() {
		plan.Verdict = types.StringValue(string(kubeletgc.ConfigPending))
	}
	if plan.VerdictMessage.IsUnknown() {
		plan.VerdictMessage = types.StringValue("")
	}
	empty, _ := types.MapValueFrom(ctx, types.StringType, map[string]string{})
	if plan.RenderedMachineConfigs.IsUnknown() {
		plan.RenderedMachineConfigs = empty
	}
	if plan.PoolRollout.IsUnknown() {
		plan.PoolRollout = empty
	}
}

// flattenFromCluster maps a KubeletConfig and the pools it selects into model.
func flattenFromCluster(ctx context.Context, client dynamic.Interface,
	model *kubeletImageGCModel, object *unstructured.Unstructured) diag.Diagnostics {
	var diags diag.Diagnostics

	config, err := typedKubeletConfig(object)
	if err != nil {
		diags.AddError("Unable to Read KubeletConfig", err.Error())
		return diags
	}
	diags.Append(flattenKubeletConfig(ctx, model, config)...)
	if diags.HasError() {
		return diags
	}

	pools, err := listPools(ctx, client)
	if err != nil {
		addAPIError(&diags, "Unable to List Machine Config Pools",
			"The provider reads the pools that the KubeletConfig selects to report their "+
				"rollout. Check that the provider's credentials may list "+
				"machineconfigpools.", err)
		return diags
	}
	diags.Append(flattenStatus(ctx, model, config, selectedPoolObjects(config, pools))...)
	return diags
}

const summaryTooManyConfigs = "Too Many KubeletConfigs for Pool"

// checkPoolConfigs lists the KubeletConfigs that already select the target pools. It warns
// about them, because the operator merges them and the later one wins, and fails when a
// pool already has the maximum the operator renders.
func checkPoolConfigs(ctx context.Context, client dynamic.Interface, name string,
	selector *metav1.LabelSelector) diag.Diagnostics {
	var diags diag.Diagnostics

	list, err := client.Resource(kubeletConfigGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		addKubeletConfigReadError(&diags, name, err)
		return diags
	}
	var existing []mcfgv1.KubeletConfig
	for i := range list.Items {
		config, err := typedKubeletConfig(&list.Items[i])
		if err != nil {
			diags.AddError("Unable to Read KubeletConfig", err.Error())
			return diags
		}
		existing = append(existing, *config)
	}
	pools, err := listPools(ctx, client)
	if err != nil {
		addAPIError(&diags, "Unable to List Machine Config Pools",
			"The provider lists the pools to find other KubeletConfigs for the same pool. "+
				"Check that the provider's credentials may list machineconfigpools.", err)
		return diags
	}

	matches, err := kubeletgc.MatchingConfigs(selector, name, existing, pools)
	if err != nil {
		diags.AddAttributeError(path.Root(kubeletgc.AttributePoolSelector),
			"Invalid Machine Config Pool Selector", err.Error())
		return diags
	}
	if selected, _ := kubeletgc.SelectedPools(selector, pools); len(selected) == 0 {
		names := make([]string, len(pools))
		for i := range pools {
			names[i] = pools[i].Name
		}
		diags.AddWarning("No Machine Config Pool Matches",
			fmt.Sprintf("No machine config pool on the cluster has the labels %s, so the "+
				"machine-config operator will reject KubeletConfig %q unless such a pool "+
				"exists by then. The pools are: %s.", metav1.FormatLabelSelector(selector),
				name, strings.Join(names, ", ")))
	}
	diags.Append(poolConfigDiagnostics(matches)...)
	return diags
}

// poolConfigDiagnostics turns the other KubeletConfigs of the target pools into a warning,
// or an error for a pool that has no room left.
func poolConfigDiagnostics(matches []kubeletgc.ConfigMatch) diag.Diagnostics {
	var diags diag.Diagnostics
	if len(matches) == 0 {
		return diags
	}

	perPool := map[string]int{}
	var lines []string
	for _, match := range matches {
		for _, pool := range match.Pools {
			perPool[pool]++
		}
		suffix := match.MachineConfigNameSuffix
		if suffix == "" {
			suffix = "none"
		}
		lines = append(lines, fmt.Sprintf("- %s (pools %s, MachineConfig name suffix %s)",
			match.Name, strings.Join(match.Pools, ", "), suffix))
	}
	for pool, count := range perPool {
		if count >= kubeletgc.MaxConfigsPerPool {
			diags.AddError(summaryTooManyConfigs,
				fmt.Sprintf("Machine config pool %q already has %d KubeletConfigs, the maximum "+
					"that the machine-config operator renders for one pool, so it would reject "+
					"another one. Merge these settings into one of them, or delete one:\n%s",
					pool, count, strings.Join(lines, "\n")))
			return diags
		}
	}

	diags.AddWarning("Other KubeletConfigs for the Same Pool",
		"The machine-config operator merges every KubeletConfig of a pool, and for a key that "+
			"several set, the one with the highest MachineConfig name suffix wins. Check that "+
			"these do not set the image GC keys too:\n"+strings.Join(lines, "\n"))
	return diags
}

func listPools(ctx context.Context, client dynamic.Interface) (
	[]mcfgv1.MachineConfigPool, error) {
	list, err := client.Resource(machineConfigPoolGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	pools := make([]mcfgv1.MachineConfigPool, 0, len(list.Items))
	for i := range list.Items {
		var pool mcfgv1.MachineConfigPool
		if err := decodeUnstructured(&list.Items[i], &pool); err != nil {
			return nil, err
		}
		pools = append(pools, pool)
	}
	return pools, nil
}

func decodeUnstructured(object *unstructured.Unstructured, into any) error {
	encoded, err := object.MarshalJSON()
	if err == nil {
		err = json.Unmarshal(encoded, into)
	}
	if err != nil {
		return fmt.Errorf("decoding %s %s: %w", object.GetKind(), object.GetName(), err)
	}
	return nil
}

// selectedPoolObjects returns the pools that config selects.
func selectedPoolObjects(config *mcfgv1.KubeletConfig,
	pools []mcfgv1.MachineConfigPool) []mcfgv1.MachineConfigPool {
	names, err := kubeletgc.SelectedPools(config.Spec.MachineConfigPoolSelector, pools)
	if err != nil {
		return nil
	}
	var selected []mcfgv1.MachineConfigPool
	for _, pool := range pools {
		for _, name := range names {
			if pool.Name == name {
				selected = append(selected, pool)
			}
		}
	}
	return selected
}

// errOperatorRejected is the cause of a wait that ended with a failure reported by the
// cluster rather than a timeout.
var errOperatorRejected = errors.New("rejected")

// waitForVerdict waits until the operator has reported on the KubeletConfig's current
// generation and returns the KubeletConfig once accepted. When the change did not write the
// spec, the verdict already there is the one on the current generation.
func waitForVerdict(ctx context.Context, deadline time.Time, client dynamic.Interface,
	name string, change kubeletConfigChange) (*mcfgv1.KubeletConfig, error) {
	var config *mcfgv1.KubeletConfig
	message := "the machine-config operator has not reported a condition yet"
	err := pollKubeletImageGC(ctx, deadline, func() (bool, error) {
		object, err := client.Resource(kubeletConfigGVR).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		config, err = typedKubeletConfig(object)
		if err != nil {
			return false, err
		}
		before := change.before
		if !change.written {
			before = nil
		}
		if !verdictIsFresh(config, before) {
			if len(config.Status.Conditions) > 0 {
				message = "the machine-config operator has not reported on the change yet"
			}
			return false, nil
		}
		var state kubeletgc.ConfigState
		state, message = kubeletgc.Verdict(config.Status.Conditions)
		switch state {
		case kubeletgc.ConfigFailed:
			return false, fmt.Errorf("%w: the machine-config operator rejected the "+
				"KubeletConfig: %s", errOperatorRejected, message)
		case kubeletgc.ConfigAccepted:
			return true, nil
		}
		return false, nil
	})
	if err != nil && !errors.Is(err, errOperatorRejected) {
		return nil, fmt.Errorf("waiting for the machine-config operator's verdict (%s): %w",
			message, err)
	}
	return config, err
}

// verdictIsFresh reports whether the last condition is about the current generation rather
// than an earlier one. Releases of the machine-config operator that set
// status.observedGeneration say so directly. Releases that leave it at zero are read by a
// change of the last condition: the operator appends a condition, or refreshes the
// lastTransitionTime of the last one when the message repeats.
//
// NOTE: lastTransitionTime has one-second precision, so a verdict with the same message in
// the same second as the previous one goes unnoticed and the wait runs until the timeout.
func verdictIsFresh(config *mcfgv1.KubeletConfig, before *mcfgv1.KubeletConfigCondition) bool {
	if config.Status.ObservedGeneration > 0 {
		return config.Status.ObservedGeneration >= config.Generation
	}
	conditions := config.Status.Conditions
	if len(conditions) == 0 {
		return false
	}
	last := conditions[len(conditions)-1]
	return before == nil || last.Type != before.Type || last.Status != before.Status ||
		last.Message != before.Message ||
		!last.LastTransitionTime.Equal(&before.LastTransitionTime)
}

// lastCondition returns the last status condition of a KubeletConfig, or nil.
func lastCondition(object *unstructured.Unstructured) (*mcfgv1.KubeletConfigCondition, error) {
	config, err := typedKubeletConfig(object)
	if err != nil || len(config.Status.Conditions) == 0 {
		return nil, err
	}
	return &config.Status.Conditions[len(config.Status.Conditions)-1], nil
}

// waitForRollout waits until every pool that config selects runs the MachineConfig rendered
// from it, with all machines updated. A pool in baseline must also have moved past the
// rendered configuration it had before the change; a nil baseline means the change wrote
// nothing that the pools render.
func waitForRollout(ctx context.Context, deadline time.Time, client dynamic.Interface,
	config *mcfgv1.KubeletConfig, baseline map[string]poolBaseline) error {
	message := "no pool read yet"
	err := pollKubeletImageGC(ctx, deadline, func() (bool, error) {
		pools, err := listPools(ctx, client)
		if err != nil {
			return false, err
		}
		selected := selectedPoolObjects(config, pools)
		if len(selected) == 0 {
			message = "the KubeletConfig selects no machine config pool"
			return false, nil
		}
		for i := range selected {
			pool := &selected[i]
			state, text := kubeletgc.PoolRollout(pool)
			rendered := kubeletgc.GeneratedMachineConfigName(config, pool.Name)
			switch {
			case state == kubeletgc.RolloutDegraded:
				return false, fmt.Errorf("%w: %s", errOperatorRejected, text)
			case state != kubeletgc.RolloutDone:
				message = text
				return false, nil
			case !kubeletgc.PoolUsesMachineConfig(pool, rendered):
				message = fmt.Sprintf("machine config pool %s does not use MachineConfig %s "+
					"yet", pool.Name, rendered)
				return false, nil
			case !poolMovedOn(pool, baseline):
				message = fmt.Sprintf("machine config pool %s still runs %s from before the "+
					"change", pool.Name, pool.Status.Configuration.Name)
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil && !errors.Is(err, errOperatorRejected) {
		return fmt.Errorf("waiting for the rollout (%s): %w", message, err)
	}
	return err
}

// poolMovedOn reports whether pool has left the rendered configuration it had before the
// change: it runs another one, or has observed a newer generation of its own spec.
//
// NOTE: a spec change that renders the same kubelet configuration, such as the same label
// written through machine_config_pool_selector instead of machine_config_pool, gives the pool
// nothing new, so wait_for_rollout then runs until the timeout.
func poolMovedOn(pool *mcfgv1.MachineConfigPool, baseline map[string]poolBaseline) bool {
	before, ok := baseline[pool.Name]
	if !ok {
		return true
	}
	return pool.Status.Configuration.Name != before.rendered ||
		pool.Status.ObservedGeneration > before.generation
}

// pollKubeletImageGC calls check at once and then at growing intervals up to
// kubeletImageGCPollInterval until it returns true or an error, ctx ends, or deadline passes,
// which returns context.DeadlineExceeded.
func pollKubeletImageGC(ctx context.Context, deadline time.Time,
	check func() (bool, error)) error {
	interval := min(kubeletImageGCFirstPoll, kubeletImageGCPollInterval)
	next := time.NewTimer(interval)
	defer next.Stop()
	expired := time.NewTimer(time.Until(deadline))
	defer expired.Stop()
	for {
		done, err := check()
		if err != nil || done {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-expired.C:
			return context.DeadlineExceeded
		case <-next.C:
		}
		interval = min(2*interval, kubeletImageGCPollInterval)
		next.Reset(interval)
	}
}

func addWaitError(diags *diag.Diagnostics, name string, timeout time.Duration, err error) {
	switch {
	case errors.Is(err, errOperatorRejected):
		diags.AddError("KubeletConfig Not Applied",
			fmt.Sprintf("KubeletConfig %q was written, but the cluster reports a failure. "+
				"Fix the cause and apply again. Until the operator accepts it, every plan "+
				"proposes to apply it again."+
				"\n\n%s", name, strings.TrimPrefix(err.Error(), errOperatorRejected.Error()+": ")))
	case errors.Is(err, context.DeadlineExceeded):
		diags.AddError("Timed Out Waiting for KubeletConfig",
			fmt.Sprintf("KubeletConfig %q was written, but the wait did not finish within %s. "+
				"Raise timeouts.create or timeouts.update, or check the machine-config "+
				"operator and the pool. Every plan proposes to wait again until the "+
				"operator accepts it. After a create, Terraform marks the resource tainted "+
				"and would replace it, which rolls the pool out twice more: run `terraform "+
				"untaint` on it to wait again instead.\n\n%v", name, timeout, err))
	case errors.Is(err, context.Canceled):
		diags.AddError("Wait for KubeletConfig Interrupted",
			fmt.Sprintf("KubeletConfig %q was written, but the wait for the machine-config "+
				"operator was interrupted. The operator goes on with it: the next plan reads "+
				"its verdict.", name))
	default:
		addAPIError(diags, "Unable to Wait for KubeletConfig",
			fmt.Sprintf("KubeletConfig %q was written, but reading its status failed.", name),
			err)
	}
}

// addKubeletConfigWriteError reports a failed write. A missing API path means the cluster
// has no KubeletConfig CRD, which is the case on clusters other than OpenShift.
func addKubeletConfigWriteError(diags *diag.Diagnostics, summary, name string, err error) {
	switch {
	case kubeerrors.IsPathNotFound(err):
		addMissingCRDError(diags, err)
	case apierrors.IsAlreadyExists(err):
		addAPIError(diags, summary, fmt.Sprintf("KubeletConfig %q already exists. Import it "+
			"with `terraform import` to manage it, or choose another name.", name), err)
	default:
		addAPIError(diags, summary, fmt.Sprintf("The request for KubeletConfig %q failed. "+
			"Check the provider's permissions on kubeletconfigs.", name), err)
	}
}

func addKubeletConfigReadError(diags *diag.Diagnostics, name string, err error) {
	if kubeerrors.IsPathNotFound(err) {
		addMissingCRDError(diags, err)
		return
	}
	addAPIError(diags, "Unable to Read KubeletConfig",
		fmt.Sprintf("Reading KubeletConfig %q failed. Check the provider's permissions on "+
			"kubeletconfigs.", name), err)
}

func addMissingCRDError(diags *diag.Diagnostics, err error) {
	addAPIError(diags, "KubeletConfig CRD Not Found",
		"The cluster does not serve kubeletconfigs.machineconfiguration.openshift.io/v1. "+
			"imagedist_kubelet_image_gc needs OpenShift, whose machine-config operator "+
			"installs that CRD; plain Kubernetes and hosted control planes (HyperShift, ROSA "+
			"with HCP) have none. If the cluster is OpenShift, check that `host` is the API "+
			"server's address without a path prefix.", err)
}
