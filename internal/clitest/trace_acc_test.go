package clitest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/imagedist/terraform-provider-imagedist/internal/testcluster"
)

// traceExtraConfig adds what the quickstart lacks: an entry in the global pull secret, a
// single-image look-up through a pull secret, and the kubelet's pull events.
const traceExtraConfig = `
variable "cluster_token" {
  type      = string
  sensitive = true
}

resource "imagedist_cluster_pull_secret" "mirror" {
  server   = "trace-mirror.example.com:5000"
  username = "cluster-puller"
  password = var.cluster_token
}

data "imagedist_image" "checkout" {
  reference = local.release_images.checkout
  platform  = "linux/amd64"

  pull_secret = {
    namespace = imagedist_pull_secret.registries.namespace
    name      = imagedist_pull_secret.registries.name
  }
}

data "imagedist_image_pulls" "demo" {
  namespace  = var.namespace
  since      = "1h"
  depends_on = [imagedist_image_puller.release]
}
`

// traceFailingConfig looks an image up with a wrong password, so the run ends with the
// registry's rejection.
const traceFailingConfig = `
terraform {
  required_providers {
    imagedist = {
      source = "imagedist/imagedist"
    }
  }
}

variable "auth_file" {
  type = string
}

variable "registry_ca_file" {
  type = string
}

variable "reference" {
  type = string
}

provider "imagedist" {
  registry_auth_file       = var.auth_file
  registry_ca_certificates = file(var.registry_ca_file)
}

data "imagedist_image" "checkout" {
  reference = var.reference
}
`

// TestAccTraceLogKeepsCredentialsOut runs the quickstart and every other resource and data
// source through plan, apply, update, import, a failed look-up and destroy with TF_LOG=trace,
// and checks that no credential appears in anything the CLI printed.
func TestAccTraceLogKeepsCredentialsOut(t *testing.T) {
	program := requireCLI(t)
	cluster := startDevCluster(t)
	root, err := testcluster.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	quickstart, err := os.ReadFile(filepath.Join(root, "examples", "quickstart", "main.tf"))
	if err != nil {
		t.Fatal(err)
	}

	const (
		firstToken  = "trace-first-token-4f1c9a"
		secondToken = "trace-second-token-77b2e0"
		wrongSecret = "trace-wrong-password-c3d8"
	)
	work := newWorkDir(t, program, map[string]string{
		"main.tf":  string(quickstart),
		"extra.tf": traceExtraConfig,
	})
	variables := []string{
		"TF_LOG=trace",
		"TF_VAR_kubeconfig=" + cluster.Kubeconfig,
		"TF_VAR_release_registry=" + cluster.RegistryHost + "/imagedist-demo",
		"TF_VAR_registry_username=" + cluster.RegistryUsername,
		"TF_VAR_registry_password=" + cluster.RegistryPassword,
		"TF_VAR_registry_ca_file=" + cluster.RegistryCAFile,
	}
	withToken := func(token string) []string {
		return append(append([]string(nil), variables...), "TF_VAR_cluster_token="+token)
	}

	known := []string{firstToken, secondToken, wrongSecret, cluster.RegistryPassword}
	var transcript strings.Builder
	step := func(name string, env []string, expectedCode int, args ...string) {
		t.Helper()
		output, code := work.run(t, env, args...)
		transcript.WriteString(output)
		if code != expectedCode {
			t.Errorf("%s exited with %d, expected %d; the output ends:\n%s", name, code,
				expectedCode, redactAll(lastLines(output, 30), known))
		}
	}

	step("apply", withToken(firstToken), 0, "apply", "-auto-approve", "-no-color")
	step("plan after apply", withToken(firstToken), 0, "plan", "-detailed-exitcode", "-no-color")
	step("apply with a new token", withToken(secondToken), 0, "apply", "-auto-approve",
		"-no-color")
	step("state rm", withToken(secondToken), 0, "state", "rm",
		"imagedist_cluster_pull_secret.mirror")
	step("import", withToken(secondToken), 0, "import", "-no-color",
		"imagedist_cluster_pull_secret.mirror", "trace-mirror.example.com:5000")
	step("refresh", withToken(secondToken), 0, "apply", "-refresh-only", "-auto-approve",
		"-no-color")

	credentials := clusterCredentials(t, cluster.Kubeconfig)
	credentials.add("the first cluster token", firstToken,
		basicAuth("cluster-puller", firstToken))
	credentials.add("the second cluster token", secondToken,
		basicAuth("cluster-puller", secondToken))
	credentials.add("the wrong registry password", wrongSecret,
		basicAuth(cluster.RegistryUsername, wrongSecret))
	credentials.add("the registry password", cluster.RegistryPassword,
		basicAuth(cluster.RegistryUsername, cluster.RegistryPassword))
	secrets := credentials.values

	failing := newWorkDir(t, program, map[string]string{"main.tf": traceFailingConfig})
	authFile := filepath.Join(t.TempDir(), "auth.json")
	writeAuthFile(t, authFile, cluster.RegistryHost, cluster.RegistryUsername, wrongSecret)
	failingOutput, _ := failing.run(t, []string{
		"TF_LOG=trace",
		"TF_VAR_auth_file=" + authFile,
		"TF_VAR_registry_ca_file=" + cluster.RegistryCAFile,
		"TF_VAR_reference=" + cluster.RegistryHost + "/imagedist-demo/checkout:2.4.1",
	}, "plan", "-no-color")
	transcript.WriteString(failingOutput)
	if !strings.Contains(failingOutput, "401") && !strings.Contains(failingOutput, "rejected") {
		t.Errorf("the look-up with a wrong password did not fail with the registry's "+
			"rejection; its output ends:\n%s", redactAll(lastLines(failingOutput, 15), secrets))
	}

	step("destroy", withToken(secondToken), 0, "destroy", "-auto-approve", "-no-color")

	output := transcript.String()
	for _, marker := range []string{"[TRACE]", "provider.terraform-provider-imagedist",
		"imagedist_cluster_pull_secret.mirror", "imagedist_kubelet_image_gc.workers"} {
		if !strings.Contains(output, marker) {
			t.Errorf("the trace output lacks %q, so it does not show what this test expects "+
				"to check", marker)
		}
	}
	for _, secret := range secrets {
		if position := strings.Index(output, secret); position >= 0 {
			t.Errorf("%s appears in the CLI output at byte %d: %s", credentials.labels[secret],
				position, redactAll(around(output, position, len(secret)), secrets))
		}
	}
	t.Logf("checked %d credentials against %d bytes of CLI output", len(secrets), len(output))
}

