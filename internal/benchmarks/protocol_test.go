package benchmarks

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/imagedist/terraform-provider-imagedist/internal/provider"
	"github.com/imagedist/terraform-provider-imagedist/internal/testcluster"
)

// nodeImagesTypeName is the data source that the node-inventory benchmarks read.
const nodeImagesTypeName = "imagedist_node_images"

// protocolReader calls the provider through the plugin protocol, as Terraform does, but in
// this process: the framework's provider server decodes the configuration, runs the data
// source and encodes its state.
type protocolReader struct {
	server   tfprotov6.ProviderServer
	dataType tftypes.Object
}

// newProtocolReader returns a reader whose provider is configured with the kubeconfig.
func newProtocolReader(ctx context.Context, kubeconfig string) (*protocolReader, error) {
	server, err := providerserver.NewProtocol6WithError(provider.New("benchmark")())()
	if err != nil {
		return nil, err
	}
	schemas, err := server.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		return nil, fmt.Errorf("GetProviderSchema: %w", err)
	}
	if err := diagnosticsError("GetProviderSchema", schemas.Diagnostics); err != nil {
		return nil, err
	}

	providerType := schemas.Provider.ValueType().(tftypes.Object)
	config := nullObject(providerType, map[string]tftypes.Value{
		"config_path":    tftypes.NewValue(tftypes.String, kubeconfig),
		"config_context": tftypes.NewValue(tftypes.String, testcluster.ContextName),
	})
	configValue, err := tfprotov6.NewDynamicValue(providerType, config)
	if err != nil {
		return nil, err
	}
	configured, err := server.ConfigureProvider(ctx,
		&tfprotov6.ConfigureProviderRequest{Config: &configValue})
	if err != nil {
		return nil, fmt.Errorf("ConfigureProvider: %w", err)
	}
	if err := diagnosticsError("ConfigureProvider", configured.Diagnostics); err != nil {
		return nil, err
	}

	dataSchema, ok := schemas.DataSourceSchemas[nodeImagesTypeName]
	if !ok {
		return nil, fmt.Errorf("the provider has no %s data source", nodeImagesTypeName)
	}
	dataType := dataSchema.ValueType().(tftypes.Object)
	return &protocolReader{server: server, dataType: dataType}, nil
}

// read reads the data source with the given attributes set and the others null, and returns
// the size of the encoded state in bytes.
func (r *protocolReader) read(
	ctx context.Context, attributes map[string]tftypes.Value,
) (int, error) {
	config, err := tfprotov6.NewDynamicValue(r.dataType, nullObject(r.dataType, attributes))
	if err != nil {
		return 0, err
	}
	resp, err := r.server.ReadDataSource(ctx,
		&tfprotov6.ReadDataSourceRequest{TypeName: nodeImagesTypeName, Config: &config})
	if err != nil {
		return 0, fmt.Errorf("ReadDataSource: %w", err)
	}
	if err := diagnosticsError("ReadDataSource", resp.Diagnostics); err != nil {
		return 0, err
	}
	if resp.State == nil || len(resp.State.MsgPack) == 0 {
		return 0, errors.New("ReadDataSource returned no state")
	}
	return len(resp.State.MsgPack), nil
}

// diagnosticsError returns an error naming the call when a diagnostic is an error. Warnings
// pass: the full inventory of a large cluster comes with one.
func diagnosticsError(call string, diagnostics []*tfprotov6.Diagnostic) error {
	var messages []string
	for _, diagnostic := range diagnostics {
		if diagnostic.Severity == tfprotov6.DiagnosticSeverityError {
			messages = append(messages, diagnostic.Summary+": "+diagnostic.Detail)
		}
	}
	if len(messages) > 0 {
		return fmt.Errorf("%s: %s", call, strings.Join(messages, "; "))
	}
	return nil
}

// nullObject returns an object of the given type with the given attributes and null for the
// others, except an empty list for the provider's exec block, as Terraform sends it.
func nullObject(objectType tftypes.Object, set map[string]tftypes.Value) tftypes.Value {
	attributes := map[string]tftypes.Value{}
	for name, attributeType := range objectType.AttributeTypes {
		attributes[name] = tftypes.NewValue(attributeType, nil)
		if list, ok := attributeType.(tftypes.List); ok && name == "exec" {
			attributes[name] = tftypes.NewValue(list, []tftypes.Value{})
		}
	}
	for name, value := range set {
		attributes[name] = value
	}
	return tftypes.NewValue(objectType, attributes)
}

// stringList returns a tftypes list of strings.
func stringList(values []string) tftypes.Value {
	elements := make([]tftypes.Value, len(values))
	for i, value := range values {
		elements[i] = tftypes.NewValue(tftypes.String, value)
	}
	return tftypes.NewValue(tftypes.List{ElementType: tftypes.String}, elements)
}
