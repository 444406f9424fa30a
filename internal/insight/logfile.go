package insight

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"gopkg.in/natefinch/lumberjack.v2"
)

// LogFile is one InsightFlow log file: JSON lines, buffered in memory and
// written by its own goroutine, so that a caller never waits for the disk;
// rotated by size with a bounded number of backups.
type LogFile struct {
	path string
	out  io.WriteCloser

	maxBuf int

	mu      sync.Mutex
	buf     []byte
	dropped int64 // lines not kept because the buffer was full
	kick    chan struct{}
	done    chan struct{}
	stopped bool
	err     error // the last write error, reported once per streak
}

// LogFileConfig names a log file and bounds it.
type LogFileConfig struct {
	Path       string
	MaxSizeMB  int           // rotate past this size (default 100)
	MaxBackups int           // rotated files kept (default 5)
	FlushEvery time.Duration // default 1 s
	MaxBuffer  int           // bytes held before lines are dropped (default 8 MiB)
}

// OpenLogFile creates the file's directory and starts its writer.
func OpenLogFile(c LogFileConfig) (*LogFile, error) {
	if c.MaxSizeMB <= 0 {
		c.MaxSizeMB = DefaultLogMaxSizeMB
	}
	if c.MaxBackups <= 0 {
		c.MaxBackups = DefaultLogBackups
	}
	if c.FlushEvery <= 0 {
		c.FlushEvery = time.Second
	}
	if c.MaxBuffer <= 0 {
		c.MaxBuffer = 8 << 20
	}
	// Log lines may hold record data (--log-data) and module names: the
	// owner's only.
	if err := os.MkdirAll(filepath.Dir(c.Path), 0o700); err != nil {
		return nil, fmt.Errorf("log file %s: %w", c.Path, err)
	}
	// Open once now so that a path that cannot be written fails at start.
	f, err := os.OpenFile(c.Path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("log file: %w", err)
	}
	f.Close()
	l := &LogFile{path: c.Path, maxBuf: c.MaxBuffer, kick: make(chan struct{}, 1), done: make(chan struct{}),
		out: &lumberjack.Logger{Filename: c.Path, MaxSize: c.MaxSizeMB, MaxBackups: c.MaxBackups}}
	go l.run(c.FlushEvery)
	return l, nil
}

// Path is where the file is written.
func (l *LogFile) Path() string { return l.path }

// Append adds lines (each ending in a newline) built by fn to the buffer.
// fn appends to the slice it is given and returns it.
func (l *LogFile) Append(fn func([]byte) []byte) {
	if l == nil {
		return
	}
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return
	}
	defer l.mu.Unlock()
	n := len(l.buf)
	l.buf = fn(l.buf)
	if len(l.buf) > l.maxBuf {
		l.dropped += int64(bytes.Count(l.buf[n:], []byte{'\n'}))
		l.buf = l.buf[:n]
	}
	if len(l.buf) > 256<<10 {
		select { // under the lock: Close closes kick under it too
		case l.kick <- struct{}{}:
		default:
		}
	}
}

func (l *LogFile) run(every time.Duration) {
	defer close(l.done)
	t := time.NewTicker(every)
	defer t.Stop()
	var spare []byte
	for {
		stop := false
		select {
		case <-t.C:
		case _, ok := <-l.kick:
			stop = !ok
		}
		spare = l.flush(spare)
		if stop {
			return
		}
	}
}

// flush writes what is buffered, swapping buffers so Append does not wait
// for the disk.
func (l *LogFile) flush(spare []byte) []byte {
	l.mu.Lock()
	buf, dropped := l.buf, l.dropped
	l.buf, l.dropped = spare[:0], 0
	l.mu.Unlock()
	if dropped > 0 {
		buf = fmt.Appendf(buf, "{\"timestamp\":%q,\"warning\":\"log buffer full: %d lines dropped\"}\n",
			time.Now().UTC().Format(time.RFC3339Nano), dropped)
	}
	if len(buf) == 0 {
		return buf
	}
	if err := writeChunks(l.out, buf); err != nil {
		if l.err == nil {
			fmt.Fprintf(os.Stderr, "corebridge: write %s: %v\n", l.path, err)
		}
		l.err = err
	} else {
		l.err = nil
	}
	return buf
}

// chunkSize bounds one write: the rotator refuses a write larger than the
// file's maximum size, and rotates only between writes, so the buffer goes
// out in whole lines of at most this much (a longer line alone).
const chunkSize = 256 << 10

func writeChunks(w io.Writer, buf []byte) error {
	for len(buf) > 0 {
		n := len(buf)
		if n > chunkSize {
			n = bytes.LastIndexByte(buf[:chunkSize], '\n') + 1
			if n == 0 { // one line longer than a chunk
				n = bytes.IndexByte(buf, '\n') + 1
				if n == 0 {
					n = len(buf)
				}
			}
		}
		if _, err := w.Write(buf[:n]); err != nil {
			return err
		}
		buf = buf[n:]
	}
	return nil
}

// Close writes what is buffered and closes the file.
func (l *LogFile) Close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return nil
	}
	l.stopped = true
	close(l.kick)
	l.mu.Unlock()
	<-l.done
	return l.out.Close()
}
