# A registry mirror is imported by the name of its ImageDigestMirrorSet, ImageTagMirrorSet or
# both. pull_type follows the kinds that exist with that name, and all their labels are read.
terraform import imagedist_registry_mirror.quay quay-team-a
