// Package docverify is the document-verification contract between segld
// and an issuer's verifier of identity documents (the ICAO 9303 chip
// check), which runs as a plugin process of its own: the go-plugin
// handshake, the plugin map, the Go interface both sides program against,
// and the gRPC adapters between that interface and docverifypb.
//
// A verifier implements Verifier and calls Serve from its main; segld
// reaches it through the plugin host as a Verifier too.
package docverify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/segl/segl/plugins/docverify/docverifypb"
	"github.com/segl/segl/plugins/host"
)

// Version is the contract's version, the handshake's protocol version.
const Version = 1

// Handshake guards against running something that is not a Segl document
// verifier (not security: that is the pinned checksum and mutual TLS).
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  Version,
	MagicCookieKey:   "SEGL_PLUGIN",
	MagicCookieValue: "document-verifier",
}

// PluginName is the name a plugin's verifier is dispensed under.
const PluginName = "docverify"

// Plugins is the plugin map, by contract version.
func Plugins(impl Verifier) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{Version: {PluginName: &Plugin{Impl: impl}}}
}

// Document is what a chip gave: EF.SOD with its 0x77 tag, the data
// groups read (number → the whole file), and the answer to an active
// authentication challenge.
type Document struct {
	SOD         []byte
	DataGroups  map[int][]byte
	AAChallenge []byte
	AASignature []byte
	// At is the time the document, its signer and its chain must be
	// valid at.
	At time.Time
}

// Result is one check's outcome.
type Result int

const (
	OK      Result = Result(docverifypb.Check_OK)
	Failed  Result = Result(docverifypb.Check_FAILED)
	Skipped Result = Result(docverifypb.Check_SKIPPED)
)

func (r Result) String() string {
	switch r {
	case OK:
		return "ok"
	case Failed:
		return "failed"
	case Skipped:
		return "skipped"
	}
	return fmt.Sprintf("Result(%d)", int(r))
}

// Check is one check and its outcome: sod-signature, dgN-hash, chain,
// crl, active-authentication, mrz, expiry. Detail never holds personal
// data.
type Check struct {
	Name   string
	Result Result
	Detail string
}

// Holder is DG1's MRZ.
type Holder struct {
	DocumentCode, IssuingState, DocumentNumber string
	Surname, GivenNames, Nationality           string
	DateOfBirth                                string // YYYY-MM-DD
	Sex                                        string
	DateOfExpiry                               string // YYYY-MM-DD
}

// Verdict is a verifier's answer on a document.
type Verdict struct {
	Genuine bool
	// Reason is the first failed check, when not genuine.
	Reason string
	Checks []Check
	// Holder is nil when DG1 was not given or did not parse.
	Holder *Holder
	// ActiveAuthenticated: the chip signed the challenge with a DG15 key
	// the SOD covers.
	ActiveAuthenticated bool
}

// ErrInvalid marks a request malformed as sent (as opposed to a document
// that is not genuine, which is a verdict).
var ErrInvalid = errors.New("the verification request is malformed")

// Verifier checks identity documents.
type Verifier interface {
	// Configure passes the plugin's settings (plugins[].config) once,
	// before anything else, and says what the verifier is.
	Configure(ctx context.Context, settings map[string]string) (description string, err error)
	Verify(ctx context.Context, d Document) (*Verdict, error)
}

// Plugin is the go-plugin face of a Verifier.
type Plugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl Verifier
}

var _ plugin.GRPCPlugin = (*Plugin)(nil)

func (p *Plugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	docverifypb.RegisterDocVerifyServer(s, &server{impl: p.Impl})
	return nil
}

func (p *Plugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &client{c: docverifypb.NewDocVerifyClient(c)}, nil
}

// HostContract is the contract as segld's plugin host runs it.
var HostContract = host.Contract{
	Name:      "docverify",
	Handshake: Handshake,
	Plugins:   Plugins(nil),
	Dispense:  PluginName,
	Start: func(ctx context.Context, raw any, settings map[string]string) (string, error) {
		return raw.(Verifier).Configure(ctx, settings)
	},
}

// Serve runs a verifier as a plugin process: its main calls this.
func Serve(impl Verifier) {
	plugin.Serve(&plugin.ServeConfig{HandshakeConfig: Handshake, VersionedPlugins: Plugins(impl), GRPCServer: plugin.DefaultGRPCServer})
}

// maxFile bounds one file of a document: DG2's face is the largest, tens of
// kilobytes; 1 MiB leaves room for a DG3 with fingerprints.
const maxFile = 1 << 20

type server struct {
	docverifypb.UnimplementedDocVerifyServer
	impl Verifier
}

