package provider

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/resourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/imagedist/terraform-provider-imagedist/internal/dockerconfig"
	"github.com/imagedist/terraform-provider-imagedist/internal/imageref"
	"github.com/imagedist/terraform-provider-imagedist/internal/kube"
	"github.com/imagedist/terraform-provider-imagedist/internal/kubeerrors"
)

var (
	_ resource.Resource                     = &clusterPullSecretResource{}
	_ resource.ResourceWithConfigure        = &clusterPullSecretResource{}
	_ resource.ResourceWithConfigValidators = &clusterPullSecretResource{}
	_ resource.ResourceWithModifyPlan       = &clusterPullSecretResource{}
	_ resource.ResourceWithImportState      = &clusterPullSecretResource{}
)

// globalPullSecretWrites serializes this process's writes to the global pull secret. All the
// imagedist_cluster_pull_secret resources of one apply edit the same Secret, so without it
// Terraform's parallel applies would mostly produce conflicts and retries.
var globalPullSecretWrites sync.Mutex

// conflictBackoff spaces the retries of a write that conflicts with another writer, such as
// another Terraform run or the cluster's own operators. A conflict costs a read and a write,
// so retrying for a few seconds is cheap.
var conflictBackoff = wait.Backoff{
	Steps:    12,
	Duration: 50 * time.Millisecond,
	Factor:   1.6,
	Jitter:   0.3,
	Cap:      2 * time.Second,
}

// clusterPullSecretResource is imagedist_cluster_pull_secret.
type clusterPullSecretResource struct {
	clients *kube.Clients
}

// NewClusterPullSecretResource returns the imagedist_cluster_pull_secret resource.
func NewClusterPullSecretResource() resource.Resource {
	return &clusterPullSecretResource{}
}

// clusterPullSecretModel is the configuration, plan and state of imagedist_cluster_pull_secret:
// one registry's credentials, with the attributes of a registry block of imagedist_pull_secret.
type clusterPullSecretModel struct {
	ID types.String `tfsdk:"id"`
	registryModel
}

func (r *clusterPullSecretResource) Metadata(
	_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse,
) {
	resp.TypeName = req.ProviderTypeName + "_cluster_pull_secret"
}

func (r *clusterPullSecretResource) Configure(
	_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse,
) {
	r.clients = clientsFromProviderData(req.ProviderData, &resp.Diagnostics)
}

func (r *clusterPullSecretResource) Schema(
	_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse,
) {
	attributes := maps.Clone(registryCredentialAttributes())
	server := attributes["server"].(schema.StringAttribute)
	server.MarkdownDescription += " Another registry replaces the resource: apply removes " +
		"the old entry and adds the new one. Another spelling of the same registry changes " +
		"only the state."
	server.PlanModifiers = []planmodifier.String{stringplanmodifier.RequiresReplaceIf(
		registryKeyChanged, "Another registry replaces the resource.",
		"Another registry replaces the resource.")}
	attributes["server"] = server
	attributes["id"] = schema.StringAttribute{
		Computed: true,
		MarkdownDescription: "The registry key, the same as `registry_key`. Import takes the " +
			"server in any spelling: `terraform import <address> registry.example.com`.",
	}

	resp.Schema = schema.Schema{
		MarkdownDescription: "Manages one registry's entry in OpenShift's global pull secret, " +
			"`" + globalPullSecretNamespace + "/" + globalPullSecretName + "`, which every " +
			"node pulls with.\n\n" +
			"The Secret holds the credentials of many registries, such as the ones the " +
			"cluster was installed with, in one `.dockerconfigjson` document. This resource " +
			"adds or updates only its own registry's entry and leaves every other entry, and " +
			"the layout of the document, exactly as it was. Destroy removes only its own " +
			"entry. A write that conflicts with another writer is read again and retried, so " +
			"the other writer's change is kept. Several of these resources can manage " +
			"different registries of the same Secret, and their applies never overwrite " +
			"each other.\n\n" +
			"The registry key is normalized as for `imagedist_pull_secret`, so an entry " +
			"written as `https://registry.example.com/` is this registry's entry too. Create " +
			"fails when the Secret already has an entry for the registry, to avoid taking " +
			"over credentials that others manage: import it instead. After import, the next " +
			"write stores the entry under the normalized key.\n\n" +
			"Drift shows only for this registry's entry: a changed user name, password or " +
			"email plans an update, and a removed entry plans a create. Changes to other " +
			"entries never show.\n\n" +
			"The machine-config operator copies the Secret to `/var/lib/kubelet/config.json` " +
			"on every node. Since OpenShift 4.7 that needs no drain and no reboot, so nodes " +
			"pull with the new credentials within minutes of the apply. This resource needs " +
			"OpenShift: other Kubernetes clusters have no global pull secret. On hosted " +
			"control planes, where the nodes do not read this Secret, use " +
			"`imagedist_pull_secret` instead.",
		Attributes: attributes,
	}
}

