package provider

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	datasourceschema "github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/imagedist/terraform-provider-imagedist/internal/mirrors"
)

// Unit tests for the validation gaps that the bad-input acceptance tests found. Each failed
// before its fix.

// A null element of a list or set was silently dropped. With node_names = [null], the plan
// read the events of every node.
func TestSchemasRejectNullElements(t *testing.T) {
	ctx := context.Background()
	dataSourceAttributes := func(
		dataSource datasource.DataSource) map[string]datasourceschema.Attribute {
		var resp datasource.SchemaResponse
		dataSource.Schema(ctx, datasource.SchemaRequest{}, &resp)
		return resp.Schema.Attributes
	}
	nodeImages := dataSourceAttributes(NewNodeImagesDataSource())
	imagePulls := dataSourceAttributes(NewImagePullsDataSource())
	images := dataSourceAttributes(NewImagesDataSource())
	puller := imagePullerAttributes()

	lists := map[string][]validator.List{
		"imagedist_registry_mirror mirror.mirrors": registryMirrorRuleBlock().NestedObject.
			Attributes[mirrors.FieldMirrors].(schema.ListAttribute).Validators,
		"imagedist_image_puller image_pull_secrets": puller["image_pull_secrets"].(schema.ListAttribute).Validators,
		"imagedist_node_images images":              nodeImages["images"].(datasourceschema.ListAttribute).Validators,
		"imagedist_image_pulls images":              imagePulls["images"].(datasourceschema.ListAttribute).Validators,
		"imagedist_image_pulls node_names":          imagePulls["node_names"].(datasourceschema.ListAttribute).Validators,
		"imagedist_images references":               images["references"].(datasourceschema.ListAttribute).Validators,
	}
	withNull := []attr.Value{types.StringValue("worker"), types.StringNull()}
	for name, validators := range lists {
		var resp validator.ListResponse
		for _, check := range validators {
			check.ValidateList(ctx, validator.ListRequest{Path: path.Root("test"),
				ConfigValue: types.ListValueMust(types.StringType, withNull)}, &resp)
		}
		if !hasSummary(resp.Diagnostics, "Null List Value") {
			t.Errorf("%s: a null element gives %v, want a Null List Value error", name,
				resp.Diagnostics)
		}
	}

	sets := map[string][]validator.Set{
		"imagedist_pull_secret link_service_accounts": pullSecretAttributes()["link_service_accounts"].(schema.SetAttribute).Validators,
		"imagedist_image_puller machine_config_pools": puller["machine_config_pools"].(schema.SetAttribute).Validators,
		"imagedist_node_images names":                 nodeImages["names"].(datasourceschema.SetAttribute).Validators,
	}
	for name, validators := range sets {
		var resp validator.SetResponse
		for _, check := range validators {
			check.ValidateSet(ctx, validator.SetRequest{Path: path.Root("test"),
				ConfigValue: types.SetValueMust(types.StringType, withNull)}, &resp)
		}
		if !hasSummary(resp.Diagnostics, "Null Set Value") {
			t.Errorf("%s: a null element gives %v, want a Null Set Value error", name,
				resp.Diagnostics)
		}
	}
}

func hasSummary(diags diag.Diagnostics, summary string) bool {
	for _, diagnostic := range diags.Errors() {
		if diagnostic.Summary() == summary {
			return true
		}
	}
	return false
}

// The API server checks the value of an "Equal" toleration as a label value, and the plan
// let any value through.
func TestImagePullerTolerationValue(t *testing.T) {
	tolerations := func(operator, value string) imagePullerModel {
		toleration := types.ObjectValueMust(tolerationAttributeTypes, map[string]attr.Value{
			"key": types.StringValue("dedicated"), "operator": optionalString(operator),
			"value": types.StringValue(value), "effect": types.StringNull(),
			"toleration_seconds": types.Int64Null(),
		})
		return imagePullerModel{Tolerations: types.ListValueMust(
			types.ObjectType{AttrTypes: tolerationAttributeTypes}, []attr.Value{toleration})}
	}
	for _, tc := range []struct {
		operator, value string
		wantError       bool
	}{
		{"", "gpu tier", true},
		{"Equal", "gpu/tier", true},
		{"Equal", strings.Repeat("g", 64), true},
		{"", "gpu", false},
		{"Equal", "", false},
		{"Equal", "gpu.tier-2", false},
	} {
		var diags diag.Diagnostics
		validateTolerations(context.Background(), tolerations(tc.operator, tc.value), &diags)
		valuePath := path.Root("tolerations").AtListIndex(0).AtName("value")
		if got := hasErrorAt(diags, valuePath); got != tc.wantError {
			t.Errorf("operator %q value %q: error on tolerations[0].value = %v, want %v: %v",
				tc.operator, tc.value, got, tc.wantError, diags)
		}
	}
}

