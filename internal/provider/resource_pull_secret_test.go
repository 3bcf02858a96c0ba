package provider

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	frameworkresource "github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
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
	"k8s.io/client-go/kubernetes"

	"github.com/imagedist/terraform-provider-imagedist/internal/testcluster"
)

const pullSecretAddress = "imagedist_pull_secret.test"

// pullSecretPassword contains every character that JSON, HCL or base64 handling could
// mangle: braces, quotes, colon, backslash, ampersand (which encoding/json escapes) and
// non-ASCII letters.
const pullSecretPassword = `p{a}"s:s\w&rd-ünïcødé-€`

// pullSecretCluster is one acceptance test's namespace and Secret name on the test cluster.
type pullSecretCluster struct {
	t         *testing.T
	client    kubernetes.Interface
	namespace string
	name      string
}

// newPullSecretCluster creates a namespace with a random name for one test and deletes it
// when the test ends. Without TF_ACC the test is skipped before anything is created.
func newPullSecretCluster(t *testing.T) *pullSecretCluster {
	t.Helper()
	client := acceptanceClient(t)

	cluster := &pullSecretCluster{
		t:         t,
		client:    client,
		namespace: acctest.RandomWithPrefix("pull-secret"),
		name:      acctest.RandomWithPrefix("registry"),
	}
	if err := testcluster.CreateNamespace(context.Background(), client, cluster.namespace,
		nil); err != nil {
		t.Fatalf("creating the test namespace: %v", err)
	}
	t.Cleanup(func() {
		err := client.CoreV1().Namespaces().Delete(context.Background(), cluster.namespace,
			metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Logf("deleting namespace %s: %v", cluster.namespace, err)
		}
	})
	return cluster
}

// config renders a configuration with the test's namespace and name, the body inside the
// resource block, and a sensitive string variable for each name in variables.
func (c *pullSecretCluster) config(body string, variables ...string) string {
	return c.render(body, true, variables)
}

// plainConfig is config with variables that are not marked sensitive. Terraform 1.5.7 plans
// an update for an import block whenever a value comes from a sensitive variable, because it
// compares the sensitivity marks of the configuration with those of the imported state,
// which has none. The attribute's own Sensitive flag does not prevent that.
func (c *pullSecretCluster) plainConfig(body string, variables ...string) string {
	return c.render(body, false, variables)
}

func (c *pullSecretCluster) render(body string, sensitive bool, variables []string) string {
	var declarations strings.Builder
	for _, variable := range variables {
		fmt.Fprintf(&declarations, "variable %q {\n  type      = string\n  sensitive = %t\n}\n\n",
			variable, sensitive)
	}
	return fmt.Sprintf(`%s
resource "imagedist_pull_secret" "test" {
  namespace = %q
  name      = %q
%s
}
`, declarations.String(), c.namespace, c.name, body)
}

func (c *pullSecretCluster) id() string {
	return pullSecretID(c.namespace, c.name)
}

func (c *pullSecretCluster) secret() (*corev1.Secret, error) {
	return c.client.CoreV1().Secrets(c.namespace).Get(context.Background(), c.name,
		metav1.GetOptions{})
}

// dockerConfigAuth is one entry of .dockerconfigjson as the tests read it back.
type dockerConfigAuth struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Email    string `json:"email,omitempty"`
	Auth     string `json:"auth"`
}

// readAuths decodes the Secret's .dockerconfigjson with encoding/json, independently of the
// provider's own decoder.
func (c *pullSecretCluster) readAuths() (map[string]dockerConfigAuth, error) {
	secret, err := c.secret()
	if err != nil {
		return nil, fmt.Errorf("reading the Secret: %w", err)
	}
	if secret.Type != corev1.SecretTypeDockerConfigJson {
		return nil, fmt.Errorf("Secret type = %q, expected %q", secret.Type,
			corev1.SecretTypeDockerConfigJson)
	}
	var document struct {
		Auths map[string]dockerConfigAuth `json:"auths"`
	}
	if err := json.Unmarshal(secret.Data[corev1.DockerConfigJsonKey], &document); err != nil {
		return nil, fmt.Errorf("decoding .dockerconfigjson: %w", err)
	}
	return document.Auths, nil
}

// checkAuths compares the Secret's entries with expected, key for key and byte for byte,
// and checks that each "auth" decodes to "username:password". Error messages name the
// differing field but never print a password.
func (c *pullSecretCluster) checkAuths(expected map[string]dockerConfigAuth,
) resource.TestCheckFunc {
	return func(*terraform.State) error {
		auths, err := c.readAuths()
		if err != nil {
			return err
		}
		var keys []string
		for key := range auths {
			keys = append(keys, key)
		}
		if len(auths) != len(expected) {
			return fmt.Errorf("registry keys = %q, expected %d entries", keys, len(expected))
		}

		for key, want := range expected {
			got, ok := auths[key]
			switch {
			case !ok:
				return fmt.Errorf("registry keys = %q, expected %q among them", keys, key)
			case got.Username != want.Username:
				return fmt.Errorf("%s: username = %q, expected %q", key, got.Username,
					want.Username)
			case got.Password != want.Password:
				return fmt.Errorf("%s: password differs from the expected one", key)
			case got.Email != want.Email:
				return fmt.Errorf("%s: email = %q, expected %q", key, got.Email, want.Email)
			}
			decoded, err := base64.StdEncoding.DecodeString(got.Auth)
			if err != nil {
				return fmt.Errorf("%s: auth is not base64: %v", key, err)
			}
			if string(decoded) != want.Username+":"+want.Password {
				return fmt.Errorf("%s: auth does not decode to username:password", key)
			}
		}
		return nil
	}
}

// writeAuths replaces the Secret's .dockerconfigjson, as someone editing it by hand would.
func (c *pullSecretCluster) writeAuths(auths map[string]dockerConfigAuth) {
	c.t.Helper()
	for key, auth := range auths {
		auth.Auth = base64.StdEncoding.EncodeToString([]byte(auth.Username + ":" + auth.Password))
		auths[key] = auth
	}
	document, err := json.Marshal(map[string]any{"auths": auths})
	if err != nil {
		c.t.Fatalf("encoding .dockerconfigjson: %v", err)
	}
	secret, err := c.secret()
	if err != nil {
		c.t.Fatalf("reading the Secret: %v", err)
	}
	secret.Data[corev1.DockerConfigJsonKey] = document
	if _, err := c.client.CoreV1().Secrets(c.namespace).Update(context.Background(), secret,
		metav1.UpdateOptions{}); err != nil {
		c.t.Fatalf("changing the Secret out of band: %v", err)
	}
}

