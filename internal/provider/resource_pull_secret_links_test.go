package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
)

func pullSecretReferences(names ...string) []corev1.LocalObjectReference {
	references := make([]corev1.LocalObjectReference, len(names))
	for i, name := range names {
		references[i] = corev1.LocalObjectReference{Name: name}
	}
	return references
}

func referenceNames(references []corev1.LocalObjectReference) []string {
	names := make([]string, len(references))
	for i, reference := range references {
		names[i] = reference.Name
	}
	return names
}

// TestAppendPullSecretReferenceFromJSON decodes service accounts as the API server sends them,
// so "absent", "null" and "[]" are the real shapes rather than Go values picked by hand.
func TestAppendPullSecretReferenceFromJSON(t *testing.T) {
	cases := map[string]struct {
		account  string
		expected []string
	}{
		"absent":           {`{}`, []string{"registry"}},
		"null":             {`{"imagePullSecrets":null}`, []string{"registry"}},
		"empty":            {`{"imagePullSecrets":[]}`, []string{"registry"}},
		"openshift first":  {`{"imagePullSecrets":[{"name":"builder-dockercfg-abc12"}]}`, []string{"builder-dockercfg-abc12", "registry"}},
		"order kept":       {`{"imagePullSecrets":[{"name":"b"},{"name":"a"},{"name":"c"}]}`, []string{"b", "a", "c", "registry"}},
		"already linked":   {`{"imagePullSecrets":[{"name":"registry"},{"name":"x-dockercfg-1"}]}`, []string{"registry", "x-dockercfg-1"}},
		"other duplicates": {`{"imagePullSecrets":[{"name":"a"},{"name":"a"}]}`, []string{"a", "a", "registry"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var account corev1.ServiceAccount
			if err := json.Unmarshal([]byte(tc.account), &account); err != nil {
				t.Fatalf("decoding the service account: %v", err)
			}
			original := append([]corev1.LocalObjectReference(nil), account.ImagePullSecrets...)

			updated, changed := appendPullSecretReference(account.ImagePullSecrets, "registry")

			if got := referenceNames(updated); !reflect.DeepEqual(got, tc.expected) {
				t.Errorf("references = %q, expected %q", got, tc.expected)
			}
			expectChanged := len(tc.expected) != len(original)
			if changed != expectChanged {
				t.Errorf("changed = %t, expected %t", changed, expectChanged)
			}
			if !reflect.DeepEqual(referenceNames(account.ImagePullSecrets),
				referenceNames(original)) {
				t.Errorf("the input list was modified: %q", referenceNames(account.ImagePullSecrets))
			}
		})
	}
}

func TestAppendPullSecretReferenceDoesNotShareArray(t *testing.T) {
	backing := make([]corev1.LocalObjectReference, 1, 4)
	backing[0] = corev1.LocalObjectReference{Name: "first"}

	updated, _ := appendPullSecretReference(backing, "registry")
	updated[0].Name = "changed"

	if backing[0].Name != "first" {
		t.Errorf("the result shares its array with the input: input[0] = %q", backing[0].Name)
	}
}

func TestRemovePullSecretReference(t *testing.T) {
	cases := map[string]struct {
		references []corev1.LocalObjectReference
		expected   []string
		changed    bool
	}{
		"absent":             {nil, []string{}, false},
		"empty":              {[]corev1.LocalObjectReference{}, []string{}, false},
		"only ours":          {pullSecretReferences("registry"), []string{}, true},
		"openshift kept":     {pullSecretReferences("builder-dockercfg-abc12", "registry"), []string{"builder-dockercfg-abc12"}, true},
		"order kept":         {pullSecretReferences("b", "registry", "a", "c"), []string{"b", "a", "c"}, true},
		"every copy removed": {pullSecretReferences("registry", "a", "registry"), []string{"a"}, true},
		"not linked":         {pullSecretReferences("a", "b"), []string{"a", "b"}, false},
		"similar name kept":  {pullSecretReferences("registry-2", "registry"), []string{"registry-2"}, true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			updated, changed := removePullSecretReference(tc.references, "registry")

			if got := referenceNames(updated); !reflect.DeepEqual(got, tc.expected) {
				t.Errorf("references = %q, expected %q", got, tc.expected)
			}
			if changed != tc.changed {
				t.Errorf("changed = %t, expected %t", changed, tc.changed)
			}
		})
	}
}

