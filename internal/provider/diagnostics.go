package provider

import (
	"encoding/base64"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
)

const redactedText = "(redacted)"

// redact replaces every credential, and its standard base64 form, in text. API errors can quote
// the object that was sent, and a Secret's data is a credential.
func redact(text string, credentials ...string) string {
	for _, credential := range credentials {
		if len(credential) < 3 {
			// Replacing one or two characters would mangle the message and hide nothing.
			continue
		}
		text = strings.ReplaceAll(text, credential, redactedText)
		encoded := base64.StdEncoding.EncodeToString([]byte(credential))
		text = strings.ReplaceAll(text, encoded, redactedText)
	}
	return text
}

// addAPIError reports a failed cluster call: the summary names the failed operation, detail
// says which object and what to do, and the API error follows on its own line with the given
// credentials removed.
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
