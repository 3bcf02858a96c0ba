package provider

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/imagedist/terraform-provider-imagedist/internal/mirrors"
)

// registryMirrorModel is the Terraform state of imagedist_registry_mirror.
type registryMirrorModel struct {
	ID          types.String `tfsdk:"id"`
	Name        types.String `tfsdk:"name"`
	PullType    types.String `tfsdk:"pull_type"`
	Labels      types.Map    `tfsdk:"labels"`
	Mirror      types.List   `tfsdk:"mirror"`
	ObjectKinds types.List   `tfsdk:"object_kinds"`
}

// mirrorRuleModel is one mirror block.
type mirrorRuleModel struct {
	Source             types.String `tfsdk:"source"`
	Mirrors            types.List   `tfsdk:"mirrors"`
	MirrorSourcePolicy types.String `tfsdk:"mirror_source_policy"`
}

// mirrorRuleAttributeTypes is the object type of a mirror block, for building lists.
var mirrorRuleAttributeTypes = map[string]attr.Type{
	mirrors.FieldSource:  types.StringType,
	mirrors.FieldMirrors: types.ListType{ElemType: types.StringType},
	mirrors.FieldPolicy:  types.StringType,
}

// mirrorBlocks decodes the mirror block list.
func mirrorBlocks(ctx context.Context, list types.List) ([]mirrorRuleModel, diag.Diagnostics) {
	var blocks []mirrorRuleModel
	if list.IsNull() || list.IsUnknown() {
		return nil, nil
	}
	diags := list.ElementsAs(ctx, &blocks, false)
	return blocks, diags
}

// rulesFromBlocks converts mirror blocks to rules. A null policy becomes "", which leaves
// mirrorSourcePolicy unset.
func rulesFromBlocks(blocks []mirrorRuleModel) []mirrors.Rule {
	rules := make([]mirrors.Rule, len(blocks))
	for i, block := range blocks {
		var mirrorList []string
		if !block.Mirrors.IsNull() {
			mirrorList = stringElements(block.Mirrors)
		}
		rules[i] = mirrors.Rule{
			Source:  block.Source.ValueString(),
			Mirrors: mirrorList,
			Policy:  block.MirrorSourcePolicy.ValueString(),
		}
	}
	return rules
}

// blocksFromRules converts rules read from the cluster back to blocks. prior supplies the
// representation of empty values, so that "mirrors = []" in the configuration and a rule
// without mirrors on the cluster are no diff. prior is matched by index, because the rule
// order is part of the configuration.
func blocksFromRules(rules []mirrors.Rule, prior []mirrorRuleModel) []mirrorRuleModel {
	blocks := make([]mirrorRuleModel, len(rules))
	for i, rule := range rules {
		block := mirrorRuleModel{
			Source:             types.StringValue(rule.Source),
			MirrorSourcePolicy: optionalString(rule.Policy),
			Mirrors:            types.ListNull(types.StringType),
		}
		if len(rule.Mirrors) > 0 {
			block.Mirrors = stringList(rule.Mirrors)
		} else if i < len(prior) && !prior[i].Mirrors.IsNull() &&
			len(prior[i].Mirrors.Elements()) == 0 {
			block.Mirrors = stringList(nil)
		}
		blocks[i] = block
	}
	return blocks
}

// mirrorBlockList encodes blocks as the mirror attribute's list value.
func mirrorBlockList(ctx context.Context, blocks []mirrorRuleModel) (types.List, diag.Diagnostics) {
	return types.ListValueFrom(ctx, types.ObjectType{AttrTypes: mirrorRuleAttributeTypes}, blocks)
}

func stringList(values []string) types.List {
	elements := make([]attr.Value, len(values))
	for i, value := range values {
		elements[i] = types.StringValue(value)
	}
	return types.ListValueMust(types.StringType, elements)
}

// objectKindsValue lists the kinds that pull type renders, in the order of mirrors.OwnObjects.
func objectKindsValue(name, pullType string) types.List {
	refs := mirrors.OwnObjects(name, pullType)
	kinds := make([]string, len(refs))
	for i, ref := range refs {
		kinds[i] = ref.Kind
	}
	return stringList(kinds)
}

