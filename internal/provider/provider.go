// Package provider implements the imagedist Terraform provider: its configuration, resources,
// data sources and functions. The cluster and registry logic lives in sibling packages.
package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/function"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/imagedist/terraform-provider-imagedist/internal/kube"
	"github.com/imagedist/terraform-provider-imagedist/internal/registry"
)

var (
	_ provider.Provider                     = &imagedistProvider{}
	_ provider.ProviderWithConfigValidators = &imagedistProvider{}
	_ provider.ProviderWithFunctions        = &imagedistProvider{}
)

// providerTypeName prefixes every resource, data source and function type name.
const providerTypeName = "imagedist"

// imagedistProvider is the provider implementation; version is the release it was built as.
type imagedistProvider struct {
	version string
}

// New returns a constructor for the provider, as providerserver.Serve expects.
func New(version string) func() provider.Provider {
	return func() provider.Provider {
		return &imagedistProvider{version: version}
	}
}

func (p *imagedistProvider) Metadata(
	_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse,
) {
	resp.TypeName = providerTypeName
	resp.Version = p.version
}

// Configure resolves the connection settings, checks them offline and hands every resource
// and data source a client set that dials the cluster only on first use.
func (p *imagedistProvider) Configure(
	ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse,
) {
	var config providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}

	data := &providerData{}
	resp.DataSourceData = data
	resp.ResourceData = data
	p.configureRegistries(ctx, config, data, &resp.Diagnostics)
	p.configureCluster(ctx, config, data, &resp.Diagnostics)
}

// configureRegistries sets up image look-ups from registries. They need no cluster, so they
// are set up even when the cluster settings are not known yet.
func (p *imagedistProvider) configureRegistries(ctx context.Context, config providerModel,
	data *providerData, diags *diag.Diagnostics) {
	if unknown := config.unknownRegistryAttributes(); len(unknown) > 0 {
		// Look-ups then report that the settings are not known yet, and run during apply.
		tflog.Debug(ctx, "Registry settings have unknown values; look-ups are deferred",
			map[string]any{"unknown_attributes": unknown})
		return
	}
	transport, err := registry.NewTransport(config.RegistryCACertificates.ValueString())
	if err != nil {
		diags.AddAttributeError(attributePath("registry_ca_certificates"),
			"Invalid Registry CA Certificates",
			fmt.Sprintf("registry_ca_certificates must hold PEM-encoded certificates, such as "+
				"the content of a ca.crt file: %v.", err))
		return
	}
	data.registryTransport = transport
	config.configureRegistryAccess(environment{}, data, diags)
}

// configureCluster checks the connection settings offline and hands out a client set that
// dials the cluster only on first use.
func (p *imagedistProvider) configureCluster(ctx context.Context, config providerModel,
	data *providerData, diags *diag.Diagnostics) {
	if unknown := config.unknownClusterAttributes(); len(unknown) > 0 {
		// A cluster created in the same apply: never fall back to defaults for an unknown
		// value, because that would point the provider at another cluster.
		tflog.Debug(ctx, "Provider configuration has unknown values; clients are deferred",
			map[string]any{"unknown_attributes": unknown})
		data.clients = kube.NewDeferredClients(unknown)
		return
	}

	settings := config.kubeConfig(environment{})
	problems := settings.Check()
	if kube.OnlyNoCluster(problems) {
		// Image look-ups and provider functions need no cluster. Resources report the
		// problem when they plan, and data sources when they read the cluster.
		tflog.Debug(ctx, "Provider configuration names no cluster; only operations that "+
			"need none will work")
		problems = nil
	}
	for _, problem := range problems {
		attribute := problem.Attribute
		if attribute == "config_path" || attribute == "config_paths" {
			attribute = config.pathsAttribute()
		}
		diags.AddAttributeError(attributePath(attribute), problem.Summary, problem.Detail)
	}
	if diags.HasError() {
		return
	}
	if settings.Insecure {
		diags.AddAttributeWarning(attributePath("insecure"),
			"TLS Verification Disabled",
			"The provider does not verify the API server's certificate, so a machine in the "+
				"network path could read and change what the provider sends, including "+
				"registry credentials. Set cluster_ca_certificate instead where possible.")
	} else if reason := settings.UnverifiedConnection(); reason != "" {
		diags.AddWarning("Unprotected API Server Connection",
			fmt.Sprintf("In the cluster settings that the provider uses, %s. Use an https "+
				"server address and a CA certificate (cluster_ca_certificate, or "+
				"certificate-authority in the kubeconfig) instead.", reason))
	}

	tflog.Debug(ctx, "Configured cluster connection", connectionLogFields(settings))
	settings.RetryLog = func(ctx context.Context, message string, fields map[string]any) {
		tflog.Debug(ctx, message, fields)
	}
	data.clients = kube.NewClients(settings, "terraform-provider-imagedist/"+p.version)
}

func (p *imagedistProvider) Resources(_ context.Context) []func() resource.Resource {
	return []func() resource.Resource{
		NewPullSecretResource,
		NewClusterPullSecretResource,
		NewKubeletImageGCResource,
		NewRegistryMirrorResource,
		NewRegistryPolicyResource,
		NewImagePullerResource,
	}
}

func (p *imagedistProvider) Functions(_ context.Context) []func() function.Function {
	return []func() function.Function{
		NewParseImageReferenceFunction,
		NewRegistryKeyFunction,
	}
}

func (p *imagedistProvider) DataSources(_ context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{
		NewNodeImagesDataSource,
		NewImagePullsDataSource,
		NewImageDataSource,
		NewImagesDataSource,
	}
}
