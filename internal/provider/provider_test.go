package provider

import (
	"context"
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
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

// TestAccProviderWithoutCluster runs an image look-up with a provider block that names no
// cluster, as a CI job that only reads image sizes would, and checks that a resource in the
// same configuration still fails at plan time.
func TestAccProviderWithoutCluster(t *testing.T) {
	env := newImageLookupEnv(t)
	digest, err := env.registry.PushRandom(context.Background(), "team/no-cluster", "1", 1, 256)
	if err != nil {
		t.Fatal(err)
	}
	authFile := env.authFile()
	clearKubeEnvironment(t)
	lookup := fmt.Sprintf(`
provider "imagedist" {
  registry_ca_certificates = %q
  registry_auth_file       = %q
}

data "imagedist_image" "test" {
  reference = %q
}
`, env.caPEM, authFile, env.reference("team/no-cluster:1"))

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: lookup,
				ConfigStateChecks: []statecheck.StateCheck{
					imageState("digest", knownvalue.StringExact(digest)),
				},
			},
			{
				Config: lookup + `
resource "imagedist_pull_secret" "test" {
  namespace = "default"
  name      = "registry"

  registry {
    server   = "registry.example.com"
    username = "ci"
    password = "token"
  }
}
`,
				ExpectError: wrappedText(`Missing Cluster Address.*Neither host nor config_path`),
			},
		},
	})
}
