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
	specMu      sync.Mutex
	specRouters = map[string]routers.Router{}
)

// specRouter routes requests by the description name (api.OpenAPI or
// api.AppOpenAPI), loaded once.
func specRouter(name string) (routers.Router, error) {
	specMu.Lock()
	defer specMu.Unlock()
	if r, ok := specRouters[name]; ok {
		return r, nil
	}
	doc, err := openapi3.NewLoader().LoadFromData(map[string][]byte{"openapi.yaml": api.OpenAPI, "app-openapi.yaml": api.AppOpenAPI}[name])
	if err != nil {
		return nil, err
	}
	doc.Servers = nil // any host and port: the tests listen on :0
	r, err := gorillamux.NewRouter(doc)
	if err == nil {
		specRouters[name] = r
	}
	return r, err
}

// checkedTransport holds every request the end-to-end tests make, and
// every answer segld gives, to an OpenAPI description in signer/api
// (openapi.yaml unless spec names app-openapi.yaml).
type checkedTransport struct {
	t    *testing.T
	next http.RoundTripper
	spec string
}

func (c *checkedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	name := c.spec
	if name == "" {
		name = "openapi.yaml"
	}
	router, err := specRouter(name)
	if err != nil {
		c.t.Fatalf("%s: %v", name, err)
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
	route, params, rerr := router.FindRoute(req)
	if rerr != nil {
		c.t.Errorf("%s %s is not in %s: %v", req.Method, req.URL.Path, name, rerr)
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
		c.t.Errorf("%s %s answered %d, not as %s says: %v\n%s", req.Method, req.URL.Path, resp.StatusCode, name, err, respBody)
	}
	if reqOK && resp.StatusCode == http.StatusBadRequest {
		c.t.Logf("%s %s: a request the description accepts was refused: %s", req.Method, req.URL.Path, respBody)
	}
	return resp, nil
}
