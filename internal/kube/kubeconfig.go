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

// kubeconfigFile is one parsed kubeconfig file.
type kubeconfigFile struct {
	path   string
	config *clientcmdapi.Config
}

// loadKubeconfig reads and merges the kubeconfig files, checks that the context, user and
// cluster they select exist, and checks the selected cluster and user.
//
// The paths follow kubectl's rules for the KUBECONFIG variable: empty elements are skipped,
// and so are files that do not exist, unless none of the files exists. A single path is
// different, like kubectl's --kubeconfig flag: its file must exist, so that a mistyped
// config_path is an error instead of an empty configuration.
func (c Config) loadKubeconfig(secrets *redactor) (base, []SettingError) {
	attribute := c.pathAttribute()
	paths, problems := expandPaths(c.ConfigPaths, attribute)
	if len(problems) > 0 {
		return base{}, problems
	}
	if len(paths) == 0 {
		return base{}, []SettingError{{
			Attribute: attribute,
			Summary:   "Invalid Kubeconfig Path",
			Detail: "Every kubeconfig path is empty. Set config_path to a kubeconfig file, " +
				"or remove the empty value.",
		}}
	}

	files, problems := readKubeconfigs(paths, attribute, secrets)
	if len(problems) > 0 {
		return base{}, problems
	}
	loaded := make([]string, len(files))
	for i, file := range files {
		loaded[i] = file.path
	}
	merged, err := mergeKubeconfigs(files)
	if err != nil {
		return base{}, []SettingError{{
			Attribute: attribute,
			Summary:   "Invalid Kubeconfig File",
			Detail: fmt.Sprintf("Loading %s failed: %s.", describePaths(loaded),
				withoutQuotedText(secrets.redact(err.Error()))),
		}}
	}

	selection := c.selectFrom(merged, describePaths(loaded))
	if len(selection.problems) > 0 {
		return base{}, selection.problems
	}
	if c.hasExplicitCredentials() {
		dropUserCredentials(merged, selection.user)
	}
	problems = c.checkResolved(resolvedSettings{
		attribute:   attribute,
		cluster:     merged.Clusters[selection.cluster],
		clusterName: fmt.Sprintf("cluster %q", selection.cluster),
		user:        merged.AuthInfos[selection.user],
		userName:    fmt.Sprintf("user %q", selection.user),
	}, secrets)
	if len(problems) > 0 {
		return base{}, problems
	}

	// The loading rules are only used to write refreshed auth-provider tokens back to the
	// file that defines the user, as kubectl does.
	rules := &clientcmd.ClientConfigLoadingRules{}
	if len(loaded) == 1 {
		rules.ExplicitPath = loaded[0]
	} else {
		rules.Precedence = loaded
	}
	start := base{config: *merged, access: rules, attribute: attribute}
	if cluster := merged.Clusters[selection.cluster]; cluster != nil {
		start.serverSource = fmt.Sprintf("the server of cluster %q in kubeconfig file %s",
			selection.cluster, cluster.LocationOfOrigin)
	}
	return start, nil
}

