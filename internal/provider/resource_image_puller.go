package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	k8sresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/imagedist/terraform-provider-imagedist/internal/kube"
	"github.com/imagedist/terraform-provider-imagedist/internal/kubeerrors"
	"github.com/imagedist/terraform-provider-imagedist/internal/puller"
)

var (
	_ resource.Resource                     = &imagePullerResource{}
	_ resource.ResourceWithConfigure        = &imagePullerResource{}
	_ resource.ResourceWithValidateConfig   = &imagePullerResource{}
	_ resource.ResourceWithModifyPlan       = &imagePullerResource{}
	_ resource.ResourceWithImportState      = &imagePullerResource{}
	_ resource.ResourceWithConfigValidators = &imagePullerResource{}
)

// imagePullerPollInterval is the longest time between two reads of the puller's pods in a
// wait. The waits start at one second and double the interval up to this. Tests lower it.
var imagePullerPollInterval = 10 * time.Second

// maxReportedNodes bounds the nodes that a timeout error lists one by one.
const maxReportedNodes = 20

var (
	daemonSetsResource = appsv1.SchemeGroupVersion.WithResource("daemonsets").GroupResource()
	errNotCached       = errors.New("the images are not cached on every selected node")
)

// imagePullerResource is imagedist_image_puller.
type imagePullerResource struct {
	clients           *kube.Clients
	registryTransport http.RoundTripper
	// insecureRegistries are the registries that resolve_digests may reach over plain HTTP.
	insecureRegistries []string
}

// NewImagePullerResource returns the imagedist_image_puller resource.
func NewImagePullerResource() resource.Resource {
	return &imagePullerResource{}
}

func (r *imagePullerResource) Metadata(
	_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse,
) {
	resp.TypeName = req.ProviderTypeName + "_image_puller"
}

func (r *imagePullerResource) Configure(
	_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse,
) {
	r.clients = clientsFromProviderData(req.ProviderData, &resp.Diagnostics)
	r.registryTransport = registryTransportFromProviderData(req.ProviderData)
	r.insecureRegistries = insecureRegistriesFromProviderData(req.ProviderData)
}

func (r *imagePullerResource) ConfigValidators(_ context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{positiveTimeoutsValidator{}}
}

// ValidateConfig checks the images map with the puller's rules, each finding on its key.
func (r *imagePullerResource) ValidateConfig(
	ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse,
) {
	var config imagePullerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	pinned := config.Backend.ValueString() == backendPinned
	if images, known := config.imageMap(); known {
		parsed, problems := puller.Images(images)
		switch config.Backend.ValueString() {
		case backendPinned:
			// Tags are resolved to digests at plan time, so only the count is checked here.
			if len(parsed) > puller.MaxPinnedImages {
				problems = append(problems, puller.ValidatePinned(parsed)...)
			}
		case backendOperator:
			problems = append(problems, puller.OperatorProblems(parsed)...)
		}
		addImageProblems(&resp.Diagnostics, problems)
	}
	if !config.Backend.IsUnknown() {
		validateBackendAttributes(config, pinned, &resp.Diagnostics)
	}
	if config.Backend.ValueString() == backendOperator {
		if warning := puller.ImagePullerImageWarning(config.HelperImage.ValueString()); warning != "" {
			resp.Diagnostics.AddAttributeWarning(path.Root("helper_image"),
				"Helper Image Replaced by Operator", warning)
		}
	}
	validateTolerations(ctx, config, &resp.Diagnostics)
	validateNodeAffinity(ctx, config, &resp.Diagnostics)
	validateRequestsWithinLimits(config, &resp.Diagnostics)
	validateOwnLabels(config, &resp.Diagnostics)
}

