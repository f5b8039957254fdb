package client

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/crypto/argon2"
)

// State is the reference app's file: the device's ids in the clear, its
// private key sealed with AES-256-GCM under a key that argon2id derives
// from the app PIN. Everything in the clear is the seal's additional data,
// so a file whose ids or parameters were changed does not open.
type State struct {
	Version    int    `json:"version"` // 1
	DeviceID   string `json:"deviceId"`
	UserID     string `json:"userId"`
	DeviceName string `json:"deviceName"`
	KDF        KDF    `json:"kdf"`
	Nonce      []byte `json:"nonce"`  // GCM's 12 bytes
	Sealed     []byte `json:"sealed"` // the PKCS #8 private key, sealed
}

// KDF are the argon2id parameters the key was sealed with.
type KDF struct {
	Name      string `json:"name"` // argon2id
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memoryKiB"`
	Threads   uint8  `json:"threads"`
	Salt      []byte `json:"salt"`
}

// DefaultKDF is OWASP's first argon2id choice (m = 46 MiB, t = 1, p = 1)
// made a little stronger: 64 MiB, 3 passes. A 4-digit PIN stays a
// 4-digit PIN: the file is the reference client's, for tests and
// integrators; a phone keeps its key in the Secure Enclave or StrongBox.
var DefaultKDF = KDF{Name: "argon2id", Time: 3, MemoryKiB: 64 << 10, Threads: 1}

// ErrWrongPIN is a PIN that does not open the state.
var ErrWrongPIN = errors.New("the app PIN does not open the state file (or the file was changed)")

func (s *State) aad() []byte {
	c := *s
	c.Nonce, c.Sealed = nil, nil
	b, _ := json.Marshal(c)
	return append([]byte("SEGL-APP-STATE-1\x00"), b...)
}

func (k KDF) key(pin []byte) []byte {
	return argon2.IDKey(pin, k.Salt, k.Time, k.MemoryKiB, k.Threads, 32)
}

// MinPIN is the shortest app PIN Seal takes, in bytes.
const MinPIN = 4

// CheckPIN refuses a PIN that Seal would refuse; an activation checks it
// before segld spends the card code on a key that could not be saved.
func CheckPIN(pin []byte) error {
	if len(pin) < MinPIN {
		return fmt.Errorf("the app PIN must be at least %d characters", MinPIN)
	}
	return nil
}

// Seal makes the state of d, its key sealed under pin.
func Seal(d *Device, pin []byte, kdf KDF) (*State, error) {
	if err := CheckPIN(pin); err != nil {
		return nil, err
	}
	kdf.Salt = make([]byte, 16)
	if _, err := rand.Read(kdf.Salt); err != nil {
		return nil, err
	}
	s := &State{Version: 1, DeviceID: d.ID, UserID: d.User, DeviceName: d.Name, KDF: kdf, Nonce: make([]byte, 12)}
	if _, err := rand.Read(s.Nonce); err != nil {
		return nil, err
	}
	raw, err := x509.MarshalPKCS8PrivateKey(d.Key)
	if err != nil {
		return nil, err
	}
	aead, err := gcm(kdf.key(pin))
	if err != nil {
		return nil, err
	}
	s.Sealed = aead.Seal(nil, s.Nonce, raw, s.aad())
	return s, nil
}

func gcm(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// Open unseals the device with pin.
func (s *State) Open(pin []byte) (*Device, error) {
	if s.Version != 1 || s.KDF.Name != "argon2id" || len(s.KDF.Salt) < 16 || len(s.Nonce) != 12 ||
		s.KDF.Time < 1 || s.KDF.MemoryKiB < 8 || s.KDF.Threads < 1 || s.KDF.MemoryKiB > 4<<20 || s.KDF.Time > 100 {
		return nil, errors.New("the state file is not a version 1 state with argon2id parameters in range")
	}
	aead, err := gcm(s.KDF.key(pin))
	if err != nil {
		return nil, err
	}
	raw, err := aead.Open(nil, s.Nonce, s.Sealed, s.aad())
	if err != nil {
		return nil, ErrWrongPIN
	}
	k, err := x509.ParsePKCS8PrivateKey(raw)
	if err != nil {
		return nil, fmt.Errorf("the state's key: %w", err)
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("the state's key is a %T", k)
	}
	return &Device{ID: s.DeviceID, User: s.UserID, Name: s.DeviceName, Key: ec}, nil
}

// Save writes the state to path, 0600, in its directory (made 0700), by
// a rename so that a crash leaves the old file or the new.
func (s *State) Save(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".app-state-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// Load reads a state file, refusing one that others may read or write,
// as ssh refuses such a key.
func Load(path string) (*State, error) {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no app state at %s: activate first (segl app activate)", path)
		}
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("the app state %s is %s: others may read it; chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("the app state %s: %v", path, err)
	}
	return &s, nil
}
