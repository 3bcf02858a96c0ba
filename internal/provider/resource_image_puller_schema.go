package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/imagedist/terraform-provider-imagedist/internal/puller"
)

// Backends of imagedist_image_puller.
const (
	backendDaemonSet = "daemonset"
	backendOperator  = "operator"
	backendPinned    = "pinned"
)

// defaultMaxUnavailable is the default of max_unavailable.
const defaultMaxUnavailable = "25%"

// imagePullerDefaultTimeout bounds each wait of imagedist_image_puller unless timeouts sets
// otherwise. Pulling large images onto many nodes takes minutes.
const imagePullerDefaultTimeout = 20 * time.Minute

func (r *imagePullerResource) Schema(
	ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse,
) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Pre-pulls container images onto nodes and keeps them cached, " +
			"so pods that use them start at once during scaling, rollouts and recovery.\n\n" +
			"The `daemonset` backend runs a DaemonSet owned by the provider, named `name`, in " +
			"`namespace`. Its pods run nothing from the cached images except a small static " +
			"`sleep` binary copied in from `helper_image`, so scratch and distroless images " +
			"work. With `keep_cached`, each image backs one sleeping container, so the " +
			"kubelet's image garbage collection treats it as in use and never removes it. " +
			"Without it, the images are pulled by init containers that exit at once, and " +
			"garbage collection may remove them later.\n\n" +
			fmt.Sprintf("With `wait_for_cached` (the default), create and update return "+
				"only when every node that the DaemonSet selects has every image, for at "+
				"most `timeouts.create` or `timeouts.update` (default %d minutes). The "+
				"provider judges this from the container statuses of its own pods, not from "+
				"the node's `status.images`, which the kubelet cuts to its largest 50 images "+
				"by default. On timeout, the error lists which nodes lack which images and "+
				"why, such as `ErrImagePull` with the registry's message. `nodes` shows the "+
				"same per node after each apply and refresh.\n\n",
				int(imagePullerDefaultTimeout.Minutes())) +
			"The containers use `imagePullPolicy: IfNotPresent`, so an update pulls only the " +
			"images that it adds, and a moved tag is not pulled again. Pin images by digest " +
			"to cache exactly what your workloads run.\n\n" +
			"The namespace needs room in its ResourceQuota for the requests and limits of one " +
			"container per image on every selected node, and its pod security admission " +
			"level must admit the pods, which run as the user the image sets.\n\n" +
			"With `wait_for_cached`, a refresh that finds images missing, such as on a " +
			"node that joined the cluster, makes the next plan propose an update that " +
			"waits for them again. A pod template changed outside Terraform also makes " +
			"the next plan propose an update, which rewrites it.\n\n" +
			"Destroy deletes what the backend wrote and waits until it is gone: the " +
			"DaemonSet and its pods, the KubernetesImagePuller and its operator's " +
			"DaemonSet, or the PinnedImageSet and its entries in the pools.",
		Attributes: imagePullerAttributes(),
		Blocks: map[string]schema.Block{
			"timeouts": timeouts.Block(ctx, timeouts.Opts{Create: true, Update: true,
				Delete: true}),
		},
	}
}

