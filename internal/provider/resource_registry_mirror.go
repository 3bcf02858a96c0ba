package provider

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/dynamic"

	"github.com/imagedist/terraform-provider-imagedist/internal/kube"
	"github.com/imagedist/terraform-provider-imagedist/internal/mirrors"
)

var (
	_ resource.Resource                   = &registryMirrorResource{}
	_ resource.ResourceWithConfigure      = &registryMirrorResource{}
	_ resource.ResourceWithValidateConfig = &registryMirrorResource{}
	_ resource.ResourceWithModifyPlan     = &registryMirrorResource{}
	_ resource.ResourceWithImportState    = &registryMirrorResource{}
)

// registryMirrorResource is imagedist_registry_mirror.
type registryMirrorResource struct {
	clients *kube.Clients
}

// NewRegistryMirrorResource returns the imagedist_registry_mirror resource.
func NewRegistryMirrorResource() resource.Resource {
	return &registryMirrorResource{}
}

func (r *registryMirrorResource) Metadata(
	_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse,
) {
	resp.TypeName = req.ProviderTypeName + "_registry_mirror"
}

func (r *registryMirrorResource) Configure(
	_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse,
) {
	r.clients = clientsFromProviderData(req.ProviderData, &resp.Diagnostics)
}

// ModifyPlan computes id and object_kinds, validates the rules once they are known, reports
// conflicts with mirror objects already on the cluster and warns about node drains.
func (r *registryMirrorResource) ModifyPlan(
	ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse,
) {
	if !req.Plan.Raw.IsNull() {
		requireClusterSettings(r.clients, &resp.Diagnostics)
	}
	if req.Plan.Raw.IsNull() {
		return
	}
	var plan, state registryMirrorModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if !req.State.Raw.IsNull() {
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	}
	if resp.Diagnostics.HasError() {
		return
	}

	if !plan.Name.IsUnknown() {
		plan.ID = plan.Name
	}
	if !plan.Name.IsUnknown() && !plan.PullType.IsUnknown() {
		plan.ObjectKinds = objectKindsValue(plan.Name.ValueString(), plan.PullType.ValueString())
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, plan)...)
	if resp.Diagnostics.HasError() || containsUnknownDeep(plan.Mirror) ||
		plan.Name.IsUnknown() || plan.PullType.IsUnknown() {
		return
	}

	blocks, diags := mirrorBlocks(ctx, plan.Mirror)
	resp.Diagnostics.Append(diags...)
	rules := rulesFromBlocks(blocks)
	resp.Diagnostics.Append(validateMirrorBlocks(blocks)...)
	if resp.Diagnostics.HasError() {
		return
	}

	r.checkConflicts(ctx, plan, state, rules, &resp.Diagnostics)
	warnDrain(ctx, plan, state, rules, &resp.Diagnostics)
}

