package testcluster

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// logTailLines is how many lines of a program's log a start-up error quotes.
const logTailLines = 40

// errPortInUse marks a start failure caused by a port taken between choosing it and binding
// it, which a new attempt with fresh ports can fix.
var errPortInUse = errors.New("port already in use")

// process is one running control-plane program whose output goes to a log file.
type process struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	// done is closed once the program has exited and been reaped. waitErr is valid after.
	done    chan struct{}
	waitErr error
}

// startProcess starts binary with args, appending its stdout and stderr to logPath.
//
// The program runs in its own process group, so a Ctrl-C in the terminal reaches only the Go
// process, which then stops the programs in order. Pdeathsig kills the program when the
// thread that started it exits: the Go runtime keeps its threads for the life of the process
// unless a goroutine exits while locked to one, which this package never does.
func startProcess(name, binary string, args []string, dir, logPath string) (*process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the %s log: %w", name, err)
	}

	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s (%s): %w", name, binary, err)
	}

	p := &process{name: name, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// pid returns the process ID of the program.
func (p *process) pid() int {
	return p.cmd.Process.Pid
}

// exited reports whether the program has exited.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, waits up to grace for the program to exit, then sends SIGKILL and
// waits for the kernel to reap it. It returns whether SIGKILL was needed.
func (p *process) stop(grace time.Duration) (killed bool) {
	if p.exited() {
		return false
	}

	// An error means the process has exited already, which the wait below observes.
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

// startupError describes a program that failed to start, quoting the end of its log. It
// wraps errPortInUse when the log shows a port conflict.
func (p *process) startupError(problem string) error {
	tail := p.logTail(logTailLines)
	err := fmt.Errorf("%s %s; last lines of %s:\n%s", p.name, problem, p.logPath, tail)
	if strings.Contains(tail, "address already in use") {
		return fmt.Errorf("%w (%w)", err, errPortInUse)
	}
	return err
}

// exitError describes how the program ended. Call it only after done is closed.
func (p *process) exitError() error {
	if p.waitErr == nil {
		return p.startupError("exited with status 0 during start-up")
	}
	return p.startupError(fmt.Sprintf("exited during start-up (%v)", p.waitErr))
}

// logTail returns the last lines of the program's log.
func (p *process) logTail(lines int) string {
	return fileTail(p.logPath, lines)
}

// fileTail returns the last lines of a file, reading at most its last 64 KiB.
func fileTail(path string, lines int) string {
	const maxRead = 64 << 10

	file, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(log unavailable: %v)", err)
	}
	defer file.Close()

	info, err := file.Stat()
	if err != nil {
		return fmt.Sprintf("(log unavailable: %v)", err)
	}
	offset := max(info.Size()-maxRead, 0)
	data, err := io.ReadAll(io.NewSectionReader(file, offset, info.Size()-offset))
	if err != nil {
		return fmt.Sprintf("(log unavailable: %v)", err)
	}

	data = bytes.TrimRight(data, "\n")
	all := strings.Split(string(data), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// freePorts returns count distinct TCP ports on 127.0.0.1 that were free a moment ago. The
// listeners stay open until all ports are chosen so that no port is returned twice. Another
// process may still take a port before the program binds it. Start retries in that case.
func freePorts(count int) ([]int, error) {
	listeners := make([]net.Listener, 0, count)
	defer func() {
		for _, listener := range listeners {
			listener.Close()
		}
	}()

	ports := make([]int, 0, count)
	for range count {
		listener, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("choosing a free port on 127.0.0.1: %w", err)
		}
		listeners = append(listeners, listener)
		ports = append(ports, listener.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func loopbackURL(scheme string, port int) string {
	return scheme + "://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}
