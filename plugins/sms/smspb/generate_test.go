package smspb_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The generated code is what the pinned generators make of sms.proto now:
// a contract changed without `make generate` fails here.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "bin")
	build := exec.Command("go", "build", "-o", bin+"/", "google.golang.org/protobuf/cmd/protoc-gen-go", "google.golang.org/grpc/cmd/protoc-gen-go-grpc")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the generators: %v\n%s", err, out)
	}
	out := filepath.Join(tmp, "out")
	os.MkdirAll(out, 0o755)
	protoc := exec.Command("protoc", "--proto_path=../../..", "--go_out="+out, "--go_opt=module=github.com/segl/segl",
		"--go-grpc_out="+out, "--go-grpc_opt=module=github.com/segl/segl", "plugins/sms/smspb/sms.proto")
	protoc.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	if b, err := protoc.CombinedOutput(); err != nil {
		t.Fatalf("protoc (make deps installs it): %v\n%s", err, b)
	}
	for _, f := range []string{"sms.pb.go", "sms_grpc.pb.go"} {
		want, err := os.ReadFile(filepath.Join(out, "plugins/sms/smspb", f))
		if err != nil {
			t.Fatal(err)
		}
		have, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(have, want) {
			t.Errorf("%s is not what the generators make of sms.proto: run make generate", f)
		}
	}
}
