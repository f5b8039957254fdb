// Command segl-docverify-icao9303 is segld's ICAO 9303 document verifier,
// run as a plugin process (plugins/docverify): passive and active
// authentication of passports and ID cards against the CSCAs, master
// lists and CRLs of its config.
package main

import (
	"github.com/segl/segl/plugins/docverify"
	"github.com/segl/segl/plugins/docverify/icao9303"
)

func main() { docverify.Serve(&icao9303.Adapter{}) }
