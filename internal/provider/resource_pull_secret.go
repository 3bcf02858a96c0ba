package provider

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/util/retry"

	"github.com/imagedist/terraform-provider-imagedist/internal/dockerconfig"
	"github.com/imagedist/terraform-provider-imagedist/internal/kube"
	"github.com/imagedist/terraform-provider-imagedist/internal/kubeerrors"
)

var (
	_ resource.Resource                     = &pullSecretResource{}
	_ resource.ResourceWithConfigure        = &pullSecretResource{}
	_ resource.ResourceWithConfigValidators = &pullSecretResource{}
	_ resource.ResourceWithModifyPlan       = &pullSecretResource{}
	_ resource.ResourceWithImportState      = &pullSecretResource{}
)

const (
	// pullSecretDefaultDeleteTimeout bounds the wait for the Secret to disappear after the
	// delete request. Secrets normally go at once, and only a finalizer that another
	// controller added delays them.
	pullSecretDefaultDeleteTimeout = 2 * time.Minute
	pullSecretDeletePollInterval   = 500 * time.Millisecond
)

// pullSecretResource is imagedist_pull_secret.
type pullSecretResource struct {
	clients *kube.Clients
}

// NewPullSecretResource returns the imagedist_pull_secret resource.
func NewPullSecretResource() resource.Resource {
	return &pullSecretResource{}
}

func (r *pullSecretResource) Metadata(
	_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse,
) {
	resp.TypeName = req.ProviderTypeName + "_pull_secret"
}

func (r *pullSecretResource) Configure(
	_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse,
) {
	r.clients = clientsFromProviderData(req.ProviderData, &resp.Diagnostics)
}

// ModifyPlan computes the registry keys and password hashes. It replaces a Secret whose
// type is not dockerconfigjson, because the API server does not allow changing it, and a
// Secret that Read found missing, being deleted or immutable (secretTypeReplace).
func (r *pullSecretResource) ModifyPlan(
	ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse,
) {
	if !req.Plan.Raw.IsNull() {
		requireClusterSettings(r.clients, &resp.Diagnostics)
	}
	if req.Plan.Raw.IsNull() {
		return
	}
	var plan, config, state pullSecretModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if !req.State.Raw.IsNull() {
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	}
	if resp.Diagnostics.HasError() {
		return
	}

	if !plan.Namespace.IsUnknown() && !plan.Name.IsUnknown() {
		plan.ID = types.StringValue(pullSecretID(plan.Namespace.ValueString(),
			plan.Name.ValueString()))
	}
	plan.Type = types.StringValue(secretTypeDockerConfigJSON)
	if !req.State.Raw.IsNull() && state.Type.ValueString() != secretTypeDockerConfigJSON {
		resp.RequiresReplace = append(resp.RequiresReplace, path.Root("type"))
	}

	resp.Diagnostics.Append(planRegistryList(ctx, &plan, config, state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, plan)...)
}

// planRegistryList applies planRegistries to the plan's registry list, unless the list is
// not known yet.
func planRegistryList(ctx context.Context, plan *pullSecretModel, config, state pullSecretModel,
) diag.Diagnostics {
	if plan.Registries.IsUnknown() || containsUnknown(plan.Registries.Elements()) ||
		config.Registries.IsUnknown() || containsUnknown(config.Registries.Elements()) {
		return nil
	}

	var diags diag.Diagnostics
	planned, blockDiags := registryBlocks(ctx, plan.Registries)
	diags.Append(blockDiags...)
	configured, blockDiags := registryBlocks(ctx, config.Registries)
	diags.Append(blockDiags...)
	prior, blockDiags := registryBlocks(ctx, state.Registries)
	diags.Append(blockDiags...)
	if diags.HasError() || len(planned) != len(configured) {
		return diags
	}

	list, listDiags := registryList(ctx, planRegistries(planned, configured, prior))
	diags.Append(listDiags...)
	plan.Registries = list
	return diags
}

