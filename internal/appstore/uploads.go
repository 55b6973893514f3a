package appstore

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// UploadParams describes a build to upload through the API (App Store
// Connect API 4.1+: buildUploads and buildUploadFiles).
type UploadParams struct {
	// AppID is the app's id. Required.
	AppID string
	// Version is the IPA's CFBundleShortVersionString. Required.
	Version string
	// BuildNumber is the IPA's CFBundleVersion. Required.
	BuildNumber string
	// Platform defaults to IOS.
	Platform string
	// FileName is the IPA's name, e.g. "App.ipa". Required.
	FileName string
	// File is the IPA. Required.
	File io.ReaderAt
	// Size is the IPA's length in bytes. Required.
	Size int64
}

type uploadOp struct {
	Method         string `json:"method"`
	URL            string `json:"url"`
	Length         int64  `json:"length"`
	Offset         int64  `json:"offset"`
	PartNumber     int    `json:"partNumber"`
	RequestHeaders []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"requestHeaders"`
}

type uploadFileAttrs struct {
	FileName         string     `json:"fileName"`
	AssetType        string     `json:"assetType"`
	UploadOperations []uploadOp `json:"uploadOperations"`
}

type uploadAttrs struct {
	Short    string `json:"cfBundleShortVersionString"`
	Version  string `json:"cfBundleVersion"`
	Platform string `json:"platform"`
	State    struct {
		State  string `json:"state"`
		Errors []struct {
			Code        string `json:"code"`
			Description string `json:"description"`
		} `json:"errors"`
	} `json:"state"`
}

// UploadBuild uploads an IPA through the API and waits up to timeout for
// App Store Connect to import it, returning the build (still PROCESSING:
// follow with WaitBuildValid). It resumes what an earlier attempt left: a
// build that already exists is returned, an upload of the same version and
// build number is reused, and parts are re-sent (PUTs replace parts), so
// a retry never makes a second upload.
func (c *Client) UploadBuild(ctx context.Context, p UploadParams, timeout time.Duration) (*Build, error) {
	const op = "upload build"
	if p.AppID == "" || p.Version == "" || p.BuildNumber == "" || p.FileName == "" || p.File == nil || p.Size <= 0 {
		return nil, fmt.Errorf("appstore %s: AppID, Version, BuildNumber, FileName, File and Size are required", op)
	}
	p.Platform = cmp.Or(p.Platform, PlatformIOS)
	sum := sha256.New()
	if _, err := io.Copy(sum, io.NewSectionReader(p.File, 0, p.Size)); err != nil {
		return nil, fmt.Errorf("appstore %s: read file: %w", op, err)
	}
	checksum := hex.EncodeToString(sum.Sum(nil))
	var out *Build
	err := c.idempotent(ctx, op, func(ctx context.Context) error {
		if b, err := c.FindBuild(ctx, p.AppID, p.Version, p.BuildNumber); err == nil {
			out = b
			return nil
		} else if !isNotFound(err) {
			return err
		}
		uploadID, state, err := c.findUpload(ctx, p)
		if err != nil {
			return err
		}
		if uploadID == "" {
			doc := map[string]any{"data": map[string]any{"type": "buildUploads",
				"attributes":    map[string]any{"cfBundleShortVersionString": p.Version, "cfBundleVersion": p.BuildNumber, "platform": p.Platform},
				"relationships": map[string]any{"app": toOne("apps", p.AppID)}}}
			var r resource
			if err := c.send(ctx, op, http.MethodPost, "/v1/buildUploads", doc, &r); err != nil {
				return err
			}
			uploadID, state = r.ID, "AWAITING_UPLOAD"
		}
		if state == "AWAITING_UPLOAD" {
			if err := c.sendFile(ctx, op, uploadID, p, checksum); err != nil {
				return err
			}
		}
		if err := c.poll(ctx, op, timeout, func(ctx context.Context) (bool, error) {
			var r resource
			var a uploadAttrs
			if err := c.getOne(ctx, op, "/v1/buildUploads/"+url.PathEscape(uploadID), &r, &a); err != nil {
				return false, err
			}
			switch a.State.State {
			case "COMPLETE":
				return true, nil
			case "FAILED":
				detail := "The build upload failed."
				for _, e := range a.State.Errors {
					detail += " " + e.Code + ": " + e.Description
				}
				return false, stateError(op, ErrBuildNotValid, detail, "fix the IPA and upload it with a new build number")
			}
			return false, nil
		}); err != nil {
			return err
		}
		b, err := c.FindBuild(ctx, p.AppID, p.Version, p.BuildNumber)
		out = b
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("appstore app %s build %s (%s): %w", p.AppID, p.Version, p.BuildNumber, err)
	}
	return out, nil
}

// findUpload returns the app's upload of this version and build number
// that has not failed, and its state.
func (c *Client) findUpload(ctx context.Context, p UploadParams) (string, string, error) {
	rs, err := c.listResources(ctx, "list build uploads", c.url("/v1/apps/"+url.PathEscape(p.AppID)+"/buildUploads", url.Values{"limit": {"200"}}))
	if err != nil {
		return "", "", err
	}
	for _, r := range rs {
		var a uploadAttrs
		if err := json.Unmarshal(r.Attributes, &a); err != nil {
			return "", "", fmt.Errorf("decode buildUpload %s: %w", r.ID, err)
		}
		if a.Short == p.Version && a.Version == p.BuildNumber && a.Platform == p.Platform && a.State.State != "FAILED" {
			return r.ID, a.State.State, nil
		}
	}
	return "", "", nil
}

// sendFile reserves the upload's file (or reuses the reservation), PUTs
// every part and commits it with its SHA-256.
func (c *Client) sendFile(ctx context.Context, op, uploadID string, p UploadParams, checksum string) error {
	rs, err := c.listResources(ctx, op, c.url("/v1/buildUploads/"+url.PathEscape(uploadID)+"/buildUploadFiles", nil))
	if err != nil {
		return err
	}
	var file *resource
	var attrs uploadFileAttrs
	for i := range rs {
		if err := json.Unmarshal(rs[i].Attributes, &attrs); err == nil && attrs.AssetType == "ASSET" {
			file = &rs[i]
			break
		}
	}
	if file == nil {
		doc := map[string]any{"data": map[string]any{"type": "buildUploadFiles",
			"attributes":    map[string]any{"assetType": "ASSET", "fileName": p.FileName, "fileSize": p.Size, "uti": "com.apple.ipa"},
			"relationships": map[string]any{"buildUpload": toOne("buildUploads", uploadID)}}}
		var r resource
		if err := c.send(ctx, op, http.MethodPost, "/v1/buildUploadFiles", doc, &r); err != nil {
			return err
		}
		file = &r
		if err := json.Unmarshal(r.Attributes, &attrs); err != nil {
			return fmt.Errorf("appstore %s: decode buildUploadFile: %w", op, err)
		}
	}
	for _, u := range attrs.UploadOperations {
		if err := c.putPart(ctx, op, p, u); err != nil {
			return err
		}
	}
	doc := map[string]any{"data": map[string]any{"type": "buildUploadFiles", "id": file.ID, "attributes": map[string]any{
		"uploaded": true, "sourceFileChecksums": map[string]any{"file": map[string]string{"hash": checksum, "algorithm": "SHA_256"}}}}}
	return c.send(ctx, op, http.MethodPatch, "/v1/buildUploadFiles/"+url.PathEscape(file.ID), doc, nil)
}

// putPart sends one part to its presigned URL, retrying 5xx and transport
// failures (a repeated PUT replaces the part). No API token is sent.
func (c *Client) putPart(ctx context.Context, op string, p UploadParams, u uploadOp) error {
	if u.Offset < 0 || u.Length <= 0 || u.Offset+u.Length > p.Size {
		return fmt.Errorf("appstore %s: upload operation %d is outside the file (offset %d, length %d, size %d)", op, u.PartNumber, u.Offset, u.Length, p.Size)
	}
	part := make([]byte, u.Length)
	if _, err := p.File.ReadAt(part, u.Offset); err != nil {
		return fmt.Errorf("appstore %s: read part %d: %w", op, u.PartNumber, err)
	}
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, cmp.Or(u.Method, http.MethodPut), u.URL, bytes.NewReader(part))
		if err != nil {
			return fmt.Errorf("appstore %s: part %d: %w", op, u.PartNumber, err)
		}
		for _, h := range u.RequestHeaders {
			req.Header.Set(h.Name, h.Value)
		}
		resp, err := c.cfg.HTTPClient.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			if resp.StatusCode < 300 {
				return nil
			}
			err = parseError(op, resp.StatusCode, body)
			if resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests {
				return err
			}
		}
		if ctx.Err() != nil || attempt >= c.cfg.MaxAttempts {
			return fmt.Errorf("appstore %s: part %d: gave up after %d attempts: %w", op, u.PartNumber, attempt, err)
		}
		wait := min(c.cfg.BaseBackoff<<(attempt-1), c.cfg.MaxBackoff)
		c.log.WarnContext(ctx, "appstore upload part retried", slog.Int("part", u.PartNumber), slog.Int("attempt", attempt), slog.Any("err", err))
		if err := c.cfg.Sleep(ctx, wait); err != nil {
			return fmt.Errorf("appstore %s: part %d: %w", op, u.PartNumber, err)
		}
	}
}