// registryKeyChanged requires replacement when the server names another registry, but not
// when it is another spelling of the same one.
func registryKeyChanged(_ context.Context, req planmodifier.StringRequest,
	resp *stringplanmodifier.RequiresReplaceIfFuncResponse) {
	if req.StateValue.IsNull() || req.PlanValue.IsUnknown() {
		return
	}
	resp.RequiresReplace = registryKeyOf(req.StateValue.ValueString()) !=
		registryKeyOf(req.PlanValue.ValueString())
}

func (r *clusterPullSecretResource) ConfigValidators(
	_ context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{
		resourcevalidator.ExactlyOneOf(path.MatchRoot("password"), path.MatchRoot("password_wo")),
	}
}

// ModifyPlan computes the registry key and the password hash as for a registry block of
// imagedist_pull_secret.
func (r *clusterPullSecretResource) ModifyPlan(
	ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse,
) {
	if !req.Plan.Raw.IsNull() {
		requireClusterSettings(r.clients, &resp.Diagnostics)
	}
	if req.Plan.Raw.IsNull() {
		return
	}
	var plan, config, state clusterPullSecretModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	var prior []registryModel
	if !req.State.Raw.IsNull() {
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
		prior = []registryModel{state.registryModel}
	}
	if resp.Diagnostics.HasError() {
		return
	}

	plan.registryModel = planRegistry(plan.registryModel, config.registryModel, prior)
	plan.ID = plan.RegistryKey
	resp.Diagnostics.Append(resp.Plan.Set(ctx, plan)...)
}

func (r *clusterPullSecretResource) Create(
	ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse,
) {
	r.write(ctx, req.Plan, req.Config, true, &resp.State, &resp.Diagnostics)
}

func (r *clusterPullSecretResource) Update(
	ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse,
) {
	r.write(ctx, req.Plan, req.Config, false, &resp.State, &resp.Diagnostics)
}

// planOrConfig is the part of tfsdk.Plan and tfsdk.Config that write reads.
type planOrConfig interface {
	Get(ctx context.Context, target any) diag.Diagnostics
}

// stateSetter is the part of tfsdk.State that write sets.
type stateSetter interface {
	Set(ctx context.Context, value any) diag.Diagnostics
}

