package provider

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/providervalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/imagedist/terraform-provider-imagedist/internal/dockerconfig"
	"github.com/imagedist/terraform-provider-imagedist/internal/imageref"
	"github.com/imagedist/terraform-provider-imagedist/internal/kube"
)

// providerModel is the provider block. Attribute names and environment variables follow the
// hashicorp/kubernetes provider, so a block written for it works here unchanged.
type providerModel struct {
	Host                   types.String `tfsdk:"host"`
	Username               types.String `tfsdk:"username"`
	Password               types.String `tfsdk:"password"`
	Insecure               types.Bool   `tfsdk:"insecure"`
	TLSServerName          types.String `tfsdk:"tls_server_name"`
	ClientCertificate      types.String `tfsdk:"client_certificate"`
	ClientKey              types.String `tfsdk:"client_key"`
	ClusterCACertificate   types.String `tfsdk:"cluster_ca_certificate"`
	ConfigPath             types.String `tfsdk:"config_path"`
	ConfigPaths            types.List   `tfsdk:"config_paths"`
	ConfigContext          types.String `tfsdk:"config_context"`
	ConfigContextAuthInfo  types.String `tfsdk:"config_context_auth_info"`
	ConfigContextCluster   types.String `tfsdk:"config_context_cluster"`
	Token                  types.String `tfsdk:"token"`
	ProxyURL               types.String `tfsdk:"proxy_url"`
	Exec                   types.List   `tfsdk:"exec"`
	RegistryCACertificates types.String `tfsdk:"registry_ca_certificates"`
	RegistryAuthFile       types.String `tfsdk:"registry_auth_file"`
	InsecureRegistries     types.List   `tfsdk:"insecure_registries"`
}

// execModel is one exec block: a client-go credential plugin.
type execModel struct {
	APIVersion types.String `tfsdk:"api_version"`
	Command    types.String `tfsdk:"command"`
	Args       types.List   `tfsdk:"args"`
	Env        types.Map    `tfsdk:"env"`
}

// stringSetting ties a string attribute to the environment variable that fills it when the
// attribute is not set.
type stringSetting struct {
	attribute string
	envVar    string
	value     func(*providerModel) types.String
	apply     func(*kube.Config, string)
}

var stringSettings = []stringSetting{
	{"host", "KUBE_HOST",
		func(m *providerModel) types.String { return m.Host },
		func(c *kube.Config, v string) { c.Host = v }},
	{"username", "KUBE_USER",
		func(m *providerModel) types.String { return m.Username },
		func(c *kube.Config, v string) { c.Username = v }},
	{"password", "KUBE_PASSWORD",
		func(m *providerModel) types.String { return m.Password },
		func(c *kube.Config, v string) { c.Password = v }},
	{"tls_server_name", "KUBE_TLS_SERVER_NAME",
		func(m *providerModel) types.String { return m.TLSServerName },
		func(c *kube.Config, v string) { c.TLSServerName = v }},
	{"client_certificate", "KUBE_CLIENT_CERT_DATA",
		func(m *providerModel) types.String { return m.ClientCertificate },
		func(c *kube.Config, v string) { c.ClientCertificate = v }},
	{"client_key", "KUBE_CLIENT_KEY_DATA",
		func(m *providerModel) types.String { return m.ClientKey },
		func(c *kube.Config, v string) { c.ClientKey = v }},
	{"cluster_ca_certificate", "KUBE_CLUSTER_CA_CERT_DATA",
		func(m *providerModel) types.String { return m.ClusterCACertificate },
		func(c *kube.Config, v string) { c.ClusterCACertificate = v }},
	{"config_context", "KUBE_CTX",
		func(m *providerModel) types.String { return m.ConfigContext },
		func(c *kube.Config, v string) { c.ConfigContext = v }},
	{"config_context_auth_info", "KUBE_CTX_AUTH_INFO",
		func(m *providerModel) types.String { return m.ConfigContextAuthInfo },
		func(c *kube.Config, v string) { c.ConfigContextAuthInfo = v }},
	{"config_context_cluster", "KUBE_CTX_CLUSTER",
		func(m *providerModel) types.String { return m.ConfigContextCluster },
		func(c *kube.Config, v string) { c.ConfigContextCluster = v }},
	{"token", "KUBE_TOKEN",
		func(m *providerModel) types.String { return m.Token },
		func(c *kube.Config, v string) { c.Token = v }},
	{"proxy_url", "KUBE_PROXY_URL",
		func(m *providerModel) types.String { return m.ProxyURL },
		func(c *kube.Config, v string) { c.ProxyURL = v }},
}

