# An image puller is imported by the namespace and name of its DaemonSet. The short names of
# the images come back from an annotation on the DaemonSet, or are the container names when
# it has none.
terraform import imagedist_image_puller.release platform-prepull/release-2024-06

# A pinned puller is imported by the name of its PinnedImageSet.
terraform import imagedist_image_puller.pinned release-2024-06-pinned