// validateBackendAttributes checks that the attributes set fit the backend: namespace and
// the pod settings for a DaemonSet, machine_config_pools for a PinnedImageSet.
func validateBackendAttributes(config imagePullerModel, pinned bool, diags *diag.Diagnostics) {
	if config.Backend.ValueString() == backendOperator {
		// The KubernetesImagePuller has no field for these.
		for name, value := range map[string]attr.Value{
			"priority_class_name": config.PriorityClassName,
			"max_unavailable":     config.MaxUnavailable,
		} {
			if !value.IsNull() {
				diags.AddAttributeError(path.Root(name), "Attribute Not Used by Backend",
					fmt.Sprintf("A KubernetesImagePuller has no field for %s, so the "+
						"operator backend cannot set it. Remove it, or use the daemonset "+
						"backend.", name))
			}
		}
		if !config.KeepCached.IsNull() && !config.KeepCached.IsUnknown() &&
			!config.KeepCached.ValueBool() {
			diags.AddAttributeError(path.Root("keep_cached"), "Attribute Not Used by Backend",
				"The kubernetes-image-puller operator always keeps one sleeping container "+
					"per image, so the operator backend cannot only pull. Remove "+
					"keep_cached, or use the daemonset backend.")
		}
	}
	if !pinned {
		if config.Namespace.IsNull() {
			diags.AddAttributeError(path.Root("namespace"), "Missing Namespace",
				"The daemonset and operator backends run a DaemonSet in a namespace. Set "+
					"namespace to an existing namespace.")
		}
		if !config.MachineConfigPools.IsNull() {
			diags.AddAttributeError(path.Root("machine_config_pools"),
				"Attribute Not Used by Backend",
				"machine_config_pools applies only to backend = \"pinned\". The daemonset "+
					"and operator backends select nodes with node_selector, node_affinity "+
					"and tolerations.")
		}
		return
	}

	if !config.Namespace.IsNull() {
		diags.AddAttributeError(path.Root("namespace"), "Attribute Not Used by Backend",
			"A PinnedImageSet is cluster-scoped, so the pinned backend takes no namespace. "+
				"Remove it.")
	}
	if config.MachineConfigPools.IsNull() {
		diags.AddAttributeError(path.Root("machine_config_pools"), "Missing Machine Config Pools",
			"The pinned backend pins the images on the nodes of machine config pools. Set "+
				"machine_config_pools, such as [\"worker\"].")
	}
	for name, value := range map[string]attr.Value{
		"node_selector": config.NodeSelector, "tolerations": config.Tolerations,
		"node_affinity": config.NodeAffinity, "image_pull_secrets": config.ImagePullSecrets,
		"priority_class_name": config.PriorityClassName,
		"max_unavailable":     config.MaxUnavailable, "cpu_request": config.CPURequest,
		"cpu_limit": config.CPULimit, "memory_request": config.MemoryRequest,
		"memory_limit": config.MemoryLimit, "keep_cached": config.KeepCached,
		"helper_image": config.HelperImage,
	} {
		if !value.IsNull() {
			diags.AddAttributeError(path.Root(name), "Attribute Not Used by Backend",
				fmt.Sprintf("%s configures the puller's pods, which only the daemonset "+
					"and operator backends run. The pinned backend pins images on the "+
					"nodes of machine_config_pools, which pull with the cluster's global "+
					"pull secret. Remove %s.", name, name))
		}
	}
}

// validateRequestsWithinLimits rejects a request above its limit, which the API server
// rejects when it writes the DaemonSet.
func validateRequestsWithinLimits(config imagePullerModel, diags *diag.Diagnostics) {
	for _, pair := range []struct {
		request, limit types.String
		name           string
	}{
		{config.CPURequest, config.CPULimit, "cpu"},
		{config.MemoryRequest, config.MemoryLimit, "memory"},
	} {
		if pair.request.IsNull() || pair.request.IsUnknown() || pair.limit.IsNull() ||
			pair.limit.IsUnknown() {
			continue
		}
		request, requestErr := k8sresource.ParseQuantity(pair.request.ValueString())
		limit, limitErr := k8sresource.ParseQuantity(pair.limit.ValueString())
		if requestErr == nil && limitErr == nil && request.Cmp(limit) > 0 {
			diags.AddAttributeError(path.Root(pair.name+"_request"), "Request Above Limit",
				fmt.Sprintf("%s_request %q is above %s_limit %q, which the API server "+
					"rejects. Lower the request or raise the limit.", pair.name,
					pair.request.ValueString(), pair.name, pair.limit.ValueString()))
		}
	}
}

// validateOwnLabels rejects labels that the puller sets itself, which would be overwritten
// on every apply and so show as a change in every plan.
func validateOwnLabels(config imagePullerModel, diags *diag.Diagnostics) {
	if config.Labels.IsNull() || config.Labels.IsUnknown() {
		return
	}
	for key := range config.Labels.Elements() {
		if slices.Contains(pullerLabelKeys, key) {
			diags.AddAttributeError(path.Root("labels").AtMapKey(key), "Reserved Label",
				fmt.Sprintf("The label %q is set by the provider itself (%s). Remove it "+
					"from labels.", key, strings.Join(pullerLabelKeys, ", ")))
		}
	}
}

