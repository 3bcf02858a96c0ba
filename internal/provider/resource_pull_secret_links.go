package provider

import (
	"context"
	"slices"
	"sort"
	"sync"

	"github.com/hashicorp/terraform-plugin-log/tflog"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/util/retry"

	"github.com/imagedist/terraform-provider-imagedist/internal/kubeerrors"
)

// appendPullSecretReference returns references with a reference to secret added at the end,
// and whether anything changed. A list that already refers to secret is returned as it is,
// so other controllers' entries, such as OpenShift's "<sa>-dockercfg-*", keep their places.
func appendPullSecretReference(references []corev1.LocalObjectReference, secret string) (
	[]corev1.LocalObjectReference, bool) {
	if hasPullSecretReference(references, secret) {
		return references, false
	}
	updated := make([]corev1.LocalObjectReference, 0, len(references)+1)
	updated = append(updated, references...)
	return append(updated, corev1.LocalObjectReference{Name: secret}), true
}

// removePullSecretReference returns references without any reference to secret, in the same
// order, and whether anything changed.
func removePullSecretReference(references []corev1.LocalObjectReference, secret string) (
	[]corev1.LocalObjectReference, bool) {
	if !hasPullSecretReference(references, secret) {
		return references, false
	}
	var updated []corev1.LocalObjectReference
	for _, reference := range references {
		if reference.Name != secret {
			updated = append(updated, reference)
		}
	}
	return updated, true
}

func hasPullSecretReference(references []corev1.LocalObjectReference, secret string) bool {
	for _, reference := range references {
		if reference.Name == secret {
			return true
		}
	}
	return false
}

// serviceAccountLinker adds and removes one secret's entry in the imagePullSecrets of
// service accounts in the secret's namespace, as `oc secrets link --for=pull` does. Each
// change is one GET and one UPDATE with the fetched resourceVersion, repeated only on a
// conflict, so a concurrent change by another controller is never overwritten.
type serviceAccountLinker struct {
	client    kubernetes.Interface
	accounts  corev1client.ServiceAccountInterface
	namespace string
	secret    string
}

func newServiceAccountLinker(client kubernetes.Interface, namespace, secret string,
) serviceAccountLinker {
	return serviceAccountLinker{
		client:    client,
		accounts:  client.CoreV1().ServiceAccounts(namespace),
		namespace: namespace,
		secret:    secret,
	}
}

func (l serviceAccountLinker) get(ctx context.Context, account string) (
	*corev1.ServiceAccount, error) {
	tflog.Debug(ctx, "Reading service account", map[string]any{
		"namespace": l.namespace, "service_account": account,
	})
	return l.accounts.Get(ctx, account, metav1.GetOptions{})
}

// link adds the secret to a service account fetched with get.
func (l serviceAccountLinker) link(ctx context.Context, account *corev1.ServiceAccount) error {
	changed, err := l.update(ctx, account, appendPullSecretReference)
	if err == nil && changed {
		tflog.Info(ctx, "Linked pull secret to service account", map[string]any{
			"namespace": l.namespace, "name": l.secret, "service_account": account.Name,
		})
	}
	return err
}

// unlink removes the secret from a service account. A service account that no longer exists
// refers to nothing, so it counts as unlinked. Any other 404 is returned.
func (l serviceAccountLinker) unlink(ctx context.Context, name string) error {
	account, err := l.get(ctx, name)
	if kubeerrors.IsObjectNotFound(err, serviceAccountsResource, name) {
		return nil
	}
	if err != nil {
		return err
	}

	changed, err := l.update(ctx, account, removePullSecretReference)
	if kubeerrors.IsObjectNotFound(err, serviceAccountsResource, name) {
		return nil
	}
	if err == nil && changed {
		tflog.Info(ctx, "Unlinked pull secret from service account", map[string]any{
			"namespace": l.namespace, "name": l.secret, "service_account": name,
		})
	}
	return err
}