// createSecret creates a Secret directly, as kubectl or a controller would.
func (c *pullSecretCluster) createSecret(secretType corev1.SecretType, key string,
	document any) {
	c.t.Helper()
	data, err := json.Marshal(document)
	if err != nil {
		c.t.Fatalf("encoding the Secret data: %v", err)
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: c.namespace, Name: c.name},
		Type:       secretType,
		Data:       map[string][]byte{key: data},
	}
	if _, err := c.client.CoreV1().Secrets(c.namespace).Create(context.Background(), secret,
		metav1.CreateOptions{}); err != nil {
		c.t.Fatalf("creating the Secret: %v", err)
	}
}

// kubectlEntry is an entry as `kubectl create secret docker-registry` writes it.
func kubectlEntry(username, password, email string) map[string]string {
	entry := map[string]string{
		"username": username,
		"password": password,
		"auth":     base64.StdEncoding.EncodeToString([]byte(username + ":" + password)),
	}
	if email != "" {
		entry["email"] = email
	}
	return entry
}

func (c *pullSecretCluster) createServiceAccount(name string, pullSecrets ...string) {
	c.t.Helper()
	account := &corev1.ServiceAccount{
		ObjectMeta:       metav1.ObjectMeta{Namespace: c.namespace, Name: name},
		ImagePullSecrets: pullSecretReferences(pullSecrets...),
	}
	if _, err := c.client.CoreV1().ServiceAccounts(c.namespace).Create(context.Background(),
		account, metav1.CreateOptions{}); err != nil {
		c.t.Fatalf("creating service account %s: %v", name, err)
	}
}

func (c *pullSecretCluster) accountPullSecrets(name string) ([]string, error) {
	account, err := c.client.CoreV1().ServiceAccounts(c.namespace).Get(context.Background(),
		name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("reading service account %s: %w", name, err)
	}
	return referenceNames(account.ImagePullSecrets), nil
}

func (c *pullSecretCluster) checkAccountPullSecrets(name string, expected ...string,
) resource.TestCheckFunc {
	return func(*terraform.State) error {
		got, err := c.accountPullSecrets(name)
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(got, expected) {
			return fmt.Errorf("service account %s: imagePullSecrets = %q, expected %q", name,
				got, expected)
		}
		return nil
	}
}

func (c *pullSecretCluster) setAccountPullSecrets(name string, pullSecrets ...string) {
	c.t.Helper()
	accounts := c.client.CoreV1().ServiceAccounts(c.namespace)
	account, err := accounts.Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		c.t.Fatalf("reading service account %s: %v", name, err)
	}
	account.ImagePullSecrets = pullSecretReferences(pullSecrets...)
	if _, err := accounts.Update(context.Background(), account, metav1.UpdateOptions{}); err != nil {
		c.t.Fatalf("updating service account %s: %v", name, err)
	}
}

// checkDestroyed reads the Secret from the API and fails unless it is gone.
func (c *pullSecretCluster) checkDestroyed(*terraform.State) error {
	_, err := c.secret()
	if err == nil {
		return fmt.Errorf("Secret %s still exists after destroy", c.id())
	}
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("reading Secret %s: %w", c.id(), err)
	}
	return nil
}

// expectCredentialsHidden is a plan check that fails when a credential appears anywhere in
// the plan's resource changes or drift outside values marked sensitive, which are the parts
// that Terraform prints.
type expectCredentialsHidden struct {
	credentials []string
}

func (e expectCredentialsHidden) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest,
	resp *plancheck.CheckPlanResponse) {
	for _, change := range slices.Concat(req.Plan.ResourceDrift, req.Plan.ResourceChanges) {
		if change.Change == nil {
			continue
		}
		visible, err := json.Marshal([]any{
			hideSensitive(change.Change.Before, change.Change.BeforeSensitive),
			hideSensitive(change.Change.After, change.Change.AfterSensitive),
			change.Change.AfterUnknown,
		})
		if err != nil {
			resp.Error = err
			return
		}
		if index := credentialIndex(string(visible), e.credentials); index >= 0 {
			resp.Error = fmt.Errorf("%s: credential number %d appears in a value that is not "+
				"marked sensitive", change.Address, index+1)
			return
		}
	}
}

// credentialIndex returns the index of the first credential that text contains, as written,
// JSON-escaped or as a base64 "auth" suffix, or -1.
func credentialIndex(text string, credentials []string) int {
	for i, credential := range credentials {
		escaped, _ := json.Marshal(credential)
		forms := []string{credential, strings.Trim(string(escaped), `"`),
			base64.StdEncoding.EncodeToString([]byte(credential))}
		for _, form := range forms {
			if strings.Contains(text, form) {
				return i
			}
		}
	}
	return -1
}

// hideSensitive replaces every value that sensitive marks with a placeholder. sensitive
// mirrors the value's shape, as in the plan JSON's before_sensitive and after_sensitive.
func hideSensitive(value, sensitive any) any {
	if marked, ok := sensitive.(bool); ok && marked {
		return "(sensitive)"
	}
	switch typed := value.(type) {
	case map[string]any:
		marks, _ := sensitive.(map[string]any)
		hidden := map[string]any{}
		for key, element := range typed {
			hidden[key] = hideSensitive(element, marks[key])
		}
		return hidden
	case []any:
		marks, _ := sensitive.([]any)
		hidden := make([]any, len(typed))
		for i, element := range typed {
			var mark any
			if i < len(marks) {
				mark = marks[i]
			}
			hidden[i] = hideSensitive(element, mark)
		}
		return hidden
	default:
		return value
	}
}

// printedPlanCheck reads the plan as Terraform prints it, which no plan check can see. A
// PlanOnly step that finds changes fails with "plan was not empty" and the printed plan. The
// TestCase's ErrorCheck passes that error to check. It accepts the error only for the step
// armed in its PreConfig, and only when the printed plan shows "(sensitive value)" and none
// of the credentials. Every other error passes through unchanged.
type printedPlanCheck struct {
	credentials []string
	armed       bool
	checked     bool
}

// arm makes check accept the error of the next step. Call it from that step's PreConfig.
func (p *printedPlanCheck) arm() {
	p.armed = true
	p.checked = false
}

// requireChecked fails the test unless the armed step failed as expected and was checked.
// Call it from the PreConfig of the step after the armed one.
func (p *printedPlanCheck) requireChecked(t *testing.T) {
	t.Helper()
	p.armed = false
	if !p.checked {
		t.Fatal("the printed plan was never checked: the armed step found no changes")
	}
}

