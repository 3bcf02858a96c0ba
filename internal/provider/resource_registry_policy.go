package provider

import (
	"context"
	"fmt"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/imagedist/terraform-provider-imagedist/internal/kube"
	"github.com/imagedist/terraform-provider-imagedist/internal/kubeerrors"
	"github.com/imagedist/terraform-provider-imagedist/internal/registrypolicy"
)

var (
	_ resource.Resource                   = &registryPolicyResource{}
	_ resource.ResourceWithConfigure      = &registryPolicyResource{}
	_ resource.ResourceWithValidateConfig = &registryPolicyResource{}
	_ resource.ResourceWithModifyPlan     = &registryPolicyResource{}
	_ resource.ResourceWithImportState    = &registryPolicyResource{}
)

// registryPolicyResource is imagedist_registry_policy.
type registryPolicyResource struct {
	clients *kube.Clients
}

// NewRegistryPolicyResource returns the imagedist_registry_policy resource.
func NewRegistryPolicyResource() resource.Resource {
	return &registryPolicyResource{}
}

// imageObject names the Image object in messages.
var imageObject = fmt.Sprintf("Image %q (config.openshift.io/v1)", registrypolicy.ObjectName)

func (r *registryPolicyResource) Metadata(
	_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse,
) {
	resp.TypeName = req.ProviderTypeName + "_registry_policy"
}

func (r *registryPolicyResource) Configure(
	_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse,
) {
	r.clients = clientsFromProviderData(req.ProviderData, &resp.Diagnostics)
}

// ModifyPlan sets id, validates the fields once they are known, and warns when the allowed
// or blocked registries change so that they would block the cluster's release images.
func (r *registryPolicyResource) ModifyPlan(
	ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse,
) {
	if req.Plan.Raw.IsNull() {
		return
	}
	requireClusterSettings(r.clients, &resp.Diagnostics)
	var plan, state registryPolicyModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if !req.State.Raw.IsNull() {
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	}
	if resp.Diagnostics.HasError() {
		return
	}

	plan.ID = types.StringValue(registrypolicy.ObjectName)
	resp.Diagnostics.Append(resp.Plan.Set(ctx, plan)...)
	if containsUnknownDeep(plan.AllowedRegistries) || containsUnknownDeep(plan.BlockedRegistries) {
		return
	}

	policy, diags := policyFromModel(ctx, plan)
	resp.Diagnostics.Append(diags...)
	addRegistryPolicyProblems(&resp.Diagnostics,
		registrypolicy.Validate(policy, registryPolicyAttributes))
	if resp.Diagnostics.HasError() {
		return
	}

	unchanged := plan.AllowedRegistries.Equal(state.AllowedRegistries) &&
		plan.BlockedRegistries.Equal(state.BlockedRegistries)
	if unchanged || (policy.Allowed == nil && policy.Blocked == nil) {
		return
	}
	repositories, source := r.releaseRepositories(ctx)
	warnReleaseBlocked(ctx, policy, repositories, source, &resp.Diagnostics)
}

