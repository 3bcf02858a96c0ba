package provider

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/acctest"
	tfresource "github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/imagedist/terraform-provider-imagedist/internal/dockerconfig"
	"github.com/imagedist/terraform-provider-imagedist/internal/registry"
	"github.com/imagedist/terraform-provider-imagedist/internal/testcluster"
	"github.com/imagedist/terraform-provider-imagedist/internal/testregistry"
)

const (
	imageAddress  = "data.imagedist_image.test"
	imagesAddress = "data.imagedist_images.test"
	// wrongPassword is the password of the pull secret "wrong". It must never show in
	// output.
	wrongPassword = "not-the-password-4f7c1d"
)

// imageLookupEnv is a test registry with TLS and basic auth, and a namespace with two pull
// secrets for it: "registry" with the right credentials and "wrong" with a wrong password.
type imageLookupEnv struct {
	t         *testing.T
	client    kubernetes.Interface
	namespace string
	registry  *testregistry.Registry
	caPEM     string
}

func newImageLookupEnv(t *testing.T) *imageLookupEnv {
	t.Helper()
	client := acceptanceClient(t)
	env := &imageLookupEnv{t: t, client: client, namespace: acctest.RandomWithPrefix("image")}
	ctx := context.Background()
	if err := testcluster.CreateNamespace(ctx, client, env.namespace, nil); err != nil {
		t.Fatalf("creating namespace %s: %v", env.namespace, err)
	}
	t.Cleanup(func() {
		err := client.CoreV1().Namespaces().Delete(context.Background(), env.namespace,
			metav1.DeleteOptions{})
		if err != nil {
			t.Logf("deleting namespace %s: %v", env.namespace, err)
		}
	})

	var err error
	env.registry, err = testregistry.Start(ctx, testregistry.Options{Logf: t.Logf})
	if err != nil {
		t.Fatalf("starting the test registry: %v", err)
	}
	t.Cleanup(func() {
		if err := env.registry.Stop(); err != nil {
			t.Logf("stopping the test registry: %v", err)
		}
	})
	caPEM, err := os.ReadFile(env.registry.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	env.caPEM = string(caPEM)
	env.createPullSecret("registry", env.registry.Password)
	env.createPullSecret("wrong", wrongPassword)
	return env
}

func (e *imageLookupEnv) createPullSecret(secretName, password string) {
	e.t.Helper()
	e.createSecret(secretName, corev1.SecretTypeDockerConfigJson, dockerconfig.Entry{
		Server: e.registry.Host, Username: e.registry.Username, Password: password,
	})
}

// createSecret creates a Secret of secretType whose .dockerconfigjson key contains entries.
func (e *imageLookupEnv) createSecret(secretName string, secretType corev1.SecretType,
	entries ...dockerconfig.Entry) {
	e.t.Helper()
	document, err := dockerconfig.Encode(entries)
	if err != nil {
		e.t.Fatal(err)
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: secretName},
		Type:       secretType,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: document},
	}
	_, err = e.client.CoreV1().Secrets(e.namespace).Create(context.Background(), secret,
		metav1.CreateOptions{})
	if err != nil {
		e.t.Fatalf("creating the Secret %s: %v", secretName, err)
	}
}

// config returns a configuration with the provider block and one imagedist_image or
// imagedist_images data source named test, with the pull secret secretName.
func (e *imageLookupEnv) config(dataSource, secretName, body string) string {
	return e.configWithCA(e.caPEM, dataSource, secretName, body)
}

// configWithCA is config with the provider's registry_ca_certificates set to caPEM.
func (e *imageLookupEnv) configWithCA(caPEM, dataSource, secretName, body string) string {
	return fmt.Sprintf(`
provider "imagedist" {
  registry_ca_certificates = %q
}

data %q "test" {
  pull_secret = {
    namespace = %q
    name      = %q
  }
%s
}
`, caPEM, dataSource, e.namespace, secretName, body)
}

// authFile writes a docker config file with the registry's credentials and returns its path.
func (e *imageLookupEnv) authFile() string {
	e.t.Helper()
	document, err := dockerconfig.Encode([]dockerconfig.Entry{{
		Server: e.registry.Host, Username: e.registry.Username, Password: e.registry.Password,
	}})
	if err != nil {
		e.t.Fatal(err)
	}
	path := filepath.Join(e.t.TempDir(), "auth.json")
	if err := os.WriteFile(path, document, 0o600); err != nil {
		e.t.Fatal(err)
	}
	return path
}