func addImageProblems(diags *diag.Diagnostics, problems []puller.Problem) {
	for _, problem := range problems {
		at := path.Root("images")
		if problem.Key != "" {
			at = at.AtMapKey(problem.Key)
		}
		if problem.Warning {
			diags.AddAttributeWarning(at, problem.Summary, problem.Detail)
		} else {
			diags.AddAttributeError(at, problem.Summary, problem.Detail)
		}
	}
}

// validateTolerations applies the API server's rules for tolerations, so that a rejected
// one fails at plan time on its attribute.
func validateTolerations(ctx context.Context, config imagePullerModel, diags *diag.Diagnostics) {
	if config.Tolerations.IsNull() || config.Tolerations.IsUnknown() {
		return
	}
	var tolerations []tolerationModel
	if config.Tolerations.ElementsAs(ctx, &tolerations, false).HasError() {
		return
	}
	for i, toleration := range tolerations {
		at := path.Root("tolerations").AtListIndex(i)
		exists := toleration.Operator.ValueString() == "Exists"
		if key := toleration.Key.ValueString(); key != "" && !toleration.Key.IsUnknown() {
			if problems := validation.IsQualifiedName(key); len(problems) > 0 {
				diags.AddAttributeError(at.AtName("key"), "Invalid Toleration",
					fmt.Sprintf("tolerations[%d].key %q is not a valid taint key: %s.", i,
						key, strings.Join(problems, "; ")))
			}
		}
		switch {
		case toleration.Key.IsNull() && !toleration.Operator.IsUnknown() && !exists:
			diags.AddAttributeError(at.AtName("operator"), "Invalid Toleration",
				fmt.Sprintf("tolerations[%d] has no key, so it must have operator "+
					"\"Exists\", which tolerates every taint.", i))
		case exists && !toleration.Value.IsNull() && !toleration.Value.IsUnknown():
			diags.AddAttributeError(at.AtName("value"), "Invalid Toleration",
				fmt.Sprintf("tolerations[%d] has operator \"Exists\", which matches any "+
					"value, so it takes no value. Remove value, or use operator \"Equal\".", i))
		case !exists && !toleration.Operator.IsUnknown() && !toleration.Value.IsUnknown():
			// The API server checks the value of an "Equal" toleration as a label value.
			value := toleration.Value.ValueString()
			if problems := validation.IsValidLabelValue(value); len(problems) > 0 {
				diags.AddAttributeError(at.AtName("value"), "Invalid Toleration",
					fmt.Sprintf("tolerations[%d].value %q is not a valid taint value: %s.", i,
						value, strings.Join(problems, "; ")))
			}
		}
		if !toleration.TolerationSeconds.IsNull() && !toleration.Effect.IsUnknown() &&
			toleration.Effect.ValueString() != string(corev1.TaintEffectNoExecute) {
			diags.AddAttributeError(at.AtName("toleration_seconds"), "Invalid Toleration",
				fmt.Sprintf("tolerations[%d].toleration_seconds applies only to effect "+
					"\"NoExecute\". Set that effect or remove toleration_seconds.", i))
		}
	}
}

// validateNodeAffinity checks each key and the number of values each operator takes, as the
// API server does.
func validateNodeAffinity(ctx context.Context, config imagePullerModel, diags *diag.Diagnostics) {
	if config.NodeAffinity.IsNull() || containsUnknownDeep(config.NodeAffinity) {
		return
	}
	var terms []nodeAffinityTermModel
	if config.NodeAffinity.ElementsAs(ctx, &terms, false).HasError() {
		return
	}
	for i, term := range terms {
		for j, expression := range term.MatchExpressions {
			at := path.Root("node_affinity").AtListIndex(i).AtName("match_expressions").
				AtListIndex(j).AtName("values")
			key := expression.Key.ValueString()
			if problems := validation.IsQualifiedName(key); len(problems) > 0 {
				diags.AddAttributeError(path.Root("node_affinity").AtListIndex(i).
					AtName("match_expressions").AtListIndex(j).AtName("key"),
					"Invalid Node Affinity",
					fmt.Sprintf("node_affinity[%d].match_expressions[%d].key %q is not a "+
						"valid label key: %s.", i, j, key, strings.Join(problems, "; ")))
			}
			values := stringElements(expression.Values)
			operator := expression.Operator.ValueString()
			var problem string
			switch operator {
			case "In", "NotIn":
				if len(values) == 0 {
					problem = "needs at least one value"
				}
			case "Exists", "DoesNotExist":
				if len(values) > 0 {
					problem = "takes no values"
				}
			case "Gt", "Lt":
				if len(values) != 1 {
					problem = "needs exactly one value"
				} else if _, err := strconv.ParseInt(values[0], 10, 64); err != nil {
					problem = "needs an integer value"
				}
			}
			if problem != "" {
				diags.AddAttributeError(at, "Invalid Node Affinity",
					fmt.Sprintf("node_affinity[%d].match_expressions[%d]: operator %q %s.",
						i, j, operator, problem))
			}
		}
	}
}

