#!/usr/bin/env bash
# make demo: start a local control plane with seeded nodes and a loopback registry with the
# quickstart's images, and build the provider. Then apply examples/quickstart with Terraform
# through a dev_overrides CLI configuration, print what it did, show that a second apply
# changes nothing, and stop the control plane and the registry.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
demo=$root/.demo
rm -rf "$demo"
mkdir -p "$demo/plugins" "$demo/work"

step() { printf '\n==> %s\n' "$*"; }

step "Building what is missing (the first run builds Kubernetes, etcd and Terraform from source)"
tools/build.sh build etcd kube-apiserver kube-controller-manager kubectl terraform registry
terraform=$(tools/build.sh path terraform)
kubectl=$(tools/build.sh path kubectl)
go build -o "$demo/devcluster" ./internal/testcluster/cmd/devcluster

step "Starting the local control plane and the registry"
"$demo/devcluster" -dir "$demo/cluster" up
stop_cluster() {
  step "Stopping the local control plane and the registry"
  "$demo/devcluster" -dir "$demo/cluster" down
}
trap stop_cluster EXIT
kubeconfig=$demo/cluster/kubeconfig
# Sets registry_host, registry_ca_file, registry_username and registry_password_file.
. "$demo/cluster/registry.env"
echo "Registry: https://$registry_host/ (user $registry_username), with the quickstart's images"

step "Building the provider"
go build -o "$demo/plugins/terraform-provider-imagedist" .
# terraform init needs an installable package even when dev_overrides will replace it at run
# time, so the same binary is also offered from a local filesystem mirror.
mirror_package=$demo/mirror/registry.terraform.io/imagedist/imagedist/0.0.1/linux_amd64
mkdir -p "$mirror_package"
cp "$demo/plugins/terraform-provider-imagedist" \
  "$mirror_package/terraform-provider-imagedist_v0.0.1"
cat > "$demo/terraformrc" <<RC
provider_installation {
  dev_overrides {
    "imagedist/imagedist" = "$demo/plugins"
  }
  filesystem_mirror {
    path    = "$demo/mirror"
    include = ["imagedist/imagedist"]
  }
}
RC
export TF_CLI_CONFIG_FILE=$demo/terraformrc
export TF_IN_AUTOMATION=1
# Without it, Terraform sends a version check to checkpoint-api.hashicorp.com.
export CHECKPOINT_DISABLE=1
# Terraform goes through devcluster's node proxy, which serves each demo node's kubelet
# summary API on loopback, so the quickstart can show image filesystem usage.
export TF_VAR_kubeconfig=$demo/cluster/kubeconfig-node-proxy
export TF_VAR_release_registry=$registry_host/imagedist-demo
export TF_VAR_registry_username=$registry_username
export TF_VAR_registry_ca_file=$registry_ca_file
# The registry's password, random per start. Terraform keeps it out of the plan output.
TF_VAR_registry_password=$(<"$registry_password_file")
export TF_VAR_registry_password
cp examples/quickstart/*.tf "$demo/work/"

step "terraform init (the full log is in .demo/init.log)"
"$terraform" -chdir="$demo/work" init -input=false -no-color > "$demo/init.log" 2>&1 || {
  cat "$demo/init.log"
  exit 1
}
grep -E "successfully initialized" "$demo/init.log"

step "terraform apply (the full log is in .demo/apply.log)"
"$terraform" -chdir="$demo/work" apply -input=false -auto-approve -no-color \
  > "$demo/apply.log" 2>&1 || {
  cat "$demo/apply.log"
  exit 1
}
grep -E "^(data\.|imagedist_)[^ ]*: |^Plan: |^Apply complete" "$demo/apply.log"

step "What Terraform created and read"
echo "Pull secret:"
"$terraform" -chdir="$demo/work" output -no-color pull_secret | sed 's/^/  /'
echo "imagePullSecrets of each linked service account (OpenShift's own entry stays first):"
for account in default builder; do
  printf '  %-8s ' "$account"
  "$kubectl" --kubeconfig "$kubeconfig" -n imagedist-demo get serviceaccount "$account" \
    -o jsonpath='{range .imagePullSecrets[*]}{.name}{"  "}{end}'
  echo
done
echo
echo "Registry mirror:"
"$terraform" -chdir="$demo/work" output -no-color registry_mirror | sed 's/^/  /'
echo "What the ImageDigestMirrorSet holds on the cluster:"
"$kubectl" --kubeconfig "$kubeconfig" get imagedigestmirrorset imagedist-demo-release \
  -o jsonpath='{.spec}' | sed 's/^/  /'
echo
echo
echo "Kubelet image garbage collection (the local control plane plays the machine-config operator):"
"$terraform" -chdir="$demo/work" output -no-color image_gc | sed 's/^/  /'
echo "What the KubeletConfig holds on the cluster:"
"$kubectl" --kubeconfig "$kubeconfig" get kubeletconfig imagedist-demo-image-gc \
  -o jsonpath='{.spec}' | sed 's/^/  /'
echo
echo
echo "Images pre-pulled by imagedist_image_puller, judged from its own pods:"
"$terraform" -chdir="$demo/work" output -raw -no-color prepull_table | sed 's/^/  /'
echo
echo
echo "Download size of each pre-pulled image, read from the registry by imagedist_images:"
"$terraform" -chdir="$demo/work" output -raw -no-color image_sizes | sed 's/^/  /'
echo
echo
echo "Requested images on each worker, then each worker's totals:"
"$terraform" -chdir="$demo/work" output -raw -no-color cache_table | sed 's/^/  /'
echo "  worker-0 lists only its 50 largest images in its status, the kubelet's default cap, so"
echo "  this table can show an image as missing there that the pre-pull table shows as cached."
echo "  Once the image GC settings above reach the nodes, they report every image."

step "A second apply changes nothing"
second=$("$terraform" -chdir="$demo/work" apply -input=false -auto-approve -no-color)
grep -E "^No changes|^Apply complete" <<<"$second"
if ! grep -q "No changes" <<<"$second"; then
  echo "The second apply planned changes; the provider is not idempotent." >&2
  exit 1
fi