func (e *imageLookupEnv) reference(repositoryTag string) string {
	return e.registry.Host + "/" + repositoryTag
}

// compressedSize reads the manifest at digest and returns its config size plus layer sizes,
// which compressed_size_bytes must equal.
func (e *imageLookupEnv) compressedSize(repository, digest string) int64 {
	e.t.Helper()
	transport, err := registry.NewTransport(e.caPEM)
	if err != nil {
		e.t.Fatal(err)
	}
	reference, err := name.NewDigest(e.reference(repository) + "@" + digest)
	if err != nil {
		e.t.Fatal(err)
	}
	auth := &authn.Basic{Username: e.registry.Username, Password: e.registry.Password}
	image, err := remote.Image(reference, remote.WithAuth(auth), remote.WithTransport(transport))
	if err != nil {
		e.t.Fatalf("reading %s: %v", reference, err)
	}
	manifest, err := image.Manifest()
	if err != nil {
		e.t.Fatal(err)
	}
	size := manifest.Config.Size
	for _, layer := range manifest.Layers {
		size += layer.Size
	}
	return size
}

// sha256Pattern matches a sha256 digest.
var sha256Pattern = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

func imageState(attribute string, want knownvalue.Check) statecheck.StateCheck {
	return statecheck.ExpectKnownValue(imageAddress, tfjsonpath.New(attribute), want)
}

// A single-platform image: digest, layers and download size as the manifest records them.
func TestAccImageDataSinglePlatform(t *testing.T) {
	env := newImageLookupEnv(t)
	digest, err := env.registry.PushRandom(context.Background(), "team/single", "1.0", 2, 2048)
	if err != nil {
		t.Fatal(err)
	}
	size := env.compressedSize("team/single", digest)

	tfresource.Test(t, tfresource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []tfresource.TestStep{{
			Config: env.config("imagedist_image", "registry",
				`  reference = "`+env.reference("team/single:1.0")+`"`),
			ConfigStateChecks: []statecheck.StateCheck{
				imageState("registry", knownvalue.StringExact(env.registry.Host)),
				imageState("repository", knownvalue.StringExact("team/single")),
				imageState("tag", knownvalue.StringExact("1.0")),
				imageState("digest", knownvalue.StringExact(digest)),
				imageState("manifest_digest", knownvalue.StringExact(digest)),
				imageState("is_index", knownvalue.Bool(false)),
				imageState("media_type", knownvalue.StringExact(
					"application/vnd.docker.distribution.manifest.v2+json")),
				imageState("platform", knownvalue.StringExact("linux/amd64")),
				imageState("layers", knownvalue.ListSizeExact(2)),
				imageState("platforms", knownvalue.ListSizeExact(0)),
				imageState("compressed_size_bytes", knownvalue.Int64Exact(size)),
				imageState("config_digest", knownvalue.StringRegexp(sha256Pattern)),
			},
		}},
	})
}

// An index with BuildKit attestation entries lists only the platform images, and the
// default platform linux/amd64 is described.
func TestAccImageDataIndexWithAttestation(t *testing.T) {
	env := newImageLookupEnv(t)
	digest, err := env.registry.PushIndex(context.Background(), "team/multi", "2.0",
		[]string{"linux/amd64", "linux/arm64/v8"}, true)
	if err != nil {
		t.Fatal(err)
	}
	platformAt := func(i int, attribute string) tfjsonpath.Path {
		return tfjsonpath.New("platforms").AtSliceIndex(i).AtMapKey(attribute)
	}

	tfresource.Test(t, tfresource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []tfresource.TestStep{{
			Config: env.config("imagedist_image", "registry",
				`  reference = "`+env.reference("team/multi:2.0")+`"`),
			ConfigStateChecks: []statecheck.StateCheck{
				imageState("digest", knownvalue.StringExact(digest)),
				imageState("is_index", knownvalue.Bool(true)),
				imageState("media_type", knownvalue.StringExact(
					"application/vnd.oci.image.index.v1+json")),
				imageState("platform", knownvalue.StringExact("linux/amd64")),
				imageState("platforms", knownvalue.ListSizeExact(2)),
				statecheck.ExpectKnownValue(imageAddress, platformAt(0, "platform"),
					knownvalue.StringExact("linux/amd64")),
				statecheck.ExpectKnownValue(imageAddress, platformAt(1, "platform"),
					knownvalue.StringExact("linux/arm64/v8")),
				statecheck.CompareValuePairs(imageAddress, tfjsonpath.New("manifest_digest"),
					imageAddress, platformAt(0, "digest"), compare.ValuesSame()),
				statecheck.CompareValuePairs(imageAddress,
					tfjsonpath.New("compressed_size_bytes"), imageAddress,
					platformAt(0, "compressed_size_bytes"), compare.ValuesSame()),
				imageState("layers", knownvalue.ListSizeExact(1)),
			},
		}},
	})
}

