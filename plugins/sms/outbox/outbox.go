// Package outbox is the development SMS adapter: instead of a gateway, a
// file with one JSON line per message, {"time","to","text","messageId"},
// where a developer reads the SMS a user would have received. segld dev
// configures it; it is no place for a production's codes. (Each line also
// has the encoding the text would go in, and segld's key for it.)
package outbox

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/segl/segl/plugins/sms"
)

// Line is one message in the outbox.
type Line struct {
	Time      time.Time `json:"time"`
	To        string    `json:"to"`
	Text      string    `json:"text"`
	MessageID string    `json:"messageId"`
	Encoding  string    `json:"encoding"` // gsm7 or ucs2, as it would go
	Key       string    `json:"key"`
}

// Outbox is a Gateway that writes to a file.
type Outbox struct {
	mu      sync.Mutex
	f       *os.File
	sent    map[string]string // idempotency key → message id
	reports chan sms.Report
}

var _ sms.Gateway = (*Outbox)(nil)

// New returns an outbox that Configure points at its file.
func New() *Outbox { return &Outbox{sent: map[string]string{}, reports: make(chan sms.Report, 1024)} }

// Configure takes the setting "file": the outbox's path (made, with its
// directory, when missing). The messages already in it are read back, so
// a Send repeated after a restart of the plugin sends nothing twice.
func (o *Outbox) Configure(_ context.Context, settings map[string]string) (string, error) {
	path := settings["file"]
	if path == "" {
		return "", errors.New("outbox: the setting file (the outbox's path) is missing")
	}
	for k := range settings {
		if k != "file" {
			return "", fmt.Errorf("outbox: unknown setting %q: the outbox has only file", k)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("outbox: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return "", fmt.Errorf("outbox: %w", err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l Line
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Key != "" {
			o.sent[l.Key] = l.MessageID
		}
	}
	o.f = f
	return "outbox " + path, nil
}

// Send appends the message and syncs the file; it is then delivered.
func (o *Outbox) Send(_ context.Context, m sms.Message) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.f == nil {
		return "", fmt.Errorf("%w: outbox: not configured", sms.ErrRefused)
	}
	if id, ok := o.sent[m.Key]; ok {
		return id, nil
	}
	b := make([]byte, 8)
	rand.Read(b)
	id := "outbox-" + hex.EncodeToString(b)
	line, err := json.Marshal(Line{Time: time.Now().UTC(), To: m.To, Text: m.Text, MessageID: id, Encoding: m.Encoding.String(), Key: m.Key})
	if err != nil {
		return "", err
	}
	if _, err := o.f.Write(append(line, '\n')); err != nil {
		return "", fmt.Errorf("%w: outbox: %v", sms.ErrRefused, err)
	}
	if err := o.f.Sync(); err != nil {
		return "", err
	}
	o.sent[m.Key] = id
	select {
	case o.reports <- sms.Report{Key: m.Key, GatewayID: id, State: sms.Delivered}:
	default: // nobody listens; the report is not needed for the message
	}
	return id, nil
}

// Reports passes on a delivered report for each message sent.
func (o *Outbox) Reports(ctx context.Context, fn func(sms.Report)) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case r := <-o.reports:
			fn(r)
		}
	}
}