func (p *printedPlanCheck) check(err error) error {
	if !p.armed || err == nil || !strings.Contains(err.Error(), "plan was not empty") {
		return err
	}
	p.armed = false
	output := err.Error()
	if index := credentialIndex(output, p.credentials); index >= 0 {
		return fmt.Errorf("the printed plan contains credential number %d", index+1)
	}
	if !strings.Contains(output, "(sensitive value)") {
		return errors.New("the printed plan shows no (sensitive value), so the changed " +
			"password is not visible as a change")
	}
	p.checked = true
	return nil
}

// expectNotInState is a state check that fails when the state contains a credential in any
// form, sensitive values included.
type expectNotInState struct {
	credentials []string
}

func (e expectNotInState) CheckState(_ context.Context, req statecheck.CheckStateRequest,
	resp *statecheck.CheckStateResponse) {
	encoded, err := json.Marshal(req.State)
	if err != nil {
		resp.Error = err
		return
	}
	if index := credentialIndex(string(encoded), e.credentials); index >= 0 {
		resp.Error = fmt.Errorf("the state contains credential number %d", index+1)
	}
}

// pullSecretStateValue encodes a model as the provider's state value.
func pullSecretStateValue(t *testing.T, model pullSecretModel) tftypes.Value {
	t.Helper()
	ctx := context.Background()
	var schema frameworkresource.SchemaResponse
	NewPullSecretResource().Schema(ctx, frameworkresource.SchemaRequest{}, &schema)
	model.Timeouts = timeouts.Value{Object: types.ObjectNull(
		map[string]attr.Type{"delete": types.StringType})}
	state := tfsdk.State{Schema: schema.Schema,
		Raw: tftypes.NewValue(schema.Schema.Type().TerraformType(ctx), nil)}
	if diags := state.Set(ctx, model); diags.HasError() {
		t.Fatalf("encoding the state: %v", diags)
	}
	return state.Raw
}

// planPullSecret runs the provider's PlanResourceChange for an existing resource whose
// configuration matches state, as Terraform does for every plan after a refresh. The
// proposed new state is the prior state, which is what Terraform proposes when no
// configured value changed.
func planPullSecret(t *testing.T, prior pullSecretModel, configuration tftypes.Value,
) *tfprotov6.PlanResourceChangeResponse {
	t.Helper()
	ctx := context.Background()
	server, err := testAccProviderFactories[providerTypeName]()
	if err != nil {
		t.Fatalf("provider server: %v", err)
	}
	if _, err := server.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{}); err != nil {
		t.Fatalf("schema: %v", err)
	}
	priorState := pullSecretStateValue(t, prior)
	priorValue, err := tfprotov6.NewDynamicValue(priorState.Type(), priorState)
	if err != nil {
		t.Fatalf("encoding the prior state: %v", err)
	}
	configValue, err := tfprotov6.NewDynamicValue(configuration.Type(), configuration)
	if err != nil {
		t.Fatalf("encoding the configuration: %v", err)
	}

	resp, err := server.PlanResourceChange(ctx, &tfprotov6.PlanResourceChangeRequest{
		TypeName:         "imagedist_pull_secret",
		PriorState:       &priorValue,
		ProposedNewState: &priorValue,
		Config:           &configValue,
	})
	if err != nil {
		t.Fatalf("PlanResourceChange: %v", err)
	}
	for _, diagnostic := range resp.Diagnostics {
		t.Errorf("plan diagnostic: %s: %s", diagnostic.Summary, diagnostic.Detail)
	}
	return resp
}

// existingPullSecret is the state of a resource with one registry block.
func existingPullSecret(block registryModel) pullSecretModel {
	model := importedModel()
	model.Type = types.StringValue(secretTypeDockerConfigJSON)
	model.Registries = types.ListValueMust(registryObjectType, []attr.Value{
		types.ObjectValueMust(registryObjectType.AttrTypes, map[string]attr.Value{
			"server":              block.Server,
			"registry_key":        block.RegistryKey,
			"username":            block.Username,
			"password":            block.Password,
			"password_wo":         block.PasswordWO,
			"password_wo_version": block.PasswordWOVersion,
			"password_wo_hash":    block.PasswordWOHash,
			"email":               block.Email,
		}),
	})
	return model
}

func TestPullSecretPlanUnchangedWriteOnlyPassword(t *testing.T) {
	block := writeOnlyBlock(t, "quay.io", "quay.io", "robot", pullSecretPassword)
	block.PasswordWOVersion = types.Int64Value(1)
	prior := existingPullSecret(block)
	configuration := pullSecretConfig(t, validIdentity(), map[string]tftypes.Value{
		"server": text("quay.io"), "username": text("robot"),
		"password_wo":         text(pullSecretPassword),
		"password_wo_version": tftypes.NewValue(tftypes.Number, 1),
	})

	resp := planPullSecret(t, prior, configuration)

	planned, err := resp.PlannedState.Unmarshal(configuration.Type())
	if err != nil {
		t.Fatalf("decoding the plan: %v", err)
	}
	if !planned.Equal(pullSecretStateValue(t, prior)) {
		t.Errorf("plan differs from state although nothing changed, so every plan would "+
			"show an update:\nplanned %v", planned)
	}
	if len(resp.RequiresReplace) != 0 {
		t.Errorf("requires replace = %v, expected none", resp.RequiresReplace)
	}
}

func TestPullSecretPlanLegacyTypeReplaces(t *testing.T) {
	prior := existingPullSecret(passwordBlock("quay.io", "quay.io", "robot", "token"))
	prior.Type = types.StringValue(secretTypeDockerCfg)
	configuration := pullSecretConfig(t, validIdentity(), validRegistry("quay.io"))

	resp := planPullSecret(t, prior, configuration)

	if len(resp.RequiresReplace) != 1 || resp.RequiresReplace[0].String() !=
		tftypes.NewAttributePath().WithAttributeName("type").String() {
		t.Errorf("requires replace = %v, expected [type]", resp.RequiresReplace)
	}
}

func TestPullSecretPlanMissingSecretReplaces(t *testing.T) {
	prior := existingPullSecret(passwordBlock("quay.io", "quay.io", "robot", "token"))
	prior.Type = types.StringValue(secretTypeReplace)
	configuration := pullSecretConfig(t, validIdentity(), validRegistry("quay.io"))

	resp := planPullSecret(t, prior, configuration)

	if len(resp.RequiresReplace) != 1 || resp.RequiresReplace[0].String() !=
		tftypes.NewAttributePath().WithAttributeName("type").String() {
		t.Errorf("requires replace = %v, expected [type]", resp.RequiresReplace)
	}
}