// checkConflicts reports mirrors.Conflicts with the objects on the cluster. It skips the
// check when the provider configuration is not known yet, and warns when the cluster cannot
// be read, because a plan must not need the cluster.
func (r *registryMirrorResource) checkConflicts(ctx context.Context, plan,
	state registryMirrorModel, rules []mirrors.Rule, diags *diag.Diagnostics) {
	if r.clients == nil {
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

	tflog.Debug(ctx, "Listing mirror objects for conflicts")
	existing, err := listExistingMirrors(ctx, client)
	if err != nil {
		diags.AddWarning("Unable to Check Mirror Source Policy Conflicts",
			"Reading the ImageDigestMirrorSet, ImageTagMirrorSet and "+
				"ImageContentSourcePolicy objects on the cluster failed, so the plan cannot "+
				"check them for a conflicting mirror_source_policy.\n\n"+err.Error())
		return
	}

	// Only the objects in prior state are this resource's own. An object that merely has the
	// planned name may belong to someone else, so it is checked like any other.
	var managed []mirrors.ObjectRef
	if !state.Name.IsNull() {
		managed = mirrors.OwnObjects(state.Name.ValueString(), state.PullType.ValueString())
	}
	planned := mirrors.OwnObjects(plan.Name.ValueString(), plan.PullType.ValueString())
	unchanged := unchangedPolicies(ctx, plan, state, diags)
	for _, conflict := range mirrors.Conflicts(rules, managed, existing) {
		conflict.Own = planned
		detail := conflict.Detail()
		if slices.Contains(planned, conflict.Object) {
			detail += fmt.Sprintf(" %s is not managed by this resource but already has its "+
				"name; import it with terraform import, or choose another name.",
				conflict.Object)
		}
		at := path.Root("mirror").AtListIndex(conflict.Rule).AtName(mirrors.FieldPolicy)
		if unchanged[conflict.Source] == mirrors.EffectivePolicy(conflict.Policy) {
			// This resource wrote the policy before the other object appeared, so the apply
			// changes nothing about the conflict, and failing would also block the destroy
			// or edit that resolves it.
			diags.AddAttributeWarning(at, conflict.Summary(), detail)
			continue
		}
		diags.AddAttributeError(at, conflict.Summary(), detail)
	}
}

// unchangedPolicies maps each source whose rule the resource manages already, with the same
// objects, to its effective policy in the prior state. It is empty on create and when the
// name or pull_type changes.
func unchangedPolicies(ctx context.Context, plan, state registryMirrorModel,
	diags *diag.Diagnostics) map[string]string {
	policies := map[string]string{}
	if state.Mirror.IsNull() || !state.Name.Equal(plan.Name) ||
		!state.PullType.Equal(plan.PullType) {
		return policies
	}
	blocks, blockDiags := mirrorBlocks(ctx, state.Mirror)
	diags.Append(blockDiags...)
	for _, rule := range rulesFromBlocks(blocks) {
		policies[rule.Source] = mirrors.EffectivePolicy(rule.Policy)
	}
	return policies
}

// warnDrain warns when the machine-config operator is predicted to drain nodes.
func warnDrain(ctx context.Context, plan, state registryMirrorModel, rules []mirrors.Rule,
	diags *diag.Diagnostics) {
	pullType := plan.PullType.ValueString()
	var prior []mirrors.Rule
	if !state.Mirror.IsNull() {
		blocks, blockDiags := mirrorBlocks(ctx, state.Mirror)
		diags.Append(blockDiags...)
		prior = rulesFromBlocks(blocks)
	}

	if !state.PullType.IsNull() && state.PullType.ValueString() != pullType {
		diags.AddAttributeWarning(path.Root("pull_type"), "Change Drains Nodes",
			fmt.Sprintf("pull_type changes from %q to %q, which adds or removes a whole "+
				"mirror set, so the machine-config operator drains and reboots every node "+
				"of each pool in turn.", state.PullType.ValueString(), pullType))
		return
	}
	if drains, reason := mirrors.DrainsNodes(prior, rules, pullType); drains {
		diags.AddWarning("Change Drains Nodes", reason)
	}
}

func (r *registryMirrorResource) Create(
	ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse,
) {
	var plan registryMirrorModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	client := r.dynamicClient(&resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}

	r.writeObjects(ctx, client, plan, registryMirrorModel{Labels: types.MapNull(
		types.StringType)}, nil, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, plan)...)
}

