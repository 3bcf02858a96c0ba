package provider

import (
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/imagedist/terraform-provider-imagedist/internal/kube"
)

// providerData is the value that Configure passes to every resource and data source.
type providerData struct {
	clients *kube.Clients
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
