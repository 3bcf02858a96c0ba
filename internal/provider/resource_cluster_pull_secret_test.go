package provider

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/acctest"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/util/retry"

	"github.com/imagedist/terraform-provider-imagedist/internal/dockerconfig"
)

const clusterPullSecretAddress = "imagedist_cluster_pull_secret.test"

// globalSecretTest is one acceptance test's view of the global pull secret on the test
// cluster, with a registry host of its own.
type globalSecretTest struct {
	t        *testing.T
	client   kubernetes.Interface
	registry string
	// original is the Secret's .dockerconfigjson when the test started.
	original []byte
}

// newGlobalSecretTest records the global pull secret and puts it back as it was when the test
// ends, so a failed test leaves no entries behind. Without TF_ACC the test is skipped.
func newGlobalSecretTest(t *testing.T) *globalSecretTest {
	t.Helper()
	client := acceptanceClient(t)
	g := &globalSecretTest{
		t:        t,
		client:   client,
		registry: acctest.RandomWithPrefix("registry") + ".example.com",
	}
	g.original = g.document()
	t.Cleanup(g.restore)
	return g
}

func (g *globalSecretTest) secrets() interface {
	Get(context.Context, string, metav1.GetOptions) (*corev1.Secret, error)
	Update(context.Context, *corev1.Secret, metav1.UpdateOptions) (*corev1.Secret, error)
} {
	return g.client.CoreV1().Secrets(globalPullSecretNamespace)
}

// document returns the global pull secret's .dockerconfigjson.
func (g *globalSecretTest) document() []byte {
	g.t.Helper()
	secret, err := g.secrets().Get(context.Background(), globalPullSecretName,
		metav1.GetOptions{})
	if err != nil {
		g.t.Fatalf("reading the global pull secret: %v", err)
	}
	return secret.Data[corev1.DockerConfigJsonKey]
}

// edit changes the global pull secret as another writer would, retrying on conflict.
func (g *globalSecretTest) edit(change func(*dockerconfig.Config) error) error {
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		secret, err := g.secrets().Get(context.Background(), globalPullSecretName,
			metav1.GetOptions{})
		if err != nil {
			return err
		}
		document, err := dockerconfig.Decode(secret.Data[corev1.DockerConfigJsonKey])
		if err != nil {
			return err
		}
		if err := change(document); err != nil {
			return err
		}
		secret.Data[corev1.DockerConfigJsonKey] = document.Bytes()
		_, err = g.secrets().Update(context.Background(), secret, metav1.UpdateOptions{})
		return err
	})
}

// mustEdit is edit for a test's own steps.
func (g *globalSecretTest) mustEdit(change func(*dockerconfig.Config) error) {
	g.t.Helper()
	if err := g.edit(change); err != nil {
		g.t.Fatalf("editing the global pull secret: %v", err)
	}
}

// restore writes the recorded document back.
func (g *globalSecretTest) restore() {
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		secret, err := g.secrets().Get(context.Background(), globalPullSecretName,
			metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			_, err = g.client.CoreV1().Secrets(globalPullSecretNamespace).Create(
				context.Background(), &corev1.Secret{
					ObjectMeta: metav1.ObjectMeta{Name: globalPullSecretName,
						Namespace: globalPullSecretNamespace},
					Type: corev1.SecretTypeDockerConfigJson,
					Data: map[string][]byte{corev1.DockerConfigJsonKey: g.original},
				}, metav1.CreateOptions{})
			return err
		}
		if err != nil || bytes.Equal(secret.Data[corev1.DockerConfigJsonKey], g.original) {
			return err
		}
		secret.Data[corev1.DockerConfigJsonKey] = g.original
		_, err = g.secrets().Update(context.Background(), secret, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		g.t.Errorf("restoring the global pull secret: %v", err)
	}
}

