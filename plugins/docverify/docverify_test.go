package docverify

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"
)

// echo answers with what it was given, so the round trip shows every field.
type echo struct{ got Document }

func (e *echo) Configure(context.Context, map[string]string) (string, error) { return "echo", nil }

func (e *echo) Verify(_ context.Context, d Document) (*Verdict, error) {
	e.got = d
	if string(d.SOD) == "malformed" {
		return nil, ErrInvalid
	}
	return &Verdict{Genuine: false, Reason: "dg2-hash: failed", ActiveAuthenticated: true,
		Checks: []Check{{"sod-signature", OK, ""}, {"dg2-hash", Failed, "differs"}, {"crl", Skipped, "no CRL"}},
		Holder: &Holder{DocumentCode: "P", IssuingState: "UTO", DocumentNumber: "L898902C3", Surname: "ERIKSSON", GivenNames: "ANNA MARIA",
			Nationality: "UTO", DateOfBirth: "1974-08-12", Sex: "F", DateOfExpiry: "2012-04-15"}}, nil
}

func TestRoundTrip(t *testing.T) {
	impl := &echo{}
	c, _ := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{PluginName: &Plugin{Impl: impl}})
	defer c.Close()
	raw, err := c.Dispense(PluginName)
	if err != nil {
		t.Fatal(err)
	}
	v := raw.(Verifier)
	doc := Document{SOD: []byte{0x77, 1, 0}, DataGroups: map[int][]byte{1: {0x61, 0}, 15: {0x6f, 0}}, AAChallenge: []byte("12345678"),
		AASignature: []byte("sig"), At: time.Unix(1764676800, 0).UTC()}
	got, err := v.Verify(context.Background(), doc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(impl.got, doc) {
		t.Fatalf("the plugin got %+v; sent %+v", impl.got, doc)
	}
	want, _ := (&echo{}).Verify(context.Background(), doc)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("the host got %+v; the plugin said %+v", got, want)
	}
	if _, err := v.Verify(context.Background(), Document{SOD: []byte("malformed")}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a malformed request: %v", err)
	}
	for name, d := range map[string]Document{
		"no SOD":      {},
		"DG 0":        {SOD: []byte{1}, DataGroups: map[int][]byte{0: {1}}},
		"DG 17":       {SOD: []byte{1}, DataGroups: map[int][]byte{17: {1}}},
		"an empty DG": {SOD: []byte{1}, DataGroups: map[int][]byte{2: {}}},
		"a huge SOD":  {SOD: make([]byte, maxFile+1)},
	} {
		if _, err := v.Verify(context.Background(), d); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v; want ErrInvalid", name, err)
		}
	}
}
