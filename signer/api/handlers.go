package api

import (
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/segl/segl/signer/admin"
	"github.com/segl/segl/signer/audit"
	"github.com/segl/segl/signer/orders"
	"github.com/segl/segl/signer/qr"
	"github.com/segl/segl/signer/store"
	"github.com/segl/segl/tokens/pskc"
	"github.com/segl/segl/tokens/yubico"
)

func (s *Server) start(kind store.OrderKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[orders.StartRequest](s, w, r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		resp, err := s.orders.Start(r.Context(), callerOf(r).ID, kind, req)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		noteOrder(r, resp.OrderRef)
		writeJSON(w, http.StatusOK, resp)
	}
}

func (s *Server) collect(w http.ResponseWriter, r *http.Request) {
	req, err := decode[orders.RefRequest](s, w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	noteOrder(r, req.OrderRef)
	resp, err := s.orders.Collect(r.Context(), callerOf(r).ID, req.OrderRef)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) cancel(w http.ResponseWriter, r *http.Request) {
	req, err := decode[orders.RefRequest](s, w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	noteOrder(r, req.OrderRef)
	if err := s.orders.Cancel(r.Context(), callerOf(r).ID, req.OrderRef); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

func (s *Server) factor(w http.ResponseWriter, r *http.Request) {
	req, err := decode[orders.FactorRequest](s, w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	noteOrder(r, req.OrderRef)
	resp, err := s.orders.SubmitFactor(r.Context(), callerOf(r).ID, req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) qr(w http.ResponseWriter, r *http.Request) {
	req, err := decode[orders.RefRequest](s, w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	noteOrder(r, req.OrderRef)
	if req.Format != "" && req.Format != "png" {
		s.fail(w, r, fmt.Errorf("%w: format must be \"png\" or left out", orders.ErrInvalid))
		return
	}
	data, err := s.orders.QR(r.Context(), callerOf(r).ID, req.OrderRef)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if req.Format == "png" {
		png, err := qr.PNG(data, 256)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "image/png")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(png)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"qrData": data})
}

func (s *Server) qrVerify(w http.ResponseWriter, r *http.Request) {
	req, err := decode[struct {
		QRData string `json:"qrData"`
	}](s, w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ref, err := s.orders.QRVerify(r.Context(), callerOf(r).ID, req.QRData)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	noteOrder(r, ref)
	writeJSON(w, http.StatusOK, map[string]string{"orderRef": ref})
}

// Admin API.

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) {
	req, err := decode[admin.NewUser](s, w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	u, err := s.admin.CreateUser(r.Context(), callerOf(r).ID, req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, u)
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	us, err := s.admin.Users(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": us})
}

func (s *Server) showUser(w http.ResponseWriter, r *http.Request) {
	u, err := s.admin.User(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

func (s *Server) setUserDisabled(disabled bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, err := s.admin.SetDisabled(r.Context(), callerOf(r).ID, r.PathValue("id"), disabled)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, u)
	}
}

func (s *Server) setPassword(w http.ResponseWriter, r *http.Request) {
	req, err := decode[struct {
		Password string `json:"password"`
	}](s, w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.admin.SetPassword(r.Context(), callerOf(r).ID, r.PathValue("id"), []byte(req.Password)); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

func (s *Server) createRP(w http.ResponseWriter, r *http.Request) {
	req, err := decode[admin.NewRP](s, w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rp, err := s.admin.CreateRP(r.Context(), callerOf(r).ID, req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, rp)
}

func (s *Server) listRPs(w http.ResponseWriter, r *http.Request) {
	rps, err := s.admin.RPs(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"rps": rps})
}

func (s *Server) setRPDisabled(disabled bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rp, err := s.admin.SetRPDisabled(r.Context(), callerOf(r).ID, r.PathValue("id"), disabled)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, rp)
	}
}

// AuditPage is one page of GET /admin/v1/audit: records from a sequence
// number on, as stored (with their chain hashes), and, on the first page,
// every checkpoint and the cadence segld seals at.
type AuditPage struct {
	Records     []AuditEntry       `json:"records"`
	Checkpoints []audit.Checkpoint `json:"checkpoints,omitempty"`
	Cadence     *AuditCadence      `json:"cadence,omitempty"`
	Next        uint64             `json:"next,omitempty"` // the from of the next page; 0 at the end
}

// AuditEntry is a stored record and its chain hash (hex).
type AuditEntry struct {
	Record audit.Record `json:"record"`
	Hash   string       `json:"hash"`
}

// AuditCadence is audit.checkpoint-every and audit.checkpoint-interval.
type AuditCadence struct {
	Every           int `json:"checkpointEvery"`
	IntervalSeconds int `json:"checkpointIntervalSeconds"`
}

const auditPageSize = 1000

func (s *Server) auditLog(w http.ResponseWriter, r *http.Request) {
	from := uint64(1)
	if v := r.URL.Query().Get("from"); v != "" {
		// A record number is a positive int64: the database's integer.
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			s.fail(w, r, fmt.Errorf("%w: from must be a record number from 1 to %d", orders.ErrInvalid, int64(math.MaxInt64)))
			return
		}
		from = uint64(n)
	}
	page := AuditPage{Records: []AuditEntry{}}
	err := s.store.View(r.Context(), func(rd store.Reader) error {
		err := rd.AuditRecords(from, func(st audit.Stored) (bool, error) {
			if len(page.Records) == auditPageSize {
				page.Next = st.Record.Seq
				return false, nil
			}
			page.Records = append(page.Records, AuditEntry{Record: st.Record, Hash: hex.EncodeToString(st.Hash[:])})
			return true, nil
		})
		if err != nil {
			return err
		}
		if from != 1 {
			return nil
		}
		page.Cadence = s.cadence
		page.Checkpoints, err = rd.AuditCheckpoints()
		return err
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *Server) challenge(w http.ResponseWriter, r *http.Request) {
	req, err := decode[orders.ChallengeRequest](s, w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	noteOrder(r, req.OrderRef)
	shown, err := s.orders.Challenge(r.Context(), callerOf(r).ID, req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, shown)
}

func (s *Server) issueCodeCard(w http.ResponseWriter, r *http.Request) {
	req, err := decode[struct {
		UserID string `json:"userId"`
	}](s, w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	card, err := s.admin.IssueCodeCard(r.Context(), callerOf(r).ID, req.UserID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, card)
}

func (s *Server) listCodeCards(w http.ResponseWriter, r *http.Request) {
	cards, err := s.admin.CodeCards(r.Context(), r.URL.Query().Get("userId"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"codecards": cards})
}

func (s *Server) revokeCodeCard(w http.ResponseWriter, r *http.Request) {
	card, err := s.admin.RevokeCodeCard(r.Context(), callerOf(r).ID, r.PathValue("serial"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, card)
}

func (s *Server) printCodeCard(w http.ResponseWriter, r *http.Request) {
	card, err := s.admin.PrintCodeCard(r.Context(), callerOf(r).ID, r.PathValue("serial"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, card)
}

// importTokens takes a plaintext PSKC file itself as the body
// (application/pskc+xml, RFC 6030 §12.1), up to pskc.MaxFile; a sealed one
// comes as JSON with the key or password that opens it, so that the secret
// travels in the body over mTLS and never in a URL or header.
func (s *Server) importTokens(w http.ResponseWriter, r *http.Request) {
	var in admin.TokenImport
	defer in.Zero()
	switch ct := r.Header.Get("Content-Type"); {
	case strings.HasPrefix(ct, "application/pskc+xml"):
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, pskc.MaxFile))
		if err != nil {
			s.fail(w, r, fmt.Errorf("%w: %v", errBadJSON, err))
			return
		}
		in.File = body
	case strings.HasPrefix(ct, "application/json"):
		req, err := decodeUpTo[sealedImport](w, r, pskc.MaxFile/3*4+4096)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if in, err = req.tokenImport(); err != nil {
			s.fail(w, r, err)
			return
		}
	case strings.HasPrefix(ct, "text/csv"):
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, yubico.MaxCSV))
		if err != nil {
			s.fail(w, r, fmt.Errorf("%w: %v", errBadJSON, err))
			return
		}
		defer clear(body)
		views, err := s.admin.ImportYubicoKeys(r.Context(), callerOf(r).ID, body)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, map[string]any{"tokens": views})
		return
	default:
		s.fail(w, r, fmt.Errorf("%w: send a plaintext PSKC file as application/pskc+xml, a sealed one as application/json {file, preSharedKey|password}, YubiKeys' Yubico-format CSV as text/csv", orders.ErrInvalid))
		return
	}
	views, err := s.admin.ImportTokens(r.Context(), callerOf(r).ID, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"tokens": views})
}

// sealedImport is a sealed PSKC batch and what opens it.
type sealedImport struct {
	File         []byte `json:"file"`                   // the PSKC file, base64
	PreSharedKey string `json:"preSharedKey,omitempty"` // hex
	Password     string `json:"password,omitempty"`
}

func (req *sealedImport) tokenImport() (admin.TokenImport, error) {
	in := admin.TokenImport{File: req.File, Password: []byte(req.Password)}
	if len(req.File) == 0 {
		return in, fmt.Errorf("%w: file (the PSKC file, base64) is missing", orders.ErrInvalid)
	}
	if req.PreSharedKey != "" {
		k, err := hex.DecodeString(req.PreSharedKey)
		if err != nil {
			return in, fmt.Errorf("%w: preSharedKey is not hex", orders.ErrInvalid)
		}
		in.PreSharedKey = k
	}
	if len(in.PreSharedKey) > 0 && len(in.Password) > 0 {
		return in, fmt.Errorf("%w: give preSharedKey or password, not both", orders.ErrInvalid)
	}
	return in, nil
}

func (s *Server) showToken(w http.ResponseWriter, r *http.Request) {
	v, err := s.admin.OTPToken(r.Context(), r.PathValue("serial"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) {
	views, err := s.admin.OTPTokens(r.Context(), r.URL.Query().Get("userId"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": views})
}

func (s *Server) changeToken(w http.ResponseWriter, r *http.Request) {
	req, err := decode[admin.TokenChange](s, w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := s.admin.ChangeToken(r.Context(), callerOf(r).ID, r.PathValue("serial"), req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) setPhone(w http.ResponseWriter, r *http.Request) {
	req, err := decode[struct {
		Phone string `json:"phone"`
	}](s, w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if req.Phone == "" {
		s.fail(w, r, fmt.Errorf("%w: phone is empty; DELETE the phone to remove it", orders.ErrInvalid))
		return
	}
	u, err := s.admin.SetPhone(r.Context(), callerOf(r).ID, r.PathValue("id"), req.Phone)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

func (s *Server) setIdentity(w http.ResponseWriter, r *http.Request) {
	req, err := decode[admin.Identity](s, w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	u, err := s.admin.SetIdentity(r.Context(), callerOf(r).ID, r.PathValue("id"), req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

func (s *Server) deletePhone(w http.ResponseWriter, r *http.Request) {
	u, err := s.admin.SetPhone(r.Context(), callerOf(r).ID, r.PathValue("id"), "")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

func (s *Server) listSMS(w http.ResponseWriter, r *http.Request) {
	views, err := s.admin.SMS(r.Context(), r.URL.Query().Get("userId"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"sms": views})
}

// PluginView is a plugin as officers see it.
type PluginView struct {
	Name        string    `json:"name"`
	Contract    string    `json:"contract"`
	SHA256      string    `json:"sha256"`
	Description string    `json:"description,omitempty"`
	State       string    `json:"state"`
	BrokenUntil time.Time `json:"brokenUntil,omitzero"`
	PID         int       `json:"pid,omitempty"`
	Restarts    int       `json:"restarts"`
	LastError   string    `json:"lastError,omitempty"`
}

func (s *Server) listPlugins(w http.ResponseWriter, r *http.Request) {
	views := []PluginView{}
	if s.pluginStatus != nil {
		for _, p := range s.pluginStatus() {
			views = append(views, PluginView{Name: p.Name, Contract: p.Contract, SHA256: p.SHA256, Description: p.Description, State: string(p.State),
				BrokenUntil: p.BrokenUntil, PID: p.PID, Restarts: p.Restarts, LastError: p.LastError})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"plugins": views})
}

func (s *Server) enrol(w http.ResponseWriter, r *http.Request) {
	req, err := decode[admin.Enrolment](s, w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	noteOrder(r, req.OrderRef)
	u, err := s.admin.Enrol(r.Context(), callerOf(r).ID, req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"userId": u.ID, "phone": u.Phone, "hasPassword": u.HasPassword})
}