// ModifyPlan sets id once namespace and name are known. With wait_for_cached, it plans an
// update when the last refresh found images missing, so that apply waits for them again.
func (r *imagePullerResource) ModifyPlan(
	ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse,
) {
	if !req.Plan.Raw.IsNull() {
		requireClusterSettings(r.clients, &resp.Diagnostics)
	}
	if req.Plan.Raw.IsNull() {
		return
	}
	var plan imagePullerModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	switch {
	case plan.Backend.IsUnknown() || plan.Name.IsUnknown() || plan.Namespace.IsUnknown():
	case plan.Backend.ValueString() == backendPinned:
		plan.ID = plan.Name
	default:
		plan.ID = types.StringValue(plan.Namespace.ValueString() + "/" + plan.Name.ValueString())
	}
	r.planResolvedImages(ctx, &plan, &resp.Diagnostics)

	var state imagePullerModel
	if !req.State.Raw.IsNull() {
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	}
	// The framework keeps the prior status while the configuration is unchanged. Three cases
	// still need an apply, which reads a new status: a moved tag changes resolved_images, a
	// pod template changed outside Terraform needs a rewrite, and images missing at the last
	// refresh call for another wait.
	tagMoved := !req.State.Raw.IsNull() && !plan.ResolvedImages.Equal(state.ResolvedImages)
	drift, privateDiags := req.Private.GetKey(ctx, privateTemplateDrift)
	resp.Diagnostics.Append(privateDiags...)
	templateChanged := string(drift) == "true"
	if tagMoved || templateChanged ||
		plan.WaitForCached.ValueBool() && plan.ImagesMissing.ValueInt64() > 0 {
		plan.Nodes = types.ListUnknown(types.ObjectType{
			AttrTypes: imagePullerNodeAttributeTypes})
		plan.NodeCount = types.Int64Unknown()
		plan.NodesCached = types.Int64Unknown()
		plan.ImagesMissing = types.Int64Unknown()
		plan.ExcludedNodes = types.ListUnknown(types.ObjectType{
			AttrTypes: imagePullerExclusionAttributeTypes})
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, plan)...)
}

func (r *imagePullerResource) Create(
	ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse,
) {
	var plan imagePullerModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Create(ctx, imagePullerDefaultTimeout)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	switch plan.Backend.ValueString() {
	case backendPinned, backendOperator:
		written := false
		if plan.Backend.ValueString() == backendPinned {
			written = r.createPinned(ctx, &plan, timeout, &resp.Diagnostics)
		} else {
			written = r.createOperator(ctx, &plan, timeout, &resp.Diagnostics)
		}
		// State is saved only for an object that exists, which is then marked tainted when
		// the apply failed after writing it.
		if written {
			resp.Diagnostics.Append(resp.State.Set(ctx, plan)...)
		}
		return
	}
	client := kubernetesClient(r.clients, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	daemonSet, images := r.render(ctx, client, &plan, &resp.Diagnostics)
	checkPullSecrets(ctx, client, plan, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}

	namespace, name := plan.Namespace.ValueString(), plan.Name.ValueString()
	tflog.Debug(ctx, "Creating image puller DaemonSet", map[string]any{
		"namespace": namespace, "name": name, "images": len(images),
	})
	written := time.Now()
	daemonSets := client.AppsV1().DaemonSets(namespace)
	created, _, err := kube.CreateOnce(ctx, daemonSet,
		func(ctx context.Context) (*appsv1.DaemonSet, error) {
			return daemonSets.Create(ctx, daemonSet, metav1.CreateOptions{})
		},
		func(ctx context.Context) (*appsv1.DaemonSet, error) {
			return daemonSets.Get(ctx, name, metav1.GetOptions{})
		})
	if err != nil {
		addDaemonSetWriteError(&resp.Diagnostics, "Unable to Create Image Puller", namespace,
			name, err)
		return
	}

	plan.ID = types.StringValue(namespace + "/" + name)
	waitAndSetStatus(ctx, &plan, daemonSetTarget(ctx, client, created, images, written),
		timeout, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, plan)...)
}

