package benchmarks

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Metric units of the CPU time that one image look-up run used, in seconds.
const (
	// imagesUnitProcessCPU is the CPU time of the benchmark process, which runs the
	// provider and, in the rtt group, the latency proxy.
	imagesUnitProcessCPU = "process-cpu-s"
	// imagesUnitRegistryCPU is the CPU time of the registry process.
	imagesUnitRegistryCPU = "registry-cpu-s"
)

// imagesUserHZ is USER_HZ, the number of clock ticks per second in which /proc/PID/stat
// counts CPU time. It is 100 on Linux for x86 and arm64.
const imagesUserHZ = 100

// imagesCPU is the CPU time of the benchmark process and of the registry at one moment.
type imagesCPU struct {
	process, registry float64
}

// imagesReadCPU reads the CPU time of this process and of the process registryPID.
func imagesReadCPU(registryPID int) (imagesCPU, error) {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return imagesCPU{}, fmt.Errorf("reading this process's CPU time: %w", err)
	}
	process := float64(usage.Utime.Nano()+usage.Stime.Nano()) / 1e9

	registry, err := imagesProcessCPU(registryPID)
	if err != nil {
		return imagesCPU{}, err
	}
	return imagesCPU{process: process, registry: registry}, nil
}

// imagesProcessCPU returns the user and system CPU time of the process pid in seconds,
// from /proc/PID/stat.
func imagesProcessCPU(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name in parentheses may contain spaces, so the fields are counted after
	// its closing parenthesis. There, utime and stime (fields 14 and 15 of the file) are at
	// indexes 11 and 12.
	closing := strings.LastIndexByte(string(data), ')')
	if closing < 0 {
		return 0, fmt.Errorf("invalid /proc/%d/stat: no command name", pid)
	}
	fields := strings.Fields(string(data[closing+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("invalid /proc/%d/stat: %d fields after the command name", pid,
			len(fields))
	}
	var ticks float64
	for _, field := range fields[11:13] {
		value, err := strconv.ParseFloat(field, 64)
		if err != nil {
			return 0, fmt.Errorf("invalid CPU time %q in /proc/%d/stat: %w", field, pid, err)
		}
		ticks += value
	}
	return ticks / imagesUserHZ, nil
}

// imagesFindChild returns the process ID of the one descendant of this process whose command
// name, as /proc/PID/comm shows it, is command.
func imagesFindChild(command string) (int, error) {
	var found []int
	for _, pid := range descendants(os.Getpid()) {
		name, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err == nil && strings.TrimSpace(string(name)) == command {
			found = append(found, pid)
		}
	}
	if len(found) != 1 {
		return 0, fmt.Errorf("found %d processes named %s below this one, expected 1: %v",
			len(found), command, found)
	}
	return found[0], nil
}
