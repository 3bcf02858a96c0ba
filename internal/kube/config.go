// Package kube builds Kubernetes API clients from the provider's connection settings.
//
// The settings and their precedence follow the hashicorp/kubernetes provider (v3), so that a
// provider block can be copied from there. Nothing here contacts the cluster: settings are
// checked offline, and clients connect on their first request.
package kube

import (
	"net/http"
	"sort"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	// Kubeconfig users with "auth-provider: oidc" need this plugin registered, as in kubectl.
	_ "k8s.io/client-go/plugin/pkg/client/auth/oidc"
)

// Client-side rate limits. client-go's defaults (QPS 5, burst 10) throttle a provider that
// reads and writes many objects in one apply. A refresh sends a few reads per resource, so
// the burst lets a plan of a few hundred resources refresh without waiting, and the rate
// bounds a long apply. The API server's priority and fairness protects it either way.
const (
	DefaultQPS   = 50
	DefaultBurst = 300
)

// Config is the resolved connection settings: provider attributes merged with the KUBE_*
// environment variables.
//
// With ConfigPaths set, the kubeconfig files are merged and every explicit attribute here
// overrides the values in them. When any explicit credential (Token, ClientCertificate, ClientKey,
// Username, Password or Exec) is set, it replaces the credentials of the selected kubeconfig
// user instead of being combined with them. Without ConfigPaths, Host is required unless the
// provider runs in a pod (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT set), in which
// case the pod's service account is used.
type Config struct {
	// Host is the API server address: "https://host:port", "host:port" or a URL with a path
	// prefix. An address without a scheme uses HTTPS.
	Host string

	Username, Password string
	Token              string

	ClientCertificate    string // PEM
	ClientKey            string // PEM
	ClusterCACertificate string // PEM

	Insecure      bool
	TLSServerName string
	ProxyURL      string

	// ConfigPaths are kubeconfig files, config_path first and then config_paths, in order.
	// A leading "~" is the user's home directory. Empty paths are skipped, and so are files
	// that do not exist when there are several paths, unless none of them exists, as kubectl
	// does with KUBECONFIG. A single path must exist. Problems with them are reported on the
	// config_path attribute when there is one path and on config_paths when there are more.
	ConfigPaths           []string
	ConfigContext         string
	ConfigContextAuthInfo string
	ConfigContextCluster  string

	Exec *ExecConfig

	// UserAgent is sent with every request. Empty means client-go's default.
	UserAgent string

	// RetryLog, when set, receives a message for each request that the clients send again
	// after a throttled, failed or broken attempt.
	RetryLog RetryLogFunc
}

// ExecConfig runs a client-go exec credential plugin to obtain credentials.
type ExecConfig struct {
	// APIVersion of the ExecCredential exchanged with the plugin, such as
	// "client.authentication.k8s.io/v1beta1".
	APIVersion string
	Command    string
	Args       []string
	Env        map[string]string
}

// Check validates the settings without any network I/O and returns every problem found. It
// reads the kubeconfig files, certificate, key and token files they name and the in-cluster
// service account token, because client-go reads them too when it builds the client
// configuration or sends the first request.
func (c Config) Check() []SettingError {
	_, _, problems := c.build()
	return problems
}

// RESTConfig builds the client-go configuration without contacting the cluster. When the
// settings have problems it returns them as SettingErrors, the same ones Check returns.
func (c Config) RESTConfig() (*rest.Config, error) {
	config, _, problems := c.build()
	if len(problems) > 0 {
		return nil, SettingErrors(problems)
	}
	return config, nil
}

// base is the starting point that the explicit attributes are laid over: the merged
// kubeconfig files, the pod's service account, or nothing.
type base struct {
	config clientcmdapi.Config
	// access lets client-go write refreshed auth-provider tokens back to the kubeconfig
	// files, as kubectl does. It is nil when there are no kubeconfig files.
	access clientcmd.ConfigAccess
	// attribute receives problems that client-go finds in the base.
	attribute string
	// serverSource names where the server address comes from when host is not set, such as
	// `the server of cluster "prod" in kubeconfig file /root/.kube/config`.
	serverSource string
}

// build checks the settings and builds the client configuration. The redactor it returns
// contains every credential of the settings and of the kubeconfig files, for errors that
// client-go returns later.
func (c Config) build() (*rest.Config, *redactor, []SettingError) {
	secrets := c.secrets()
	problems := c.checkAttributes()

	start, baseProblems := c.loadBase(secrets)
	problems = append(problems, baseProblems...)
	if len(problems) > 0 {
		return nil, secrets, secrets.redactProblems(problems)
	}

	config, err := c.clientConfig(start)
	if err != nil {
		problem := SettingError{
			Attribute: start.attribute,
			Summary:   "Invalid Cluster Connection Settings",
			Detail: "Building the Kubernetes client configuration failed: " +
				secrets.redact(err.Error()) + ". Correct the settings named in the message.",
		}
		return nil, secrets, secrets.redactProblems([]SettingError{problem})
	}
	addRESTSecrets(secrets, config)
	return config, secrets, nil
}