// render builds the DaemonSet for a plan, with the short names of its images recorded, and
// sets the plan's resolved_images when the plan could not.
func (r *imagePullerResource) render(ctx context.Context, client kubernetes.Interface,
	plan *imagePullerModel, diags *diag.Diagnostics) (*appsv1.DaemonSet, []puller.Image) {
	imageMap, _ := plan.imageMap()
	images, problems := puller.Images(imageMap)
	addImageProblems(diags, errorsOnly(problems))
	images = withResolvedReferences(images, r.resolvedImages(ctx, client, plan, diags))
	spec, specDiags := plan.spec(ctx, images)
	diags.Append(specDiags...)
	if diags.HasError() {
		return nil, nil
	}
	daemonSet := puller.DaemonSet(spec)
	if daemonSet.Annotations == nil {
		daemonSet.Annotations = map[string]string{}
	}
	daemonSet.Annotations[imageKeysAnnotation] = encodeImageKeys(images)
	return daemonSet, images
}

// checkPullSecrets fails when a Secret in image_pull_secrets does not exist in the puller's
// namespace, because the kubelet reads pull secrets from the pod's own namespace only and
// would pull without credentials. A Secret that cannot be read for another reason gives a
// warning.
func checkPullSecrets(ctx context.Context, client kubernetes.Interface, plan imagePullerModel,
	diags *diag.Diagnostics) {
	namespace := plan.Namespace.ValueString()
	for i, name := range stringElements(plan.ImagePullSecrets) {
		_, err := client.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
		switch {
		case err == nil:
		case kubeerrors.IsObjectNotFound(err, corev1.Resource("secrets"), name):
			diags.AddAttributeError(path.Root("image_pull_secrets").AtListIndex(i),
				"Pull Secret Not Found",
				fmt.Sprintf("Secret %q does not exist in namespace %q. The kubelet reads "+
					"pull secrets from the pod's own namespace only, so create the secret "+
					"there, for example with an imagedist_pull_secret in this namespace, "+
					"and refer to it so that Terraform creates it first.", name, namespace))
		default:
			diags.AddAttributeWarning(path.Root("image_pull_secrets").AtListIndex(i),
				"Unable to Check Pull Secret",
				fmt.Sprintf("Reading Secret %q in namespace %q failed, so the provider "+
					"cannot check that it exists: %s", name, namespace, redact(err.Error())))
		}
	}
}

// errorsOnly drops warnings, which the plan has shown already.
func errorsOnly(problems []puller.Problem) []puller.Problem {
	var out []puller.Problem
	for _, problem := range problems {
		if !problem.Warning {
			out = append(out, problem)
		}
	}
	return out
}

func (r *imagePullerResource) Read(
	ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse,
) {
	var state imagePullerModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if backend := state.Backend.ValueString(); backend != backendDaemonSet {
		found := false
		if backend == backendPinned {
			found = r.readPinned(ctx, &state, &resp.Diagnostics)
		} else {
			found = r.readOperator(ctx, &state, &resp.Diagnostics)
		}
		if !found {
			tflog.Info(ctx, "Image puller not found; removing it from state",
				map[string]any{"id": state.ID.ValueString(), "backend": backend})
			resp.State.RemoveResource(ctx)
			return
		}
		resp.Diagnostics.Append(resp.State.Set(ctx, state)...)
		return
	}
	client := kubernetesClient(r.clients, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}

	namespace, name := state.Namespace.ValueString(), state.Name.ValueString()
	daemonSet, err := client.AppsV1().DaemonSets(namespace).Get(ctx, name, metav1.GetOptions{})
	if kubeerrors.IsObjectNotFound(err, daemonSetsResource, name) {
		tflog.Info(ctx, "Image puller DaemonSet not found; removing it from state",
			map[string]any{"namespace": namespace, "name": name})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		addAPIError(&resp.Diagnostics, "Unable to Read Image Puller",
			fmt.Sprintf("Reading DaemonSet %q in namespace %q failed. Check the provider's "+
				"permissions on daemonsets.", name, namespace), err)
		return
	}

	resp.Diagnostics.Append(flattenDaemonSet(ctx, &state, daemonSet)...)
	// Changes to what the attributes do not show, such as a container's command, are
	// recorded in private state, so that the next plan rewrites the pod template.
	drift := []byte(nil)
	if spec, specDiags := state.spec(ctx, daemonSetImages(daemonSet)); !specDiags.HasError() &&
		templateDiffers(daemonSet, puller.DaemonSet(spec)) {
		tflog.Info(ctx, "Image puller pod template changed outside Terraform",
			map[string]any{"namespace": namespace, "name": name})
		drift = []byte("true")
	}
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateTemplateDrift, drift)...)
	judgement, err := judgeDaemonSet(ctx, client, daemonSet, daemonSetImages(daemonSet))
	if err != nil {
		addAPIError(&resp.Diagnostics, "Unable to Read Image Puller Status",
			fmt.Sprintf("Listing the nodes and the pods of DaemonSet %q in namespace %q "+
				"failed. Check the provider's permissions to list nodes and pods.", name,
				namespace), err)
		return
	}
	resp.Diagnostics.Append(flattenNodeStatuses(ctx, &state, judgement)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, state)...)
}

