# Which of the images that the checkout service needs are missing on which worker?
data "imagedist_node_images" "checkout" {
  label_selector = "node-role.kubernetes.io/worker"
  images = [
    "quay.io/example/checkout:2.4.1",
    "docker.io/library/redis:7.4",
    "registry.access.redhat.com/ubi9/ubi-minimal@sha256:0000000000000000000000000000000000000000000000000000000000000000",
  ]
  # Per-node image lists are not needed for this question; image_nodes keeps the answer.
  summary_only = true
}

output "checkout_images_missing" {
  description = "For each image, the workers that do not report it."
  value = {
    for entry in data.imagedist_node_images.checkout.image_nodes :
    entry.reference => entry.missing_on
  }
}

# A node whose status list is full may have an image cached without reporting it.
output "workers_with_truncated_lists" {
  value = [
    for node in data.imagedist_node_images.checkout.nodes :
    node.name if node.possibly_truncated
  ]
}

# The full inventory of a few nodes: on each node, a map from image reference to size.
data "imagedist_node_images" "infra" {
  names = ["infra-0", "infra-1"]
}

output "infra_cache_bytes" {
  value = {
    for node in data.imagedist_node_images.infra.nodes :
    node.name => node.total_size_bytes
  }
}

output "infra_image_references" {
  value = {
    for node in data.imagedist_node_images.infra.nodes :
    node.name => keys(node.images)
  }
}

locals {
  # A node keys an image by its digest name when it reports one. image_nodes lists the tags
  # of each reference, so a tag leads to the key to look up. Nodes that pulled a tag at
  # different times may have different digests for it, hence a list per tag.
  infra_references_by_tag = {
    for pair in flatten([
      for entry in data.imagedist_node_images.infra.image_nodes : [
        for tag in entry.tags : { tag = tag, reference = entry.reference }
      ]
    ]) : pair.tag => pair.reference...
  }
  haproxy_references = lookup(local.infra_references_by_tag,
  "registry.example.com/infra/haproxy:2.9", [])
}

output "infra_haproxy_bytes" {
  description = "The size of haproxy 2.9 on each infra node, 0 where it is not cached."
  value = {
    for node in data.imagedist_node_images.infra.nodes :
    node.name => sum(concat([0], [
      for reference in local.haproxy_references : lookup(node.images, reference, 0)
    ]))
  }
}

# How close each worker's image disk is to the kubelet's image garbage collection threshold.
# This sends one request per node through the API server's node proxy and needs get on
# nodes/proxy, so it is off by default.
data "imagedist_node_images" "disk" {
  label_selector   = "node-role.kubernetes.io/worker"
  summary_only     = true
  image_filesystem = true
}

output "workers_near_image_gc" {
  description = "Workers within 5% of their pool's GC high threshold, with their usage."
  value = {
    for name, fs in data.imagedist_node_images.disk.image_filesystems :
    name => "${fs.used_percent}% used, GC at ${fs.gc_high_threshold_percent}%"
    if try(fs.gc_headroom_percent < 5, false)
  }
}

output "workers_with_failed_image_gc" {
  value = {
    for name, fs in data.imagedist_node_images.disk.image_filesystems :
    name => fs.gc_last_failure_message if coalesce(fs.gc_failure_count, 0) > 0
  }
}
