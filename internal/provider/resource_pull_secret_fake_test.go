package provider

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	frameworkresource "github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"github.com/imagedist/terraform-provider-imagedist/internal/dockerconfig"
)

// The tests in this file run the pull secret's Read and Delete against a fake clientset, or
// against client-go and a loopback server, for responses that the test cluster does not
// return.

// clusterPullSecret is the Secret that linkedPullSecretState describes, as the cluster has it.
func clusterPullSecret(t *testing.T) *corev1.Secret {
	t.Helper()
	document, err := dockerconfig.Encode([]dockerconfig.Entry{
		{Server: "quay.io", Username: "robot", Password: "token"},
	})
	if err != nil {
		t.Fatalf("encoding .dockerconfigjson: %v", err)
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "registry"},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: document},
	}
}

// linkedPullSecretState is the state of a pull secret for quay.io linked to "builder".
func linkedPullSecretState() pullSecretModel {
	model := existingPullSecret(passwordBlock("quay.io", "quay.io", "robot", "token"))
	model.LinkServiceAccounts = types.SetValueMust(types.StringType,
		[]attr.Value{types.StringValue("builder")})
	return model
}

// terminating marks secret as deleted and held by finalizers, as the API server shows a
// Secret whose deletion waits for other controllers.
func terminating(secret *corev1.Secret, finalizers ...string) *corev1.Secret {
	secret.DeletionTimestamp = ptr.To(metav1.NewTime(time.Now()))
	secret.Finalizers = finalizers
	return secret
}

// readWithClient runs the resource's Read with client and prior as state.
func readWithClient(t *testing.T, client kubernetes.Interface, prior pullSecretModel,
) *frameworkresource.ReadResponse {
	t.Helper()
	ctx := context.Background()
	var schema frameworkresource.SchemaResponse
	NewPullSecretResource().Schema(ctx, frameworkresource.SchemaRequest{}, &schema)
	state := tfsdk.State{Schema: schema.Schema, Raw: pullSecretStateValue(t, prior)}

	resp := &frameworkresource.ReadResponse{State: state}
	var model pullSecretModel
	if diags := state.Get(ctx, &model); diags.HasError() {
		t.Fatalf("decoding the prior state: %v", diags)
	}
	readPullSecret(ctx, client, model, resp)
	return resp
}

// readState decodes the state that Read left, or fails the test when Read removed it.
func readState(t *testing.T, resp *frameworkresource.ReadResponse) pullSecretModel {
	t.Helper()
	if resp.State.Raw.IsNull() {
		t.Fatal("Read removed the resource from state")
	}
	var model pullSecretModel
	if diags := resp.State.Get(context.Background(), &model); diags.HasError() {
		t.Fatalf("decoding the state: %v", diags)
	}
	return model
}

// requireOneDiagnostic checks that diags holds exactly one diagnostic, with the given
// severity and summary and a detail that contains each fragment.
func requireOneDiagnostic(t *testing.T, diags diag.Diagnostics, severity diag.Severity,
	summary string, fragments ...string) {
	t.Helper()
	if len(diags) != 1 {
		t.Fatalf("diagnostics = %v, expected exactly one", diags)
	}
	if diags[0].Severity() != severity {
		t.Errorf("severity = %v, expected %v", diags[0].Severity(), severity)
	}
	if diags[0].Summary() != summary {
		t.Errorf("summary = %q, expected %q", diags[0].Summary(), summary)
	}
	for _, fragment := range fragments {
		if !strings.Contains(diags[0].Detail(), fragment) {
			t.Errorf("detail %q lacks %q", diags[0].Detail(), fragment)
		}
	}
}

func TestPullSecretReadPathNotFoundKeepsState(t *testing.T) {
	client := fake.NewClientset(clusterPullSecret(t), serviceAccount("builder", "registry"))
	client.PrependReactor("get", "*",
		func(action clienttesting.Action) (bool, runtime.Object, error) {
			get := action.(clienttesting.GetAction)
			return true, nil, pathNotFound("get", get.GetResource().Resource, get.GetName())
		})

	resp := readWithClient(t, client, linkedPullSecretState())

	requireOneDiagnostic(t, resp.Diagnostics, diag.SeverityError, "Unable to Read Pull Secret",
		`Secret "registry" in namespace "team-a"`, "404 Not Found", "`host`", "/k8s")
	model := readState(t, resp)
	if model.Type.ValueString() != secretTypeDockerConfigJSON {
		t.Errorf("type = %v, expected the prior type to stay", model.Type)
	}
}

func TestPullSecretReadMissingSecret(t *testing.T) {
	client := fake.NewClientset(serviceAccount("builder", "registry"))

	resp := readWithClient(t, client, linkedPullSecretState())

	requireOneDiagnostic(t, resp.Diagnostics, diag.SeverityWarning,
		"Pull Secret Deleted Outside Terraform", "builder")
	if model := readState(t, resp); model.Type.ValueString() != secretTypeReplace {
		t.Errorf("type = %v, expected %q so the plan replaces the Secret", model.Type,
			secretTypeReplace)
	}
}

