// Package apiclient is the CLI's client of Ripcord's HTTP API. It decodes
// the API's own wire types (internal/httpapi) and turns the API's error shape
// back into domain errors, so the CLI prints the server's message and exits
// with the right code.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/httpapi"
)

// Client talks to one Ripcord server.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
}

// New returns a client of the server at baseURL authenticating with token.
func New(baseURL, token string) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, ripcord.Errorf(ripcord.EINVALID, "server %q is not an http(s) URL; use e.g. --server http://127.0.0.1:8080", baseURL)
	}
	if token == "" {
		return nil, ripcord.Errorf(ripcord.EUNAUTHORIZED, "no token: set RIPCORD_TOKEN or --token (an admin makes one with `ripcord token create`)")
	}
	// No overall timeout: uploads of large artifacts take as long as they
	// take; the context bounds each call.
	return &Client{base: u, token: token, http: &http.Client{Transport: http.DefaultTransport}}, nil
}

// Do sends a request and decodes a JSON answer into out (if not nil).
// body may be an io.Reader (sent as-is) or a value (sent as JSON).
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, body any, out any) error {
	u := *c.base
	u.Path += path
	u.RawQuery = query.Encode()
	var rd io.Reader
	contentType := ""
	switch b := body.(type) {
	case nil:
	case io.Reader:
		rd, contentType = b, "application/octet-stream"
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		rd, contentType = bytes.NewReader(buf), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if sz, ok := body.(interface{ Size() int64 }); ok {
		req.ContentLength = sz.Size()
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return ripcord.Errorf(ripcord.EUNAVAILABLE, "cannot reach the Ripcord server at %s: %v (is `ripcord serve` running, and --server right?)", c.base, unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return decodeError(resp)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode response: %w", method, path, err)
	}
	return nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// codeByStatus recovers a domain code when a body is not in the API's shape
// (a proxy's error page, say).
var codeByStatus = map[int]string{
	400: ripcord.EINVALID, 401: ripcord.EUNAUTHORIZED, 403: ripcord.EFORBIDDEN, 404: ripcord.ENOTFOUND,
	409: ripcord.ECONFLICT, 413: ripcord.ETOOLARGE, 429: ripcord.ERATELIMITED, 503: ripcord.EUNAVAILABLE,
}

func decodeError(resp *http.Response) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var eb httpapi.ErrorBody
	if err := json.Unmarshal(data, &eb); err == nil && eb.Error.Code != "" {
		e := &ripcord.Error{Code: eb.Error.Code, Message: eb.Error.Message, Details: eb.Error.Details}
		return e
	}
	code, ok := codeByStatus[resp.StatusCode]
	if !ok {
		code = ripcord.EINTERNAL
	}
	return &ripcord.Error{Code: code, Message: fmt.Sprintf("server answered %s: %s", resp.Status, strings.TrimSpace(string(data)))}
}

// Timeout is the default bound for one non-upload call.
const Timeout = 60 * time.Second