func (s *server) Configure(ctx context.Context, r *docverifypb.ConfigureRequest) (*docverifypb.ConfigureResponse, error) {
	d, err := s.impl.Configure(ctx, r.GetSettings())
	if err != nil {
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	return &docverifypb.ConfigureResponse{Description: d}, nil
}

func (s *server) Verify(ctx context.Context, r *docverifypb.VerifyRequest) (*docverifypb.VerifyResponse, error) {
	d, err := fromRequest(r)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	v, err := s.impl.Verify(ctx, d)
	switch {
	case errors.Is(err, ErrInvalid):
		return nil, status.Error(codes.InvalidArgument, err.Error())
	case err != nil:
		return nil, status.Error(codes.Unknown, err.Error())
	}
	return toResponse(v), nil
}

func fromRequest(r *docverifypb.VerifyRequest) (Document, error) {
	d := Document{SOD: r.GetSod(), DataGroups: map[int][]byte{}, AAChallenge: r.GetAaChallenge(), AASignature: r.GetAaSignature(),
		At: time.Unix(r.GetAtUnix(), 0).UTC()}
	if len(d.SOD) == 0 || len(d.SOD) > maxFile {
		return d, fmt.Errorf("%w: the SOD is %d bytes", ErrInvalid, len(d.SOD))
	}
	for n, f := range r.GetDataGroups() {
		if n < 1 || n > 16 {
			return d, fmt.Errorf("%w: data group %d: data groups are 1 to 16", ErrInvalid, n)
		}
		if len(f) == 0 || len(f) > maxFile {
			return d, fmt.Errorf("%w: data group %d is %d bytes", ErrInvalid, n, len(f))
		}
		d.DataGroups[int(n)] = f
	}
	return d, nil
}

func toResponse(v *Verdict) *docverifypb.VerifyResponse {
	out := &docverifypb.VerifyResponse{Genuine: v.Genuine, Reason: v.Reason, ActiveAuthenticated: v.ActiveAuthenticated}
	for _, c := range v.Checks {
		out.Checks = append(out.Checks, &docverifypb.Check{Name: c.Name, Result: docverifypb.Check_Result(c.Result), Detail: c.Detail})
	}
	if h := v.Holder; h != nil {
		out.Holder = &docverifypb.Holder{DocumentCode: h.DocumentCode, IssuingState: h.IssuingState, DocumentNumber: h.DocumentNumber,
			Surname: h.Surname, GivenNames: h.GivenNames, Nationality: h.Nationality, DateOfBirth: h.DateOfBirth, Sex: h.Sex,
			DateOfExpiry: h.DateOfExpiry}
	}
	return out
}

func fromResponse(r *docverifypb.VerifyResponse) *Verdict {
	v := &Verdict{Genuine: r.GetGenuine(), Reason: r.GetReason(), ActiveAuthenticated: r.GetActiveAuthenticated()}
	for _, c := range r.GetChecks() {
		v.Checks = append(v.Checks, Check{Name: c.GetName(), Result: Result(c.GetResult()), Detail: c.GetDetail()})
	}
	if h := r.GetHolder(); h != nil {
		v.Holder = &Holder{DocumentCode: h.GetDocumentCode(), IssuingState: h.GetIssuingState(), DocumentNumber: h.GetDocumentNumber(),
			Surname: h.GetSurname(), GivenNames: h.GetGivenNames(), Nationality: h.GetNationality(), DateOfBirth: h.GetDateOfBirth(),
			Sex: h.GetSex(), DateOfExpiry: h.GetDateOfExpiry()}
	}
	return v
}

type client struct{ c docverifypb.DocVerifyClient }

func (c *client) Configure(ctx context.Context, settings map[string]string) (string, error) {
	r, err := c.c.Configure(ctx, &docverifypb.ConfigureRequest{Settings: settings})
	if err != nil {
		return "", fromStatus(err)
	}
	return r.GetDescription(), nil
}

func (c *client) Verify(ctx context.Context, d Document) (*Verdict, error) {
	req := &docverifypb.VerifyRequest{Sod: d.SOD, DataGroups: map[uint32][]byte{}, AaChallenge: d.AAChallenge, AaSignature: d.AASignature,
		AtUnix: d.At.Unix()}
	for n, f := range d.DataGroups {
		if n < 1 || n > 16 {
			return nil, fmt.Errorf("%w: data group %d: data groups are 1 to 16", ErrInvalid, n)
		}
		req.DataGroups[uint32(n)] = f
	}
	r, err := c.c.Verify(ctx, req)
	if err != nil {
		return nil, fromStatus(err)
	}
	return fromResponse(r), nil
}

// fromStatus maps the contract's codes back: INVALID_ARGUMENT is
// ErrInvalid, anything else keeps its text.
func fromStatus(err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	switch st.Code() {
	case codes.InvalidArgument:
		return fmt.Errorf("%w: %s", ErrInvalid, st.Message())
	case codes.DeadlineExceeded:
		return fmt.Errorf("%w: %s", context.DeadlineExceeded, st.Message())
	case codes.Canceled:
		return fmt.Errorf("%w: %s", context.Canceled, st.Message())
	}
	return errors.New(st.Message())
}