// A scratch image has one layer and no creation time.
func TestAccImageDataScratch(t *testing.T) {
	env := newImageLookupEnv(t)
	digest, err := env.registry.PushScratch(context.Background(), "team/static", "1")
	if err != nil {
		t.Fatal(err)
	}
	size := env.compressedSize("team/static", digest)

	tfresource.Test(t, tfresource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []tfresource.TestStep{{
			Config: env.config("imagedist_image", "registry",
				`  reference = "`+env.reference("team/static:1")+`"`),
			ConfigStateChecks: []statecheck.StateCheck{
				imageState("digest", knownvalue.StringExact(digest)),
				imageState("layers", knownvalue.ListSizeExact(1)),
				imageState("compressed_size_bytes", knownvalue.Int64Exact(size)),
				imageState("platform", knownvalue.StringExact("linux/amd64")),
			},
		}},
	})
}

// platform selects an image of the index, and a platform that the index lacks fails with
// the platforms it has. The valid step comes last, because the post-test destroy uses the
// last configuration.
func TestAccImageDataPlatformSelection(t *testing.T) {
	env := newImageLookupEnv(t)
	_, err := env.registry.PushIndex(context.Background(), "team/multi", "3.0",
		[]string{"linux/amd64", "linux/arm64/v8"}, true)
	if err != nil {
		t.Fatal(err)
	}
	reference := `  reference = "` + env.reference("team/multi:3.0") + `"` + "\n"

	tfresource.Test(t, tfresource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []tfresource.TestStep{
			{
				Config: env.config("imagedist_image", "registry",
					reference+`  platform = "linux/s390x"`),
				ExpectError: wrappedText(`Unable to Look Up Image.*no image for platform ` +
					`linux/s390x, only for linux/amd64, linux/arm64/v8.*Set platform`),
			},
			{
				Config: env.config("imagedist_image", "registry",
					reference+`  platform = "Linux/amd64"`),
				ExpectError: wrappedText(`Invalid Platform`),
			},
			{
				Config: env.config("imagedist_image", "registry",
					reference+`  platform = "linux/arm64"`),
				ConfigStateChecks: []statecheck.StateCheck{
					imageState("platform", knownvalue.StringExact("linux/arm64")),
					statecheck.CompareValuePairs(imageAddress,
						tfjsonpath.New("manifest_digest"), imageAddress,
						tfjsonpath.New("platforms").AtSliceIndex(1).AtMapKey("digest"),
						compare.ValuesSame()),
				},
			},
		},
	})
}

// A reference with a tag and a digest is looked up by the digest, so a tag that does not
// exist does not matter.
func TestAccImageDataTagAndDigest(t *testing.T) {
	env := newImageLookupEnv(t)
	digest, err := env.registry.PushRandom(context.Background(), "team/pinned", "1", 1, 512)
	if err != nil {
		t.Fatal(err)
	}

	tfresource.Test(t, tfresource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []tfresource.TestStep{{
			Config: env.config("imagedist_image", "registry",
				`  reference = "`+env.reference("team/pinned:absent@"+digest)+`"`),
			ConfigStateChecks: []statecheck.StateCheck{
				imageState("digest", knownvalue.StringExact(digest)),
				imageState("tag", knownvalue.StringExact("absent")),
			},
		}},
	})
}

