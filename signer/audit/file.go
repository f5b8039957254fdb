package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/segl/segl/signer/strictjson"
)

// MaxCheckpointLine bounds one line of a checkpoint file.
const MaxCheckpointLine = 4096

// ParseCheckpoint reads one checkpoint's JSON, strictly: one object, no
// unknown, duplicated or missing member.
func ParseCheckpoint(b []byte) (Checkpoint, error) {
	var c Checkpoint
	if err := strictjson.Unmarshal(b, &c); err != nil {
		return c, err
	}
	if c.Seq == 0 || len(c.Signature) == 0 || c.Time.IsZero() {
		return c, errors.New("a checkpoint needs seq, hash, time and signature")
	}
	return c, nil
}

// ReadCheckpoints reads a checkpoint file: one checkpoint's JSON a line,
// in the order they were signed. A line that does not parse is an error
// naming it: a copy kept for auditors must be whole.
func ReadCheckpoints(r io.Reader) ([]Checkpoint, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, MaxCheckpointLine), MaxCheckpointLine)
	var cs []Checkpoint
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		c, err := ParseCheckpoint(sc.Bytes())
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		cs = append(cs, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("after %d checkpoints: %w", len(cs), err)
	}
	return cs, nil
}

// File appends checkpoints to a file, one JSON line each, each synced to
// disk before Append returns.
type File struct {
	mu sync.Mutex
	f  *os.File
}

// OpenFile opens (creating it, mode 0640) a checkpoint file for appending.
func OpenFile(path string) (*File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, err
	}
	return &File{f: f}, nil
}

// Append writes c as one line and syncs it.
func (f *File) Append(c Checkpoint) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.f.Write(append(b, '\n')); err != nil {
		return err
	}
	return f.f.Sync()
}

// Close closes the file.
func (f *File) Close() error { return f.f.Close() }
