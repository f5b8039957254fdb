package plugins_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The generated code of every contract is what the pinned generators make
// of its .proto now: a contract changed without `make generate` fails here.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	protos, err := filepath.Glob("*/*pb/*.proto")
	if err != nil || len(protos) < 2 {
		t.Fatalf("the contracts' .proto files: %v %v", protos, err)
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "bin")
	build := exec.Command("go", "build", "-o", bin+"/", "google.golang.org/protobuf/cmd/protoc-gen-go", "google.golang.org/grpc/cmd/protoc-gen-go-grpc")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the generators: %v\n%s", err, out)
	}
	out := filepath.Join(tmp, "out")
	os.MkdirAll(out, 0o755)
	for _, proto := range protos {
		protoc := exec.Command("protoc", "--proto_path=..", "--go_out="+out, "--go_opt=module=github.com/segl/segl",
			"--go-grpc_out="+out, "--go-grpc_opt=module=github.com/segl/segl", filepath.Join("plugins", proto))
		protoc.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
		if b, err := protoc.CombinedOutput(); err != nil {
			t.Fatalf("protoc %s (make deps installs it): %v\n%s", proto, err, b)
		}
		base := strings.TrimSuffix(proto, ".proto")
		for _, f := range []string{base + ".pb.go", base + "_grpc.pb.go"} {
			want, err := os.ReadFile(filepath.Join(out, "plugins", f))
			if err != nil {
				t.Fatal(err)
			}
			have, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(have, want) {
				t.Errorf("%s is not what the generators make of %s: run make generate", f, proto)
			}
		}
	}
}