func TestPullSecretReadTerminatingLinked(t *testing.T) {
	secret := terminating(clusterPullSecret(t), "example.com/hold")
	client := fake.NewClientset(secret, serviceAccount("builder", "registry"))

	resp := readWithClient(t, client, linkedPullSecretState())

	requireOneDiagnostic(t, resp.Diagnostics, diag.SeverityWarning, "Pull Secret Being Deleted",
		`"example.com/hold"`, "builder", "replaces the resource")
	model := readState(t, resp)
	if model.Type.ValueString() != secretTypeReplace {
		t.Errorf("type = %v, expected %q so the plan replaces the Secret", model.Type,
			secretTypeReplace)
	}
	if linked := stringElements(model.LinkServiceAccounts); len(linked) != 1 {
		t.Errorf("link_service_accounts = %q, expected [builder]", linked)
	}
}

func TestPullSecretReadTerminatingUnlinked(t *testing.T) {
	secret := terminating(clusterPullSecret(t), "example.com/hold")
	client := fake.NewClientset(secret, serviceAccount("builder"))

	resp := readWithClient(t, client, linkedPullSecretState())

	requireOneDiagnostic(t, resp.Diagnostics, diag.SeverityWarning, "Pull Secret Being Deleted",
		`"example.com/hold"`, "the plan creates it again")
	if !resp.State.Raw.IsNull() {
		t.Error("Read kept the resource in state, so the next plan would update a Secret " +
			"that is being deleted")
	}
}

func TestPullSecretReadTerminatingImport(t *testing.T) {
	secret := terminating(clusterPullSecret(t), "example.com/hold")
	client := fake.NewClientset(secret)

	resp := readWithClient(t, client, importedModel())

	requireOneDiagnostic(t, resp.Diagnostics, diag.SeverityError,
		"Unable to Import Pull Secret", "is being deleted", `"example.com/hold"`)
}

func TestPullSecretReadImmutableReplaces(t *testing.T) {
	secret := clusterPullSecret(t)
	secret.Immutable = ptr.To(true)
	client := fake.NewClientset(secret, serviceAccount("builder", "registry"))

	resp := readWithClient(t, client, linkedPullSecretState())

	requireOneDiagnostic(t, resp.Diagnostics, diag.SeverityWarning, "Pull Secret Is Immutable",
		`Secret "registry" in namespace "team-a"`, "replaces the resource")
	model := readState(t, resp)
	if model.Type.ValueString() != secretTypeReplace {
		t.Errorf("type = %v, expected %q so the plan replaces the Secret", model.Type,
			secretTypeReplace)
	}
	if len(model.Registries.Elements()) != 1 {
		t.Errorf("registries = %v, expected the Secret's one registry", model.Registries)
	}
}

func TestPullSecretReadImmutableFalse(t *testing.T) {
	secret := clusterPullSecret(t)
	secret.Immutable = ptr.To(false)
	client := fake.NewClientset(secret, serviceAccount("builder", "registry"))

	resp := readWithClient(t, client, linkedPullSecretState())

	if len(resp.Diagnostics) != 0 {
		t.Errorf("diagnostics = %v, expected none", resp.Diagnostics)
	}
	if model := readState(t, resp); model.Type.ValueString() != secretTypeDockerConfigJSON {
		t.Errorf("type = %v, expected %q", model.Type, secretTypeDockerConfigJSON)
	}
}

func TestPullSecretDeletePathNotFound(t *testing.T) {
	client := fake.NewClientset(clusterPullSecret(t), serviceAccount("builder", "registry"))
	client.PrependReactor("delete", "secrets",
		func(clienttesting.Action) (bool, runtime.Object, error) {
			return true, nil, pathNotFound("delete", "secrets", "registry")
		})
	var diags diag.Diagnostics

	deletePullSecret(context.Background(), client, linkedPullSecretState(), time.Second, &diags)

	requireOneDiagnostic(t, diags, diag.SeverityError, "Unable to Delete Pull Secret",
		"404 Not Found", "`host`")
}

func TestPullSecretDeleteWaitPathNotFound(t *testing.T) {
	client := fake.NewClientset(clusterPullSecret(t), serviceAccount("builder", "registry"))
	// The delete is taken, but the Get that confirms it does not reach the Secret.
	client.PrependReactor("delete", "secrets",
		func(clienttesting.Action) (bool, runtime.Object, error) {
			return true, nil, nil
		})
	client.PrependReactor("get", "secrets",
		func(clienttesting.Action) (bool, runtime.Object, error) {
			return true, nil, pathNotFound("get", "secrets", "registry")
		})
	var diags diag.Diagnostics

	deletePullSecret(context.Background(), client, linkedPullSecretState(), time.Second, &diags)

	requireOneDiagnostic(t, diags, diag.SeverityError, "Unable to Confirm Pull Secret Deletion",
		"404 Not Found", "`host`")
}

