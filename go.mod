module github.com/segl/segl

go 1.26.0

require (
	github.com/ThalesGroup/crypto11 v1.5.0
	github.com/miekg/pkcs11 v1.1.2
	github.com/thales-e-security/pool v0.0.2
	golang.org/x/crypto v0.58.0
)

require github.com/pkg/errors v0.9.1 // indirect
