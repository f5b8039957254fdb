package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/segl/segl/signer/admin"
	"github.com/segl/segl/signer/orders"
)

// enrolCard is POST /admin/v1/piv (a user's card) and
// /admin/v1/officers/piv (the calling officer's own), by enrol.
func (s *Server) enrolCard(enrol func(ctx context.Context, by string, req *admin.PIVEnrolment) (*admin.PIVView, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[admin.PIVEnrolment](s, w, r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		card, err := enrol(r.Context(), callerOf(r).ID, req)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, card)
	}
}

// listCards is GET /admin/v1/piv?userId= and /admin/v1/officers/piv?officerId=.
func (s *Server) listCards(w http.ResponseWriter, r *http.Request, list func(context.Context, string) ([]*admin.PIVView, error), holder string) {
	cards, err := list(r.Context(), holder)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Cards []*admin.PIVView `json:"cards"`
	}{cards})
}

func (s *Server) listPIV(w http.ResponseWriter, r *http.Request) {
	user := r.URL.Query().Get("userId")
	if user != "" {
		if err := orders.CheckUserID(user); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	s.listCards(w, r, s.admin.PIVCards, user)
}

func (s *Server) listOfficerPIV(w http.ResponseWriter, r *http.Request) {
	s.listCards(w, r, s.admin.OfficerPIVCards, r.URL.Query().Get("officerId"))
}

// cardSerial is the {serial} of a card's path.
func cardSerial(r *http.Request) (uint32, error) {
	serial, err := strconv.ParseUint(r.PathValue("serial"), 10, 32)
	if err != nil || serial == 0 {
		return 0, fmt.Errorf("%w: %q is not a card serial: a decimal number from 1 to 4294967295", orders.ErrInvalid, r.PathValue("serial"))
	}
	return uint32(serial), nil
}

// cardBySerial is GET /admin/v1/piv/{serial} and its revoke, by do.
func (s *Server) cardBySerial(do func(r *http.Request, serial uint32) (*admin.PIVView, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		serial, err := cardSerial(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		card, err := do(r, serial)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, card)
	}
}

func (s *Server) showPIV(r *http.Request, serial uint32) (*admin.PIVView, error) {
	return s.admin.PIVCard(r.Context(), serial)
}

func (s *Server) revokePIV(r *http.Request, serial uint32) (*admin.PIVView, error) {
	return s.admin.RevokePIV(r.Context(), callerOf(r).ID, serial)
}