const (
	envConfigPath  = "KUBE_CONFIG_PATH"
	envConfigPaths = "KUBE_CONFIG_PATHS"
	envInsecure    = "KUBE_INSECURE"
)

// environment reads the KUBE_* variables; lookup is os.LookupEnv unless a test sets it.
type environment struct {
	lookup func(string) (string, bool)
}

func (e environment) get(name string) string {
	lookup := e.lookup
	if lookup == nil {
		lookup = os.LookupEnv
	}
	value, _ := lookup(name)
	return value
}

func (p *imagedistProvider) Schema(
	_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse,
) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Manages container-image distribution on OpenShift and Kubernetes: " +
			"registry pull secrets and the service accounts that use them, and the image " +
			"cache of every node. The connection settings are those of the " +
			"`hashicorp/kubernetes` provider, with the same `KUBE_*` environment variables. " +
			"The provider contacts the cluster only when an operation needs it, so a cluster " +
			"created in the same apply can be configured from that cluster's outputs. A " +
			"configuration that only looks images up in registries, with `imagedist_image` " +
			"or `imagedist_images` and no `pull_secret`, needs no cluster settings at all: " +
			"every resource, and every read from the cluster, then fails with \"Missing " +
			"Cluster Address\".",
		Attributes: map[string]schema.Attribute{
			"host": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "The address of the Kubernetes API server, such as " +
					"`https://api.example.com:6443`. Can be set with `KUBE_HOST`.",
			},
			"username": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "The user name for HTTP basic authentication to the API " +
					"server. Can be set with `KUBE_USER`.",
			},
			"password": schema.StringAttribute{
				Optional:  true,
				Sensitive: true,
				MarkdownDescription: "The password for HTTP basic authentication to the API " +
					"server. Can be set with `KUBE_PASSWORD`.",
			},
			"registry_ca_certificates": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "PEM-encoded CA certificates that the provider trusts, " +
					"besides the system's, for the registries it contacts itself: in " +
					"`imagedist_image`, `imagedist_images` and the `resolve_digests` " +
					"look-ups of `imagedist_image_puller`. Set it to the CA certificate, " +
					"such as the content of a `ca.crt` file, when a private CA signed a " +
					"registry's certificate. It does not change what the cluster's nodes " +
					"trust, which their own configuration sets.",
			},
			"registry_auth_file": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "The path of a docker config JSON file, such as " +
					"`~/.docker/config.json` or a `.dockerconfigjson` pull secret saved to " +
					"disk, whose `auths` entries give the credentials of `imagedist_image` " +
					"and `imagedist_images` when they name no pull secret. A leading `~/` " +
					"is the home directory (`HOME`). Credential helpers (`credHelpers`, " +
					"`credsStore`) are not run. A file that cannot be read or decoded is a " +
					"provider configuration error. When unset, the provider reads " +
					"`REGISTRY_AUTH_FILE`, then `config.json` in `DOCKER_CONFIG`, and looks " +
					"images up anonymously when neither is set. A `DOCKER_CONFIG` directory " +
					"without `config.json` means no credentials, and any other problem with " +
					"a file that a variable names fails only the look-ups that would use " +
					"it.",
			},
			"insecure_registries": schema.ListAttribute{
				Optional:    true,
				ElementType: types.StringType,
				MarkdownDescription: "Registries, as `host` or `host:port`, that " +
					"`imagedist_image` and `imagedist_images` may reach over plain HTTP. " +
					"They reach every other registry over verified TLS only, loopback and " +
					"private addresses included. The provider warns when the list is set, " +
					"because credentials sent to these registries travel unencrypted.",
			},
			"insecure": schema.BoolAttribute{
				Optional: true,
				MarkdownDescription: "Whether to skip verification of the API server's TLS " +
					"certificate. Off by default; the provider warns when it is on. " +
					"Can be set with `KUBE_INSECURE`.",
			},
			"tls_server_name": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "The server name to verify the API server's certificate " +
					"against, when it differs from the host. Can be set with " +
					"`KUBE_TLS_SERVER_NAME`.",
			},
			"client_certificate": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "A PEM-encoded client certificate for TLS authentication. " +
					"Can be set with `KUBE_CLIENT_CERT_DATA`.",
			},
			"client_key": schema.StringAttribute{
				Optional:  true,
				Sensitive: true,
				MarkdownDescription: "The PEM-encoded private key of `client_certificate`. " +
					"Can be set with `KUBE_CLIENT_KEY_DATA`.",
			},
			"cluster_ca_certificate": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "A PEM-encoded CA certificate bundle that signs the API " +
					"server's certificate. Can be set with `KUBE_CLUSTER_CA_CERT_DATA`.",
			},
			"config_path": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "The path of a kubeconfig file. Can be set with " +
					"`KUBE_CONFIG_PATH`. Conflicts with `config_paths`.",
			},
			"config_paths": schema.ListAttribute{
				Optional:    true,
				ElementType: types.StringType,
				MarkdownDescription: "Paths of kubeconfig files, merged in order as `kubectl` " +
					"merges `KUBECONFIG`. Can be set with `KUBE_CONFIG_PATHS`, separated " +
					"like `PATH`.",
			},
			"config_context": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "The kubeconfig context to use instead of its current " +
					"context. Can be set with `KUBE_CTX`.",
			},
			"config_context_auth_info": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "The kubeconfig user to use instead of the one the " +
					"context names. Can be set with `KUBE_CTX_AUTH_INFO`.",
			},
			"config_context_cluster": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "The kubeconfig cluster to use instead of the one the " +
					"context names. Can be set with `KUBE_CTX_CLUSTER`.",
			},
			"token": schema.StringAttribute{
				Optional:  true,
				Sensitive: true,
				MarkdownDescription: "A bearer token for authentication to the API server. " +
					"Can be set with `KUBE_TOKEN`.",
			},
			"proxy_url": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "The URL of an HTTP proxy for requests to the API " +
					"server. Can be set with `KUBE_PROXY_URL`.",
			},
		},
		Blocks: map[string]schema.Block{
			"exec": schema.ListNestedBlock{
				MarkdownDescription: "A client-go credential plugin that prints a credential " +
					"for the API server, such as `aws eks get-token` or `gke-gcloud-auth-plugin`.",
				Validators: []validator.List{listvalidator.SizeAtMost(1)},
				NestedObject: schema.NestedBlockObject{
					Attributes: map[string]schema.Attribute{
						"api_version": schema.StringAttribute{
							Required: true,
							MarkdownDescription: "The API version of the credential the " +
								"plugin prints, such as `client.authentication.k8s.io/v1`.",
						},
						"command": schema.StringAttribute{
							Required:            true,
							MarkdownDescription: "The program to run.",
						},
						"args": schema.ListAttribute{
							Optional:            true,
							ElementType:         types.StringType,
							MarkdownDescription: "Arguments to the program.",
						},
						"env": schema.MapAttribute{
							Optional:            true,
							ElementType:         types.StringType,
							MarkdownDescription: "Environment variables to set for the program.",
						},
					},
				},
			},
		},
	}
}