// daemonSetImages returns the images of a puller DaemonSet with their short names.
func daemonSetImages(daemonSet *appsv1.DaemonSet) []puller.Image {
	containers, _ := imageContainers(&daemonSet.Spec.Template.Spec)
	keys := imageKeysByContainer(daemonSet.Annotations)
	images := make([]puller.Image, 0, len(containers))
	for _, container := range containers {
		key, ok := keys[container.Name]
		if !ok {
			key = container.Name
		}
		images = append(images, puller.Image{
			Key: key, Reference: container.Image, Container: container.Name,
		})
	}
	return images
}

func (r *imagePullerResource) Update(
	ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse,
) {
	var plan imagePullerModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Update(ctx, imagePullerDefaultTimeout)
	resp.Diagnostics.Append(diags...)
	var state imagePullerModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	switch plan.Backend.ValueString() {
	case backendPinned:
		r.updatePinned(ctx, &plan, &state, timeout, &resp.Diagnostics)
		resp.Diagnostics.Append(resp.State.Set(ctx, plan)...)
		return
	case backendOperator:
		r.updateOperator(ctx, &plan, &state, timeout, &resp.Diagnostics)
		resp.Diagnostics.Append(resp.State.Set(ctx, plan)...)
		return
	}
	client := kubernetesClient(r.clients, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	desired, images := r.render(ctx, client, &plan, &resp.Diagnostics)
	checkPullSecrets(ctx, client, plan, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}

	namespace, name := plan.Namespace.ValueString(), plan.Name.ValueString()
	daemonSets := client.AppsV1().DaemonSets(namespace)
	written := time.Now()
	var updated *appsv1.DaemonSet
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		current, err := daemonSets.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		next := current.DeepCopy()
		next.Spec.Template = desired.Spec.Template
		next.Spec.UpdateStrategy = desired.Spec.UpdateStrategy
		next.Spec.RevisionHistoryLimit = desired.Spec.RevisionHistoryLimit
		next.Labels = pullerLabels(current.Labels, state, plan, desired.Labels)
		if next.Annotations == nil {
			next.Annotations = map[string]string{}
		}
		next.Annotations[imageKeysAnnotation] = desired.Annotations[imageKeysAnnotation]
		tflog.Debug(ctx, "Updating image puller DaemonSet", map[string]any{
			"namespace": namespace, "name": name, "images": len(images),
		})
		updated, err = daemonSets.Update(ctx, next, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		addDaemonSetWriteError(&resp.Diagnostics, "Unable to Update Image Puller", namespace,
			name, err)
		return
	}

	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateTemplateDrift, nil)...)
	waitAndSetStatus(ctx, &plan, daemonSetTarget(ctx, client, updated, images, written),
		timeout, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, plan)...)
}

func (r *imagePullerResource) Delete(
	ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse,
) {
	var state imagePullerModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	timeout, diags := state.Timeouts.Delete(ctx, imagePullerDefaultTimeout)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	switch state.Backend.ValueString() {
	case backendPinned:
		r.deletePinned(ctx, &state, timeout, &resp.Diagnostics)
		return
	case backendOperator:
		r.deleteOperator(ctx, &state, timeout, &resp.Diagnostics)
		return
	}
	client := kubernetesClient(r.clients, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}

	namespace, name := state.Namespace.ValueString(), state.Name.ValueString()
	daemonSets := client.AppsV1().DaemonSets(namespace)
	// Foreground deletion keeps the DaemonSet until the garbage collector has deleted its
	// pods, so its absence means the pods are gone too.
	propagation := metav1.DeletePropagationForeground
	err := daemonSets.Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &propagation})
	if kubeerrors.IsObjectNotFound(err, daemonSetsResource, name) {
		return
	}
	if err != nil {
		addAPIError(&resp.Diagnostics, "Unable to Delete Image Puller",
			fmt.Sprintf("Deleting DaemonSet %q in namespace %q failed. Check the provider's "+
				"permissions on daemonsets.", name, namespace), err)
		return
	}

	waitUntilGone(ctx, timeout, fmt.Sprintf("DaemonSet %q in namespace %q", name, namespace),
		func() (bool, error) {
			_, err := daemonSets.Get(ctx, name, metav1.GetOptions{})
			if kubeerrors.IsObjectNotFound(err, daemonSetsResource, name) {
				return true, nil
			}
			return false, err
		}, &resp.Diagnostics)
}

