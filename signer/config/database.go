package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// The kinds of database segld runs on (Config.DatabaseKind).
const (
	DatabaseSQLite   = "sqlite"
	DatabasePostgres = "postgres"
)

// Database is where segld keeps its state. In YAML it is either a string,
// the SQLite file's path or a PostgreSQL URL:
//
//	database: segl.db
//	database: postgres://segl@db.bank.example/segl?sslmode=verify-full
//
// or a block, for PostgreSQL only, whose password (if the server wants
// one) comes from a file or from segld's environment, never from the
// config:
//
//	database:
//	  url: postgres://segl@db.bank.example/segl?sslmode=verify-full
//	  password-file: /etc/segl/db-password   # or password-env: SEGL_DB_PASSWORD
//
// A URL that holds a password is refused, in either form.
type Database struct {
	// URL is the PostgreSQL URL, without a password; empty for SQLite.
	URL string `yaml:"url"`
	// PasswordFile names the file holding the PostgreSQL password (a
	// trailing newline is not part of it); PasswordEnv names the
	// environment variable that does. One of them at most.
	PasswordFile string `yaml:"password-file"`
	PasswordEnv  string `yaml:"password-env"`
	// Path is the SQLite file of the string form, as the config has it;
	// empty for PostgreSQL.
	Path string `yaml:"-"`
	// block: written as a block, so that errors name database.url.
	block bool
}

// UnmarshalYAML takes the string form or the block.
func (d *Database) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*d = Database{}
		if isURL(n.Value) {
			d.URL = n.Value
		} else {
			d.Path = n.Value
		}
		return nil
	}
	type plain Database
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*d = Database(p)
	d.block = true
	return nil
}

