package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
	configv1 "github.com/openshift/api/config/v1"

	"github.com/imagedist/terraform-provider-imagedist/internal/registrypolicy"
)

// registryPolicyModel is the state and plan of imagedist_registry_policy.
type registryPolicyModel struct {
	ID                 types.String `tfsdk:"id"`
	AllowedRegistries  types.List   `tfsdk:"allowed_registries"`
	BlockedRegistries  types.List   `tfsdk:"blocked_registries"`
	InsecureRegistries types.List   `tfsdk:"insecure_registries"`
	SearchRegistries   types.List   `tfsdk:"container_runtime_search_registries"`
	ImportRegistries   types.List   `tfsdk:"allowed_registries_for_import"`
}

// importRegistryModel is one element of allowed_registries_for_import.
type importRegistryModel struct {
	DomainName types.String `tfsdk:"domain_name"`
	Insecure   types.Bool   `tfsdk:"insecure"`
}

// importRegistryType is the element type of allowed_registries_for_import.
var importRegistryType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"domain_name": types.StringType,
	"insecure":    types.BoolType,
}}

// registryPolicyAttributes maps each managed field to its attribute name.
var registryPolicyAttributes = map[registrypolicy.Field]string{
	registrypolicy.FieldAllowed:  "allowed_registries",
	registrypolicy.FieldBlocked:  "blocked_registries",
	registrypolicy.FieldInsecure: "insecure_registries",
	registrypolicy.FieldSearch:   "container_runtime_search_registries",
	registrypolicy.FieldImport:   "allowed_registries_for_import",
}

// list returns the model's value of field.
func (m registryPolicyModel) list(field registrypolicy.Field) types.List {
	switch field {
	case registrypolicy.FieldAllowed:
		return m.AllowedRegistries
	case registrypolicy.FieldBlocked:
		return m.BlockedRegistries
	case registrypolicy.FieldInsecure:
		return m.InsecureRegistries
	case registrypolicy.FieldSearch:
		return m.SearchRegistries
	}
	return m.ImportRegistries
}

// policyFromModel returns the policy of the fields whose values are wholly known. Null and
// unknown fields are left unset.
func policyFromModel(ctx context.Context, m registryPolicyModel) (registrypolicy.Policy,
	diag.Diagnostics) {
	var policy registrypolicy.Policy
	strings := func(list types.List) []string {
		if list.IsNull() || containsUnknownDeep(list) {
			return nil
		}
		values := stringElements(list)
		if values == nil {
			values = []string{}
		}
		return values
	}
	policy.Allowed = strings(m.AllowedRegistries)
	policy.Blocked = strings(m.BlockedRegistries)
	policy.Insecure = strings(m.InsecureRegistries)
	policy.Search = strings(m.SearchRegistries)

	if m.ImportRegistries.IsNull() || containsUnknownDeep(m.ImportRegistries) {
		return policy, nil
	}
	var elements []importRegistryModel
	diags := m.ImportRegistries.ElementsAs(ctx, &elements, false)
	policy.Import = make([]configv1.RegistryLocation, len(elements))
	for i, element := range elements {
		policy.Import[i] = configv1.RegistryLocation{
			DomainName: element.DomainName.ValueString(),
			Insecure:   element.Insecure.ValueBool(),
		}
	}
	return policy, diags
}

// setPolicy records policy in the model, with null for each field that it does not set.
func (m *registryPolicyModel) setPolicy(policy registrypolicy.Policy) diag.Diagnostics {
	var diags diag.Diagnostics
	list := func(values []string) types.List {
		if values == nil {
			return types.ListNull(types.StringType)
		}
		elements := make([]attr.Value, len(values))
		for i, value := range values {
			elements[i] = types.StringValue(value)
		}
		value, listDiags := types.ListValue(types.StringType, elements)
		diags.Append(listDiags...)
		return value
	}
	m.ID = types.StringValue(registrypolicy.ObjectName)
	m.AllowedRegistries = list(policy.Allowed)
	m.BlockedRegistries = list(policy.Blocked)
	m.InsecureRegistries = list(policy.Insecure)
	m.SearchRegistries = list(policy.Search)

	m.ImportRegistries = types.ListNull(importRegistryType)
	if policy.Import == nil {
		return diags
	}
	elements := make([]attr.Value, len(policy.Import))
	for i, location := range policy.Import {
		element, elementDiags := types.ObjectValue(importRegistryType.AttrTypes,
			map[string]attr.Value{
				"domain_name": types.StringValue(location.DomainName),
				"insecure":    types.BoolValue(location.Insecure),
			})
		diags.Append(elementDiags...)
		elements[i] = element
	}
	value, listDiags := types.ListValue(importRegistryType, elements)
	diags.Append(listDiags...)
	m.ImportRegistries = value
	return diags
}

// addRegistryPolicyProblems reports each problem on the attribute, or list element, at fault.
func addRegistryPolicyProblems(diags *diag.Diagnostics, problems []registrypolicy.Problem) {
	for _, problem := range problems {
		at := path.Root(registryPolicyAttributes[problem.Field])
		if problem.Index >= 0 {
			at = at.AtListIndex(problem.Index)
		}
		if problem.Field == registrypolicy.FieldImport && problem.Index >= 0 {
			at = at.AtName("domain_name")
		}
		diags.AddAttributeError(at, problem.Summary, problem.Detail)
	}
}