// write adds or updates the entry and saves the plan as state. On create, an entry that
// already exists for the registry is an error.
func (r *clusterPullSecretResource) write(ctx context.Context, planned, configured planOrConfig,
	create bool, state stateSetter, diags *diag.Diagnostics) {
	var plan, config clusterPullSecretModel
	diags.Append(planned.Get(ctx, &plan)...)
	diags.Append(configured.Get(ctx, &config)...)
	client := kubernetesClient(r.clients, diags)
	if diags.HasError() {
		return
	}

	completed, err := completeRegistries([]registryModel{plan.registryModel},
		[]registryModel{config.registryModel})
	if err != nil {
		diags.AddError("Unable to Hash Write-Only Password", err.Error())
		return
	}
	plan.registryModel = completed[0]
	plan.ID = plan.RegistryKey
	entries := dockerConfigEntries(completed, []registryModel{config.registryModel})
	credentials := entryCredentials(entries)
	ctx = tflog.MaskLogStrings(ctx, credentials...)

	writeContext, attempts := kube.WithAttemptRecord(ctx)
	edit := func(document *dockerconfig.Config) (bool, error) {
		if create {
			if existing := lookupEntries(document, entries[0].Server); len(existing) > 0 {
				return writtenByRetriedAttempt(document, entries[0], attempts, existing)
			}
		}
		return mergeGlobalEntry(document, entries[0])
	}
	err = editGlobalPullSecret(writeContext, client, plan.RegistryKey.ValueString(), edit)
	if kube.Interrupted(ctx, err) && globalEntryWritten(ctx, client, entries[0]) {
		// The apply was interrupted after the update reached the API server, so state
		// records the entry that the server has.
		err = nil
	}
	var exists *entryExistsError
	switch {
	case err == nil:
	case errors.As(err, &exists):
		diags.AddAttributeError(path.Root("server"), "Registry Entry Already Exists",
			fmt.Sprintf("The global pull secret %s already has an entry for registry %q, "+
				"under the key %s. It may hold credentials that others manage, so this "+
				"resource does not take it over on create. Import it with `terraform import "+
				"<address> %s`, or remove the entry by hand first.", globalPullSecretID(),
				plan.RegistryKey.ValueString(), shownKeys(exists.keys),
				plan.RegistryKey.ValueString()))
		return
	default:
		addGlobalPullSecretError(diags, "Unable to Update Global Pull Secret", err,
			credentials...)
		return
	}
	diags.Append(state.Set(ctx, plan)...)
}

func (r *clusterPullSecretResource) Read(
	ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse,
) {
	var state clusterPullSecretModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	client := kubernetesClient(r.clients, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	// Import sets only the server, so a null user name marks the read after an import.
	importing := state.Username.IsNull()
	key := registryKeyOf(state.Server.ValueString())
	fields := map[string]any{"registry_key": key}

	tflog.Debug(ctx, "Reading global pull secret", fields)
	document, err := readGlobalPullSecret(ctx, client)
	switch {
	case errors.Is(err, errGlobalPullSecretMissing) && !importing:
		tflog.Info(ctx, "Global pull secret not found, removing the entry from state", fields)
		resp.State.RemoveResource(ctx)
		return
	case err != nil:
		summary := "Unable to Read Global Pull Secret"
		if importing {
			summary = "Unable to Import Registry Entry"
		}
		addGlobalPullSecretError(&resp.Diagnostics, summary, err)
		return
	}

	found, _ := document.Lookup(key)
	if len(found) == 0 {
		if importing {
			resp.Diagnostics.AddError("Unable to Import Registry Entry",
				fmt.Sprintf("The global pull secret %s has no entry for registry %q. It has "+
					"entries for %s. Import one of those, or let Terraform create the entry.",
					globalPullSecretID(), key, shownKeys(entryKeys(document.Entries()))))
			return
		}
		tflog.Info(ctx, "Registry entry not found in the global pull secret, removing it "+
			"from state", fields)
		resp.State.RemoveResource(ctx)
		return
	}

	entry := preferredEntry(found, key)
	if importing {
		imported := importedRegistry(entry)
		imported.Server = state.Server
		imported.RegistryKey = types.StringValue(key)
		state.registryModel = imported
	} else {
		refreshed, err := refreshRegistry(state.registryModel, entry)
		if err != nil {
			resp.Diagnostics.AddError("Unable to Hash Write-Only Password", err.Error())
			return
		}
		state.registryModel = refreshed
	}
	state.ID = types.StringValue(key)
	resp.Diagnostics.Append(resp.State.Set(ctx, state)...)
}

func (r *clusterPullSecretResource) Delete(
	ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse,
) {
	var state clusterPullSecretModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	client := kubernetesClient(r.clients, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}

	key := state.RegistryKey.ValueString()
	err := editGlobalPullSecret(ctx, client, key, func(document *dockerconfig.Config) (bool,
		error) {
		return removeGlobalEntries(document, key)
	})
	if err != nil && !errors.Is(err, errGlobalPullSecretMissing) {
		addGlobalPullSecretError(&resp.Diagnostics, "Unable to Remove Registry Entry", err)
	}
}

// ImportState takes the registry server in any spelling as the ID.
func (r *clusterPullSecretResource) ImportState(
	ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse,
) {
	key, err := imageref.RegistryKey(req.ID)
	if err != nil {
		resp.Diagnostics.AddError("Invalid Import ID",
			fmt.Sprintf("Import imagedist_cluster_pull_secret with the registry server as the "+
				"ID, such as \"registry.example.com\" or \"registry.example.com:5000\": %s.",
				err.Error()))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), key)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("server"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("registry_key"), key)...)
}

