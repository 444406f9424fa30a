package drill

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one child process of the drill (a serve replica or the Bucket):
// the same binary, its output appended to a log file in the scratch
// directory, killed when the drill ends.
type proc struct {
	name    string
	bin     string
	logPath string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	addr string        // host:port it listens on, kept across restarts
}

var listenRE = regexp.MustCompile(`"msg":"listening","addr":"([^"]+)"`)

// childEnv is the drill's environment without COREBRIDGE_* variables, so
// that a user's settings for their own bridge (an auth file, a Bucket URL)
// do not reach the drill's children: they run on their flags alone.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "COREBRIDGE_") {
			env = append(env, kv)
		}
	}
	return env
}

// start runs the process with args (its --addr is appended: the port it
// first picked, or 127.0.0.1:0 the first time) and waits until it logs
// that it listens.
func (p *proc) start(ctx context.Context, args ...string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("%s: already running", p.name)
	}
	addr := p.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	from := st.Size()
	cmd := exec.Command(p.bin, append(args, "--addr", addr, "--log-format", "json")...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = childEnv()
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	p.cmd, p.done = cmd, done

	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if b, err := os.ReadFile(p.logPath); err == nil && int64(len(b)) >= from {
			if m := listenRE.FindSubmatch(b[from:]); m != nil {
				p.addr = string(m[1])
				return nil
			}
		}
		select {
		case <-done:
			p.cmd = nil
			return fmt.Errorf("%s exited before listening (%v); its log %s ends:\n%s", p.name, cmd.ProcessState, p.logPath, tail(p.logPath, from))
		case <-ctx.Done():
			p.killLocked()
			return ctx.Err()
		case <-deadline.C:
			p.killLocked()
			return fmt.Errorf("%s did not log its address within 30 s; its log %s ends:\n%s", p.name, p.logPath, tail(p.logPath, from))
		case <-tick.C:
		}
	}
}

// tail is the last lines of a log file written since from.
func tail(path string, from int64) string {
	b, err := os.ReadFile(path)
	if err != nil || int64(len(b)) < from {
		return ""
	}
	b = b[from:]
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// url is the process's base URL.
func (p *proc) url() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return "http://" + p.addr
}

// kill9 kills the process with SIGKILL and waits for it to be gone.
func (p *proc) kill9() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.killLocked()
}

func (p *proc) killLocked() {
	if p.cmd == nil {
		return
	}
	killGroup(p.cmd.Process.Pid)
	p.cmd.Process.Kill()
	<-p.done
	p.cmd = nil
}

// stop ends the process gracefully (SIGTERM), or with SIGKILL after grace.
func (p *proc) stop(grace time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.killLocked()
		return
	}
	select {
	case <-p.done:
		p.cmd = nil
	case <-time.After(grace):
		p.killLocked()
	}
}

// running reports whether the process is up.
func (p *proc) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil
}
