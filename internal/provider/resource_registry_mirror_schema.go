package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/imagedist/terraform-provider-imagedist/internal/mirrors"
)

func (r *registryMirrorResource) Schema(
	_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse,
) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Manages OpenShift registry mirror rules as an " +
			"`ImageDigestMirrorSet`, an `ImageTagMirrorSet` or both " +
			"(`config.openshift.io/v1`, OpenShift 4.13 and later), named `name`.\n\n" +
			"Each `mirror` block is one rule: pulls of images under `source` may be served " +
			"by `mirrors`, tried in the order written. The plan rejects what OpenShift " +
			"would reject or silently ignore: sources and mirrors that do not match the " +
			"CRD's grammar, tags, digests and schemes, wildcard mirrors, duplicate mirrors " +
			"and sources, a policy without mirrors, and `NeverContactSource` with the " +
			"source among its own mirrors.\n\n" +
			"When the cluster is reachable at plan time, the plan also reads the " +
			"`ImageDigestMirrorSet`, `ImageTagMirrorSet` and `ImageContentSourcePolicy` " +
			"objects already on the cluster and rejects a rule whose " +
			"`mirror_source_policy` differs from theirs for the same source, naming both " +
			"objects, because the machine-config operator then stops updating " +
			"registries.conf on every node. The check sees only objects already on the " +
			"cluster, so two resources of one configuration with the same source are " +
			"checked on the next plan. The error then says how to resolve it.\n\n" +
			"Create never takes over an object of the same name that exists already, nor " +
			"does a `pull_type` change to `both`: the apply fails and leaves that object " +
			"as it is. Import it with `terraform import`, or choose another name.\n\n" +
			"**Node drains.** The machine-config operator renders these objects into " +
			"`/etc/containers/registries.conf` on every node. Creating or changing tag " +
			"mirrors (`pull_type` `tag` or `both`) drains and reboots every node of each " +
			"pool in turn. For digest mirrors, creating rules and adding mirrors to " +
			"existing rules only reloads CRI-O, while removing a rule or a mirror, or " +
			"changing `mirror_source_policy`, drains and reboots the nodes. Changing " +
			"`pull_type` always drains. The plan shows a warning for a change it predicts " +
			"to drain. Mirror order is kept exactly as written.\n\n" +
			"If the objects are deleted outside Terraform, the next plan creates them. " +
			"Changes to the rules, their order or policies made outside Terraform show " +
			"as drift. With `pull_type` `both`, when the two objects' rules differ, the " +
			"state holds the `ImageDigestMirrorSet`'s rules followed by the " +
			"`ImageTagMirrorSet`'s (or no rules when one of them has none), so the plan " +
			"shows drift and the apply rewrites both. A label managed by this resource " +
			"shows as drift unless both objects carry it with the configured value. On a " +
			"cluster without the mirror set CRDs (plain Kubernetes), " +
			"plans still work and apply fails with an error naming the missing CRD.",
		Attributes: registryMirrorAttributes(),
		Blocks: map[string]schema.Block{
			"mirror": registryMirrorRuleBlock(),
		},
	}
}

func registryMirrorAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"id": schema.StringAttribute{
			Computed:            true,
			MarkdownDescription: "The `name`, also the import ID.",
			PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
		},
		"name": schema.StringAttribute{
			Required: true,
			MarkdownDescription: "The name of the mirror set objects, a DNS-1123 " +
				"subdomain. Changing it replaces them.",
			PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			Validators:    []validator.String{dns1123SubdomainValidator()},
		},
		"pull_type": schema.StringAttribute{
			Optional: true,
			Computed: true,
			Default:  stringdefault.StaticString(mirrors.PullTypeDigest),
			MarkdownDescription: fmt.Sprintf("Which pulls the mirrors serve: %s. `%s` "+
				"manages an `ImageDigestMirrorSet` (pulls by digest), `%s` an "+
				"`ImageTagMirrorSet` (pulls by tag) and `%s` both, with the same rules. "+
				"Defaults to `%s`.", quotedValues(mirrors.PullTypes), mirrors.PullTypeDigest,
				mirrors.PullTypeTag, mirrors.PullTypeBoth, mirrors.PullTypeDigest),
			Validators: []validator.String{stringvalidator.OneOf(mirrors.PullTypes...)},
		},
		"labels": schema.MapAttribute{
			Optional:    true,
			ElementType: types.StringType,
			MarkdownDescription: "Labels set on every managed object. Labels that others " +
				"add are kept and not shown. Import reads every label into state, so after " +
				"import, labels that the configuration does not set are removed on the next " +
				"apply: add them to the configuration to keep them.",
			Validators: []validator.Map{labelsValidator{}},
		},
		"object_kinds": schema.ListAttribute{
			Computed:    true,
			ElementType: types.StringType,
			MarkdownDescription: "The kinds of the objects managed, such as " +
				"`[\"ImageDigestMirrorSet\"]`, each named `name`.",
		},
	}
}

func registryMirrorRuleBlock() schema.ListNestedBlock {
	return schema.ListNestedBlock{
		MarkdownDescription: "One mirror rule. At least one is required. The rules are " +
			"written to the objects in this order, and each source may appear once.",
		Validators: []validator.List{listvalidator.IsRequired(), listvalidator.SizeAtLeast(1)},
		NestedObject: schema.NestedBlockObject{
			Attributes: map[string]schema.Attribute{
				mirrors.FieldSource: schema.StringAttribute{
					Required: true,
					MarkdownDescription: "The registry or repository whose pulls the mirrors " +
						"serve: `host[:port][/path]`, or `*.domain` for every host under a " +
						"domain. No scheme, tag or digest.",
				},
				mirrors.FieldMirrors: schema.ListAttribute{
					Optional:    true,
					ElementType: types.StringType,
					MarkdownDescription: "The mirrors, `host[:port][/path]`, tried in this " +
						"order. No wildcard and no duplicates.",
					Validators: []validator.List{listvalidator.NoNullValues()},
				},
				mirrors.FieldPolicy: schema.StringAttribute{
					Optional: true,
					MarkdownDescription: fmt.Sprintf("Whether `source` itself is contacted "+
						"when every mirror fails: `%s` or `%s`. Unset behaves like `%s`. "+
						"It needs at least one mirror, and `%s` must not list the source "+
						"among its mirrors.", mirrors.PolicyAllowContactingSource,
						mirrors.PolicyNeverContactSource, mirrors.PolicyAllowContactingSource,
						mirrors.PolicyNeverContactSource),
				},
			},
		},
	}
}

func quotedValues(values []string) string {
	quoted := make([]string, len(values))
	for i, value := range values {
		quoted[i] = "`" + value + "`"
	}
	return strings.Join(quoted, ", ")
}

// ValidateConfig checks the mirror rules with OpenShift's rules when all of them are known.
// ModifyPlan checks them again once unknown values are known.
func (r *registryMirrorResource) ValidateConfig(
	ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse,
) {
	var config registryMirrorModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() || containsUnknownDeep(config.Mirror) {
		return
	}

	blocks, diags := mirrorBlocks(ctx, config.Mirror)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(validateMirrorBlocks(blocks)...)
}
