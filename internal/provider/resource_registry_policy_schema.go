package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/imagedist/terraform-provider-imagedist/internal/registrypolicy"
)

func (r *registryPolicyResource) Schema(
	_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse,
) {
	resp.Schema = schema.Schema{
		MarkdownDescription: fmt.Sprintf("Manages the registry fields of OpenShift's "+
			"cluster-wide image configuration, the `config.openshift.io/v1` `Image` named "+
			"`%s`: the allowed, blocked, insecure and search registries of "+
			"`spec.registrySources`, and `spec.allowedRegistriesForImport`. Every other "+
			"field of the object, and the object itself, is left alone: the object is never "+
			"created or deleted.\n\n"+
			"**Ownership.** The resource writes with server-side apply as the field manager "+
			"`%s`, and only the fields that its configuration sets. A field that it does not "+
			"set is neither read nor shown, so values that other tools write there cause no "+
			"diff. Each list except `container_runtime_search_registries` is one atomic "+
			"value for server-side apply, so a list belongs wholly to its last writer: this "+
			"resource and another tool cannot each add entries to the same list. "+
			"`container_runtime_search_registries` is a set whose entries each have their "+
			"own owners, so the entries that another tool adds stay beside this resource's, "+
			"and are neither shown nor removed. The apply forces ownership of the fields it "+
			"sets, so "+
			"when the object already has values there (from `oc edit` or another manager), "+
			"create replaces them, and a change that another writer makes to them shows as "+
			"drift that the next apply reverts. Destroy applies an empty intent with the same "+
			"field manager, which releases the fields: the API server removes the values that "+
			"no other manager also owns and keeps the rest. Import, with the ID `%s`, reads "+
			"the fields that this field manager owns. Values that other tools wrote are not "+
			"imported, so the first apply after an import takes over the fields that the "+
			"configuration sets.\n\n"+
			"**Rollout.** The machine-config operator renders `registrySources` into "+
			"`/etc/containers/registries.conf` and `/etc/containers/policy.json` on every "+
			"node: each node is cordoned, CRI-O restarts, and the node is uncordoned, pool by "+
			"pool. The Image object has no status conditions for this, so follow the "+
			"`MachineConfigPool` status. `allowed_registries_for_import` only affects image "+
			"stream imports and needs no node change.\n\n"+
			"**Checks.** The plan rejects what OpenShift rejects: `allowed_registries` "+
			"together with `blocked_registries`, empty lists, lists over %d entries, entries "+
			"outside 1 to %d characters, and entries that are not `host[:port][/path]` or a "+
			"`*.domain` wildcard (no scheme, tag or digest). It warns when "+
			"`allowed_registries` or `blocked_registries` would stop nodes from pulling the "+
			"cluster's own release images: it reads the release image from the "+
			"`ClusterVersion` `version` when the cluster has one, and otherwise checks the "+
			"repositories under `quay.io/openshift-release-dev`.",
			registrypolicy.ObjectName, registrypolicy.FieldManager, registrypolicy.ObjectName,
			registrypolicy.MaxEntries,
			registrypolicy.MaxEntryLength),
		Attributes: registryPolicyAttributesSchema(),
	}
}

func registryPolicyAttributesSchema() map[string]schema.Attribute {
	registryList := func(description string) schema.ListAttribute {
		return schema.ListAttribute{
			Optional:            true,
			ElementType:         types.StringType,
			MarkdownDescription: description,
			Validators:          []validator.List{listvalidator.NoNullValues()},
		}
	}
	return map[string]schema.Attribute{
		"id": schema.StringAttribute{
			Computed: true,
			MarkdownDescription: fmt.Sprintf("Always `%s`, the name of the Image object and "+
				"the only import ID.", registrypolicy.ObjectName),
			PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
		},
		"allowed_registries": registryList("The only registries that nodes may pull from " +
			"and push to (`spec.registrySources.allowedRegistries`); every other registry is " +
			"blocked, including `quay.io` and `registry.redhat.io` unless listed. Each entry " +
			"is `host[:port][/path]` or `*.domain`. Conflicts with `blocked_registries`."),
		"blocked_registries": registryList("Registries that nodes may not pull from or push " +
			"to (`spec.registrySources.blockedRegistries`), in the same form as " +
			"`allowed_registries`. Conflicts with `allowed_registries`."),
		"insecure_registries": registryList("Registries that nodes reach without a valid " +
			"TLS certificate or over plain HTTP (`spec.registrySources.insecureRegistries`), " +
			"in the same form as `allowed_registries`."),
		"container_runtime_search_registries": registryList("Host names of the registries " +
			"that CRI-O searches, in this order, for image names without a registry " +
			"(`spec.registrySources.containerRuntimeSearchRegistries`). No port, path or " +
			"duplicates. Builds and image stream imports do not use it."),
		"allowed_registries_for_import": schema.ListNestedAttribute{
			Optional: true,
			MarkdownDescription: "The registries that users may import image streams from " +
				"(`spec.allowedRegistriesForImport`). Users who may create `Image` or " +
				"`ImageStreamMapping` objects directly are not restricted.",
			Validators: []validator.List{listvalidator.NoNullValues()},
			NestedObject: schema.NestedAttributeObject{
				Attributes: map[string]schema.Attribute{
					"domain_name": schema.StringAttribute{
						Required: true,
						MarkdownDescription: "The registry's `host[:port]`, where `*` and `?` " +
							"are wildcards. Include the port unless it is 80 or 443.",
					},
					"insecure": schema.BoolAttribute{
						Optional: true,
						Computed: true,
						Default:  booldefault.StaticBool(false),
						MarkdownDescription: "Whether imports reach the registry over plain " +
							"HTTP or without TLS verification. Defaults to `false`.",
					},
				},
			},
		},
	}
}

// ValidateConfig checks the known fields with OpenShift's rules. ModifyPlan checks them again
// once unknown values are known.
func (r *registryPolicyResource) ValidateConfig(
	ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse,
) {
	var config registryPolicyModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}

	policy, diags := policyFromModel(ctx, config)
	resp.Diagnostics.Append(diags...)
	problems := registrypolicy.Validate(policy, registryPolicyAttributes)
	// policyFromModel leaves lists with unknown elements unset, but such a list is set all the
	// same. A wholly unknown list may still turn out null, so ModifyPlan checks it once known.
	set := func(list types.List) bool { return !list.IsNull() && !list.IsUnknown() }
	bothSet := set(config.AllowedRegistries) && set(config.BlockedRegistries)
	if bothSet && (policy.Allowed == nil || policy.Blocked == nil) {
		problems = append(problems, registrypolicy.ConflictProblem(registryPolicyAttributes))
	}
	addRegistryPolicyProblems(&resp.Diagnostics, problems)
}
