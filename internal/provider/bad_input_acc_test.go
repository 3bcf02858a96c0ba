package provider

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/imagedist/terraform-provider-imagedist/internal/faultproxy"
	"github.com/imagedist/terraform-provider-imagedist/internal/testcluster"
)

// The tests in this file plan invalid configurations that a platform engineer could write.
// Each case checks that the plan fails with an error that names the attribute at fault. It
// also checks that neither the API server nor a registry received a request: the provider
// reaches the shared control plane through a faultproxy, which records every request, and
// image references name a loopback trap registry, which counts its connections.

// badInputCase is one invalid configuration.
type badInputCase struct {
	name string
	// provider holds extra lines for the provider block.
	provider string
	// config is the configuration after the provider block.
	config string
	// importID, when set, makes the case `terraform import` of importAddress with this ID
	// instead of a plan of config.
	importID, importAddress string
	// want matches the error output.
	want *regexp.Regexp
	// functions marks a case that calls provider functions, which need Terraform 1.8 or
	// OpenTofu 1.7.
	functions bool
}

// badInputEnv is the proxy and trap registry that the cases of one test share. The cases
// run one after another, so each starts from an empty request record.
type badInputEnv struct {
	proxy      *faultproxy.Proxy
	kubeconfig string
	trap       *trapRegistry
}

func newBadInputEnv(t *testing.T) *badInputEnv {
	t.Helper()
	requireAcceptance(t)
	target, err := testcluster.ProviderRESTConfigFromEnv()
	if err != nil {
		t.Fatalf("cluster configuration: %v", err)
	}
	proxy, err := faultproxy.Start(target)
	if err != nil {
		t.Fatalf("starting the fault proxy: %v", err)
	}
	t.Cleanup(proxy.Close)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := proxy.WriteKubeconfig(kubeconfig); err != nil {
		t.Fatalf("writing the proxy kubeconfig: %v", err)
	}
	return &badInputEnv{proxy: proxy, kubeconfig: kubeconfig, trap: startTrapRegistry(t)}
}

// run runs each case as a subtest with its own resource.Test. The request checks run in a
// cleanup, so they also report on a case whose resource.Test failed the subtest.
func (e *badInputEnv) run(t *testing.T, cases []badInputCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.proxy.Reset()
			e.trap.reset()
			t.Cleanup(func() { e.checkNoRequests(t) })
			resource.Test(t, e.testCase(c))
		})
	}
}

// checkNoRequests fails t for each request that reached the API server and for each
// connection that reached the trap registry since the last reset.
func (e *badInputEnv) checkNoRequests(t *testing.T) {
	t.Helper()
	for _, request := range e.proxy.Requests() {
		t.Errorf("the API server received %s %s?%s", request.Method, request.Path,
			request.Query)
	}
	if connections := e.trap.connections(); connections > 0 {
		t.Errorf("the trap registry received %d connections", connections)
	}
}

func (e *badInputEnv) testCase(c badInputCase) resource.TestCase {
	config := fmt.Sprintf(`
provider "imagedist" {
  config_path    = %q
  config_context = %q
%s
}
%s`, e.kubeconfig, faultproxy.ContextName, c.provider, c.config)

	step := resource.TestStep{Config: config, ExpectError: c.want}
	if c.importID != "" {
		step.ImportState = true
		step.ImportStateId = c.importID
		step.ResourceName = c.importAddress
	} else {
		step.PlanOnly = true
	}
	testCase := resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps:                    []resource.TestStep{step},
	}
	if c.functions {
		testCase.TerraformVersionChecks = functionVersionChecks
	}
	return testCase
}

// trapRegistry is a loopback HTTPS server in the place of a registry. Image look-ups of
// invalid input must never reach it. It counts connections rather than requests, because
// the provider does not trust its certificate and so would fail the TLS handshake before
// it sent a request.
type trapRegistry struct {
	server *httptest.Server
	// host is the server's host:port, for image references.
	host  string
	count atomic.Int64
}

func startTrapRegistry(t *testing.T) *trapRegistry {
	t.Helper()
	trap := &trapRegistry{}
	trap.server = httptest.NewUnstartedServer(http.HandlerFunc(
		func(writer http.ResponseWriter, _ *http.Request) {
			http.Error(writer, "trap registry: no request was expected", http.StatusTeapot)
		}))
	trap.server.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			trap.count.Add(1)
		}
	}
	trap.server.StartTLS()
	t.Cleanup(trap.server.Close)
	trap.host = strings.TrimPrefix(trap.server.URL, "https://")
	return trap
}

func (r *trapRegistry) reset() {
	r.count.Store(0)
}

func (r *trapRegistry) connections() int64 {
	return r.count.Load()
}

// attributeError matches a Terraform error diagnostic with summary on the object at
// address, whose source snippet starts with attribute, the name of the attribute or block
// at fault. Terraform prints the snippet line of the attribute that the diagnostic's path
// names, so an error on another attribute does not match.
func attributeError(summary, address, attribute string) *regexp.Regexp {
	return attributeErrorPattern(regexp.QuoteMeta(summary), regexp.QuoteMeta(address),
		regexp.QuoteMeta(attribute))
}

// attributeErrorPattern is attributeError with regular expressions for each part.
func attributeErrorPattern(summary, address, attribute string) *regexp.Regexp {
	return regexp.MustCompile(`Error: ` + summary + `\s+with ` + address +
		`,\n\s+on [^\n]+ line \d+, in [^\n]+:\n\s+\d+:\s+"?` + attribute + `"?\s*[={]`)
}

// messageError matches an error diagnostic with summary on the object at address whose
// detail starts with detail. It is for attributes nested in an object or a list of objects.
// Terraform 1.5.7 and OpenTofu 1.12.6 show only the first line of the block for them, so
// the detail must name the attribute path.
func messageError(summary, address, detail string) *regexp.Regexp {
	return messageErrorPattern(regexp.QuoteMeta(summary), regexp.QuoteMeta(address),
		wrappedPattern(detail))
}

// messageErrorPattern is messageError with regular expressions for each part.
func messageErrorPattern(summary, address, detail string) *regexp.Regexp {
	return regexp.MustCompile(`Error: ` + summary + `\s+with ` + address +
		`,\n\s+on [^\n]+\n(?:\s+\d+:[^\n]*\n)+\s*` + detail)
}

// wrappedPattern returns a regular expression for text that Terraform may have wrapped at
// any space.
func wrappedPattern(text string) string {
	words := strings.Fields(text)
	for i, word := range words {
		words[i] = regexp.QuoteMeta(word)
	}
	return strings.Join(words, `\s+`)
}

