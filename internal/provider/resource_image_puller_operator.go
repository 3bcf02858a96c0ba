package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/imagedist/terraform-provider-imagedist/internal/kube"
	"github.com/imagedist/terraform-provider-imagedist/internal/kubeerrors"
	"github.com/imagedist/terraform-provider-imagedist/internal/puller"
)

// operatorGracePeriod bounds how long a wait accepts that no DaemonSet exists for the
// KubernetesImagePuller yet, before it reports that no operator acts on it. An operator that
// runs creates the DaemonSet within seconds.
var operatorGracePeriod = 2 * time.Minute

var kubernetesImagePullersResource = puller.KubernetesImagePullerResource.GroupResource()

// renderOperator builds the KubernetesImagePuller for a plan, with the short names of its
// images recorded.
func (r *imagePullerResource) renderOperator(ctx context.Context, client kubernetes.Interface,
	plan *imagePullerModel, diags *diag.Diagnostics) (*unstructured.Unstructured,
	[]puller.Image) {
	imageMap, _ := plan.imageMap()
	images, problems := puller.Images(imageMap)
	addImageProblems(diags, errorsOnly(problems))
	if diags.HasError() {
		return nil, nil
	}
	images = withResolvedReferences(images, r.resolvedImages(ctx, client, plan, diags))
	addImageProblems(diags, puller.OperatorProblems(images))
	spec, specDiags := plan.spec(ctx, images)
	diags.Append(specDiags...)
	if diags.HasError() {
		return nil, nil
	}
	object := puller.KubernetesImagePuller(spec, 0)
	object.SetAnnotations(map[string]string{imageKeysAnnotation: encodeImageKeys(images)})
	return object, images
}

// createOperator writes the KubernetesImagePuller and waits. It reports whether the CR was
// written, because state is saved only for an object that exists.
func (r *imagePullerResource) createOperator(ctx context.Context, plan *imagePullerModel,
	timeout time.Duration, diags *diag.Diagnostics) bool {
	dynamicClient, client := r.pinnedClients(diags)
	if diags.HasError() {
		return false
	}
	object, images := r.renderOperator(ctx, client, plan, diags)
	checkPullSecrets(ctx, client, *plan, diags)
	if diags.HasError() {
		return false
	}

	namespace, name := plan.Namespace.ValueString(), plan.Name.ValueString()
	pullers := dynamicClient.Resource(puller.KubernetesImagePullerResource).Namespace(namespace)
	existing, err := pullers.List(ctx, metav1.ListOptions{})
	if err != nil {
		addOperatorError(diags, "Unable to Create Image Puller", namespace, name, err)
		return false
	}
	for _, other := range existing.Items {
		if other.GetName() != name {
			diags.AddError("Image Puller Already in Namespace",
				fmt.Sprintf("Namespace %q already has KubernetesImagePuller %q, and the "+
					"kubernetes-image-puller operator allows one per namespace. Import that "+
					"one, add the images to it, or use another namespace.", namespace,
					other.GetName()))
			return false
		}
	}

	tflog.Debug(ctx, "Creating KubernetesImagePuller", map[string]any{
		"namespace": namespace, "name": name, "images": len(images),
	})
	written := time.Now()
	created, _, err := kube.CreateOnce(ctx, object,
		func(ctx context.Context) (*unstructured.Unstructured, error) {
			return pullers.Create(ctx, object, metav1.CreateOptions{})
		},
		func(ctx context.Context) (*unstructured.Unstructured, error) {
			return pullers.Get(ctx, name, metav1.GetOptions{})
		})
	if err != nil {
		addOperatorError(diags, "Unable to Create Image Puller", namespace, name, err)
		return false
	}
	plan.ID = types.StringValue(namespace + "/" + name)
	waitAndSetStatus(ctx, plan, operatorTarget(ctx, client, namespace, name,
		created.GetCreationTimestamp(), images, written), timeout, diags)
	return true
}

func (r *imagePullerResource) updateOperator(ctx context.Context, plan, state *imagePullerModel,
	timeout time.Duration, diags *diag.Diagnostics) {
	dynamicClient, client := r.pinnedClients(diags)
	if diags.HasError() {
		return
	}
	desired, images := r.renderOperator(ctx, client, plan, diags)
	checkPullSecrets(ctx, client, *plan, diags)
	if diags.HasError() {
		return
	}

	namespace, name := plan.Namespace.ValueString(), plan.Name.ValueString()
	pullers := dynamicClient.Resource(puller.KubernetesImagePullerResource).Namespace(namespace)
	written := time.Now()
	var created metav1.Time
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		current, err := pullers.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		// The operator writes its defaults for the names back into the spec, so every
		// field is set from the plan.
		current.Object["spec"] = desired.Object["spec"]
		current.SetLabels(pullerLabels(current.GetLabels(), *state, *plan, desired.GetLabels()))
		annotations := current.GetAnnotations()
		if annotations == nil {
			annotations = map[string]string{}
		}
		annotations[imageKeysAnnotation] = desired.GetAnnotations()[imageKeysAnnotation]
		current.SetAnnotations(annotations)
		created = current.GetCreationTimestamp()
		tflog.Debug(ctx, "Updating KubernetesImagePuller", map[string]any{
			"namespace": namespace, "name": name, "images": len(images),
		})
		_, err = pullers.Update(ctx, current, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		addOperatorError(diags, "Unable to Update Image Puller", namespace, name, err)
		flattenUnknownNodeStatuses(plan)
		return
	}
	waitAndSetStatus(ctx, plan, operatorTarget(ctx, client, namespace, name, created, images,
		written), timeout, diags)
}