func registryPath(index int, attribute string) tfjsonpath.Path {
	return tfjsonpath.New("registry").AtSliceIndex(index).AtMapKey(attribute)
}

func TestAccPullSecretLifecycle(t *testing.T) {
	cluster := newPullSecretCluster(t)
	variables := config.Variables{
		"password":       config.StringVariable(pullSecretPassword),
		"other_password": config.StringVariable("quay-token-1"),
	}
	var uid string

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             cluster.checkDestroyed,
		Steps: []resource.TestStep{
			{
				ConfigVariables: variables,
				Config: cluster.config(`
  labels = {
    "app.kubernetes.io/name" = "web"
    tier                     = "frontend"
  }
  annotations = {
    "example.com/owner" = "platform"
  }

  registry {
    server   = "https://Registry.Example.com/"
    username = "ci"
    password = var.password
    email    = "ci@example.com"
  }

  registry {
    server   = "quay.io:443"
    username = "robot"
    password = var.other_password
  }
`, "password", "other_password"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(pullSecretAddress,
							plancheck.ResourceActionCreate),
						plancheck.ExpectSensitiveValue(pullSecretAddress,
							registryPath(0, "password")),
						expectCredentialsHidden{[]string{pullSecretPassword, "quay-token-1"}},
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{
						plancheck.ExpectEmptyPlan(),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(pullSecretAddress, tfjsonpath.New("id"),
						knownvalue.StringExact(cluster.id())),
					statecheck.ExpectKnownValue(pullSecretAddress, tfjsonpath.New("type"),
						knownvalue.StringExact(secretTypeDockerConfigJSON)),
					statecheck.ExpectKnownValue(pullSecretAddress, registryPath(0, "server"),
						knownvalue.StringExact("https://Registry.Example.com/")),
					statecheck.ExpectKnownValue(pullSecretAddress,
						registryPath(0, "registry_key"),
						knownvalue.StringExact("registry.example.com")),
					statecheck.ExpectKnownValue(pullSecretAddress,
						registryPath(1, "registry_key"), knownvalue.StringExact("quay.io")),
					statecheck.ExpectKnownValue(pullSecretAddress,
						registryPath(0, "password_wo_hash"), knownvalue.Null()),
					statecheck.ExpectSensitiveValue(pullSecretAddress,
						registryPath(0, "password")),
				},
				Check: resource.ComposeTestCheckFunc(
					cluster.checkAuths(map[string]dockerConfigAuth{
						"registry.example.com": {Username: "ci", Password: pullSecretPassword,
							Email: "ci@example.com"},
						"quay.io": {Username: "robot", Password: "quay-token-1"},
					}),
					func(*terraform.State) error {
						secret, err := cluster.secret()
						if err != nil {
							return err
						}
						uid = string(secret.UID)
						if secret.Labels["tier"] != "frontend" ||
							secret.Annotations["example.com/owner"] != "platform" {
							return fmt.Errorf("metadata = %v %v", secret.Labels,
								secret.Annotations)
						}
						return nil
					},
				),
			},
			{
				// Labels and annotations that others add are not drift.
				PreConfig: func() {
					secret, err := cluster.secret()
					if err != nil {
						t.Fatalf("reading the Secret: %v", err)
					}
					secret.Labels["added-by"] = "controller"
					secret.Annotations["controller.example.com/seen"] = "true"
					if _, err := cluster.client.CoreV1().Secrets(cluster.namespace).Update(
						context.Background(), secret, metav1.UpdateOptions{}); err != nil {
						t.Fatalf("annotating the Secret: %v", err)
					}
				},
				ConfigVariables: variables,
				Config: cluster.config(`
  labels = {
    "app.kubernetes.io/name" = "web"
    tier                     = "frontend"
  }
  annotations = {
    "example.com/owner" = "platform"
  }

  registry {
    server   = "https://Registry.Example.com/"
    username = "ci"
    password = var.password
    email    = "ci@example.com"
  }

  registry {
    server   = "quay.io:443"
    username = "robot"
    password = var.other_password
  }
`, "password", "other_password"),
				PlanOnly: true,
			},
			{
				ConfigVariables: config.Variables{
					"password":       config.StringVariable(pullSecretPassword),
					"other_password": config.StringVariable("quay-token-2"),
				},
				Config: cluster.config(`
  labels = {
    "app.kubernetes.io/name" = "web"
    release                  = "2"
  }

  registry {
    server   = "quay.io"
    username = "robot-2"
    password = var.other_password
  }

  registry {
    server   = "registry.example.com"
    username = "ci"
    password = var.password
    email    = "ci@example.com"
  }

  registry {
    server   = "registry.example.com:5000"
    username = "mirror"
    password = var.password
  }
`, "password", "other_password"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(pullSecretAddress,
							plancheck.ResourceActionUpdate),
						expectCredentialsHidden{[]string{pullSecretPassword, "quay-token-1",
							"quay-token-2"}},
					},
				},
				Check: resource.ComposeTestCheckFunc(
					cluster.checkAuths(map[string]dockerConfigAuth{
						"quay.io": {Username: "robot-2", Password: "quay-token-2"},
						"registry.example.com": {Username: "ci", Password: pullSecretPassword,
							Email: "ci@example.com"},
						"registry.example.com:5000": {Username: "mirror",
							Password: pullSecretPassword},
					}),
					func(*terraform.State) error {
						secret, err := cluster.secret()
						if err != nil {
							return err
						}
						if string(secret.UID) != uid {
							return errors.New("the Secret was replaced, expected an update " +
								"in place")
						}
						expectedLabels := map[string]string{"app.kubernetes.io/name": "web",
							"release": "2", "added-by": "controller"}
						if !reflect.DeepEqual(secret.Labels, expectedLabels) {
							return fmt.Errorf("labels = %v, expected %v", secret.Labels,
								expectedLabels)
						}
						expectedAnnotations := map[string]string{
							"controller.example.com/seen": "true"}
						if !reflect.DeepEqual(secret.Annotations, expectedAnnotations) {
							return fmt.Errorf("annotations = %v, expected %v",
								secret.Annotations, expectedAnnotations)
						}
						return nil
					},
				),
			},
			{
				// Import reads every label and annotation, so the ones added above go first.
				PreConfig: func() {
					secret, err := cluster.secret()
					if err != nil {
						t.Fatalf("reading the Secret: %v", err)
					}
					delete(secret.Labels, "added-by")
					secret.Annotations = nil
					if _, err := cluster.client.CoreV1().Secrets(cluster.namespace).Update(
						context.Background(), secret, metav1.UpdateOptions{}); err != nil {
						t.Fatalf("removing the added metadata: %v", err)
					}
				},
				ConfigVariables: config.Variables{
					"password":       config.StringVariable(pullSecretPassword),
					"other_password": config.StringVariable("quay-token-2"),
				},
				ResourceName:      pullSecretAddress,
				ImportState:       true,
				ImportStateVerify: true,
			},
		},
	})
}

