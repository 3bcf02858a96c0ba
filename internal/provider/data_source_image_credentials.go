package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/imagedist/terraform-provider-imagedist/internal/dockerconfig"
	"github.com/imagedist/terraform-provider-imagedist/internal/kubeerrors"
	"github.com/imagedist/terraform-provider-imagedist/internal/registry"
)

// imageCredentialsModel contains the credential inputs that both image data sources share.
type imageCredentialsModel struct {
	PullSecret          types.Object `tfsdk:"pull_secret"`
	UseGlobalPullSecret types.Bool   `tfsdk:"use_global_pull_secret"`
}

// pullSecretRefModel is the pull_secret object.
type pullSecretRefModel struct {
	Namespace types.String `tfsdk:"namespace"`
	Name      types.String `tfsdk:"name"`
}

// imageCredentialsDescription explains where both image data sources take credentials from,
// the provider settings for registries with a private CA or without TLS, and the limits of a
// look-up.
var imageCredentialsDescription = "Credentials come from `pull_secret`, or from the " +
	"cluster's global pull secret with `use_global_pull_secret`, or else from the " +
	"provider's docker config file: `registry_auth_file`, else the file that " +
	"`REGISTRY_AUTH_FILE` names, else `config.json` in `DOCKER_CONFIG`. Without any of " +
	"them, images are looked up anonymously. A key of a docker config matches as the " +
	"kubelet matches it: `quay.io/org` only for repositories under `org`, and " +
	"`*.example.com` for any one label in place of `*`. The key with the longest path " +
	"wins. Reading a pull secret needs `get` on `secrets` in its namespace.\n\n" +
	"The provider verifies each registry's TLS certificate against the system's CAs. For a " +
	"registry whose certificate a private CA signed, set the provider's " +
	"`registry_ca_certificates` to that CA's PEM certificate. Only a registry that serves " +
	"plain HTTP, without TLS, belongs in the provider's `insecure_registries`. An error " +
	"names the failure and the setting to change. Errors leave out the credentials that " +
	"the look-up sent, even when the registry repeats them.\n\n" +
	fmt.Sprintf("Each look-up of one reference takes at most %d minutes, and each request "+
		"waits at most %d seconds for the registry's response. The provider rejects a manifest or "+
		"index over %d MiB, an image config over %d MiB, and an index with more than %d "+
		"platform images. It reads at most %d of an index's platform manifests at a time, "+
		"and each distinct digest once.", int(registry.DefaultLookupTimeout.Minutes()),
		int(registry.ResponseHeaderTimeout.Seconds()), registry.MaxManifestBytes>>20,
		registry.MaxConfigBytes>>20, registry.MaxIndexPlatformImages,
		registry.IndexFetchWorkers)

func imageCredentialAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"pull_secret": schema.SingleNestedAttribute{
			Optional: true,
			MarkdownDescription: "A pull secret in the cluster, of type " +
				"`kubernetes.io/dockerconfigjson` or `kubernetes.io/dockercfg`, whose " +
				"credentials the look-up uses. Conflicts with `use_global_pull_secret`.",
			Attributes: map[string]schema.Attribute{
				"namespace": schema.StringAttribute{
					Required:            true,
					MarkdownDescription: "The namespace of the Secret.",
					Validators:          []validator.String{dns1123LabelValidator()},
				},
				"name": schema.StringAttribute{
					Required:            true,
					MarkdownDescription: "The name of the Secret.",
					Validators:          []validator.String{dns1123SubdomainValidator()},
				},
			},
		},
		"use_global_pull_secret": schema.BoolAttribute{
			Optional: true,
			MarkdownDescription: "Whether to look up with the credentials of OpenShift's " +
				"global pull secret, `" + globalPullSecretNamespace + "/" +
				globalPullSecretName + "`, which the nodes pull with. Conflicts with " +
				"`pull_secret`.",
		},
	}
}

// validate rejects pull_secret together with use_global_pull_secret = true.
func (m imageCredentialsModel) validate(diags *diag.Diagnostics) {
	if !m.PullSecret.IsNull() && m.UseGlobalPullSecret.ValueBool() {
		diags.AddAttributeError(path.Root("use_global_pull_secret"),
			"Conflicting Image Credentials",
			"Set either pull_secret or use_global_pull_secret = true, not both: a look-up "+
				"uses the credentials of one pull secret.")
	}
}

