package provider

import (
	"context"
	"fmt"
	"os"
	"testing"

	tfresource "github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/imagedist/terraform-provider-imagedist/internal/dockerconfig"
	"github.com/imagedist/terraform-provider-imagedist/internal/testregistry"
)

// startTestRegistry starts a registry with TLS and basic auth for one test, and stores its
// credentials as the pull secret "registry" in the test's namespace.
func (c *imagePullerCluster) startTestRegistry() *testregistry.Registry {
	c.t.Helper()
	registry, err := testregistry.Start(context.Background(), testregistry.Options{
		Logf: c.t.Logf,
	})
	if err != nil {
		c.t.Fatalf("starting the test registry: %v", err)
	}
	c.t.Cleanup(func() {
		if err := registry.Stop(); err != nil {
			c.t.Logf("stopping the test registry: %v", err)
		}
	})

	document, err := dockerconfig.Encode([]dockerconfig.Entry{{
		Server: registry.Host, Username: registry.Username, Password: registry.Password,
	}})
	if err != nil {
		c.t.Fatal(err)
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "registry"},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: document},
	}
	_, err = c.client.CoreV1().Secrets(c.namespace).Create(context.Background(), secret,
		metav1.CreateOptions{})
	if err != nil {
		c.t.Fatalf("creating the pull secret: %v", err)
	}
	return registry
}

// With resolve_digests, the DaemonSet pulls the digest that the tag names at plan time, with
// the credentials of image_pull_secrets, and a moved tag plans an update to the new digest.
func TestAccImagePullerResolveDigests(t *testing.T) {
	cluster := newImagePullerCluster(t)
	registry := cluster.startTestRegistry()
	ctx := context.Background()
	first, err := registry.PushRandom(ctx, "team/api", "1.0", 1, 512)
	if err != nil {
		t.Fatalf("pushing the first image: %v", err)
	}
	caPEM, err := os.ReadFile(registry.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	tagged := registry.Host + "/team/api:1.0"
	pinned := func(digest string) string { return registry.Host + "/team/api@" + digest }
	config := fmt.Sprintf(`
provider "imagedist" {
  registry_ca_certificates = %q
}
`, string(caPEM)) + cluster.config(`  images = { api = "`+tagged+`" }
  image_pull_secrets = ["registry"]
  resolve_digests    = true
`)
	var second string

	tfresource.Test(t, tfresource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             cluster.checkDestroyed,
		Steps: []tfresource.TestStep{
			{
				Config: config,
				ConfigPlanChecks: tfresource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(imagePullerAddress,
						tfjsonpath.New("resolved_images").AtMapKey("api"),
						knownvalue.StringExact(pinned(first))),
					statecheck.ExpectKnownValue(imagePullerAddress,
						tfjsonpath.New("images").AtMapKey("api"),
						knownvalue.StringExact(tagged)),
					int64State("nodes_cached", int64(len(workerNodes))),
				},
				Check: func(state *terraform.State) error {
					return cluster.checkContainers(map[string]string{"api": pinned(first)})(state)
				},
			},
			{
				PreConfig: func() {
					second, err = registry.PushRandom(ctx, "team/api", "1.0", 1, 512)
					if err != nil {
						t.Fatalf("moving the tag: %v", err)
					}
				},
				Config: config,
				ConfigPlanChecks: tfresource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(
						imagePullerAddress, plancheck.ResourceActionUpdate)},
				},
				Check: func(state *terraform.State) error {
					return cluster.checkContainers(map[string]string{"api": pinned(second)})(state)
				},
			},
		},
	})
}

// A tag that the registry does not have fails the plan on its image, and no request reaches
// the cluster's DaemonSets.
func TestAccImagePullerResolveDigestsMissingTag(t *testing.T) {
	cluster := newImagePullerCluster(t)
	registry := cluster.startTestRegistry()
	caPEM, err := os.ReadFile(registry.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`
provider "imagedist" {
  registry_ca_certificates = %q
}
`, string(caPEM)) + cluster.config(`  images = { api = "`+registry.Host+`/team/none:1" }
  image_pull_secrets = ["registry"]
  resolve_digests    = true
`)

	tfresource.Test(t, tfresource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []tfresource.TestStep{{
			Config:   config,
			PlanOnly: true,
			ExpectError: wrappedText(`Unable to Resolve Image Digest.*images["api"].*` +
				`no tag "1" in repository team/none`),
		}},
	})
}