// readOperator refreshes state from the KubernetesImagePuller. It returns false when the CR
// is gone.
func (r *imagePullerResource) readOperator(ctx context.Context, state *imagePullerModel,
	diags *diag.Diagnostics) bool {
	dynamicClient, client := r.pinnedClients(diags)
	if diags.HasError() {
		return true
	}
	namespace, name := state.Namespace.ValueString(), state.Name.ValueString()
	object, err := dynamicClient.Resource(puller.KubernetesImagePullerResource).
		Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	if kubeerrors.IsObjectNotFound(err, kubernetesImagePullersResource, name) {
		return false
	}
	if err != nil {
		addOperatorError(diags, "Unable to Read Image Puller", namespace, name, err)
		return true
	}
	parsed, err := puller.ParseKubernetesImagePuller(object)
	if err != nil {
		diags.AddError("Unable to Read Image Puller",
			fmt.Sprintf("%v. Correct the field on the cluster, for example with `oc edit "+
				"kubernetesimagepuller %s -n %s`, and run the plan again.", err, name,
				namespace))
		return true
	}

	keys := imageKeysByContainer(object.GetAnnotations())
	onCluster := map[string]string{}
	for i := range parsed.Images {
		image := &parsed.Images[i]
		if key, ok := keys[image.Container]; ok {
			image.Key = key
		}
		onCluster[image.Key] = image.Reference
	}
	state.ID = types.StringValue(namespace + "/" + name)
	state.Backend = types.StringValue(backendOperator)
	flattenImages(state, onCluster)
	state.HelperImage = optionalString(parsed.HelperImage)
	state.NodeSelector = mapOrNull(parsed.NodeSelector)
	state.ImagePullSecrets = stringListOrNull(parsed.ImagePullSecrets)
	state.Labels = managedLabels(state.Labels, object.GetLabels())
	state.MachineConfigPools = types.SetNull(types.StringType)
	// The operator always keeps the images cached, and max_unavailable does not apply, but
	// both keep their defaults so that an imported state matches the planned one.
	state.KeepCached = types.BoolValue(true)
	if state.MaxUnavailable.IsNull() {
		state.MaxUnavailable = types.StringValue(defaultMaxUnavailable)
	}
	flattenResources(state, parsed.Resources)
	diags.Append(flattenTolerations(ctx, state, parsed.Tolerations)...)
	diags.Append(flattenNodeAffinity(ctx, state, parsed.Affinity)...)

	judgement, err := operatorTarget(ctx, client, namespace, name,
		object.GetCreationTimestamp(), parsed.Images, time.Time{}).judge()
	if err != nil {
		addAPIError(diags, "Unable to Read Image Puller Status",
			"Reading the operator's DaemonSet, its pods and the nodes failed. Check the "+
				"provider's permissions to read daemonsets and list pods and nodes.", err)
		return true
	}
	diags.Append(flattenNodeStatuses(ctx, state, judgement)...)
	return true
}

func (r *imagePullerResource) deleteOperator(ctx context.Context, state *imagePullerModel,
	timeout time.Duration, diags *diag.Diagnostics) {
	dynamicClient := dynamicClient(r.clients, diags)
	if diags.HasError() {
		return
	}
	namespace, name := state.Namespace.ValueString(), state.Name.ValueString()
	pullers := dynamicClient.Resource(puller.KubernetesImagePullerResource).Namespace(namespace)
	err := pullers.Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !kubeerrors.IsObjectNotFound(err, kubernetesImagePullersResource, name) {
		addOperatorError(diags, "Unable to Delete Image Puller", namespace, name, err)
		return
	}
	// The operator's process deletes its DaemonSet when its Deployment goes with the CR, so
	// the wait ends when both are gone, whatever the garbage collector is doing.
	client := kubernetesClient(r.clients, diags)
	if diags.HasError() {
		return
	}
	daemonSets := client.AppsV1().DaemonSets(namespace)
	waitUntilGone(ctx, timeout, fmt.Sprintf("KubernetesImagePuller %q in namespace %q and "+
		"its DaemonSet", name, namespace), func() (bool, error) {
		_, err := pullers.Get(ctx, name, metav1.GetOptions{})
		if !kubeerrors.IsObjectNotFound(err, kubernetesImagePullersResource, name) {
			return false, err
		}
		_, err = daemonSets.Get(ctx, name, metav1.GetOptions{})
		if kubeerrors.IsObjectNotFound(err, daemonSetsResource, name) {
			return true, nil
		}
		return false, err
	}, diags)
}