// checkEntry checks the entry under key, written exactly under that key.
func (g *globalSecretTest) checkEntry(key string, want dockerConfigAuth) resource.TestCheckFunc {
	return func(*terraform.State) error {
		document, err := dockerconfig.Decode(g.document())
		if err != nil {
			return err
		}
		found, err := document.Lookup(key)
		if err != nil {
			return err
		}
		if len(found) != 1 || found[0].Key != key {
			return fmt.Errorf("entries for %s: %v, want one under that key", key, found)
		}
		if found[0].Username != want.Username || found[0].Password != want.Password ||
			found[0].Email != want.Email {
			return fmt.Errorf("entry %s = %v, want user %q, the expected password and "+
				"email %q", key, found[0], want.Username, want.Email)
		}
		return nil
	}
}

// checkOthersUnchanged checks that removing the given keys from the document gives back
// the document the test started with, byte for byte, so no other entry was touched.
func (g *globalSecretTest) checkOthersUnchanged(keys ...string) func(*terraform.State) error {
	return func(*terraform.State) error {
		document, err := dockerconfig.Decode(g.document())
		if err != nil {
			return err
		}
		for _, key := range keys {
			if _, err := document.RemoveKey(key); err != nil {
				return err
			}
		}
		if !bytes.Equal(document.Bytes(), g.original) {
			return fmt.Errorf("the rest of the global pull secret changed:\n got keys %v\nwant "+
				"the document the test started with", document)
		}
		return nil
	}
}

func clusterPullSecretConfig(body string, variables ...string) string {
	var declarations strings.Builder
	for _, variable := range variables {
		fmt.Fprintf(&declarations, "variable %q {\n  type      = string\n  sensitive = true\n}\n\n",
			variable)
	}
	return fmt.Sprintf("%s\nresource \"imagedist_cluster_pull_secret\" \"test\" {\n%s\n}\n",
		declarations.String(), body)
}

