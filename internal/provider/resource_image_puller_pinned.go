package provider

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	mcfgv1 "github.com/openshift/api/machineconfiguration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/imagedist/terraform-provider-imagedist/internal/kube"
	"github.com/imagedist/terraform-provider-imagedist/internal/kubeerrors"
	"github.com/imagedist/terraform-provider-imagedist/internal/puller"
)

var (
	pinnedImageSetGVR = schema.GroupVersionResource{
		Group: "machineconfiguration.openshift.io", Version: "v1", Resource: "pinnedimagesets",
	}
	machineConfigNodeGVR = schema.GroupVersionResource{
		Group: "machineconfiguration.openshift.io", Version: "v1",
		Resource: "machineconfignodes",
	}
	pinnedImageSetsResource = pinnedImageSetGVR.GroupResource()
)

// pinnedReferencesAnnotation records, on a PinnedImageSet, the reference of each image by
// short name, so that refresh and import give back the names written in the configuration.
const pinnedReferencesAnnotation = "imagedist.io/image-references"

// pinnedClients returns the clients that the pinned backend needs, or nils with an error in
// diags.
func (r *imagePullerResource) pinnedClients(diags *diag.Diagnostics) (dynamic.Interface,
	kubernetes.Interface) {
	dynamicClient := dynamicClient(r.clients, diags)
	client := kubernetesClient(r.clients, diags)
	return dynamicClient, client
}

// renderPinned builds the PinnedImageSet for a plan, with the short names of its images
// recorded.
func (r *imagePullerResource) renderPinned(ctx context.Context, client kubernetes.Interface,
	plan *imagePullerModel, diags *diag.Diagnostics) (*unstructured.Unstructured,
	[]puller.Image) {
	imageMap, _ := plan.imageMap()
	images, problems := puller.Images(imageMap)
	addImageProblems(diags, errorsOnly(problems))
	if diags.HasError() {
		return nil, nil
	}
	images = withResolvedReferences(images, r.resolvedImages(ctx, client, plan, diags))
	addImageProblems(diags, puller.ValidatePinned(images))
	if diags.HasError() {
		return nil, nil
	}
	set := puller.PinnedImageSet(plan.Name.ValueString(), images, stringMap(plan.Labels))
	set.Annotations = map[string]string{
		pinnedReferencesAnnotation: encodePinnedReferences(images),
	}
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(set)
	if err != nil {
		diags.AddError("Unable to Render PinnedImageSet", err.Error())
		return nil, nil
	}
	return &unstructured.Unstructured{Object: content}, images
}

// createPinned writes the PinnedImageSet, lists it in the pools and waits. It reports whether
// the set was written, because state is saved only for an object that exists.
func (r *imagePullerResource) createPinned(ctx context.Context, plan *imagePullerModel,
	timeout time.Duration, diags *diag.Diagnostics) bool {
	dynamicClient, client := r.pinnedClients(diags)
	if diags.HasError() {
		return false
	}
	set, images := r.renderPinned(ctx, client, plan, diags)
	if diags.HasError() {
		return false
	}

	name := plan.Name.ValueString()
	if !checkPoolsExist(ctx, dynamicClient, stringElements(plan.MachineConfigPools), diags) {
		return false
	}
	tflog.Debug(ctx, "Creating PinnedImageSet", map[string]any{"name": name,
		"images": len(images)})
	sets := dynamicClient.Resource(pinnedImageSetGVR)
	created, _, err := kube.CreateOnce(ctx, set,
		func(ctx context.Context) (*unstructured.Unstructured, error) {
			return sets.Create(ctx, set, metav1.CreateOptions{})
		},
		func(ctx context.Context) (*unstructured.Unstructured, error) {
			return sets.Get(ctx, name, metav1.GetOptions{})
		})
	if err != nil {
		addPinnedWriteError(diags, "Unable to Create Image Puller", name, err)
		return false
	}
	plan.ID = types.StringValue(name)

	pools := stringElements(plan.MachineConfigPools)
	if !setPoolReferences(ctx, dynamicClient, name, pools, nil, diags) {
		flattenUnknownNodeStatuses(plan)
		return true
	}
	waitAndSetStatus(ctx, plan, pinnedTarget(ctx, dynamicClient, client, name,
		created.GetGeneration(), pools, images), timeout, diags)
	return true
}