// expandPaths drops empty paths and expands "~" in the others.
func expandPaths(paths []string, attribute string) ([]string, []SettingError) {
	var expanded []string
	var problems []SettingError
	for _, path := range paths {
		if path == "" {
			continue
		}
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

// readKubeconfigs reads and parses each file once, skipping missing files when there are
// several paths, and registers the credentials of every file for redaction.
func readKubeconfigs(
	paths []string, attribute string, secrets *redactor,
) ([]kubeconfigFile, []SettingError) {
	var files []kubeconfigFile
	var missing []string
	var problems []SettingError
	for _, path := range paths {
		data, err := readFile(path)
		if err != nil && len(paths) > 1 && errors.Is(err, fs.ErrNotExist) {
			missing = append(missing, path)
			continue
		}
		if err != nil {
			problems = append(problems, unreadableKubeconfig(path, attribute, err))
			continue
		}
		config, problem := parseKubeconfig(path, data, attribute, secrets)
		if problem != nil {
			problems = append(problems, *problem)
			continue
		}
		addKubeconfigSecrets(secrets, config)
		files = append(files, kubeconfigFile{path: path, config: config})
	}

	if len(problems) == 0 && len(files) == 0 {
		problems = append(problems, SettingError{
			Attribute: attribute,
			Summary:   "Kubeconfig Files Not Found",
			Detail: fmt.Sprintf("None of the kubeconfig files exists: %s. Missing files in a "+
				"list are skipped, as kubectl skips them in KUBECONFIG, but at least one "+
				"file has to exist.", strings.Join(missing, ", ")),
		})
	}
	return files, problems
}

func unreadableKubeconfig(path, attribute string, err error) SettingError {
	advice := "Check the path and the file's permissions."
	if errors.Is(err, errNotRegularFile) {
		advice = "Set the path to a kubeconfig file."
	}
	return SettingError{
		Attribute: attribute,
		Summary:   "Unreadable Kubeconfig File",
		Detail:    fmt.Sprintf("Cannot read kubeconfig file %s: %v. %s", path, err, advice),
	}
}

// decodeKubeconfig is clientcmd.Load. Tests replace it to count how often files are decoded.
var decodeKubeconfig = clientcmd.Load

// parseKubeconfig decodes one file as clientcmd.LoadFromFile does. Decoder messages can
// quote the file, and a kubeconfig holds credentials, so quoted text is removed from them.
func parseKubeconfig(
	path string, data []byte, attribute string, secrets *redactor,
) (*clientcmdapi.Config, *SettingError) {
	config, err := decodeKubeconfig(data)
	if err != nil {
		return nil, &SettingError{
			Attribute: attribute,
			Summary:   "Invalid Kubeconfig File",
			Detail: fmt.Sprintf("Kubeconfig file %s cannot be parsed: %s. Its content is "+
				"not shown because it can contain credentials.", path,
				withoutQuotedText(secrets.redact(err.Error()))),
		}
	}

	// LocationOfOrigin lets relative file references resolve next to the file, and lets
	// client-go write a refreshed auth-provider token back to it.
	for _, cluster := range config.Clusters {
		cluster.LocationOfOrigin = path
	}
	for _, user := range config.AuthInfos {
		user.LocationOfOrigin = path
	}
	for _, context := range config.Contexts {
		context.LocationOfOrigin = path
	}
	return config, nil
}

// mergeKubeconfigs merges parsed files with kubectl's rules: the first file that defines a
// cluster, user, context or extension name provides it whole, and the first file that sets a
// value such as current-context wins. Relative file references are then resolved against
// the directory of the file that defines them.
func mergeKubeconfigs(files []kubeconfigFile) (*clientcmdapi.Config, error) {
	merged := clientcmdapi.NewConfig()
	for _, file := range files {
		config := file.config
		merged.Clusters = mergeFirst(merged.Clusters, config.Clusters)
		merged.AuthInfos = mergeFirst(merged.AuthInfos, config.AuthInfos)
		merged.Contexts = mergeFirst(merged.Contexts, config.Contexts)
		merged.Extensions = mergeFirst(merged.Extensions, config.Extensions)
		merged.Preferences.Extensions = mergeFirst(merged.Preferences.Extensions,
			config.Preferences.Extensions)
		if merged.CurrentContext == "" {
			merged.CurrentContext = config.CurrentContext
		}
		merged.Preferences.Colors = merged.Preferences.Colors || config.Preferences.Colors
	}
	if err := clientcmd.ResolveLocalPaths(merged); err != nil {
		return nil, err
	}
	return merged, nil
}

// mergeFirst adds the entries of source whose names target does not have yet, and returns
// target, allocated when it was nil and source is not empty.
func mergeFirst[T any](target, source map[string]T) map[string]T {
	for name, value := range source {
		if target == nil {
			target = make(map[string]T, len(source))
		}
		if _, exists := target[name]; !exists {
			target[name] = value
		}
	}
	return target
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

// addKubeconfigSecrets registers every credential in a kubeconfig file for redaction: those
// of every user, and the user information in the server and proxy-url of every cluster,
// whether or not the selected context uses them.
func addKubeconfigSecrets(secrets *redactor, config *clientcmdapi.Config) {
	for _, cluster := range config.Clusters {
		secrets.addURLSecrets(cluster.Server)
		secrets.addURLSecrets(cluster.ProxyURL)
	}
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
	cluster  string // name of the kubeconfig cluster, or ""
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
	cluster := c.ConfigContextCluster
	if cluster == "" && context != nil {
		cluster = context.Cluster
	}
	return selection{user: user, cluster: cluster, problems: problems}
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
