package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/segl/segl/hsm"
	"github.com/segl/segl/signer/errs"
	"github.com/segl/segl/signer/orders"
	"github.com/segl/segl/signer/smsgate"
	"github.com/segl/segl/signer/store"
	"github.com/segl/segl/signer/strictjson"
)

// MaxBody is the default bound on a request body (api.max-body). The
// largest legitimate one (a sign order with 1,500 characters of
// userVisibleData, or an RP certificate) is a few kilobytes.
const MaxBody = 16 << 10

// Error codes, BankID's.
const (
	codeInvalid     = "invalidParameters"
	codeUnauth      = "unauthorized"
	codeNotFound    = "notFound"
	codeInProgress  = "alreadyInProgress"
	codeTimeout     = "requestTimeout"
	codeInternal    = "internalError"
	codeMaintenance = "maintenance"
	codeTooMany     = "tooManyRequests"
)

// Error is the body of every error answer.
type Error struct {
	ErrorCode string `json:"errorCode"`
	Details   string `json:"details"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, details string) {
	writeJSON(w, status, Error{ErrorCode: code, Details: details})
}

// errBadJSON is a body that does not decode into the request type.
var errBadJSON = errors.New("bad request body")

// decode reads exactly one JSON object of type T from a bounded body, as
// openapi.yaml describes it: no unknown, duplicated or miscased member, and
// nothing after it (strictjson).
func decode[T any](s *Server, w http.ResponseWriter, r *http.Request) (*T, error) {
	return decodeUpTo[T](w, r, s.maxBody)
}

// decodeUpTo is decode with another limit on the body, for the one request
// that carries a file.
func decodeUpTo[T any](w http.ResponseWriter, r *http.Request, limit int64) (*T, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return nil, fmt.Errorf("%w: Content-Type must be application/json", errBadJSON)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, fmt.Errorf("%w: the body is larger than %d bytes", errBadJSON, limit)
		}
		return nil, fmt.Errorf("%w: %v", errBadJSON, err)
	}
	if trimmed := bytes.TrimLeft(body, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, fmt.Errorf("%w: the body must be a JSON object", errBadJSON)
	}
	v := new(T)
	if err := strictjson.Unmarshal(body, v); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadJSON, err)
	}
	return v, nil
}

// fail answers an error from the services with BankID's codes. Internal
// errors are logged, not shown: their text may name HSM or database
// details the caller has no use for.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, errBadJSON), errors.Is(err, orders.ErrInvalid):
		writeError(w, http.StatusBadRequest, codeInvalid, err.Error())
	case errors.Is(err, orders.ErrUnauthorized):
		writeError(w, http.StatusUnauthorized, codeUnauth, err.Error())
	case errors.Is(err, orders.ErrNotFound), errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, codeNotFound, err.Error())
	case errors.Is(err, orders.ErrAlreadyInProgress):
		writeError(w, http.StatusConflict, codeInProgress, err.Error())
	case errors.Is(err, store.ErrExists):
		writeError(w, http.StatusConflict, codeInvalid, err.Error())
	case errors.Is(err, errs.ErrLimited):
		var e *errs.Error
		if errors.As(err, &e) && e.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
		}
		writeError(w, http.StatusTooManyRequests, codeTooMany, err.Error())
	case errors.Is(err, r.Context().Err()) && r.Context().Err() != nil:
		writeError(w, http.StatusRequestTimeout, codeTimeout, "the request was cancelled or timed out")
	case errors.Is(err, smsgate.ErrNotSent):
		s.log.WarnContext(r.Context(), "no SMS gateway took a message", "route", r.Pattern, "err", err)
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, codeMaintenance, "the SMS could not be sent: no SMS gateway takes messages at the moment; retry in a little while")
	case errors.Is(err, hsm.ErrBusy), errors.Is(err, hsm.ErrSessionLost), errors.Is(err, hsm.ErrUnavailable):
		// The HSM, not the request: nothing was decided, nothing counted.
		s.log.WarnContext(r.Context(), "the HSM could not serve a request", "route", r.Pattern, "err", err)
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(hsm.DefaultRecoveryInterval.Seconds()))))
		writeError(w, http.StatusServiceUnavailable, codeMaintenance, "the HSM is not available at the moment; retry after a few seconds")
	case errors.Is(err, store.ErrUnavailable):
		// The database, not the request. Nothing was decided, or (a
		// commit whose answer was lost) it was and a retry meets it: a
		// spent value sent again counts nothing.
		s.log.WarnContext(r.Context(), "the database could not serve a request", "route", r.Pattern, "err", err)
		w.Header().Set("Retry-After", "2")
		writeError(w, http.StatusServiceUnavailable, codeMaintenance, "the database is not available at the moment; retry after a few seconds")
	default:
		s.log.ErrorContext(r.Context(), "request failed", "route", r.Pattern, "err", err)
		writeError(w, http.StatusInternalServerError, codeInternal, "internal error; the server's log has the cause")
	}
}