// The API server rejects a node affinity key that is not a label key, and the plan let it
// through.
func TestImagePullerNodeAffinityKey(t *testing.T) {
	affinity := func(key string) imagePullerModel {
		expression := types.ObjectValueMust(matchExpressionAttributeTypes, map[string]attr.Value{
			"key": types.StringValue(key), "operator": types.StringValue("Exists"),
			"values": types.ListNull(types.StringType),
		})
		term := types.ObjectValueMust(nodeAffinityTermAttributeTypes, map[string]attr.Value{
			"match_expressions": types.ListValueMust(
				types.ObjectType{AttrTypes: matchExpressionAttributeTypes},
				[]attr.Value{expression}),
		})
		return imagePullerModel{NodeAffinity: types.ListValueMust(
			types.ObjectType{AttrTypes: nodeAffinityTermAttributeTypes}, []attr.Value{term})}
	}
	keyPath := path.Root("node_affinity").AtListIndex(0).AtName("match_expressions").
		AtListIndex(0).AtName("key")
	for key, wantError := range map[string]bool{
		"node role":                      true,
		"example.com/a/b":                true,
		"":                               true,
		"node-role.kubernetes.io/worker": false,
		"zone":                           false,
	} {
		var diags diag.Diagnostics
		validateNodeAffinity(context.Background(), affinity(key), &diags)
		if got := hasErrorAt(diags, keyPath); got != wantError {
			t.Errorf("key %q: error on the key = %v, want %v: %v", key, got, wantError, diags)
		}
	}
}

func hasErrorAt(diags diag.Diagnostics, at path.Path) bool {
	for _, diagnostic := range diags.Errors() {
		withPath, ok := diagnostic.(diag.DiagnosticWithPath)
		if ok && withPath.Path().Equal(at) {
			return true
		}
	}
	return false
}

// An import ID with an invalid namespace reached the API server as a GET in that namespace.
func TestImagePullerImportRejectsInvalidNames(t *testing.T) {
	ctx := context.Background()
	puller := &imagePullerResource{}
	var schemaResp resource.SchemaResponse
	puller.Schema(ctx, resource.SchemaRequest{}, &schemaResp)
	stateType := schemaResp.Schema.Type().TerraformType(ctx)

	for _, id := range []string{"Team-A/prepull", "team-a/pre.pull", "team_a/prepull"} {
		resp := resource.ImportStateResponse{State: tfsdk.State{Schema: schemaResp.Schema,
			Raw: tftypes.NewValue(stateType, nil)}}
		puller.ImportState(ctx, resource.ImportStateRequest{ID: id}, &resp)
		if !hasSummary(resp.Diagnostics, "Invalid Import ID") {
			t.Errorf("import %q: diagnostics %v, want Invalid Import ID", id, resp.Diagnostics)
		}
	}
}

// Terraform 1.5.7 and OpenTofu 1.12.6 show only the block's first line for an attribute
// nested in an object, such as pull_secret.namespace, so the message has to name it.
func TestDNSNameValidatorNamesNestedAttribute(t *testing.T) {
	for wantPrefix, at := range map[string]path.Path{
		`pull_secret.namespace "Team-A" is not`: path.Root("pull_secret").AtName("namespace"),
		`"Team-A" is not`:                       path.Root("namespace"),
	} {
		var resp validator.StringResponse
		dns1123LabelValidator().ValidateString(context.Background(), validator.StringRequest{
			Path: at, ConfigValue: types.StringValue("Team-A")}, &resp)
		errors := resp.Diagnostics.Errors()
		if len(errors) != 1 {
			t.Fatalf("%s: diagnostics %v, want one error", at, resp.Diagnostics)
		}
		if detail := errors[0].Detail(); !strings.HasPrefix(detail, wantPrefix) {
			t.Errorf("%s: detail %q, want it to start with %q", at, detail, wantPrefix)
		}
	}
}

// A null label value in machine_config_pool_selector passed the plan, which then read the
// cluster's pools with a selector that the configuration does not hold.
func TestKubeletImageGCSelectorNullValue(t *testing.T) {
	selector := kubeletImageGCAttributes()["machine_config_pool_selector"].(schema.SingleNestedAttribute)
	matchLabels := selector.Attributes["match_labels"].(schema.MapAttribute)
	at := path.Root("machine_config_pool_selector").AtName("match_labels")
	config := types.MapValueMust(types.StringType, map[string]attr.Value{
		"example.com/pool": types.StringNull(),
		"example.com/team": types.StringValue(""),
	})

	var resp validator.MapResponse
	for _, check := range matchLabels.Validators {
		check.ValidateMap(context.Background(), validator.MapRequest{Path: at,
			ConfigValue: config}, &resp)
	}

	errors := resp.Diagnostics.Errors()
	if len(errors) != 1 {
		t.Fatalf("diagnostics %v, want one error", resp.Diagnostics)
	}
	if !hasErrorAt(errors, at.AtMapKey("example.com/pool")) {
		t.Errorf("error %v is not on the null key", errors[0])
	}
	want := `machine_config_pool_selector.match_labels["example.com/pool"] is null`
	if detail := errors[0].Detail(); !strings.HasPrefix(detail, want) {
		t.Errorf("detail %q, want it to start with %q", detail, want)
	}
}
