//go:build !cgo

package needcgo

// This identifier is undefined on purpose: it is the message.
var _ = Segl_needs_cgo_to_reach_the_HSM__build_with_CGO_ENABLED_1_and_a_C_compiler__run_make_build
