#!/usr/bin/env bash
# Runs the test suites and prints how many tests passed, failed and were skipped.
#
#   tools/run-tests.sh all              unit tests, short fuzz runs, docs check, acceptance
#                                       under Terraform, least-privilege, then under OpenTofu
#   tools/run-tests.sh unit             vet, gofmt and unit tests only
#   tools/run-tests.sh fuzz             each fuzz target for FUZZ_TIME (default 10s)
#   tools/run-tests.sh terraform        acceptance tests under Terraform
#   tools/run-tests.sh least-privilege  internal/provider's acceptance tests under Terraform,
#                                       with the provider running as a service account bound
#                                       only to the roles in examples/rbac
#   tools/run-tests.sh tofu             acceptance tests under OpenTofu
#
# Acceptance tests start their own local control plane (internal/testcluster). Logs go to
# .test-logs/, with the fault tests' matrix in fault-matrix-terraform.md and -tofu.md.
# GO_TEST_TIMEOUT bounds each go test run (default 40m). IMAGEDIST_LONG_TESTS=1 adds the long
# variants of the reliability tests, as `make test-long` does.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
log_dir=$root/.test-logs
mkdir -p "$log_dir"
timeout=${GO_TEST_TIMEOUT:-40m}
failed_suites=()

# count_results prints "passed failed skipped" for the `go test -v` output in a log.
count_results() {
  awk '
    /^[[:space:]]*--- PASS/ { passed++ }
    /^[[:space:]]*--- FAIL/ { failed++ }
    /^[[:space:]]*--- SKIP/ { skipped++ }
    /^FAIL[[:space:]]/ && !/^FAIL[[:space:]]*$/ { build_failed++ }
    END { printf "%d %d %d %d\n", passed, failed, skipped, build_failed }
  ' "$1"
}

total_passed=0 total_failed=0 total_skipped=0

# run_suite NAME COMMAND... runs one suite, keeps its log and adds its counts to the totals.
run_suite() {
  local name=$1
  shift
  local log=$log_dir/$name.log status=0
  echo "==> $name: $*"
  "$@" 2>&1 | tee "$log" || status=$?
  read -r passed failed skipped packages_failed < <(count_results "$log")
  echo "==> $name: $passed passed, $failed failed, $skipped skipped"
  total_passed=$((total_passed + passed))
  total_failed=$((total_failed + failed))
  total_skipped=$((total_skipped + skipped))
  if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$packages_failed" -ne 0 ]; then
    failed_suites+=("$name")
  fi
}

check_format() {
  local unformatted
  unformatted=$(gofmt -l $(git ls-files '*.go' | grep -v '^tools/') 2>&1 || true)
  if [ -n "$unformatted" ]; then
    echo "gofmt would change:"
    echo "$unformatted"
    return 1
  fi
  go vet ./...
}

unit() {
  echo "==> static checks: gofmt, go vet"
  check_format || failed_suites+=("static-checks")
  run_suite unit go test -count=1 -v -timeout "$timeout" -skip '^TestAcc' ./...
}

docs() {
  echo "==> docs: docs/ must match what tfplugindocs generates"
  tools/docs.sh check || failed_suites+=("docs")
}

# fuzz runs each fuzz target for FUZZ_TIME (default 10s), starting from the seeds in the test
# and the corpus committed under testdata/fuzz. A longer run: FUZZ_TIME=10m tools/run-tests.sh fuzz.
fuzz() {
  local target package
  while read -r target package; do
    run_suite "fuzz-$target" go test -count=1 -v -run '^$' -fuzz "^$target\$" \
      -fuzztime "${FUZZ_TIME:-10s}" "$package"
  done <<'TARGETS'
FuzzParse ./internal/imageref
FuzzRegistryKey ./internal/imageref
FuzzEncodeDecode ./internal/dockerconfig
FuzzDecodeEdit ./internal/dockerconfig
FuzzLocationGrammar ./internal/mirrors
TARGETS
}

acceptance() {
  local cli=$1 binary
  binary=$(tools/build.sh path "$cli")
  # An empty CLI configuration keeps the machine's own (dev_overrides, mirrors, or a
  # TF_CLI_CONFIG_FILE naming a missing file, which OpenTofu warns about) out of the tests.
  local cli_config=$log_dir/empty.tfrc
  : > "$cli_config"
  # The fault tests write their matrix of fault, resource and outcome there.
  local -a env=(TF_ACC=1 "TF_ACC_TERRAFORM_PATH=$binary" "TF_CLI_CONFIG_FILE=$cli_config"
    "IMAGEDIST_FAULT_MATRIX=$log_dir/fault-matrix-$cli.md")
  if [ "$cli" = tofu ]; then
    # OpenTofu resolves unqualified provider addresses against its own registry host.
    env+=("TF_ACC_PROVIDER_HOST=registry.opentofu.org")
  fi
  run_suite "acceptance-$cli" env "${env[@]}" \
    go test -count=1 -v -timeout "$timeout" -run '^TestAcc' ./...
}

# acceptance_least_privilege runs the provider's acceptance tests under Terraform with
# IMAGEDIST_ACC_IDENTITY=least-privilege. internal/testcluster then binds the ClusterRole and
# Roles in examples/rbac to a service account that the provider authenticates as, so a rule
# that the shipped files lack fails a test.
acceptance_least_privilege() {
  local binary cli_config=$log_dir/empty.tfrc
  binary=$(tools/build.sh path terraform)
  : > "$cli_config"
  run_suite acceptance-least-privilege env TF_ACC=1 "TF_ACC_TERRAFORM_PATH=$binary" \
    "TF_CLI_CONFIG_FILE=$cli_config" IMAGEDIST_ACC_IDENTITY=least-privilege \
    go test -count=1 -v -timeout "$timeout" -run '^TestAcc' ./internal/provider/
}

case ${1:-all} in
  all)
    tools/build.sh build
    unit
    fuzz
    docs
    acceptance terraform
    acceptance_least_privilege
    acceptance tofu
    ;;
  unit) unit ;;
  fuzz) fuzz ;;
  terraform) acceptance terraform ;;
  least-privilege) acceptance_least_privilege ;;
  tofu) acceptance tofu ;;
  *)
    echo "usage: tools/run-tests.sh all|unit|fuzz|terraform|least-privilege|tofu" >&2
    exit 2
    ;;
esac

echo
if [ ${#failed_suites[@]} -gt 0 ]; then
  echo "Failed: ${failed_suites[*]} (logs in $log_dir)"
fi
echo "Total: $total_passed passed, $total_failed failed, $total_skipped skipped"
[ ${#failed_suites[@]} -eq 0 ]