func (p *imagedistProvider) ConfigValidators(_ context.Context) []provider.ConfigValidator {
	return []provider.ConfigValidator{
		providervalidator.Conflicting(
			path.MatchRoot("config_path"),
			path.MatchRoot("config_paths"),
		),
	}
}

// unknownClusterAttributes returns the names of the cluster connection settings whose values
// are not known yet, as when the cluster is created in the same apply.
func (m *providerModel) unknownClusterAttributes() []string {
	var unknown []string
	for _, setting := range stringSettings {
		if setting.value(m).IsUnknown() {
			unknown = append(unknown, setting.attribute)
		}
	}
	if m.Insecure.IsUnknown() {
		unknown = append(unknown, "insecure")
	}
	if m.ConfigPath.IsUnknown() {
		unknown = append(unknown, "config_path")
	}
	if m.ConfigPaths.IsUnknown() || containsUnknown(m.ConfigPaths.Elements()) {
		unknown = append(unknown, "config_paths")
	}
	if m.Exec.IsUnknown() || containsUnknownDeep(m.Exec) {
		unknown = append(unknown, "exec")
	}
	return unknown
}

// unknownRegistryAttributes returns the names of the registry settings whose values are not
// known yet.
func (m *providerModel) unknownRegistryAttributes() []string {
	var unknown []string
	if m.RegistryCACertificates.IsUnknown() {
		unknown = append(unknown, "registry_ca_certificates")
	}
	if m.RegistryAuthFile.IsUnknown() {
		unknown = append(unknown, "registry_auth_file")
	}
	if m.InsecureRegistries.IsUnknown() || containsUnknown(m.InsecureRegistries.Elements()) {
		unknown = append(unknown, "insecure_registries")
	}
	return unknown
}

