package testcluster

import (
	"testing"
	"time"
)

func StopEtcdFirstForExperiment(c *Cluster, t *testing.T) {
	etcd, api := c.processes[0], c.processes[1]
	etcd.stop(10 * time.Second)
	began := time.Now()
	killed := api.stop(40 * time.Second)
	t.Logf("apiserver after etcd: killed=%v in %s", killed, time.Since(began))
}