// operatorTarget judges a KubernetesImagePuller from the pods of the DaemonSet that its
// operator made, which has the CR's name and is younger than the CR, created at created. A
// DaemonSet that does not appear within operatorGracePeriod after the write means that no
// operator acts on the CR.
func operatorTarget(ctx context.Context, client kubernetes.Interface, namespace, name string,
	created metav1.Time, images []puller.Image, written time.Time) pullerTarget {
	daemonSets := client.AppsV1().DaemonSets(namespace)
	object := fmt.Sprintf("KubernetesImagePuller %q in namespace %q", name, namespace)
	return pullerTarget{
		object: object,
		selection: "node_selector, node_affinity and tolerations against the nodes' " +
			"labels and taints",
		judge: func() (pullerJudgement, error) {
			daemonSet, err := daemonSets.Get(ctx, name, metav1.GetOptions{})
			if err == nil && daemonSet.CreationTimestamp.Before(&created) {
				// A DaemonSet older than the CR belongs to a CR of the same name that was
				// deleted, and the garbage collector removes it in its own time.
				err = apierrors.NewNotFound(daemonSetsResource, name)
			}
			if kubeerrors.IsObjectNotFound(err, daemonSetsResource, name) {
				if !written.IsZero() && time.Since(written) > operatorGracePeriod {
					return pullerJudgement{}, fmt.Errorf("%w: no DaemonSet %q appeared in "+
						"namespace %q within %s", errNoOperator, name, namespace,
						operatorGracePeriod)
				}
				return pullerJudgement{pending: fmt.Sprintf("the kubernetes-image-puller "+
					"operator has not made its DaemonSet %q yet. Check that the operator "+
					"runs and watches namespace %q.", name, namespace)}, nil
			}
			if err != nil {
				return pullerJudgement{}, err
			}
			judgement, err := judgeDaemonSet(ctx, client, daemonSet, images)
			if err != nil {
				return judgement, err
			}
			judgement.done = operatorDaemonSetCurrent(daemonSet, images) &&
				allCached(judgement.statuses)
			return judgement, nil
		},
	}
}

// operatorDaemonSetCurrent reports whether the operator's DaemonSet runs exactly the images
// and the DaemonSet controller has seen it, so that a wait does not end on the DaemonSet of
// the previous images.
func operatorDaemonSetCurrent(daemonSet *appsv1.DaemonSet, images []puller.Image) bool {
	if daemonSet.Status.ObservedGeneration < daemonSet.Generation {
		return false
	}
	want := map[string]string{}
	for _, image := range images {
		want[image.Container] = image.Reference
	}
	containers := daemonSet.Spec.Template.Spec.Containers
	if len(containers) != len(want) {
		return false
	}
	for _, container := range containers {
		if want[container.Name] != container.Image {
			return false
		}
	}
	return true
}

// operatorImport finds the KubernetesImagePuller named name in namespace, for an import. It
// reports false without a diagnostic when there is none.
func (r *imagePullerResource) operatorExists(ctx context.Context, dynamicClient dynamic.Interface,
	namespace, name string, diags *diag.Diagnostics) bool {
	_, err := dynamicClient.Resource(puller.KubernetesImagePullerResource).Namespace(namespace).
		Get(ctx, name, metav1.GetOptions{})
	switch {
	case err == nil:
		return true
	case kubeerrors.IsObjectNotFound(err, kubernetesImagePullersResource, name),
		kubeerrors.IsPathNotFound(err):
		return false
	}
	addOperatorError(diags, "Unable to Read Image Puller", namespace, name, err)
	return false
}

func addOperatorError(diags *diag.Diagnostics, summary, namespace, name string, err error) {
	if kubeerrors.IsPathNotFound(err) {
		addAPIError(diags, summary, "The cluster does not serve "+
			"kubernetesimagepullers.che.eclipse.org/v1alpha1: the kubernetes-image-puller "+
			"operator is not installed. Install it (on OpenShift from OperatorHub), or use "+
			"backend = \"daemonset\", which needs no operator.", err)
		return
	}
	addAPIError(diags, summary, fmt.Sprintf("The request for KubernetesImagePuller %q in "+
		"namespace %q failed. Check the message below and the provider's permissions on "+
		"kubernetesimagepullers.", name, namespace), err)
}