// writeObjects checks that the cluster serves the planned kinds, then creates or updates
// each object. state is the prior state, for the labels it managed. managed lists the objects
// that the resource already manages: those it updates, and every other one it creates and
// fails on when one of that name exists.
func (r *registryMirrorResource) writeObjects(ctx context.Context, client dynamic.Interface,
	plan, state registryMirrorModel, managed []mirrors.ObjectRef, diags *diag.Diagnostics) {
	name, pullType := plan.Name.ValueString(), plan.PullType.ValueString()
	blocks, blockDiags := mirrorBlocks(ctx, plan.Mirror)
	diags.Append(blockDiags...)
	rendered, err := mirrors.Render(name, pullType, rulesFromBlocks(blocks), stringMap(plan.Labels))
	if err != nil {
		diags.AddError("Invalid Registry Mirror", err.Error())
	}
	if diags.HasError() || !r.checkKindsServed(name, pullType, diags) {
		return
	}
	objects, err := renderedObjects(rendered)
	if err != nil {
		diags.AddError("Unable to Encode Mirror Set", err.Error())
		return
	}

	// Objects created here are deleted again when a later write fails, because the failed
	// apply records no state that would let a later destroy find them.
	var created []mirrors.ObjectRef
	undo := func() {
		for _, ref := range created {
			deleteMirrorSet(ctx, client, ref, diags)
		}
	}
	for _, ref := range mirrors.OwnObjects(name, pullType) {
		labels := func(current map[string]string) map[string]string {
			return mergeLabels(current, state.Labels, plan.Labels)
		}
		tflog.Debug(ctx, "Writing mirror set", map[string]any{"kind": ref.Kind, "name": name})
		create := !slices.Contains(managed, ref)
		err := writeMirrorObject(ctx, client, objects[ref.Kind], create, labels)
		if errors.Is(err, errMirrorSetExists) {
			diags.AddError("Mirror Set Already Exists", fmt.Sprintf("%s %s already exists; "+
				"import it with terraform import, or choose another name. The provider does "+
				"not take over an object that it did not create, so the object is unchanged.",
				ref.Kind, name))
			undo()
			return
		}
		if err != nil {
			undo()
			addAPIError(diags, "Unable to Write Mirror Set",
				failureDetail(fmt.Sprintf("Creating or updating %s failed. Check the message "+
					"below and the provider's permissions for %s.", ref,
					mirrorCRDName(ref.Kind)), mirrorObject(ref), err), err)
			return
		}
		if create {
			created = append(created, ref)
		}
		tflog.Info(ctx, "Wrote mirror set", map[string]any{"kind": ref.Kind, "name": name})
	}
}

// checkKindsServed reports one error when the cluster lacks a CRD the pull type needs.
func (r *registryMirrorResource) checkKindsServed(name, pullType string,
	diags *diag.Diagnostics) bool {
	discoveryClient, err := r.clients.Discovery()
	if err != nil {
		addClientError(diags, err)
		return false
	}
	var kinds []string
	for _, ref := range mirrors.OwnObjects(name, pullType) {
		kinds = append(kinds, ref.Kind)
	}
	missing, err := missingMirrorKinds(discoveryClient, kinds)
	if err != nil {
		addAPIError(diags, "Unable to Discover Mirror Set Kinds",
			"Asking the API server which config.openshift.io/v1 kinds it serves failed.", err)
		return false
	}
	if len(missing) > 0 {
		diags.AddError("Mirror Set CRD Not Installed", missingCRDDetail(missing))
		return false
	}
	return true
}

func (r *registryMirrorResource) Read(
	ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse,
) {
	var state registryMirrorModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	client := r.dynamicClient(&resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}

	// After import the state has no rules and no pull type yet, so both kinds are read.
	imported := state.Mirror.IsNull()
	name := state.Name.ValueString()
	kinds := []string{mirrors.KindImageDigestMirrorSet, mirrors.KindImageTagMirrorSet}
	if !imported {
		kinds = stringElements(objectKindsValue(name, state.PullType.ValueString()))
	}

	tflog.Debug(ctx, "Reading mirror sets", map[string]any{"name": name, "kinds": kinds})
	digestSet, tagSet, err := readMirrorObjects(ctx, client, name, kinds)
	if err != nil {
		addAPIError(&resp.Diagnostics, "Unable to Read Mirror Set",
			failureDetail(fmt.Sprintf("Reading the mirror sets named %q failed. Check "+
				"that the provider's credentials may get %s.", name,
				strings.Join(kinds, " and ")), fmt.Sprintf("mirror sets %q", name), err), err)
		return
	}

	observed, err := mirrors.FromObjects(digestSet, tagSet)
	switch {
	case errors.Is(err, mirrors.ErrNotFound) && imported:
		resp.Diagnostics.AddError("Unable to Import Registry Mirror",
			fmt.Sprintf("No ImageDigestMirrorSet or ImageTagMirrorSet named %q exists. Check "+
				"the name and that the provider's cluster settings select the right cluster.",
				name))
		return
	case errors.Is(err, mirrors.ErrNotFound):
		tflog.Info(ctx, "Mirror sets not found, removing them from state",
			map[string]any{"name": name})
		resp.State.RemoveResource(ctx)
		return
	case err != nil:
		resp.Diagnostics.AddError("Unable to Read Mirror Set", err.Error())
		return
	}

	resp.Diagnostics.Append(flattenRegistryMirror(ctx, &state, observed, imported)...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, state)...)
}

