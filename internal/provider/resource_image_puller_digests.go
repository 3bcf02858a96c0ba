package provider

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/imagedist/terraform-provider-imagedist/internal/dockerconfig"
	"github.com/imagedist/terraform-provider-imagedist/internal/kube"
	"github.com/imagedist/terraform-provider-imagedist/internal/kubeerrors"
	"github.com/imagedist/terraform-provider-imagedist/internal/puller"
	"github.com/imagedist/terraform-provider-imagedist/internal/registry"
)

// The cluster-wide pull secret that the nodes of an OpenShift cluster pull with, and so the
// credentials for the pinned backend's look-ups.
const (
	globalPullSecretNamespace = "openshift-config"
	globalPullSecretName      = "pull-secret"
)

// planResolvedImages sets resolved_images in plan: each image as written, or with
// resolve_digests each tag pinned to the digest that its registry serves now. It leaves the
// value unknown while an image or the provider configuration is unknown, so that apply
// resolves them.
func (r *imagePullerResource) planResolvedImages(ctx context.Context, plan *imagePullerModel,
	diags *diag.Diagnostics) {
	images, known := plan.imageMap()
	if !known || plan.ResolveDigests.IsUnknown() || plan.Backend.IsUnknown() ||
		plan.Namespace.IsUnknown() || containsUnknownDeep(plan.ImagePullSecrets) {
		plan.ResolvedImages = types.MapUnknown(types.StringType)
		return
	}
	if !plan.resolvesDigests() {
		plan.ResolvedImages = types.MapValueMust(types.StringType, stringValues(images))
		return
	}
	if r.clients == nil || r.registryTransport == nil {
		plan.ResolvedImages = types.MapUnknown(types.StringType)
		return
	}
	client, err := r.clients.Kubernetes()
	var unknown *kube.UnknownSettingsError
	if errors.As(err, &unknown) {
		plan.ResolvedImages = types.MapUnknown(types.StringType)
		return
	}
	if err != nil {
		addClientError(diags, err)
		return
	}
	resolved, resolveDiags := r.resolveImages(ctx, client, *plan, images)
	diags.Append(resolveDiags...)
	if resolveDiags.HasError() {
		return
	}
	plan.ResolvedImages = types.MapValueMust(types.StringType, stringValues(resolved))
}

// resolvesDigests reports whether tags are looked up: with resolve_digests, and always for
// the pinned backend, because OpenShift pins images by digest only.
func (m imagePullerModel) resolvesDigests() bool {
	return m.ResolveDigests.ValueBool() || m.Backend.ValueString() == backendPinned
}

// resolvedImages returns the references to write, from the plan's resolved_images, and
// resolves them now when the plan could not.
func (r *imagePullerResource) resolvedImages(ctx context.Context, client kubernetes.Interface,
	plan *imagePullerModel, diags *diag.Diagnostics) map[string]string {
	if !plan.ResolvedImages.IsUnknown() && !plan.ResolvedImages.IsNull() {
		return stringMap(plan.ResolvedImages)
	}
	images, _ := plan.imageMap()
	resolved := images
	if plan.resolvesDigests() {
		var resolveDiags diag.Diagnostics
		resolved, resolveDiags = r.resolveImages(ctx, client, *plan, images)
		diags.Append(resolveDiags...)
	}
	plan.ResolvedImages = types.MapValueMust(types.StringType, stringValues(resolved))
	return resolved
}