func (r *imagePullerResource) updatePinned(ctx context.Context, plan, state *imagePullerModel,
	timeout time.Duration, diags *diag.Diagnostics) {
	dynamicClient, client := r.pinnedClients(diags)
	if diags.HasError() {
		return
	}
	desired, images := r.renderPinned(ctx, client, plan, diags)
	if diags.HasError() {
		return
	}

	name := plan.Name.ValueString()
	sets := dynamicClient.Resource(pinnedImageSetGVR)
	var updated *unstructured.Unstructured
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		current, err := sets.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		current.Object["spec"] = desired.Object["spec"]
		current.SetLabels(pullerLabels(current.GetLabels(), *state, *plan, desired.GetLabels()))
		annotations := current.GetAnnotations()
		if annotations == nil {
			annotations = map[string]string{}
		}
		annotations[pinnedReferencesAnnotation] =
			desired.GetAnnotations()[pinnedReferencesAnnotation]
		current.SetAnnotations(annotations)
		tflog.Debug(ctx, "Updating PinnedImageSet", map[string]any{"name": name,
			"images": len(images)})
		updated, err = sets.Update(ctx, current, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		addPinnedWriteError(diags, "Unable to Update Image Puller", name, err)
		return
	}

	pools := stringElements(plan.MachineConfigPools)
	if !setPoolReferences(ctx, dynamicClient, name, pools,
		stringElements(state.MachineConfigPools), diags) {
		flattenUnknownNodeStatuses(plan)
		return
	}
	waitAndSetStatus(ctx, plan, pinnedTarget(ctx, dynamicClient, client, name,
		updated.GetGeneration(), pools, images), timeout, diags)
}

// readPinned refreshes state from the PinnedImageSet and the pools that reference it. It
// returns false when the set is gone.
func (r *imagePullerResource) readPinned(ctx context.Context, state *imagePullerModel,
	diags *diag.Diagnostics) bool {
	dynamicClient, client := r.pinnedClients(diags)
	if diags.HasError() {
		return true
	}
	name := state.Name.ValueString()
	object, err := dynamicClient.Resource(pinnedImageSetGVR).Get(ctx, name, metav1.GetOptions{})
	if kubeerrors.IsObjectNotFound(err, pinnedImageSetsResource, name) {
		return false
	}
	if err != nil {
		addPinnedReadError(diags, name, err)
		return true
	}
	var set mcfgv1.PinnedImageSet
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(object.Object,
		&set); err != nil {
		diags.AddError("Unable to Read Image Puller",
			fmt.Sprintf("PinnedImageSet %q cannot be decoded: %v", name, err))
		return true
	}

	images := pinnedSetImages(&set)
	onCluster := map[string]string{}
	for _, image := range images {
		onCluster[image.Key] = image.Reference
	}
	state.ID = types.StringValue(name)
	state.Namespace = types.StringNull()
	state.Backend = types.StringValue(backendPinned)
	flattenImages(state, onCluster)
	state.Labels = managedLabels(state.Labels, set.Labels)
	// The pod settings do not apply to this backend, but keep their defaults so that an
	// imported state matches the planned one.
	if state.KeepCached.IsNull() {
		state.KeepCached = types.BoolValue(true)
	}
	if state.MaxUnavailable.IsNull() {
		state.MaxUnavailable = types.StringValue(defaultMaxUnavailable)
	}

	pools, err := referencingPools(ctx, dynamicClient, name)
	if err != nil {
		addAPIError(diags, "Unable to Read Image Puller",
			"Listing the machine config pools failed. Check the provider's permissions to "+
				"list machineconfigpools.", err)
		return true
	}
	state.MachineConfigPools = stringSetOrNull(pools)

	judgement, err := pinnedTarget(ctx, dynamicClient, client, name, set.Generation, pools,
		images).judge()
	if err != nil {
		addAPIError(diags, "Unable to Read Image Puller Status",
			"Reading the nodes' MachineConfigNode objects failed. Check the provider's "+
				"permissions to list nodes and machineconfignodes.", err)
		return true
	}
	diags.Append(flattenNodeStatuses(ctx, state, judgement)...)
	return true
}