// releaseRepositories returns the repositories that the cluster's release images come from,
// and where they were found. It reads the ClusterVersion "version" when the cluster settings
// are known. Without settings, object, kind or release image, and when the read fails, it
// returns registrypolicy.DefaultReleaseRepositories, because a check that only warns must not
// fail the plan.
func (r *registryPolicyResource) releaseRepositories(ctx context.Context) ([]string, string) {
	fallback := func(reason string) string {
		return "OpenShift's release repositories on quay.io, because " + reason
	}
	clusterVersion := fmt.Sprintf("ClusterVersion %q", registrypolicy.ClusterVersionName)
	if r.clients == nil {
		return registrypolicy.DefaultReleaseRepositories,
			fallback("the cluster settings are not known")
	}
	client, err := r.clients.Dynamic()
	if err != nil {
		return registrypolicy.DefaultReleaseRepositories,
			fallback("the cluster settings are not known")
	}

	tflog.Debug(ctx, "Reading the cluster's release image",
		map[string]any{"clusterversion": registrypolicy.ClusterVersionName})
	object, err := client.Resource(registrypolicy.ClusterVersionResource).Get(ctx,
		registrypolicy.ClusterVersionName, metav1.GetOptions{})
	if err != nil {
		tflog.Debug(ctx, "No release image from ClusterVersion, using the defaults",
			map[string]any{"error": err.Error()})
		return registrypolicy.DefaultReleaseRepositories,
			fallback("reading " + clusterVersion + " failed")
	}
	repository, err := registrypolicy.ReleaseRepository(object)
	if err != nil {
		tflog.Debug(ctx, "Invalid release image in ClusterVersion, using the defaults",
			map[string]any{"error": err.Error()})
		return registrypolicy.DefaultReleaseRepositories,
			fallback("the release image of " + clusterVersion + " is invalid")
	}
	if repository == "" {
		return registrypolicy.DefaultReleaseRepositories,
			fallback(clusterVersion + " reports no release image")
	}
	return registrypolicy.WithComponents(repository), "the release image of " + clusterVersion
}

// warnReleaseBlocked warns, on the list to blame, for each release repository it blocks.
// NOTE: mirror sets are not considered, so on a cluster that pulls its release through a
// mirror, the warning also appears when the mirror is allowed and quay.io is not.
func warnReleaseBlocked(ctx context.Context, policy registrypolicy.Policy,
	repositories []string, source string, diags *diag.Diagnostics) {
	for _, block := range registrypolicy.BlockedRepositories(policy, repositories) {
		attribute := registryPolicyAttributes[block.Field]
		reason := fmt.Sprintf("no entry of %s covers it", attribute)
		fix := "Add the repository, or its registry, to allowed_registries."
		if block.Field == registrypolicy.FieldBlocked {
			reason = fmt.Sprintf("%s lists %q", attribute, block.Entry)
			fix = "Remove the entry from blocked_registries. Unless the repository has " +
				"digest mirrors, the machine-config operator leaves it out of the blocked " +
				"registries it writes to the nodes and reports an error."
		}
		tflog.Warn(ctx, "Registry policy blocks a release repository",
			map[string]any{"repository": block.Repository, "attribute": attribute})
		diags.AddAttributeWarning(path.Root(attribute), "Policy Blocks Release Images",
			fmt.Sprintf("Nodes could no longer pull from %s (from %s), because %s. The "+
				"cluster's own operators and cluster updates then fail to pull their images. "+
				"%s", block.Repository, source, reason, fix))
	}
}

