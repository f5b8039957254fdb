package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
)

type httptestRequest struct{ *http.Request }

func newReq(body string) *httptestRequest {
	r := httptest.NewRequest("POST", "/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return &httptestRequest{r}
}
