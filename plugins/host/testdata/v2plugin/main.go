// A plugin that speaks version 2 of the SMS contract, which segld does
// not: the host must refuse it, naming both versions.
package main

import (
	"github.com/hashicorp/go-plugin"

	"github.com/segl/segl/plugins/sms"
	"github.com/segl/segl/plugins/sms/outbox"
)

func main() {
	hs := sms.Handshake
	hs.ProtocolVersion = 2
	plugin.Serve(&plugin.ServeConfig{HandshakeConfig: hs, GRPCServer: plugin.DefaultGRPCServer,
		VersionedPlugins: map[int]plugin.PluginSet{2: {sms.PluginName: &sms.Plugin{Impl: outbox.New()}}}})
}
