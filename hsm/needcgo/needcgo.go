// Package needcgo stops a build without cgo with a message that says why.
//
// Segl reaches the HSM through PKCS#11, a C interface loaded with dlopen,
// so it cannot work without cgo; and a Segl that silently lacked its HSM
// would be worse than none. Package hsm imports this one, so a
// CGO_ENABLED=0 build of anything that reaches the HSM fails here, in
// words, as well as deep inside miekg/pkcs11 and crypto11.
package needcgo
