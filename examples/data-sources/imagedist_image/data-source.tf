# The digest and download size of a multi-platform image for the arm64 workers, with the
# credentials of a pull secret in the cluster.
data "imagedist_image" "checkout" {
  reference = "quay.io/example/checkout:2.4.1"
  platform  = "linux/arm64"

  pull_secret = {
    namespace = "checkout"
    name      = "quay-robot"
  }
}

# Pin the tag to the digest it names today.
output "checkout_pinned" {
  value = "${data.imagedist_image.checkout.registry}/${data.imagedist_image.checkout.repository}@${data.imagedist_image.checkout.digest}"
}

# compressed_size_bytes is what a node downloads, not what it stores once unpacked.
output "checkout_download_mib" {
  value = data.imagedist_image.checkout.compressed_size_bytes / 1048576
}

# Every platform of the index, attestation manifests left out.
output "checkout_platforms" {
  value = {
    for image in data.imagedist_image.checkout.platforms :
    image.platform => image.compressed_size_bytes
  }
}

# An image on OpenShift, looked up with the cluster's global pull secret as the nodes pull it.
data "imagedist_image" "release" {
  reference              = "quay.io/openshift-release-dev/ocp-release:4.18.1-x86_64"
  use_global_pull_secret = true
}

# A registry inside the company: its certificate comes from a private CA, which the provider
# trusts through registry_ca_certificates. Without a pull secret, the credentials come from
# the docker config file that registry_auth_file names (or REGISTRY_AUTH_FILE, or
# DOCKER_CONFIG). Only a registry without TLS belongs in insecure_registries.
provider "imagedist" {
  registry_ca_certificates = file("${path.module}/internal-ca.pem")
  registry_auth_file       = pathexpand("~/.docker/config.json")
}

data "imagedist_image" "base" {
  reference = "registry.internal.example:5000/platform/base:12"
}
