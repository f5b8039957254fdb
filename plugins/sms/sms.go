// Package sms is the SMS gateway contract between segld and an issuer's
// SMS adapter, which runs as a plugin process of its own: the go-plugin
// handshake, the plugin map, the Go interface both sides program against,
// and the gRPC adapters between that interface and the generated code in
// smspb (as go-plugin's examples/grpc/shared has them).
//
// An adapter implements Gateway and calls Serve from its main; segld
// reaches it through the plugin host as a Gateway too.
package sms

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/segl/segl/plugins/host"
	"github.com/segl/segl/plugins/sms/smspb"
)

// Version is the contract's version, the handshake's protocol version. A
// change that an older plugin or host would misread makes a new one.
const Version = 1

// Handshake is what segld and a plugin check of each other before they
// speak: not security (that is the pinned checksum and mutual TLS), only
// a guard against running something that is not a Segl SMS plugin.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  Version,
	MagicCookieKey:   "SEGL_PLUGIN",
	MagicCookieValue: "sms-gateway",
}

// PluginName is the name a plugin's gateway is dispensed under.
const PluginName = "sms"

// Plugins is the plugin map, by contract version.
func Plugins(impl Gateway) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{Version: {PluginName: &Plugin{Impl: impl}}}
}

// Encoding is how a text is sent.
type Encoding int

const (
	GSM7 Encoding = Encoding(smspb.Encoding_GSM7) // GSM 03.38, 160 septets
	UCS2 Encoding = Encoding(smspb.Encoding_UCS2) // 70 characters
)

func (e Encoding) String() string {
	switch e {
	case GSM7:
		return "gsm7"
	case UCS2:
		return "ucs2"
	}
	return fmt.Sprintf("Encoding(%d)", int(e))
}

// Message is one SMS to send.
type Message struct {
	// Key is segld's id of the message: a second Send with it sends
	// nothing and answers as the first did.
	Key      string
	To       string // E.164
	Text     string
	Encoding Encoding
}

// State is where a message is, as the gateway reports it.
type State int

const (
	Accepted  State = State(smspb.Report_ACCEPTED)
	Delivered State = State(smspb.Report_DELIVERED)
	Failed    State = State(smspb.Report_FAILED)
)

func (s State) String() string {
	switch s {
	case Accepted:
		return "accepted"
	case Delivered:
		return "delivered"
	case Failed:
		return "failed"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Report is a delivery report.
type Report struct {
	Key       string
	GatewayID string
	State     State
	Reason    string
}

// ErrRefused marks a message the gateway did not take: definitely not
// sent, so another gateway may be tried. An error without it leaves the
// outcome unknown.
var ErrRefused = errors.New("the gateway refused the message")

// Gateway is an SMS gateway.
type Gateway interface {
	// Configure passes the plugin's settings (plugins[].config) once,
	// before anything else, and says what the adapter is.
	Configure(ctx context.Context, settings map[string]string) (description string, err error)
	// Send hands one message over and returns the gateway's id for it.
	Send(ctx context.Context, m Message) (gatewayID string, err error)
	// Reports sends delivery reports to fn as they come, until ctx ends.
	Reports(ctx context.Context, fn func(Report)) error
}

// Plugin is the go-plugin face of a Gateway: the adapter side serves Impl,
// the host side gets a client.
type Plugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl Gateway
}

var _ plugin.GRPCPlugin = (*Plugin)(nil)

func (p *Plugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	smspb.RegisterSMSServer(s, &server{impl: p.Impl})
	return nil
}

func (p *Plugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &client{c: smspb.NewSMSClient(c)}, nil
}

// HostContract is the contract as segld's plugin host runs it.
var HostContract = host.Contract{
	Name:      "sms",
	Handshake: Handshake,
	Plugins:   Plugins(nil),
	Dispense:  PluginName,
	Start: func(ctx context.Context, raw any, settings map[string]string) (string, error) {
		return raw.(Gateway).Configure(ctx, settings)
	},
}

// Serve runs an adapter as a plugin process: its main calls this.
func Serve(impl Gateway) {
	plugin.Serve(&plugin.ServeConfig{HandshakeConfig: Handshake, VersionedPlugins: Plugins(impl), GRPCServer: plugin.DefaultGRPCServer})
}

// server is the adapter side: gRPC calls to the Gateway.
type server struct {
	smspb.UnimplementedSMSServer
	impl Gateway
}

func (s *server) Configure(ctx context.Context, r *smspb.ConfigureRequest) (*smspb.ConfigureResponse, error) {
	d, err := s.impl.Configure(ctx, r.GetSettings())
	if err != nil {
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	return &smspb.ConfigureResponse{Description: d}, nil
}

func (s *server) Send(ctx context.Context, r *smspb.SendRequest) (*smspb.SendResponse, error) {
	id, err := s.impl.Send(ctx, Message{Key: r.GetIdempotencyKey(), To: r.GetTo(), Text: r.GetText(), Encoding: Encoding(r.GetEncoding())})
	switch {
	case errors.Is(err, ErrRefused):
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	case err != nil:
		return nil, status.Error(codes.Unknown, err.Error())
	}
	return &smspb.SendResponse{GatewayId: id}, nil
}

func (s *server) Reports(_ *smspb.ReportsRequest, stream grpc.ServerStreamingServer[smspb.Report]) error {
	return s.impl.Reports(stream.Context(), func(r Report) {
		_ = stream.Send(&smspb.Report{IdempotencyKey: r.Key, GatewayId: r.GatewayID, State: smspb.Report_State(r.State), Reason: r.Reason})
	})
}

// client is the host side: the Gateway over gRPC.
type client struct{ c smspb.SMSClient }

func (c *client) Configure(ctx context.Context, settings map[string]string) (string, error) {
	r, err := c.c.Configure(ctx, &smspb.ConfigureRequest{Settings: settings})
	if err != nil {
		return "", fromStatus(err)
	}
	return r.GetDescription(), nil
}

func (c *client) Send(ctx context.Context, m Message) (string, error) {
	r, err := c.c.Send(ctx, &smspb.SendRequest{IdempotencyKey: m.Key, To: m.To, Text: m.Text, Encoding: smspb.Encoding(m.Encoding)})
	if err != nil {
		return "", fromStatus(err)
	}
	return r.GetGatewayId(), nil
}

func (c *client) Reports(ctx context.Context, fn func(Report)) error {
	stream, err := c.c.Reports(ctx, &smspb.ReportsRequest{})
	if err != nil {
		return fromStatus(err)
	}
	for {
		r, err := stream.Recv()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fromStatus(err)
		}
		fn(Report{Key: r.GetIdempotencyKey(), GatewayID: r.GetGatewayId(), State: State(r.GetState()), Reason: r.GetReason()})
	}
}

// fromStatus maps the contract's codes back: a definite refusal is
// ErrRefused, anything else keeps its text. UNAVAILABLE is not a refusal:
// gRPC says it too when the plugin dies in the middle of a call, and then
// the message may have gone.
func fromStatus(err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	switch st.Code() {
	case codes.InvalidArgument, codes.FailedPrecondition:
		return fmt.Errorf("%w: %s", ErrRefused, st.Message())
	case codes.DeadlineExceeded:
		return fmt.Errorf("%w: %s", context.DeadlineExceeded, st.Message())
	case codes.Canceled:
		return fmt.Errorf("%w: %s", context.Canceled, st.Message())
	}
	return errors.New(st.Message())
}