// kubeConfig resolves the block and the environment into connection settings. An attribute
// set in the block wins over its environment variable.
func (m *providerModel) kubeConfig(env environment) kube.Config {
	var config kube.Config
	for _, setting := range stringSettings {
		value := setting.value(m)
		if !value.IsNull() {
			setting.apply(&config, value.ValueString())
			continue
		}
		if fromEnv := env.get(setting.envVar); fromEnv != "" {
			setting.apply(&config, fromEnv)
		}
	}

	if !m.Insecure.IsNull() {
		config.Insecure = m.Insecure.ValueBool()
	} else if insecure, err := strconv.ParseBool(env.get(envInsecure)); err == nil {
		config.Insecure = insecure
	}

	config.ConfigPaths = m.configPaths(env)
	config.Exec = m.execConfig()
	return config
}

// configPaths applies the kubernetes provider's order: config_path, then config_paths, then
// KUBE_CONFIG_PATH, then KUBE_CONFIG_PATHS.
func (m *providerModel) configPaths(env environment) []string {
	if !m.ConfigPath.IsNull() && m.ConfigPath.ValueString() != "" {
		return []string{m.ConfigPath.ValueString()}
	}
	if paths := stringElements(m.ConfigPaths); len(paths) > 0 {
		return paths
	}
	if single := env.get(envConfigPath); single != "" {
		return []string{single}
	}
	if list := env.get(envConfigPaths); list != "" {
		return filepath.SplitList(list)
	}
	return nil
}

// pathsAttribute names the attribute that supplied the kubeconfig paths, so a problem with a
// file is reported where the user wrote it.
func (m *providerModel) pathsAttribute() string {
	if m.ConfigPaths.IsNull() || len(m.ConfigPaths.Elements()) == 0 {
		return "config_path"
	}
	if !m.ConfigPath.IsNull() && m.ConfigPath.ValueString() != "" {
		return "config_path"
	}
	return "config_paths"
}

func (m *providerModel) execConfig() *kube.ExecConfig {
	var blocks []execModel
	if m.Exec.IsNull() || len(m.Exec.Elements()) == 0 {
		return nil
	}
	// The schema fixes the element type, so ElementsAs fails only if the model and schema
	// disagree, which the provider configuration tests would catch.
	if diags := m.Exec.ElementsAs(context.Background(), &blocks, false); diags.HasError() {
		return nil
	}

	block := blocks[0]
	exec := &kube.ExecConfig{
		APIVersion: block.APIVersion.ValueString(),
		Command:    block.Command.ValueString(),
		Args:       stringElements(block.Args),
		Env:        map[string]string{},
	}
	for name, value := range block.Env.Elements() {
		if text, ok := value.(types.String); ok {
			exec.Env[name] = text.ValueString()
		}
	}
	return exec
}

// attributePath maps an attribute name reported by the kube package to its schema path.
// Names inside the exec block come as "exec.command"; the block is a list of at most one.
func attributePath(attribute string) path.Path {
	if attribute == "" {
		return path.Empty()
	}
	block, nested, inBlock := strings.Cut(attribute, ".")
	if inBlock && block == "exec" {
		return path.Root(block).AtListIndex(0).AtName(nested)
	}
	return path.Root(attribute)
}

// connectionLogFields describes the connection for debug logs without any credential: only
// which kinds of credential are present.
func connectionLogFields(config kube.Config) map[string]any {
	return map[string]any{
		"host":                   config.Host,
		"config_paths":           config.ConfigPaths,
		"config_context":         config.ConfigContext,
		"insecure":               config.Insecure,
		"has_token":              config.Token != "",
		"has_password":           config.Password != "",
		"has_client_certificate": config.ClientCertificate != "",
		"has_exec":               config.Exec != nil,
	}
}

const (
	registryAuthFileAttribute = "registry_auth_file"
	envRegistryAuthFile       = "REGISTRY_AUTH_FILE"
	envDockerConfig           = "DOCKER_CONFIG"
)

