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

# The full inventory of a few nodes, with every image and its size.
data "imagedist_node_images" "infra" {
  names = ["infra-0", "infra-1"]
}

output "infra_cache_bytes" {
  value = {
    for node in data.imagedist_node_images.infra.nodes :
    node.name => node.total_size_bytes
  }
}
