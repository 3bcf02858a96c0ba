package provider

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

func TestPullSecretSchemaValid(t *testing.T) {
	ctx := context.Background()
	var resp resource.SchemaResponse
	NewPullSecretResource().Schema(ctx, resource.SchemaRequest{}, &resp)

	if resp.Diagnostics.HasError() {
		t.Fatalf("schema diagnostics: %v", resp.Diagnostics)
	}
	if diags := resp.Schema.ValidateImplementation(ctx); diags.HasError() {
		t.Errorf("schema implementation: %v", diags)
	}
}

func pullSecretObjectType(t *testing.T) tftypes.Object {
	t.Helper()
	ctx := context.Background()
	var resp resource.SchemaResponse
	NewPullSecretResource().Schema(ctx, resource.SchemaRequest{}, &resp)
	objectType, ok := resp.Schema.Type().TerraformType(ctx).(tftypes.Object)
	if !ok {
		t.Fatalf("schema type is %T, expected an object", resp.Schema.Type().TerraformType(ctx))
	}
	return objectType
}

// pullSecretConfig builds a configuration value: attributes as given, every other attribute
// null, and one registry block per element of registries.
func pullSecretConfig(t *testing.T, attributes map[string]tftypes.Value,
	registries ...map[string]tftypes.Value) tftypes.Value {
	t.Helper()
	objectType := pullSecretObjectType(t)
	listType := objectType.AttributeTypes["registry"].(tftypes.List)
	blockType := listType.ElementType.(tftypes.Object)

	blocks := make([]tftypes.Value, len(registries))
	for i, registry := range registries {
		blocks[i] = objectWithNulls(blockType, registry)
	}
	values := map[string]tftypes.Value{"registry": tftypes.NewValue(listType, blocks)}
	for name, value := range attributes {
		values[name] = value
	}
	return objectWithNulls(objectType, values)
}

func objectWithNulls(objectType tftypes.Object, values map[string]tftypes.Value) tftypes.Value {
	complete := map[string]tftypes.Value{}
	for name, attributeType := range objectType.AttributeTypes {
		if value, ok := values[name]; ok {
			complete[name] = value
			continue
		}
		complete[name] = tftypes.NewValue(attributeType, nil)
	}
	return tftypes.NewValue(objectType, complete)
}

func text(value string) tftypes.Value { return tftypes.NewValue(tftypes.String, value) }

func validRegistry(server string) map[string]tftypes.Value {
	return map[string]tftypes.Value{
		"server": text(server), "username": text("robot"), "password": text("secret"),
	}
}

func validIdentity() map[string]tftypes.Value {
	return map[string]tftypes.Value{"namespace": text("team-a"), "name": text("registry")}
}

// validatePullSecret runs the provider's ValidateResourceConfig, as Terraform does at plan
// time, and returns the error diagnostics.
func validatePullSecret(t *testing.T, config tftypes.Value, writeOnlyAllowed bool,
) []*tfprotov6.Diagnostic {
	t.Helper()
	ctx := context.Background()
	server, err := providerserver.NewProtocol6WithError(New("test")())()
	if err != nil {
		t.Fatalf("provider server: %v", err)
	}
	if _, err := server.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{}); err != nil {
		t.Fatalf("schema: %v", err)
	}
	dynamic, err := tfprotov6.NewDynamicValue(config.Type(), config)
	if err != nil {
		t.Fatalf("encoding the configuration: %v", err)
	}

	resp, err := server.ValidateResourceConfig(ctx, &tfprotov6.ValidateResourceConfigRequest{
		TypeName: "imagedist_pull_secret",
		Config:   &dynamic,
		ClientCapabilities: &tfprotov6.ValidateResourceConfigClientCapabilities{
			WriteOnlyAttributesAllowed: writeOnlyAllowed,
		},
	})
	if err != nil {
		t.Fatalf("ValidateResourceConfig: %v", err)
	}
	var errors []*tfprotov6.Diagnostic
	for _, diagnostic := range resp.Diagnostics {
		if diagnostic.Severity == tfprotov6.DiagnosticSeverityError {
			errors = append(errors, diagnostic)
		}
	}
	return errors
}

