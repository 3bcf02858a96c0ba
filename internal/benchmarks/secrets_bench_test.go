package benchmarks

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/imagedist/terraform-provider-imagedist/internal/testcluster"
)

const (
	// secretsCount is the number of imagedist_pull_secret resources, and
	// secretsServiceAccounts the number of service accounts they link. Each secret links
	// secretsLinksPerSecret accounts, so each account is linked by
	// secretsCount*secretsLinksPerSecret/secretsServiceAccounts secrets.
	secretsCount           = 200
	secretsServiceAccounts = 50
	secretsLinksPerSecret  = 2

	secretsNamespace = "bench-pull-secrets"

	// secretsCommandTimeout bounds one terraform command.
	secretsCommandTimeout = 10 * time.Minute
	// secretsSetupTimeout bounds the control plane's start and the seeding.
	secretsSetupTimeout = 5 * time.Minute
)

// Metric units of this group besides unitPeakRSS, unitProviderPeakRSS and unitAPIRequests.
const (
	// secretsUnitRequestsPerResource is unitAPIRequests divided by secretsCount.
	secretsUnitRequestsPerResource = "api-requests-per-resource"
	// secretsUnitListRequests counts LIST and WATCH requests.
	secretsUnitListRequests = "list-requests"
	// secretsUnitConflicts counts requests that failed with 409 Conflict.
	secretsUnitConflicts = "conflicts"
)

// secretsEnv is a control plane with the namespace and service accounts of the
// configuration, and a Terraform working directory with that configuration.
type secretsEnv struct {
	client      kubernetes.Interface
	terraform   string
	dir         string
	environment []string
	// applied is whether the resources exist, as after apply and before destroy.
	applied bool
}

// secretsRun is what one measured terraform command did.
type secretsRun struct {
	command  commandRun
	requests secretsRequestCounts
}

// BenchmarkPullSecrets runs the Terraform CLI, with the provider binary through
// dev_overrides, on a configuration of 200 imagedist_pull_secret resources in one
// namespace, each linked to 2 of 50 service accounts, so each account is linked by 8
// secrets. The control plane runs without kube-controller-manager, so only the provider and
// the API server's own upkeep send requests, and each service account starts with one
// imagePullSecrets entry of its own, as OpenShift adds one.
//
// Variants: apply creates everything from an empty state. plan-refresh plans with no
// changes, which reads every resource once. destroy removes everything. Each reports the
// API requests that it caused, counted from apiserver_request_total in the API server's
// /metrics before and after the command: api-requests in all, api-requests-per-resource
// (divided by 200), list-requests (LIST and WATCH) and conflicts (responses 409). Only
// requests on secrets and service accounts count, and the test log lists every request
// that the API server counted in that time. peak-rss-MiB and provider-peak-rss-MiB are as
// runMeasured reports them.
func BenchmarkPullSecrets(b *testing.B) {
	requireBench(b)
	env := secretsStartEnv(b)

	b.Run(fmt.Sprintf("secrets=%d", secretsCount), func(b *testing.B) {
		b.Run("apply", func(b *testing.B) {
			env.bench(b, false, "apply", "-auto-approve")
		})
		b.Run("plan-refresh", func(b *testing.B) {
			env.bench(b, true, "plan")
		})
		b.Run("destroy", func(b *testing.B) {
			env.bench(b, true, "destroy", "-auto-approve")
		})
	})
}

// bench runs `terraform ARGS` b.N times. Before each run it applies or destroys the
// configuration, outside the measurement, so that the resources exist exactly when applied
// is true.
func (e *secretsEnv) bench(b *testing.B, applied bool, args ...string) {
	b.StopTimer()
	var runs []secretsRun
	for range b.N {
		e.prepare(b, applied)
		run, err := e.measure(b, args...)
		if err != nil {
			b.Fatal(err)
		}
		if err := e.check(context.Background()); err != nil {
			b.Fatal(err)
		}
		runs = append(runs, run)
	}
	secretsReport(b, runs)
}