func TestAccPullSecretImportKubectlSecret(t *testing.T) {
	cluster := newPullSecretCluster(t)
	cluster.createSecret(corev1.SecretTypeDockerConfigJson, corev1.DockerConfigJsonKey,
		map[string]any{"auths": map[string]any{
			"registry.example.com:5000": kubectlEntry("ci", pullSecretPassword,
				"ci@example.com"),
		}})
	variables := config.Variables{"password": config.StringVariable(pullSecretPassword)}
	configuration := cluster.plainConfig(`
  registry {
    server   = "registry.example.com:5000"
    username = "ci"
    password = var.password
    email    = "ci@example.com"
  }
`, "password")

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             cluster.checkDestroyed,
		Steps: []resource.TestStep{
			{
				// An import block fails this step unless the import plans no change.
				ConfigVariables: variables,
				Config:          configuration,
				ResourceName:    pullSecretAddress,
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
				ImportStateId:   cluster.id(),
			},
			{
				ConfigVariables:    variables,
				Config:             configuration,
				ResourceName:       pullSecretAddress,
				ImportState:        true,
				ImportStateId:      cluster.id(),
				ImportStatePersist: true,
			},
			{
				ConfigVariables: variables,
				Config:          configuration,
				PlanOnly:        true,
			},
		},
	})
}

// TestAccPullSecretLabelUpdateKeepsData checks that an update whose plan shows no change of
// the registries leaves the Secret's data byte for byte, kubectl's key spelling included,
// and that a changed password still rewrites it.
func TestAccPullSecretLabelUpdateKeepsData(t *testing.T) {
	cluster := newPullSecretCluster(t)
	cluster.createSecret(corev1.SecretTypeDockerConfigJson, corev1.DockerConfigJsonKey,
		map[string]any{"auths": map[string]any{
			"https://index.docker.io/v1/": kubectlEntry("robot", pullSecretPassword,
				"robot@example.com"),
		}})
	created, err := cluster.secret()
	if err != nil {
		t.Fatalf("reading the created Secret: %v", err)
	}
	original := created.Data[corev1.DockerConfigJsonKey]
	configuration := func(labels string) string {
		return cluster.plainConfig(labels+`
  registry {
    server   = "https://index.docker.io/v1/"
    username = "robot"
    password = var.password
    email    = "robot@example.com"
  }
`, "password")
	}
	variables := config.Variables{"password": config.StringVariable(pullSecretPassword)}

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             cluster.checkDestroyed,
		Steps: []resource.TestStep{
			{
				ConfigVariables:    variables,
				Config:             configuration(""),
				ResourceName:       pullSecretAddress,
				ImportState:        true,
				ImportStateId:      cluster.id(),
				ImportStatePersist: true,
			},
			{
				ConfigVariables: variables,
				Config:          configuration(`labels = { team = "a" }`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(pullSecretAddress,
							plancheck.ResourceActionUpdate),
					},
				},
				Check: func(*terraform.State) error {
					secret, err := cluster.secret()
					if err != nil {
						return err
					}
					if secret.Labels["team"] != "a" {
						return fmt.Errorf("labels = %v, expected team=a", secret.Labels)
					}
					if !bytes.Equal(secret.Data[corev1.DockerConfigJsonKey], original) {
						return errors.New(".dockerconfigjson was rewritten by an update " +
							"that changed only a label")
					}
					return nil
				},
			},
			{
				ConfigVariables: config.Variables{
					"password": config.StringVariable("rotated-tökén"),
				},
				Config: configuration(`labels = { team = "a" }`),
				Check: cluster.checkAuths(map[string]dockerConfigAuth{
					"index.docker.io": {Username: "robot", Password: "rotated-tökén",
						Email: "robot@example.com"},
				}),
			},
		},
	})
}

func TestAccPullSecretImportInvalidID(t *testing.T) {
	cluster := newPullSecretCluster(t)
	configuration := cluster.config(`
  registry {
    server   = "quay.io"
    username = "robot"
    password = "token"
  }
`)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:        configuration,
				ResourceName:  pullSecretAddress,
				ImportState:   true,
				ImportStateId: cluster.name,
				ExpectError:   regexp.MustCompile(`(?s)Invalid Import ID.*"namespace/name"`),
			},
			{
				Config:        configuration,
				ResourceName:  pullSecretAddress,
				ImportState:   true,
				ImportStateId: "Team_A/" + cluster.name,
				ExpectError:   regexp.MustCompile(`(?s)Invalid Import ID.*DNS-1123 label`),
			},
		},
	})
}

func TestAccPullSecretImportNotFound(t *testing.T) {
	cluster := newPullSecretCluster(t)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: cluster.config(`
  registry {
    server   = "quay.io"
    username = "robot"
    password = "token"
  }
`),
				ResourceName:  pullSecretAddress,
				ImportState:   true,
				ImportStateId: pullSecretID(cluster.namespace, "missing"),
				ExpectError: regexp.MustCompile(`(?s)Unable to Import Pull Secret.*Secret\s+` +
					regexp.QuoteMeta(cluster.namespace) + `/missing\s+not\s+found.*import\s+ID`),
			},
		},
	})
}

