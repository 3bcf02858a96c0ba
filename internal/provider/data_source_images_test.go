package provider

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/imagedist/terraform-provider-imagedist/internal/registry"
)

// countingRegistry is go-containerregistry's in-memory registry over TLS that counts the
// manifest requests per path.
type countingRegistry struct {
	host      string
	transport http.RoundTripper
	mutex     sync.Mutex
	manifests map[string]int
}

func startCountingRegistry(t *testing.T) *countingRegistry {
	t.Helper()
	counting := &countingRegistry{manifests: map[string]int{}}
	backend := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	server := httptest.NewTLSServer(http.HandlerFunc(
		func(w http.ResponseWriter, request *http.Request) {
			if strings.Contains(request.URL.Path, "/manifests/") {
				counting.mutex.Lock()
				counting.manifests[request.URL.Path]++
				counting.mutex.Unlock()
			}
			backend.ServeHTTP(w, request)
		}))
	t.Cleanup(server.Close)
	counting.host = strings.TrimPrefix(server.URL, "https://")
	counting.transport = server.Client().Transport
	return counting
}

func (c *countingRegistry) push(t *testing.T, repositoryTag string) {
	t.Helper()
	image, err := random.Image(128, 1)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(c.host + "/" + repositoryTag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, image, remote.WithTransport(c.transport)); err != nil {
		t.Fatalf("pushing %s: %v", repositoryTag, err)
	}
}

// TestInspectAllSharesDigestLookups checks that a digest named with and without a tag is
// looked up once, and that each reference keeps its own tag.
func TestInspectAllSharesDigestLookups(t *testing.T) {
	counting := startCountingRegistry(t)
	counting.push(t, "team/app:1")
	resolver, err := registry.Resolver{Transport: counting.transport}.WithSharedConnections()
	if err != nil {
		t.Fatal(err)
	}
	pushed, err := resolver.Inspect(context.Background(), counting.host+"/team/app:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	counting.mutex.Lock()
	clear(counting.manifests)
	counting.mutex.Unlock()
	references := []string{
		counting.host + "/team/app@" + pushed.Digest,
		counting.host + "/team/app:1@" + pushed.Digest,
	}

	results := inspectAll(context.Background(), resolver, references, nil)

	for i, result := range results {
		if result.err != nil {
			t.Fatalf("result %d: %v", i, result.err)
		}
		if result.info.Digest != pushed.Digest {
			t.Errorf("result %d digest = %s, want %s", i, result.info.Digest, pushed.Digest)
		}
	}
	if results[0].info.Tag != "" {
		t.Errorf("result 0 tag = %q, want none", results[0].info.Tag)
	}
	if results[1].info.Tag != "1" {
		t.Errorf("result 1 tag = %q, want 1", results[1].info.Tag)
	}
	requests := 0
	for _, count := range counting.manifests {
		requests += count
	}
	if requests != 1 {
		t.Errorf("manifest requests = %d (%v), want 1", requests, counting.manifests)
	}
}

func TestInspectAllLooksUpRepeatedReferencesOnce(t *testing.T) {
	counting := startCountingRegistry(t)
	counting.push(t, "team/app:1")
	counting.push(t, "team/other:1")
	counting.mutex.Lock()
	clear(counting.manifests)
	counting.mutex.Unlock()
	resolver, err := registry.Resolver{Transport: counting.transport}.WithSharedConnections()
	if err != nil {
		t.Fatal(err)
	}
	references := []string{
		counting.host + "/team/app:1",
		counting.host + "/team/missing:1",
		counting.host + "/team/other:1",
		counting.host + "/team/app:1",
		counting.host + "/team/missing:1",
	}

	results := inspectAll(context.Background(), resolver, references, nil)

	if len(results) != len(references) {
		t.Fatalf("inspectAll() returned %d results, want %d", len(results), len(references))
	}
	for _, i := range []int{0, 2, 3} {
		if results[i].err != nil {
			t.Errorf("result %d (%s): %v", i, references[i], results[i].err)
		}
	}
	if results[0].info.Digest != results[3].info.Digest || results[0].info.Digest == "" {
		t.Errorf("repeated reference digests = %q and %q, want the same digest",
			results[0].info.Digest, results[3].info.Digest)
	}
	if results[2].info.Repository != "team/other" {
		t.Errorf("result 2 repository = %q, want team/other", results[2].info.Repository)
	}
	for _, i := range []int{1, 4} {
		if results[i].err == nil ||
			!strings.Contains(results[i].err.Error(), "no repository team/missing") {
			t.Errorf("result %d error = %v, want no repository team/missing", i,
				results[i].err)
		}
	}
	for path, count := range counting.manifests {
		if count != 1 {
			t.Errorf("%s requested %d times, want once", path, count)
		}
	}

	elements, failed := imagesElements(references, results)
	if len(elements) != len(references) {
		t.Errorf("imagesElements() returned %d elements, want %d", len(elements),
			len(references))
	}
	if len(failed.references) != 1 || failed.references[0] != references[1] {
		t.Errorf("failed references = %v, want only %s", failed.references, references[1])
	}
	if failed.elements != 2 {
		t.Errorf("failed elements = %d, want 2", failed.elements)
	}
	first, ok := elements[0].(types.Object)
	if !ok {
		t.Fatalf("element 0 is a %T, want types.Object", elements[0])
	}
	if errorText := first.Attributes()["error"]; errorText != types.StringValue("") {
		t.Errorf("element 0 error = %v, want empty", errorText)
	}
}

func TestRegistryAuthFileOrder(t *testing.T) {
	variables := map[string]string{}
	env := environment{lookup: func(name string) (string, bool) {
		value, ok := variables[name]
		return value, ok
	}}
	tests := []struct {
		name       string
		attribute  string
		variables  map[string]string
		wantFile   string
		wantSource string
	}{
		{"attribute first", "/block/auth.json",
			map[string]string{"REGISTRY_AUTH_FILE": "/env/auth.json", "DOCKER_CONFIG": "/d"},
			"/block/auth.json", "registry_auth_file"},
		{"REGISTRY_AUTH_FILE second", "",
			map[string]string{"REGISTRY_AUTH_FILE": "/env/auth.json", "DOCKER_CONFIG": "/d"},
			"/env/auth.json", "REGISTRY_AUTH_FILE"},
		{"DOCKER_CONFIG third", "", map[string]string{"DOCKER_CONFIG": "/d"},
			"/d/config.json", "DOCKER_CONFIG"},
		{"none", "", map[string]string{}, "", ""},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			clear(variables)
			for key, value := range test.variables {
				variables[key] = value
			}
			model := providerModel{RegistryAuthFile: types.StringNull()}
			if test.attribute != "" {
				model.RegistryAuthFile = types.StringValue(test.attribute)
			}
			file, source := model.registryAuthFile(env)
			if file != test.wantFile || source != test.wantSource {
				t.Errorf("registryAuthFile() = %q, %q, want %q, %q", file, source,
					test.wantFile, test.wantSource)
			}
		})
	}
}

