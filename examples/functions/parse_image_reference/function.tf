# Group the images of a release by registry, for example to create one pull secret each.
locals {
  images = ["quay.io/team/api:3.8.2", "nginx:1.27", "registry.example.com:5000/tools/cli"]
  registries = distinct([
    for image in local.images : provider::imagedist::parse_image_reference(image).registry
  ])
}

output "registries" {
  value = local.registries # ["quay.io", "docker.io", "registry.example.com:5000"]
}
