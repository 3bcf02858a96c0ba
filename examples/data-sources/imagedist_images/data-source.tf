# The download sizes of the images that a puller caches, looked up at most eight at a time.
# A reference that fails sets its element's error and adds one warning; the others are kept.
data "imagedist_images" "prepulled" {
  references = [
    "quay.io/example/checkout:2.4.1",
    "ghcr.io/example/frontend:5.2.0",
    "redis:7.4",
  ]

  pull_secret = {
    namespace = "checkout"
    name      = "registry-credentials"
  }
}

output "prepulled_download_bytes" {
  value = {
    for image in data.imagedist_images.prepulled.images :
    image.reference => image.compressed_size_bytes if image.error == ""
  }
}

output "prepulled_total_download_bytes" {
  value = sum([
    for image in data.imagedist_images.prepulled.images :
    image.compressed_size_bytes if image.error == ""
  ])
}

output "prepulled_failures" {
  value = {
    for image in data.imagedist_images.prepulled.images :
    image.reference => image.error if image.error != ""
  }
}
