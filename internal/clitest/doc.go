// Package clitest runs the provider binary under the real terraform or tofu program, as a
// user does, against the local control plane and registry of the devcluster command. Its
// tests check what only a whole run shows: what reaches the trace log and the terminal, and
// what an interrupted apply leaves behind.
//
// The tests run with TF_ACC set and use the program that TF_ACC_TERRAFORM_PATH names, so
// tools/run-tests.sh runs them under Terraform and under OpenTofu.
package clitest
