package testcluster

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

// Environment variables of the least-privilege mode of RunTests.
const (
	// EnvIdentity selects the identity of the provider under test. Empty runs it as the
	// cluster admin. IdentityLeastPrivilege runs it as a service account bound only to the
	// roles in examples/rbac.
	EnvIdentity = "IMAGEDIST_ACC_IDENTITY"

	// EnvAdminKubeconfig is an admin kubeconfig that RESTConfigFromEnv prefers to
	// KUBE_CONFIG_PATH, so that test checks keep acting as admin while the provider does not.
	EnvAdminKubeconfig = "IMAGEDIST_ACC_ADMIN_KUBECONFIG"
)

// IdentityLeastPrivilege is the EnvIdentity value of the least-privilege mode.
const IdentityLeastPrivilege = "least-privilege"

// The service account that the least-privilege mode creates, and the kubeconfig context that
// authenticates as it.
const (
	LeastPrivilegeNamespace      = "imagedist-acc-identity"
	LeastPrivilegeServiceAccount = "imagedist-provider"
	LeastPrivilegeContext        = "imagedist-least-privilege"
)

// RBACExamplesDir is the directory, relative to the module root, of the ClusterRole and Roles
// that the documentation ships.
const RBACExamplesDir = "examples/rbac"

// identityTokenLifetime is the lifetime of the token that CreateIdentity requests. It outlasts
// the longest acceptance run that tools/run-tests.sh allows by default (40 minutes).
const identityTokenLifetime = 6 * time.Hour

// identityBindTimeout bounds WaitUntilAllowed.
const identityBindTimeout = 30 * time.Second

// Identity is a service account and the roles to bind to it.
type Identity struct {
	// Namespace of the service account. CreateIdentity creates it when missing.
	Namespace string
	// ServiceAccount is the account's name.
	ServiceAccount string
	// ClusterRoles are created and each bound with a ClusterRoleBinding (see bindingName).
	ClusterRoles []rbacv1.ClusterRole
	// Roles are created in their own namespaces and each bound with a RoleBinding there.
	Roles []rbacv1.Role
}

// LeastPrivilege reports whether RunTests runs the provider as the least-privilege service
// account, so that a test which depends on the provider's identity can adapt.
func LeastPrivilege() bool {
	return os.Getenv(EnvIdentity) == IdentityLeastPrivilege && os.Getenv(EnvAdminKubeconfig) != ""
}

// ReadRBACExamples reads every *.yaml file in dir and returns the ClusterRoles and Roles in
// them, in file order. Any other kind is an error, so that a shipped file is never silently
// left out of the tests.
func ReadRBACExamples(dir string) ([]rbacv1.ClusterRole, []rbacv1.Role, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, nil, err
	}
	if len(paths) == 0 {
		return nil, nil, fmt.Errorf("no *.yaml file in %s", dir)
	}
	sort.Strings(paths)

	var clusterRoles []rbacv1.ClusterRole
	var roles []rbacv1.Role
	for _, path := range paths {
		documents, err := readYAMLDocuments(path)
		if err != nil {
			return nil, nil, err
		}
		for _, document := range documents {
			var meta metav1.TypeMeta
			if err := yaml.Unmarshal(document, &meta); err != nil {
				return nil, nil, fmt.Errorf("parsing %s: %w", path, err)
			}

			switch meta.Kind {
			case "ClusterRole":
				var role rbacv1.ClusterRole
				if err := yaml.UnmarshalStrict(document, &role); err != nil {
					return nil, nil, fmt.Errorf("parsing the ClusterRole in %s: %w", path, err)
				}
				clusterRoles = append(clusterRoles, role)
			case "Role":
				var role rbacv1.Role
				if err := yaml.UnmarshalStrict(document, &role); err != nil {
					return nil, nil, fmt.Errorf("parsing the Role in %s: %w", path, err)
				}
				if role.Namespace == "" {
					return nil, nil, fmt.Errorf("the Role %s in %s has no namespace", role.Name,
						path)
				}
				roles = append(roles, role)
			default:
				return nil, nil, fmt.Errorf("%s contains a %q, but only ClusterRole and Role "+
					"are supported", path, meta.Kind)
			}
		}
	}
	return clusterRoles, roles, nil
}

// readYAMLDocuments splits a YAML file into its documents, skipping empty ones.
func readYAMLDocuments(path string) ([][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}

	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var documents [][]byte
	for {
		document, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return documents, nil
		}
		if err != nil {
			return nil, fmt.Errorf("splitting %s into documents: %w", path, err)
		}

		var object map[string]any
		if err := yaml.Unmarshal(document, &object); err != nil {
			return nil, fmt.Errorf("parsing %s: %w", path, err)
		}
		if len(object) > 0 {
			documents = append(documents, document)
		}
	}
}

