package backend

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/vmcp-dev/vmcp-operator/internal/vmcp/config"
)

// Sources is where header values are read from. OSSources reads the real environment and
// files; tests substitute maps.
type Sources struct {
	// LookupEnv reads an environment variable (os.LookupEnv).
	LookupEnv func(string) (string, bool)
	// ReadFile reads a file (os.ReadFile).
	ReadFile func(string) ([]byte, error)
}

// OSSources reads header values from the process environment and the file system.
func OSSources() Sources { return Sources{LookupEnv: os.LookupEnv, ReadFile: os.ReadFile} }

// ResolveHeaders reads the configured header values from the environment or files. Values are
// read every time a session is established, so a rotated Secret mounted as a file is picked up
// on the next session; an environment variable keeps the value the process started with.
// Every problem is reported, joined.
func ResolveHeaders(headers []config.Header, src Sources) (http.Header, error) {
	out := make(http.Header, len(headers))
	var errs []error
	for _, h := range headers {
		var value string
		switch {
		case h.ValueFrom.Env != "":
			v, ok := src.LookupEnv(h.ValueFrom.Env)
			if !ok {
				errs = append(errs, fmt.Errorf("header %s: environment variable %s is not set", h.Name, h.ValueFrom.Env))
				continue
			}
			value = v
		case h.ValueFrom.File != "":
			b, err := src.ReadFile(h.ValueFrom.File)
			if err != nil {
				errs = append(errs, fmt.Errorf("header %s: %w", h.Name, err))
				continue
			}
			value = strings.TrimSpace(string(b))
		}
		if strings.ContainsAny(value, "\r\n") {
			errs = append(errs, fmt.Errorf("header %s: value contains a line break", h.Name))
			continue
		}
		out.Set(h.Name, value)
	}
	return out, errors.Join(errs...)
}