func TestAccClusterPullSecretLifecycle(t *testing.T) {
	global := newGlobalSecretTest(t)
	key := global.registry
	other := "other-" + global.registry
	variables := config.Variables{"password": config.StringVariable(pullSecretPassword)}
	changed := config.Variables{"password": config.StringVariable("second-pässword")}
	credentials := []string{pullSecretPassword, "second-pässword", "changed-out-of-bänd"}
	configuration := func(server string) string {
		return clusterPullSecretConfig(fmt.Sprintf(`
  server   = %q
  username = "ci"
  password = var.password
  email    = "ci@example.com"
`, server), "password")
	}
	spelled := "https://" + strings.ToUpper(key) + "/"

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			// The other writer's entry stays; the resource's own is gone.
			return global.checkOthersUnchanged(other)(nil)
		},
		Steps: []resource.TestStep{
			{
				ConfigVariables: variables,
				Config:          configuration(spelled),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(clusterPullSecretAddress,
							plancheck.ResourceActionCreate),
						plancheck.ExpectSensitiveValue(clusterPullSecretAddress,
							tfjsonpath.New("password")),
						expectCredentialsHidden{credentials},
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(clusterPullSecretAddress, tfjsonpath.New("id"),
						knownvalue.StringExact(key)),
					statecheck.ExpectKnownValue(clusterPullSecretAddress,
						tfjsonpath.New("registry_key"), knownvalue.StringExact(key)),
					statecheck.ExpectKnownValue(clusterPullSecretAddress,
						tfjsonpath.New("server"), knownvalue.StringExact(spelled)),
				},
				Check: resource.ComposeTestCheckFunc(
					global.checkEntry(key, dockerConfigAuth{Username: "ci",
						Password: pullSecretPassword, Email: "ci@example.com"}),
					global.checkOthersUnchanged(key),
				),
			},
			{
				// Another writer adds an entry: no drift, because it is not this entry.
				PreConfig: func() {
					global.mustEdit(func(document *dockerconfig.Config) error {
						return document.Merge(dockerconfig.Entry{Server: other,
							Username: "someone", Password: "their-password"})
					})
				},
				ConfigVariables: variables,
				Config:          configuration(spelled),
				PlanOnly:        true,
			},
			{
				PreConfig: func() {
					global.mustEdit(func(document *dockerconfig.Config) error {
						return document.Merge(dockerconfig.Entry{Server: key, Username: "ci",
							Password: "changed-out-of-bänd", Email: "ci@example.com"})
					})
				},
				ConfigVariables:    variables,
				Config:             configuration(spelled),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(clusterPullSecretAddress,
							plancheck.ResourceActionUpdate),
						expectCredentialsHidden{credentials},
					},
				},
			},
			{
				ConfigVariables: variables,
				Config:          configuration(spelled),
				Check: resource.ComposeTestCheckFunc(
					global.checkEntry(key, dockerConfigAuth{Username: "ci",
						Password: pullSecretPassword, Email: "ci@example.com"}),
					global.checkEntry(other, dockerConfigAuth{Username: "someone",
						Password: "their-password"}),
					global.checkOthersUnchanged(key, other),
				),
			},
			{
				ConfigVariables: changed,
				Config:          configuration(spelled),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(clusterPullSecretAddress,
							plancheck.ResourceActionUpdate),
						expectCredentialsHidden{credentials},
					},
				},
				Check: global.checkEntry(key, dockerConfigAuth{Username: "ci",
					Password: "second-pässword", Email: "ci@example.com"}),
			},
			{
				// Another spelling of the same registry updates state only.
				ConfigVariables: changed,
				Config:          configuration(key + ":443"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(clusterPullSecretAddress,
							plancheck.ResourceActionUpdate),
					},
				},
				Check: global.checkOthersUnchanged(key, other),
			},
			{
				// An entry removed outside Terraform is created again.
				PreConfig: func() {
					global.mustEdit(func(document *dockerconfig.Config) error {
						_, err := document.RemoveKey(key)
						return err
					})
				},
				ConfigVariables: changed,
				Config:          configuration(key + ":443"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(clusterPullSecretAddress,
							plancheck.ResourceActionCreate),
					},
				},
				Check: global.checkEntry(key, dockerConfigAuth{Username: "ci",
					Password: "second-pässword", Email: "ci@example.com"}),
			},
			{
				ConfigVariables:   changed,
				Config:            configuration(key + ":443"),
				ResourceName:      clusterPullSecretAddress,
				ImportState:       true,
				ImportStateId:     key + ":443",
				ImportStateVerify: true,
			},
			{
				// Another registry replaces the resource.
				ConfigVariables: changed,
				Config:          configuration("second-" + key),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(clusterPullSecretAddress,
							plancheck.ResourceActionDestroyBeforeCreate),
					},
				},
				Check: resource.ComposeTestCheckFunc(
					global.checkEntry("second-"+key, dockerConfigAuth{Username: "ci",
						Password: "second-pässword", Email: "ci@example.com"}),
					global.checkOthersUnchanged("second-"+key, other),
				),
			},
		},
	})
}

