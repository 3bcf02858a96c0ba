package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"

	configv1 "github.com/openshift/api/config/v1"
	operatorv1alpha1 "github.com/openshift/api/operator/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/retry"

	"github.com/imagedist/terraform-provider-imagedist/internal/kube"
	"github.com/imagedist/terraform-provider-imagedist/internal/kubeerrors"
	"github.com/imagedist/terraform-provider-imagedist/internal/mirrors"
)

// The resources of the mirror kinds, all cluster-scoped.
var (
	digestMirrorSetsResource      = configv1.GroupVersion.WithResource("imagedigestmirrorsets")
	tagMirrorSetsResource         = configv1.GroupVersion.WithResource("imagetagmirrorsets")
	contentSourcePoliciesResource = operatorv1alpha1.GroupVersion.WithResource(
		"imagecontentsourcepolicies")
)

// mirrorKindResource returns the resource of a kind that the resource manages.
func mirrorKindResource(kind string) schema.GroupVersionResource {
	if kind == mirrors.KindImageTagMirrorSet {
		return tagMirrorSetsResource
	}
	return digestMirrorSetsResource
}

// mirrorCRDName returns the CustomResourceDefinition name of a kind, for messages.
func mirrorCRDName(kind string) string {
	gvr := mirrorKindResource(kind)
	return gvr.Resource + "." + gvr.Group
}

// mirrorObject names an object for pathNotFoundDetail.
func mirrorObject(ref mirrors.ObjectRef) string {
	return fmt.Sprintf("%s %q", ref.Kind, ref.Name)
}

// listExistingMirrors reads every mirror set and ImageContentSourcePolicy on the cluster. A
// kind the cluster does not serve is skipped, so plans work on plain Kubernetes.
// NOTE: any 404 skips the kind, including one for a host with a wrong path prefix. Read and
// apply then report that host, so only the conflict check is lost.
func listExistingMirrors(ctx context.Context, client dynamic.Interface) (
	mirrors.Existing, error) {
	var existing mirrors.Existing
	err := listInto(ctx, client, digestMirrorSetsResource, &existing.DigestMirrorSets)
	if err == nil {
		err = listInto(ctx, client, tagMirrorSetsResource, &existing.TagMirrorSets)
	}
	if err == nil {
		err = listInto(ctx, client, contentSourcePoliciesResource,
			&existing.ContentSourcePolicies)
	}
	return existing, err
}

// listInto lists one resource and converts the items to their typed form. target points to
// a slice of the typed kind.
func listInto[T any](ctx context.Context, client dynamic.Interface,
	resource schema.GroupVersionResource, target *[]T) error {
	list, err := client.Resource(resource).List(ctx, metav1.ListOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return fmt.Errorf("listing %s: %w", resource.GroupResource(), err)
	}

	for _, item := range list.Items {
		var typed T
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(item.Object,
			&typed); err != nil {
			return fmt.Errorf("decoding %s %q: %w", resource.GroupResource(), item.GetName(), err)
		}
		*target = append(*target, typed)
	}
	return nil
}

