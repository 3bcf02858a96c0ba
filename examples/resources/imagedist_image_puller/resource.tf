# Keep the images of a release cached on every worker, so new pods start without a pull.
# Apply returns once every worker has every image.
resource "imagedist_image_puller" "release" {
  namespace = "platform-prepull"
  name      = "release-2024-06"

  images = {
    checkout = "quay.io/team/checkout:2.4.1"
    payments = "registry.example.com/payments/api@sha256:0f6d3c9e8b7a6f5e4d3c2b1a09f8e7d6c5b4a3928170f6e5d4c3b2a190f8e7d6"
    # A scratch image works too: the pods run a static sleep copied from helper_image.
    static_bin = "quay.io/team/static-bin@sha256:4d0c0b8e1b3c9a2f7d6e5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b3a291800"
  }

  node_selector = {
    "node-role.kubernetes.io/worker" = ""
  }
  image_pull_secrets = ["registry-credentials"]

  cpu_request    = "5m"
  memory_request = "8Mi"
  memory_limit   = "16Mi"

  timeouts {
    create = "30m"
    update = "30m"
  }
}

# Pull onto the infrastructure nodes as well, but do not keep the images from garbage
# collection.
resource "imagedist_image_puller" "warm_infra" {
  namespace   = "platform-prepull"
  name        = "warm-infra"
  keep_cached = false

  images = {
    router = "quay.io/team/router:1.9.0"
  }

  tolerations = [{
    key      = "node-role.kubernetes.io/infra"
    operator = "Exists"
    effect   = "NoSchedule"
  }]
  node_affinity = [{
    match_expressions = [{
      key      = "node-role.kubernetes.io/infra"
      operator = "Exists"
    }]
  }]
}

# Where the kubernetes-image-puller operator runs (as with Eclipse Che or OpenShift Dev
# Spaces), let it keep the images cached. It allows one KubernetesImagePuller per namespace.
resource "imagedist_image_puller" "workspaces" {
  backend   = "operator"
  namespace = "devspaces"
  name      = "workspace-images"

  images = {
    udi = "quay.io/devfile/universal-developer-image:ubi9-2024.06"
  }
  node_selector = {
    "node-role.kubernetes.io/worker" = ""
  }
  memory_limit = "20Mi"
}

# On OpenShift 4.19 and later, pin images on the worker pool: the machine-config daemon
# pulls them and the kubelet never collects them, without a running container. Pinning needs
# digest references and pulls with the cluster's global pull secret.
resource "imagedist_image_puller" "pinned" {
  backend              = "pinned"
  name                 = "release-2024-06-pinned"
  machine_config_pools = ["worker"]

  images = {
    checkout = "quay.io/team/checkout@sha256:9e1f6a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7"
  }
}

output "release_cache" {
  description = "Nodes that have every image of the release, of the nodes selected."
  value       = "${imagedist_image_puller.release.nodes_cached} of ${imagedist_image_puller.release.node_count}"
}