func (r *pullSecretResource) Create(
	ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse,
) {
	var plan, config pullSecretModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}

	write, diags := prepareSecretWrite(ctx, &plan, config)
	resp.Diagnostics.Append(diags...)
	client := r.kubernetes(&resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx = tflog.MaskLogStrings(ctx, write.credentials...)

	linker := newServiceAccountLinker(client, plan.Namespace.ValueString(),
		plan.Name.ValueString())
	accounts := fetchServiceAccounts(ctx, linker, stringElements(plan.LinkServiceAccounts),
		&resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}

	if !createSecret(ctx, client, newPullSecret(plan, write.document), write, &resp.Diagnostics) {
		return
	}

	linked := linkServiceAccounts(ctx, linker, accounts, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		// The Secret exists, so state records it with the accounts that were linked.
		plan.LinkServiceAccounts = types.SetValueMust(types.StringType, accountNameValues(linked))
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, plan)...)
}

func (r *pullSecretResource) Read(
	ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse,
) {
	var state pullSecretModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	client := r.kubernetes(&resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}

	readPullSecret(ctx, client, state, resp)
}

// readPullSecret refreshes state from the cluster. A Secret that is being deleted counts as
// missing, and an immutable one is marked for replacement, because an update can change
// neither.
func readPullSecret(ctx context.Context, client kubernetes.Interface, state pullSecretModel,
	resp *resource.ReadResponse) {
	namespace, name := state.Namespace.ValueString(), state.Name.ValueString()

	tflog.Debug(ctx, "Reading pull secret", map[string]any{"namespace": namespace, "name": name})
	secret, err := client.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
	switch {
	case kubeerrors.IsObjectNotFound(err, secretsResource, name):
		readMissingSecret(ctx, client, state, nil, resp)
		return
	case err != nil:
		addAPIError(&resp.Diagnostics, "Unable to Read Pull Secret",
			failureDetail(fmt.Sprintf("Reading Secret %q in namespace %q failed. Check that "+
				"the provider's credentials may get Secrets in this namespace.", name,
				namespace), secretObject(namespace, name), err), err)
		return
	case secret.DeletionTimestamp != nil:
		readMissingSecret(ctx, client, state, secret, resp)
		return
	}

	resp.Diagnostics.Append(flattenPullSecret(ctx, &state, secret)...)
	if resp.Diagnostics.HasError() {
		return
	}
	readLinkedAccounts(ctx, client, &state, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	if secret.Immutable != nil && *secret.Immutable {
		markImmutableSecret(ctx, &state, &resp.Diagnostics)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, state)...)
}