// privateTemplateDrift is the private state key that records a pod template changed outside
// Terraform.
const privateTemplateDrift = "template_drift"

// templateDiffers reports whether the live DaemonSet's pod template differs from the
// rendered one in what the provider writes: each container's name, image, command,
// arguments and pull policy, and the volumes. Fields that the API server fills in are not
// compared.
func templateDiffers(live, rendered *appsv1.DaemonSet) bool {
	differ := func(a, b []corev1.Container) bool {
		return !slices.EqualFunc(a, b, func(x, y corev1.Container) bool {
			return x.Name == y.Name && x.Image == y.Image &&
				slices.Equal(x.Command, y.Command) && slices.Equal(x.Args, y.Args) &&
				x.ImagePullPolicy == y.ImagePullPolicy
		})
	}
	livePod, renderedPod := live.Spec.Template.Spec, rendered.Spec.Template.Spec
	volumeNames := func(volumes []corev1.Volume) []string {
		names := make([]string, len(volumes))
		for i, volume := range volumes {
			names[i] = volume.Name
		}
		return names
	}
	return differ(livePod.Containers, renderedPod.Containers) ||
		differ(livePod.InitContainers, renderedPod.InitContainers) ||
		!slices.Equal(volumeNames(livePod.Volumes), volumeNames(renderedPod.Volumes))
}

// pullerLabels returns the labels of an object to update: the ones that others set, the
// plan's labels, and the puller's own labels from desired, which win.
func pullerLabels(current map[string]string, state, plan imagePullerModel,
	desired map[string]string) map[string]string {
	labels := applyOwnedMetadata(current, state.Labels, plan.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	for _, key := range pullerLabelKeys {
		labels[key] = desired[key]
	}
	return labels
}

// waitUntilGone polls gone at growing intervals until it reports true, fails, or timeout
// passes, and reports the last two as errors about object.
func waitUntilGone(ctx context.Context, timeout time.Duration, object string,
	gone func() (bool, error), diags *diag.Diagnostics) {
	deadline := time.Now().Add(timeout)
	interval := min(time.Second, imagePullerPollInterval)
	for {
		done, err := gone()
		switch {
		case done:
			return
		case err != nil:
			addAPIError(diags, "Unable to Confirm Image Puller Deletion",
				fmt.Sprintf("%s was deleted, but reading it back failed.", object), err)
			return
		case time.Now().After(deadline):
			diags.AddError("Timed Out Deleting Image Puller",
				fmt.Sprintf("%s still exists %s after its deletion, because what it made "+
					"is not gone yet: the pods, or for a PinnedImageSet its finalizers. "+
					"Check them, or raise timeouts.delete, and destroy again.", object,
					timeout))
			return
		}
		select {
		case <-ctx.Done():
			diags.AddError("Deletion of Image Puller Interrupted",
				fmt.Sprintf("%s is being deleted, but the wait was interrupted. Destroy "+
					"again to confirm that it is gone.", object))
			return
		case <-time.After(interval):
		}
		interval = min(2*interval, imagePullerPollInterval)
	}
}

func (r *imagePullerResource) ImportState(
	ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse,
) {
	namespace, name, found := strings.Cut(req.ID, "/")
	if !found && len(validation.IsDNS1123Subdomain(req.ID)) == 0 {
		r.importPinned(ctx, req.ID, resp)
		return
	}
	if !found || namespace == "" || name == "" || strings.Contains(name, "/") {
		resp.Diagnostics.AddError("Invalid Import ID",
			fmt.Sprintf("The import ID %q is neither namespace/name nor name. Import a "+
				"DaemonSet puller by its namespace and name, such as `terraform import "+
				"imagedist_image_puller.example team-a/prepull`, and a pinned one by the "+
				"name of its PinnedImageSet.", req.ID))
		return
	}
	if problem := importNameProblem(namespace, name); problem != "" {
		resp.Diagnostics.AddError("Invalid Import ID",
			fmt.Sprintf("The import ID %q is not namespace/name of a DaemonSet puller: %s.",
				req.ID, problem))
		return
	}
	r.importNamespaced(ctx, namespace, name, resp)
}

// importNamespaced imports the KubernetesImagePuller or, without one, the DaemonSet named
// name in namespace. The operator's DaemonSet has the name of its KubernetesImagePuller, so
// the CR decides the backend.
func (r *imagePullerResource) importNamespaced(ctx context.Context, namespace, name string,
	resp *resource.ImportStateResponse) {
	client := kubernetesClient(r.clients, &resp.Diagnostics)
	dynamicClient := dynamicClient(r.clients, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	backend := backendDaemonSet
	if r.operatorExists(ctx, dynamicClient, namespace, name, &resp.Diagnostics) {
		backend = backendOperator
	}
	if resp.Diagnostics.HasError() {
		return
	}

	if backend == backendDaemonSet {
		daemonSet, err := client.AppsV1().DaemonSets(namespace).Get(ctx, name,
			metav1.GetOptions{})
		switch {
		case kubeerrors.IsObjectNotFound(err, daemonSetsResource, name):
			resp.Diagnostics.AddError("Image Puller Not Found",
				fmt.Sprintf("Neither a KubernetesImagePuller nor a DaemonSet named %q exists "+
					"in namespace %q, so there is nothing to import.", name, namespace))
			return
		case err != nil:
			addAPIError(&resp.Diagnostics, "Unable to Read Image Puller",
				fmt.Sprintf("Reading DaemonSet %q in namespace %q failed. Check the "+
					"provider's permissions on daemonsets.", name, namespace), err)
			return
		case daemonSet.Labels[puller.LabelName] == "":
			resp.Diagnostics.AddWarning("DaemonSet Not Made by This Provider",
				fmt.Sprintf("DaemonSet %q in namespace %q lacks the %s label of an image "+
					"puller. The next apply replaces its pod template with the puller's, "+
					"and destroy deletes it.", name, namespace, puller.LabelName))
		}
	}

	setImportedAttributes(ctx, resp, map[string]any{
		"id": namespace + "/" + name, "namespace": namespace, "name": name, "backend": backend,
	})
}

// setImportedAttributes sets the attributes that identify an imported puller, and the
// defaults of the attributes that refresh does not read.
func setImportedAttributes(ctx context.Context, resp *resource.ImportStateResponse,
	values map[string]any) {
	values["wait_for_cached"] = true
	values["resolve_digests"] = false
	for attribute, value := range values {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root(attribute), value)...)
	}
}