// prepare applies the configuration when applied is true and it is not applied, and destroys
// it in the opposite case.
func (e *secretsEnv) prepare(b *testing.B, applied bool) {
	b.Helper()
	if e.applied == applied {
		return
	}
	command := "destroy"
	if applied {
		command = "apply"
	}
	ctx, cancel := context.WithTimeout(context.Background(), secretsCommandTimeout)
	defer cancel()
	cmd := e.command(ctx, command, "-auto-approve")
	if output, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("terraform %s: %v\n%s", command, err, lastLines(string(output), 30))
	}
	e.applied = applied
	if err := e.check(ctx); err != nil {
		b.Fatal(err)
	}
}

// measure runs `terraform ARGS` with the timer on and returns its memory and the requests
// that the API server counted meanwhile. A plan must find no changes.
func (e *secretsEnv) measure(b *testing.B, args ...string) (secretsRun, error) {
	ctx, cancel := context.WithTimeout(context.Background(), secretsCommandTimeout)
	defer cancel()
	before, err := secretsReadRequestCounts(ctx, e.client)
	if err != nil {
		return secretsRun{}, err
	}

	var stdout bytes.Buffer
	cmd := e.command(ctx, args...)
	cmd.Stdout = &stdout
	command, err := runMeasured(b, cmd)
	if err != nil {
		return secretsRun{}, fmt.Errorf("%w\n%s", err, lastLines(stdout.String(), 30))
	}
	switch args[0] {
	case "apply":
		e.applied = true
	case "destroy":
		e.applied = false
	case "plan":
		if !strings.Contains(stdout.String(), "No changes.") {
			return secretsRun{}, fmt.Errorf("terraform plan after apply found changes:\n%s",
				lastLines(stdout.String(), 40))
		}
	}

	after, err := secretsReadRequestCounts(ctx, e.client)
	if err != nil {
		return secretsRun{}, err
	}
	requests := after.minus(before)
	b.Logf("terraform %s: requests the API server counted:\n%s", args[0], requests)
	return secretsRun{command: command, requests: requests}, nil
}

// secretsReport reports the largest peak memory of the runs and their mean request counts.
func secretsReport(b *testing.B, runs []secretsRun) {
	var peak, providerPeak, requests, lists, conflicts float64
	for _, run := range runs {
		peak = max(peak, run.command.maxRSSMiB)
		providerPeak = max(providerPeak, run.command.descendantsPeakMiB)
		requests += run.requests.sum(secretsProviderRequest)
		lists += run.requests.sum(func(key secretsRequestKey) bool {
			return secretsProviderRequest(key) && (key.verb == "LIST" || key.verb == "WATCH")
		})
		conflicts += run.requests.sum(func(key secretsRequestKey) bool {
			return secretsProviderRequest(key) && key.code == "409"
		})
	}
	count := float64(len(runs))
	b.ReportMetric(peak, unitPeakRSS)
	b.ReportMetric(providerPeak, unitProviderPeakRSS)
	b.ReportMetric(requests/count, unitAPIRequests)
	b.ReportMetric(requests/count/secretsCount, secretsUnitRequestsPerResource)
	b.ReportMetric(lists/count, secretsUnitListRequests)
	b.ReportMetric(conflicts/count, secretsUnitConflicts)
}

// secretsProviderRequest selects the requests that count: those on the kinds that
// imagedist_pull_secret reads and writes.
func secretsProviderRequest(key secretsRequestKey) bool {
	return key.resource == "secrets" || key.resource == "serviceaccounts"
}

func (e *secretsEnv) command(ctx context.Context, args ...string) *exec.Cmd {
	full := append([]string{"-chdir=" + e.dir}, args...)
	full = append(full, "-input=false", "-no-color")
	cmd := exec.CommandContext(ctx, e.terraform, full...)
	cmd.Env = e.environment
	return cmd
}