// readMissingSecret handles a Secret that is gone, or that is being deleted (terminating is
// then the Secret as read). After import that is an error. While a configured service
// account still lists the secret, the resource stays in state with secretTypeReplace, so the
// plan replaces it and destroy can still unlink the account. Otherwise the resource leaves
// state and the plan creates it.
func readMissingSecret(ctx context.Context, client kubernetes.Interface, state pullSecretModel,
	terminating *corev1.Secret, resp *resource.ReadResponse) {
	namespace, name := state.Namespace.ValueString(), state.Name.ValueString()
	fields := map[string]any{"namespace": namespace, "name": name}
	if state.Registries.IsNull() {
		resp.Diagnostics.AddError("Unable to Import Pull Secret",
			importMissingDetail(namespace, name, terminating))
		return
	}

	readLinkedAccounts(ctx, client, &state, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	linked := stringElements(state.LinkServiceAccounts)
	if len(linked) == 0 {
		if terminating == nil {
			tflog.Info(ctx, "Pull secret not found, removing it from state", fields)
		} else {
			fields["finalizers"] = terminating.Finalizers
			tflog.Info(ctx, "Pull secret is being deleted, removing it from state", fields)
			resp.Diagnostics.AddWarning("Pull Secret Being Deleted",
				fmt.Sprintf("Secret %q in namespace %q is being deleted, so the plan creates "+
					"it again. %s Creating it fails until the deletion has finished.", name,
					namespace, finalizersSentence(terminating)))
		}
		resp.State.RemoveResource(ctx)
		return
	}

	fields["service_accounts"] = linked
	accounts := strings.Join(linked, ", ")
	if terminating == nil {
		tflog.Warn(ctx, "Pull secret not found but still linked, keeping it for replacement",
			fields)
		resp.Diagnostics.AddWarning("Pull Secret Deleted Outside Terraform",
			fmt.Sprintf("Secret %q in namespace %q no longer exists, but the "+
				"imagePullSecrets of service accounts %s still list it. The plan replaces "+
				"the resource: apply creates the Secret again, and destroy removes it from "+
				"those service accounts.", name, namespace, accounts))
	} else {
		fields["finalizers"] = terminating.Finalizers
		tflog.Warn(ctx, "Pull secret is being deleted but still linked, keeping it for "+
			"replacement", fields)
		resp.Diagnostics.AddWarning("Pull Secret Being Deleted",
			fmt.Sprintf("Secret %q in namespace %q is being deleted, but the "+
				"imagePullSecrets of service accounts %s still list it. %s The plan "+
				"replaces the resource: apply waits until the deletion has finished (at "+
				"most timeouts.delete) and creates the Secret again, and destroy removes it "+
				"from those service accounts.", name, namespace, accounts,
				finalizersSentence(terminating)))
	}
	state.Type = types.StringValue(secretTypeReplace)
	resp.Diagnostics.Append(resp.State.Set(ctx, state)...)
}

// importMissingDetail explains why a Secret cannot be imported: it does not exist, or, when
// terminating is set, it is being deleted.
func importMissingDetail(namespace, name string, terminating *corev1.Secret) string {
	if terminating != nil {
		return fmt.Sprintf("Secret %s is being deleted. %s Import a Secret that is not being "+
			"deleted, or wait until it is gone and let Terraform create it.",
			pullSecretID(namespace, name), finalizersSentence(terminating))
	}
	return fmt.Sprintf("Secret %s not found. Check the namespace and name in the import ID "+
		"(\"namespace/name\"), and that the provider's cluster settings (config_path, "+
		"config_context or host) select the cluster that contains the Secret.",
		pullSecretID(namespace, name))
}

// markImmutableSecret records secretTypeReplace for a Secret made immutable outside
// Terraform, so the plan replaces it. The API server rejects every change to the data of an
// immutable Secret, and the provider never sets the field, so an update could fail.
func markImmutableSecret(ctx context.Context, state *pullSecretModel, diags *diag.Diagnostics) {
	namespace, name := state.Namespace.ValueString(), state.Name.ValueString()
	tflog.Warn(ctx, "Pull secret is immutable, keeping it for replacement",
		map[string]any{"namespace": namespace, "name": name})
	diags.AddWarning("Pull Secret Is Immutable",
		fmt.Sprintf("Secret %q in namespace %q has immutable set to true, which the "+
			"provider never sets, and the API server rejects every change to the data of "+
			"an immutable Secret. The plan replaces the resource: apply deletes the Secret, "+
			"creates it again without immutable and links the service accounts again.",
			name, namespace))
	state.Type = types.StringValue(secretTypeReplace)
}

// finalizersSentence names the finalizers that keep a Secret that is being deleted, and
// how they are removed.
func finalizersSentence(secret *corev1.Secret) string {
	if len(secret.Finalizers) == 0 {
		return "It lists no finalizers, so the API server should remove it shortly."
	}
	quoted := make([]string, len(secret.Finalizers))
	for i, finalizer := range secret.Finalizers {
		quoted[i] = fmt.Sprintf("%q", finalizer)
	}
	return fmt.Sprintf("Its metadata.finalizers (%s) hold it until the controllers that "+
		"added them remove them. If such a controller no longer runs, remove the finalizers "+
		"by hand, for example with `kubectl patch secret %s -n %s --type=json "+
		"-p '[{\"op\":\"remove\",\"path\":\"/metadata/finalizers\"}]'`, which "+
		"removes all of them.", strings.Join(quoted, ", "), secret.Name, secret.Namespace)
}

func (r *pullSecretResource) Update(
	ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse,
) {
	var plan, state, config pullSecretModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}

	write, diags := prepareSecretWrite(ctx, &plan, config)
	resp.Diagnostics.Append(diags...)
	client := r.kubernetes(&resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx = tflog.MaskLogStrings(ctx, write.credentials...)

	linker := newServiceAccountLinker(client, plan.Namespace.ValueString(),
		plan.Name.ValueString())
	planned := stringElements(plan.LinkServiceAccounts)
	prior := stringElements(state.LinkServiceAccounts)
	accounts := fetchServiceAccounts(ctx, linker, accountsNotIn(planned, prior),
		&resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}

	if !updateSecret(ctx, client, plan, state, write, &resp.Diagnostics) {
		return
	}

	linked := linkServiceAccounts(ctx, linker, accounts, &resp.Diagnostics)
	stillLinked := unlinkServiceAccounts(ctx, linker, accountsNotIn(prior, planned),
		&resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		names := append(append(accountsIn(planned, prior), linked...), stillLinked...)
		plan.LinkServiceAccounts = types.SetValueMust(types.StringType, accountNameValues(names))
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, plan)...)
}