func imagePullerAttributes() map[string]schema.Attribute {
	attributes := map[string]schema.Attribute{
		"id": schema.StringAttribute{
			Computed: true,
			MarkdownDescription: "The DaemonSet's `namespace/name`, or the PinnedImageSet's " +
				"`name` for the `pinned` backend. It is also the import ID.",
			PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
		},
		"namespace": schema.StringAttribute{
			Optional: true,
			MarkdownDescription: "The namespace of the DaemonSet, required for the " +
				"`daemonset` backend and not set for `pinned`, whose objects are " +
				"cluster-scoped. It must exist. Changing it replaces the puller.",
			PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			Validators:    []validator.String{dns1123LabelValidator()},
		},
		"name": schema.StringAttribute{
			Required: true,
			MarkdownDescription: "The name of the DaemonSet, a DNS-1123 label, because it is " +
				"also the value of the pods' `" + puller.LabelInstance + "` label. Changing " +
				"it replaces the puller.",
			PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			Validators:    []validator.String{dns1123LabelValidator()},
		},
		"backend": schema.StringAttribute{
			Optional: true,
			Computed: true,
			Default:  stringdefault.StaticString(backendDaemonSet),
			MarkdownDescription: "How the images are pulled and kept. `daemonset` is a " +
				"DaemonSet owned by the provider that needs no operator. `operator` is a " +
				"`che.eclipse.org/v1alpha1` KubernetesImagePuller, one per namespace, that the " +
				"kubernetes-image-puller operator turns into a DaemonSet, which it " +
				"recreates every hour. `pinned` is an " +
				"OpenShift PinnedImageSet (OpenShift 4.19 and later) that the " +
				"machine-config daemon pulls and pins on each node of " +
				"`machine_config_pools`. Pinned images survive garbage collection without " +
				"a running container. OpenShift pins by digest only, so the provider " +
				"resolves tags as with `resolve_digests`, with the cluster's global pull " +
				"secret. Changing it replaces the puller.",
			PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			Validators: []validator.String{
				stringvalidator.OneOf(backendDaemonSet, backendOperator, backendPinned),
			},
		},
		"machine_config_pools": schema.SetAttribute{
			Optional:    true,
			ElementType: types.StringType,
			MarkdownDescription: "For the `pinned` backend: the machine config pools, such " +
				"as `worker`, whose nodes pin the images. The provider adds this set, and " +
				"only it, to each pool's `spec.pinnedImageSets` and removes it again on " +
				"destroy. Pinning does not drain or reboot nodes.",
			Validators: []validator.Set{
				setvalidator.SizeAtLeast(1),
				setvalidator.NoNullValues(),
				setvalidator.ValueStringsAre(dns1123SubdomainValidator()),
			},
		},
		"images": schema.MapAttribute{
			Required:    true,
			ElementType: types.StringType,
			MarkdownDescription: "The images to cache, by short name, such as `api = " +
				"\"quay.io/team/api:3.8.2\"`. Each short name becomes a container name: it " +
				"is lowercased, other characters than letters, digits and `-` become `-`, " +
				"and it is cut to 63 characters, so `Static_Bin` becomes `static-bin`. Two " +
				"names that end up the same are an error. A reference with the tag " +
				"`latest` or no tag gets a warning, because the node keeps whatever the tag " +
				"pointed to when it was pulled.",
		},
		"resolve_digests": schema.BoolAttribute{
			Optional: true,
			Computed: true,
			Default:  booldefault.StaticBool(false),
			MarkdownDescription: "Whether each tag is pinned to the digest that its registry " +
				"serves. The plan looks tags up with the credentials the nodes pull with, " +
				"which are `image_pull_secrets`, or the cluster's global pull secret for " +
				"the `pinned` backend, which always resolves tags. The nodes then pull exactly that " +
				"digest, and a moved tag shows as a change of `resolved_images` in the next " +
				"plan. The provider needs to reach " +
				"the registries, and `registry_ca_certificates` on the provider for an " +
				"internal CA. Defaults to `false`.",
		},
		"resolved_images": schema.MapAttribute{
			Computed:    true,
			ElementType: types.StringType,
			MarkdownDescription: "The reference written to the cluster for each image: the " +
				"reference as configured, or with `resolve_digests` the repository pinned to " +
				"the digest, such as `quay.io/team/api@sha256:...`.",
		},
		"keep_cached": schema.BoolAttribute{
			Optional: true,
			Computed: true,
			Default:  booldefault.StaticBool(true),
			MarkdownDescription: "Whether each image backs a sleeping container, so the " +
				"kubelet's image garbage collection never removes it. With `false` " +
				"(`daemonset` backend only), the images are only pulled, by init " +
				"containers that exit at once, and each pod keeps one sleeping container " +
				"from `helper_image`. Defaults to `true`.",
		},
		"helper_image": schema.StringAttribute{
			Optional: true,
			MarkdownDescription: "For the `daemonset` backend, the image whose `/bin/sleep` " +
				"is copied into each pod and run inside the cached images. That binary must " +
				"be statically linked, and the image must have `cp`. Unset means `" +
				puller.DefaultHelperImage + "`. Set a copy in your own registry for " +
				"disconnected clusters. For the `operator` backend, the " +
				"kubernetes-image-puller image that the operator runs, which also supplies " +
				"the sleep binary. Unset means the operator's default.",
			Validators: []validator.String{imageReferenceValidator{}},
		},
		"node_selector": schema.MapAttribute{
			Optional:    true,
			ElementType: types.StringType,
			MarkdownDescription: "Labels that a node must have to get the images, such as " +
				"`\"node-role.kubernetes.io/worker\" = \"\"` (`daemonset` and `operator` " +
				"backends). Unset selects every node whose taints the pods tolerate.",
			Validators: []validator.Map{labelsValidator{}},
		},
		"tolerations":        imagePullerTolerationsAttribute(),
		"node_affinity":      imagePullerNodeAffinityAttribute(),
		"image_pull_secrets": imagePullerPullSecretsAttribute(),
		"priority_class_name": schema.StringAttribute{
			Optional: true,
			MarkdownDescription: "The PriorityClass of the pods, so they are not the first " +
				"evicted when a node runs short of memory (`daemonset` backend).",
			Validators: []validator.String{dns1123SubdomainValidator()},
		},
		"max_unavailable": schema.StringAttribute{
			Optional: true,
			Computed: true,
			Default:  stringdefault.StaticString(defaultMaxUnavailable),
			MarkdownDescription: "How many nodes' pods an update replaces at a time, as a " +
				"number or a percentage of the selected nodes (`daemonset` backend). Higher " +
				"values finish sooner and load the registry more. Defaults to `25%`.",
			Validators: []validator.String{intOrPercentValidator{}},
		},
		"labels": schema.MapAttribute{
			Optional:    true,
			ElementType: types.StringType,
			MarkdownDescription: "Extra labels on the DaemonSet. The pods carry only the " +
				"puller's own labels.",
			Validators: []validator.Map{labelsValidator{}},
		},
		"wait_for_cached": schema.BoolAttribute{
			Optional: true,
			Computed: true,
			Default:  booldefault.StaticBool(true),
			MarkdownDescription: "Whether create and update wait until every selected node " +
				"has every image. Defaults to `true`.",
		},
		"nodes": schema.ListNestedAttribute{
			Computed: true,
			MarkdownDescription: "Each selected node, by name, with the images it has, as " +
				"read at the last apply or refresh.",
			NestedObject: schema.NestedAttributeObject{
				Attributes: imagePullerNodeAttributes(),
			},
		},
		"node_count": schema.Int64Attribute{
			Computed: true,
			MarkdownDescription: "The number of nodes selected: by the DaemonSet, or for the " +
				"`pinned` backend by the pools.",
		},
		"nodes_cached": schema.Int64Attribute{
			Computed:            true,
			MarkdownDescription: "The number of selected nodes that have every image.",
		},
		"excluded_nodes": schema.ListNestedAttribute{
			Computed: true,
			MarkdownDescription: "The nodes that get no images, each with the reason, such " +
				"as a taint that the pods do not tolerate, as read at the last apply or " +
				"refresh.",
			NestedObject: schema.NestedAttributeObject{
				Attributes: map[string]schema.Attribute{
					"name": schema.StringAttribute{
						Computed:            true,
						MarkdownDescription: "The node name.",
					},
					"reason": schema.StringAttribute{
						Computed:            true,
						MarkdownDescription: "Why the node gets no images.",
					},
				},
			},
		},
		"images_missing": schema.Int64Attribute{
			Computed: true,
			MarkdownDescription: "The number of images missing, summed over the selected " +
				"nodes.",
		},
	}
	for name, attribute := range imagePullerResourceAttributes() {
		attributes[name] = attribute
	}
	return attributes
}