// A wrong password names the pull secret it came from. A pull secret without an entry for
// the registry lists the entries it has. An Opaque Secret is rejected by its type. A missing
// tag or pull secret fails with its own message.
func TestAccImageDataLookupErrors(t *testing.T) {
	env := newImageLookupEnv(t)
	_, err := env.registry.PushRandom(context.Background(), "team/app", "1", 1, 256)
	if err != nil {
		t.Fatal(err)
	}
	env.createSecret("other", corev1.SecretTypeDockerConfigJson, dockerconfig.Entry{
		Server: "quay.io", Username: "robot", Password: wrongPassword,
	})
	env.createSecret("opaque", corev1.SecretTypeOpaque, dockerconfig.Entry{
		Server: env.registry.Host, Username: env.registry.Username,
		Password: env.registry.Password,
	})
	// secret matches the name of a Secret of the namespace across a wrapped line.
	secret := func(name string) string {
		return `Secret\s+` + regexp.QuoteMeta(fmt.Sprintf(`"%s/%s"`, env.namespace, name))
	}

	tfresource.Test(t, tfresource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []tfresource.TestStep{
			{
				Config: env.config("imagedist_image", "wrong",
					`  reference = "`+env.reference("team/app:1")+`"`),
				ExpectError: regexp.MustCompile(`(?s)Unable to Look Up Image.*rejected the\s+` +
					`credentials\s+for\s+` + regexp.QuoteMeta(env.registry.Host) +
					`\s+from\s+` + secret("wrong") + `.*HTTP 401`),
			},
			{
				Config: env.config("imagedist_image", "other",
					`  reference = "`+env.reference("team/app:1")+`"`),
				ExpectError: regexp.MustCompile(`(?s)Unable to Look Up Image.*` +
					secret("other") + `\s+has\s+no\s+entry\s+for.*entries\s+for\s+` +
					`"quay.io"\s+only`),
			},
			{
				Config: env.config("imagedist_image", "opaque",
					`  reference = "`+env.reference("team/app:1")+`"`),
				ExpectError: regexp.MustCompile(`(?s)Invalid Pull Secret.*` +
					secret("opaque") + `.*type\s+"Opaque"`),
			},
			{
				Config: env.config("imagedist_image", "registry",
					`  reference = "`+env.reference("team/app:2")+`"`),
				ExpectError: wrappedText(`Unable to Look Up Image.*no tag "2" in ` +
					`repository team/app`),
			},
			{
				Config: env.config("imagedist_image", "absent",
					`  reference = "`+env.reference("team/app:1")+`"`),
				ExpectError: wrappedText(`Pull Secret Not Found`),
			},
			{
				Config: env.config("imagedist_image", "registry",
					`  reference = "`+env.reference("team/app:1")+`"`),
				ConfigStateChecks: []statecheck.StateCheck{
					imageState("tag", knownvalue.StringExact("1")),
				},
			},
		},
	})
}

// The batch keeps input order, returns the same result for a repeated reference, and reports
// a failing reference in its own element without hiding the others.
func TestAccImagesDataBatch(t *testing.T) {
	env := newImageLookupEnv(t)
	ctx := context.Background()
	single, err := env.registry.PushRandom(ctx, "team/single", "1", 1, 512)
	if err != nil {
		t.Fatal(err)
	}
	index, err := env.registry.PushIndex(ctx, "team/multi", "1",
		[]string{"linux/amd64", "linux/arm64/v8"}, true)
	if err != nil {
		t.Fatal(err)
	}
	references := []string{
		env.reference("team/single:1"),
		env.reference("team/multi:1"),
		env.reference("team/missing:1"),
		env.reference("team/single:1"),
	}
	at := func(i int, attribute string) tfjsonpath.Path {
		return tfjsonpath.New("images").AtSliceIndex(i).AtMapKey(attribute)
	}
	elementState := func(i int, attribute string, want knownvalue.Check) statecheck.StateCheck {
		return statecheck.ExpectKnownValue(imagesAddress, at(i, attribute), want)
	}

	tfresource.Test(t, tfresource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []tfresource.TestStep{{
			Config: env.config("imagedist_images", "registry",
				"  references = "+hclList(references)),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(imagesAddress, tfjsonpath.New("images"),
					knownvalue.ListSizeExact(4)),
				elementState(0, "reference", knownvalue.StringExact(references[0])),
				elementState(0, "digest", knownvalue.StringExact(single)),
				elementState(0, "error", knownvalue.StringExact("")),
				elementState(1, "digest", knownvalue.StringExact(index)),
				elementState(1, "platform", knownvalue.StringExact("linux/amd64")),
				elementState(1, "platforms", knownvalue.ListSizeExact(2)),
				elementState(2, "reference", knownvalue.StringExact(references[2])),
				elementState(2, "error", knownvalue.StringRegexp(wrappedText(
					`team/missing:1.*no tag "1" in repository team/missing`))),
				elementState(2, "digest", knownvalue.Null()),
				elementState(3, "digest", knownvalue.StringExact(single)),
				elementState(3, "error", knownvalue.StringExact("")),
			},
		}},
	})
}

