package hsm

import (
	"fmt"

	"github.com/miekg/pkcs11"
)

// Token data objects (CKO_DATA) hold small values that must live where a
// database writer cannot change them or roll them back, such as the last
// checkpoint of the audit chain: whoever can write Segl's database cannot
// log in to the token, and a value kept in the database, even MACed, could
// be replaced by an older copy of itself.
//
// They are private (CKA_PRIVATE: readable and writable only after login),
// tagged with CKA_APPLICATION "segl", and found by label like keys; a
// label is never shared with a key.

// DataApplication is the CKA_APPLICATION of Segl's data objects.
const DataApplication = "segl"

// MaxData bounds a data object's value: these are records, not files.
const MaxData = 4096

func dataTemplate(label string) []*pkcs11.Attribute {
	return []*pkcs11.Attribute{
		attr(pkcs11.CKA_CLASS, pkcs11.CKO_DATA),
		attr(pkcs11.CKA_TOKEN, true),
		attr(pkcs11.CKA_LABEL, label),
	}
}

func findData(p *pkcs11.Ctx, s pkcs11.SessionHandle, label string) (pkcs11.ObjectHandle, bool, error) {
	hs, err := findObjects(p, s, dataTemplate(label), 2)
	switch {
	case err != nil:
		return 0, false, err
	case len(hs) > 1:
		return 0, false, fmt.Errorf("%w: more than one data object is labelled %q; an officer must delete the extra one", ErrAmbiguousKey, label)
	case len(hs) == 0:
		return 0, false, nil
	}
	return hs[0], true, nil
}

// pendingSuffix marks a value being written: SoftHSM, like the PKCS#11
// default, keeps a data object's CKA_VALUE read-only once created, so a
// write creates the new object beside the old one, destroys the old one
// and renames the new one. The object with the plain label is the value;
// only when a crash left the pending one alone is that one the value.
const pendingSuffix = ".pending"

// current finds the object that holds label's value.
func current(p *pkcs11.Ctx, s pkcs11.SessionHandle, label string) (pkcs11.ObjectHandle, bool, error) {
	h, ok, err := findData(p, s, label)
	if err != nil || ok {
		return h, ok, err
	}
	return findData(p, s, label+pendingSuffix)
}

// Data returns the value of the token data object with the label, or an
// error of kind ErrDataNotFound when there is none.
func (ks *Keystore) Data(label string) ([]byte, error) {
	var v []byte
	err := ks.use(fmt.Sprintf("read data object %q", label), func(c *conn) error {
		return c.withSession(func(s pkcs11.SessionHandle) error {
			h, ok, err := current(c.p11, s, label)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("%w: no data object is labelled %q", ErrDataNotFound, label)
			}
			got, err := c.p11.GetAttributeValue(s, h, []*pkcs11.Attribute{attr(pkcs11.CKA_VALUE, nil)})
			if err != nil {
				return err
			}
			v = got[0].Value
			return nil
		})
	})
	return v, err
}

// SetData stores value in the private token data object with the label,
// creating it when it does not exist. A label that a key has is refused.
// A crash part-way leaves either the old value or the new one, never none.
func (ks *Keystore) SetData(label string, value []byte) error {
	op := fmt.Sprintf("write data object %q", label)
	if err := checkLabel(label); err != nil {
		return &Error{Op: op, Kind: ErrBadInput, Err: err}
	}
	if len(label)+len(pendingSuffix) > 64 {
		return &Error{Op: op, Kind: ErrBadInput, Err: fmt.Errorf("a data object's label is at most %d bytes", 64-len(pendingSuffix))}
	}
	if len(value) > MaxData {
		return &Error{Op: op, Kind: ErrBadInput, Err: fmt.Errorf("the value is %d bytes, at most %d", len(value), MaxData)}
	}
	ks.gen.Lock() // creation checks the label, as key generation does
	defer ks.gen.Unlock()
	return ks.use(op, func(c *conn) error {
		return c.withSession(func(s pkcs11.SessionHandle) error {
			old, hasOld, err := findData(c.p11, s, label)
			if err != nil {
				return err
			}
			pending := label + pendingSuffix
			stale, hasStale, err := findData(c.p11, s, pending)
			if err != nil {
				return err
			}
			switch {
			case hasOld && hasStale:
				// A write that crashed before it destroyed the old
				// value: the old one still holds.
				if err := c.p11.DestroyObject(s, stale); err != nil {
					return err
				}
			case hasStale:
				// A write that crashed after it: the pending one holds.
				old, hasOld = stale, true
			default:
				if !hasOld {
					if err := refuseExisting(c.p11, s, label); err != nil {
						return err
					}
				}
			}
			made, err := c.p11.CreateObject(s, []*pkcs11.Attribute{
				attr(pkcs11.CKA_CLASS, pkcs11.CKO_DATA),
				attr(pkcs11.CKA_TOKEN, true),
				attr(pkcs11.CKA_LABEL, pending),
				attr(pkcs11.CKA_PRIVATE, true),
				attr(pkcs11.CKA_MODIFIABLE, true),
				attr(pkcs11.CKA_APPLICATION, DataApplication),
				attr(pkcs11.CKA_VALUE, value),
			})
			if err != nil {
				return err
			}
			if hasOld {
				if err := c.p11.DestroyObject(s, old); err != nil {
					_ = c.p11.DestroyObject(s, made)
					return err
				}
			}
			if err := c.p11.SetAttributeValue(s, made, []*pkcs11.Attribute{attr(pkcs11.CKA_LABEL, label)}); err != nil {
				return err // the pending object holds the value; the next write renames it
			}
			if !hasOld {
				return refuseRace(c.p11, s, label, []pkcs11.ObjectHandle{made})
			}
			return nil
		})
	})
}

// DeleteData destroys the token data object with the label, if any.
func (ks *Keystore) DeleteData(label string) error {
	return ks.use(fmt.Sprintf("delete data object %q", label), func(c *conn) error {
		return c.withSession(func(s pkcs11.SessionHandle) error {
			for _, l := range []string{label, label + pendingSuffix} {
				h, ok, err := findData(c.p11, s, l)
				if err != nil {
					return err
				}
				if ok {
					if err := c.p11.DestroyObject(s, h); err != nil {
						return err
					}
				}
			}
			return nil
		})
	})
}
