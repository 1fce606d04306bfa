package streamwriter

import "errors"

// ErrClosed is returned by a sink used after Finish or Abort.
var ErrClosed = errors.New("streamwriter: sink already finished or aborted")

// MemorySink collects the output in memory. It is meant for tests and for
// small outputs; a checkpoint of several GB belongs in a file.
type MemorySink struct {
	buf      []byte
	finished bool
	closed   bool
}

// Write appends p.
func (m *MemorySink) Write(p []byte) (int, error) {
	if m.closed {
		return 0, ErrClosed
	}
	m.buf = append(m.buf, p...)
	return len(p), nil
}

// Finish marks the output complete.
func (m *MemorySink) Finish() error {
	if m.closed {
		return ErrClosed
	}
	m.closed, m.finished = true, true
	return nil
}

// Abort drops everything written. Aborting twice, or after Finish, is
// allowed and drops the output.
func (m *MemorySink) Abort() error {
	m.closed, m.finished = true, false
	m.buf = nil
	return nil
}

// Bytes returns the output after a successful Finish, nil otherwise.
func (m *MemorySink) Bytes() []byte {
	if !m.finished {
		return nil
	}
	return m.buf
}

// Len is the number of bytes written so far.
func (m *MemorySink) Len() int { return len(m.buf) }