// getMirrorObject reads one object into target. It returns false without an error when the
// object does not exist.
func getMirrorObject(ctx context.Context, client dynamic.Interface, ref mirrors.ObjectRef,
	target any) (bool, error) {
	gvr := mirrorKindResource(ref.Kind)
	object, err := client.Resource(gvr).Get(ctx, ref.Name, metav1.GetOptions{})
	switch {
	case kubeerrors.IsObjectNotFound(err, gvr.GroupResource(), ref.Name):
		return false, nil
	case err != nil:
		return false, err
	}
	if object.GetDeletionTimestamp() != nil {
		return false, nil
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(object.Object,
		target); err != nil {
		return false, fmt.Errorf("decoding %s: %w", ref, err)
	}
	return true, nil
}

// readMirrorObjects reads the objects of the given kinds named name. A kind that is missing
// on the cluster gives a nil pointer.
func readMirrorObjects(ctx context.Context, client dynamic.Interface, name string,
	kinds []string) (*configv1.ImageDigestMirrorSet, *configv1.ImageTagMirrorSet, error) {
	var digestSet *configv1.ImageDigestMirrorSet
	var tagSet *configv1.ImageTagMirrorSet
	for _, kind := range kinds {
		ref := mirrors.ObjectRef{Kind: kind, Name: name}
		switch kind {
		case mirrors.KindImageDigestMirrorSet:
			set := &configv1.ImageDigestMirrorSet{}
			found, err := getMirrorObject(ctx, client, ref, set)
			if err != nil {
				return nil, nil, err
			}
			if found {
				digestSet = set
			}
		case mirrors.KindImageTagMirrorSet:
			set := &configv1.ImageTagMirrorSet{}
			found, err := getMirrorObject(ctx, client, ref, set)
			if err != nil {
				return nil, nil, err
			}
			if found {
				tagSet = set
			}
		}
	}
	return digestSet, tagSet, nil
}

// renderedObjects returns the rendered objects as unstructured values, keyed by kind.
func renderedObjects(rendered mirrors.Rendered) (map[string]*unstructured.Unstructured, error) {
	objects := map[string]*unstructured.Unstructured{}
	add := func(kind string, object any) error {
		content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(object)
		if err != nil {
			return fmt.Errorf("encoding the %s: %w", kind, err)
		}
		objects[kind] = &unstructured.Unstructured{Object: content}
		return nil
	}
	if rendered.DigestMirrorSet != nil {
		if err := add(mirrors.KindImageDigestMirrorSet, rendered.DigestMirrorSet); err != nil {
			return nil, err
		}
	}
	if rendered.TagMirrorSet != nil {
		if err := add(mirrors.KindImageTagMirrorSet, rendered.TagMirrorSet); err != nil {
			return nil, err
		}
	}
	return objects, nil
}

// errMirrorSetExists is returned by writeMirrorObject when it must create an object whose
// name is already taken on the cluster.
var errMirrorSetExists = errors.New("mirror set already exists")

// writeMirrorObject creates the object when create is set, failing with errMirrorSetExists
// when one of that name exists, because adopting it would overwrite and later delete an
// object that someone else made. Otherwise it replaces the spec of the existing object, or
// creates it again when it is gone, repeating the read-modify-write on a conflict. labels maps
// the object's current labels (nil on create) to the labels to write.
func writeMirrorObject(ctx context.Context, client dynamic.Interface,
	desired *unstructured.Unstructured, create bool,
	labels func(map[string]string) map[string]string,
) error {
	resource := client.Resource(mirrorKindResource(desired.GetKind()))
	if create {
		created := desired.DeepCopy()
		created.SetLabels(labels(nil))
		_, _, err := kube.CreateOnce(ctx, created,
			func(ctx context.Context) (*unstructured.Unstructured, error) {
				return resource.Create(ctx, created, metav1.CreateOptions{})
			},
			func(ctx context.Context) (*unstructured.Unstructured, error) {
				return resource.Get(ctx, created.GetName(), metav1.GetOptions{})
			})
		if apierrors.IsAlreadyExists(err) {
			return errMirrorSetExists
		}
		return err
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		current, err := resource.Get(ctx, desired.GetName(), metav1.GetOptions{})
		if kubeerrors.IsObjectNotFound(err, mirrorKindResource(desired.GetKind()).GroupResource(),
			desired.GetName()) {
			created := desired.DeepCopy()
			created.SetLabels(labels(nil))
			_, err = resource.Create(ctx, created, metav1.CreateOptions{})
			return err
		}
		if err != nil {
			return err
		}

		updated := current.DeepCopy()
		updated.Object["spec"] = desired.Object["spec"]
		updated.SetLabels(labels(current.GetLabels()))
		_, err = resource.Update(ctx, updated, metav1.UpdateOptions{})
		return err
	})
}

// deleteMirrorObject deletes one object. An object that is already gone is no error.
func deleteMirrorObject(ctx context.Context, client dynamic.Interface,
	ref mirrors.ObjectRef) error {
	gvr := mirrorKindResource(ref.Kind)
	err := client.Resource(gvr).Delete(ctx, ref.Name, metav1.DeleteOptions{})
	if err != nil && !kubeerrors.IsObjectNotFound(err, gvr.GroupResource(), ref.Name) {
		return err
	}
	return nil
}

// missingMirrorKinds returns the kinds among kinds that the cluster does not serve,
// according to discovery.
func missingMirrorKinds(client discovery.DiscoveryInterface, kinds []string) ([]string, error) {
	resources, err := client.ServerResourcesForGroupVersion(configv1.GroupVersion.String())
	switch {
	case apierrors.IsNotFound(err):
		return kinds, nil
	case err != nil:
		return nil, err
	}

	served := map[string]bool{}
	for _, resource := range resources.APIResources {
		served[resource.Name] = true
	}
	var missing []string
	for _, kind := range kinds {
		if !served[mirrorKindResource(kind).Resource] {
			missing = append(missing, kind)
		}
	}
	return missing, nil
}

// missingCRDDetail explains which CRDs are missing for the kinds.
func missingCRDDetail(kinds []string) string {
	names := make([]string, len(kinds))
	for i, kind := range kinds {
		names[i] = fmt.Sprintf("%s (CRD %s)", kind, mirrorCRDName(kind))
	}
	return fmt.Sprintf("The cluster does not serve %s. These kinds exist only on OpenShift "+
		"4.13 and later, where the config operator installs them, so this cluster is plain "+
		"Kubernetes or an older OpenShift. Apply this resource to an OpenShift cluster, or "+
		"remove it from the configuration.", strings.Join(names, " and "))
}