func imagePullerResourceAttributes() map[string]schema.Attribute {
	quantity := func(cpu bool, description string) schema.StringAttribute {
		return schema.StringAttribute{
			Optional:            true,
			MarkdownDescription: description,
			Validators:          []validator.String{quantityValidator{cpu: cpu}},
		}
	}
	const each = " of each container of the puller's pods (`daemonset` and `operator` " +
		"backends). The `daemonset` backend gives it to the helper containers too, so " +
		"that a namespace whose ResourceQuota counts limits admits the pods."
	return map[string]schema.Attribute{
		"cpu_request": quantity(true, "The CPU request"+each+" The sleeping containers use "+
			"almost none, such as `5m`."),
		"cpu_limit":      quantity(true, "The CPU limit"+each),
		"memory_request": quantity(false, "The memory request"+each+" Such as `8Mi`."),
		"memory_limit": quantity(false, "The memory limit"+each+" It must not be below "+
			"`memory_request`."),
	}
}

func imagePullerTolerationsAttribute() schema.ListNestedAttribute {
	return schema.ListNestedAttribute{
		Optional: true,
		MarkdownDescription: "Taints that the pods tolerate, so the images also reach " +
			"tainted nodes, such as infrastructure nodes (`daemonset` and `operator` " +
			"backends).",
		NestedObject: schema.NestedAttributeObject{
			Attributes: map[string]schema.Attribute{
				"key": schema.StringAttribute{
					Optional: true,
					MarkdownDescription: "The taint key. Unset with operator `Exists` " +
						"tolerates every taint.",
				},
				"operator": schema.StringAttribute{
					Optional:            true,
					MarkdownDescription: "`Equal` (the default) or `Exists`.",
					Validators: []validator.String{
						stringvalidator.OneOf("Equal", "Exists"),
					},
				},
				"value": schema.StringAttribute{
					Optional:            true,
					MarkdownDescription: "The taint value, for operator `Equal`.",
				},
				"effect": schema.StringAttribute{
					Optional: true,
					MarkdownDescription: "`NoSchedule`, `PreferNoSchedule` or `NoExecute`. " +
						"Unset matches every effect.",
					Validators: []validator.String{
						stringvalidator.OneOf("NoSchedule", "PreferNoSchedule", "NoExecute"),
					},
				},
				"toleration_seconds": schema.Int64Attribute{
					Optional: true,
					MarkdownDescription: "For `NoExecute`, how long the pod stays after " +
						"the taint appears. Unset means forever.",
				},
			},
		},
	}
}