func (r *pullSecretResource) Delete(
	ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse,
) {
	var state pullSecretModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	timeout, diags := state.Timeouts.Delete(ctx, pullSecretDefaultDeleteTimeout)
	resp.Diagnostics.Append(diags...)
	client := r.kubernetes(&resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}

	deletePullSecret(ctx, client, state, timeout, &resp.Diagnostics)
}

// deletePullSecret unlinks the service accounts, deletes the Secret and waits until it is
// gone.
func deletePullSecret(ctx context.Context, client kubernetes.Interface, state pullSecretModel,
	timeout time.Duration, diags *diag.Diagnostics) {
	namespace, name := state.Namespace.ValueString(), state.Name.ValueString()
	fields := map[string]any{"namespace": namespace, "name": name}

	linker := newServiceAccountLinker(client, namespace, name)
	unlinkServiceAccounts(ctx, linker, stringElements(state.LinkServiceAccounts), diags)
	if diags.HasError() {
		return
	}

	secrets := client.CoreV1().Secrets(namespace)
	tflog.Debug(ctx, "Deleting pull secret", fields)
	err := secrets.Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !kubeerrors.IsObjectNotFound(err, secretsResource, name) {
		addAPIError(diags, "Unable to Delete Pull Secret",
			failureDetail(fmt.Sprintf("Deleting Secret %q in namespace %q failed. Check "+
				"that the provider's credentials may delete Secrets in this namespace.", name,
				namespace), secretObject(namespace, name), err), err)
		return
	}

	remaining, err := waitForSecretDeletion(ctx, secrets, name, timeout)
	switch {
	case errors.Is(err, errSecretStillExists):
		fields["finalizers"] = remaining.Finalizers
		tflog.Warn(ctx, "Timed out waiting for pull secret deletion", fields)
		diags.AddError("Timed Out Waiting for Pull Secret Deletion",
			deletionTimeoutDetail(remaining, timeout))
		return
	case err != nil:
		addAPIError(diags, "Unable to Confirm Pull Secret Deletion",
			failureDetail(fmt.Sprintf("Reading Secret %q in namespace %q, to wait until it "+
				"is gone, failed. Fix the cause below, then run the apply or destroy again.", name,
				namespace), secretObject(namespace, name), err), err)
		return
	}
	tflog.Info(ctx, "Deleted pull secret", fields)
}

// deletionTimeoutDetail explains what keeps a Secret that still exists when the delete
// timeout has passed.
func deletionTimeoutDetail(secret *corev1.Secret, timeout time.Duration) string {
	if secret.DeletionTimestamp == nil {
		return fmt.Sprintf("Secret %q in namespace %q still exists %v after the delete "+
			"request and is not being deleted, so something created it again after the "+
			"delete, such as a controller or another Terraform configuration that manages "+
			"it. Stop it from creating the Secret, then run the apply or destroy again.",
			secret.Name, secret.Namespace, timeout)
	}
	return fmt.Sprintf("Secret %q in namespace %q is still being deleted %v after the delete "+
		"request. %s Then run the apply or destroy again, or raise timeouts.delete if the "+
		"controllers only need more time.", secret.Name, secret.Namespace, timeout,
		finalizersSentence(secret))
}

// ImportState takes an ID of the form "namespace/name". Read then fills in the registries
// and, because state has no labels or annotations yet, all of the Secret's metadata.
func (r *pullSecretResource) ImportState(
	ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse,
) {
	namespace, name, err := parsePullSecretID(req.ID)
	if err == nil {
		err = checkPullSecretName(namespace, name)
	}
	if err != nil {
		resp.Diagnostics.AddError("Invalid Import ID",
			"Import imagedist_pull_secret with an ID of the form \"namespace/name\": "+
				err.Error()+".")
		return
	}

	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"),
		pullSecretID(namespace, name))...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("namespace"), namespace)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), name)...)
}