func TestAccClusterPullSecretExistingEntry(t *testing.T) {
	global := newGlobalSecretTest(t)
	key := global.registry
	legacyKey := "https://" + key + "/v1/"
	global.mustEdit(func(document *dockerconfig.Config) error {
		return document.Merge(dockerconfig.Entry{Server: key, Username: "installer",
			Password: "installer-token"})
	})
	// Spell the existing entry the way old docker clients did, which Merge never writes.
	global.mustEdit(func(document *dockerconfig.Config) error {
		renamed, err := dockerconfig.Decode(bytes.Replace(document.Bytes(),
			[]byte(strconv.Quote(key)+":"), []byte(strconv.Quote(legacyKey)+":"), 1))
		if err != nil {
			return err
		}
		*document = *renamed
		return nil
	})
	body := func(username string) string {
		return clusterPullSecretConfig(fmt.Sprintf(`
  server   = %q
  username = %q
  password = "installer-token"
`, key, username))
	}

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: body("installer"),
				ExpectError: wrappedText(`Registry Entry Already Exists.*already has an entry ` +
					`for registry "` + key + `", under the key "` + legacyKey + `".*terraform ` +
					`import <address> ` + key),
			},
			{
				Config:             body("installer"),
				ResourceName:       clusterPullSecretAddress,
				ImportState:        true,
				ImportStateId:      key,
				ImportStatePersist: true,
				ImportStateCheck: func(states []*terraform.InstanceState) error {
					if len(states) != 1 || states[0].Attributes["username"] != "installer" ||
						states[0].Attributes["server"] != key {
						return fmt.Errorf("imported %v", states)
					}
					return nil
				},
			},
			{
				// The imported entry matches: no change, and the spelling stays.
				Config:   body("installer"),
				PlanOnly: true,
			},
			{
				// An update writes the entry under the normalized key.
				Config: body("robot"),
				Check: resource.ComposeTestCheckFunc(
					global.checkEntry(key, dockerConfigAuth{Username: "robot",
						Password: "installer-token"}),
				),
			},
			{
				Config:        body("robot"),
				ResourceName:  clusterPullSecretAddress,
				ImportState:   true,
				ImportStateId: "missing-" + key,
				ExpectError: wrappedText(`Unable to Import Registry Entry.*has no entry for ` +
					`registry "missing-` + key + `".*"` + key + `"`),
			},
			{
				Config:        body("robot"),
				ResourceName:  clusterPullSecretAddress,
				ImportState:   true,
				ImportStateId: "https://" + key + "/some/path",
				ExpectError:   wrappedText(`Invalid Import ID.*registry server as the ID`),
			},
		},
	})
}

func TestAccClusterPullSecretConcurrentWriters(t *testing.T) {
	global := newGlobalSecretTest(t)
	registries := make([]string, 6)
	for i := range registries {
		registries[i] = fmt.Sprintf("r%d-%s", i, global.registry)
	}
	writerKey := "writer-" + global.registry
	configuration := fmt.Sprintf(`
locals {
  registries = %s
}

resource "imagedist_cluster_pull_secret" "test" {
  count    = length(local.registries)
  server   = local.registries[count.index]
  username = "ci"
  password = "token-${local.registries[count.index]}"
}
`, hclList(registries))

	// The writer rewrites its own entry while the apply runs, so the provider's writes can
	// meet conflicts. TestEditGlobalPullSecretRetriesConflicts forces them.
	var writes int
	var lastPassword string
	stop := make(chan struct{})
	var done sync.WaitGroup
	startWriter := func() {
		done.Add(1)
		go func() {
			defer done.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
				}
				password := fmt.Sprintf("writer-%d", writes+1)
				err := global.edit(func(document *dockerconfig.Config) error {
					return document.Merge(dockerconfig.Entry{Server: writerKey,
						Username: "writer", Password: password})
				})
				if err == nil {
					writes++
					lastPassword = password
				}
			}
		}()
	}
	stopWriter := func(*terraform.State) error {
		close(stop)
		done.Wait()
		if writes < 2 {
			return fmt.Errorf("the concurrent writer wrote %d times, too few to race", writes)
		}
		return global.checkEntry(writerKey, dockerConfigAuth{Username: "writer",
			Password: lastPassword})(nil)
	}

	checks := []resource.TestCheckFunc{stopWriter}
	for _, registry := range registries {
		checks = append(checks, global.checkEntry(registry, dockerConfigAuth{Username: "ci",
			Password: "token-" + registry}))
	}
	checks = append(checks, global.checkOthersUnchanged(append(registries, writerKey)...))

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			return global.checkOthersUnchanged(writerKey)(nil)
		},
		Steps: []resource.TestStep{{
			PreConfig: startWriter,
			Config:    configuration,
			Check:     resource.ComposeTestCheckFunc(checks...),
		}},
	})
}

