// Command segl-sms-kannel is the SMS adapter for a Kannel gateway as a
// plugin process: segld starts it (plugins[].command) and it sends each
// SMS through smsbox's sendsms interface and passes Kannel's delivery
// reports back (package kannel has its settings).
package main

import (
	"github.com/segl/segl/plugins/sms"
	"github.com/segl/segl/plugins/sms/kannel"
)

func main() { sms.Serve(kannel.New()) }