// resolveImages looks each tag up with the credentials that the nodes would pull with: the
// image_pull_secrets of the namespace, or for the pinned backend the cluster's global pull
// secret.
func (r *imagePullerResource) resolveImages(ctx context.Context, client kubernetes.Interface,
	plan imagePullerModel, images map[string]string) (map[string]string, diag.Diagnostics) {
	var diags diag.Diagnostics
	namespace, secrets := plan.Namespace.ValueString(), stringElements(plan.ImagePullSecrets)
	if plan.Backend.ValueString() == backendPinned {
		namespace, secrets = globalPullSecretNamespace, []string{globalPullSecretName}
	}
	keychain, missing, err := pullSecretKeychain(ctx, client, namespace, secrets)
	for _, name := range missing {
		at := path.Root("image_pull_secrets").AtListIndex(slices.Index(secrets, name))
		if plan.Backend.ValueString() == backendPinned {
			at = path.Root("resolve_digests")
		}
		diags.AddAttributeError(at, "Pull Secret Not Found",
			fmt.Sprintf("resolve_digests looks tags up with Secret %q in namespace %q, but it "+
				"does not exist. Create it, or set resolve_digests = false.", name, namespace))
	}
	if diags.HasError() {
		return nil, diags
	}
	if err != nil {
		addAPIError(&diags, "Unable to Read Pull Secrets",
			fmt.Sprintf("resolve_digests looks tags up with the pull secrets of namespace "+
				"%q, but reading them failed. Check the provider's permission to get "+
				"secrets there.", namespace), err)
		return nil, diags
	}
	resolver := registry.Resolver{Keychain: keychain, Transport: r.registryTransport,
		InsecureRegistries: r.insecureRegistries}

	resolved := make(map[string]string, len(images))
	for _, key := range slices.Sorted(maps.Keys(images)) {
		digest, err := resolver.Digest(ctx, images[key])
		if err != nil {
			diags.AddAttributeError(path.Root("images").AtMapKey(key),
				"Unable to Resolve Image Digest",
				fmt.Sprintf("resolve_digests could not look up images[%q]: %s. Check the "+
					"reference and the pull secrets, or set resolve_digests = false.", key,
					redact(err.Error())))
			continue
		}
		tflog.Debug(ctx, "Resolved image digest", map[string]any{
			"image": key, "reference": images[key], "resolved": digest,
		})
		resolved[key] = digest
	}
	return resolved, diags
}

// pullSecretKeychain reads the docker config documents of the named Secrets in namespace, in
// order, and returns the names of those that do not exist.
func pullSecretKeychain(ctx context.Context, client kubernetes.Interface, namespace string,
	names []string) (registry.Keychain, []string, error) {
	var configs []*dockerconfig.Config
	var missing []string
	for _, name := range names {
		secret, err := client.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
		if kubeerrors.IsObjectNotFound(err, corev1.Resource("secrets"), name) {
			missing = append(missing, name)
			continue
		}
		if err != nil {
			return registry.Keychain{}, nil, err
		}
		var config *dockerconfig.Config
		if data, ok := secret.Data[corev1.DockerConfigJsonKey]; ok {
			config, err = dockerconfig.Decode(data)
		} else if data, ok := secret.Data[corev1.DockerConfigKey]; ok {
			config, err = dockerconfig.DecodeLegacy(data)
		}
		if err != nil || config == nil {
			// An unreadable pull secret gives no credentials to the kubelet either.
			continue
		}
		configs = append(configs, config)
	}
	return registry.NewKeychain(configs...), missing, nil
}

// withResolvedReferences returns the images with the references to write.
func withResolvedReferences(images []puller.Image, resolved map[string]string) []puller.Image {
	out := slices.Clone(images)
	for i := range out {
		if reference, ok := resolved[out[i].Key]; ok {
			out[i].Reference = reference
		}
	}
	return out
}

// flattenImages sets images and resolved_images from the references on the cluster, by short
// name. An image whose cluster reference is the one the prior state resolved keeps the
// reference written in the configuration, so a pinned digest is no change.
func flattenImages(model *imagePullerModel, onCluster map[string]string) {
	prior, priorResolved := stringMap(model.Images), stringMap(model.ResolvedImages)
	images := make(map[string]attr.Value, len(onCluster))
	for key, reference := range onCluster {
		written, ok := prior[key]
		if ok && (written == reference || priorResolved[key] == reference) {
			images[key] = types.StringValue(written)
			continue
		}
		images[key] = types.StringValue(reference)
	}
	model.Images = types.MapValueMust(types.StringType, images)
	model.ResolvedImages = types.MapValueMust(types.StringType, stringValues(onCluster))
}