func TestConfigureRegistryAccess(t *testing.T) {
	dir := t.TempDir()
	valid := dir + "/auth.json"
	document := `{"auths": {"registry.example.com": {"auth": "dXNlcjpzZWNyZXQtdmFsdWU="}}}`
	if err := os.WriteFile(valid, []byte(document), 0o600); err != nil {
		t.Fatal(err)
	}
	invalid := dir + "/invalid.json"
	if err := os.WriteFile(invalid, []byte(`{"auths": [`), 0o600); err != nil {
		t.Fatal(err)
	}
	noEnv := environment{lookup: func(string) (string, bool) { return "", false }}
	hosts := func(values ...string) types.List {
		list, diags := types.ListValueFrom(context.Background(), types.StringType, values)
		if diags.HasError() {
			t.Fatal(diags)
		}
		return list
	}

	t.Run("valid file and hosts", func(t *testing.T) {
		model := providerModel{RegistryAuthFile: types.StringValue(valid),
			InsecureRegistries: hosts("registry.internal:5000", "localhost")}
		data := &providerData{}
		var diags diag.Diagnostics
		model.configureRegistryAccess(noEnv, data, &diags)
		if diags.HasError() {
			t.Fatalf("diagnostics = %v", diags)
		}
		if diags.WarningsCount() != 1 {
			t.Errorf("warnings = %d, want one about plain HTTP", diags.WarningsCount())
		}
		if data.registryAuth == nil {
			t.Error("registryAuth is nil after a valid auth file")
		}
		if strings.Join(data.insecureRegistries, ",") != "registry.internal:5000,localhost" {
			t.Errorf("insecureRegistries = %v", data.insecureRegistries)
		}
	})

	errorCases := map[string]providerModel{
		"missing file": {RegistryAuthFile: types.StringValue(dir + "/absent.json"),
			InsecureRegistries: types.ListNull(types.StringType)},
		"invalid file": {RegistryAuthFile: types.StringValue(invalid),
			InsecureRegistries: types.ListNull(types.StringType)},
		"not a host": {RegistryAuthFile: types.StringNull(),
			InsecureRegistries: hosts("registry")},
		"host with path": {RegistryAuthFile: types.StringNull(),
			InsecureRegistries: hosts("registry.internal/team")},
	}
	for name, model := range errorCases {
		t.Run(name, func(t *testing.T) {
			var diags diag.Diagnostics
			model.configureRegistryAccess(noEnv, &providerData{}, &diags)
			if !diags.HasError() {
				t.Fatal("no error")
			}
			for _, problem := range diags {
				if strings.Contains(problem.Detail(), "secret-value") ||
					strings.Contains(problem.Detail(), "dXNlcjpzZWNyZXQtdmFsdWU=") {
					t.Errorf("diagnostic %q quotes the credential", problem.Detail())
				}
			}
		})
	}
}