// flattenRegistryMirror records what Read observed in state.
func flattenRegistryMirror(ctx context.Context, state *registryMirrorModel,
	observed mirrors.Observed, imported bool) diag.Diagnostics {
	priorBlocks, diags := mirrorBlocks(ctx, state.Mirror)
	rules := observedRules(observed)
	list, listDiags := mirrorBlockList(ctx, blocksFromRules(rules, priorBlocks))
	diags.Append(listDiags...)

	name := state.Name.ValueString()
	state.ID = types.StringValue(name)
	state.PullType = types.StringValue(observed.PullType)
	state.ObjectKinds = objectKindsValue(name, observed.PullType)
	state.Labels = ownedLabels(state.Labels, observed.Labels, imported)
	state.Mirror = list
	return diags
}

func (r *registryMirrorResource) Update(
	ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse,
) {
	var plan, state registryMirrorModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	client := r.dynamicClient(&resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}

	r.writeObjects(ctx, client, plan, state, mirrors.OwnObjects(state.Name.ValueString(),
		state.PullType.ValueString()), &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}

	// After a pull type change, the object of the kind that is no longer needed is deleted.
	needed := mirrors.OwnObjects(plan.Name.ValueString(), plan.PullType.ValueString())
	for _, ref := range mirrors.OwnObjects(state.Name.ValueString(),
		state.PullType.ValueString()) {
		if !slices.Contains(needed, ref) {
			deleteMirrorSet(ctx, client, ref, &resp.Diagnostics)
		}
	}
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, plan)...)
}

func (r *registryMirrorResource) Delete(
	ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse,
) {
	var state registryMirrorModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	client := r.dynamicClient(&resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}

	for _, ref := range mirrors.OwnObjects(state.Name.ValueString(),
		state.PullType.ValueString()) {
		deleteMirrorSet(ctx, client, ref, &resp.Diagnostics)
	}
}

func deleteMirrorSet(ctx context.Context, client dynamic.Interface, ref mirrors.ObjectRef,
	diags *diag.Diagnostics) {
	tflog.Debug(ctx, "Deleting mirror set", map[string]any{"kind": ref.Kind, "name": ref.Name})
	if err := deleteMirrorObject(ctx, client, ref); err != nil {
		addAPIError(diags, "Unable to Delete Mirror Set",
			failureDetail(fmt.Sprintf("Deleting %s failed. Check the provider's permissions "+
				"to delete %s.", ref, mirrorCRDName(ref.Kind)), mirrorObject(ref), err), err)
		return
	}
	tflog.Info(ctx, "Deleted mirror set", map[string]any{"kind": ref.Kind, "name": ref.Name})
}

// ImportState takes the objects' name. Read then finds which kinds exist, for pull_type,
// and reads the rules and all labels.
func (r *registryMirrorResource) ImportState(
	ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse,
) {
	if problems := validation.IsDNS1123Subdomain(req.ID); len(problems) > 0 {
		resp.Diagnostics.AddError("Invalid Import ID",
			fmt.Sprintf("Import imagedist_registry_mirror by the name of its mirror sets, a "+
				"DNS-1123 subdomain, but %q is not one: %s.", req.ID,
				strings.Join(problems, "; ")))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), req.ID)...)
}

// dynamicClient returns the dynamic client, or nil with an error diagnostic.
func (r *registryMirrorResource) dynamicClient(diags *diag.Diagnostics) dynamic.Interface {
	return dynamicClient(r.clients, diags)
}
