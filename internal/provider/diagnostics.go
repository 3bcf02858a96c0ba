package provider

import (
	"encoding/base64"
	"regexp"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"

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
	forms := make([]string, 0, 2*len(credentials))
	for _, credential := range credentials {
		forms = append(forms, credential,
			base64.StdEncoding.EncodeToString([]byte(credential)))
	}
	text = registry.RedactCredentials(text, forms...)

	text = credentialField.ReplaceAllString(text, "${1}"+redactedText)
	if len(credentials) > 0 {
		text = base64Run.ReplaceAllString(text, redactedText)
	}
	return text
}

// redactSecretData is redact that removes every long base64 run even when no credential is
// given, for messages about a Secret whose data holds credentials the provider does not know,
// such as the other entries of the global pull secret.
func redactSecretData(text string, credentials ...string) string {
	return base64Run.ReplaceAllString(redact(text, credentials...), redactedText)
}

// addAPIError reports a failed cluster call. The summary names the failed operation, the
// detail names the object and what to do, and the API error follows on its own line without
// the given credentials.
func addAPIError(diags *diag.Diagnostics, summary, detail string, err error, credentials ...string) {
	diags.AddError(summary, detail+"\n\n"+redact(err.Error(), credentials...))
}

// addAttributeAPIError is addAPIError for a failure that one attribute is to blame for, such as
// a service account that does not exist.
func addAttributeAPIError(diags *diag.Diagnostics, attribute path.Path, summary, detail string,
	err error, credentials ...string) {
	diags.AddAttributeError(attribute, summary, detail+"\n\n"+redact(err.Error(), credentials...))
}

// addClientError reports that no client could be built for an operation that needs the cluster.
func addClientError(diags *diag.Diagnostics, err error) {
	diags.AddError("Unable to Connect to the Cluster",
		"The provider needs the cluster for this operation but could not build a client from "+
			"its configuration. Check the provider block and the KUBE_* environment variables.\n\n"+
			err.Error())
}