// expressionError matches an error that Terraform itself raises while it evaluates the
// expression of attribute, such as a failed built-in function call. The error names no
// object address, because Terraform raises it before the value reaches the provider.
func expressionError(summary, attribute string) *regexp.Regexp {
	return regexp.MustCompile(`Error: ` + regexp.QuoteMeta(summary) +
		`\s+on [^\n]+ line \d+, in [^\n]+:\n\s+\d+:\s+` + regexp.QuoteMeta(attribute) +
		`\s*=`)
}

// providerAddress matches the provider block's address under Terraform and OpenTofu.
const providerAddress = `provider\["[^"]+/imagedist"\]`

// providerError matches an error on attribute of the provider block.
func providerError(summary, attribute string) *regexp.Regexp {
	return attributeErrorPattern(regexp.QuoteMeta(summary), providerAddress,
		regexp.QuoteMeta(attribute))
}

// hclBlock renders a resource or data source block from header, such as
// `resource "imagedist_pull_secret" "test"`, and attribute lines. Each line of overrides
// replaces the line of defaults that sets the same attribute or block, or is appended. A
// line "-name" removes the default for name, and a line that starts with "+" is appended
// without the "+", for a second block of the same name.
func hclBlock(header string, defaults []string, overrides ...string) string {
	lines := append([]string(nil), defaults...)
	for _, override := range overrides {
		if added, ok := strings.CutPrefix(override, "+"); ok {
			lines = append(lines, added)
			continue
		}
		name := hclLineName(override)
		removed := strings.HasPrefix(override, "-")
		replaced := false
		for i, line := range lines {
			if hclLineName(line) == strings.TrimPrefix(name, "-") {
				if removed {
					lines = append(lines[:i], lines[i+1:]...)
				} else {
					lines[i] = override
				}
				replaced = true
				break
			}
		}
		if !replaced && !removed {
			lines = append(lines, override)
		}
	}
	return header + " {\n  " + strings.Join(lines, "\n  ") + "\n}\n"
}

// hclLineName returns the attribute or block name that an HCL line sets.
func hclLineName(line string) string {
	name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
	return name
}

const badInputPullSecretAddress = "imagedist_pull_secret.test"

func badInputRegistryBlock(lines ...string) string {
	defaults := []string{`server   = "registry.example.com"`, `username = "ci"`,
		`password = "not-a-real-password"`}
	block := hclBlock("registry", defaults, lines...)
	return strings.ReplaceAll(strings.TrimSuffix(block, "\n"), "\n", "\n  ")
}

func badInputPullSecret(overrides ...string) string {
	return hclBlock(`resource "imagedist_pull_secret" "test"`, []string{
		`namespace = "team-a"`, `name = "registry-credentials"`, badInputRegistryBlock(),
	}, overrides...)
}

func pullSecretBadInputCases() []badInputCase {
	invalidName := attributeError("Invalid Kubernetes Name", badInputPullSecretAddress, "name")
	invalidServer := attributeError("Invalid Registry Server", badInputPullSecretAddress, "server")
	return []badInputCase{
		{name: "namespace uppercase", config: badInputPullSecret(`namespace = "Team-A"`),
			want: attributeError("Invalid Kubernetes Name", badInputPullSecretAddress, "namespace")},
		{name: "name underscore", config: badInputPullSecret(`name = "registry_credentials"`),
			want: invalidName},
		{name: "name 254 characters",
			config: badInputPullSecret(`name = format("r%0253d", 0)`), want: invalidName},
		{name: "server with repository path", config: badInputPullSecret(badInputRegistryBlock(
			`server = "https://registry.example.com/team/app"`)), want: invalidServer},
		{name: "server with user info", config: badInputPullSecret(badInputRegistryBlock(
			`server = "ci:hunter2@registry.example.com"`)), want: invalidServer},
		{name: "server port out of range", config: badInputPullSecret(badInputRegistryBlock(
			`server = "registry.example.com:99999"`)), want: invalidServer},
		{name: "server empty", config: badInputPullSecret(badInputRegistryBlock(`server = ""`)),
			want: invalidServer},
		{name: "server with NUL", config: badInputPullSecret(badInputRegistryBlock(
			`server = "registry.example.com\u0000"`)), want: invalidServer},
		{name: "server with query", config: badInputPullSecret(badInputRegistryBlock(
			`server = "registry.example.com?tls=false"`)), want: invalidServer},
		{name: "server with non-ASCII host", config: badInputPullSecret(badInputRegistryBlock(
			`server = "régistry.example.com"`)), want: invalidServer},
		{name: "annotation key with space", config: badInputPullSecret(
			`annotations = { "example.com/owner team" = "platform" }`),
			want: attributeError("Invalid Annotation Key", badInputPullSecretAddress,
				"annotations")},
		{name: "username with colon", config: badInputPullSecret(badInputRegistryBlock(
			`username = "robot:ci"`)),
			want: attributeError("Invalid Registry Username", badInputPullSecretAddress, "username")},
		{name: "password missing", config: badInputPullSecret(badInputRegistryBlock(`-password`)),
			want: wrappedText(`Invalid Registry Password.*Neither is set`)},
		{name: "password empty", config: badInputPullSecret(badInputRegistryBlock(`password = ""`)),
			want: attributeErrorPattern(`Invalid Attribute Value Length`,
				regexp.QuoteMeta(badInputPullSecretAddress), `password`)},
		{name: "password not UTF-8", config: badInputPullSecret(badInputRegistryBlock(
			`password = base64decode("/w==")`)),
			want: expressionError("Error in function call", "password")},
		{name: "email empty", config: badInputPullSecret(badInputRegistryBlock(`email = ""`)),
			want: attributeErrorPattern(`Invalid Attribute Value Length`,
				regexp.QuoteMeta(badInputPullSecretAddress), `email`)},
		{name: "duplicate registry key", config: badInputPullSecret(
			badInputRegistryBlock(`server = "docker.io"`),
			"+"+badInputRegistryBlock(`server = "https://index.docker.io/v1/"`)),
			want: attributeError("Duplicate Registry Server", badInputPullSecretAddress, "server")},
		{name: "no registry block", config: badInputPullSecret(`-registry`),
			want: messageErrorPattern(`Invalid (Block|Attribute Value)`,
				regexp.QuoteMeta(badInputPullSecretAddress),
				`(Block registry must have a configuration value|Attribute registry list `+
					`must contain at least 1 elements)`)},
		{name: "label key with space",
			config: badInputPullSecret(`labels = { "team name" = "platform" }`),
			want:   attributeError("Invalid Label Key", badInputPullSecretAddress, "labels")},
		{name: "label value 64 characters",
			config: badInputPullSecret(`labels = { team = format("p%063d", 0) }`),
			want:   attributeError("Invalid Label Value", badInputPullSecretAddress, "labels")},
		{name: "annotations over 256 KiB",
			config: badInputPullSecret(`annotations = { note = format("%0262144d", 0) }`),
			want:   attributeError("Annotations Too Large", badInputPullSecretAddress, "annotations")},
		{name: "service account uppercase",
			config: badInputPullSecret(`link_service_accounts = ["Builder"]`),
			want: attributeError("Invalid Kubernetes Name", badInputPullSecretAddress,
				"link_service_accounts")},
		{name: "service account null",
			config: badInputPullSecret(`link_service_accounts = ["builder", null]`),
			want: attributeError("Null Set Value", badInputPullSecretAddress,
				"link_service_accounts")},
		{name: "delete timeout zero",
			config: badInputPullSecret(`timeouts {` + "\n    delete = \"0s\"\n  }"),
			want:   attributeError("Invalid Timeout", badInputPullSecretAddress, "delete")},
		{name: "delete timeout in words",
			config: badInputPullSecret(`timeouts {` + "\n    delete = \"ten minutes\"\n  }"),
			want: attributeError("Invalid Attribute Value Time Duration",
				badInputPullSecretAddress, "delete")},
		{name: "import ID without slash", config: badInputPullSecret(),
			importAddress: badInputPullSecretAddress, importID: "registry-credentials",
			want: wrappedText(`Invalid Import ID.*"namespace/name"`)},
		{name: "import ID uppercase namespace", config: badInputPullSecret(),
			importAddress: badInputPullSecretAddress, importID: "Team-A/registry-credentials",
			want: wrappedText(`Invalid Import ID.*"Team-A" is not a valid DNS-1123 label`)},
		{name: "import ID uppercase name", config: badInputPullSecret(),
			importAddress: badInputPullSecretAddress, importID: "team-a/Registry",
			want: wrappedText(`Invalid Import ID.*"Registry" is not a valid DNS-1123 subdomain`)},
	}
}

