# Quickstart: a pull secret linked to service accounts, and the image cache of every worker.
# `make demo` applies this configuration to a local control plane; to use it on your own
# cluster, set kubeconfig and registry_password and change the namespace and images.

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

# Which of the images a release needs are already cached on which worker.
data "imagedist_node_images" "workers" {
  label_selector = "node-role.kubernetes.io/worker"
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

output "cache_table" {
  description = "Which requested image is cached on which worker, then each worker's totals."
  value = join("\n", concat(
    [local.table_header], local.table_rows, [""], local.node_lines, [""]
  ))
}