// errGlobalPullSecretMissing means that the cluster has no global pull secret.
var errGlobalPullSecretMissing = errors.New("the global pull secret " +
	globalPullSecretNamespace + "/" + globalPullSecretName + " does not exist. It exists on " +
	"every OpenShift cluster: check that the provider's cluster settings select an OpenShift " +
	"cluster. Other Kubernetes clusters have no global pull secret; use " +
	"imagedist_pull_secret there")

// entryExistsError is the edit's error when create finds an entry for its registry.
type entryExistsError struct {
	keys []string
}

func (e *entryExistsError) Error() string {
	return "an entry for the registry exists under the key " + shownKeys(e.keys)
}

// globalPullSecretError wraps a failed request for the global pull secret with what it did.
type globalPullSecretError struct {
	action string
	err    error
}

func (e *globalPullSecretError) Error() string { return e.action + ": " + e.err.Error() }
func (e *globalPullSecretError) Unwrap() error { return e.err }

func globalPullSecretID() string {
	return globalPullSecretNamespace + "/" + globalPullSecretName
}

// readGlobalPullSecret gets and decodes the global pull secret.
func readGlobalPullSecret(ctx context.Context, client kubernetes.Interface,
) (*dockerconfig.Config, error) {
	_, document, err := getGlobalPullSecret(ctx, client)
	return document, err
}

func getGlobalPullSecret(ctx context.Context, client kubernetes.Interface,
) (*corev1.Secret, *dockerconfig.Config, error) {
	secret, err := client.CoreV1().Secrets(globalPullSecretNamespace).Get(ctx,
		globalPullSecretName, metav1.GetOptions{})
	switch {
	case kubeerrors.IsObjectNotFound(err, secretsResource, globalPullSecretName):
		return nil, nil, errGlobalPullSecretMissing
	case err != nil:
		return nil, nil, &globalPullSecretError{action: "reading the Secret", err: err}
	}
	document, err := decodeGlobalPullSecret(secret)
	if err != nil {
		return nil, nil, err
	}
	return secret, document, nil
}

// decodeGlobalPullSecret decodes the Secret's .dockerconfigjson. A Secret without that key is
// an empty document. The error never quotes the Secret's content.
func decodeGlobalPullSecret(secret *corev1.Secret) (*dockerconfig.Config, error) {
	if secret.Type != corev1.SecretTypeDockerConfigJson {
		return nil, fmt.Errorf("the Secret has type %q, not %q, so it is not a pull secret "+
			"the nodes can use", secret.Type, corev1.SecretTypeDockerConfigJson)
	}
	data, ok := secret.Data[corev1.DockerConfigJsonKey]
	if !ok {
		data = []byte("{}")
	}
	document, err := dockerconfig.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("its %s does not parse: %w. Fix the Secret by hand, for example "+
			"with `oc edit secret/%s -n %s`", corev1.DockerConfigJsonKey, err,
			globalPullSecretName, globalPullSecretNamespace)
	}
	return document, nil
}