func TestAccBadInputPullSecret(t *testing.T) {
	env := newBadInputEnv(t)
	utf16 := writeUTF16File(t, "not-a-real-password")
	env.run(t, append(pullSecretBadInputCases(), badInputCase{
		name: "password file in UTF-16",
		config: badInputPullSecret(badInputRegistryBlock(
			fmt.Sprintf(`password = file(%q)`, utf16))),
		want: expressionError("Error in function call", "password"),
	}))
}

// writeUTF16File writes text as UTF-16 with a byte order mark, as PowerShell's ">" does,
// and returns the file's path. Its bytes are not UTF-8.
func writeUTF16File(t *testing.T, text string) string {
	t.Helper()
	document := []byte{0xff, 0xfe}
	for _, r := range text {
		document = append(document, byte(r), 0)
	}
	file := filepath.Join(t.TempDir(), "utf16.txt")
	if err := os.WriteFile(file, document, 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

const badInputClusterPullSecretAddress = "imagedist_cluster_pull_secret.test"

func badInputClusterPullSecret(overrides ...string) string {
	return hclBlock(`resource "imagedist_cluster_pull_secret" "test"`, []string{
		`server = "registry.example.com"`, `username = "ci"`,
		`password = "not-a-real-password"`,
	}, overrides...)
}

func TestAccBadInputClusterPullSecret(t *testing.T) {
	newBadInputEnv(t).run(t, []badInputCase{
		{name: "server with repository path",
			config: badInputClusterPullSecret(`server = "quay.io/team"`),
			want: attributeError("Invalid Registry Server", badInputClusterPullSecretAddress,
				"server")},
		{name: "server with scheme ftp",
			config: badInputClusterPullSecret(`server = "ftp://registry.example.com"`),
			want: attributeError("Invalid Registry Server", badInputClusterPullSecretAddress,
				"server")},
		{name: "username empty", config: badInputClusterPullSecret(`username = ""`),
			want: attributeError("Invalid Registry Username", badInputClusterPullSecretAddress,
				"username")},
		{name: "server scheme only", config: badInputClusterPullSecret(`server = "https://"`),
			want: attributeError("Invalid Registry Server", badInputClusterPullSecretAddress,
				"server")},
		{name: "password missing", config: badInputClusterPullSecret(`-password`),
			want: messageError("Missing Attribute Configuration", badInputClusterPullSecretAddress,
				"Exactly one of these attributes must be configured: [password,password_wo]")},
		{name: "password version without write-only password",
			config: badInputClusterPullSecret(`password_wo_version = 2`),
			want: attributeError("Invalid Attribute Combination", badInputClusterPullSecretAddress,
				"password_wo_version")},
		{name: "import ID with path", config: badInputClusterPullSecret(),
			importAddress: badInputClusterPullSecretAddress,
			importID:      "https://registry.example.com/v2/team",
			want:          wrappedText(`Invalid Import ID.*registry server as the ID`)},
		{name: "import ID with space", config: badInputClusterPullSecret(),
			importAddress: badInputClusterPullSecretAddress, importID: "registry example.com",
			want: wrappedText(`Invalid Import ID.*registry server as the ID`)},
	})
}

const badInputKubeletImageGCAddress = "imagedist_kubelet_image_gc.test"

func badInputKubeletImageGC(overrides ...string) string {
	return hclBlock(`resource "imagedist_kubelet_image_gc" "test"`, []string{
		`name = "worker-image-gc"`, `machine_config_pool = "worker"`,
	}, overrides...)
}

func TestAccBadInputKubeletImageGC(t *testing.T) {
	threshold := func(attribute string) *regexp.Regexp {
		return attributeError("Invalid Image GC Threshold", badInputKubeletImageGCAddress, attribute)
	}
	age := func(attribute string) *regexp.Regexp {
		return attributeError("Invalid Image GC Age", badInputKubeletImageGCAddress, attribute)
	}
	selector := func(labels string) string {
		return "machine_config_pool_selector = {\n    match_labels = " + labels + "\n  }"
	}
	const exactlyOnePool = "Exactly one of these attributes must be configured: " +
		"[machine_config_pool,machine_config_pool_selector]"
	newBadInputEnv(t).run(t, []badInputCase{
		{name: "high threshold above 100",
			config: badInputKubeletImageGC(`high_threshold_percent = 101`),
			want:   threshold("high_threshold_percent")},
		{name: "low threshold negative",
			config: badInputKubeletImageGC(`low_threshold_percent = -1`),
			want:   threshold("low_threshold_percent")},
		{name: "thresholds equal", config: badInputKubeletImageGC(
			`high_threshold_percent = 80`, `low_threshold_percent = 80`),
			want: threshold("low_threshold_percent")},
		{name: "low threshold above default high",
			config: badInputKubeletImageGC(`low_threshold_percent = 90`),
			want:   threshold("low_threshold_percent")},
		{name: "threshold beyond int32",
			config: badInputKubeletImageGC(`high_threshold_percent = 3000000000`),
			want: attributeError("Invalid Attribute Value", badInputKubeletImageGCAddress,
				"high_threshold_percent")},
		{name: "minimum age in words",
			config: badInputKubeletImageGC(`minimum_gc_age = "2 minutes"`),
			want:   age("minimum_gc_age")},
		{name: "minimum age negative",
			config: badInputKubeletImageGC(`minimum_gc_age = "-5m"`),
			want:   age("minimum_gc_age")},
		{name: "maximum age in days",
			config: badInputKubeletImageGC(`maximum_gc_age = "7d"`),
			want:   age("maximum_gc_age")},
		{name: "maximum age below minimum", config: badInputKubeletImageGC(
			`minimum_gc_age = "2h"`, `maximum_gc_age = "1h"`),
			want: age("maximum_gc_age")},
		{name: "node status max images below -1",
			config: badInputKubeletImageGC(`node_status_max_images = -2`),
			want: attributeError("Invalid Node Status Max Images", badInputKubeletImageGCAddress,
				"node_status_max_images")},
		{name: "pool uppercase", config: badInputKubeletImageGC(`machine_config_pool = "Worker"`),
			want: attributeError("Invalid Machine Config Pool Name", badInputKubeletImageGCAddress,
				"machine_config_pool")},
		{name: "pool name 64 characters",
			config: badInputKubeletImageGC(`machine_config_pool = format("p%063d", 0)`),
			want: attributeError("Invalid Machine Config Pool Name", badInputKubeletImageGCAddress,
				"machine_config_pool")},
		{name: "pool and selector", config: badInputKubeletImageGC(selector(
			`{ "pools.operator.machineconfiguration.openshift.io/infra" = "" }`)),
			want: messageError("Invalid Attribute Combination", badInputKubeletImageGCAddress,
				exactlyOnePool)},
		{name: "no pool", config: badInputKubeletImageGC(`-machine_config_pool`),
			want: messageError("Missing Attribute Configuration", badInputKubeletImageGCAddress,
				exactlyOnePool)},
		{name: "selector empty", config: badInputKubeletImageGC(`-machine_config_pool`,
			selector(`{}`)),
			want: messageError("Invalid Attribute Value", badInputKubeletImageGCAddress,
				"Attribute machine_config_pool_selector.match_labels map must contain at "+
					"least 1 elements")},
		{name: "selector key with space", config: badInputKubeletImageGC(`-machine_config_pool`,
			selector(`{ "pools.operator.machineconfiguration.openshift.io/custom pool" = "" }`)),
			want: attributeError("Invalid Machine Config Pool Selector", badInputKubeletImageGCAddress,
				"machine_config_pool_selector")},
		{name: "name underscore", config: badInputKubeletImageGC(`name = "worker_image_gc"`),
			want: attributeError("Invalid Kubernetes Name", badInputKubeletImageGCAddress, "name")},
		{name: "minimum age empty", config: badInputKubeletImageGC(`minimum_gc_age = ""`),
			want: age("minimum_gc_age")},
		{name: "selector value with space", config: badInputKubeletImageGC(
			`-machine_config_pool`, selector(`{ "example.com/pool" = "custom pool" }`)),
			want: attributeError("Invalid Machine Config Pool Selector",
				badInputKubeletImageGCAddress, "machine_config_pool_selector")},
		{name: "update timeout in days",
			config: badInputKubeletImageGC(`timeouts {` + "\n    update = \"1d\"\n  }"),
			want: attributeError("Invalid Attribute Value Time Duration",
				badInputKubeletImageGCAddress, "update")},
		{name: "selector value null", config: badInputKubeletImageGC(
			`-machine_config_pool`, selector(`{ "example.com/pool" = null }`)),
			want: messageError("Null Map Value", badInputKubeletImageGCAddress,
				`machine_config_pool_selector.match_labels["example.com/pool"] is null`)},
		{name: "create timeout negative",
			config: badInputKubeletImageGC(`timeouts {` + "\n    create = \"-1m\"\n  }"),
			want:   attributeError("Invalid Timeout", badInputKubeletImageGCAddress, "create")},
		{name: "import ID with space", config: badInputKubeletImageGC(),
			importAddress: badInputKubeletImageGCAddress, importID: "worker image gc",
			want: wrappedText(`Invalid Import ID.*"worker image gc" is not one`)},
	})
}

const badInputRegistryMirrorAddress = "imagedist_registry_mirror.test"

func badInputMirrorRule(lines ...string) string {
	block := hclBlock("mirror", []string{`source = "quay.io/team"`,
		`mirrors = ["mirror.example.com/team"]`}, lines...)
	return strings.ReplaceAll(strings.TrimSuffix(block, "\n"), "\n", "\n  ")
}

func badInputRegistryMirror(overrides ...string) string {
	return hclBlock(`resource "imagedist_registry_mirror" "test"`, []string{
		`name = "team-mirrors"`, badInputMirrorRule(),
	}, overrides...)
}

func TestAccBadInputRegistryMirror(t *testing.T) {
	mirrorError := func(summary, attribute string) *regexp.Regexp {
		return attributeError(summary, badInputRegistryMirrorAddress, attribute)
	}
	secondRule := func(lines ...string) string {
		return "+" + badInputMirrorRule(lines...)
	}
	digest := "sha256:" + strings.Repeat("ab", 32)
	newBadInputEnv(t).run(t, []badInputCase{
		{name: "source with scheme",
			config: badInputRegistryMirror(badInputMirrorRule(`source = "https://quay.io/team"`)),
			want:   mirrorError("Invalid Mirror Source", "source")},
		{name: "source with tag",
			config: badInputRegistryMirror(badInputMirrorRule(`source = "quay.io/team/app:1.2"`)),
			want:   mirrorError("Invalid Mirror Source", "source")},
		{name: "source with digest", config: badInputRegistryMirror(badInputMirrorRule(
			`source = "quay.io/team/app@` + digest + `"`)),
			want: mirrorError("Invalid Mirror Source", "source")},
		{name: "source port out of range",
			config: badInputRegistryMirror(badInputMirrorRule(`source = "quay.io:70000/team"`)),
			want:   mirrorError("Invalid Mirror Source", "source")},
		{name: "source uppercase repository",
			config: badInputRegistryMirror(badInputMirrorRule(`source = "quay.io/Team"`)),
			want:   mirrorError("Invalid Mirror Source", "source")},
		{name: "wildcard mirror", config: badInputRegistryMirror(badInputMirrorRule(
			`mirrors = ["*.mirror.example.com"]`)),
			want: mirrorError("Invalid Mirror", "mirrors")},
		{name: "wildcard source with path", config: badInputRegistryMirror(badInputMirrorRule(
			`source = "*.example.com/team"`)),
			want: mirrorError("Invalid Mirror Source", "source")},
		{name: "source trailing slash", config: badInputRegistryMirror(badInputMirrorRule(
			`source = "quay.io/team/"`)),
			want: mirrorError("Invalid Mirror Source", "source")},
		{name: "mirror port zero", config: badInputRegistryMirror(badInputMirrorRule(
			`mirrors = ["mirror.example.com:0/team"]`)),
			want: mirrorError("Invalid Mirror", "mirrors")},
		{name: "duplicate mirror", config: badInputRegistryMirror(badInputMirrorRule(
			`mirrors = ["mirror.example.com/team", "mirror.example.com/team"]`)),
			want: mirrorError("Duplicate Mirror", "mirrors")},
		{name: "null mirror", config: badInputRegistryMirror(badInputMirrorRule(
			`mirrors = ["mirror.example.com/team", null]`)),
			want: mirrorError("Null List Value", "mirrors")},
		{name: "duplicate source", config: badInputRegistryMirror(badInputMirrorRule(), secondRule(
			`mirrors = ["backup.example.com/team"]`)),
			want: mirrorError("Duplicate Mirror Source", "source")},
		{name: "never contact source without mirrors", config: badInputRegistryMirror(badInputMirrorRule(
			`-mirrors`, `mirror_source_policy = "NeverContactSource"`)),
			want: mirrorError("Mirror Source Policy Without Mirrors", "mirror_source_policy")},
		{name: "policy misspelled", config: badInputRegistryMirror(badInputMirrorRule(
			`mirror_source_policy = "AllowContacting"`)),
			want: mirrorError("Invalid Mirror Source Policy", "mirror_source_policy")},
		{name: "policy empty", config: badInputRegistryMirror(badInputMirrorRule(
			`mirror_source_policy = ""`)),
			want: mirrorError("Invalid Mirror Source Policy", "mirror_source_policy")},
		{name: "never contact source among mirrors", config: badInputRegistryMirror(badInputMirrorRule(
			`mirrors = ["mirror.example.com/team", "quay.io/team"]`,
			`mirror_source_policy = "NeverContactSource"`)),
			want: mirrorError("Source Listed As Its Own Mirror", "mirror_source_policy")},
		{name: "pull type plural", config: badInputRegistryMirror(`pull_type = "digests"`),
			want: mirrorError("Invalid Attribute Value Match", "pull_type")},
		{name: "name uppercase", config: badInputRegistryMirror(`name = "Team-Mirrors"`),
			want: mirrorError("Invalid Kubernetes Name", "name")},
		{name: "no rules", config: badInputRegistryMirror(`-mirror`),
			want: messageErrorPattern(`Invalid (Block|Attribute Value)`,
				regexp.QuoteMeta(badInputRegistryMirrorAddress),
				`(Block mirror must have a configuration value|Attribute mirror list `+
					`must contain at least 1 elements)`)},
		{name: "label key with two slashes",
			config: badInputRegistryMirror(`labels = { "example.com/team/owner" = "a" }`),
			want:   mirrorError("Invalid Label Key", "labels")},
		{name: "import ID with slash", config: badInputRegistryMirror(),
			importAddress: badInputRegistryMirrorAddress, importID: "openshift-config/team-mirrors",
			want: wrappedText(`Invalid Import ID.*"openshift-config/team-mirrors" is not one`)},
	})
}

const badInputImagePullerAddress = "imagedist_image_puller.test"

func badInputImagePuller(overrides ...string) string {
	return hclBlock(`resource "imagedist_image_puller" "test"`, []string{
		`namespace = "team-a"`, `name = "prepull"`,
		`images = { api = "quay.io/team/api@sha256:` + strings.Repeat("cd", 32) + `" }`,
		`wait_for_cached = false`,
	}, overrides...)
}

func TestAccBadInputImagePuller(t *testing.T) {
	pullerError := func(summary, attribute string) *regexp.Regexp {
		return attributeError(summary, badInputImagePullerAddress, attribute)
	}
	// Terraform cannot point to an attribute inside a list of objects, so the message
	// names it.
	nestedError := func(summary, detail string) *regexp.Regexp {
		return messageError(summary, badInputImagePullerAddress, detail)
	}
	pinned := func(overrides ...string) string {
		return badInputImagePuller(append([]string{`backend = "pinned"`, `-namespace`,
			`machine_config_pools = ["worker"]`, `-wait_for_cached`}, overrides...)...)
	}
	newBadInputEnv(t).run(t, []badInputCase{
		{name: "images empty", config: badInputImagePuller(`images = {}`),
			want: pullerError("Missing Images", "images")},
		{name: "image reference uppercase",
			config: badInputImagePuller(`images = { api = "quay.io/Team/API:3.8" }`),
			want:   pullerError("Invalid Image Reference", "images")},
		{name: "image repository too long", config: badInputImagePuller(
			`images = { api = format("quay.io/team/%0260d:1", 0) }`),
			want: pullerError("Invalid Image Reference", "images")},
		{name: "image reference leading space", config: badInputImagePuller(
			`images = { api = " quay.io/team/api:3.8" }`),
			want: pullerError("Invalid Image Reference", "images")},
		{name: "image key without letters",
			config: badInputImagePuller(`images = { "!!!" = "quay.io/team/api:3.8" }`),
			want:   pullerError("Invalid Image Key", "images")},
		{name: "image key reserved", config: badInputImagePuller(
			`images = { "imagedist-sleeper" = "quay.io/team/api:3.8" }`),
			want: pullerError("Reserved Image Key", "images")},
		{name: "image keys same container", config: badInputImagePuller(
			`images = { api = "quay.io/team/api:3.8", API = "quay.io/team/api:3.9" }`),
			want: pullerError("Duplicate Container Name", "images")},
		{name: "backend misspelled", config: badInputImagePuller(`backend = "daemon-set"`),
			want: pullerError("Invalid Attribute Value Match", "backend")},
		{name: "daemonset without namespace", config: badInputImagePuller(`-namespace`),
			want: regexp.MustCompile(`Error: Missing Namespace\s+with ` +
				regexp.QuoteMeta(badInputImagePullerAddress))},
		{name: "pinned with namespace", config: pinned(`namespace = "team-a"`),
			want: pullerError("Attribute Not Used by Backend", "namespace")},
		{name: "pinned without pools", config: pinned(`-machine_config_pools`),
			want: regexp.MustCompile(`Error: Missing Machine Config Pools\s+with ` +
				regexp.QuoteMeta(badInputImagePullerAddress))},
		{name: "pool uppercase", config: pinned(`machine_config_pools = ["Worker"]`),
			want: pullerError("Invalid Kubernetes Name", "machine_config_pools")},
		{name: "pinned 501 images", config: pinned(`images = { for i in range(501) : ` +
			`"image-${i}" => "quay.io/team/app-${i}:1" }`),
			want: pullerError("Too Many Pinned Images", "images")},
		{name: "pool null", config: pinned(`machine_config_pools = ["worker", null]`),
			want: pullerError("Null Set Value", "machine_config_pools")},
		{name: "helper image short digest",
			config: badInputImagePuller(`helper_image = "busybox@sha256:abc"`),
			want:   pullerError("Invalid Image Reference", "helper_image")},
		{name: "node selector key with space",
			config: badInputImagePuller(`node_selector = { "node role" = "worker" }`),
			want:   pullerError("Invalid Label Key", "node_selector")},
		{name: "toleration exists with value", config: badInputImagePuller(
			`tolerations = [{ key = "dedicated", operator = "Exists", value = "gpu" }]`),
			want: nestedError("Invalid Toleration", `tolerations[0] has operator "Exists"`)},
		{name: "toleration without key", config: badInputImagePuller(
			`tolerations = [{ operator = "Equal", value = "gpu" }]`),
			want: nestedError("Invalid Toleration", "tolerations[0] has no key")},
		{name: "toleration seconds with NoSchedule", config: badInputImagePuller(
			`tolerations = [{ key = "dedicated", effect = "NoSchedule", ` +
				`toleration_seconds = 30 }]`),
			want: nestedError("Invalid Toleration",
				"tolerations[0].toleration_seconds applies only")},
		{name: "toleration effect misspelled", config: badInputImagePuller(
			`tolerations = [{ key = "dedicated", effect = "NoScheduled" }]`),
			want: nestedError("Invalid Attribute Value Match",
				"Attribute tolerations[0].effect value must be one of")},
		{name: "toleration value with space", config: badInputImagePuller(
			`tolerations = [{ key = "dedicated", value = "gpu tier" }]`),
			want: nestedError("Invalid Toleration", `tolerations[0].value "gpu tier"`)},
		{name: "affinity Gt with word", config: badInputImagePuller(
			`node_affinity = [{ match_expressions = [{ key = "cores", operator = "Gt", ` +
				`values = ["ten"] }] }]`),
			want: nestedError("Invalid Node Affinity",
				`node_affinity[0].match_expressions[0]: operator "Gt" needs an integer value`)},
		{name: "affinity In without values", config: badInputImagePuller(
			`node_affinity = [{ match_expressions = [{ key = "zone", operator = "In" }] }]`),
			want: nestedError("Invalid Node Affinity",
				`node_affinity[0].match_expressions[0]: operator "In" needs at least one`)},
		{name: "affinity key with space", config: badInputImagePuller(
			`node_affinity = [{ match_expressions = [{ key = "node role", ` +
				`operator = "Exists" }] }]`),
			want: nestedError("Invalid Node Affinity",
				`node_affinity[0].match_expressions[0].key "node role"`)},
		{name: "priority class uppercase",
			config: badInputImagePuller(`priority_class_name = "High"`),
			want:   pullerError("Invalid Kubernetes Name", "priority_class_name")},
		{name: "max unavailable zero", config: badInputImagePuller(`max_unavailable = "0"`),
			want: pullerError("Invalid Max Unavailable", "max_unavailable")},
		{name: "max unavailable 150 percent",
			config: badInputImagePuller(`max_unavailable = "150%"`),
			want:   pullerError("Invalid Max Unavailable", "max_unavailable")},
		{name: "cpu request below 1m", config: badInputImagePuller(`cpu_request = "0.5m"`),
			want: pullerError("Invalid Quantity", "cpu_request")},
		{name: "cpu limit in words", config: badInputImagePuller(`cpu_limit = "two cores"`),
			want: pullerError("Invalid Quantity", "cpu_limit")},
		{name: "memory request above limit", config: badInputImagePuller(
			`memory_request = "1Gi"`, `memory_limit = "512Mi"`),
			want: pullerError("Request Above Limit", "memory_request")},
		{name: "pull secrets duplicate", config: badInputImagePuller(
			`image_pull_secrets = ["registry", "registry"]`),
			want: pullerError("Duplicate List Value", "image_pull_secrets")},
		{name: "pull secrets null", config: badInputImagePuller(
			`image_pull_secrets = ["registry", null]`),
			want: pullerError("Null List Value", "image_pull_secrets")},
		{name: "image reference null", config: badInputImagePuller(
			`images = { api = "quay.io/team/api:3.8", web = null }`),
			want: pullerError("Invalid Image Reference", "images")},
		{name: "label reserved", config: badInputImagePuller(
			`labels = { "app.kubernetes.io/instance" = "mine" }`),
			want: pullerError("Reserved Label", "labels")},
		{name: "operator with max unavailable", config: badInputImagePuller(
			`backend = "operator"`, `max_unavailable = "2"`),
			want: pullerError("Attribute Not Used by Backend", "max_unavailable")},
		{name: "name with dot", config: badInputImagePuller(`name = "pre.pull"`),
			want: pullerError("Invalid Kubernetes Name", "name")},
		{name: "update timeout zero", config: badInputImagePuller(
			`timeouts {` + "\n    update = \"0s\"\n  }"),
			want: pullerError("Invalid Timeout", "update")},
		{name: "import ID empty name", config: badInputImagePuller(),
			importAddress: badInputImagePullerAddress, importID: "team-a/",
			want: wrappedText(`Invalid Import ID.*"team-a/" is neither`)},
		{name: "import ID uppercase namespace", config: badInputImagePuller(),
			importAddress: badInputImagePullerAddress, importID: "Team-A/prepull",
			want: wrappedText(`Invalid Import ID.*"Team-A"`)},
		{name: "import ID name with dot", config: badInputImagePuller(),
			importAddress: badInputImagePullerAddress, importID: "team-a/pre.pull",
			want: wrappedText(`Invalid Import ID.*"pre.pull" is not a valid DNS-1123 label`)},
		{name: "import ID uppercase pinned name", config: badInputImagePuller(),
			importAddress: badInputImagePullerAddress, importID: "Worker-Pins",
			want: wrappedText(`Invalid Import ID.*"Worker-Pins" is neither`)},
	})
}

func TestAccBadInputDataSources(t *testing.T) {
	env := newBadInputEnv(t)
	trapReference := func(repositoryTag string) string {
		return env.trap.host + "/" + repositoryTag
	}
	nodeImages := func(lines ...string) string {
		return hclBlock(`data "imagedist_node_images" "test"`, nil, lines...)
	}
	imagePulls := func(lines ...string) string {
		return hclBlock(`data "imagedist_image_pulls" "test"`, nil, lines...)
	}
	image := func(lines ...string) string {
		return hclBlock(`data "imagedist_image" "test"`, []string{
			fmt.Sprintf(`reference = %q`, trapReference("team/app:1")),
		}, lines...)
	}
	images := func(lines ...string) string {
		return hclBlock(`data "imagedist_images" "test"`, []string{
			fmt.Sprintf(`references = [%q]`, trapReference("team/app:1")),
		}, lines...)
	}
	const (
		nodeImagesAddress = "data.imagedist_node_images.test"
		imagePullsAddress = "data.imagedist_image_pulls.test"
		imageAddress      = "data.imagedist_image.test"
		imagesAddress     = "data.imagedist_images.test"
	)
	env.run(t, []badInputCase{
		{name: "node images selector unbalanced",
			config: nodeImages(`label_selector = "zone in (eu-west-1a"`),
			want: attributeError("Invalid Label Selector", nodeImagesAddress,
				"label_selector")},
		{name: "node images name underscore", config: nodeImages(`names = ["worker_1"]`),
			want: attributeError("Invalid Node Name", nodeImagesAddress, "names")},
		{name: "node images selector key with space",
			config: nodeImages(`label_selector = "node role=worker"`),
			want: attributeError("Invalid Label Selector", nodeImagesAddress,
				"label_selector")},
		{name: "node images reference uppercase",
			config: nodeImages(`images = ["quay.io/Team/app:1"]`),
			want:   attributeError("Invalid Image Reference", nodeImagesAddress, "images")},
		{name: "node images same image twice",
			config: nodeImages(`images = ["redis:7.4", "docker.io/library/redis:7.4"]`),
			want:   attributeError("Duplicate Image Reference", nodeImagesAddress, "images")},
		{name: "node images null reference",
			config: nodeImages(`images = ["redis:7.4", null]`),
			want:   attributeError("Null List Value", nodeImagesAddress, "images")},
		{name: "node images page size zero", config: nodeImages(`page_size = 0`),
			want: attributeError("Invalid Attribute Value", nodeImagesAddress, "page_size")},
		{name: "node images page size too large", config: nodeImages(`page_size = 100000`),
			want: attributeError("Invalid Attribute Value", nodeImagesAddress, "page_size")},
		{name: "node images max images below -1",
			config: nodeImages(`node_status_max_images = -2`),
			want: attributeError("Invalid Attribute Value", nodeImagesAddress,
				"node_status_max_images")},
		{name: "image pulls namespace uppercase", config: imagePulls(`namespace = "Team-A"`),
			want: attributeError("Invalid Kubernetes Name", imagePullsAddress, "namespace")},
		{name: "image pulls since negative", config: imagePulls(`since = "-1h"`),
			want: attributeError("Invalid Duration", imagePullsAddress, "since")},
		{name: "image pulls since in days", config: imagePulls(`since = "1d"`),
			want: attributeError("Invalid Duration", imagePullsAddress, "since")},
		{name: "image pulls since zero", config: imagePulls(`since = "0s"`),
			want: attributeError("Invalid Duration", imagePullsAddress, "since")},
		{name: "image pulls short digest",
			config: imagePulls(`images = ["nginx@sha256:abc"]`),
			want:   attributeError("Invalid Image Reference", imagePullsAddress, "images")},
		{name: "image pulls node name with space",
			config: imagePulls(`node_names = ["worker 1"]`),
			want:   attributeError("Invalid Node Name", imagePullsAddress, "node_names")},
		{name: "image pulls null node name", config: imagePulls(`node_names = [null]`),
			want: attributeError("Null List Value", imagePullsAddress, "node_names")},
		{name: "image reference uppercase", config: image(
			fmt.Sprintf(`reference = %q`, trapReference("Team/App:1"))),
			want: attributeError("Invalid Image Reference", imageAddress, "reference")},
		{name: "image platform uppercase", config: image(`platform = "Linux/AMD64"`),
			want: attributeError("Invalid Platform", imageAddress, "platform")},
		{name: "image tag with space", config: image(
			fmt.Sprintf(`reference = %q`, trapReference("team/app:release 1"))),
			want: attributeError("Invalid Image Reference", imageAddress, "reference")},
		{name: "image reference not UTF-8",
			config: image(`reference = base64decode("cXVheS5pby/+/w==")`),
			want:   expressionError("Error in function call", "reference")},
		{name: "image platform without architecture", config: image(`platform = "linux"`),
			want: attributeError("Invalid Platform", imageAddress, "platform")},
		{name: "image platform with four parts",
			config: image(`platform = "linux/arm64/v8/extra"`),
			want:   attributeError("Invalid Platform", imageAddress, "platform")},
		{name: "image pull secret namespace uppercase", config: image(
			`pull_secret = { namespace = "Team-A", name = "registry" }`),
			want: messageError("Invalid Kubernetes Name", imageAddress,
				`pull_secret.namespace "Team-A" is not a valid DNS-1123 label`)},
		{name: "image pull secret and global", config: image(
			`pull_secret = { namespace = "team-a", name = "registry" }`,
			`use_global_pull_secret = true`),
			want: attributeError("Conflicting Image Credentials", imageAddress,
				"use_global_pull_secret")},
		{name: "images second reference uppercase", config: images(fmt.Sprintf(
			`references = [%q, %q]`, trapReference("team/app:1"), trapReference("Team/App:2"))),
			want: attributeError("Invalid Image Reference", imagesAddress, "references")},
		{name: "images null reference", config: images(fmt.Sprintf(
			`references = [%q, null]`, trapReference("team/app:1"))),
			want: attributeError("Null List Value", imagesAddress, "references")},
		{name: "images platform with spaces", config: images(`platform = "linux / amd64"`),
			want: attributeError("Invalid Platform", imagesAddress, "platform")},
	})
}

func TestAccBadInputProvider(t *testing.T) {
	env := newBadInputEnv(t)
	// A config.json copied with PowerShell's ">" reaches the provider as UTF-16.
	utf16 := writeUTF16File(t, `{"auths": {}}`)
	// A plain HTTP address of the loopback proxy, so that nothing else could be dialed.
	plainHost := "http://" + strings.TrimPrefix(env.proxy.URL, "https://")
	exec := func(lines string) string {
		return "  exec {\n    command = \"get-token\"\n" + lines + "  }\n"
	}
	// Each case needs an object that uses the provider, so that Terraform configures it.
	uses := badInputPullSecret()
	lookup := hclBlock(`data "imagedist_image" "test"`, []string{
		fmt.Sprintf(`reference = %q`, env.trap.host+"/team/app:1"),
	})
	env.run(t, []badInputCase{
		{name: "registry CA not PEM", provider: `registry_ca_certificates = "ca.crt"`,
			config: lookup,
			want:   providerError("Invalid Registry CA Certificates", "registry_ca_certificates")},
		{name: "insecure registry with scheme",
			provider: `insecure_registries = ["http://registry.internal:5000"]`, config: lookup,
			want: providerError("Invalid Insecure Registry", "insecure_registries")},
		{name: "insecure registry with path",
			provider: `insecure_registries = ["registry.internal:5000/team"]`, config: lookup,
			want: providerError("Invalid Insecure Registry", "insecure_registries")},
		{name: "registry auth file missing",
			provider: `registry_auth_file = "/nonexistent/auth.json"`, config: lookup,
			want: providerError("Unable to Read Registry Auth File", "registry_auth_file")},
		{name: "registry auth file in UTF-16",
			provider: fmt.Sprintf(`registry_auth_file = %q`, utf16), config: lookup,
			want: providerError("Invalid Registry Auth File", "registry_auth_file")},
		{name: "config path and paths",
			provider: fmt.Sprintf(`config_paths = [%q]`, env.kubeconfig), config: uses,
			want: attributeErrorPattern(`Invalid Attribute Combination`, providerAddress,
				`config_paths?`)},
		{name: "client key file name", provider: `client_key = "key.pem"`,
			config: uses, want: providerError("Invalid Client Key", "client_key")},
		{name: "token with newline", provider: `token = "abc.def\n"`, config: uses,
			want: providerError("Invalid Token", "token")},
		{name: "proxy URL without scheme", provider: `proxy_url = "proxy.internal:3128"`,
			config: uses,
			want:   providerError("Invalid Proxy URL", "proxy_url")},
		{name: "cluster CA as file name",
			provider: `cluster_ca_certificate = "/etc/kubernetes/ca.crt"`, config: uses,
			want: providerError("Invalid Cluster CA Certificate", "cluster_ca_certificate")},
		{name: "host with tcp scheme", provider: `host = "tcp://127.0.0.1:6443"`,
			config: uses, want: providerError("Invalid Host", "host")},
		{name: "TLS server name with space", provider: `tls_server_name = "api .example.com"`,
			config: uses, want: providerError("Invalid TLS Server Name", "tls_server_name")},
		{name: "token over plain HTTP", provider: fmt.Sprintf(
			"host = %q\n  token = \"not-a-real-token\"", plainHost), config: uses,
			want: providerError("Credentials Over Plain HTTP", "host")},
		{name: "token and client certificate", provider: "token = \"not-a-real-token\"\n" +
			"  client_certificate = \"cert.pem\"", config: uses,
			want: providerError("Conflicting Credentials", "token")},
		{name: "exec API version alpha", provider: exec(
			"    api_version = \"client.authentication.k8s.io/v1alpha1\"\n"), config: uses,
			want: attributeErrorPattern(`Unsupported Exec API Version`, providerAddress,
				"(exec|api_version)")},
		{name: "exec environment name with value", provider: exec(
			"    api_version = \"client.authentication.k8s.io/v1\"\n" +
				"    env = { \"AWS_PROFILE=prod\" = \"\" }\n"), config: uses,
			want: attributeErrorPattern(`Invalid Exec Environment Variable`, providerAddress,
				"(exec|env)")},
		{name: "exec command empty", provider: "  exec {\n    command = \"\"\n" +
			"    api_version = \"client.authentication.k8s.io/v1\"\n  }\n", config: uses,
			want: attributeErrorPattern(`Missing Exec Command`, providerAddress,
				"(exec|command)")},
		{name: "two exec blocks", provider: strings.Repeat(
			"  exec {\n    api_version = \"client.authentication.k8s.io/v1\"\n"+
				"    command = \"get-token\"\n  }\n", 2), config: uses,
			want: messageErrorPattern(`Invalid Attribute Value`, providerAddress,
				wrappedPattern("Attribute exec list must contain at most 1 elements"))},
	})
}

func TestAccBadInputFunctions(t *testing.T) {
	env := newBadInputEnv(t)
	argument := func(parameter string) *regexp.Regexp {
		return wrappedText(`Invalid value for "` + parameter + `" parameter`)
	}
	output := func(call string) string {
		return "output \"bad\" {\n  value = provider::imagedist::" + call + "\n}\n"
	}
	env.run(t, []badInputCase{
		{name: "parse uppercase repository", functions: true,
			config: output(`parse_image_reference("quay.io/Team/App:1")`),
			want:   argument("reference")},
		{name: "parse empty", functions: true, config: output(`parse_image_reference("")`),
			want: argument("reference")},
		{name: "parse image ID", functions: true, config: output(
			`parse_image_reference("` + strings.Repeat("ab", 32) + `")`),
			want: argument("reference")},
		{name: "registry key with path", functions: true,
			config: output(`registry_key("quay.io/team")`), want: argument("server")},
		{name: "registry key empty", functions: true,
			config: output(`registry_key("")`), want: argument("server")},
		{name: "parse digest without hex", functions: true,
			config: output(`parse_image_reference("quay.io/team/app@sha256:")`),
			want:   argument("reference")},
		{name: "registry key with password", functions: true,
			config: output(`registry_key("https://ci:hunter2@quay.io")`),
			want:   argument("server")},
	})
}
