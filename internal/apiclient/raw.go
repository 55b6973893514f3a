package apiclient

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// DoRaw sends a GET-style request and copies a non-JSON answer (the
// dashboard's HTML rendering of a runbook) to out.
func (c *Client) DoRaw(ctx context.Context, method, path string, query url.Values, out io.Writer) error {
	u := *c.base
	u.Path += path
	u.RawQuery = query.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return decodeError(resp)
	}
	if _, err := io.Copy(out, io.LimitReader(resp.Body, 16<<20)); err != nil {
		return fmt.Errorf("%s %s: read response: %w", method, path, err)
	}
	return nil
}