// A wrong password in a batch is reported per image with the HTTP status, and the password
// appears nowhere in state.
func TestAccImagesDataWrongPassword(t *testing.T) {
	env := newImageLookupEnv(t)
	_, err := env.registry.PushRandom(context.Background(), "team/app", "1", 1, 256)
	if err != nil {
		t.Fatal(err)
	}
	reference := env.reference("team/app:1")

	tfresource.Test(t, tfresource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []tfresource.TestStep{{
			Config: env.config("imagedist_images", "wrong",
				"  references = "+hclList([]string{reference})),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(imagesAddress,
					tfjsonpath.New("images").AtSliceIndex(0).AtMapKey("error"),
					knownvalue.StringRegexp(wrappedText(`rejected the credentials.*HTTP 401`))),
			},
			Check: func(state *terraform.State) error {
				for _, module := range state.Modules {
					for address, resource := range module.Resources {
						for key, value := range resource.Primary.Attributes {
							if strings.Contains(value, wrongPassword) {
								return fmt.Errorf("%s.%s contains the password", address, key)
							}
						}
					}
				}
				return nil
			},
		}},
	})
}

// Without a pull secret, the provider's registry_auth_file supplies the credentials, and
// without any credentials the registry rejects the look-up.
func TestAccImageDataAuthFile(t *testing.T) {
	env := newImageLookupEnv(t)
	digest, err := env.registry.PushRandom(context.Background(), "team/app", "1", 1, 256)
	if err != nil {
		t.Fatal(err)
	}
	authFile := env.authFile()
	otherDocument, err := dockerconfig.Encode([]dockerconfig.Entry{{
		Server: "quay.io", Username: "robot", Password: wrongPassword,
	}})
	if err != nil {
		t.Fatal(err)
	}
	otherFile := t.TempDir() + "/other.json"
	if err := os.WriteFile(otherFile, otherDocument, 0o600); err != nil {
		t.Fatal(err)
	}
	config := func(authSetting string) string {
		return fmt.Sprintf(`
provider "imagedist" {
  registry_ca_certificates = %q
%s
}

data "imagedist_image" "test" {
  reference = %q
}
`, env.caPEM, authSetting, env.reference("team/app:1"))
	}

	tfresource.Test(t, tfresource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []tfresource.TestStep{
			{
				Config: config(""),
				ExpectError: wrappedText(`Unable to Look Up Image.*requires credentials, ` +
					`and the look-up had none.*HTTP 401`),
			},
			{
				Config: config(fmt.Sprintf("  registry_auth_file = %q", otherFile)),
				ExpectError: regexp.MustCompile(`(?s)Unable to Look Up Image.*the\s+docker\s+` +
					`config\s+file\s+` + regexp.QuoteMeta(otherFile) + `\s+\(set\s+by\s+` +
					`registry_auth_file\)\s+has\s+no\s+entry`),
			},
			{
				Config: config(fmt.Sprintf("  registry_auth_file = %q", authFile)),
				ConfigStateChecks: []statecheck.StateCheck{
					imageState("digest", knownvalue.StringExact(digest)),
				},
			},
		},
	})
}

