# Applying or changing this drains and reboots every node of the worker pool, one batch at a
# time as the pool's maxUnavailable allows.
resource "imagedist_kubelet_image_gc" "workers" {
  name                = "image-gc-workers"
  machine_config_pool = "worker"

  # Collect images when the disk is 80% full, down to 70%.
  high_threshold_percent = 80
  low_threshold_percent  = 70

  # Keep a pulled image for at least 10 minutes, and drop images unused for a week.
  minimum_gc_age = "10m"
  maximum_gc_age = "168h"

  # Report every image in node status, so imagedist_node_images sees all of them.
  node_status_max_images = -1

  wait_for_rollout = true

  timeouts {
    create = "2h"
    update = "2h"
  }
}

# A custom pool is selected by its labels.
resource "imagedist_kubelet_image_gc" "infra" {
  name = "image-gc-infra"

  machine_config_pool_selector = {
    match_labels = {
      "pools.operator.machineconfiguration.openshift.io/infra" = ""
    }
  }

  high_threshold_percent = 90
  low_threshold_percent  = 85
}