// checkPullSecretName applies the schema's name rules to an import ID.
func checkPullSecretName(namespace, name string) error {
	if problems := validation.IsDNS1123Label(namespace); len(problems) > 0 {
		return fmt.Errorf("the namespace %q is not a valid DNS-1123 label: %s", namespace,
			strings.Join(problems, "; "))
	}
	if problems := validation.IsDNS1123Subdomain(name); len(problems) > 0 {
		return fmt.Errorf("the name %q is not a valid DNS-1123 subdomain: %s", name,
			strings.Join(problems, "; "))
	}
	return nil
}

// kubernetes returns the clientset, or nil after adding a diagnostic.
func (r *pullSecretResource) kubernetes(diags *diag.Diagnostics) kubernetes.Interface {
	return kubernetesClient(r.clients, diags)
}

// secretWrite is the .dockerconfigjson to send, with what logs and error messages need.
type secretWrite struct {
	document []byte
	// entries are the registries that document encodes, for comparing with the cluster's.
	entries []dockerconfig.Entry
	// keys are the registry keys, for logs.
	keys []string
	// credentials are every form of the passwords that an error text must not show.
	credentials []string
}

// prepareSecretWrite completes the plan's registry blocks for apply and encodes them with the
// passwords from the configuration.
func prepareSecretWrite(ctx context.Context, plan *pullSecretModel, config pullSecretModel,
) (secretWrite, diag.Diagnostics) {
	var diags diag.Diagnostics
	planned, blockDiags := registryBlocks(ctx, plan.Registries)
	diags.Append(blockDiags...)
	configured, blockDiags := registryBlocks(ctx, config.Registries)
	diags.Append(blockDiags...)
	if diags.HasError() {
		return secretWrite{}, diags
	}

	completed, err := completeRegistries(planned, configured)
	if err != nil {
		diags.AddError("Unable to Hash Write-Only Password", err.Error())
		return secretWrite{}, diags
	}
	list, listDiags := registryList(ctx, completed)
	diags.Append(listDiags...)
	plan.Registries = list

	entries := dockerConfigEntries(completed, configured)
	credentials := entryCredentials(entries)
	document, err := dockerconfig.Encode(entries)
	if err != nil {
		diags.AddError("Unable to Encode Pull Secret",
			"Building .dockerconfigjson from the registry blocks failed. Check the blocks "+
				"named in the message.\n\n"+redact(err.Error(), credentials...))
		return secretWrite{}, diags
	}
	credentials = append(credentials, string(document),
		base64.StdEncoding.EncodeToString(document))
	return secretWrite{document: document, entries: entries, keys: registryKeys(entries),
		credentials: credentials}, diags
}

func createSecret(ctx context.Context, client kubernetes.Interface, secret *corev1.Secret,
	write secretWrite, diags *diag.Diagnostics) bool {
	fields := map[string]any{
		"namespace": secret.Namespace, "name": secret.Name, "registry_keys": write.keys,
	}
	tflog.Debug(ctx, "Creating pull secret", fields)
	secrets := client.CoreV1().Secrets(secret.Namespace)
	_, adopted, err := kube.CreateOnce(ctx, secret,
		func(ctx context.Context) (*corev1.Secret, error) {
			return secrets.Create(ctx, secret, metav1.CreateOptions{})
		},
		func(ctx context.Context) (*corev1.Secret, error) {
			return secrets.Get(ctx, secret.Name, metav1.GetOptions{})
		})
	switch {
	case err == nil:
		fields["adopted_after_retry"] = adopted
		tflog.Info(ctx, "Created pull secret", fields)
		return true
	case apierrors.IsAlreadyExists(err):
		existing := terminatingSecret(ctx, client, secret.Namespace, secret.Name)
		if existing != nil {
			addAttributeAPIError(diags, path.Root("name"), "Pull Secret Being Deleted",
				fmt.Sprintf("Secret %q cannot be created because a Secret of that name in "+
					"namespace %q is still being deleted. %s Then apply again.", secret.Name,
					secret.Namespace, finalizersSentence(existing)), err, write.credentials...)
			break
		}
		addAttributeAPIError(diags, path.Root("name"), "Pull Secret Already Exists",
			fmt.Sprintf("A Secret named %q already exists in namespace %q. Import it with "+
				"`terraform import <address> %s`, or choose another name.", secret.Name,
				secret.Namespace, pullSecretID(secret.Namespace, secret.Name)),
			err, write.credentials...)
	case kubeerrors.IsObjectNotFound(err, namespacesResource, secret.Namespace):
		addAttributeAPIError(diags, path.Root("namespace"), "Namespace Not Found",
			fmt.Sprintf("Secret %q cannot be created because namespace %q does not exist. "+
				"Create the namespace first.", secret.Name, secret.Namespace),
			err, write.credentials...)
	default:
		addAPIError(diags, "Unable to Create Pull Secret",
			failureDetail(fmt.Sprintf("Creating Secret %q in namespace %q failed. Check the "+
				"message below and the provider's permissions for Secrets in this namespace.",
				secret.Name, secret.Namespace), secretObject(secret.Namespace, secret.Name),
				err), err, write.credentials...)
	}
	return false
}

