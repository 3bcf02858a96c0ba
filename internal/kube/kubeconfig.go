package kube

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// pathAttribute is the attribute that problems with kubeconfig files are reported on. Config
// merges config_path and config_paths, so one path is taken to come from config_path.
func (c Config) pathAttribute() string {
	if len(c.ConfigPaths) == 1 {
		return AttributeConfigPath
	}
	return AttributeConfigPaths
}

// loadKubeconfig reads and merges the kubeconfig files with client-go's loading rules and
// checks that the context, user and cluster they select exist.
func (c Config) loadKubeconfig(secrets *redactor) (base, []SettingError) {
	attribute := c.pathAttribute()
	paths, problems := expandPaths(c.ConfigPaths, attribute)
	for _, path := range paths {
		problems = append(problems, checkKubeconfigFile(path, attribute)...)
	}
	if len(problems) > 0 {
		return base{}, problems
	}

	// ExplicitPath makes client-go fail on a missing file, while Precedence would skip it.
	// The files were all read above, so the two differ only if one vanished since.
	rules := &clientcmd.ClientConfigLoadingRules{}
	if len(paths) == 1 {
		rules.ExplicitPath = paths[0]
	} else {
		rules.Precedence = paths
	}
	merged, err := rules.Load()
	if err != nil {
		return base{}, []SettingError{{
			Attribute: attribute,
			Summary:   "Invalid Kubeconfig File",
			Detail: fmt.Sprintf("Loading %s failed: %s.", describePaths(paths),
				withoutQuotedText(err.Error())),
		}}
	}
	addKubeconfigSecrets(secrets, merged)

	selection := c.selectFrom(merged, describePaths(paths))
	if len(selection.problems) > 0 {
		return base{}, selection.problems
	}
	if c.hasExplicitCredentials() {
		dropUserCredentials(merged, selection.user)
	}
	return base{config: *merged, access: rules, attribute: attribute}, nil
}

func expandPaths(paths []string, attribute string) ([]string, []SettingError) {
	var expanded []string
	var problems []SettingError
	for _, path := range paths {
		result, reason := expandHome(path)
		if reason != "" {
			problems = append(problems, SettingError{
				Attribute: attribute,
				Summary:   "Invalid Kubeconfig Path",
				Detail:    fmt.Sprintf("The kubeconfig path %q is invalid: %s.", path, reason),
			})
			continue
		}
		expanded = append(expanded, result)
	}
	return expanded, problems
}