func TestAccClusterPullSecretWriteOnlyPassword(t *testing.T) {
	global := newGlobalSecretTest(t)
	key := global.registry
	configuration := func(version int) string {
		return clusterPullSecretConfig(fmt.Sprintf(`
  server              = %q
  username            = "ci"
  password_wo         = var.password
  password_wo_version = %d
`, key, version), "password")
	}
	first := config.Variables{"password": config.StringVariable(pullSecretPassword)}
	credentials := []string{pullSecretPassword, "changed-out-of-bänd"}

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		TerraformVersionChecks: []tfversion.TerraformVersionCheck{
			tfversion.SkipBelow(tfversion.Version1_11_0)},
		CheckDestroy: func(*terraform.State) error { return global.checkOthersUnchanged()(nil) },
		Steps: []resource.TestStep{
			{
				ConfigVariables: first,
				Config:          configuration(1),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(clusterPullSecretAddress,
						tfjsonpath.New("password"), knownvalue.Null()),
					statecheck.ExpectKnownValue(clusterPullSecretAddress,
						tfjsonpath.New("password_wo_hash"), knownvalue.NotNull()),
					expectNotInState{credentials},
				},
				Check: global.checkEntry(key, dockerConfigAuth{Username: "ci",
					Password: pullSecretPassword}),
			},
			{
				PreConfig: func() {
					global.mustEdit(func(document *dockerconfig.Config) error {
						return document.Merge(dockerconfig.Entry{Server: key, Username: "ci",
							Password: "changed-out-of-bänd"})
					})
				},
				ConfigVariables: first,
				Config:          configuration(1),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(clusterPullSecretAddress,
							plancheck.ResourceActionUpdate),
						expectCredentialsHidden{credentials},
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{expectNotInState{credentials}},
				Check: global.checkEntry(key, dockerConfigAuth{Username: "ci",
					Password: pullSecretPassword}),
			},
			{
				ConfigVariables: first,
				Config:          configuration(2),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(clusterPullSecretAddress,
							plancheck.ResourceActionUpdate),
					},
				},
			},
		},
	})
}

func TestAccClusterPullSecretPlanTimeErrors(t *testing.T) {
	requireAcceptance(t)
	tests := []struct {
		name, body string
		want       *regexp.Regexp
	}{
		{"no password", `
  server   = "registry.example.com"
  username = "ci"
`, wrappedText(`Missing Attribute Configuration.*password`)},
		{"both passwords", `
  server      = "registry.example.com"
  username    = "ci"
  password    = "a"
  password_wo = "b"
`, wrappedText(`Invalid Attribute Combination.*password`)},
		{"server with a path", `
  server   = "registry.example.com/team/app"
  username = "ci"
  password = "a"
`, wrappedText(`Invalid Registry Server`)},
		{"user name with a colon", `
  server   = "registry.example.com"
  username = "c:i"
  password = "a"
`, wrappedText(`Invalid Registry Username.*colon`)},
		{"empty password", `
  server   = "registry.example.com"
  username = "ci"
  password = ""
`, wrappedText(`Invalid Attribute Value Length`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProviderFactories,
				Steps: []resource.TestStep{{
					Config:      clusterPullSecretConfig(tt.body),
					PlanOnly:    true,
					ExpectError: tt.want,
				}},
			})
		})
	}
}

func TestAccClusterPullSecretMissingSecret(t *testing.T) {
	global := newGlobalSecretTest(t)
	if err := global.client.CoreV1().Secrets(globalPullSecretNamespace).Delete(
		context.Background(), globalPullSecretName, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting the global pull secret: %v", err)
	}

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []resource.TestStep{{
			Config: clusterPullSecretConfig(fmt.Sprintf(`
  server   = %q
  username = "ci"
  password = "token"
`, global.registry)),
			ExpectError: wrappedText(`Unable to Update Global Pull Secret.*` +
				`openshift-config/pull-secret does not exist.*imagedist_pull_secret there`),
		}},
	})
}