func TestPullSecretValidateAcceptsValidConfiguration(t *testing.T) {
	writeOnly := validRegistry("registry.example.com:5000")
	delete(writeOnly, "password")
	writeOnly["password_wo"] = text("secret")
	writeOnly["password_wo_version"] = tftypes.NewValue(tftypes.Number, 3)
	attributes := validIdentity()
	attributes["labels"] = tftypes.NewValue(tftypes.Map{ElementType: tftypes.String},
		map[string]tftypes.Value{"app.kubernetes.io/name": text("web")})
	attributes["link_service_accounts"] = tftypes.NewValue(
		tftypes.Set{ElementType: tftypes.String}, []tftypes.Value{text("builder")})

	errors := validatePullSecret(t, pullSecretConfig(t, attributes,
		validRegistry("https://quay.io/"), writeOnly), true)

	if len(errors) > 0 {
		t.Errorf("errors for a valid configuration: %v", diagnosticTexts(errors))
	}
}

func TestPullSecretValidateUnknownPasswordDeferred(t *testing.T) {
	unknown := tftypes.NewValue(tftypes.String, tftypes.UnknownValue)
	cases := map[string]map[string]tftypes.Value{
		"unknown password": {"server": text("quay.io"), "username": text("robot"),
			"password": unknown},
		"unknown password_wo": {"server": text("quay.io"), "username": text("robot"),
			"password_wo": unknown},
		"unknown server": {"server": unknown, "username": text("robot"),
			"password": text("secret")},
	}
	for name, registry := range cases {
		t.Run(name, func(t *testing.T) {
			errors := validatePullSecret(t, pullSecretConfig(t, validIdentity(), registry),
				true)

			if len(errors) > 0 {
				t.Errorf("errors for a value not known yet: %v", diagnosticTexts(errors))
			}
		})
	}
}

func diagnosticTexts(diagnostics []*tfprotov6.Diagnostic) []string {
	texts := make([]string, len(diagnostics))
	for i, diagnostic := range diagnostics {
		texts[i] = diagnostic.Summary + ": " + diagnostic.Detail
		if diagnostic.Attribute != nil {
			texts[i] = diagnostic.Attribute.String() + ": " + texts[i]
		}
	}
	return texts
}