func TestAccountsNotInAndIn(t *testing.T) {
	planned := []string{"c", "a", "b"}
	prior := []string{"b", "d"}

	if got := accountsNotIn(planned, prior); !reflect.DeepEqual(got, []string{"a", "c"}) {
		t.Errorf("accountsNotIn(planned, prior) = %q, expected [a c]", got)
	}
	if got := accountsNotIn(prior, planned); !reflect.DeepEqual(got, []string{"d"}) {
		t.Errorf("accountsNotIn(prior, planned) = %q, expected [d]", got)
	}
	if got := accountsIn(planned, prior); !reflect.DeepEqual(got, []string{"b"}) {
		t.Errorf("accountsIn(planned, prior) = %q, expected [b]", got)
	}
}

func newLinkerFixture(t *testing.T, accounts ...*corev1.ServiceAccount) (
	*fake.Clientset, serviceAccountLinker) {
	t.Helper()
	objects := make([]runtime.Object, len(accounts))
	for i, account := range accounts {
		objects[i] = account
	}
	client := fake.NewClientset(objects...)
	return client, newServiceAccountLinker(client, "team-a", "registry")
}

func serviceAccount(name string, pullSecrets ...string) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{
		ObjectMeta:       metav1.ObjectMeta{Namespace: "team-a", Name: name, ResourceVersion: "1"},
		ImagePullSecrets: pullSecretReferences(pullSecrets...),
	}
}

// actionVerbs lists the verbs the fake clientset received, such as "get" and "update".
func actionVerbs(client *fake.Clientset) []string {
	var verbs []string
	for _, action := range client.Actions() {
		verbs = append(verbs, action.GetVerb())
	}
	return verbs
}

func storedPullSecrets(t *testing.T, client *fake.Clientset, name string) []string {
	t.Helper()
	account, err := client.CoreV1().ServiceAccounts("team-a").Get(context.Background(), name,
		metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading service account %s: %v", name, err)
	}
	return referenceNames(account.ImagePullSecrets)
}

func TestServiceAccountLinkerLinkOneGetOneUpdate(t *testing.T) {
	client, linker := newLinkerFixture(t, serviceAccount("builder", "builder-dockercfg-abc12"))
	ctx := context.Background()

	account, err := linker.get(ctx, "builder")
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if err := linker.link(ctx, account); err != nil {
		t.Fatalf("link: %v", err)
	}

	if verbs := actionVerbs(client); !reflect.DeepEqual(verbs, []string{"get", "update"}) {
		t.Errorf("API calls = %q, expected one get and one update", verbs)
	}
	expected := []string{"builder-dockercfg-abc12", "registry"}
	if got := storedPullSecrets(t, client, "builder"); !reflect.DeepEqual(got, expected) {
		t.Errorf("imagePullSecrets = %q, expected %q", got, expected)
	}
}

func TestServiceAccountLinkerAlreadyLinked(t *testing.T) {
	client, linker := newLinkerFixture(t, serviceAccount("builder", "registry", "other"))
	ctx := context.Background()

	account, err := linker.get(ctx, "builder")
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if err := linker.link(ctx, account); err != nil {
		t.Fatalf("link: %v", err)
	}

	if verbs := actionVerbs(client); !reflect.DeepEqual(verbs, []string{"get"}) {
		t.Errorf("API calls = %q, expected only the get", verbs)
	}
}