func TestMergeGlobalEntry(t *testing.T) {
	entry := dockerconfig.Entry{Server: "https://quay.io/", Username: "u", Password: "p"}
	tests := []struct {
		name, document, want string
		changed              bool
	}{
		{
			name:     "appended after the others",
			document: `{"auths":{"a.io":{"auth":"eDp5"}}, "x":1}`,
			want:     `{"auths":{"a.io":{"auth":"eDp5"},"quay.io":{"auth":"dTpw"}}, "x":1}`,
			changed:  true,
		},
		{
			name:     "same credentials",
			document: `{"auths":{"quay.io":{"auth":"dTpw","identitytoken":"t"}}}`,
			want:     `{"auths":{"quay.io":{"auth":"dTpw","identitytoken":"t"}}}`,
		},
		{
			name:     "other spelling replaced",
			document: `{"auths":{"https://quay.io/v1/":{"auth":"dTpw"},"b.io":{}}}`,
			want:     `{"auths":{"b.io":{},"quay.io":{"auth":"dTpw"}}}`,
			changed:  true,
		},
		{
			name:     "new password",
			document: `{"auths":{"quay.io":{"auth":"dTpx"}}}`,
			want:     `{"auths":{"quay.io":{"auth":"dTpw"}}}`,
			changed:  true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			document, err := dockerconfig.Decode([]byte(tt.document))
			if err != nil {
				t.Fatal(err)
			}
			changed, err := mergeGlobalEntry(document, entry)
			if err != nil {
				t.Fatal(err)
			}
			if changed != tt.changed {
				t.Errorf("changed = %t, want %t", changed, tt.changed)
			}
			if got := normalizeEntryJSON(document.Bytes()); got != tt.want {
				t.Errorf("document\n got: %s\nwant: %s", got, tt.want)
			}
		})
	}
}

// normalizeEntryJSON drops the username and password fields that Encode writes beside
// "auth", so the expectations stay short.
func normalizeEntryJSON(document []byte) string {
	text := string(document)
	text = regexp.MustCompile(`,?"(username|password)":"[^"]*"`).ReplaceAllString(text, "")
	return strings.ReplaceAll(text, `{,`, `{`)
}

func TestRemoveGlobalEntries(t *testing.T) {
	document, err := dockerconfig.Decode([]byte(
		`{"auths":{"https://quay.io/":{},"b.io":{},"quay.io:443":{}}}`))
	if err != nil {
		t.Fatal(err)
	}
	removed, err := removeGlobalEntries(document, "quay.io")
	if err != nil || !removed {
		t.Fatalf("removeGlobalEntries = %t, %v", removed, err)
	}
	if got, want := string(document.Bytes()), `{"auths":{"b.io":{}}}`; got != want {
		t.Errorf("document = %s, want %s", got, want)
	}
	removed, err = removeGlobalEntries(document, "quay.io")
	if err != nil || removed {
		t.Errorf("second removeGlobalEntries = %t, %v", removed, err)
	}
}

// TestGlobalPullSecretErrorRedacted checks that an API error that quotes the Secret's data,
// which contains other registries' credentials that the provider has no copy of, reaches the
// diagnostic without them.
func TestGlobalPullSecretErrorRedacted(t *testing.T) {
	others := `{"auths":{"registry.redhat.io":{"auth":"c29tZW9uZTpzZWNyZXQtdG9rZW4tdmFsdWU="}}}`
	quoted := fmt.Sprintf(`Secret "pull-secret" is invalid: data: %q`,
		[]byte(others))
	encoded := "eyJhdXRocyI6eyJyZWdpc3RyeS5yZWRoYXQuaW8iOnsiYXV0aCI6ImMyOXRaVzl1WlRwelpXTnlaWFF0ZEc5clpXNHRkbUZzZFdVPSJ9fX0="
	apiErr := apierrors.NewInvalid(schema.GroupKind{Kind: "Secret"}, "pull-secret", nil)
	apiErr.ErrStatus.Message = quoted + " " + encoded + " own:my-password"

	var diags diag.Diagnostics
	addGlobalPullSecretError(&diags, "Unable to Update Global Pull Secret",
		&globalPullSecretError{action: "updating the Secret", err: apiErr}, "my-password")
	detail := diags[0].Detail()
	for _, secret := range []string{"c29tZW9uZTpzZWNyZXQtdG9rZW4tdmFsdWU=", encoded,
		"my-password"} {
		if strings.Contains(detail, secret) {
			t.Errorf("the diagnostic contains %q:\n%s", secret, detail)
		}
	}
	if !strings.Contains(detail, "updating the Secret failed") {
		t.Errorf("the diagnostic does not say what failed:\n%s", detail)
	}
	if errors.Unwrap(&globalPullSecretError{err: apiErr}) != apiErr {
		t.Error("globalPullSecretError does not unwrap to the API error")
	}
}