// importPinned imports the PinnedImageSet named name.
func (r *imagePullerResource) importPinned(ctx context.Context, name string,
	resp *resource.ImportStateResponse) {
	client := dynamicClient(r.clients, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	_, err := client.Resource(pinnedImageSetGVR).Get(ctx, name, metav1.GetOptions{})
	if kubeerrors.IsObjectNotFound(err, pinnedImageSetsResource, name) {
		resp.Diagnostics.AddError("Image Puller Not Found",
			fmt.Sprintf("PinnedImageSet %q does not exist, so there is nothing to import. "+
				"A DaemonSet puller is imported as namespace/name.", name))
		return
	}
	if err != nil {
		addPinnedReadError(&resp.Diagnostics, name, err)
		return
	}
	setImportedAttributes(ctx, resp, map[string]any{
		"id": name, "name": name, "backend": backendPinned,
	})
}

// addDaemonSetWriteError reports a failed create or update of the puller's DaemonSet.
func addDaemonSetWriteError(diags *diag.Diagnostics, summary, namespace, name string,
	err error) {
	switch {
	case apierrors.IsAlreadyExists(err):
		addAPIError(diags, summary, fmt.Sprintf("DaemonSet %q already exists in namespace "+
			"%q. Import it with `terraform import` to manage it, or choose another name.",
			name, namespace), err)
	case apierrors.IsNotFound(err) && summary == "Unable to Create Image Puller":
		addAPIError(diags, summary, fmt.Sprintf("Namespace %q does not exist. Create it "+
			"first, for example with a kubernetes_namespace resource that this one refers "+
			"to.", namespace), err)
	case apierrors.IsNotFound(err):
		addAPIError(diags, summary, fmt.Sprintf("DaemonSet %q in namespace %q was deleted "+
			"after the plan was made. Apply again to create it.", name, namespace), err)
	case apierrors.IsInvalid(err):
		addAPIError(diags, summary, fmt.Sprintf("The API server rejected DaemonSet %q in "+
			"namespace %q as invalid. The message below names the field; please report "+
			"it if the plan should have caught it.", name, namespace), err)
	default:
		addAPIError(diags, summary, fmt.Sprintf("Writing DaemonSet %q in namespace %q "+
			"failed. Check the message below and the provider's permissions on daemonsets.",
			name, namespace), err)
	}
}
