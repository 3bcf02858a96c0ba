package provider

import (
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"
)

// Provider functions need Terraform 1.8 or OpenTofu 1.7.
var functionVersionChecks = []tfversion.TerraformVersionCheck{
	tfversion.SkipBelow(tfversion.Version1_8_0),
}

func TestAccFunctionParseImageReference(t *testing.T) {
	reference := func(registry, repository, tag, digest string) knownvalue.Check {
		return knownvalue.ObjectExact(map[string]knownvalue.Check{
			"registry": knownvalue.StringExact(registry), "repository": knownvalue.StringExact(repository),
			"tag": knownvalue.StringExact(tag), "digest": knownvalue.StringExact(digest),
		})
	}
	digest := "sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		TerraformVersionChecks:   functionVersionChecks,
		Steps: []resource.TestStep{
			{
				Config: `
output "short" {
  value = provider::imagedist::parse_image_reference("nginx")
}
output "port" {
  value = provider::imagedist::parse_image_reference("localhost:5000/team/app:1.2")
}
output "both" {
  value = provider::imagedist::parse_image_reference("quay.io/team/app:1.2@` + digest + `")
}
output "digest_only" {
  value = provider::imagedist::parse_image_reference("ghcr.io/org/tool@` + digest + `")
}
`,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownOutputValue("short",
						reference("docker.io", "library/nginx", "latest", "")),
					statecheck.ExpectKnownOutputValue("port",
						reference("localhost:5000", "team/app", "1.2", "")),
					statecheck.ExpectKnownOutputValue("both",
						reference("quay.io", "team/app", "1.2", digest)),
					statecheck.ExpectKnownOutputValue("digest_only",
						reference("ghcr.io", "org/tool", "", digest)),
				},
			},
			{
				Config: `
output "bad" {
  value = provider::imagedist::parse_image_reference("quay.io/Team/App:1")
}
`,
				ExpectError: regexp.MustCompile(`(?s)Invalid function argument.*lowercase`),
			},
		},
	})
}

func TestAccFunctionRegistryKey(t *testing.T) {
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		TerraformVersionChecks:   functionVersionChecks,
		Steps: []resource.TestStep{
			{
				Config: `
output "https" {
  value = provider::imagedist::registry_key("https://Registry.Example.com:443/")
}
output "hub" {
  value = provider::imagedist::registry_key("https://index.docker.io/v1/")
}
output "port" {
  value = provider::imagedist::registry_key("mirror.example.com:5000")
}
`,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownOutputValue("https",
						knownvalue.StringExact("registry.example.com")),
					statecheck.ExpectKnownOutputValue("hub", knownvalue.StringExact("index.docker.io")),
					statecheck.ExpectKnownOutputValue("port",
						knownvalue.StringExact("mirror.example.com:5000")),
				},
			},
			{
				Config: `
output "secret" {
  value = provider::imagedist::registry_key("https://robot:hunter2@quay.io/")
}
`,
				ExpectError: regexp.MustCompile(`(?s)Invalid function argument.*REDACTED@quay.io`),
			},
		},
	})
}
