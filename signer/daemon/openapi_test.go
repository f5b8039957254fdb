package daemon_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/segl/segl/signer/api"
)

var (
	specOnce   sync.Once
	specRouter routers.Router
	specErr    error
)

// checkedTransport holds every request the end-to-end tests make, and
// every answer segld gives, to the OpenAPI description in signer/api.
type checkedTransport struct {
	t    *testing.T
	next http.RoundTripper
}

func (c *checkedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	specOnce.Do(func() {
		doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI)
		if err != nil {
			specErr = err
			return
		}
		doc.Servers = nil // any host and port: the tests listen on :0
		specRouter, specErr = gorillamux.NewRouter(doc)
	})
	if specErr != nil {
		c.t.Fatalf("openapi.yaml: %v", specErr)
	}
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	resp, err := c.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	route, params, rerr := specRouter.FindRoute(req)
	if rerr != nil {
		c.t.Errorf("%s %s is not in openapi.yaml: %v", req.Method, req.URL.Path, rerr)
		return resp, nil
	}
	in := &openapi3filter.RequestValidationInput{Request: req.Clone(context.Background()), PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	in.Request.Body = io.NopCloser(bytes.NewReader(reqBody))
	// Requests the tests make malformed on purpose are refused by segld;
	// only the answers must match then.
	reqOK := openapi3filter.ValidateRequest(context.Background(), in) == nil
	respBody, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body: io.NopCloser(bytes.NewReader(respBody)), Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		c.t.Errorf("%s %s answered %d, not as openapi.yaml says: %v\n%s", req.Method, req.URL.Path, resp.StatusCode, err, respBody)
	}
	if reqOK && resp.StatusCode == http.StatusBadRequest {
		c.t.Logf("%s %s: a request the description accepts was refused: %s", req.Method, req.URL.Path, respBody)
	}
	return resp, nil
}