func imagePullerNodeAffinityAttribute() schema.ListNestedAttribute {
	return schema.ListNestedAttribute{
		Optional: true,
		MarkdownDescription: "Required node affinity: a node gets the images when it " +
			"matches any of these terms, and a term matches when all its expressions do " +
			"(`daemonset` and `operator` backends).",
		NestedObject: schema.NestedAttributeObject{
			Attributes: map[string]schema.Attribute{
				"match_expressions": schema.ListNestedAttribute{
					Required:            true,
					MarkdownDescription: "Expressions on node labels.",
					Validators:          []validator.List{listvalidator.SizeAtLeast(1)},
					NestedObject: schema.NestedAttributeObject{
						Attributes: map[string]schema.Attribute{
							"key": schema.StringAttribute{
								Required:            true,
								MarkdownDescription: "The node label key.",
							},
							"operator": schema.StringAttribute{
								Required: true,
								MarkdownDescription: "`In`, `NotIn`, `Exists`, " +
									"`DoesNotExist`, `Gt` or `Lt`.",
								Validators: []validator.String{stringvalidator.OneOf(
									"In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")},
							},
							"values": schema.ListAttribute{
								Optional:    true,
								ElementType: types.StringType,
								MarkdownDescription: "The values: at least one for `In` " +
									"and `NotIn`, exactly one integer for `Gt` and `Lt`, " +
									"none for `Exists` and `DoesNotExist`.",
							},
						},
					},
				},
			},
		},
	}
}

func imagePullerPullSecretsAttribute() schema.ListAttribute {
	return schema.ListAttribute{
		Optional:    true,
		ElementType: types.StringType,
		MarkdownDescription: "Names of pull secrets in `namespace` for private images, such " +
			"as the name of an `imagedist_pull_secret` (`daemonset` and `operator` " +
			"backends). Each must exist in `namespace`, because the kubelet reads pull " +
			"secrets from the pod's namespace only.",
		Validators: []validator.List{
			listvalidator.NoNullValues(),
			listvalidator.ValueStringsAre(dns1123SubdomainValidator()),
			listvalidator.UniqueValues(),
		},
	}
}

func imagePullerNodeAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"name": schema.StringAttribute{
			Computed:            true,
			MarkdownDescription: "The node name.",
		},
		"pod": schema.StringAttribute{
			Computed: true,
			MarkdownDescription: "The puller pod on the node, or empty when it has none yet " +
				"or for the `pinned` backend, which runs no pods.",
		},
		"ready": schema.BoolAttribute{
			Computed: true,
			MarkdownDescription: "Whether the pod is Ready, or for the `pinned` backend " +
				"whether the node has pinned the set.",
		},
		"cached": schema.ListAttribute{
			Computed:            true,
			ElementType:         types.StringType,
			MarkdownDescription: "Short names of the images on the node.",
		},
		"missing": schema.ListAttribute{
			Computed:            true,
			ElementType:         types.StringType,
			MarkdownDescription: "Short names of the images not on the node yet.",
		},
		"errors": schema.ListNestedAttribute{
			Computed:            true,
			MarkdownDescription: "Pull failures, such as `ErrImagePull`, by image.",
			NestedObject: schema.NestedAttributeObject{
				Attributes: map[string]schema.Attribute{
					"image": schema.StringAttribute{
						Computed:            true,
						MarkdownDescription: "The image's short name.",
					},
					"reason": schema.StringAttribute{
						Computed:            true,
						MarkdownDescription: "The kubelet's reason, such as `ErrImagePull`.",
					},
					"message": schema.StringAttribute{
						Computed:            true,
						MarkdownDescription: "The kubelet's message.",
					},
				},
			},
		},
	}
}

// Attribute types of the nodes and excluded_nodes lists, for building their values.
var (
	imagePullerExclusionAttributeTypes = map[string]attr.Type{
		"name": types.StringType, "reason": types.StringType,
	}
	imagePullerErrorAttributeTypes = map[string]attr.Type{
		"image": types.StringType, "reason": types.StringType, "message": types.StringType,
	}
	imagePullerNodeAttributeTypes = map[string]attr.Type{
		"name":    types.StringType,
		"pod":     types.StringType,
		"ready":   types.BoolType,
		"cached":  types.ListType{ElemType: types.StringType},
		"missing": types.ListType{ElemType: types.StringType},
		"errors": types.ListType{ElemType: types.ObjectType{
			AttrTypes: imagePullerErrorAttributeTypes,
		}},
	}
)
