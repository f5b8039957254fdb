package hsm

import (
	"container/list"
	"sync"

	"github.com/miekg/pkcs11"
)

// unwrapCache keeps up to max unwrapped session objects for reuse, least
// recently used first out. Unwrapping costs SoftHSM about 0.6 ms, ten times
// a signature, so a user who signs twice in a minute should not pay twice.
//
// An entry is destroyed when it is evicted and nobody is using it; one
// evicted while in use is destroyed by its last user. With max 0 every
// unwrapped object is destroyed right after its one use.
//
// Handles belong to one connection: when the Keystore reconnects the cache
// forgets them all (their sessions, and so the objects, are gone).
type unwrapCache struct {
	max int

	mu      sync.Mutex
	epoch   uint64
	entries map[[32]byte]*cacheEntry
	lru     list.List // of *cacheEntry, most recently used in front
	hits    uint64
}

type cacheEntry struct {
	key     [32]byte
	h       pkcs11.ObjectHandle
	refs    int
	evicted bool
	elem    *list.Element
}

func newUnwrapCache(size int) *unwrapCache {
	return &unwrapCache{max: max(size, 0), entries: map[[32]byte]*cacheEntry{}}
}

// get returns the session object for key, unwrapping it if needed, and the
// function that releases it. s is the caller's session; destroying objects
// happens in it.
func (uc *unwrapCache) get(c *conn, s pkcs11.SessionHandle, key [32]byte, unwrap func() (pkcs11.ObjectHandle, error)) (pkcs11.ObjectHandle, func(), error) {
	uc.mu.Lock()
	if uc.epoch != c.epoch {
		uc.forgetLocked()
		uc.epoch = c.epoch
	}
	if e := uc.entries[key]; e != nil {
		e.refs++
		uc.hits++
		uc.lru.MoveToFront(e.elem)
		uc.mu.Unlock()
		return e.h, uc.releaser(c, s, e), nil
	}
	uc.mu.Unlock()

	// Unwrap without the lock: it is the slow part. Two callers may
	// unwrap the same key at once; the second to finish uses the first's
	// object and destroys its own.
	h, err := unwrap()
	if err != nil {
		return 0, nil, err
	}
	if uc.max == 0 {
		return h, func() { _ = c.p11.DestroyObject(s, h) }, nil
	}

	uc.mu.Lock()
	if e := uc.entries[key]; e != nil {
		e.refs++
		uc.lru.MoveToFront(e.elem)
		uc.mu.Unlock()
		_ = c.p11.DestroyObject(s, h)
		return e.h, uc.releaser(c, s, e), nil
	}
	e := &cacheEntry{key: key, h: h, refs: 1}
	e.elem = uc.lru.PushFront(e)
	uc.entries[key] = e
	var victims []pkcs11.ObjectHandle
	for uc.lru.Len() > uc.max {
		old := uc.lru.Remove(uc.lru.Back()).(*cacheEntry)
		delete(uc.entries, old.key)
		old.evicted = true
		if old.refs == 0 {
			victims = append(victims, old.h)
		}
	}
	uc.mu.Unlock()
	for _, v := range victims {
		_ = c.p11.DestroyObject(s, v)
	}
	return h, uc.releaser(c, s, e), nil
}

func (uc *unwrapCache) releaser(c *conn, s pkcs11.SessionHandle, e *cacheEntry) func() {
	return func() {
		uc.mu.Lock()
		e.refs--
		destroy := e.evicted && e.refs == 0
		uc.mu.Unlock()
		if destroy {
			_ = c.p11.DestroyObject(s, e.h)
		}
	}
}

// reset forgets every entry; the caller is closing their connection.
func (uc *unwrapCache) reset() {
	uc.mu.Lock()
	defer uc.mu.Unlock()
	uc.forgetLocked()
}

func (uc *unwrapCache) forgetLocked() {
	clear(uc.entries)
	uc.lru.Init()
}

func (uc *unwrapCache) stats() Stats {
	uc.mu.Lock()
	defer uc.mu.Unlock()
	return Stats{CacheHits: uc.hits, CacheLive: uc.lru.Len()}
}
