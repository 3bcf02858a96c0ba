package provider

import (
	"context"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

func TestScratchWOPlan(t *testing.T) {
	ctx := context.Background()
	var sresp resource.SchemaResponse
	NewPullSecretResource().Schema(ctx, resource.SchemaRequest{}, &sresp)
	model := importedModel()
	model.Type = types.StringValue(secretTypeDockerConfigJSON)
	model.Timeouts = timeouts.Value{Object: types.ObjectNull(map[string]attr.Type{"delete": types.StringType})}
	block := writeOnlyBlock(t, "quay.io", "quay.io", "robot", "pw")
	block.PasswordWOVersion = types.Int64Value(1)
	model.Registries, _ = registryList(ctx, []registryModel{block})
	state := tfsdk.State{Schema: sresp.Schema, Raw: tftypes.NewValue(sresp.Schema.Type().TerraformType(ctx), nil)}
	if d := state.Set(ctx, model); d.HasError() {
		t.Fatal(d)
	}
	cfg := pullSecretConfig(t, map[string]tftypes.Value{"namespace": text("team-a"), "name": text("registry")},
		map[string]tftypes.Value{"server": text("quay.io"), "username": text("robot"), "password_wo": text("pw"), "password_wo_version": tftypes.NewValue(tftypes.Number, 1)})
	server, _ := providerserver.NewProtocol6WithError(New("test")())()
	server.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	typ := cfg.Type()
	prior, _ := tfprotov6.NewDynamicValue(typ, state.Raw)
	config, _ := tfprotov6.NewDynamicValue(typ, cfg)
	resp, err := server.PlanResourceChange(ctx, &tfprotov6.PlanResourceChangeRequest{
		TypeName: "imagedist_pull_secret", PriorState: &prior, Config: &config, ProposedNewState: &prior,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range resp.Diagnostics {
		t.Log(d.Summary, d.Detail)
	}
	planned, _ := resp.PlannedState.Unmarshal(typ)
	t.Logf("planned %v", planned)
	t.Logf("equal %v", planned.Equal(state.Raw))
}