// expandHome replaces a leading "~" with the user's home directory. The "~user" form is
// rejected rather than guessed at.
func expandHome(path string) (string, string) {
	switch {
	case path == "":
		return "", "it is empty"
	case path == "~":
		return homeDir()
	case strings.HasPrefix(path, "~/") || strings.HasPrefix(path, `~\`):
		home, reason := homeDir()
		if reason != "" {
			return "", reason
		}
		return filepath.Join(home, path[2:]), ""
	case strings.HasPrefix(path, "~"):
		return "", "only \"~\" or \"~/\" can start a path, not \"~user\""
	default:
		return path, ""
	}
}

func homeDir() (string, string) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Sprintf("\"~\" cannot be expanded (%v)", err)
	}
	return home, ""
}

// checkKubeconfigFile reads and decodes one file. Decoder messages can quote the file, and
// a kubeconfig holds credentials, so quoted text is removed from them.
func checkKubeconfigFile(path, attribute string) []SettingError {
	data, err := os.ReadFile(path)
	if err != nil {
		var pathErr *fs.PathError
		if errors.As(err, &pathErr) {
			err = pathErr.Err
		}
		return []SettingError{{
			Attribute: attribute,
			Summary:   "Unreadable Kubeconfig File",
			Detail: fmt.Sprintf("Cannot read kubeconfig file %s: %v. Check the path and "+
				"the file's permissions.", path, err),
		}}
	}

	if _, err := clientcmd.Load(data); err != nil {
		return []SettingError{{
			Attribute: attribute,
			Summary:   "Invalid Kubeconfig File",
			Detail: fmt.Sprintf("Kubeconfig file %s cannot be parsed: %s. Its content is "+
				"not shown because it can contain credentials.", path,
				withoutQuotedText(err.Error())),
		}}
	}
	return nil
}

// quotedText matches double-quoted, backquoted and single-quoted text. A single quoted
// character, as in "expected ',' or ']'", is kept because it only names a YAML token.
var quotedText = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|`[^`]*`|'[^']{2,}'")

func withoutQuotedText(message string) string {
	return quotedText.ReplaceAllString(message, `"…"`)
}

func describePaths(paths []string) string {
	if len(paths) == 1 {
		return "kubeconfig file " + paths[0]
	}
	return "kubeconfig files " + strings.Join(paths, ", ")
}

// addKubeconfigSecrets registers every credential in the kubeconfig for redaction.
func addKubeconfigSecrets(secrets *redactor, config *clientcmdapi.Config) {
	for _, user := range config.AuthInfos {
		secrets.add(user.Token, user.Password, string(user.ClientKeyData))
		if user.AuthProvider != nil {
			for _, value := range user.AuthProvider.Config {
				secrets.add(value)
			}
		}
		if user.Exec != nil {
			for _, env := range user.Exec.Env {
				secrets.add(env.Value)
			}
		}
	}
}

// selection is the result of resolving the kubeconfig selectors.
type selection struct {
	user     string // name of the kubeconfig user whose credentials are used, or ""
	problems []SettingError
}

// selectFrom resolves the context, user and cluster the way clientcmd does, and reports
// every reference to something that the merged kubeconfig does not define.
func (c Config) selectFrom(config *clientcmdapi.Config, files string) selection {
	contextName, fromAttribute := c.ConfigContext, true
	if contextName == "" {
		contextName, fromAttribute = config.CurrentContext, false
	}

	var context *clientcmdapi.Context
	if contextName != "" {
		context = config.Contexts[contextName]
		if context == nil {
			return selection{problems: []SettingError{
				unknownContext(config, contextName, fromAttribute, files),
			}}
		}
	}

	user, problems := c.selectUser(config, context, contextName, files)
	problems = append(problems, c.selectCluster(config, context, contextName, files)...)
	return selection{user: user, problems: problems}
}

func unknownContext(
	config *clientcmdapi.Config, name string, fromAttribute bool, files string,
) SettingError {
	detail := fmt.Sprintf("The context %q is not defined in %s. Defined contexts: %s.",
		name, files, listNames(config.Contexts))
	if !fromAttribute {
		detail = fmt.Sprintf("The current-context of %s is %q, which is not defined there. "+
			"Set config_context to one of: %s.", files, name, listNames(config.Contexts))
	}
	return SettingError{
		Attribute: AttributeConfigContext,
		Summary:   "Unknown Kubeconfig Context",
		Detail:    detail,
	}
}

func (c Config) selectUser(
	config *clientcmdapi.Config, context *clientcmdapi.Context, contextName, files string,
) (string, []SettingError) {
	if name := c.ConfigContextAuthInfo; name != "" {
		if config.AuthInfos[name] == nil {
			return "", []SettingError{{
				Attribute: AttributeConfigContextAuthInfo,
				Summary:   "Unknown Kubeconfig User",
				Detail: fmt.Sprintf("The user %q is not defined in %s. Defined users: %s.",
					name, files, listNames(config.AuthInfos)),
			}}
		}
		return name, nil
	}

	if context == nil || context.AuthInfo == "" {
		return "", nil
	}
	// Explicit credentials replace the user's, so a dangling reference does not matter.
	if config.AuthInfos[context.AuthInfo] == nil && !c.hasExplicitCredentials() {
		return "", []SettingError{{
			Attribute: AttributeConfigContextAuthInfo,
			Summary:   "Unknown Kubeconfig User",
			Detail: fmt.Sprintf("The context %q refers to the user %q, which is not defined "+
				"in %s, so requests would carry no credentials. Correct the kubeconfig, or "+
				"set config_context_auth_info to one of: %s.", contextName, context.AuthInfo,
				files, listNames(config.AuthInfos)),
		}}
	}
	return context.AuthInfo, nil
}

func (c Config) selectCluster(
	config *clientcmdapi.Config, context *clientcmdapi.Context, contextName, files string,
) []SettingError {
	name := c.ConfigContextCluster
	if name != "" && config.Clusters[name] == nil {
		return []SettingError{{
			Attribute: AttributeConfigContextCluster,
			Summary:   "Unknown Kubeconfig Cluster",
			Detail: fmt.Sprintf("The cluster %q is not defined in %s. Defined clusters: %s.",
				name, files, listNames(config.Clusters)),
		}}
	}
	if name == "" && context != nil {
		name = context.Cluster
	}
	// An explicit host replaces the cluster's server, so nothing below is needed.
	if c.Host != "" {
		return nil
	}

	cluster := config.Clusters[name]
	switch {
	case name == "" && context == nil:
		return []SettingError{noContextSelected(config, files)}
	case name == "":
		return []SettingError{{
			Attribute: AttributeConfigContext,
			Summary:   "Incomplete Kubeconfig Context",
			Detail: fmt.Sprintf("The context %q in %s names no cluster. Set "+
				"config_context_cluster to one of: %s, or set host.", contextName, files,
				listNames(config.Clusters)),
		}}
	case cluster == nil:
		return []SettingError{{
			Attribute: AttributeConfigContextCluster,
			Summary:   "Unknown Kubeconfig Cluster",
			Detail: fmt.Sprintf("The context %q refers to the cluster %q, which is not "+
				"defined in %s. Correct the kubeconfig, or set config_context_cluster to "+
				"one of: %s.", contextName, name, files, listNames(config.Clusters)),
		}}
	case cluster.Server == "":
		return []SettingError{{
			Attribute: AttributeHost,
			Summary:   "Missing Cluster Address",
			Detail: fmt.Sprintf("The cluster %q in %s has no server. Set its server in the "+
				"kubeconfig, or set host.", name, files),
		}}
	}
	return nil
}

func noContextSelected(config *clientcmdapi.Config, files string) SettingError {
	detail := fmt.Sprintf("%s sets no current-context, and config_context is not set. "+
		"Set config_context to one of: %s.", capitalize(files), listNames(config.Contexts))
	if len(config.Contexts) == 0 {
		detail = fmt.Sprintf("%s defines no contexts. Point config_path at a kubeconfig "+
			"that defines one, or set host.", capitalize(files))
	}
	return SettingError{
		Attribute: AttributeConfigContext,
		Summary:   "No Kubeconfig Context Selected",
		Detail:    detail,
	}
}

// dropUserCredentials removes the credentials of the selected kubeconfig user, so that the
// explicit ones replace them instead of being sent alongside. clientcmd would otherwise
// merge both, and, for example, send a kubeconfig client certificate with an explicit token.
// Impersonation settings are kept because they are not credentials.
func dropUserCredentials(config *clientcmdapi.Config, name string) {
	user := config.AuthInfos[name]
	if user == nil {
		return
	}
	stripped := user.DeepCopy()
	stripped.Token = ""
	stripped.TokenFile = ""
	stripped.ClientCertificate = ""
	stripped.ClientCertificateData = nil
	stripped.ClientKey = ""
	stripped.ClientKeyData = nil
	stripped.Username = ""
	stripped.Password = ""
	stripped.AuthProvider = nil
	stripped.Exec = nil
	config.AuthInfos[name] = stripped
}

// maxListedNames keeps messages readable for kubeconfigs with hundreds of contexts.
const maxListedNames = 20

func listNames[T any](items map[string]T) string {
	if len(items) == 0 {
		return "(none)"
	}
	names := make([]string, 0, len(items))
	for name := range items {
		names = append(names, fmt.Sprintf("%q", name))
	}
	sort.Strings(names)
	if len(names) > maxListedNames {
		extra := len(names) - maxListedNames
		return strings.Join(names[:maxListedNames], ", ") + fmt.Sprintf(" and %d more", extra)
	}
	return strings.Join(names, ", ")
}

func capitalize(text string) string {
	if text == "" {
		return text
	}
	return strings.ToUpper(text[:1]) + text[1:]
}
