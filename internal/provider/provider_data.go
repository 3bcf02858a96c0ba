package provider

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/imagedist/terraform-provider-imagedist/internal/dockerconfig"
	"github.com/imagedist/terraform-provider-imagedist/internal/kube"
)

// providerData is the value that Configure passes to every resource and data source.
type providerData struct {
	clients *kube.Clients
	// registryTransport carries the provider's own registry requests. It is nil while the
	// provider configuration is unknown.
	registryTransport http.RoundTripper
	// registryAuth is the docker config document of registry_auth_file, or nil without one.
	// Image look-ups that name no pull secret take their credentials from it.
	registryAuth *dockerconfig.Config
	// registryAuthSource names the file of registryAuth and the setting that chose it, for
	// messages about its credentials.
	registryAuthSource string
	// registryAuthProblem is set when REGISTRY_AUTH_FILE or DOCKER_CONFIG names a file that
	// cannot be used. It fails only the look-ups that would take credentials from the file.
	registryAuthProblem *registryAuthProblem
	// insecureRegistries are the hosts that image look-ups may reach over plain HTTP.
	insecureRegistries []string
}

// registryTransportFromProviderData returns the transport for registry requests, or nil
// before Configure or while the configuration is unknown.
func registryTransportFromProviderData(data any) http.RoundTripper {
	configured, ok := data.(*providerData)
	if !ok {
		return nil
	}
	return configured.registryTransport
}

// insecureRegistriesFromProviderData returns the registries that image look-ups may reach
// over plain HTTP, or nil before Configure.
func insecureRegistriesFromProviderData(data any) []string {
	configured, ok := data.(*providerData)
	if !ok {
		return nil
	}
	return configured.insecureRegistries
}

// clientsFromProviderData checks the value a resource's or data source's Configure receives.
// It returns nil without a diagnostic while the provider is not configured yet, as during
// validation.
func clientsFromProviderData(data any, diags *diag.Diagnostics) *kube.Clients {
	if data == nil {
		return nil
	}

	configured, ok := data.(*providerData)
	if !ok {
		diags.AddError("Unexpected Provider Data",
			fmt.Sprintf("Expected *providerData, got %T. Please report this to the provider's "+
				"developers.", data))
		return nil
	}
	return configured.clients
}

// kubernetesClient returns the typed client for an operation that needs the cluster, or nil
// with an error in diags.
func kubernetesClient(clients *kube.Clients, diags *diag.Diagnostics) kubernetes.Interface {
	if !checkConfigured(clients, diags) {
		return nil
	}
	client, err := clients.Kubernetes()
	if err != nil {
		addClientError(diags, err)
		return nil
	}
	return client
}

// dynamicClient returns the dynamic client for an operation that needs the cluster, or nil
// with an error in diags.
func dynamicClient(clients *kube.Clients, diags *diag.Diagnostics) dynamic.Interface {
	if !checkConfigured(clients, diags) {
		return nil
	}
	client, err := clients.Dynamic()
	if err != nil {
		addClientError(diags, err)
		return nil
	}
	return client
}

// requireClusterSettings adds the error of cluster settings that name no cluster at all. Every
// resource calls it when it plans, because a resource always needs the cluster, while
// Configure lets such settings pass for the operations that need none. It sends no request.
func requireClusterSettings(clients *kube.Clients, diags *diag.Diagnostics) {
	if clients == nil {
		return
	}
	_, err := clients.REST()
	var problems kube.SettingErrors
	if errors.As(err, &problems) && kube.OnlyNoCluster(problems) {
		// The attribute belongs to the provider block, which a resource's diagnostic
		// cannot point at, so the error names no attribute.
		diags.AddError(problems[0].Summary, problems[0].Detail)
	}
}

// checkConfigured reports a CRUD call that reached a resource before Configure gave it
// clients, which Terraform does not do.
func checkConfigured(clients *kube.Clients, diags *diag.Diagnostics) bool {
	if clients == nil {
		diags.AddError("Provider Not Configured",
			"The imagedist provider has no cluster clients yet. Please report this to the "+
				"provider's developers.")
		return false
	}
	return true
}