// check compares the cluster with the state that the last command left. With the resources
// applied, every secret exists, and every service account lists its own entry first and
// then each secret linked to it. Without them, no secret exists and each account lists only
// its own entry.
func (e *secretsEnv) check(ctx context.Context) error {
	accounts, err := e.client.CoreV1().ServiceAccounts(secretsNamespace).List(ctx,
		metav1.ListOptions{})
	if err != nil {
		return err
	}
	if len(accounts.Items) != secretsServiceAccounts {
		return fmt.Errorf("namespace %s has %d service accounts, expected %d",
			secretsNamespace, len(accounts.Items), secretsServiceAccounts)
	}
	perAccount := secretsCount * secretsLinksPerSecret / secretsServiceAccounts
	for _, account := range accounts.Items {
		want := 1
		if e.applied {
			want += perAccount
		}
		references := account.ImagePullSecrets
		if len(references) != want || references[0].Name != secretsOwnEntry(account.Name) {
			return fmt.Errorf("service account %s has imagePullSecrets %v, expected its "+
				"own entry first and %d entries in all", account.Name, references, want)
		}
	}

	secrets, err := e.client.CoreV1().Secrets(secretsNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	want := 0
	if e.applied {
		want = secretsCount
	}
	if len(secrets.Items) != want {
		return fmt.Errorf("namespace %s has %d secrets, expected %d", secretsNamespace,
			len(secrets.Items), want)
	}
	return nil
}

// secretsStartEnv starts a control plane for b, seeds it and writes the configuration. The
// control plane stops when b ends.
func secretsStartEnv(b *testing.B) *secretsEnv {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), secretsSetupTimeout)
	defer cancel()

	terraform, err := programPath("terraform")
	if err != nil {
		b.Fatal(err)
	}
	cluster, err := testcluster.Start(ctx, testcluster.Options{
		WithoutControllerManager: true,
		SkipCRDs:                 true,
		Logf:                     logProgress,
	})
	if err != nil {
		b.Fatalf("starting the control plane: %v", err)
	}
	b.Cleanup(cluster.Stop)
	client, err := cluster.Clientset()
	if err != nil {
		b.Fatal(err)
	}
	if err := secretsSeed(ctx, client); err != nil {
		b.Fatal(err)
	}

	dir, environment, err := terraformWorkdir(b.TempDir(), "pull-secrets",
		secretsConfiguration(cluster.KubeconfigPath))
	if err != nil {
		b.Fatal(err)
	}
	return &secretsEnv{client: client, terraform: terraform, dir: dir,
		environment: environment}
}

// secretsSeed creates the namespace and the service accounts, each with one
// imagePullSecrets entry of its own.
func secretsSeed(ctx context.Context, client kubernetes.Interface) error {
	if err := testcluster.CreateNamespace(ctx, client, secretsNamespace, nil); err != nil {
		return err
	}
	for i := range secretsServiceAccounts {
		name := secretsServiceAccountName(i)
		account := &corev1.ServiceAccount{
			ObjectMeta:       metav1.ObjectMeta{Name: name},
			ImagePullSecrets: []corev1.LocalObjectReference{{Name: secretsOwnEntry(name)}},
		}
		_, err := client.CoreV1().ServiceAccounts(secretsNamespace).Create(ctx, account,
			metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("creating service account %s: %w", name, err)
		}
	}
	return nil
}

func secretsServiceAccountName(i int) string {
	return fmt.Sprintf("sa-%02d", i)
}

// secretsOwnEntry is the imagePullSecrets entry that each service account starts with, named
// like the <account>-dockercfg-<suffix> entry that OpenShift adds.
func secretsOwnEntry(account string) string {
	return account + "-dockercfg-bench"
}

// secretsConfiguration returns the configuration: secret i links service accounts i mod 50
// and (i+25) mod 50. The registry host is in the reserved .invalid domain, and nothing
// contacts it.
func secretsConfiguration(kubeconfig string) string {
	return fmt.Sprintf(`terraform {
  required_providers {
    imagedist = {
      source = "imagedist/imagedist"
    }
  }
}

provider "imagedist" {
  config_path    = %q
  config_context = %q
}

locals {
  service_accounts = [for i in range(%d) : format("sa-%%02d", i)]
}

resource "imagedist_pull_secret" "bench" {
  count     = %d
  namespace = %q
  name      = format("pull-%%03d", count.index)
  link_service_accounts = [
    local.service_accounts[count.index %% %d],
    local.service_accounts[(count.index + %d) %% %d],
  ]

  registry {
    server   = "registry.bench.invalid"
    username = "bench"
    password = format("bench-password-%%03d", count.index)
  }
}
`, kubeconfig, testcluster.ContextName, secretsServiceAccounts, secretsCount,
		secretsNamespace, secretsServiceAccounts, secretsServiceAccounts/2,
		secretsServiceAccounts)
}