// scheme is a URL's scheme, as RFC 3986 has it.
var scheme = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*):`)

// isURL tells a URL from a SQLite file's path: a postgres: or
// postgresql: scheme, or anything with "://".
func isURL(s string) bool {
	if m := scheme.FindStringSubmatch(s); m != nil {
		switch strings.ToLower(m[1]) {
		case "postgres", "postgresql":
			return true
		}
	}
	return strings.Contains(s, "://")
}

// ErrPasswordInURL is CheckPostgresURL's error for a URL that carries a
// password (in its user information, or as password= or sslpassword= in
// its query): a password is never written in the config.
var ErrPasswordInURL = errors.New("the URL holds a password, and a password is never written in the config")

// sslmodes are the sslmode values PostgreSQL's clients know.
var sslmodes = []string{"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}

// CheckPostgresURL checks the form of a PostgreSQL URL as segld takes it,
// without connecting: the scheme postgres or postgresql, a host (or
// host= in the query, for a Unix socket's directory), a port from 1 to
// 65535 if one is given, a database name (the path, or dbname= in the
// query), an sslmode PostgreSQL knows, and no password. Its error is the
// first problem found, worded to follow the key it belongs to; it is
// ErrPasswordInURL (errors.Is) when the URL carries a password. It never
// repeats the URL, which may hold a secret.
func CheckPostgresURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		why := ""
		var ue *url.Error
		if errors.As(err, &ue) && !strings.Contains(raw, "@") { // the detail may quote a piece of a password
			why = " (" + ue.Err.Error() + ")"
		}
		return fmt.Errorf("is not a URL%s; a PostgreSQL URL is postgres://USER@HOST:PORT/DBNAME?sslmode=verify-full", why)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return fmt.Errorf("the scheme %q is not PostgreSQL's: a PostgreSQL URL is postgres://… or postgresql://…, and a SQLite file is given by its path", u.Scheme)
	}
	if u.Opaque != "" {
		return errors.New("is not postgres://HOST/DBNAME: the // is missing")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return fmt.Errorf("its query does not parse: %v", err)
	}
	if _, set := u.User.Password(); set || q.Has("password") || q.Has("sslpassword") {
		return ErrPasswordInURL
	}
	if u.Hostname() == "" && q.Get("host") == "" {
		return errors.New("names no host: postgres://USER@HOST:PORT/DBNAME, or host=/run/postgresql in the query for a Unix socket's directory")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("the port %q; between 1 and 65535", p)
		}
	}
	if strings.TrimPrefix(u.Path, "/") == "" && q.Get("dbname") == "" {
		return errors.New("names no database: postgres://USER@HOST:PORT/DBNAME")
	}
	if m, ok := q["sslmode"]; ok {
		if len(m) != 1 || !slices.Contains(sslmodes, m[0]) {
			return fmt.Errorf("sslmode %q; one of %s", strings.Join(m, ","), strings.Join(sslmodes, ", "))
		}
	}
	return nil
}

// envName is a portable environment variable's name.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (c *Config) validateDatabase(e *errs) {
	d := c.Database
	at := "database"
	if d.block {
		at = "database.url"
	}
	switch {
	case d.Path == "" && d.URL == "":
		e.add(at, "is required")
	case d.Path != "":
		if strings.TrimSpace(d.Path) != d.Path {
			e.add(at, "%q; a SQLite file's path, without surrounding spaces", d.Path)
		}
	case d.block && !isURL(d.URL):
		e.add(at, "is not a PostgreSQL URL (postgres://…); a SQLite file is given as database: FILE, not in a block")
	default:
		if err := CheckPostgresURL(d.URL); errors.Is(err, ErrPasswordInURL) {
			e.add(at, "the URL holds a password; a password is not written in the config: put it in a file only segld's user reads "+
				"and name it in database.password-file, or name the environment variable that holds it in database.password-env")
		} else if err != nil {
			e.add(at, "%v", err)
		}
	}
	if d.PasswordFile != "" && d.PasswordEnv != "" {
		e.add("database.password-file", "and database.password-env are both given: the password comes from one of them, or neither")
	}
	if d.PasswordEnv != "" && !envName.MatchString(d.PasswordEnv) {
		e.add("database.password-env", "%q is not an environment variable's name (A-Z a-z 0-9 _, not starting with a digit)", d.PasswordEnv)
	}
}

// DatabaseKind is DatabaseSQLite or DatabasePostgres: which store segld
// opens.
func (c *Config) DatabaseKind() string {
	if c.Database.Path != "" {
		return DatabaseSQLite
	}
	return DatabasePostgres
}

// SQLitePath is the SQLite database file, resolved against the config's
// directory; empty when the database is PostgreSQL.
func (c *Config) SQLitePath() string {
	return c.Path(c.Database.Path)
}

// PostgresURL is the PostgreSQL URL to connect with: database's URL, with
// the password from database.password-file or database.password-env
// put in it when one is named. The password is read at each call; segld
// calls it once, when it opens the store, so a rotated password is taken
// at the next start. Its error is Errors,
// naming the key: a file that cannot be read or is empty, a variable
// that is not set or is empty, or a database that is SQLite.
func (c *Config) PostgresURL() (string, error) {
	if c.DatabaseKind() != DatabasePostgres {
		return "", Errors{{Path: "database", Msg: "is a SQLite file, not a PostgreSQL URL"}}
	}
	u, err := url.Parse(c.Database.URL)
	if err != nil {
		return "", Errors{{Path: "database", Msg: "is not a URL"}} // validate said so
	}
	pw, ok, err := c.databasePassword()
	if err != nil {
		return "", err
	}
	if ok {
		u.User = url.UserPassword(u.User.Username(), pw)
	}
	return u.String(), nil
}

// databasePassword reads the password database names, if it names one.
// Its error is Errors; it never holds the password.
func (c *Config) databasePassword() (string, bool, error) {
	d := c.Database
	switch {
	case d.PasswordFile != "":
		b, err := os.ReadFile(c.Path(d.PasswordFile))
		if err != nil {
			return "", false, Errors{{Path: "database.password-file", Msg: pathErr(err, d.PasswordFile)}}
		}
		pw := strings.TrimRight(string(b), "\r\n")
		if pw == "" {
			return "", false, Errors{{Path: "database.password-file", Msg: d.PasswordFile + " is empty"}}
		}
		return pw, true, nil
	case d.PasswordEnv != "":
		pw, set := os.LookupEnv(d.PasswordEnv)
		if !set {
			return "", false, Errors{{Path: "database.password-env", Msg: d.PasswordEnv + " is not set in segld's environment"}}
		}
		if pw == "" {
			return "", false, Errors{{Path: "database.password-env", Msg: d.PasswordEnv + " is empty"}}
		}
		return pw, true, nil
	}
	return "", false, nil
}
