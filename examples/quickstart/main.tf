# Quickstart: a pull secret linked to service accounts, a registry mirror, image garbage
# collection on the workers, the pre-pull of two release images and their download sizes, and
# the image cache of every worker.
# `make demo` applies this configuration to a local control plane and a local registry; to
# use it on your own cluster, set kubeconfig and registry_password and change the namespace,
# registries, mirrors and images.
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

variable "release_registry" {
  description = "Registry host and namespace that the release images come from."
  type        = string
  default     = "quay.io/imagedist-demo"
}

variable "registry_username" {
  description = "Account on the release registry and its mirror that the nodes pull with."
  type        = string
  default     = "ci-bot"
}

variable "registry_password" {
  description = "Password of registry_username."
  type        = string
  sensitive   = true
}

variable "registry_ca_file" {
  description = "PEM file of the CA that signed the release registry's certificate, if the system does not trust it."
  type        = string
  default     = ""
}

variable "namespace" {
  description = "Namespace of the pull secret and the service accounts that use it."
  type        = string
  default     = "imagedist-demo"
}

provider "imagedist" {
  config_path = var.kubeconfig
  # Trusted, besides the system's CAs, when imagedist_images below reads the release registry.
  registry_ca_certificates = var.registry_ca_file != "" ? file(var.registry_ca_file) : null
}

locals {
  release_registry_host = split("/", var.release_registry)[0]
  release_images = {
    checkout = "${var.release_registry}/checkout:2.4.1"
    frontend = "${var.release_registry}/frontend:5.2.0"
  }
}

# One secret for the release registry and its mirror, with the same account on both. The
# scheme and trailing slash are normalised away, the way the kubelet matches registry keys,
# so the next plan shows no diff.
resource "imagedist_pull_secret" "registries" {
  name      = "registry-credentials"
  namespace = var.namespace

  registry {
    server   = "https://${local.release_registry_host}/"
    username = var.registry_username
    password = var.registry_password
  }

  registry {
    server   = "mirror.example.com:5000"
    username = var.registry_username
    password = var.registry_password
  }

  labels = {
    "app.kubernetes.io/managed-by" = "terraform"
  }

  # Adds the secret to each account's imagePullSecrets and keeps every other entry, such as
  # the <account>-dockercfg-* entry that OpenShift adds itself.
  link_service_accounts = ["default", "builder"]
}

# Digest pulls of the release images try the internal mirror first and the release registry
# itself when the mirror fails. Adding digest mirror rules only reloads CRI-O on the nodes.
resource "imagedist_registry_mirror" "release" {
  name = "imagedist-demo-release"

  mirror {
    source               = var.release_registry
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

  images = local.release_images

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
    local.release_images.checkout,
    "registry.example.com/payments/api:3.8.2",
    local.release_images.frontend,
    "nginx:1.27",
  ]
  # Also read each worker's image filesystem through the API server's node proxy (one
  # request per node; needs get on nodes/proxy), with the distance to the GC high threshold
  # that imagedist_kubelet_image_gc above sets.
  image_filesystem = true
}

# The digest and download size of each pre-pulled image, read from the release registry with
# the pull secret above, as the nodes pull. An index is described by its linux/amd64 image,
# the platform of the workers.
data "imagedist_images" "release" {
  references = values(local.release_images)
  platform   = "linux/amd64"

  pull_secret = {
    namespace = imagedist_pull_secret.registries.namespace
    name      = imagedist_pull_secret.registries.name
  }
}

locals {
  workers    = data.imagedist_node_images.workers
  node_names = [for node in local.workers.nodes : node.name]
  column     = "%-22s"

  table_header = trimspace(format("%-46s %s", "IMAGE",
  join("", [for name in local.node_names : format(local.column, name)])))
  table_rows = [
    for image in local.workers.image_nodes : trimspace(format("%-46s %s", image.reference,
      join("", [
        for name in local.node_names :
        format(local.column, contains(image.node_names, name) ? "cached" : "missing")
    ])))
  ]
  node_lines = [
    for node in local.workers.nodes : format("%-22s %-11s %3d images %7.1f GiB  %s%s",
      node.name, node.container_runtime, node.image_count,
      node.total_size_bytes / 1073741824,
      local.filesystem_text[node.name],
    node.possibly_truncated ? "  (list may be truncated: it is at the kubelet's cap)" : "")
  ]
  # Null figures mean the node's kubelet did not answer; the data source then warns.
  filesystem_text = {
    for name, fs in local.workers.image_filesystems : name => fs.used_percent == null ?
    "image disk unknown" : format("image disk %d%% of %.0f GiB%s", fs.used_percent,
      fs.capacity_bytes / 1073741824,
      fs.gc_headroom_percent == null ? "" :
    format(", GC at %d%% (%d%% headroom)", fs.gc_high_threshold_percent, fs.gc_headroom_percent))
  }

  size_format = "%-46s %-24s %-20s %s"
  size_rows = [
    for image in data.imagedist_images.release.images : image.error != "" ?
    format("%-46s lookup failed: %s", image.reference, image.error) :
    format(local.size_format, image.reference,
      # An index lists its platforms; a single image names its own.
      length(image.platforms) > 0 ? join(",", image.platforms[*].platform) : image.platform,
      substr(image.digest, 0, 19),
    format("%.1f MiB", image.compressed_size_bytes / 1048576))
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
    objects = imagedist_registry_mirror.release.object_kinds
    rules = [
      for rule in imagedist_registry_mirror.release.mirror :
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

output "image_sizes" {
  description = "The platforms, digest and download size of each pre-pulled image."
  value = join("\n", concat(
    [format(local.size_format, "IMAGE", "PLATFORMS", "DIGEST", "DOWNLOAD (linux/amd64)")],
    local.size_rows
  ))
}
