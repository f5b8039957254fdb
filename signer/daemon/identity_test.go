package daemon_test

import (
	"context"
	"strings"
	"testing"

	"github.com/segl/segl/signer/audit"
	"github.com/segl/segl/signer/store"
)

// Identity attributes: set by an officer, checked, never shown or audited.
func TestIdentityAttributes(t *testing.T) {
	e := start(t)
	e.createUser("karen", "hemmeligt1")
	put := func(body map[string]string) (int, map[string]any) {
		var out map[string]any
		return e.call(e.off, "PUT", "/admin/v1/users/karen/identity", body, &out), out
	}
	for name, body := range map[string]map[string]string{
		"no surname":         {"givenNames": "Karen", "dateOfBirth": "1985-04-17"},
		"a future birth":     {"surname": "Ørsted", "dateOfBirth": "2999-01-01"},
		"not a date":         {"surname": "Ørsted", "dateOfBirth": "1985-02-30"},
		"a bidi override":    {"surname": "Ørs\u202eted", "dateOfBirth": "1985-04-17"},
		"a digit":            {"surname": "Ørsted2", "dateOfBirth": "1985-04-17"},
		"lower nationality":  {"surname": "Ørsted", "dateOfBirth": "1985-04-17", "nationality": "dnk"},
		"a long nationality": {"surname": "Ørsted", "dateOfBirth": "1985-04-17", "nationality": "DNKX"},
	} {
		if code, out := put(body); code != 400 {
			t.Errorf("%s: %d %v", name, code, out)
		}
	}
	code, out := put(map[string]string{"surname": "Ørsted", "givenNames": "Karen Marie", "dateOfBirth": "1985-04-17", "nationality": "DNK"})
	if code != 200 || out["hasIdentity"] != true {
		t.Fatalf("set: %d %v", code, out)
	}
	for _, v := range out {
		if s, ok := v.(string); ok && (strings.Contains(s, "Ørsted") || strings.Contains(s, "1985")) {
			t.Fatalf("the answer shows the identity: %v", out)
		}
	}
	var u *store.User
	e.d.Store().View(context.Background(), func(r store.Reader) (err error) { u, err = r.User("karen"); return err })
	if u.Identity != (store.Identity{Surname: "Ørsted", GivenNames: "Karen Marie", DateOfBirth: "1985-04-17", Nationality: "DNK"}) {
		t.Fatalf("stored %+v", u.Identity)
	}
	e.d.Store().View(context.Background(), func(r store.Reader) error {
		return r.AuditRecords(1, func(s audit.Stored) (bool, error) {
			if s.Record.Event == audit.AdminUserIdentitySet && len(s.Record.Details) != 0 {
				t.Errorf("the audit shows the identity: %+v", s.Record)
			}
			return true, nil
		})
	})
	put(map[string]string{"surname": "Mustermann", "dateOfBirth": "1964-08-12", "nationality": "D"})
	e.d.Store().View(context.Background(), func(r store.Reader) (err error) { u, err = r.User("karen"); return err })
	if u.Identity.Nationality != "D<<" {
		t.Fatalf("D is stored as %q; want D<< as the MRZ has it", u.Identity.Nationality)
	}
}
