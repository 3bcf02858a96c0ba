package provider

import (
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/imagedist/terraform-provider-imagedist/internal/registry"
)

const redactedText = registry.RedactedText

var (
	// credentialField matches the value of a docker config credential field quoted in a
	// message, escaped or not, including a value cut off by truncation.
	credentialField = regexp.MustCompile(
		`((?:\\?")(?:password|auth|identitytoken|registrytoken)(?:\\?")\s*:\s*(?:\\?"))` +
			`(?:[^"\\]|\\.)*`)

	// base64Run matches a run of base64 long enough to hide a credential. A Secret's data is
	// base64 in API objects, and a credential inside it lands at any offset of the encoding,
	// so no fixed string can find it.
	base64Run = regexp.MustCompile(`[A-Za-z0-9+/]{20,}={0,2}`)
)

// redact removes credentials from text, such as an API error that quotes the object that was
// sent. It replaces every given credential and its base64 form with
// registry.RedactCredentials, which keeps an occurrence inside a longer word such as
// "pull-secret". Then it replaces every quoted credential field of a docker config and, when
// credentials were given, every long base64 run.
func redact(text string, credentials ...string) string {
	text = registry.RedactCredentials(text, credentialForms(credentials)...)

	text = credentialField.ReplaceAllString(text, "${1}"+redactedText)
	if len(credentials) > 0 {
		text = base64Run.ReplaceAllString(text, redactedText)
	}
	return text
}

// credentialForms returns every credential and its base64 form.
func credentialForms(credentials []string) []string {
	forms := make([]string, 0, 2*len(credentials))
	for _, credential := range credentials {
		forms = append(forms, credential,
			base64.StdEncoding.EncodeToString([]byte(credential)))
	}
	return forms
}

// redactSecretData is redact that removes every long base64 run even when no credential is
// given, for messages about a Secret whose data holds credentials the provider does not know,
// such as the other entries of the global pull secret.
func redactSecretData(text string, credentials ...string) string {
	return base64Run.ReplaceAllString(redact(text, credentials...), redactedText)
}

// addAPIError reports a failed cluster call. The summary names the failed operation, the
// detail names the object and what to do, and the API error follows on its own line without
// the given credentials. When the authorizer denied the call, forbiddenAdvice comes before the
// API error.
func addAPIError(diags *diag.Diagnostics, summary, detail string, err error, credentials ...string) {
	diags.AddError(summary, apiErrorDetail(detail, err, credentials...))
}

// addAttributeAPIError is addAPIError for a failure that one attribute is to blame for, such as
// a service account that does not exist.
func addAttributeAPIError(diags *diag.Diagnostics, attribute path.Path, summary, detail string,
	err error, credentials ...string) {
	diags.AddAttributeError(attribute, summary, apiErrorDetail(detail, err, credentials...))
}

// addPermissionError is addAPIError for a 403 whose detail already names the rule to grant.
func addPermissionError(diags *diag.Diagnostics, summary, detail string, err error) {
	diags.AddError(summary, detail+"\n\n"+redact(err.Error()))
}

func apiErrorDetail(detail string, err error, credentials ...string) string {
	if advice := forbiddenAdvice(err); advice != "" {
		// The advice quotes parts of the server's message, which may quote what was sent.
		detail += "\n\n" + registry.RedactCredentials(advice, credentialForms(credentials)...)
	}
	return detail + "\n\n" + redact(err.Error(), credentials...)
}

// authorizerPrefix matches the start of the message that kube-apiserver sends when its
// authorizer denies a request: apierrors.NewForbidden's `<resource> "<name>" is forbidden: `
// or `forbidden: `, then `User "<name>" cannot `. It is anchored, so an admission webhook's
// denial, whose message starts `admission webhook "<name>" denied the request`, does not
// match even when it quotes an RBAC denial.
const authorizerPrefix = `^(?:\S+ (?:"(?:[^"\\]|\\.)*" )?is )?forbidden: User "(?:[^"\\]|\\.)*" `

var (
	// authorizerDenial matches the message that kube-apiserver sends when its authorizer
	// denies a request, such as `serviceaccounts "deployer" is forbidden: User "u" cannot
	// update resource "serviceaccounts" in API group "" in the namespace "apps"`. A 403 from
	// admission, such as an exceeded ResourceQuota, does not match. The lengths are those
	// that Kubernetes allows, so a crafted message cannot make the advice large.
	authorizerDenial = regexp.MustCompile(authorizerPrefix + `cannot ([a-z]{1,63}) ` +
		`resource "([^"]{1,253})" in API group "([^"]{0,253})"` +
		`(?: in the namespace "([^"]{1,63})")?`)

	// authorizerPathDenial matches the message for a denied request to a path that is not an
	// API resource, such as `forbidden: User "u" cannot get path "/k8s/api/v1/nodes"`. A host
	// with a wrong path prefix gets it where an identity with access to every path gets a 404.
	authorizerPathDenial = regexp.MustCompile(authorizerPrefix +
		`cannot ([a-z]{1,63}) path "([^"]{0,1000})"`)
)

// statusMessage returns the message of the API status in err's chain, without the text that
// wrapping errors put before it.
func statusMessage(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return status.Status().Message
	}
	return err.Error()
}

// isPathForbidden reports whether err is a 403 for a path that is not an API resource.
func isPathForbidden(err error) bool {
	return apierrors.IsForbidden(err) && authorizerPathDenial.MatchString(statusMessage(err))
}

// forbiddenAdvice returns what to do after the authorizer denied a request: the RBAC rule to
// grant and where the shipped ClusterRole is, or, for a path that is not an API resource, to
// check the host. It returns "" for any other error.
func forbiddenAdvice(err error) string {
	if !apierrors.IsForbidden(err) {
		return ""
	}
	message := statusMessage(err)
	if match := authorizerPathDenial.FindStringSubmatch(message); match != nil {
		return fmt.Sprintf("The API server denied the request for path %q, which is not the "+
			"path of an API resource. Check that `host` in the provider configuration (or the "+
			"server of the kubeconfig context) is the address of the Kubernetes API server, "+
			"with no path prefix such as \"/k8s\" unless a proxy at that address serves the "+
			"API under it.", match[2])
	}
	match := authorizerDenial.FindStringSubmatch(message)
	if match == nil {
		return ""
	}
	verb, resource, group, namespace := match[1], match[2], match[3], match[4]

	rule := fmt.Sprintf("apiGroups [%q], resources [%q], verbs [%q]", group, resource, verb)
	binding := "through a ClusterRoleBinding"
	scope := "at the cluster scope"
	if namespace != "" {
		scope = fmt.Sprintf("in namespace %q", namespace)
		binding = fmt.Sprintf("through a RoleBinding in namespace %q, which covers that "+
			"namespace, or a ClusterRoleBinding, which covers every namespace,", namespace)
	}
	return fmt.Sprintf("The provider's credentials may not %s %s %s. Grant a role with the "+
		"rule %s %s to the user or service account that runs Terraform. The ClusterRole "+
		"%s in the provider's repository has every rule that the provider uses.",
		verb, resource, scope, rule, binding, shippedClusterRole)
}

// shippedClusterRole is the path, in the provider's repository, of the ClusterRole that the
// documentation ships.
const shippedClusterRole = "examples/rbac/clusterrole.yaml"

// addClientError reports that no client could be built for an operation that needs the cluster.
func addClientError(diags *diag.Diagnostics, err error) {
	diags.AddError("Unable to Connect to the Cluster",
		"The provider needs the cluster for this operation but could not build a client from "+
			"its configuration. Check the provider block and the KUBE_* environment variables.\n\n"+
			err.Error())
}