// CreateIdentity creates the service account and its roles and bindings through the admin
// configuration, requests a token with the TokenRequest API and writes a kubeconfig to path
// that authenticates with it, with the context LeastPrivilegeContext. It returns once the
// authorizer grants the first rule of each role.
func CreateIdentity(ctx context.Context, admin *rest.Config, identity Identity, path string) error {
	client, err := kubernetes.NewForConfig(admin)
	if err != nil {
		return fmt.Errorf("building a client for %s: %w", admin.Host, err)
	}

	if err := CreateNamespace(ctx, client, identity.Namespace, nil); err != nil {
		return err
	}
	account := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: identity.ServiceAccount}}
	_, err = client.CoreV1().ServiceAccounts(identity.Namespace).
		Create(ctx, account, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating ServiceAccount %s/%s: %w", identity.Namespace,
			identity.ServiceAccount, err)
	}

	if err := bindRoles(ctx, client, identity); err != nil {
		return err
	}

	token, err := client.CoreV1().ServiceAccounts(identity.Namespace).CreateToken(ctx,
		identity.ServiceAccount, &authenticationv1.TokenRequest{
			Spec: authenticationv1.TokenRequestSpec{
				ExpirationSeconds: ptr.To(int64(identityTokenLifetime.Seconds())),
			},
		}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("requesting a token for ServiceAccount %s/%s: %w", identity.Namespace,
			identity.ServiceAccount, err)
	}

	if err := writeTokenKubeconfig(path, admin, token.Status.Token); err != nil {
		return err
	}
	return waitForGrants(ctx, path, identity)
}

// bindRoles creates the identity's roles, or updates the rules of existing ones, and binds
// each to the service account.
func bindRoles(ctx context.Context, client kubernetes.Interface, identity Identity) error {
	subjects := []rbacv1.Subject{{
		Kind: rbacv1.ServiceAccountKind, Name: identity.ServiceAccount,
		Namespace: identity.Namespace,
	}}

	for _, role := range identity.ClusterRoles {
		if err := applyClusterRole(ctx, client, role); err != nil {
			return err
		}
		name := identity.bindingName(role.Name)
		binding := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole",
				Name: role.Name},
			Subjects: subjects,
		}
		_, err := client.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating ClusterRoleBinding %s: %w", name, err)
		}
	}

	for _, role := range identity.Roles {
		if err := applyRole(ctx, client, role); err != nil {
			return err
		}
		name := identity.bindingName(role.Name)
		binding := &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: role.Namespace},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
			Subjects:   subjects,
		}
		_, err := client.RbacV1().RoleBindings(role.Namespace).
			Create(ctx, binding, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating RoleBinding %s/%s: %w", role.Namespace, name, err)
		}
	}
	return nil
}

// bindingName returns the name of the binding of a role to the identity. It names the
// account too, so that two identities bound to one role get a binding each.
func (identity Identity) bindingName(role string) string {
	return role + ":" + identity.Namespace + ":" + identity.ServiceAccount
}

// ClusterRoleBindingName returns the name of the ClusterRoleBinding that CreateIdentity
// creates for a ClusterRole, so that a test can delete it.
func (identity Identity) ClusterRoleBindingName(role string) string {
	return identity.bindingName(role)
}

