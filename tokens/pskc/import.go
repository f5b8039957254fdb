package pskc

import (
	"errors"
	"fmt"

	"github.com/segl/segl/hsm"
)

// ErrRefused: the file, or the key or password given with it, is at
// fault; nothing from it was imported.
var ErrRefused = errors.New("nothing from this file was imported")

// Importer brings seeds into the HSM as wrapped blobs (*hsm.Keystore).
type Importer interface {
	ImportSecret(kekLabel string, secret []byte) (*hsm.WrappedKey, error)
	ImportSealed(kekLabel string, t hsm.Transport, values []hsm.Sealed) ([]*hsm.WrappedKey, error)
}

// Import brings every seed of the batch into the HSM, wrapped under the
// KEK with the label, and returns the blobs in the batch's order. Sealed
// seeds go to the HSM with their MACs and the transport key, which comes
// from psk (raw or hex) or password, whichever the batch needs. It is all
// or nothing; an error that the file or the key is at fault wraps
// ErrRefused and names the KeyPackage when there is one to name.
func (b *Batch) Import(imp Importer, kekLabel string, psk, password []byte) ([]*hsm.WrappedKey, error) {
	refuse := func(err error) error { return fmt.Errorf("%w; %w", err, ErrRefused) }
	prot := b.Protection
	if prot == nil && (len(psk) > 0 || len(password) > 0) {
		return nil, refuse(errors.New("pskc: the file's seeds are not encrypted; import it without a key or password"))
	}
	out := make([]*hsm.WrappedKey, len(b.Tokens))
	var sealed []hsm.Sealed
	var sealedAt []int
	for i, t := range b.Tokens {
		if t.sealed != nil {
			sealed = append(sealed, hsm.Sealed{Value: t.sealed, MAC: t.mac})
			sealedAt = append(sealedAt, i)
			continue
		}
		w, err := imp.ImportSecret(kekLabel, t.secret)
		if err != nil {
			return nil, fmt.Errorf("KeyPackage %d (serial %s): wrap the seed: %w", t.Package, t.Serial, err)
		}
		out[i] = w
	}
	if len(sealed) == 0 {
		return out, nil
	}
	key, err := prot.TransportKey(psk, password)
	if err != nil {
		return nil, refuse(err)
	}
	defer clear(key)
	ws, err := imp.ImportSealed(kekLabel, hsm.Transport{Key: key, MACKey: prot.MACKey, MACHash: prot.MACHash}, sealed)
	if err != nil {
		var ve *hsm.ValueError
		if errors.As(err, &ve) && ve.Index < len(sealedAt) {
			t := b.Tokens[sealedAt[ve.Index]]
			err = fmt.Errorf("pskc: KeyPackage %d (serial %s): %w", t.Package, t.Serial, err)
		} else {
			err = fmt.Errorf("pskc: the batch's MAC key: %w", err)
		}
		if errors.Is(err, hsm.ErrBadMAC) || errors.Is(err, hsm.ErrBadInput) {
			return nil, refuse(err)
		}
		return nil, err
	}
	for j, w := range ws {
		out[sealedAt[j]] = w
	}
	return out, nil
}
