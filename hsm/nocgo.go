//go:build !cgo

package hsm

// PKCS#11 is a C interface that Segl loads with dlopen through cgo; without
// cgo there is no HSM, and a Segl that silently lacked one would be worse than
// none. This identifier is undefined on purpose so the build stops here and
// says why:
var _ = hsm_package_needs_cgo__build_with_CGO_ENABLED_1_and_a_C_compiler_such_as_gcc