func stringSetOrNull(values []string) types.Set {
	if len(values) == 0 {
		return types.SetNull(types.StringType)
	}
	elements := make([]attr.Value, len(values))
	for i, value := range values {
		elements[i] = types.StringValue(value)
	}
	return types.SetValueMust(types.StringType, elements)
}

// pinnedSetImages returns the images of a PinnedImageSet with the short names recorded in its
// pinnedReferencesAnnotation. A reference that the annotation does not name, such as one
// added outside Terraform, gets the reference itself as short name.
func pinnedSetImages(set *mcfgv1.PinnedImageSet) []puller.Image {
	recorded := map[string]string{}
	if text, ok := set.Annotations[pinnedReferencesAnnotation]; ok {
		_ = json.Unmarshal([]byte(text), &recorded)
	}
	onCluster := map[string]bool{}
	for _, ref := range set.Spec.PinnedImages {
		onCluster[string(ref.Name)] = true
	}

	var images []puller.Image
	named := map[string]bool{}
	for key, reference := range recorded {
		if onCluster[reference] {
			images = append(images, puller.Image{Key: key, Reference: reference})
			named[reference] = true
		}
	}
	for reference := range onCluster {
		if !named[reference] {
			images = append(images, puller.Image{Key: reference, Reference: reference})
		}
	}
	slices.SortFunc(images, func(a, b puller.Image) int { return cmp.Compare(a.Key, b.Key) })
	return images
}

// encodePinnedReferences renders the pinnedReferencesAnnotation value for images.
func encodePinnedReferences(images []puller.Image) string {
	references := map[string]string{}
	for _, image := range images {
		references[image.Key] = image.Reference
	}
	// A map of strings always encodes, with its keys sorted.
	encoded, _ := json.Marshal(references)
	return string(encoded)
}

func (r *imagePullerResource) deletePinned(ctx context.Context, state *imagePullerModel,
	timeout time.Duration, diags *diag.Diagnostics) {
	dynamicClient := dynamicClient(r.clients, diags)
	if diags.HasError() {
		return
	}
	name := state.Name.ValueString()
	pools, err := referencingPools(ctx, dynamicClient, name)
	if err != nil {
		addAPIError(diags, "Unable to Delete Image Puller",
			"Listing the machine config pools failed. Check the provider's permissions to "+
				"list machineconfigpools.", err)
		return
	}
	if !setPoolReferences(ctx, dynamicClient, name, nil, pools, diags) {
		return
	}

	sets := dynamicClient.Resource(pinnedImageSetGVR)
	err = sets.Delete(ctx, name, metav1.DeleteOptions{})
	if kubeerrors.IsObjectNotFound(err, pinnedImageSetsResource, name) {
		return
	}
	if err != nil {
		addAPIError(diags, "Unable to Delete Image Puller",
			fmt.Sprintf("Deleting PinnedImageSet %q failed. Check the provider's "+
				"permissions on pinnedimagesets.", name), err)
		return
	}
	waitUntilGone(ctx, timeout, fmt.Sprintf("PinnedImageSet %q", name), func() (bool, error) {
		_, err := sets.Get(ctx, name, metav1.GetOptions{})
		if kubeerrors.IsObjectNotFound(err, pinnedImageSetsResource, name) {
			return true, nil
		}
		return false, err
	}, diags)
}