// resolver returns a registry resolver with the credentials that credentials select: a pull
// secret in the cluster, the global pull secret, else the provider's registry auth file.
func (l imageLookups) resolver(ctx context.Context, credentials imageCredentialsModel,
	diags *diag.Diagnostics) registry.Resolver {
	if l.transport == nil {
		diags.AddError("Provider Configuration Unknown",
			"The provider's registry settings depend on values that are not known yet, so "+
				"images cannot be looked up now. Terraform reads this data source again "+
				"during apply.")
		return registry.Resolver{}
	}
	resolver := registry.Resolver{
		Keychain: l.fileKeychain, Transport: l.transport,
		InsecureRegistries: l.insecureRegistries,
	}

	var secret pullSecretRefModel
	at := path.Root("pull_secret")
	switch {
	case !credentials.PullSecret.IsNull():
		diags.Append(credentials.PullSecret.As(ctx, &secret, basetypes.ObjectAsOptions{})...)
	case credentials.UseGlobalPullSecret.ValueBool():
		secret.Namespace = types.StringValue(globalPullSecretNamespace)
		secret.Name = types.StringValue(globalPullSecretName)
		at = path.Root("use_global_pull_secret")
	case l.fileProblem != nil:
		diags.AddError(l.fileProblem.summary, l.fileProblem.detail+" The look-up would "+
			"take its credentials from that file, because it names no pull secret.")
		return resolver
	default:
		return resolver
	}

	client := kubernetesClient(l.clients, diags)
	if client == nil || diags.HasError() {
		return resolver
	}
	source, ok := readPullSecretSource(ctx, client, secret.Namespace.ValueString(),
		secret.Name.ValueString(), at, diags)
	if ok {
		resolver.Keychain = registry.NewNamedKeychain(source)
	}
	return resolver
}

// readPullSecretSource reads the pull secret namespace/name. It reports a missing Secret, a
// Secret of another type and an unreadable document as errors on attribute at, because a
// look-up without the credentials that the configuration names would fail for a reason the
// user cannot see.
func readPullSecretSource(ctx context.Context, client kubernetes.Interface, namespace,
	name string, at path.Path, diags *diag.Diagnostics) (registry.CredentialSource, bool) {
	tflog.Debug(ctx, "Reading pull secret", map[string]any{"namespace": namespace,
		"name": name})
	secret, err := client.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
	if kubeerrors.IsObjectNotFound(err, corev1.Resource("secrets"), name) {
		diags.AddAttributeError(at, "Pull Secret Not Found",
			fmt.Sprintf("Secret %q in namespace %q does not exist. Create it, or name "+
				"another pull secret.", name, namespace))
		return registry.CredentialSource{}, false
	}
	if err != nil {
		addAttributeAPIError(diags, at, "Unable to Read Pull Secret",
			fmt.Sprintf("Reading Secret %q in namespace %q failed. Check the provider's "+
				"permission to get secrets there.", name, namespace), err)
		return registry.CredentialSource{}, false
	}

	sourceName := fmt.Sprintf("Secret %q", namespace+"/"+name)
	if namespace == globalPullSecretNamespace && name == globalPullSecretName {
		sourceName += " (the global pull secret)"
	}
	config, err := decodePullSecretConfig(secret)
	if err != nil {
		diags.AddAttributeError(at, "Invalid Pull Secret",
			fmt.Sprintf("%s cannot give registry credentials: %s.", sourceName,
				redactSecretData(err.Error())))
		return registry.CredentialSource{}, false
	}
	return registry.CredentialSource{Name: sourceName, Config: config}, true
}

// pullSecretTypes are the Secret types that carry a docker config document, and the data
// key of each.
var pullSecretTypes = map[corev1.SecretType]string{
	corev1.SecretTypeDockerConfigJson: corev1.DockerConfigJsonKey,
	corev1.SecretTypeDockercfg:        corev1.DockerConfigKey,
}

// decodePullSecretConfig decodes the docker config document of a Secret of one of pullSecretTypes.
func decodePullSecretConfig(secret *corev1.Secret) (*dockerconfig.Config, error) {
	key, ok := pullSecretTypes[secret.Type]
	if !ok {
		return nil, fmt.Errorf("it is of type %q, and a pull secret must be of type %s or "+
			"%s. Name a pull secret of one of those types, such as one that `kubectl "+
			"create secret docker-registry` makes", secret.Type,
			corev1.SecretTypeDockerConfigJson, corev1.SecretTypeDockercfg)
	}
	data, ok := secret.Data[key]
	if !ok {
		return nil, fmt.Errorf("it is of type %s but has no %s key", secret.Type, key)
	}
	if secret.Type == corev1.SecretTypeDockercfg {
		return dockerconfig.DecodeLegacy(data)
	}
	return dockerconfig.Decode(data)
}

// validateImageCredentials checks the credential attributes of a configuration of
// imagedist_image or imagedist_images.
func validateImageCredentials(ctx context.Context, config tfsdk.Config,
	diags *diag.Diagnostics) {
	var credentials imageCredentialsModel
	diags.Append(config.GetAttribute(ctx, path.Root("pull_secret"), &credentials.PullSecret)...)
	diags.Append(config.GetAttribute(ctx, path.Root("use_global_pull_secret"),
		&credentials.UseGlobalPullSecret)...)
	credentials.validate(diags)
}