// A pull secret that does not exist fails the plan on image_pull_secrets, rather than as a
// registry refusing anonymous requests.
func TestAccImagePullerResolveDigestsMissingSecret(t *testing.T) {
	cluster := newImagePullerCluster(t)
	registry := cluster.startTestRegistry()
	caPEM, err := os.ReadFile(registry.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`
provider "imagedist" {
  registry_ca_certificates = %q
}
`, string(caPEM)) + cluster.config(`  images = { api = "`+registry.Host+`/team/api:1" }
  image_pull_secrets = ["nope"]
  resolve_digests    = true
`)

	tfresource.Test(t, tfresource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []tfresource.TestStep{{
			Config:      config,
			PlanOnly:    true,
			ExpectError: wrappedText(`Pull Secret Not Found.*Secret "nope" in namespace`),
		}},
	})
}

// The pinned backend resolves tags with the cluster's global pull secret and pins the
// digests, without resolve_digests.
func TestAccImagePullerPinnedResolveDigests(t *testing.T) {
	pinned := newPinnedCluster(t)
	puller := newImagePullerCluster(t)
	registry := puller.startTestRegistry()
	ctx := context.Background()
	digest, err := registry.PushRandom(ctx, "team/pinned", "2.0", 1, 256)
	if err != nil {
		t.Fatal(err)
	}
	addGlobalPullSecretEntry(t, puller.client, dockerconfig.Entry{
		Server: registry.Host, Username: registry.Username, Password: registry.Password,
	})
	caPEM, err := os.ReadFile(registry.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`
provider "imagedist" {
  registry_ca_certificates = %q
}
`, string(caPEM)) + pinned.config(`  machine_config_pools = ["worker"]
  images = { api = "`+registry.Host+`/team/pinned:2.0" }
`)

	tfresource.Test(t, tfresource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             pinned.checkDestroyed,
		Steps: []tfresource.TestStep{{
			Config: config,
			ConfigPlanChecks: tfresource.ConfigPlanChecks{
				PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
			},
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(imagePullerAddress,
					tfjsonpath.New("resolved_images").AtMapKey("api"),
					knownvalue.StringExact(registry.Host+"/team/pinned@"+digest)),
				int64State("nodes_cached", int64(len(workerNodes))),
			},
		}},
	})
}

// addGlobalPullSecretEntry adds entry to openshift-config/pull-secret and removes it again
// when the test ends.
func addGlobalPullSecretEntry(t *testing.T, client kubernetes.Interface,
	entry dockerconfig.Entry) {
	t.Helper()
	ctx := context.Background()
	secrets := client.CoreV1().Secrets(globalPullSecretNamespace)
	edit := func(change func(*dockerconfig.Config) error) {
		t.Helper()
		secret, err := secrets.Get(ctx, globalPullSecretName, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("reading the global pull secret: %v", err)
		}
		config, err := dockerconfig.Decode(secret.Data[corev1.DockerConfigJsonKey])
		if err != nil {
			t.Fatalf("decoding the global pull secret: %v", err)
		}
		if err := change(config); err != nil {
			t.Fatalf("editing the global pull secret: %v", err)
		}
		secret.Data[corev1.DockerConfigJsonKey] = config.Bytes()
		if _, err := secrets.Update(ctx, secret, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("updating the global pull secret: %v", err)
		}
	}
	edit(func(config *dockerconfig.Config) error { return config.Merge(entry) })
	t.Cleanup(func() {
		edit(func(config *dockerconfig.Config) error {
			_, err := config.Remove(entry.Server)
			return err
		})
	})
}
