# How did the checkout images fare on the workers in the last hour? The API server keeps
# events for one hour by default (kube-apiserver --event-ttl), so older pulls are gone anyway.
data "imagedist_image_pulls" "checkout" {
  namespace = "checkout"
  images = [
    "quay.io/example/checkout:2.4.1",
    "redis:7.4",
  ]
  since = "1h"
}

# Containers that found the image on their node needed no pull: what pre-pulling saved.
output "checkout_pull_summary" {
  value = {
    for image in data.imagedist_image_pulls.checkout.image_pulls :
    image.reference => {
      pulled          = image.pulls
      already_present = image.already_present
      median_seconds  = image.median_pull_seconds
      p95_seconds     = image.p95_pull_seconds
    }
  }
}

# The nodes where pulls failed, with the kubelet's reason and the registry's message.
output "checkout_pull_failures" {
  value = flatten([
    for image in data.imagedist_image_pulls.checkout.image_pulls : [
      for node in image.nodes : {
        image   = image.reference
        node    = node.name
        reason  = node.last_failure_reason
        message = node.last_failure_message
      } if node.failures > 0
    ]
  ])
}

# Every namespace, restricted to a few workers.
data "imagedist_image_pulls" "workers" {
  node_names = ["worker-0", "worker-1"]
}