// checkPoolsExist reports false, with an error on machine_config_pools, when a pool is
// missing, so that nothing is written for a pool that cannot pin the images.
func checkPoolsExist(ctx context.Context, client dynamic.Interface, names []string,
	diags *diag.Diagnostics) bool {
	pools, err := listPools(ctx, client)
	if err != nil {
		addAPIError(diags, "Unable to List Machine Config Pools",
			"Check the provider's permissions to list machineconfigpools.", err)
		return false
	}
	existing := make([]string, len(pools))
	for i := range pools {
		existing[i] = pools[i].Name
	}
	for _, name := range names {
		if !slices.Contains(existing, name) {
			diags.AddAttributeError(path.Root("machine_config_pools"),
				"Machine Config Pool Not Found",
				fmt.Sprintf("Machine config pool %q does not exist. The pools are: %s.", name,
					strings.Join(existing, ", ")))
			return false
		}
	}
	return true
}

// referencingPools returns the sorted names of the pools whose spec.pinnedImageSets lists
// the set.
func referencingPools(ctx context.Context, client dynamic.Interface,
	setName string) ([]string, error) {
	pools, err := listPools(ctx, client)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, pool := range pools {
		if slices.ContainsFunc(pool.Spec.PinnedImageSets, func(ref mcfgv1.PinnedImageSetRef) bool {
			return ref.Name == setName
		}) {
			names = append(names, pool.Name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// setPoolReferences adds the set to the spec.pinnedImageSets of each pool in add and removes
// it from each pool in remove that is not in add, leaving every other entry as it is. It
// reports false with an error in diags when a write fails.
func setPoolReferences(ctx context.Context, client dynamic.Interface, setName string,
	add, remove []string, diags *diag.Diagnostics) bool {
	pools := client.Resource(machineConfigPoolGVR)
	change := func(pool string, keep bool) bool {
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			object, err := pools.Get(ctx, pool, metav1.GetOptions{})
			if err != nil {
				return err
			}
			refs, _, _ := unstructured.NestedSlice(object.Object, "spec", "pinnedImageSets")
			present := slices.ContainsFunc(refs, func(ref any) bool {
				entry, _ := ref.(map[string]any)
				return entry["name"] == setName
			})
			switch {
			case keep && present, !keep && !present:
				return nil
			case keep:
				refs = append(refs, map[string]any{"name": setName})
			default:
				refs = slices.DeleteFunc(refs, func(ref any) bool {
					entry, _ := ref.(map[string]any)
					return entry["name"] == setName
				})
			}
			if err := unstructured.SetNestedSlice(object.Object, refs, "spec",
				"pinnedImageSets"); err != nil {
				return err
			}
			tflog.Debug(ctx, "Updating the pinned image sets of a machine config pool",
				map[string]any{"pool": pool, "set": setName, "listed": keep})
			_, err = pools.Update(ctx, object, metav1.UpdateOptions{})
			return err
		})
		if err == nil {
			return true
		}
		if kubeerrors.IsObjectNotFound(err, machineConfigPoolGVR.GroupResource(), pool) {
			if !keep {
				return true
			}
			addAPIError(diags, "Machine Config Pool Not Found",
				fmt.Sprintf("Machine config pool %q in machine_config_pools does not exist. "+
					"List the pools with `oc get machineconfigpool`.", pool), err)
			return false
		}
		addAPIError(diags, "Unable to Update Machine Config Pool",
			fmt.Sprintf("Updating spec.pinnedImageSets of machine config pool %q failed. "+
				"Check the provider's permissions to update machineconfigpools.", pool), err)
		return false
	}

	for _, pool := range add {
		if !change(pool, true) {
			return false
		}
	}
	for _, pool := range remove {
		if !slices.Contains(add, pool) && !change(pool, false) {
			return false
		}
	}
	return true
}

// pinnedTarget judges a PinnedImageSet from the MachineConfigNode status of each node of
// the pools.
func pinnedTarget(ctx context.Context, dynamicClient dynamic.Interface,
	client kubernetes.Interface, name string, generation int64, pools []string,
	images []puller.Image) pullerTarget {
	return pullerTarget{
		object:    fmt.Sprintf("PinnedImageSet %q", name),
		selection: "that machine_config_pools names pools with nodes",
		judge: func() (pullerJudgement, error) {
			nodes, excluded, err := poolNodes(ctx, dynamicClient, client, pools)
			if err != nil {
				return pullerJudgement{}, err
			}
			list, err := dynamicClient.Resource(machineConfigNodeGVR).List(ctx,
				metav1.ListOptions{})
			if err != nil {
				return pullerJudgement{}, fmt.Errorf("listing MachineConfigNodes: %w", err)
			}
			machineConfigNodes := make([]mcfgv1.MachineConfigNode, len(list.Items))
			for i := range list.Items {
				err := runtime.DefaultUnstructuredConverter.FromUnstructured(
					list.Items[i].Object, &machineConfigNodes[i])
				if err != nil {
					return pullerJudgement{}, fmt.Errorf("decoding MachineConfigNode %s: %w",
						list.Items[i].GetName(), err)
				}
			}
			statuses := puller.PinnedNodeStatuses(images, name, generation, nodes,
				machineConfigNodes)
			return pullerJudgement{
				statuses: statuses, excluded: excluded, done: allCached(statuses),
			}, nil
		},
	}
}

// poolNodes returns the names of the nodes that the pools' node selectors select, and every
// other node as excluded.
func poolNodes(ctx context.Context, dynamicClient dynamic.Interface,
	client kubernetes.Interface, names []string) ([]string, []puller.Exclusion, error) {
	pools, err := listPools(ctx, dynamicClient)
	if err != nil {
		return nil, nil, fmt.Errorf("listing MachineConfigPools: %w", err)
	}
	var selectors []labels.Selector
	for _, pool := range pools {
		if !slices.Contains(names, pool.Name) || pool.Spec.NodeSelector == nil {
			continue
		}
		selector, err := metav1.LabelSelectorAsSelector(pool.Spec.NodeSelector)
		if err != nil {
			return nil, nil, fmt.Errorf("node selector of machine config pool %s: %w",
				pool.Name, err)
		}
		selectors = append(selectors, selector)
	}
	list, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("listing nodes: %w", err)
	}

	var selected []string
	var excluded []puller.Exclusion
	for _, node := range list.Items {
		nodeLabels := labels.Set(node.Labels)
		if slices.ContainsFunc(selectors, func(selector labels.Selector) bool {
			return selector.Matches(nodeLabels)
		}) {
			selected = append(selected, node.Name)
			continue
		}
		excluded = append(excluded, puller.Exclusion{Node: node.Name,
			Reason: "it is in none of machine_config_pools"})
	}
	slices.SortFunc(excluded, func(a, b puller.Exclusion) int {
		return cmp.Compare(a.Node, b.Node)
	})
	return selected, excluded, nil
}

func addPinnedWriteError(diags *diag.Diagnostics, summary, name string, err error) {
	switch {
	case kubeerrors.IsPathNotFound(err):
		addAPIError(diags, summary, "The cluster does not serve "+
			"pinnedimagesets.machineconfiguration.openshift.io/v1, which needs OpenShift 4.19 "+
			"or later. Use backend = \"daemonset\" on other clusters.", err)
	default:
		addAPIError(diags, summary, fmt.Sprintf("Writing PinnedImageSet %q failed. Check "+
			"the message below and the provider's permissions on pinnedimagesets; an "+
			"existing set of that name can be imported with `terraform import`.", name), err)
	}
}

func addPinnedReadError(diags *diag.Diagnostics, name string, err error) {
	addAPIError(diags, "Unable to Read Image Puller",
		fmt.Sprintf("Reading PinnedImageSet %q failed. Check the provider's permissions on "+
			"pinnedimagesets.", name), err)
}
