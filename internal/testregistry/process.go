package testregistry

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// outputTailLines is how many lines of the registry's output a start-up error quotes.
const outputTailLines = 40

// errPortInUse marks a start failure caused by a port taken between choosing it and binding
// it, which a new attempt with another port can fix.
var errPortInUse = errors.New("port already in use")

// registryProcess is one running registry program.
type registryProcess struct {
	cmd    *exec.Cmd
	output *outputLog
	// done is closed once the program has exited, been reaped and its output flushed.
	// waitErr is valid after that.
	done    chan struct{}
	waitErr error
}

// startProcess runs binary with configPath. The environment is not inherited, so REGISTRY_*
// variables of the caller cannot override the configuration, and OpenTelemetry export is
// off because its default OTLP exporter would send traces to localhost:4318.
func startProcess(binary, configPath, dir string, output *outputLog) (*registryProcess, error) {
	cmd := exec.Command(binary, "serve", configPath)
	cmd.Dir = dir
	cmd.Env = []string{
		"OTEL_TRACES_EXPORTER=none",
		"OTEL_METRICS_EXPORTER=none",
		"OTEL_LOGS_EXPORTER=none",
		"TMPDIR=" + dir,
	}
	cmd.Stdout = output
	cmd.Stderr = output
	cmd.SysProcAttr = processAttributes()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the registry (%s): %w", binary, err)
	}

	p := &registryProcess{cmd: cmd, output: output, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		output.flush()
		close(p.done)
	}()
	return p, nil
}

func (p *registryProcess) pid() int {
	return p.cmd.Process.Pid
}

func (p *registryProcess) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, waits up to grace for the program to exit, then sends SIGKILL and
// waits for the kernel to reap it. It returns whether SIGKILL was needed.
func (p *registryProcess) stop(grace time.Duration) (killed bool) {
	if p.exited() {
		return false
	}

	// An error means that the process has exited already, which the wait below observes.
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.done:
		return false
	case <-timer.C:
	}

	_ = p.cmd.Process.Kill()
	<-p.done
	return true
}

// startupError describes a registry that failed to start, quoting the end of its output.
// cause, when not nil, is wrapped. The error wraps errPortInUse when the output shows a port
// conflict.
func (p *registryProcess) startupError(problem string, cause error) error {
	tail := p.output.tail()
	var err error
	if cause == nil {
		err = fmt.Errorf("registry (pid %d) %s; last lines of its output:\n%s",
			p.pid(), problem, tail)
	} else {
		err = fmt.Errorf("registry (pid %d) %s: %w; last lines of its output:\n%s",
			p.pid(), problem, cause, tail)
	}
	if strings.Contains(tail, "address already in use") {
		return fmt.Errorf("%w (%w)", err, errPortInUse)
	}
	return err
}

// exitError describes how the program ended. Call it only after done is closed.
func (p *registryProcess) exitError() error {
	if p.waitErr == nil {
		return p.startupError("exited with status 0", nil)
	}
	return p.startupError("exited", p.waitErr)
}

// outputLog collects the registry's stdout and stderr line by line. It forwards each line
// to logf, appends the output to a file and keeps the last lines for error messages.
type outputLog struct {
	logf func(format string, args ...any)
	file *os.File

	mutex   sync.Mutex
	partial []byte
	lines   []string
}

func newOutputLog(path string, logf func(format string, args ...any)) (*outputLog, error) {
	file, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the registry log: %w", err)
	}
	return &outputLog{logf: logf, file: file}, nil
}

// Write implements io.Writer and never returns an error. After a write error exec.Cmd stops
// reading the output pipe, so the registry would block once the pipe buffer is full.
func (o *outputLog) Write(data []byte) (int, error) {
	o.mutex.Lock()
	defer o.mutex.Unlock()

	if o.file != nil {
		// NOTE: a failed write to the log file is ignored. The line still reaches logf
		// and the tail kept for error messages.
		_, _ = o.file.Write(data)
	}
	o.partial = append(o.partial, data...)
	for {
		end := bytes.IndexByte(o.partial, '\n')
		if end < 0 {
			break
		}
		o.addLine(string(o.partial[:end]))
		o.partial = o.partial[end+1:]
	}
	return len(data), nil
}

// flush passes on a last line that lacks a newline.
func (o *outputLog) flush() {
	o.mutex.Lock()
	defer o.mutex.Unlock()

	if len(o.partial) > 0 {
		o.addLine(string(o.partial))
		o.partial = nil
	}
}

// addLine records one line. The caller holds the mutex.
func (o *outputLog) addLine(line string) {
	line = strings.TrimRight(line, "\r")
	o.logf("registry: %s", line)
	o.lines = append(o.lines, line)
	if len(o.lines) > outputTailLines {
		o.lines = o.lines[len(o.lines)-outputTailLines:]
	}
}

func (o *outputLog) tail() string {
	o.mutex.Lock()
	defer o.mutex.Unlock()

	if len(o.lines) == 0 {
		return "(no output)"
	}
	return strings.Join(o.lines, "\n")
}

func (o *outputLog) close() error {
	o.mutex.Lock()
	defer o.mutex.Unlock()

	if o.file == nil {
		return nil
	}
	err := o.file.Close()
	o.file = nil
	return err
}
