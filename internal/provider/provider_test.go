package provider

import (
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// testAccProviderFactories serves the provider in-process to the Terraform or OpenTofu binary
// that terraform-plugin-testing runs.
var testAccProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
	providerTypeName: providerserver.NewProtocol6WithError(New("test")()),
}

// A cluster created in the same apply has an unknown host at plan time. Configure must accept
// that, and planning a new pull secret needs no cluster.
func TestAccProviderUnknownHostPlans(t *testing.T) {
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []resource.TestStep{{
			Config: `
resource "terraform_data" "cluster" {
  input = "https://127.0.0.1:1"
}

provider "imagedist" {
  host  = terraform_data.cluster.output
  token = "not-a-real-token"
}

resource "imagedist_pull_secret" "planned" {
  name      = "planned"
  namespace = "default"
  registry {
    server   = "registry.example.com"
    username = "robot"
    password = "not-a-real-password"
  }
}
`,
			PlanOnly:           true,
			ExpectNonEmptyPlan: true,
		}},
	})
}

func TestAccProviderUnknownContext(t *testing.T) {
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []resource.TestStep{{
			Config: `
provider "imagedist" {
  config_context = "no-such-context"
}

data "imagedist_node_images" "all" {}
`,
			ExpectError: regexp.MustCompile(`no-such-context`),
		}},
	})
}
