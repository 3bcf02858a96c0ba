# Quickstart: a pull secret linked to service accounts, a registry mirror, image garbage
# collection on the workers, and the image cache of every worker.
# `make demo` applies this configuration to a local control plane; to use it on your own
# cluster, set kubeconfig and registry_password and change the namespace, mirrors and images.
# On OpenShift, applying imagedist_kubelet_image_gc drains and reboots every worker, one
# batch at a time: remove it before you try this on a cluster that serves traffic.

terraform {
  required_providers {
    imagedist = {
      source = "imagedist/imagedist"
    }
  }
}

variable "kubeconfig" {
  description = "Path of the kubeconfig file of the cluster to manage."
  type        = string
}

variable "registry_password" {
  description = "Password of the ci-bot account on registry.example.com."
  type        = string
  sensitive   = true
}

variable "namespace" {
  description = "Namespace of the pull secret and the service accounts that use it."
  type        = string
  default     = "imagedist-demo"
}

provider "imagedist" {
  config_path = var.kubeconfig
}

# One secret for two registries. The trailing slash and scheme are normalised away, the way
# the kubelet matches registry keys, so the next plan shows no diff.
resource "imagedist_pull_secret" "registries" {
  name      = "registry-credentials"
  namespace = var.namespace

  registry {
    server   = "https://registry.example.com/"
    username = "ci-bot"
    password = var.registry_password
  }

  registry {
    server   = "quay.io"
    username = "imagedist-demo+puller"
    password = var.registry_password
  }

  labels = {
    "app.kubernetes.io/managed-by" = "terraform"
  }

  # Adds the secret to each account's imagePullSecrets and keeps every other entry, such as
  # the <account>-dockercfg-* entry that OpenShift adds itself.
  link_service_accounts = ["default", "builder"]
}

# Digest pulls of the demo images try the internal mirror first and quay.io itself when the
# mirror fails. Adding digest mirror rules only reloads CRI-O on the nodes.
resource "imagedist_registry_mirror" "quay" {
  name = "imagedist-demo-quay"

  mirror {
    source               = "quay.io/imagedist-demo"
    mirrors              = ["mirror.example.com:5000/imagedist-demo"]
    mirror_source_policy = "AllowContactingSource"
  }
}

# Image garbage collection on the workers: collect unused images when the image disk is 85%
# full, down to 75%, never ones pulled less than 10 minutes ago, and report every image in
# node status so that imagedist_node_images below sees all of them. The plan rejects values
# the kubelet would reject, such as a low threshold above the high one.
resource "imagedist_kubelet_image_gc" "workers" {
  name                = "imagedist-demo-image-gc"
  machine_config_pool = "worker"

  high_threshold_percent = 85
  low_threshold_percent  = 75
  minimum_gc_age         = "10m"
  node_status_max_images = -1

  # Apply returns once every worker runs the new kubelet configuration.
  wait_for_rollout = true
}

# Pre-pull two images of the release onto every worker and keep them cached, so pods that use
# them start at once. Apply returns when every worker has both.
resource "imagedist_image_puller" "release" {
  namespace = var.namespace
  name      = "release-images"

  images = {
    checkout = "quay.io/imagedist-demo/checkout:2.4.1"
    frontend = "ghcr.io/imagedist-demo/frontend:5.2.0"
  }

  node_selector = {
    "node-role.kubernetes.io/worker" = ""
  }
  image_pull_secrets = [imagedist_pull_secret.registries.name]
}

# Which of the images a release needs are already cached on which worker.
data "imagedist_node_images" "workers" {
  label_selector = "node-role.kubernetes.io/worker"
  # Read the nodes after the pre-pull. A node's status lists only its largest images, 50 by
  # default, so a node at that cap is flagged as possibly truncated: imagedist_image_puller
  # judges from its own pods instead.
  depends_on = [imagedist_image_puller.release]
  images = [
    "quay.io/imagedist-demo/checkout:2.4.1",
    "registry.example.com/payments/api:3.8.2",
    "ghcr.io/imagedist-demo/frontend:5.2.0",
    "nginx:1.27",
  ]
}

locals {
  workers    = data.imagedist_node_images.workers
  node_names = [for node in local.workers.nodes : node.name]
  column     = "%-22s"

  table_header = trimspace(format("%-44s %s", "IMAGE",
  join("", [for name in local.node_names : format(local.column, name)])))
  table_rows = [
    for image in local.workers.image_nodes : trimspace(format("%-44s %s", image.reference,
      join("", [
        for name in local.node_names :
        format(local.column, contains(image.node_names, name) ? "cached" : "missing")
    ])))
  ]
  node_lines = [
    for node in local.workers.nodes : format("%-22s %-11s %3d images %7.1f GiB%s",
      node.name, node.container_runtime, node.image_count,
      node.total_size_bytes / 1073741824,
    node.possibly_truncated ? "  (list may be truncated: it is at the kubelet's cap)" : "")
  ]
}

output "pull_secret" {
  description = "The pull secret and the registry keys it serves."
  value = {
    id            = imagedist_pull_secret.registries.id
    registry_keys = [for registry in imagedist_pull_secret.registries.registry : registry.registry_key]
  }
}

output "linked_service_accounts" {
  description = "Service accounts that pull with the secret."
  value       = imagedist_pull_secret.registries.link_service_accounts
}

output "registry_mirror" {
  description = "The mirror set objects and their rules."
  value = {
    objects = imagedist_registry_mirror.quay.object_kinds
    rules = [
      for rule in imagedist_registry_mirror.quay.mirror :
      "${rule.source} -> ${join(", ", rule.mirrors)} (${rule.mirror_source_policy})"
    ]
  }
}

output "image_gc" {
  description = "The KubeletConfig, the machine-config operator's verdict and each pool's rollout."
  value = {
    kubelet_config = imagedist_kubelet_image_gc.workers.id
    verdict        = imagedist_kubelet_image_gc.workers.verdict
    pool_rollout   = imagedist_kubelet_image_gc.workers.pool_rollout
  }
}

output "prepull_table" {
  description = "Each worker's puller pod and the images it has cached."
  value = join("\n", concat(
    [format("%-22s %-6s %-20s %s", "NODE", "READY", "CACHED", "MISSING")],
    [
      for node in imagedist_image_puller.release.nodes : format("%-22s %-6s %-20s %s",
        node.name, node.ready ? "yes" : "no", join(",", node.cached),
      length(node.missing) > 0 ? join(",", node.missing) : "-")
    ],
    ["", format("%d of %d workers have every image.",
    imagedist_image_puller.release.nodes_cached, imagedist_image_puller.release.node_count)]
  ))
}

output "cache_table" {
  description = "Which requested image is cached on which worker, then each worker's totals."
  value = join("\n", concat(
    [local.table_header], local.table_rows, [""], local.node_lines, [""]
  ))
}