func (r *registryPolicyResource) Create(
	ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse,
) {
	var plan registryPolicyModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	client := dynamicClient(r.clients, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}

	// Server-side apply would create a missing object, but OpenShift creates this one itself,
	// so its absence means the cluster is not OpenShift and nothing is written.
	if _, ok := getImageConfig(ctx, client, &resp.Diagnostics); !ok {
		return
	}
	r.apply(ctx, client, plan, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	plan.ID = types.StringValue(registrypolicy.ObjectName)
	resp.Diagnostics.Append(resp.State.Set(ctx, plan)...)
}

// apply writes the planned fields with server-side apply. Force takes ownership of fields
// that another manager changed: the plan showed that drift, and without force every apply
// after an `oc edit` of a managed field would fail with a conflict.
func (r *registryPolicyResource) apply(ctx context.Context, client dynamic.Interface,
	plan registryPolicyModel, diags *diag.Diagnostics) {
	policy, policyDiags := policyFromModel(ctx, plan)
	diags.Append(policyDiags...)
	if diags.HasError() {
		return
	}
	object, err := registrypolicy.ApplyObject(policy)
	if err != nil {
		diags.AddError("Unable to Encode Registry Policy", err.Error())
		return
	}

	tflog.Debug(ctx, "Applying registry policy", map[string]any{
		"field_manager": registrypolicy.FieldManager, "fields": setFieldNames(policy)})
	err = applyImageConfig(ctx, client, object, true)
	if err != nil {
		addAPIError(diags, "Unable to Apply Registry Policy",
			failureDetail(fmt.Sprintf("Applying the registry fields of %s failed. Check the "+
				"message below and the provider's permission to patch "+
				"images.config.openshift.io.", imageObject), imageObject, err), err)
		return
	}
	tflog.Info(ctx, "Applied registry policy", map[string]any{"fields": setFieldNames(policy)})
}

// setFieldNames lists the attributes that a policy sets, for logs.
func setFieldNames(policy registrypolicy.Policy) []string {
	var names []string
	for _, field := range registrypolicy.Fields {
		if policy.IsSet(field) {
			names = append(names, registryPolicyAttributes[field])
		}
	}
	return names
}

func applyImageConfig(ctx context.Context, client dynamic.Interface,
	object *unstructured.Unstructured, force bool) error {
	_, err := client.Resource(registrypolicy.ImageResource).Apply(ctx,
		registrypolicy.ObjectName, object, metav1.ApplyOptions{
			FieldManager: registrypolicy.FieldManager, Force: force,
		})
	return err
}

// getImageConfig reads the Image "cluster", or reports why it cannot and returns false.
func getImageConfig(ctx context.Context, client dynamic.Interface,
	diags *diag.Diagnostics) (*unstructured.Unstructured, bool) {
	tflog.Debug(ctx, "Reading the image configuration",
		map[string]any{"name": registrypolicy.ObjectName})
	object, err := client.Resource(registrypolicy.ImageResource).Get(ctx,
		registrypolicy.ObjectName, metav1.GetOptions{})
	if err != nil {
		addAPIError(diags, "Unable to Read Image Configuration", imageReadDetail(err), err)
		return nil, false
	}
	return object, true
}

// imageReadDetail explains a failed read of the Image "cluster".
func imageReadDetail(err error) string {
	switch {
	case kubeerrors.IsObjectNotFound(err, registrypolicy.ImageResource.GroupResource(),
		registrypolicy.ObjectName):
		return fmt.Sprintf("%s does not exist. OpenShift creates it at installation, so "+
			"this cluster is not OpenShift or is still being installed.", imageObject)
	case kubeerrors.IsPathNotFound(err):
		return fmt.Sprintf("The API server returned 404 Not Found for %s without naming "+
			"the object, so it does not serve images.config.openshift.io: the cluster is "+
			"plain Kubernetes rather than OpenShift, or `host` in the provider configuration "+
			"has a path prefix that the API server does not serve.", imageObject)
	}
	return fmt.Sprintf("Reading %s failed. Check the message below and the provider's "+
		"permission to get images.config.openshift.io.", imageObject)
}

// Read reports the fields that this resource manages: those that its field manager owns,
// and those in the prior state, so that a value another writer changed or removed shows as
// drift. Other fields of the object are not read into state.
func (r *registryPolicyResource) Read(
	ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse,
) {
	var state registryPolicyModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	client := dynamicClient(r.clients, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}

	tflog.Debug(ctx, "Reading the image configuration",
		map[string]any{"name": registrypolicy.ObjectName})
	object, err := client.Resource(registrypolicy.ImageResource).Get(ctx,
		registrypolicy.ObjectName, metav1.GetOptions{})
	if kubeerrors.IsObjectNotFound(err, registrypolicy.ImageResource.GroupResource(),
		registrypolicy.ObjectName) {
		tflog.Info(ctx, "Image configuration not found, removing it from state")
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		addAPIError(&resp.Diagnostics, "Unable to Read Image Configuration",
			imageReadDetail(err), err)
		return
	}

	managed, err := managedPolicy(object, state)
	if err != nil {
		resp.Diagnostics.AddError("Unable to Read Image Configuration",
			fmt.Sprintf("The registry fields of %s could not be decoded.\n\n%s", imageObject,
				err))
		return
	}
	resp.Diagnostics.Append(state.setPolicy(managed)...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, state)...)
}