func (c Config) loadBase(secrets *redactor) (base, []SettingError) {
	switch {
	case len(c.ConfigPaths) > 0:
		return c.loadKubeconfig(secrets)
	case c.Host != "":
		return base{config: *clientcmdapi.NewConfig()}, nil
	default:
		return c.loadInCluster(secrets)
	}
}

// clientConfig lays the explicit attributes over the base with clientcmd, which gives the
// same precedence rules as kubectl's flags, and then checks everything that client-go
// would otherwise only check on the first request.
func (c Config) clientConfig(start base) (*rest.Config, error) {
	overrides := c.overrides()
	loader := clientcmd.NewNonInteractiveClientConfig(start.config, "", &overrides, start.access)

	config, err := loader.ClientConfig()
	if err != nil {
		return nil, err
	}

	config.QPS = DefaultQPS
	config.Burst = DefaultBurst
	config.Timeout = RequestTimeout
	if c.UserAgent != "" {
		config.UserAgent = c.UserAgent
	}
	source := start.serverSource
	if c.Host != "" || source == "" {
		source = AttributeHost
	}
	// Check has rejected a server with user information, so this only guards the messages.
	server := redactURL(config.Host)
	config.Wrap(func(next http.RoundTripper) http.RoundTripper {
		return &diagnosingTransport{next: next, server: server, source: source}
	})
	// Every request passes through it, each hop of a redirect included, before it is sent.
	config.Wrap(func(next http.RoundTripper) http.RoundTripper {
		return &redirectGuard{next: next}
	})
	// Added after the diagnosing transport, so it wraps that one and receives its errors.
	config.Wrap(func(next http.RoundTripper) http.RoundTripper {
		return newRetryingTransport(next, c.RetryLog)
	})

	// Building a transport loads the CA bundle and client key pair and creates the exec
	// plugin's authenticator, but opens no connection.
	if _, err := rest.TransportFor(config); err != nil {
		return nil, err
	}
	return config, nil
}

func (c Config) overrides() clientcmd.ConfigOverrides {
	overrides := clientcmd.ConfigOverrides{
		CurrentContext: c.ConfigContext,
		Context: clientcmdapi.Context{
			AuthInfo: c.ConfigContextAuthInfo,
			Cluster:  c.ConfigContextCluster,
		},
		ClusterInfo: clientcmdapi.Cluster{
			TLSServerName:            c.TLSServerName,
			InsecureSkipTLSVerify:    c.Insecure,
			CertificateAuthorityData: bytesOrNil(c.ClusterCACertificate),
			ProxyURL:                 c.ProxyURL,
		},
		AuthInfo: clientcmdapi.AuthInfo{
			Token:                 c.Token,
			ClientCertificateData: bytesOrNil(c.ClientCertificate),
			ClientKeyData:         bytesOrNil(c.ClientKey),
			Username:              c.Username,
			Password:              c.Password,
			Exec:                  c.Exec.clientcmd(),
		},
	}
	if c.Host != "" {
		overrides.ClusterInfo.Server = normalizeHost(c.Host)
	}
	return overrides
}

func (e *ExecConfig) clientcmd() *clientcmdapi.ExecConfig {
	if e == nil {
		return nil
	}

	names := make([]string, 0, len(e.Env))
	for name := range e.Env {
		names = append(names, name)
	}
	sort.Strings(names)
	env := make([]clientcmdapi.ExecEnvVar, 0, len(names))
	for _, name := range names {
		env = append(env, clientcmdapi.ExecEnvVar{Name: name, Value: e.Env[name]})
	}

	return &clientcmdapi.ExecConfig{
		APIVersion: e.APIVersion,
		Command:    e.Command,
		Args:       append([]string(nil), e.Args...),
		Env:        env,
		// Terraform owns the terminal, so a plugin must never prompt.
		InteractiveMode: clientcmdapi.NeverExecInteractiveMode,
	}
}

// hasExplicitCredentials reports whether any attribute that identifies the user is set.
func (c Config) hasExplicitCredentials() bool {
	return c.Token != "" || c.ClientCertificate != "" || c.ClientKey != "" ||
		c.Username != "" || c.Password != "" || c.Exec != nil
}

// secrets collects the credential values of the explicit attributes for redaction.
func (c Config) secrets() *redactor {
	secrets := &redactor{}
	secrets.add(c.Password, c.Token, c.ClientKey)
	secrets.addURLSecrets(c.Host)
	secrets.addURLSecrets(c.ProxyURL)
	if c.Exec != nil {
		for _, value := range c.Exec.Env {
			secrets.add(value)
		}
	}
	return secrets
}

// addRESTSecrets registers the credentials of the built configuration, which include those
// read from token files, for errors that client-go returns when clients are built.
func addRESTSecrets(secrets *redactor, config *rest.Config) {
	secrets.add(config.BearerToken, config.Password, string(config.KeyData))
	if config.ExecProvider != nil {
		for _, env := range config.ExecProvider.Env {
			secrets.add(env.Value)
		}
	}
	if config.AuthProvider != nil {
		for _, value := range config.AuthProvider.Config {
			secrets.add(value)
		}
	}
}

func bytesOrNil(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}
