// Command segl-sms-outbox is the development SMS adapter as a plugin
// process: segld starts it (plugins[].command) and it writes each SMS to
// the file its config names, one JSON line each (package outbox).
package main

import (
	"github.com/segl/segl/plugins/sms"
	"github.com/segl/segl/plugins/sms/outbox"
)

func main() { sms.Serve(outbox.New()) }