// ownedLabels narrows the labels read from the cluster to those the resource manages: the keys
// in prior state, or every label after import (imported). Labels that other clients add are
// left out, so they cause no diff. The result is null when prior is null and nothing was
// imported, or when an import finds no labels.
func ownedLabels(prior types.Map, cluster map[string]string, imported bool) types.Map {
	owned := map[string]attr.Value{}
	switch {
	case imported:
		for key, value := range cluster {
			owned[key] = types.StringValue(value)
		}
		if len(owned) == 0 {
			return types.MapNull(types.StringType)
		}
	case prior.IsNull() || prior.IsUnknown():
		return types.MapNull(types.StringType)
	default:
		for key := range prior.Elements() {
			if value, ok := cluster[key]; ok {
				owned[key] = types.StringValue(value)
			}
		}
	}
	return types.MapValueMust(types.StringType, owned)
}

// mergeLabels returns the labels to write: current without the keys that prior state managed,
// plus planned. It keeps labels that other clients set.
func mergeLabels(current map[string]string, prior, planned types.Map) map[string]string {
	merged := maps.Clone(current)
	if merged == nil {
		merged = map[string]string{}
	}
	for key := range prior.Elements() {
		delete(merged, key)
	}
	maps.Copy(merged, stringMap(planned))
	if len(merged) == 0 {
		return nil
	}
	return merged
}

// observedRules picks the rules to record from what FromObjects read. It depends only on the
// cluster, so repeated refreshes record the same rules. When both objects exist but were
// edited apart, it records the digest set's rules followed by the tag set's, which differs
// from either set alone, so the plan shows drift whichever object was edited and the apply
// rewrites both. When one of them has no rules, that concatenation would equal the other, so
// no rules are recorded instead, because a configuration always has at least one.
func observedRules(observed mirrors.Observed) []mirrors.Rule {
	if !observed.TagRulesDiffer {
		return observed.Rules
	}
	if len(observed.Rules) == 0 || len(observed.TagRules) == 0 {
		return []mirrors.Rule{}
	}
	return slices.Concat(observed.Rules, observed.TagRules)
}

// ruleProblemPath converts a mirrors.Problem to the attribute path of the value to blame.
func ruleProblemPath(problem mirrors.Problem) path.Path {
	rule := path.Root("mirror").AtListIndex(problem.Rule)
	if problem.Field == mirrors.FieldMirrors && problem.Mirror >= 0 {
		return rule.AtName(mirrors.FieldMirrors).AtListIndex(problem.Mirror)
	}
	return rule.AtName(problem.Field)
}

// validateMirrorBlocks reports every problem of mirrors.ValidateRules on its attribute, and a
// mirror_source_policy set to "". The rules cannot tell "" from unset, and the cluster stores
// both as unset, so "" would show as a change in every plan.
func validateMirrorBlocks(blocks []mirrorRuleModel) diag.Diagnostics {
	var diags diag.Diagnostics
	for i, block := range blocks {
		if !block.MirrorSourcePolicy.IsNull() && !block.MirrorSourcePolicy.IsUnknown() &&
			block.MirrorSourcePolicy.ValueString() == "" {
			diags.AddAttributeError(
				path.Root("mirror").AtListIndex(i).AtName(mirrors.FieldPolicy),
				"Invalid Mirror Source Policy",
				fmt.Sprintf("mirror[%d].mirror_source_policy is empty. Use %q or %q, or "+
					"remove the attribute to leave the policy unset.", i,
					mirrors.PolicyAllowContactingSource, mirrors.PolicyNeverContactSource))
		}
	}
	diags.Append(validateMirrorRules(rulesFromBlocks(blocks))...)
	return diags
}

// validateMirrorRules reports every problem of mirrors.ValidateRules on its attribute.
func validateMirrorRules(rules []mirrors.Rule) diag.Diagnostics {
	var diags diag.Diagnostics
	for _, problem := range mirrors.ValidateRules(rules) {
		diags.AddAttributeError(ruleProblemPath(problem), problem.Summary, problem.Detail)
	}
	return diags
}
