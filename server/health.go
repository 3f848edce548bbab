package server

// -healthcheck: one GET of a running server, trusting exactly its own
// certificate when it asks its own address.

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// healthcheckTimeout bounds -healthcheck: far more than a live server on
// the same machine takes, well under Docker's default HEALTHCHECK timeout
// of 30 s, so the check fails by itself rather than being killed.
const healthcheckTimeout = 5 * time.Second

// healthcheck is -healthcheck: one GET, success on a 2xx answer. It needs
// no shell and no curl, so it works in a distroless image.
func healthcheck(ctx context.Context, o Config, stdout io.Writer) error {
	target, own, err := healthURL(o)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, healthcheckTimeout)
	defer cancel()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if own && o.TLSCert != "" {
		// Our own address is 127.0.0.1, which the certificate does not
		// name: trust exactly our own certificate instead of a name.
		pin, err := certDER(o.TLSCert)
		if err != nil {
			return fmt.Errorf("healthcheck: %w", err)
		}
		tr.TLSClientConfig = &tls.Config{
			InsecureSkipVerify: true, // replaced by VerifyConnection's pin
			VerifyConnection: func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) == 0 || !bytes.Equal(cs.PeerCertificates[0].Raw, pin) {
					return errors.New("the server's certificate is not -tls-cert")
				}
				return nil
			},
		}
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("healthcheck %s: %s", target, resp.Status)
	}
	fmt.Fprintf(stdout, "healthcheck %s: %s\n", target, resp.Status)
	return nil
}

// healthURL is the URL -healthcheck asks; own when it is built from a path
// and this configuration's own address (127.0.0.1 for one that listens on
// every interface), so that a container whose FILEHUB_ADDR changes the
// port still checks the right one.
func healthURL(o Config) (target string, own bool, err error) {
	if !strings.HasPrefix(o.Healthcheck, "/") {
		return o.Healthcheck, false, nil
	}
	host, port, _ := net.SplitHostPort(o.Addr) // checked by parseFlags
	if port == "0" {
		// Not a usage error: Docker reserves status 2, a check says 0 or 1.
		return "", false, fmt.Errorf("-healthcheck %s: the server's port is 0 (any free one): give a whole URL", o.Healthcheck)
	}
	switch host {
	case "", "0.0.0.0", "::":
		host = "127.0.0.1"
	}
	scheme := "http"
	if o.TLSCert != "" {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + o.Healthcheck, true, nil
}

// certDER reads the first certificate of a PEM file.
func certDER(file string) ([]byte, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, fmt.Errorf("%s: no certificate", file)
		}
		if b.Type == "CERTIFICATE" {
			return b.Bytes, nil
		}
	}
}
