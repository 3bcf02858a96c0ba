// Package puller contains the logic of the DaemonSet backend of imagedist_image_puller. It
// checks the images map and renders the DaemonSet that pulls the images and keeps them
// cached. It also predicts which nodes run the DaemonSet's pods, and judges from those pods
// which images each node has.
//
// Nothing here calls the API server, and the package imports no Terraform module.
package puller
