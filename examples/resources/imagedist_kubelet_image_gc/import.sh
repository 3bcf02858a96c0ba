# A KubeletConfig is imported by its name. A selector that is the single label of an
# OpenShift pool, such as pools.operator.machineconfiguration.openshift.io/worker = "", is read
# into machine_config_pool; any other selector into machine_config_pool_selector.
terraform import imagedist_kubelet_image_gc.workers image-gc-workers
