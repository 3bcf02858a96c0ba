# The only import ID is "cluster", the name of the Image object. Import reads the fields that
# this provider's field manager, imagedist-registry-policy, owns. Values written by other
# tools are not imported, and the first apply takes over the fields that the configuration sets.
terraform import imagedist_registry_policy.cluster cluster