// update applies change to the account's imagePullSecrets and sends the result, unless it
// changed nothing. On a conflict it fetches the account again and repeats.
//
// Updates of one account from this process go one at a time. Each starts from the version
// that the previous one returned, when there is one. Otherwise the pull secrets of one apply
// that link the same account would mostly send stale versions and meet conflicts.
func (l serviceAccountLinker) update(
	ctx context.Context, account *corev1.ServiceAccount,
	change func([]corev1.LocalObjectReference, string) ([]corev1.LocalObjectReference, bool),
) (bool, error) {
	entry := serviceAccountUpdates.lock(accountKey{client: l.client,
		namespace: l.namespace, name: account.Name})
	defer entry.mutex.Unlock()

	current := account
	if entry.latest != nil {
		current = entry.latest
	}
	changed := false
	err := retry.RetryOnConflict(conflictBackoff, func() error {
		if current == nil {
			fresh, err := l.get(ctx, account.Name)
			if err != nil {
				return err
			}
			current = fresh
		}

		references, needed := change(current.ImagePullSecrets, l.secret)
		changed = needed
		if !needed {
			return nil
		}
		updated := current.DeepCopy()
		updated.ImagePullSecrets = references
		current = nil

		tflog.Debug(ctx, "Updating service account image pull secrets", map[string]any{
			"namespace": l.namespace, "service_account": account.Name, "name": l.secret,
		})
		result, err := l.accounts.Update(ctx, updated, metav1.UpdateOptions{})
		if err == nil {
			entry.latest = result
		}
		return err
	})
	return changed, err
}

// serviceAccountUpdates serializes this process's updates of each service account.
var serviceAccountUpdates = &accountUpdates{entries: map[accountKey]*accountUpdate{}}

// accountKey names a service account of the cluster that a client talks to, because the
// provider configurations of one run may point at different clusters.
type accountKey struct {
	client          kubernetes.Interface
	namespace, name string
}

// accountUpdates holds one accountUpdate per service account. Entries stay for the life of
// the process, which serves one Terraform operation.
type accountUpdates struct {
	mutex   sync.Mutex
	entries map[accountKey]*accountUpdate
}

// accountUpdate is the lock of one service account and the version its last update returned.
type accountUpdate struct {
	mutex  sync.Mutex
	latest *corev1.ServiceAccount
}

// lock returns the entry of key with its mutex locked.
func (u *accountUpdates) lock(key accountKey) *accountUpdate {
	u.mutex.Lock()
	entry, ok := u.entries[key]
	if !ok {
		entry = &accountUpdate{}
		u.entries[key] = entry
	}
	u.mutex.Unlock()
	entry.mutex.Lock()
	return entry
}

// linkedAccounts returns those of the given accounts that still refer to the secret. An
// account that no longer exists is left out, so the next plan links it again and reports
// it missing. Any other 404 is returned.
func (l serviceAccountLinker) linkedAccounts(ctx context.Context, names []string) (
	[]string, error) {
	var linked []string
	for _, name := range names {
		account, err := l.get(ctx, name)
		if kubeerrors.IsObjectNotFound(err, serviceAccountsResource, name) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if hasPullSecretReference(account.ImagePullSecrets, l.secret) {
			linked = append(linked, name)
		}
	}
	return linked, nil
}

// accountsNotIn returns the names in a that are not in b, sorted.
func accountsNotIn(a, b []string) []string {
	var difference []string
	for _, name := range a {
		if !slices.Contains(b, name) {
			difference = append(difference, name)
		}
	}
	sort.Strings(difference)
	return difference
}

// accountsIn returns the names in both a and b, sorted.
func accountsIn(a, b []string) []string {
	var intersection []string
	for _, name := range a {
		if slices.Contains(b, name) {
			intersection = append(intersection, name)
		}
	}
	sort.Strings(intersection)
	return intersection
}