// registryAuthProblem is an auth file that cannot be used, as the error of the look-ups that
// would take credentials from it.
type registryAuthProblem struct {
	summary, detail string
}

// readRegistryAuthFile reads and decodes the docker config file that source named. It
// returns a nil config and no problem for a DOCKER_CONFIG directory without config.json,
// which means no credentials. A leading "~/" is the home directory.
func readRegistryAuthFile(env environment, file, source string) (*dockerconfig.Config,
	*registryAuthProblem) {
	if strings.HasPrefix(file, "~") {
		home := env.get("HOME")
		if !strings.HasPrefix(file, "~/") || home == "" {
			return nil, &registryAuthProblem{"Invalid Registry Auth File",
				fmt.Sprintf("The path %s, set by %s, starts with \"~\", which the provider "+
					"expands only as \"~/\" with HOME set. Write the full path.", file,
					source)}
		}
		file = filepath.Join(home, file[2:])
	}
	document, err := os.ReadFile(file)
	if source == envDockerConfig && errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, &registryAuthProblem{"Unable to Read Registry Auth File",
			fmt.Sprintf("The docker config file %s, set by %s, cannot be read. Fix the "+
				"path or unset %s: %v", file, source, source, err)}
	}
	config, err := dockerconfig.Decode(document)
	if err != nil {
		return nil, &registryAuthProblem{"Invalid Registry Auth File",
			fmt.Sprintf("The docker config file %s, set by %s, is not a docker config JSON "+
				"document with an \"auths\" object: %v", file, source, err)}
	}
	return config, nil
}

// registryAuthFile returns the docker config file that registry look-ups take credentials
// from, in the order registry_auth_file, REGISTRY_AUTH_FILE, $DOCKER_CONFIG/config.json, and
// the attribute or variable that named it. It returns an empty path when none is set.
func (m *providerModel) registryAuthFile(env environment) (file, source string) {
	if !m.RegistryAuthFile.IsNull() && m.RegistryAuthFile.ValueString() != "" {
		return m.RegistryAuthFile.ValueString(), registryAuthFileAttribute
	}
	if file := env.get(envRegistryAuthFile); file != "" {
		return file, envRegistryAuthFile
	}
	if dir := env.get(envDockerConfig); dir != "" {
		return filepath.Join(dir, "config.json"), envDockerConfig
	}
	return "", ""
}

// configureRegistryAccess reads the registry auth file and checks insecure_registries, and
// stores both in data for the data sources that look images up.
func (m *providerModel) configureRegistryAccess(env environment, data *providerData,
	diags *diag.Diagnostics) {
	insecure := stringElements(m.InsecureRegistries)
	valid := make([]string, 0, len(insecure))
	for i, host := range insecure {
		parsed, err := imageref.Parse(host + "/probe")
		if err == nil && parsed.Registry == host {
			valid = append(valid, host)
		} else {
			// User info may hold a password, which the message must not repeat.
			redacted := strings.TrimSuffix(imageref.RedactUserInfo(host+"/probe"), "/probe")
			diags.AddAttributeError(path.Root("insecure_registries").AtListIndex(i),
				"Invalid Insecure Registry",
				fmt.Sprintf("%q is not a registry host. Write a host name with a dot, "+
					"\"localhost\" or an IP address, with an optional port, such as "+
					"\"registry.internal:5000\".", redacted))
		}
	}
	if len(valid) > 0 {
		diags.AddAttributeWarning(path.Root("insecure_registries"),
			"Registries Reached Over Plain HTTP",
			fmt.Sprintf("The provider may reach %s over plain HTTP, so credentials sent to "+
				"them, and the image metadata they return, travel unencrypted and can be "+
				"read or changed in the network path.", strings.Join(valid, ", ")))
	}
	data.insecureRegistries = insecure

	file, source := m.registryAuthFile(env)
	if file == "" {
		return
	}
	config, problem := readRegistryAuthFile(env, file, source)
	switch {
	case problem != nil && source == registryAuthFileAttribute:
		diags.AddAttributeError(path.Root(registryAuthFileAttribute), problem.summary,
			problem.detail)
		return
	case problem != nil:
		// A variable may be set for another tool, so only the look-ups that would use the
		// file fail.
		data.registryAuthProblem = problem
		return
	case config == nil:
		return
	}
	data.registryAuth = config
	data.registryAuthSource = fmt.Sprintf("the docker config file %s (set by %s)", file, source)
}
