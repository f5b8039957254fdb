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
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.yaml is not valid OpenAPI 3: %v", err)
	}
	var described []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			described = append(described, method+" "+path)
		}
	}
	s := &Server{mux: http.NewServeMux(), metrics: newMetrics(nil)}
	s.routes()
	var served []string
	for _, p := range s.patterns {
		if p != "/" && p != "GET /openapi.yaml" {
			served = append(served, p)
		}
	}
	slices.Sort(described)
	slices.Sort(served)
	if strings.Join(described, "\n") != strings.Join(served, "\n") {
		t.Fatalf("described:\n%s\n\nserved:\n%s", strings.Join(described, "\n"), strings.Join(served, "\n"))
	}
}