// terminatingSecret returns the named Secret if it exists and is being deleted, else nil.
func terminatingSecret(ctx context.Context, client kubernetes.Interface, namespace,
	name string) *corev1.Secret {
	existing, err := client.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil || existing.DeletionTimestamp == nil {
		return nil
	}
	return existing
}

// updateSecret writes the new .dockerconfigjson and the managed labels and annotations into
// the existing Secret, repeating the read-modify-write on a conflict. Data keys other than
// .dockerconfigjson, and metadata keys that Terraform does not manage, are kept. The
// .dockerconfigjson is kept too when it already has the same registries, because then the
// plan shows no data change, while rewriting it would still change its bytes (for example
// kubectl's key "https://index.docker.io/v1/" would become "index.docker.io").
func updateSecret(ctx context.Context, client kubernetes.Interface, plan, state pullSecretModel,
	write secretWrite, diags *diag.Diagnostics) bool {
	namespace, name := plan.Namespace.ValueString(), plan.Name.ValueString()
	secrets := client.CoreV1().Secrets(namespace)
	fields := map[string]any{"namespace": namespace, "name": name, "registry_keys": write.keys}

	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		tflog.Debug(ctx, "Reading pull secret for update", fields)
		current, err := secrets.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		updated := current.DeepCopy()
		if updated.Data == nil {
			updated.Data = map[string][]byte{}
		}
		if !secretMatchesEntries(current, write.entries) {
			updated.Data[corev1.DockerConfigJsonKey] = write.document
		}
		updated.Labels = applyOwnedMetadata(current.Labels, state.Labels, plan.Labels)
		updated.Annotations = applyOwnedMetadata(current.Annotations, state.Annotations,
			plan.Annotations)

		tflog.Debug(ctx, "Updating pull secret", fields)
		_, err = secrets.Update(ctx, updated, metav1.UpdateOptions{})
		return err
	})
	switch {
	case err == nil:
		tflog.Info(ctx, "Updated pull secret", fields)
		return true
	case kubeerrors.IsObjectNotFound(err, secretsResource, name):
		addAPIError(diags, "Pull Secret Not Found",
			fmt.Sprintf("Secret %q in namespace %q was deleted after the plan was made. Run "+
				"the apply again to create it.", name, namespace), err, write.credentials...)
	default:
		addAPIError(diags, "Unable to Update Pull Secret",
			failureDetail(fmt.Sprintf("Updating Secret %q in namespace %q failed. Check the "+
				"message below and the provider's permissions for Secrets in this namespace.",
				name, namespace), secretObject(namespace, name), err),
			err, write.credentials...)
	}
	return false
}

// errSecretStillExists is waitForSecretDeletion's error when the timeout passes first.
var errSecretStillExists = errors.New("the Secret still exists when the delete timeout passed")

// waitForSecretDeletion polls until the Secret is gone. When the timeout passes first, it
// returns the Secret as last read and errSecretStillExists, so the caller can say what holds
// it. The requests use ctx rather than a context with the timeout as deadline, because
// client-go's rate limiter fails every request once its wait would pass that deadline, with
// an error about the rate limiter that hides the Secret's state. So the wait can exceed the
// timeout by the duration of one request.
func waitForSecretDeletion(ctx context.Context, secrets corev1client.SecretInterface,
	name string, timeout time.Duration) (*corev1.Secret, error) {
	ticker := time.NewTicker(pullSecretDeletePollInterval)
	defer ticker.Stop()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()

	expired := false
	for {
		secret, err := secrets.Get(ctx, name, metav1.GetOptions{})
		switch {
		case kubeerrors.IsObjectNotFound(err, secretsResource, name):
			return nil, nil
		case err != nil:
			return nil, err
		case expired:
			return secret, errSecretStillExists
		}

		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline.C:
			// One more request, so a Secret that went in the last interval is not reported.
			expired = true
		case <-ticker.C:
		}
	}
}

