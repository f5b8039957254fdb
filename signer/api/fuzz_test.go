package api

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/segl/segl/signer/admin"
	"github.com/segl/segl/signer/orders"
)

// FuzzDecoders feeds every request body type of the API the same input:
// decode must answer with a value or an error, never panic, and never
// accept trailing data.
func FuzzDecoders(f *testing.F) {
	for _, s := range []string{"null", `{"endUserIp":"192.0.2.1"}`, `{"orderRef":"x","type":"password","value":"v"}`, `{"id":"a","name":"b"}`, `{} {}`, `[`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		try := func(decodeOne func() error) {
			if err := decodeOne(); err == nil && !strings.HasPrefix(strings.TrimLeft(body, " \t\r\n"), "{") {
				t.Fatalf("%q decoded without an object", body)
			}
		}
		req := func() (*httptest.ResponseRecorder, *httptestRequest) {
			return httptest.NewRecorder(), newReq(body)
		}
		try(func() error {
			w, r := req()
			_, err := decode[orders.StartRequest](&Server{maxBody: MaxBody}, w, r.Request)
			return err
		})
		try(func() error {
			w, r := req()
			_, err := decode[orders.FactorRequest](&Server{maxBody: MaxBody}, w, r.Request)
			return err
		})
		try(func() error {
			w, r := req()
			_, err := decode[orders.RefRequest](&Server{maxBody: MaxBody}, w, r.Request)
			return err
		})
		try(func() error {
			w, r := req()
			_, err := decode[admin.NewUser](&Server{maxBody: MaxBody}, w, r.Request)
			return err
		})
		try(func() error {
			w, r := req()
			_, err := decode[admin.NewRP](&Server{maxBody: MaxBody}, w, r.Request)
			return err
		})
	})
}