func TestAccPullSecretDrift(t *testing.T) {
	cluster := newPullSecretCluster(t)
	variables := config.Variables{
		"password":       config.StringVariable(pullSecretPassword),
		"other_password": config.StringVariable("quay-token-1"),
	}
	configuration := cluster.config(`
  registry {
    server   = "registry.example.com"
    username = "ci"
    password = var.password
  }

  registry {
    server   = "quay.io"
    username = "robot"
    password = var.other_password
  }
`, "password", "other_password")
	expected := map[string]dockerConfigAuth{
		"registry.example.com": {Username: "ci", Password: pullSecretPassword},
		"quay.io":              {Username: "robot", Password: "quay-token-1"},
	}
	credentials := []string{pullSecretPassword, "quay-token-1", "changed-out-of-bänd",
		"ghcr-token"}
	driftOutOfBand := func() {
		cluster.writeAuths(map[string]dockerConfigAuth{
			"registry.example.com": {Username: "ci", Password: "changed-out-of-bänd"},
			"quay.io":              {Username: "intruder", Password: "quay-token-1"},
			"ghcr.io":              {Username: "someone", Password: "ghcr-token"},
		})
	}
	printed := &printedPlanCheck{credentials: credentials}

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             cluster.checkDestroyed,
		ErrorCheck:               printed.check,
		Steps: []resource.TestStep{
			{
				ConfigVariables: variables,
				Config:          configuration,
				Check:           cluster.checkAuths(expected),
			},
			{
				PreConfig:          driftOutOfBand,
				ConfigVariables:    variables,
				Config:             configuration,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(pullSecretAddress,
							plancheck.ResourceActionUpdate),
						plancheck.ExpectSensitiveValue(pullSecretAddress,
							registryPath(0, "password")),
						plancheck.ExpectKnownValue(pullSecretAddress,
							registryPath(1, "username"), knownvalue.StringExact("robot")),
						expectCredentialsHidden{credentials},
					},
				},
			},
			{
				// The same plan, left to fail as "not empty" so that ErrorCheck can read
				// the plan as Terraform prints it.
				PreConfig:       printed.arm,
				ConfigVariables: variables,
				Config:          configuration,
				PlanOnly:        true,
			},
			{
				PreConfig:       func() { printed.requireChecked(t) },
				ConfigVariables: variables,
				Config:          configuration,
				Check:           cluster.checkAuths(expected),
			},
			{
				PreConfig: func() {
					if err := cluster.client.CoreV1().Secrets(cluster.namespace).Delete(
						context.Background(), cluster.name, metav1.DeleteOptions{}); err != nil {
						t.Fatalf("deleting the Secret out of band: %v", err)
					}
				},
				ConfigVariables:    variables,
				Config:             configuration,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(pullSecretAddress,
							plancheck.ResourceActionCreate),
					},
				},
			},
			{
				ConfigVariables: variables,
				Config:          configuration,
				Check:           cluster.checkAuths(expected),
			},
		},
	})
}

func TestAccPullSecretLinkServiceAccounts(t *testing.T) {
	cluster := newPullSecretCluster(t)
	ctx := context.Background()
	builder, err := testcluster.AddOpenShiftDockercfg(ctx, cluster.client, cluster.namespace,
		"builder")
	if err != nil {
		t.Fatalf("creating the builder service account: %v", err)
	}
	openShiftEntry := builder.ImagePullSecrets[0].Name
	rotatedEntry := "builder-dockercfg-rot42"
	cluster.createServiceAccount("deployer", "deployer-dockercfg-abc12", "team-secret")

	linkedConfig := func(accounts string) string {
		return cluster.config(fmt.Sprintf(`
  link_service_accounts = %s

  registry {
    server   = "quay.io"
    username = "robot"
    password = "token"
  }
`, accounts))
	}

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy: resource.ComposeTestCheckFunc(
			cluster.checkDestroyed,
			cluster.checkAccountPullSecrets("builder", rotatedEntry),
			cluster.checkAccountPullSecrets("deployer", "deployer-dockercfg-abc12",
				"team-secret"),
		),
		Steps: []resource.TestStep{
			{
				Config: linkedConfig(`["builder", "deployer"]`),
				Check: resource.ComposeTestCheckFunc(
					cluster.checkAccountPullSecrets("builder", openShiftEntry, cluster.name),
					cluster.checkAccountPullSecrets("deployer", "deployer-dockercfg-abc12",
						"team-secret", cluster.name),
				),
			},
			{
				// OpenShift rotates its own entry: no drift, and ours stays after it.
				PreConfig: func() {
					cluster.setAccountPullSecrets("builder", rotatedEntry, cluster.name)
				},
				Config:   linkedConfig(`["builder", "deployer"]`),
				PlanOnly: true,
			},
			{
				PreConfig: func() {
					cluster.setAccountPullSecrets("deployer", "deployer-dockercfg-abc12",
						"team-secret")
				},
				Config:             linkedConfig(`["builder", "deployer"]`),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(pullSecretAddress,
							plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(pullSecretAddress,
							tfjsonpath.New("link_service_accounts"),
							knownvalue.SetExact([]knownvalue.Check{
								knownvalue.StringExact("builder"),
								knownvalue.StringExact("deployer"),
							})),
					},
				},
			},
			{
				Config: linkedConfig(`["builder", "deployer"]`),
				Check: resource.ComposeTestCheckFunc(
					cluster.checkAccountPullSecrets("builder", rotatedEntry, cluster.name),
					cluster.checkAccountPullSecrets("deployer", "deployer-dockercfg-abc12",
						"team-secret", cluster.name),
				),
			},
			{
				Config: linkedConfig(`["builder"]`),
				Check: resource.ComposeTestCheckFunc(
					cluster.checkAccountPullSecrets("builder", rotatedEntry, cluster.name),
					cluster.checkAccountPullSecrets("deployer", "deployer-dockercfg-abc12",
						"team-secret"),
				),
			},
		},
	})
}

// deleteSecret deletes the Secret, as someone running kubectl delete would.
func (c *pullSecretCluster) deleteSecret() {
	c.t.Helper()
	if err := c.client.CoreV1().Secrets(c.namespace).Delete(context.Background(), c.name,
		metav1.DeleteOptions{}); err != nil {
		c.t.Fatalf("deleting the Secret out of band: %v", err)
	}
}