func applyClusterRole(ctx context.Context, client kubernetes.Interface,
	role rbacv1.ClusterRole) error {
	roles := client.RbacV1().ClusterRoles()
	_, err := roles.Create(ctx, &role, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		existing, getErr := roles.Get(ctx, role.Name, metav1.GetOptions{})
		if getErr != nil {
			return fmt.Errorf("reading ClusterRole %s: %w", role.Name, getErr)
		}
		existing.Rules = role.Rules
		_, err = roles.Update(ctx, existing, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("creating ClusterRole %s: %w", role.Name, err)
	}
	return nil
}

func applyRole(ctx context.Context, client kubernetes.Interface, role rbacv1.Role) error {
	roles := client.RbacV1().Roles(role.Namespace)
	_, err := roles.Create(ctx, &role, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		existing, getErr := roles.Get(ctx, role.Name, metav1.GetOptions{})
		if getErr != nil {
			return fmt.Errorf("reading Role %s/%s: %w", role.Namespace, role.Name, getErr)
		}
		existing.Rules = role.Rules
		_, err = roles.Update(ctx, existing, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("creating Role %s/%s: %w", role.Namespace, role.Name, err)
	}
	return nil
}

// writeTokenKubeconfig writes a kubeconfig for the admin configuration's server and CA that
// authenticates with a bearer token.
func writeTokenKubeconfig(path string, admin *rest.Config, token string) error {
	caData := admin.CAData
	if len(caData) == 0 && admin.CAFile != "" {
		var err error
		if caData, err = os.ReadFile(admin.CAFile); err != nil {
			return fmt.Errorf("reading the cluster CA: %w", err)
		}
	}

	config := clientcmdapi.NewConfig()
	config.Clusters[LeastPrivilegeContext] = &clientcmdapi.Cluster{
		Server:                   admin.Host,
		CertificateAuthorityData: caData,
	}
	config.AuthInfos[LeastPrivilegeContext] = &clientcmdapi.AuthInfo{Token: token}
	config.Contexts[LeastPrivilegeContext] = &clientcmdapi.Context{
		Cluster:  LeastPrivilegeContext,
		AuthInfo: LeastPrivilegeContext,
	}
	config.CurrentContext = LeastPrivilegeContext

	if err := clientcmd.WriteToFile(*config, path); err != nil {
		return fmt.Errorf("writing kubeconfig %s: %w", path, err)
	}
	return nil
}

// waitForGrants waits until the authorizer allows the first verb of the first rule of each
// role to the identity, because the API server applies new bindings asynchronously.
func waitForGrants(ctx context.Context, kubeconfig string, identity Identity) error {
	var checks []authorizationv1.ResourceAttributes
	for _, role := range identity.ClusterRoles {
		if attributes, ok := firstRuleAttributes(role.Rules, ""); ok {
			checks = append(checks, attributes)
		}
	}
	for _, role := range identity.Roles {
		if attributes, ok := firstRuleAttributes(role.Rules, role.Namespace); ok {
			checks = append(checks, attributes)
		}
	}

	for _, attributes := range checks {
		if err := WaitUntilAllowed(ctx, kubeconfig, attributes); err != nil {
			return fmt.Errorf("ServiceAccount %s/%s: %w", identity.Namespace,
				identity.ServiceAccount, err)
		}
	}
	return nil
}

// WaitUntilAllowed waits up to 30 seconds until the authorizer allows a request with the
// given attributes to the user of a kubeconfig, as a SelfSubjectAccessReview reports it.
// A new or changed role or binding takes effect a moment after the API server stores it.
func WaitUntilAllowed(ctx context.Context, kubeconfig string,
	attributes authorizationv1.ResourceAttributes) error {
	config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("loading %s: %w", kubeconfig, err)
	}
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(ctx, identityBindTimeout)
	defer cancel()
	review := &authorizationv1.SelfSubjectAccessReview{
		Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &attributes},
	}
	err = wait.PollUntilContextCancel(ctx, pollInterval, true,
		func(ctx context.Context) (bool, error) {
			result, err := client.AuthorizationV1().SelfSubjectAccessReviews().
				Create(ctx, review, metav1.CreateOptions{})
			if err != nil {
				return false, nil
			}
			return result.Status.Allowed, nil
		})
	if err != nil {
		return fmt.Errorf("still may not %s %s in API group %q: %w", attributes.Verb,
			attributes.Resource, attributes.Group, err)
	}
	return nil
}

// firstRuleAttributes returns the access review attributes of the first verb of the first
// rule that names a resource.
func firstRuleAttributes(rules []rbacv1.PolicyRule, namespace string) (
	authorizationv1.ResourceAttributes, bool) {
	for _, rule := range rules {
		if len(rule.Verbs) == 0 || len(rule.Resources) == 0 || len(rule.APIGroups) == 0 {
			continue
		}
		attributes := authorizationv1.ResourceAttributes{
			Namespace: namespace,
			Verb:      rule.Verbs[0],
			Group:     rule.APIGroups[0],
			Resource:  rule.Resources[0],
		}
		if len(rule.ResourceNames) > 0 {
			attributes.Name = rule.ResourceNames[0]
		}
		return attributes, true
	}
	return authorizationv1.ResourceAttributes{}, false
}

// setUpLeastPrivilege creates the least-privilege service account with the roles in
// examples/rbac and writes its kubeconfig into the cluster directory. It returns the
// kubeconfig's path.
func setUpLeastPrivilege(ctx context.Context, cluster *Cluster) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	clusterRoles, roles, err := ReadRBACExamples(filepath.Join(root, RBACExamplesDir))
	if err != nil {
		return "", err
	}

	path := filepath.Join(cluster.Dir, "least-privilege.kubeconfig")
	identity := Identity{
		Namespace:      LeastPrivilegeNamespace,
		ServiceAccount: LeastPrivilegeServiceAccount,
		ClusterRoles:   clusterRoles,
		Roles:          roles,
	}
	if err := CreateIdentity(ctx, cluster.config, identity, path); err != nil {
		return "", err
	}
	return path, nil
}