// The warning counts failed elements against all elements, so a repeated failing reference
// counts once per element.
func TestFailedReferencesSummaryCountsElements(t *testing.T) {
	missing := "registry.example.com/team/missing:1"
	references := []string{missing, "registry.example.com/team/app:1", missing}
	results := []imageResult{
		{err: errors.New("not found")}, {info: registry.ImageInfo{}},
		{err: errors.New("not found")},
	}

	_, failed := imagesElements(references, results)
	summary := failed.summary(len(references))

	if want := "2 of 3 references failed: "; !strings.HasPrefix(summary, want) {
		t.Errorf("summary = %q, want it to start with %q", summary, want)
	}
	if want := missing + " (2 elements)"; !strings.Contains(summary, want) {
		t.Errorf("summary = %q, want it to contain %q", summary, want)
	}
}

// An empty references list gives an empty images list, without provider settings, a
// cluster or a registry.
func TestImagesReadEmptyReferences(t *testing.T) {
	ctx := context.Background()
	dataSource := &imagesDataSource{}
	var schemaResp datasource.SchemaResponse
	dataSource.Schema(ctx, datasource.SchemaRequest{}, &schemaResp)
	objectType, ok := schemaResp.Schema.Type().TerraformType(ctx).(tftypes.Object)
	if !ok {
		t.Fatal("the schema type is not an object")
	}
	values := map[string]tftypes.Value{}
	for name, attributeType := range objectType.AttributeTypes {
		values[name] = tftypes.NewValue(attributeType, nil)
	}
	values["references"] = tftypes.NewValue(tftypes.List{ElementType: tftypes.String},
		[]tftypes.Value{})
	config := tfsdk.Config{Schema: schemaResp.Schema,
		Raw: tftypes.NewValue(objectType, values)}
	resp := datasource.ReadResponse{State: tfsdk.State{Schema: schemaResp.Schema,
		Raw: tftypes.NewValue(objectType, nil)}}

	dataSource.Read(ctx, datasource.ReadRequest{Config: config}, &resp)

	if resp.Diagnostics.HasError() {
		t.Fatalf("Read() diagnostics = %v", resp.Diagnostics)
	}
	var images types.List
	resp.Diagnostics.Append(resp.State.GetAttribute(ctx, path.Root("images"), &images)...)
	if images.IsNull() || images.IsUnknown() || len(images.Elements()) != 0 {
		t.Errorf("images = %v, want an empty list", images)
	}

	var validateResp validator.ListResponse
	for _, check := range schemaResp.Schema.Attributes["references"].(schema.ListAttribute).
		Validators {
		check.ValidateList(ctx, validator.ListRequest{Path: path.Root("references"),
			ConfigValue: types.ListValueMust(types.StringType, nil)}, &validateResp)
	}
	if validateResp.Diagnostics.HasError() {
		t.Errorf("references validators reject an empty list: %v", validateResp.Diagnostics)
	}
}