// hclList writes values as an HCL list of strings.
func hclList(values []string) string {
	quoted := make([]string, len(values))
	for i, value := range values {
		quoted[i] = fmt.Sprintf("%q", value)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// A batch of 200 references to 50 images returns every digest in input order.
func TestAccImagesDataLargeBatch(t *testing.T) {
	env := newImageLookupEnv(t)
	ctx := context.Background()
	const distinct, repeats = 50, 4
	digests := make([]string, distinct)
	for i := range distinct {
		digest, err := env.registry.PushRandom(ctx, "team/batch", fmt.Sprint(i), 1, 64)
		if err != nil {
			t.Fatalf("pushing image %d: %v", i, err)
		}
		digests[i] = digest
	}
	var references []string
	var checks []statecheck.StateCheck
	for r := range repeats {
		for i := range distinct {
			index := len(references)
			references = append(references, env.reference(fmt.Sprintf("team/batch:%d", i)))
			if r == repeats-1 || i%7 == 0 {
				checks = append(checks, statecheck.ExpectKnownValue(imagesAddress,
					tfjsonpath.New("images").AtSliceIndex(index).AtMapKey("digest"),
					knownvalue.StringExact(digests[i])))
			}
		}
	}
	checks = append(checks, statecheck.ExpectKnownValue(imagesAddress,
		tfjsonpath.New("images"), knownvalue.ListSizeExact(distinct*repeats)))

	tfresource.Test(t, tfresource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []tfresource.TestStep{{
			Config: env.config("imagedist_images", "registry",
				"  references = "+hclList(references)),
			ConfigStateChecks: checks,
		}},
	})
}

// A registry that is down is reported per reference, and the batch still completes.
func TestAccImagesDataRegistryDown(t *testing.T) {
	env := newImageLookupEnv(t)
	reference := env.reference("team/app:1")
	if err := env.registry.Stop(); err != nil {
		t.Fatalf("stopping the registry: %v", err)
	}

	tfresource.Test(t, tfresource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []tfresource.TestStep{{
			Config: env.config("imagedist_images", "registry",
				"  references = "+hclList([]string{reference})),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(imagesAddress,
					tfjsonpath.New("images").AtSliceIndex(0).AtMapKey("error"),
					knownvalue.StringRegexp(regexp.MustCompile(
						`is unreachable.*connection refused`))),
			},
		}},
	})
}

// A registry whose certificate comes from a CA that the provider does not trust is reported
// with registry_ca_certificates as the fix, not insecure_registries, although the registry
// is on loopback, where go-containerregistry also tries plain HTTP.
func TestAccImageDataUntrustedCertificate(t *testing.T) {
	env := newImageLookupEnv(t)
	_, err := env.registry.PushRandom(context.Background(), "team/app", "1", 1, 256)
	if err != nil {
		t.Fatal(err)
	}
	reference := `  reference = "` + env.reference("team/app:1") + `"`

	tfresource.Test(t, tfresource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []tfresource.TestStep{
			{
				Config: env.configWithCA("", "imagedist_image", "registry", reference),
				ExpectError: wrappedText(`Unable to Look Up Image.*signed by a CA that ` +
					`the provider does not trust.*registry_ca_certificates.*x509: ` +
					`certificate signed by unknown authority`),
			},
			{
				Config: env.config("imagedist_image", "registry", reference),
				ConfigStateChecks: []statecheck.StateCheck{
					imageState("tag", knownvalue.StringExact("1")),
				},
			},
		},
	})
}

// An empty references list, as a computed list often is, gives an empty images list.
func TestAccImagesDataEmptyReferences(t *testing.T) {
	env := newImageLookupEnv(t)

	tfresource.Test(t, tfresource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []tfresource.TestStep{{
			Config: env.config("imagedist_images", "registry", "  references = []"),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(imagesAddress, tfjsonpath.New("images"),
					knownvalue.ListSizeExact(0)),
			},
		}},
	})
}

// The detail of a failed look-up gives the failure and its own advice, then the registry's
// error on its own line, in place of one generic piece of advice for every failure.
func TestLookupErrorDetailAdvice(t *testing.T) {
	failure := &registry.LookupError{
		Reference: "registry.example.com/team/app:1",
		Kind:      registry.FailureUntrustedCertificate,
		Problem:   "the TLS certificate of the registry is signed by an unknown CA",
		Cause:     "x509: certificate signed by unknown authority",
		Advice:    "Set registry_ca_certificates on the provider.",
	}

	detail := lookupErrorDetail(failure.Reference, fmt.Errorf("wrapped: %w", failure))

	want := "Reading registry.example.com/team/app:1 from its registry failed: the TLS " +
		"certificate of the registry is signed by an unknown CA. Set " +
		"registry_ca_certificates on the provider.\n\nx509: certificate signed by unknown " +
		"authority"
	if detail != want {
		t.Errorf("lookupErrorDetail() = %q, want %q", detail, want)
	}
}