// TestAccPullSecretDeletedWhileLinked deletes the Secret while a service account still lists
// it. The resource must stay in state, so that apply creates the Secret again and destroy
// still removes the account's entry.
func TestAccPullSecretDeletedWhileLinked(t *testing.T) {
	cluster := newPullSecretCluster(t)
	cluster.createServiceAccount("deployer", "deployer-dockercfg-abc12", "team-secret")
	configuration := cluster.config(`
  link_service_accounts = ["deployer"]

  registry {
    server   = "quay.io"
    username = "robot"
    password = "token"
  }
`)
	replaced := resource.ConfigPlanChecks{
		PostApplyPostRefresh: []plancheck.PlanCheck{
			plancheck.ExpectResourceAction(pullSecretAddress,
				plancheck.ResourceActionDestroyBeforeCreate),
			plancheck.ExpectKnownValue(pullSecretAddress, tfjsonpath.New("type"),
				knownvalue.StringExact(secretTypeDockerConfigJSON)),
		},
	}

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy: resource.ComposeTestCheckFunc(
			cluster.checkDestroyed,
			cluster.checkAccountPullSecrets("deployer", "deployer-dockercfg-abc12",
				"team-secret", "later-secret"),
		),
		Steps: []resource.TestStep{
			{
				Config: configuration,
				Check: cluster.checkAccountPullSecrets("deployer", "deployer-dockercfg-abc12",
					"team-secret", cluster.name),
			},
			{
				// Another controller appends an entry after ours, then the Secret is deleted.
				PreConfig: func() {
					cluster.setAccountPullSecrets("deployer", "deployer-dockercfg-abc12",
						"team-secret", cluster.name, "later-secret")
					cluster.deleteSecret()
				},
				Config:             configuration,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks:   replaced,
			},
			{
				// The replacement unlinks, then links again at the end: one entry, never two.
				Config: configuration,
				Check: resource.ComposeTestCheckFunc(
					cluster.checkAuths(map[string]dockerConfigAuth{
						"quay.io": {Username: "robot", Password: "token"},
					}),
					cluster.checkAccountPullSecrets("deployer", "deployer-dockercfg-abc12",
						"team-secret", "later-secret", cluster.name),
				),
			},
			{
				// Deleted again, and left for the test's destroy, which CheckDestroy checks.
				PreConfig:          cluster.deleteSecret,
				Config:             configuration,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks:   replaced,
			},
		},
	})
}

// TestAccPullSecretDeletedAndUnlinked deletes the Secret after its entry was removed from the
// service account by hand, so nothing refers to it and the plan creates it.
func TestAccPullSecretDeletedAndUnlinked(t *testing.T) {
	cluster := newPullSecretCluster(t)
	cluster.createServiceAccount("deployer", "deployer-dockercfg-abc12", "team-secret")
	configuration := cluster.config(`
  link_service_accounts = ["deployer"]

  registry {
    server   = "quay.io"
    username = "robot"
    password = "token"
  }
`)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy: resource.ComposeTestCheckFunc(
			cluster.checkDestroyed,
			cluster.checkAccountPullSecrets("deployer", "deployer-dockercfg-abc12",
				"team-secret"),
		),
		Steps: []resource.TestStep{
			{
				Config: configuration,
				Check: cluster.checkAccountPullSecrets("deployer", "deployer-dockercfg-abc12",
					"team-secret", cluster.name),
			},
			{
				PreConfig: func() {
					cluster.setAccountPullSecrets("deployer", "deployer-dockercfg-abc12",
						"team-secret")
					cluster.deleteSecret()
				},
				Config:             configuration,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(pullSecretAddress,
							plancheck.ResourceActionCreate),
					},
				},
			},
		},
	})
}

func TestAccPullSecretMissingServiceAccount(t *testing.T) {
	cluster := newPullSecretCluster(t)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             cluster.checkDestroyed,
		Steps: []resource.TestStep{
			{
				Config: cluster.config(`
  link_service_accounts = ["missing"]

  registry {
    server   = "quay.io"
    username = "robot"
    password = "token"
  }
`),
				ExpectError: regexp.MustCompile(
					`(?s)Service Account Not Found.*"missing"\s+does\s+not\s+exist\s+in\s+namespace`),
			},
		},
	})
}

func TestAccPullSecretMissingNamespace(t *testing.T) {
	cluster := newPullSecretCluster(t)
	cluster.namespace = acctest.RandomWithPrefix("absent")

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             cluster.checkDestroyed,
		Steps: []resource.TestStep{
			{
				Config: cluster.config(`
  registry {
    server   = "quay.io"
    username = "robot"
    password = "token"
  }
`),
				ExpectError: regexp.MustCompile(`(?s)Namespace Not Found.*namespace\s+"` +
					cluster.namespace + `"\s+does\s+not\s+exist`),
			},
		},
	})
}

func TestAccPullSecretLegacyDockercfgImport(t *testing.T) {
	cluster := newPullSecretCluster(t)
	cluster.createSecret(corev1.SecretTypeDockercfg, corev1.DockerConfigKey,
		map[string]any{"registry.example.com": map[string]string{
			"auth":  base64.StdEncoding.EncodeToString([]byte("ci:" + pullSecretPassword)),
			"email": "ci@example.com",
		}})
	variables := config.Variables{"password": config.StringVariable(pullSecretPassword)}
	configuration := cluster.config(`
  registry {
    server   = "registry.example.com"
    username = "ci"
    password = var.password
    email    = "ci@example.com"
  }
`, "password")

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             cluster.checkDestroyed,
		Steps: []resource.TestStep{
			{
				ConfigVariables:    variables,
				Config:             configuration,
				ResourceName:       pullSecretAddress,
				ImportState:        true,
				ImportStateId:      cluster.id(),
				ImportStatePersist: true,
			},
			{
				ConfigVariables:    variables,
				Config:             configuration,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(pullSecretAddress,
							plancheck.ResourceActionDestroyBeforeCreate),
					},
				},
			},
			{
				ConfigVariables: variables,
				Config:          configuration,
				Check: cluster.checkAuths(map[string]dockerConfigAuth{
					"registry.example.com": {Username: "ci", Password: pullSecretPassword,
						Email: "ci@example.com"},
				}),
			},
		},
	})
}