// TestServiceAccountLinkerLinkRetriesConflict plays a controller that rotates the OpenShift
// entry between the provider's GET and UPDATE. The UPDATE gets 409, and the retry must keep
// the rotated entry.
func TestServiceAccountLinkerLinkRetriesConflict(t *testing.T) {
	client, linker := newLinkerFixture(t, serviceAccount("builder", "builder-dockercfg-abc12"))
	ctx := context.Background()
	account, err := linker.get(ctx, "builder")
	if err != nil {
		t.Fatalf("get: %v", err)
	}

	conflicts := 0
	client.PrependReactor("update", "serviceaccounts",
		func(clienttesting.Action) (bool, runtime.Object, error) {
			if conflicts > 0 {
				return false, nil, nil
			}
			conflicts++
			rotated := serviceAccount("builder", "builder-dockercfg-xyz98")
			if err := client.Tracker().Update(
				corev1.SchemeGroupVersion.WithResource("serviceaccounts"), rotated,
				"team-a", metav1.UpdateOptions{}); err != nil {
				t.Errorf("rotating the OpenShift entry: %v", err)
			}
			return true, nil, apierrors.NewConflict(
				schema.GroupResource{Resource: "serviceaccounts"}, "builder", nil)
		})

	if err := linker.link(ctx, account); err != nil {
		t.Fatalf("link: %v", err)
	}

	expected := []string{"builder-dockercfg-xyz98", "registry"}
	if got := storedPullSecrets(t, client, "builder"); !reflect.DeepEqual(got, expected) {
		t.Errorf("imagePullSecrets = %q, expected %q", got, expected)
	}
	expectedVerbs := []string{"get", "update", "get", "update", "get"}
	if verbs := actionVerbs(client); !reflect.DeepEqual(verbs, expectedVerbs) {
		t.Errorf("API calls = %q, expected %q", verbs, expectedVerbs)
	}
}

func TestServiceAccountLinkerUnlinkKeepsOtherEntries(t *testing.T) {
	client, linker := newLinkerFixture(t,
		serviceAccount("builder", "builder-dockercfg-abc12", "registry", "team-secret"))

	if err := linker.unlink(context.Background(), "builder"); err != nil {
		t.Fatalf("unlink: %v", err)
	}

	expected := []string{"builder-dockercfg-abc12", "team-secret"}
	if got := storedPullSecrets(t, client, "builder"); !reflect.DeepEqual(got, expected) {
		t.Errorf("imagePullSecrets = %q, expected %q", got, expected)
	}
	if verbs := actionVerbs(client); !reflect.DeepEqual(verbs, []string{"get", "update", "get"}) {
		t.Errorf("API calls = %q, expected get, update (and the test's get)", verbs)
	}
}

func TestServiceAccountLinkerUnlinkMissingAccount(t *testing.T) {
	_, linker := newLinkerFixture(t)

	if err := linker.unlink(context.Background(), "gone"); err != nil {
		t.Errorf("unlink of a missing service account = %v, expected no error", err)
	}
}

func TestServiceAccountLinkerLinkedAccounts(t *testing.T) {
	_, linker := newLinkerFixture(t,
		serviceAccount("linked", "builder-dockercfg-abc12", "registry"),
		serviceAccount("unlinked", "builder-dockercfg-abc12"))

	linked, err := linker.linkedAccounts(context.Background(),
		[]string{"linked", "unlinked", "deleted"})
	if err != nil {
		t.Fatalf("linkedAccounts: %v", err)
	}

	if !reflect.DeepEqual(linked, []string{"linked"}) {
		t.Errorf("linked accounts = %q, expected [linked]", linked)
	}
}

func TestServiceAccountLinkerLinkedAccountsForbidden(t *testing.T) {
	client, linker := newLinkerFixture(t, serviceAccount("builder"))
	client.PrependReactor("get", "serviceaccounts",
		func(clienttesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewForbidden(
				schema.GroupResource{Resource: "serviceaccounts"}, "builder", nil)
		})

	_, err := linker.linkedAccounts(context.Background(), []string{"builder"})

	if !apierrors.IsForbidden(err) {
		t.Errorf("error = %v, expected the 403 to be returned so state is kept", err)
	}
}

