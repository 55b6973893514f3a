package appstore

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
)

// App is an App Store Connect app.
type App struct {
	// ID is Apple's app id.
	ID string
	// BundleID is the app's bundle identifier.
	BundleID string
	// Name is the app's name.
	Name string
	// SKU is the app's SKU.
	SKU string
}

type appResource struct {
	ID         string `json:"id"`
	Attributes struct {
		Name     string `json:"name"`
		BundleID string `json:"bundleId"`
		SKU      string `json:"sku"`
	} `json:"attributes"`
}

func (r appResource) app() App {
	return App{ID: r.ID, BundleID: r.Attributes.BundleID, Name: r.Attributes.Name, SKU: r.Attributes.SKU}
}

// ListApps returns every app the key can see, following pagination.
func (c *Client) ListApps(ctx context.Context) ([]App, error) {
	return c.listApps(ctx, "list apps", url.Values{"limit": {"200"}})
}

func (c *Client) listApps(ctx context.Context, op string, q url.Values) ([]App, error) {
	var out []App
	err := c.list(ctx, op, c.url("/v1/apps", q), func(data json.RawMessage) error {
		var rs []appResource
		if err := json.Unmarshal(data, &rs); err != nil {
			return err
		}
		for _, r := range rs {
			out = append(out, r.app())
		}
		return nil
	})
	return out, err
}

// FindApp returns the app with bundleID, or an *Error matching ErrNotFound.
func (c *Client) FindApp(ctx context.Context, bundleID string) (*App, error) {
	apps, err := c.listApps(ctx, "find app", url.Values{"filter[bundleId]": {bundleID}, "fields[apps]": {"name,bundleId,sku"}})
	if err != nil {
		return nil, err
	}
	for _, a := range apps {
		if a.BundleID == bundleID {
			return &a, nil
		}
	}
	return nil, &Error{Op: "find app", Status: http.StatusNotFound,
		Errors: []APIError{{Status: "404", Code: "NOT_FOUND", Title: "No app with this bundle id", Detail: "No app with bundle id " + bundleID + " is visible to this key."}},
		Hint:   "create the app in App Store Connect, or check the key's app access"}
}
