package hsm

import (
	"errors"
	"time"

	"github.com/miekg/pkcs11"
)

var (
	errPoolTimeout = errors.New("timed out waiting for a free session")
	errPoolClosed  = errors.New("session pool closed")
)

// sessionPool lends read-write sessions on one slot, one caller at a time:
// PKCS#11 forbids using a session from two threads at once. It opens sessions
// lazily up to size and makes a caller wait at most wait for one to come
// free, so overload turns into ErrBusy instead of an unbounded queue.
//
// The pool is replaced whole when the Keystore reconnects; close is only
// called when no session is out (the Keystore holds its write lock then).
type sessionPool struct {
	ctx     *pkcs11.Ctx
	slot    uint
	wait    time.Duration
	idle    chan pkcs11.SessionHandle // sessions open and free
	permits chan struct{}             // one per session that may be open
}

func newSessionPool(ctx *pkcs11.Ctx, slot uint, size int, wait time.Duration) *sessionPool {
	return &sessionPool{
		ctx:     ctx,
		slot:    slot,
		wait:    wait,
		idle:    make(chan pkcs11.SessionHandle, size),
		permits: make(chan struct{}, size),
	}
}

// get returns a free session, opening one if the pool is below its size.
func (p *sessionPool) get() (pkcs11.SessionHandle, error) {
	select {
	case s := <-p.idle:
		return s, nil
	default:
	}
	timer := time.NewTimer(p.wait)
	defer timer.Stop()
	select {
	case s := <-p.idle:
		return s, nil
	case p.permits <- struct{}{}:
		s, err := p.ctx.OpenSession(p.slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
		if err != nil {
			<-p.permits
			return 0, err
		}
		return s, nil
	case <-timer.C:
		return 0, errPoolTimeout
	}
}

// put gives a session back. It never blocks: idle holds as many sessions as
// there are permits.
func (p *sessionPool) put(s pkcs11.SessionHandle) {
	p.idle <- s
}

// close closes every idle session. Objects created in them as session
// objects (unwrapped keys) die with them.
func (p *sessionPool) close() {
	for {
		select {
		case s := <-p.idle:
			_ = p.ctx.CloseSession(s)
			<-p.permits
		default:
			return
		}
	}
}

// with runs fn with a session from the pool.
func (p *sessionPool) with(fn func(s pkcs11.SessionHandle) error) error {
	s, err := p.get()
	if err != nil {
		return err
	}
	defer p.put(s)
	return fn(s)
}
