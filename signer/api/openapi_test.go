package api

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// TestRoutesMatchOpenAPI: every route the server serves is described, and
// every described operation is served. The end-to-end tests check the
// bodies (signer/daemon).
func TestRoutesMatchOpenAPI(t *testing.T) {
	s := &Server{mux: http.NewServeMux(), metrics: newMetrics(nil)}
	s.routes()
	s.AppHandler()
	routesMatch(t, "openapi.yaml", OpenAPI, s.patterns, "GET /openapi.yaml")
	routesMatch(t, "app-openapi.yaml", AppOpenAPI, s.appPatterns, "")
}

func routesMatch(t *testing.T, name string, spec []byte, patterns []string, skip string) {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("%s is not valid OpenAPI 3: %v", name, err)
	}
	var described []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			described = append(described, method+" "+path)
		}
	}
	var served []string
	for _, p := range patterns {
		if p != "/" && p != skip {
			served = append(served, p)
		}
	}
	slices.Sort(described)
	slices.Sort(served)
	if strings.Join(described, "\n") != strings.Join(served, "\n") {
		t.Fatalf("%s describes:\n%s\n\nserved:\n%s", name, strings.Join(described, "\n"), strings.Join(served, "\n"))
	}
}