// TestPullSecretValidateRejects checks each plan-time error: its summary, a phrase of its
// detail, and the attribute it is reported on.
func TestPullSecretValidateRejects(t *testing.T) {
	stringMap := func(key, value string) tftypes.Value {
		return tftypes.NewValue(tftypes.Map{ElementType: tftypes.String},
			map[string]tftypes.Value{key: text(value)})
	}
	with := func(base map[string]tftypes.Value, name string, value tftypes.Value,
	) map[string]tftypes.Value {
		changed := map[string]tftypes.Value{}
		for key, existing := range base {
			changed[key] = existing
		}
		if value.IsNull() {
			delete(changed, name)
		} else {
			changed[name] = value
		}
		return changed
	}
	null := tftypes.NewValue(tftypes.String, nil)

	cases := map[string]struct {
		attributes map[string]tftypes.Value
		registries []map[string]tftypes.Value
		writeOnly  bool
		summary    string
		detail     string
		attribute  string
	}{
		"username with colon": {
			registries: []map[string]tftypes.Value{
				with(validRegistry("quay.io"), "username", text("org:robot"))},
			summary: "Invalid Registry Username", detail: "contains a colon",
			attribute: blockAttribute(0, "username"),
		},
		"empty username": {
			registries: []map[string]tftypes.Value{
				with(validRegistry("quay.io"), "username", text(""))},
			summary: "Invalid Registry Username", detail: "is empty",
			attribute: blockAttribute(0, "username"),
		},
		"empty server": {
			registries: []map[string]tftypes.Value{validRegistry("")},
			summary:    "Invalid Registry Server", detail: "server is empty",
			attribute: blockAttribute(0, "server"),
		},
		"server with path": {
			registries: []map[string]tftypes.Value{validRegistry("quay.io/org/app")},
			summary:    "Invalid Registry Server", detail: "path \"/org/app\"",
			attribute: blockAttribute(0, "server"),
		},
		"server with query": {
			registries: []map[string]tftypes.Value{validRegistry("quay.io?x=1")},
			summary:    "Invalid Registry Server", detail: "query",
			attribute: blockAttribute(0, "server"),
		},
		"duplicate registry key": {
			registries: []map[string]tftypes.Value{
				validRegistry("quay.io"), validRegistry("https://Quay.io/")},
			summary:   "Duplicate Registry Server",
			detail:    `registry[0].server "quay.io" and registry[1].server "https://Quay.io/"`,
			attribute: blockAttribute(1, "server"),
		},
		"docker hub spellings": {
			registries: []map[string]tftypes.Value{
				validRegistry("docker.io"), validRegistry("https://index.docker.io/v1/")},
			summary: "Duplicate Registry Server", detail: `"index.docker.io"`,
			attribute: blockAttribute(1, "server"),
		},
		"no password": {
			registries: []map[string]tftypes.Value{
				with(validRegistry("quay.io"), "password", null)},
			summary: "Invalid Registry Password",
			detail: "Set exactly one of password or password_wo in registry block 1 " +
				`(server "quay.io"). Neither is set.`,
			attribute: blockAttribute(0, "password"),
		},
		"both passwords": {
			registries: []map[string]tftypes.Value{
				with(validRegistry("quay.io"), "password_wo", text("other"))},
			writeOnly: true,
			summary:   "Invalid Registry Password",
			detail: "Set exactly one of password or password_wo in registry block 1 " +
				`(server "quay.io"). Both are set.`,
			attribute: blockAttribute(0, "password"),
		},
		"both passwords in second block": {
			registries: []map[string]tftypes.Value{validRegistry("quay.io"),
				with(validRegistry("registry.example.com"), "password_wo", text("other"))},
			writeOnly: true,
			summary:   "Invalid Registry Password",
			detail: "Set exactly one of password or password_wo in registry block 2 " +
				`(server "registry.example.com"). Both are set.`,
			attribute: blockAttribute(1, "password"),
		},
		"write-only on an old CLI": {
			registries: []map[string]tftypes.Value{
				with(with(validRegistry("quay.io"), "password", null), "password_wo",
					text("secret"))},
			summary: "WriteOnly Attribute Not Allowed", detail: "Terraform 1.11",
			attribute: blockAttribute(0, "password_wo"),
		},
		"version without write-only password": {
			registries: []map[string]tftypes.Value{
				with(validRegistry("quay.io"), "password_wo_version",
					tftypes.NewValue(tftypes.Number, 1))},
			summary: "Invalid Attribute Combination", detail: "password_wo",
			attribute: blockAttribute(0, "password_wo_version"),
		},
		"no registry": {
			registries: nil,
			summary:    "Invalid Block", detail: "must have a configuration value",
			attribute: `AttributeName("registry")`,
		},
		"namespace not a DNS label": {
			attributes: with(validIdentity(), "namespace", text("team.a")),
			registries: []map[string]tftypes.Value{validRegistry("quay.io")},
			summary:    "Invalid Kubernetes Name", detail: "DNS-1123 label",
			attribute: `AttributeName("namespace")`,
		},
		"name not a DNS subdomain": {
			attributes: with(validIdentity(), "name", text("Registry_Secret")),
			registries: []map[string]tftypes.Value{validRegistry("quay.io")},
			summary:    "Invalid Kubernetes Name", detail: "DNS-1123 subdomain",
			attribute: `AttributeName("name")`,
		},
		"label key": {
			attributes: with(validIdentity(), "labels", stringMap("-bad", "x")),
			registries: []map[string]tftypes.Value{validRegistry("quay.io")},
			summary:    "Invalid Label Key", detail: `"-bad"`,
			attribute: `AttributeName("labels").ElementKeyString("-bad")`,
		},
		"label value": {
			attributes: with(validIdentity(), "labels", stringMap("app", "has space")),
			registries: []map[string]tftypes.Value{validRegistry("quay.io")},
			summary:    "Invalid Label Value", detail: `"has space"`,
			attribute: `AttributeName("labels").ElementKeyString("app")`,
		},
		"null label value": {
			attributes: with(validIdentity(), "labels",
				tftypes.NewValue(tftypes.Map{ElementType: tftypes.String},
					map[string]tftypes.Value{"app": text("web"), "nullval": null})),
			registries: []map[string]tftypes.Value{validRegistry("quay.io")},
			summary:    "Invalid Label Value", detail: `label "nullval" is null`,
			attribute: `AttributeName("labels").ElementKeyString("nullval")`,
		},
		"null annotation value": {
			attributes: with(validIdentity(), "annotations",
				tftypes.NewValue(tftypes.Map{ElementType: tftypes.String},
					map[string]tftypes.Value{"x": null})),
			registries: []map[string]tftypes.Value{validRegistry("quay.io")},
			summary:    "Invalid Annotation Value", detail: `annotation "x" is null`,
			attribute: `AttributeName("annotations").ElementKeyString("x")`,
		},
		"annotation key": {
			attributes: with(validIdentity(), "annotations", stringMap("a/b/c", "x")),
			registries: []map[string]tftypes.Value{validRegistry("quay.io")},
			summary:    "Invalid Annotation Key", detail: `"a/b/c"`,
			attribute: `AttributeName("annotations").ElementKeyString("a/b/c")`,
		},
		"annotations too large": {
			attributes: with(validIdentity(), "annotations",
				stringMap("note", strings.Repeat("x", 256*1024))),
			registries: []map[string]tftypes.Value{validRegistry("quay.io")},
			summary:    "Annotations Too Large", detail: "262144",
			attribute: `AttributeName("annotations")`,
		},
		"service account name": {
			attributes: with(validIdentity(), "link_service_accounts",
				tftypes.NewValue(tftypes.Set{ElementType: tftypes.String},
					[]tftypes.Value{text("Builder")})),
			registries: []map[string]tftypes.Value{validRegistry("quay.io")},
			summary:    "Invalid Kubernetes Name", detail: `"Builder"`,
			attribute: `AttributeName("link_service_accounts").ElementKeyValue(tftypes.String<"Builder">)`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			attributes := tc.attributes
			if attributes == nil {
				attributes = validIdentity()
			}

			errors := validatePullSecret(t,
				pullSecretConfig(t, attributes, tc.registries...), tc.writeOnly)

			if len(errors) != 1 {
				t.Fatalf("errors = %q, expected exactly one", diagnosticTexts(errors))
			}
			if errors[0].Summary != tc.summary {
				t.Errorf("summary = %q, expected %q", errors[0].Summary, tc.summary)
			}
			if !strings.Contains(errors[0].Detail, tc.detail) {
				t.Errorf("detail = %q, expected it to contain %q", errors[0].Detail, tc.detail)
			}
			if errors[0].Attribute == nil || errors[0].Attribute.String() != tc.attribute {
				t.Errorf("attribute = %v, expected %s", errors[0].Attribute, tc.attribute)
			}
		})
	}
}

// blockAttribute is the path of an attribute of a registry block, as tftypes prints it.
func blockAttribute(index int, name string) string {
	return tftypes.NewAttributePath().WithAttributeName("registry").WithElementKeyInt(index).
		WithAttributeName(name).String()
}

func TestDuplicateRegistryKeysSkipsUnknownAndInvalid(t *testing.T) {
	servers := []types.String{
		types.StringValue("quay.io"), types.StringUnknown(), types.StringNull(),
		types.StringValue("quay.io/path"), types.StringValue("registry.example.com"),
		types.StringValue("QUAY.IO:443"),
	}

	duplicates := duplicateRegistryKeys(servers)

	if len(duplicates) != 1 {
		t.Fatalf("duplicates = %+v, expected one", duplicates)
	}
	if duplicates[0].index != 5 || duplicates[0].firstIndex != 0 ||
		duplicates[0].key != "quay.io" {
		t.Errorf("duplicate = %+v, expected block 5 repeating block 0's key quay.io",
			duplicates[0])
	}
}
