package benchmarks

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/imagedist/terraform-provider-imagedist/internal/provider"
)

// imagesProviderServer is the provider behind the plugin protocol, as Terraform talks to it,
// configured with registry settings only. Terraform starts one provider process per plan,
// and each new imagesProviderServer likewise starts with no open registry connections.
type imagesProviderServer struct {
	server      tfprotov6.ProviderServer
	dataSources map[string]*tfprotov6.Schema
}

// imagesNewProviderServer configures a provider that trusts the PEM certificates in caPEM
// and takes registry credentials from the docker config file authFile. Configure rejects a
// provider without a cluster address, so host is set to clusterHost, which the image data
// sources never contact when they name no pull secret.
func imagesNewProviderServer(ctx context.Context, caPEM, authFile, clusterHost string) (
	*imagesProviderServer, error) {
	server, err := providerserver.NewProtocol6WithError(provider.New("bench")())()
	if err != nil {
		return nil, err
	}
	schemas, err := server.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		return nil, err
	}
	if err := imagesDiagnosticsError("GetProviderSchema", schemas.Diagnostics, false); err != nil {
		return nil, err
	}

	config, err := imagesDynamicValue(schemas.Provider, map[string]tftypes.Value{
		"registry_ca_certificates": tftypes.NewValue(tftypes.String, caPEM),
		"registry_auth_file":       tftypes.NewValue(tftypes.String, authFile),
		"host":                     tftypes.NewValue(tftypes.String, clusterHost),
	})
	if err != nil {
		return nil, err
	}
	configured, err := server.ConfigureProvider(ctx,
		&tfprotov6.ConfigureProviderRequest{Config: &config})
	if err != nil {
		return nil, err
	}
	if err := imagesDiagnosticsError("ConfigureProvider", configured.Diagnostics,
		false); err != nil {
		return nil, err
	}
	return &imagesProviderServer{server: server, dataSources: schemas.DataSourceSchemas}, nil
}

// read reads the data source typeName with the given attributes and null for the others.
// An error diagnostic is an error, and so is a warning when strict is set.
func (s *imagesProviderServer) read(ctx context.Context, typeName string,
	attributes map[string]tftypes.Value, strict bool) (*tfprotov6.ReadDataSourceResponse, error) {
	schema, ok := s.dataSources[typeName]
	if !ok {
		return nil, fmt.Errorf("the provider has no data source %s", typeName)
	}
	config, err := imagesDynamicValue(schema, attributes)
	if err != nil {
		return nil, err
	}
	resp, err := s.server.ReadDataSource(ctx,
		&tfprotov6.ReadDataSourceRequest{TypeName: typeName, Config: &config})
	if err != nil {
		return nil, err
	}
	if err := imagesDiagnosticsError("ReadDataSource "+typeName, resp.Diagnostics,
		strict); err != nil {
		return nil, err
	}
	if resp.State == nil || len(resp.State.MsgPack) == 0 {
		return nil, fmt.Errorf("ReadDataSource %s returned no state", typeName)
	}
	return resp, nil
}

// imagesDynamicValue encodes an object of the schema's type with the given attributes and
// null for the others.
func imagesDynamicValue(schema *tfprotov6.Schema, set map[string]tftypes.Value) (
	tfprotov6.DynamicValue, error) {
	objectType, ok := schema.ValueType().(tftypes.Object)
	if !ok {
		return tfprotov6.DynamicValue{}, fmt.Errorf("schema type %s is not an object",
			schema.ValueType())
	}
	return tfprotov6.NewDynamicValue(objectType, nullObject(objectType, set))
}

// imagesDiagnosticsError joins the error diagnostics, and with strict also the warnings,
// into one error, or returns nil.
func imagesDiagnosticsError(call string, diagnostics []*tfprotov6.Diagnostic, strict bool) error {
	var errs []error
	for _, diagnostic := range diagnostics {
		if diagnostic.Severity == tfprotov6.DiagnosticSeverityError ||
			(strict && diagnostic.Severity == tfprotov6.DiagnosticSeverityWarning) {
			errs = append(errs, fmt.Errorf("%s: %s: %s", call, diagnostic.Summary,
				diagnostic.Detail))
		}
	}
	return errors.Join(errs...)
}