// finalizerServer serves Secret "registry" in namespace "team-a" as being deleted and held by
// a finalizer, and takes its DELETE requests without deleting it, as the API server does for
// a Secret with finalizers.
func finalizerServer(t *testing.T, secret *corev1.Secret) *httptest.Server {
	t.Helper()
	secret.TypeMeta = metav1.TypeMeta{Kind: "Secret", APIVersion: "v1"}
	server := httptest.NewServer(http.HandlerFunc(
		func(w http.ResponseWriter, request *http.Request) {
			if request.URL.Path != "/api/v1/namespaces/team-a/secrets/registry" {
				http.NotFound(w, request)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(secret)
		}))
	t.Cleanup(server.Close)
	return server
}

func TestPullSecretDeleteTimeoutNamesFinalizers(t *testing.T) {
	secret := terminating(clusterPullSecret(t), "example.com/hold", "example.com/backup")
	server := finalizerServer(t, secret)
	// A low client-side rate limit makes client-go wait before the requests, which made the
	// old wait fail with the rate limiter's error in place of the Secret's state.
	client, err := kubernetes.NewForConfig(&rest.Config{Host: server.URL, QPS: 1, Burst: 1})
	if err != nil {
		t.Fatalf("building the client: %v", err)
	}
	var diags diag.Diagnostics
	state := existingPullSecret(passwordBlock("quay.io", "quay.io", "robot", "token"))

	deletePullSecret(context.Background(), client, state, 2*time.Second, &diags)

	requireOneDiagnostic(t, diags, diag.SeverityError,
		"Timed Out Waiting for Pull Secret Deletion", `Secret "registry" in namespace "team-a"`,
		"2s", `"example.com/hold", "example.com/backup"`, "timeouts.delete")
	if strings.Contains(diags[0].Detail(), "rate") {
		t.Errorf("detail %q mentions the rate limiter", diags[0].Detail())
	}
}

func TestPullSecretDeleteTimeoutRecreated(t *testing.T) {
	// The Secret is not being deleted, so it was created again after the delete request.
	server := finalizerServer(t, clusterPullSecret(t))
	client, err := kubernetes.NewForConfig(&rest.Config{Host: server.URL})
	if err != nil {
		t.Fatalf("building the client: %v", err)
	}
	var diags diag.Diagnostics
	state := existingPullSecret(passwordBlock("quay.io", "quay.io", "robot", "token"))

	deletePullSecret(context.Background(), client, state, time.Second, &diags)

	requireOneDiagnostic(t, diags, diag.SeverityError,
		"Timed Out Waiting for Pull Secret Deletion", "created it again")
}

func TestWaitForSecretDeletionCancelled(t *testing.T) {
	secret := terminating(clusterPullSecret(t), "example.com/hold")
	client := fake.NewClientset(secret)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)

	start := time.Now()
	_, err := waitForSecretDeletion(ctx, client.CoreV1().Secrets("team-a"), "registry",
		time.Minute)

	if !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, expected context.Canceled", err)
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("the wait took %v after cancellation", elapsed)
	}
}

func TestCreateSecretWhileTerminating(t *testing.T) {
	existing := terminating(clusterPullSecret(t), "example.com/hold")
	client := fake.NewClientset(existing)
	var diags diag.Diagnostics

	created := createSecret(context.Background(), client, clusterPullSecret(t), secretWrite{},
		&diags)

	if created {
		t.Fatal("createSecret reported success for a name that is taken")
	}
	requireOneDiagnostic(t, diags, diag.SeverityError, "Pull Secret Being Deleted",
		`"example.com/hold"`)
}

func TestCreateSecretPathNotFound(t *testing.T) {
	client := fake.NewClientset()
	client.PrependReactor("create", "secrets",
		func(clienttesting.Action) (bool, runtime.Object, error) {
			return true, nil, pathNotFound("post", "secrets", "")
		})
	var diags diag.Diagnostics

	createSecret(context.Background(), client, clusterPullSecret(t), secretWrite{}, &diags)

	requireOneDiagnostic(t, diags, diag.SeverityError, "Unable to Create Pull Secret",
		"404 Not Found", "`host`")
}

func TestCreateSecretNamespaceNotFound(t *testing.T) {
	client := fake.NewClientset()
	client.PrependReactor("create", "secrets",
		func(clienttesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewNotFound(corev1.Resource("namespaces"), "team-a")
		})
	var diags diag.Diagnostics

	createSecret(context.Background(), client, clusterPullSecret(t), secretWrite{}, &diags)

	requireOneDiagnostic(t, diags, diag.SeverityError, "Namespace Not Found",
		`namespace "team-a" does not exist`)
}
