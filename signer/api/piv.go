package api

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/segl/segl/signer/admin"
	"github.com/segl/segl/signer/orders"
)

func (s *Server) enrolPIV(w http.ResponseWriter, r *http.Request) {
	req, err := decode[admin.PIVEnrolment](s, w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	card, err := s.admin.EnrolPIV(r.Context(), callerOf(r).ID, req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, card)
}

func (s *Server) listPIV(w http.ResponseWriter, r *http.Request) {
	user := r.URL.Query().Get("userId")
	if user != "" {
		if err := orders.CheckUserID(user); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	cards, err := s.admin.PIVCards(r.Context(), user)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Cards []*admin.PIVView `json:"cards"`
	}{cards})
}

// cardSerial is the {serial} of a card's path.
func cardSerial(r *http.Request) (uint32, error) {
	serial, err := strconv.ParseUint(r.PathValue("serial"), 10, 32)
	if err != nil || serial == 0 {
		return 0, fmt.Errorf("%w: %q is not a card serial: a decimal number from 1 to 4294967295", orders.ErrInvalid, r.PathValue("serial"))
	}
	return uint32(serial), nil
}

func (s *Server) showPIV(w http.ResponseWriter, r *http.Request) {
	serial, err := cardSerial(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	card, err := s.admin.PIVCard(r.Context(), serial)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, card)
}

func (s *Server) revokePIV(w http.ResponseWriter, r *http.Request) {
	serial, err := cardSerial(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	card, err := s.admin.RevokePIV(r.Context(), callerOf(r).ID, serial)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, card)
}

func (s *Server) enrolOfficerPIV(w http.ResponseWriter, r *http.Request) {
	req, err := decode[admin.PIVEnrolment](s, w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	card, err := s.admin.EnrolOfficerPIV(r.Context(), callerOf(r).ID, req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, card)
}

func (s *Server) listOfficerPIV(w http.ResponseWriter, r *http.Request) {
	cards, err := s.admin.OfficerPIVCards(r.Context(), r.URL.Query().Get("officerId"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Cards []*admin.PIVView `json:"cards"`
	}{cards})
}
