package main

import (
	"bufio"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	_ "crypto/sha256" // hashes offered by --hash
	_ "crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/segl/segl/hsm"
)

// maxEd25519Message bounds what `keys sign` reads for Ed25519, which signs
// the whole message inside the HSM rather than a digest.
const maxEd25519Message = 64 << 20

func keysCommand() *cli.Command {
	label := &cli.StringFlag{Name: "label", Usage: "the key's label on the token", Required: true}
	var types []string
	for _, t := range hsm.KeyTypes() {
		types = append(types, string(t))
	}
	return &cli.Command{
		Name:  "keys",
		Usage: "generate, list, use and delete keys on the token",
		Subcommands: []*cli.Command{
			{
				Name:  "generate",
				Usage: "generate a key inside the HSM; it never leaves it",
				Description: "aes-256 makes a key-encryption key for wrapped user keys: it needs the " +
					"security officer's PIN (SEGL_HSM_SO_PIN_FILE) to mark the key trusted.",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "type", Usage: strings.Join(types, "|"), Required: true},
					label,
				},
				Action: keysGenerate,
			},
			{
				Name:   "list",
				Usage:  "list the private and secret keys with their security attributes",
				Action: keysList,
			},
			{
				Name:   "public",
				Usage:  "print a key pair's public key as PEM",
				Flags:  []cli.Flag{label},
				Action: keysPublic,
			},
			{
				Name:  "sign",
				Usage: "sign a file; the signature (DER for ECDSA) goes to standard output",
				Flags: []cli.Flag{
					label,
					&cli.StringFlag{Name: "in", Usage: "the file to sign, - for standard input", Required: true},
					&cli.StringFlag{Name: "hash", Usage: "sha256|sha384|sha512 (not for ed25519)", Value: "sha256"},
					&cli.BoolFlag{Name: "pss", Usage: "RSA-PSS instead of PKCS #1 v1.5 (salt as long as the hash)"},
				},
				Action: keysSign,
			},
			{
				Name:  "delete",
				Usage: "destroy a key (and its public half), after the label is typed again",
				Description: "A destroyed key is gone for good, and so is whatever it protects (every wrapped user key, for the " +
					"KEK): segl asks for the label again on standard input, or takes --yes.",
				Flags:  []cli.Flag{label, &cli.BoolFlag{Name: "yes", Usage: "destroy without asking"}},
				Action: keysDelete,
			},
		},
	}
}

func keysGenerate(c *cli.Context) error {
	typ, err := hsm.ParseKeyType(c.String("type"))
	if err != nil {
		return err
	}
	ks, err := openKeystore()
	if err != nil {
		return err
	}
	defer ks.Close()
	var k *hsm.Key
	if typ == hsm.AES256 {
		so, err := hsm.PINFromEnv(hsm.EnvSOPIN, hsm.EnvSOPINFile)
		if err != nil {
			return fmt.Errorf("an aes-256 key-encryption key needs the security officer: %w", err)
		}
		k, err = ks.GenerateKEK(c.String("label"), so)
		if err != nil {
			return err
		}
	} else if k, err = ks.Generate(c.String("label"), typ); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "generated %s key %q\n  id:         %s\n  attributes: %s\n", k.Type, k.Label, hex.EncodeToString(k.ID), k.Attrs)
	return nil
}

func keysList(c *cli.Context) error {
	ks, err := openKeystore()
	if err != nil {
		return err
	}
	defer ks.Close()
	keys, err := ks.List()
	if err != nil {
		return err
	}
	out := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(out, "LABEL\tTYPE\tID\tATTRIBUTES")
	for _, k := range keys {
		fmt.Fprintf(out, "%s\t%s\t%s\t%s\n", k.Label, k.Type, hex.EncodeToString(k.ID), k.Attrs)
	}
	return out.Flush()
}

func keysPublic(c *cli.Context) error {
	ks, err := openKeystore()
	if err != nil {
		return err
	}
	defer ks.Close()
	pub, err := ks.PublicKey(c.String("label"))
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return err
	}
	return pem.Encode(c.App.Writer, &pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

var hashes = map[string]crypto.Hash{"sha256": crypto.SHA256, "sha384": crypto.SHA384, "sha512": crypto.SHA512}

func keysSign(c *cli.Context) error {
	if isTerminal(c.App.Writer) {
		return errors.New("the signature is binary: redirect standard output to a file (… > signature.der)")
	}
	hash, ok := hashes[strings.ToLower(c.String("hash"))]
	if !ok {
		return fmt.Errorf("--hash %q: want sha256, sha384 or sha512", c.String("hash"))
	}
	in, err := openInput(c)
	if err != nil {
		return err
	}
	defer in.Close()
	ks, err := openKeystore()
	if err != nil {
		return err
	}
	defer ks.Close()
	signer, err := ks.Signer(c.String("label"))
	if err != nil {
		return err
	}

	var digest []byte
	var opts crypto.SignerOpts = hash
	switch signer.Public().(type) {
	case ed25519.PublicKey:
		if c.IsSet("hash") || c.Bool("pss") {
			return errors.New("an ed25519 key signs the message itself: drop --hash and --pss")
		}
		// Pure Ed25519 needs the whole message in the HSM.
		msg, err := io.ReadAll(io.LimitReader(in, maxEd25519Message+1))
		if err != nil {
			return err
		}
		if len(msg) > maxEd25519Message {
			return fmt.Errorf("%s is larger than %d MiB, the most Ed25519 signs here; use an ECDSA or RSA key for large files", c.String("in"), maxEd25519Message>>20)
		}
		digest, opts = msg, crypto.Hash(0)
	default:
		if c.Bool("pss") {
			if _, isRSA := signer.Public().(*rsa.PublicKey); !isRSA {
				return errors.New("--pss is an RSA padding; this is not an RSA key")
			}
			opts = &rsa.PSSOptions{Hash: hash, SaltLength: rsa.PSSSaltLengthEqualsHash}
		}
		h := hash.New()
		if _, err := io.Copy(h, in); err != nil {
			return fmt.Errorf("read %s: %w", c.String("in"), err)
		}
		digest = h.Sum(nil)
	}
	sig, err := signer.Sign(nil, digest, opts)
	if err != nil {
		return err
	}
	_, err = c.App.Writer.Write(sig)
	return err
}

func openInput(c *cli.Context) (io.ReadCloser, error) {
	name := c.String("in")
	if name == "-" {
		return io.NopCloser(c.App.Reader), nil
	}
	return os.Open(name)
}

// isTerminal reports whether w is a character device, where raw signature
// bytes would only garble the screen.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func keysDelete(c *cli.Context) error {
	ks, err := openKeystore()
	if err != nil {
		return err
	}
	defer ks.Close()
	k, err := ks.Find(c.String("label"))
	if err != nil {
		return err
	}
	if !c.Bool("yes") {
		fmt.Fprintf(c.App.ErrWriter, "destroy %s key %q (id %s) for good? Type its label again: ", k.Type, k.Label, hex.EncodeToString(k.ID))
		line, err := bufio.NewReader(c.App.Reader).ReadString('\n')
		if strings.TrimRight(line, "\r\n") != k.Label {
			fmt.Fprintln(c.App.ErrWriter)
			if err != nil {
				return fmt.Errorf("nothing was deleted: type the label at the prompt, or give --yes")
			}
			return fmt.Errorf("nothing was deleted: %q is not the label", strings.TrimRight(line, "\r\n"))
		}
	}
	if err := ks.Delete(k.Label); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "deleted %s key %q (id %s)\n", k.Type, k.Label, hex.EncodeToString(k.ID))
	return nil
}