// editGlobalPullSecret reads the global pull secret, applies edit to its document and writes
// it back when edit reports a change. The read, edit and write are repeated when another
// writer changed the Secret in between. Writes from this process go one at a time.
func editGlobalPullSecret(ctx context.Context, client kubernetes.Interface, key string,
	edit func(*dockerconfig.Config) (bool, error)) error {
	globalPullSecretWrites.Lock()
	defer globalPullSecretWrites.Unlock()

	fields := map[string]any{"registry_key": key}
	attempt := 0
	return retry.RetryOnConflict(conflictBackoff, func() error {
		attempt++
		fields["attempt"] = attempt
		tflog.Debug(ctx, "Reading global pull secret for update", fields)
		secret, document, err := getGlobalPullSecret(ctx, client)
		if err != nil {
			return err
		}
		changed, err := edit(document)
		if err != nil || !changed {
			if err == nil {
				tflog.Debug(ctx, "Global pull secret already up to date", fields)
			}
			return err
		}

		updated := secret.DeepCopy()
		if updated.Data == nil {
			updated.Data = map[string][]byte{}
		}
		updated.Data[corev1.DockerConfigJsonKey] = document.Bytes()
		tflog.Debug(ctx, "Updating global pull secret", fields)
		_, err = client.CoreV1().Secrets(globalPullSecretNamespace).Update(ctx, updated,
			metav1.UpdateOptions{})
		switch {
		case err == nil:
			tflog.Info(ctx, "Updated global pull secret", fields)
			return nil
		case apierrors.IsConflict(err):
			tflog.Debug(ctx, "Global pull secret changed since it was read, retrying", fields)
			return err
		default:
			return &globalPullSecretError{action: "updating the Secret", err: err}
		}
	})
}

// addGlobalPullSecretError reports a failed read or write of the global pull secret. The
// message never quotes the Secret's content, and the given credentials are removed from it.
func addGlobalPullSecretError(diags *diag.Diagnostics, summary string, err error,
	credentials ...string) {
	detail := fmt.Sprintf("The provider could not use the global pull secret %s: ",
		globalPullSecretID())
	var requestErr *globalPullSecretError
	switch {
	case errors.Is(err, errGlobalPullSecretMissing):
		detail = "T" + strings.TrimPrefix(err.Error(), "t") + "."
	case errors.As(err, &requestErr):
		detail = failureDetail(detail+requestErr.action+" failed. Check the message below "+
			"and that the provider's credentials may get and update Secrets in namespace "+
			globalPullSecretNamespace+".", secretObject(globalPullSecretNamespace,
			globalPullSecretName), requestErr.err) + "\n\n" + requestErr.err.Error()
	case apierrors.IsConflict(err):
		detail += "other writers kept changing it while the provider retried. Run the " +
			"apply again.\n\n" + err.Error()
	default:
		detail += err.Error() + "."
	}
	diags.AddError(summary, redactSecretData(detail, credentials...))
}

// lookupEntries returns the keys of the document's entries for the same registry as server.
func lookupEntries(document *dockerconfig.Config, server string) []string {
	found, _ := document.Lookup(server)
	return entryKeys(found)
}

func entryKeys(entries []dockerconfig.AuthEntry) []string {
	keys := make([]string, len(entries))
	for i, entry := range entries {
		keys[i] = entry.Key
	}
	return keys
}

// preferredEntry returns the entry written under the normalized key, if there is one, and the
// first entry otherwise.
func preferredEntry(entries []dockerconfig.AuthEntry, key string) dockerconfig.AuthEntry {
	if index := slices.IndexFunc(entries, func(entry dockerconfig.AuthEntry) bool {
		return entry.Key == key
	}); index >= 0 {
		return entries[index]
	}
	return entries[0]
}