// pathNotFound is the error client-go returns for a 404 response that is not a Kubernetes
// Status, such as kube-apiserver's response for a path it does not serve.
func pathNotFound(verb, resource, name string) error {
	return apierrors.NewGenericServerResponse(http.StatusNotFound, verb,
		corev1.Resource(resource), name, "404 page not found", 0, true)
}

func TestServiceAccountLinkerPathNotFound(t *testing.T) {
	cases := []struct {
		name string
		verb string
		call func(serviceAccountLinker) error
	}{
		{"unlink get", "get", func(linker serviceAccountLinker) error {
			return linker.unlink(context.Background(), "builder")
		}},
		{"unlink update", "update", func(linker serviceAccountLinker) error {
			return linker.unlink(context.Background(), "builder")
		}},
		{"linked accounts", "get", func(linker serviceAccountLinker) error {
			_, err := linker.linkedAccounts(context.Background(), []string{"builder"})
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			client, linker := newLinkerFixture(t, serviceAccount("builder", "registry"))
			client.PrependReactor(tc.verb, "serviceaccounts",
				func(clienttesting.Action) (bool, runtime.Object, error) {
					return true, nil, pathNotFound(tc.verb, "serviceaccounts", "builder")
				})

			err := tc.call(linker)

			if !apierrors.IsNotFound(err) {
				t.Errorf("error = %v, expected the 404 to be returned, because it does not "+
					"say that the service account is gone", err)
			}
		})
	}
}

// TestServiceAccountLinkerSerializesUpdates links eight secrets to one account from eight
// goroutines, each with the account as fetched before any link, against an API that rejects
// stale versions as the API server does. Each link must take one update and no conflict.
func TestServiceAccountLinkerSerializesUpdates(t *testing.T) {
	client, _ := newLinkerFixture(t, serviceAccount("builder", "builder-dockercfg-abc12"))
	ctx := context.Background()
	var versionMutex sync.Mutex
	version := 1
	conflicts := 0
	client.PrependReactor("update", "serviceaccounts",
		func(action clienttesting.Action) (bool, runtime.Object, error) {
			versionMutex.Lock()
			defer versionMutex.Unlock()
			account := action.(clienttesting.UpdateAction).GetObject().(*corev1.ServiceAccount)
			if account.ResourceVersion != strconv.Itoa(version) {
				conflicts++
				return true, nil, apierrors.NewConflict(
					schema.GroupResource{Resource: "serviceaccounts"}, account.Name, nil)
			}
			version++
			stored := account.DeepCopy()
			stored.ResourceVersion = strconv.Itoa(version)
			if err := client.Tracker().Update(
				corev1.SchemeGroupVersion.WithResource("serviceaccounts"), stored,
				"team-a", metav1.UpdateOptions{}); err != nil {
				return true, nil, err
			}
			return true, stored, nil
		})
	stale, err := client.CoreV1().ServiceAccounts("team-a").Get(ctx, "builder",
		metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	var links sync.WaitGroup
	for i := range 8 {
		linker := newServiceAccountLinker(client, "team-a", fmt.Sprintf("secret-%d", i))
		links.Go(func() {
			if err := linker.link(ctx, stale.DeepCopy()); err != nil {
				t.Errorf("link %d: %v", i, err)
			}
		})
	}
	links.Wait()

	if got := storedPullSecrets(t, client, "builder"); len(got) != 9 {
		t.Errorf("imagePullSecrets = %q, want the OpenShift entry and 8 secrets", got)
	}
	// Only the first link finds its copy current. The later ones start from the version
	// that the previous update returned.
	if conflicts > 0 {
		t.Errorf("links met %d conflicts, want none", conflicts)
	}
}