// managedPolicy returns the live values of the fields that the field manager owns or that the
// prior state sets. Of containerRuntimeSearchRegistries it returns only the elements that the
// field manager owns.
func managedPolicy(object *unstructured.Unstructured,
	state registryPolicyModel) (registrypolicy.Policy, error) {
	owned, err := registrypolicy.OwnedFields(object, registrypolicy.FieldManager)
	if err != nil {
		return registrypolicy.Policy{}, err
	}
	live, err := registrypolicy.FromObject(object)
	if err != nil {
		return registrypolicy.Policy{}, err
	}
	managed := live.Only(func(field registrypolicy.Field) bool {
		return owned[field] || !state.list(field).IsNull()
	})
	if managed.Search == nil {
		return managed, nil
	}

	// containerRuntimeSearchRegistries is a set list, so the elements that other writers
	// add stay beside this resource's own, and an apply cannot remove them. Reporting them
	// would show drift that no apply resolves.
	values, err := registrypolicy.OwnedSetValues(object, registrypolicy.FieldManager,
		registrypolicy.FieldSearch)
	if err != nil {
		return registrypolicy.Policy{}, err
	}
	managed.Search = slices.DeleteFunc(slices.Clone(managed.Search), func(value string) bool {
		return !values[value]
	})
	return managed, nil
}

func (r *registryPolicyResource) Update(
	ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse,
) {
	var plan registryPolicyModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	client := dynamicClient(r.clients, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}

	r.apply(ctx, client, plan, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	plan.ID = types.StringValue(registrypolicy.ObjectName)
	resp.Diagnostics.Append(resp.State.Set(ctx, plan)...)
}

// Delete applies an empty intent with the resource's field manager, which releases its
// fields. The object itself is never deleted.
func (r *registryPolicyResource) Delete(
	ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse,
) {
	client := dynamicClient(r.clients, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	object, err := registrypolicy.ApplyObject(registrypolicy.Policy{})
	if err != nil {
		resp.Diagnostics.AddError("Unable to Encode Registry Policy", err.Error())
		return
	}

	// An apply to a missing Image would try to create it, which the CRD rejects for the
	// missing spec, so a deleted Image has nothing to release.
	tflog.Debug(ctx, "Reading the image configuration",
		map[string]any{"name": registrypolicy.ObjectName})
	_, err = client.Resource(registrypolicy.ImageResource).Get(ctx, registrypolicy.ObjectName,
		metav1.GetOptions{})
	if kubeerrors.IsObjectNotFound(err, registrypolicy.ImageResource.GroupResource(),
		registrypolicy.ObjectName) {
		tflog.Info(ctx, "Image configuration not found, nothing to release")
		return
	}
	if err != nil {
		addAPIError(&resp.Diagnostics, "Unable to Read Image Configuration",
			imageReadDetail(err), err)
		return
	}

	tflog.Debug(ctx, "Releasing the registry policy fields",
		map[string]any{"field_manager": registrypolicy.FieldManager})
	err = applyImageConfig(ctx, client, object, false)
	if kubeerrors.IsObjectNotFound(err, registrypolicy.ImageResource.GroupResource(),
		registrypolicy.ObjectName) {
		return
	}
	if err != nil {
		addAPIError(&resp.Diagnostics, "Unable to Release Registry Policy",
			failureDetail(fmt.Sprintf("Applying an empty intent to %s, to release the "+
				"fields of field manager %q, failed. Check the message below and the "+
				"provider's permission to patch images.config.openshift.io.", imageObject,
				registrypolicy.FieldManager), imageObject, err), err)
		return
	}
	tflog.Info(ctx, "Released the registry policy fields")
}

// ImportState accepts only the ID "cluster". Read then takes the fields that the resource's
// field manager owns, so values that other tools wrote are not imported.
func (r *registryPolicyResource) ImportState(
	ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse,
) {
	if req.ID != registrypolicy.ObjectName {
		resp.Diagnostics.AddError("Invalid Import ID",
			fmt.Sprintf("Import imagedist_registry_policy with the ID %q, the name of the "+
				"only Image object that OpenShift reads, but the ID is %q.",
				registrypolicy.ObjectName, req.ID))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
}