// fetchServiceAccounts gets each account before anything is changed, so a missing account is
// reported before the Secret is written. The accounts are then updated from these copies.
func fetchServiceAccounts(ctx context.Context, linker serviceAccountLinker, names []string,
	diags *diag.Diagnostics) []*corev1.ServiceAccount {
	var accounts []*corev1.ServiceAccount
	for _, name := range names {
		account, err := linker.get(ctx, name)
		switch {
		case kubeerrors.IsObjectNotFound(err, serviceAccountsResource, name):
			addAttributeAPIError(diags, path.Root("link_service_accounts"),
				"Service Account Not Found",
				fmt.Sprintf("Service account %q does not exist in namespace %q, so the pull "+
					"secret cannot be linked to it. Create the service account (and the "+
					"namespace, if it is missing too) or remove %q from "+
					"link_service_accounts.", name, linker.namespace, name), err)
		case err != nil:
			addAttributeAPIError(diags, path.Root("link_service_accounts"),
				"Unable to Read Service Account",
				failureDetail(fmt.Sprintf("Reading service account %q in namespace %q "+
					"failed. Check the provider's permissions for service accounts in this "+
					"namespace.", name, linker.namespace),
					serviceAccountObject(linker.namespace, name), err), err)
		default:
			accounts = append(accounts, account)
		}
	}
	return accounts
}

// linkServiceAccounts links the secret to each account and returns the names it linked.
func linkServiceAccounts(ctx context.Context, linker serviceAccountLinker,
	accounts []*corev1.ServiceAccount, diags *diag.Diagnostics) []string {
	var linked []string
	for _, account := range accounts {
		if err := linker.link(ctx, account); err != nil {
			addAttributeAPIError(diags, path.Root("link_service_accounts"),
				"Unable to Link Pull Secret to Service Account",
				failureDetail(fmt.Sprintf("Adding Secret %q to the imagePullSecrets of "+
					"service account %q in namespace %q failed. Check the provider's "+
					"permissions to update service accounts, then apply again.",
					linker.secret, account.Name, linker.namespace),
					serviceAccountObject(linker.namespace, account.Name), err), err)
			continue
		}
		linked = append(linked, account.Name)
	}
	return linked
}

// unlinkServiceAccounts removes the secret from each account and returns the names it could
// not unlink.
func unlinkServiceAccounts(ctx context.Context, linker serviceAccountLinker, names []string,
	diags *diag.Diagnostics) []string {
	var failed []string
	for _, name := range names {
		if err := linker.unlink(ctx, name); err != nil {
			addAttributeAPIError(diags, path.Root("link_service_accounts"),
				"Unable to Unlink Pull Secret from Service Account",
				failureDetail(fmt.Sprintf("Removing Secret %q from the imagePullSecrets of "+
					"service account %q in namespace %q failed. Check the provider's "+
					"permissions to update service accounts, then apply again.",
					linker.secret, name, linker.namespace),
					serviceAccountObject(linker.namespace, name), err), err)
			failed = append(failed, name)
		}
	}
	return failed
}

// readLinkedAccounts narrows link_service_accounts in state to the accounts that still refer
// to the secret, so an entry removed outside Terraform shows as drift.
func readLinkedAccounts(ctx context.Context, client kubernetes.Interface,
	state *pullSecretModel, diags *diag.Diagnostics) {
	if state.LinkServiceAccounts.IsNull() || state.LinkServiceAccounts.IsUnknown() {
		return
	}
	linker := newServiceAccountLinker(client, state.Namespace.ValueString(),
		state.Name.ValueString())
	linked, err := linker.linkedAccounts(ctx, stringElements(state.LinkServiceAccounts))
	if err != nil {
		addAPIError(diags, "Unable to Read Service Account",
			failureDetail(fmt.Sprintf("Checking which service accounts in namespace %q link "+
				"Secret %q failed. Check the provider's permissions to get service accounts.",
				linker.namespace, linker.secret),
				fmt.Sprintf("the service accounts in namespace %q", linker.namespace), err),
			err)
		return
	}
	state.LinkServiceAccounts = types.SetValueMust(types.StringType, accountNameValues(linked))
}