// writtenByRetriedAttempt accepts, on create, an entry that exists already when an earlier
// attempt of this create's update may have reached the API server and the entry is exactly
// the one that attempt sent. Otherwise it returns an entryExistsError for the existing keys.
func writtenByRetriedAttempt(document *dockerconfig.Config, entry dockerconfig.Entry,
	attempts *kube.AttemptRecord, existing []string) (bool, error) {
	if !attempts.EarlierAttemptMayHaveReachedServer() {
		return false, &entryExistsError{keys: existing}
	}
	changed, err := mergeGlobalEntry(document, entry)
	if err != nil || changed {
		return false, &entryExistsError{keys: existing}
	}
	return false, nil
}

// globalEntryWritten reports whether the global pull secret has entry exactly, under its
// normalized key only, after an interrupted update. It reads with kube.WriteLanded, which
// outlives ctx's cancellation.
func globalEntryWritten(ctx context.Context, client kubernetes.Interface,
	entry dockerconfig.Entry) bool {
	return kube.WriteLanded(ctx, func(ctx context.Context) (bool, bool) {
		document, err := readGlobalPullSecret(ctx, client)
		if err != nil {
			return false, true
		}
		changed, err := mergeGlobalEntry(document, entry)
		return err == nil && !changed, err != nil
	})
}

// mergeGlobalEntry writes entry under its normalized key and removes the entries for the same
// registry under other spellings. It reports no change when the entry under the normalized
// key already has the same user name, password and email and no other spelling exists.
func mergeGlobalEntry(document *dockerconfig.Config, entry dockerconfig.Entry) (bool, error) {
	key, err := imageref.RegistryKey(entry.Server)
	if err != nil {
		return false, err
	}
	found, _ := document.Lookup(key)
	changed := false
	for _, other := range found {
		if other.Key == key {
			continue
		}
		if _, err := document.RemoveKey(other.Key); err != nil {
			return false, err
		}
		changed = true
	}

	current, ok := document.Entry(key)
	if !changed && ok && current.Username == entry.Username &&
		current.Password == entry.Password && current.Email == entry.Email {
		return false, nil
	}
	return true, document.Merge(entry)
}

// removeGlobalEntries removes every entry for the registry with the given key, in any
// spelling, and reports whether there was one.
func removeGlobalEntries(document *dockerconfig.Config, key string) (bool, error) {
	found, _ := document.Lookup(key)
	for _, entry := range found {
		if _, err := document.RemoveKey(entry.Key); err != nil {
			return false, err
		}
	}
	return len(found) > 0, nil
}

// maxShownKeys caps how many registry keys a message lists, for a pull secret with thousands
// of entries.
const maxShownKeys = 20

// shownKeys returns the registry keys of a pull secret for a message: quoted, with any user
// info replaced by "REDACTED", at most maxShownKeys of them and then how many more there are.
func shownKeys(keys []string) string {
	listed := make([]string, 0, min(len(keys), maxShownKeys))
	for _, key := range keys[:min(len(keys), maxShownKeys)] {
		if at := strings.LastIndexByte(key, '@'); at >= 0 {
			key = "REDACTED" + key[at:]
		}
		listed = append(listed, key)
	}
	text := quotedList(listed)
	if len(keys) > maxShownKeys {
		text += fmt.Sprintf(" and %d more", len(keys)-maxShownKeys)
	}
	return text
}

// quotedList returns the values quoted and separated by commas, or "none".
func quotedList(values []string) string {
	if len(values) == 0 {
		return "none"
	}
	quoted := make([]string, len(values))
	for i, value := range values {
		quoted[i] = fmt.Sprintf("%q", value)
	}
	return strings.Join(quoted, ", ")
}