// TestEditGlobalPullSecretRetriesConflicts makes another writer change the Secret between
// each of the provider's reads and writes, twice, and checks that the provider reads again
// and keeps both of that writer's entries.
func TestEditGlobalPullSecretRetriesConflicts(t *testing.T) {
	client := fake.NewClientset(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: globalPullSecretName,
			Namespace: globalPullSecretNamespace, ResourceVersion: "1"},
		Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(
			`{"auths":{"cloud.openshift.com":{"auth":"eDp5"}}}`)},
	})
	conflicts := 0
	client.PrependReactor("update", "secrets", func(action k8stesting.Action) (bool,
		runtime.Object, error) {
		if conflicts == 2 {
			return false, nil, nil
		}
		conflicts++
		// Another writer's update lands first, so this one is rejected.
		tracker := client.Tracker()
		object, err := tracker.Get(corev1.SchemeGroupVersion.WithResource("secrets"),
			globalPullSecretNamespace, globalPullSecretName)
		if err != nil {
			return true, nil, err
		}
		current := object.(*corev1.Secret).DeepCopy()
		document, err := dockerconfig.Decode(current.Data[corev1.DockerConfigJsonKey])
		if err != nil {
			return true, nil, err
		}
		if err := document.Merge(dockerconfig.Entry{Server: fmt.Sprintf("other%d.io",
			conflicts), Username: "other", Password: "theirs"}); err != nil {
			return true, nil, err
		}
		current.Data[corev1.DockerConfigJsonKey] = document.Bytes()
		if err := tracker.Update(corev1.SchemeGroupVersion.WithResource("secrets"), current,
			globalPullSecretNamespace); err != nil {
			return true, nil, err
		}
		return true, nil, apierrors.NewConflict(secretsResource, globalPullSecretName,
			errors.New("the object has been modified"))
	})

	entry := dockerconfig.Entry{Server: "quay.io", Username: "u", Password: "p"}
	err := editGlobalPullSecret(context.Background(), client, "quay.io",
		func(document *dockerconfig.Config) (bool, error) {
			return mergeGlobalEntry(document, entry)
		})
	if err != nil {
		t.Fatalf("editGlobalPullSecret: %v", err)
	}
	if conflicts != 2 {
		t.Fatalf("conflicts = %d, want 2", conflicts)
	}
	secret, err := client.CoreV1().Secrets(globalPullSecretNamespace).Get(context.Background(),
		globalPullSecretName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	document, err := dockerconfig.Decode(secret.Data[corev1.DockerConfigJsonKey])
	if err != nil {
		t.Fatal(err)
	}
	keys := entryKeys(document.Entries())
	want := []string{"cloud.openshift.com", "other1.io", "other2.io", "quay.io"}
	if !slices.Equal(keys, want) {
		t.Errorf("entries = %v, want %v", keys, want)
	}
}

func TestShownKeysCapsAndRedacts(t *testing.T) {
	keys := []string{"https://user:hunter2@quay.io/"}
	for i := range 30 {
		keys = append(keys, fmt.Sprintf("r%d.example.com", i))
	}
	text := shownKeys(keys)
	if strings.Contains(text, "hunter2") {
		t.Errorf("shownKeys repeats the password: %s", text)
	}
	if !strings.Contains(text, `"REDACTED@quay.io/"`) {
		t.Errorf("shownKeys = %s, want the first key with REDACTED user info", text)
	}
	if !strings.HasSuffix(text, " and 11 more") {
		t.Errorf("shownKeys = %s, want it to end with the count of keys left out", text)
	}
	if got := shownKeys(nil); got != "none" {
		t.Errorf("shownKeys(nil) = %q, want none", got)
	}
}