func TestAccPullSecretPlanTimeErrors(t *testing.T) {
	cluster := newPullSecretCluster(t)
	registry := func(server, username string) string {
		return fmt.Sprintf(`
  registry {
    server   = %q
    username = %q
    password = "token"
  }
`, server, username)
	}
	withName := func(namespace, name, body string) string {
		return fmt.Sprintf(`
resource "imagedist_pull_secret" "test" {
  namespace = %q
  name      = %q
%s
}
`, namespace, name, body)
	}

	cases := []struct {
		config string
		error  string
	}{
		{cluster.config(registry("quay.io", "org:robot")),
			`(?s)Invalid Registry Username.*contains a colon`},
		{cluster.config(registry("", "robot")), `(?s)Invalid Registry Server.*is empty`},
		{cluster.config(registry("quay.io/org/app", "robot")),
			`(?s)Invalid Registry Server.*path "/org/app"`},
		{cluster.config(registry("quay.io?tab=tags", "robot")),
			`(?s)Invalid Registry Server.*query`},
		{cluster.config(registry("quay.io", "robot") + registry("https://QUAY.io/", "other")),
			`(?s)Duplicate Registry Server.*registry\[0\].server "quay.io" and\s+registry\[1\].server`},
		{withName("Team_A", cluster.name, registry("quay.io", "robot")),
			`(?s)Invalid Kubernetes Name.*DNS-1123 label`},
		{withName(cluster.namespace, "Registry!", registry("quay.io", "robot")),
			`(?s)Invalid Kubernetes Name.*DNS-1123 subdomain`},
		{cluster.config(`labels = { "-bad" = "x" }` + registry("quay.io", "robot")),
			`Invalid Label Key`},
		{cluster.config(`labels = { app = "has space" }` + registry("quay.io", "robot")),
			`Invalid Label Value`},
		{cluster.config(`annotations = { "a/b/c" = "x" }` + registry("quay.io", "robot")),
			`Invalid Annotation Key`},
		{cluster.config(`labels = { nullval = null }` + registry("quay.io", "robot")),
			`(?s)Invalid Label Value.*label "nullval" is null`},
		{cluster.config(`annotations = { x = null }` + registry("quay.io", "robot")),
			`(?s)Invalid Annotation Value.*annotation "x" is null`},
		{cluster.config(`
  registry {
    server   = "quay.io"
    username = "robot"
  }
`), `(?s)Invalid Registry Password.*password_wo\s+in\s+registry\s+block\s+1.*Neither\s+is\s+set`},
	}

	steps := make([]resource.TestStep, len(cases))
	for i, tc := range cases {
		steps[i] = resource.TestStep{
			Config:      tc.config,
			PlanOnly:    true,
			ExpectError: regexp.MustCompile(tc.error),
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             cluster.checkDestroyed,
		Steps:                    steps,
	})
}

func TestAccPullSecretWriteOnlyPassword(t *testing.T) {
	cluster := newPullSecretCluster(t)
	configuration := func(version int) string {
		return cluster.config(fmt.Sprintf(`
  registry {
    server              = "registry.example.com"
    username            = "ci"
    password_wo         = var.password
    password_wo_version = %d
  }
`, version), "password")
	}
	first := config.Variables{"password": config.StringVariable(pullSecretPassword)}
	second := config.Variables{"password": config.StringVariable("second-pässword")}
	credentials := []string{pullSecretPassword, "second-pässword", "changed-out-of-bänd"}
	printed := &printedPlanCheck{credentials: credentials}

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_11_0)},
		CheckDestroy:             cluster.checkDestroyed,
		ErrorCheck:               printed.check,
		Steps: []resource.TestStep{
			{
				ConfigVariables: first,
				Config:          configuration(1),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(pullSecretAddress, registryPath(0, "password"),
						knownvalue.Null()),
					statecheck.ExpectKnownValue(pullSecretAddress,
						registryPath(0, "password_wo"), knownvalue.Null()),
					statecheck.ExpectKnownValue(pullSecretAddress,
						registryPath(0, "password_wo_hash"), knownvalue.NotNull()),
					expectNotInState{credentials},
				},
				Check: cluster.checkAuths(map[string]dockerConfigAuth{
					"registry.example.com": {Username: "ci", Password: pullSecretPassword},
				}),
			},
			{
				PreConfig: func() {
					cluster.writeAuths(map[string]dockerConfigAuth{
						"registry.example.com": {Username: "ci", Password: "changed-out-of-bänd"},
					})
				},
				ConfigVariables:    first,
				Config:             configuration(1),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(pullSecretAddress,
							plancheck.ResourceActionUpdate),
						plancheck.ExpectUnknownValue(pullSecretAddress,
							registryPath(0, "password_wo_hash")),
						expectCredentialsHidden{credentials},
					},
				},
			},
			{
				PreConfig:       printed.arm,
				ConfigVariables: first,
				Config:          configuration(1),
				PlanOnly:        true,
			},
			{
				PreConfig:       func() { printed.requireChecked(t) },
				ConfigVariables: first,
				Config:          configuration(1),
				Check: cluster.checkAuths(map[string]dockerConfigAuth{
					"registry.example.com": {Username: "ci", Password: pullSecretPassword},
				}),
			},
			{
				// A new password with the same version is noticed through the hash.
				ConfigVariables: second,
				Config:          configuration(1),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(pullSecretAddress,
							plancheck.ResourceActionUpdate),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{expectNotInState{credentials}},
				Check: cluster.checkAuths(map[string]dockerConfigAuth{
					"registry.example.com": {Username: "ci", Password: "second-pässword"},
				}),
			},
			{
				ConfigVariables: second,
				Config:          configuration(2),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(pullSecretAddress,
							plancheck.ResourceActionUpdate),
						plancheck.ExpectUnknownValue(pullSecretAddress,
							registryPath(0, "password_wo_hash")),
					},
				},
			},
			{
				// Import cannot know that the configuration uses password_wo, so it reads
				// the password into state; the version exists only in configuration.
				ConfigVariables:   second,
				Config:            configuration(2),
				ResourceName:      pullSecretAddress,
				ImportState:       true,
				ImportStateVerify: true,
				ImportStateVerifyIgnore: []string{"registry.0.password",
					"registry.0.password_wo_hash", "registry.0.password_wo_version"},
			},
		},
	})
}

func TestAccPullSecretWriteOnlyImportKubectlSecret(t *testing.T) {
	cluster := newPullSecretCluster(t)
	cluster.createSecret(corev1.SecretTypeDockerConfigJson, corev1.DockerConfigJsonKey,
		map[string]any{"auths": map[string]any{
			"quay.io": kubectlEntry("robot", pullSecretPassword, ""),
		}})

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_11_0)},
		Steps: []resource.TestStep{
			{
				ConfigVariables: config.Variables{
					"password": config.StringVariable(pullSecretPassword),
				},
				Config: cluster.plainConfig(`
  registry {
    server      = "quay.io"
    username    = "robot"
    password_wo = var.password
  }
`, "password"),
				ResourceName:    pullSecretAddress,
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
				ImportStateId:   cluster.id(),
			},
		},
	})
}

func TestAccPullSecretWriteOnlyNeedsNewerCLI(t *testing.T) {
	cluster := newPullSecretCluster(t)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipAbove(tfversion.Version1_10_0)},
		CheckDestroy:             cluster.checkDestroyed,
		Steps: []resource.TestStep{
			{
				Config: cluster.config(`
  registry {
    server      = "quay.io"
    username    = "robot"
    password_wo = "token"
  }
`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`WriteOnly Attribute Not Allowed`),
			},
		},
	})
}