// credentialSet holds credentials, each with a label that names it in failure messages.
type credentialSet struct {
	values []string
	labels map[string]string
}

// add adds values under label. It skips values already added and values too short to
// distinguish from ordinary text.
func (c *credentialSet) add(label string, values ...string) {
	if c.labels == nil {
		c.labels = map[string]string{}
	}
	for _, value := range values {
		if len(value) < 8 || c.labels[value] != "" {
			continue
		}
		c.labels[value] = label
		c.values = append(c.values, value)
	}
}

// clusterCredentials returns the credentials that the cluster and its kubeconfig hold: the
// client key of the kubeconfig, and the content, entries and passwords of every docker
// config Secret.
func clusterCredentials(t *testing.T, kubeconfig string) *credentialSet {
	t.Helper()
	config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	credentials := &credentialSet{}
	credentials.add("a line of the kubeconfig's client key", pemBodyLines(config.KeyData)...)
	credentials.add("the kubeconfig's client key in base64",
		base64.StdEncoding.EncodeToString(config.KeyData))

	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	list, err := client.CoreV1().Secrets("").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	docker := 0
	for _, secret := range list.Items {
		object := secret.Namespace + "/" + secret.Name
		for key, data := range secret.Data {
			var document struct {
				Auths map[string]struct {
					Auth     string `json:"auth"`
					Password string `json:"password"`
				} `json:"auths"`
			}
			if json.Unmarshal(data, &document) != nil || len(document.Auths) == 0 {
				continue
			}
			docker++
			credentials.add(fmt.Sprintf("the %s of Secret %s in base64", key, object),
				base64.StdEncoding.EncodeToString(data))
			for registry, entry := range document.Auths {
				label := fmt.Sprintf("the credentials for %s in Secret %s", registry, object)
				credentials.add(label, entry.Auth, entry.Password)
				if decoded, err := base64.StdEncoding.DecodeString(entry.Auth); err == nil {
					if _, password, found := strings.Cut(string(decoded), ":"); found {
						credentials.add(label, password)
					}
				}
			}
		}
	}
	if docker < 2 {
		t.Errorf("found %d docker config Secrets, expected the quickstart's and the global "+
			"pull secret", docker)
	}
	return credentials
}

// pemBodyLines returns the base64 lines of a PEM block, each of which is unique to the key.
func pemBodyLines(pemData []byte) []string {
	var lines []string
	for _, line := range strings.Split(string(pemData), "\n") {
		if len(line) >= 40 && !strings.HasPrefix(line, "-----") {
			lines = append(lines, line)
		}
	}
	return lines
}

func basicAuth(username, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(username + ":" + password))
}

func writeAuthFile(t *testing.T, path, host, username, password string) {
	t.Helper()
	content := fmt.Sprintf(`{"auths": {%q: {"auth": %q}}}`, host, basicAuth(username, password))
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// redactAll replaces every secret in text, so a failure message shows context but no
// credential.
func redactAll(text string, secrets []string) string {
	for _, secret := range secrets {
		text = strings.ReplaceAll(text, secret, "<credential>")
	}
	return text
}

// around returns up to 100 bytes of text on each side of the match at position.
func around(text string, position, length int) string {
	start := max(position-100, 0)
	end := min(position+length+100, len(text))
	return text[start:end]
}

func lastLines(text string, count int) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	return strings.Join(lines[max(len(lines)-count, 0):], "\n")
}
