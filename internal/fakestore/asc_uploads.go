package fakestore

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ascUploadPath is where the fake serves the presigned part URLs of
// uploadOperations; Apple's point at its asset storage host instead.
const ascUploadPath = "/asc-upload/"

// Build upload states (BuildUpload.state.state, API 4.1+).
const (
	uploadAwaiting   = "AWAITING_UPLOAD"
	uploadProcessing = "PROCESSING"
	uploadFailed     = "FAILED"
	uploadComplete   = "COMPLETE"
)

// uploadURLLifetime is how long uploadOperations URLs stay valid.
const uploadURLLifetime = 7 * 24 * time.Hour

type ascUpload struct {
	ID           string    `json:"id"`
	AppID        string    `json:"app_id"`
	Platform     string    `json:"platform"`
	ShortVersion string    `json:"short_version"`
	Version      string    `json:"version"`
	State        string    `json:"state"`
	Created      time.Time `json:"created"`
	Uploaded     time.Time `json:"uploaded,omitzero"`
	ImportAt     time.Time `json:"import_at,omitzero"`
	BuildID      string    `json:"build_id,omitempty"`
}

type ascUploadFile struct {
	ID        string    `json:"id"`
	UploadID  string    `json:"upload_id"`
	FileName  string    `json:"file_name"`
	FileSize  int64     `json:"file_size"`
	UTI       string    `json:"uti"`
	AssetType string    `json:"asset_type"`
	PartSize  int64     `json:"part_size"`
	Created   time.Time `json:"created"`
	// Parts names, by part number, the files in the upload directory that
	// hold the received parts until the file is committed; they are deleted
	// then and only the checksum stays. The bytes never enter state.json.
	Parts    map[string]string `json:"part_files,omitempty"`
	Uploaded bool              `json:"uploaded"`
	Checksum string            `json:"checksum,omitempty"`
}

// partBlob names the file holding part n of upload file id.
func partBlob(id string, n int64) string {
	return "asc-" + id + "-" + strconv.FormatInt(n, 10) + ".part"
}

// dropParts deletes the received parts of f.
func (s *Server) dropParts(ctx context.Context, f *ascUploadFile) {
	for _, name := range f.Parts {
		s.removeBlob(ctx, name)
	}
	f.Parts = nil
}

func (f *ascUploadFile) partCount() int64 { return (f.FileSize + f.PartSize - 1) / f.PartSize }

func (s *Server) uploadJSON(u *ascUpload) map[string]any {
	attrs := map[string]any{"cfBundleShortVersionString": u.ShortVersion, "cfBundleVersion": u.Version, "platform": u.Platform,
		"createdDate": u.Created, "state": map[string]any{"state": u.State, "errors": []any{}, "warnings": []any{}, "infos": []any{}}}
	if !u.Uploaded.IsZero() {
		attrs["uploadedDate"] = u.Uploaded
	}
	rels := map[string]any{"app": toOne("apps", u.AppID)}
	if u.BuildID != "" {
		rels["build"] = toOne("builds", u.BuildID)
	}
	return s.resource("buildUploads", u.ID, attrs, rels)
}

func (s *Server) uploadFileJSON(f *ascUploadFile) map[string]any {
	attrs := map[string]any{"fileName": f.FileName, "fileSize": f.FileSize, "uti": f.UTI, "assetType": f.AssetType}
	ops := []any{}
	if !f.Uploaded {
		exp := f.Created.Add(uploadURLLifetime)
		for i := range f.partCount() {
			off := i * f.PartSize
			ops = append(ops, map[string]any{"method": http.MethodPut, "partNumber": i + 1, "offset": off, "length": min(f.PartSize, f.FileSize-off),
				"url": s.cfg.BaseURL + ascUploadPath + f.ID + "/" + strconv.FormatInt(i+1, 10), "expiration": exp,
				"requestHeaders": []any{map[string]string{"name": "Content-Type", "value": "application/octet-stream"}}})
		}
		attrs["assetDeliveryState"] = map[string]any{"state": "AWAITING_UPLOAD"}
	} else {
		attrs["assetDeliveryState"] = map[string]any{"state": "COMPLETE"}
		attrs["sourceFileChecksums"] = map[string]any{"file": map[string]string{"hash": f.Checksum, "algorithm": "SHA_256"}}
	}
	attrs["uploadOperations"] = ops
	return s.resource("buildUploadFiles", f.ID, attrs, map[string]any{"buildUpload": toOne("buildUploads", f.UploadID)})
}

func (s *Server) ascUploadsCreate(r *http.Request, body []byte) (int, any, error) {
	var attrs struct {
		Short    string `json:"cfBundleShortVersionString"`
		Version  string `json:"cfBundleVersion"`
		Platform string `json:"platform"`
	}
	d, err := decodeDoc(body, "buildUploads", &attrs)
	if err != nil {
		return 0, nil, err
	}
	appID, err := d.rel("app", "apps", true)
	if err != nil {
		return 0, nil, err
	}
	app, ok := s.st.ASC.Apps[appID]
	if !ok {
		return 0, nil, ascInvalidRel("app", "There is no resource of type 'apps' with id '"+appID+"'")
	}
	if !slices.Contains(platforms, attrs.Platform) {
		return 0, nil, ascInvalid("/data/attributes/platform", "You must provide a value for the attribute 'platform' (one of IOS, MAC_OS, TV_OS, VISION_OS) with this request")
	}
	if err := s.checkNewBuildLocked(app, attrs.Platform, attrs.Short, attrs.Version); err != nil {
		return 0, nil, err
	}
	for _, u := range s.st.ASC.Uploads {
		if u.AppID == app.ID && u.Platform == attrs.Platform && u.ShortVersion == attrs.Short && u.Version == attrs.Version && u.State != uploadFailed {
			return 0, nil, ascConflict("ENTITY_ERROR.ATTRIBUTE.INVALID.DUPLICATE",
				"Redundant Binary Upload. You've already uploaded a build with build number '"+attrs.Version+"' for version number '"+attrs.Short+"'. Make sure you increment the build string before you upload your app to App Store Connect.")
		}
	}
	u := &ascUpload{ID: s.st.id(), AppID: app.ID, Platform: attrs.Platform, ShortVersion: attrs.Short, Version: attrs.Version,
		State: uploadAwaiting, Created: s.nowLocked()}
	s.st.ASC.Uploads[u.ID] = u
	s.event("asc.buildUploads.create", "buildUploads/"+u.ID)
	return 201, s.single(r, s.uploadJSON(u)), nil
}

func (s *Server) ascUploadsGet(r *http.Request, _ []byte) (int, any, error) {
	u, ok := s.st.ASC.Uploads[r.PathValue("id")]
	if !ok {
		return 0, nil, ascNotFound("buildUploads", r.PathValue("id"))
	}
	return 200, s.single(r, s.uploadJSON(u)), nil
}

func (s *Server) ascUploadsDelete(r *http.Request, _ []byte) (int, any, error) {
	u, ok := s.st.ASC.Uploads[r.PathValue("id")]
	if !ok {
		return 0, nil, ascNotFound("buildUploads", r.PathValue("id"))
	}
	if u.State != uploadAwaiting && u.State != uploadFailed {
		return 0, nil, ascStateInvalid("The buildUpload with id '" + u.ID + "' is " + u.State + " and cannot be deleted.")
	}
	for id, f := range s.st.ASC.UploadFiles {
		if f.UploadID == u.ID {
			s.dropParts(r.Context(), f)
			delete(s.st.ASC.UploadFiles, id)
		}
	}
	delete(s.st.ASC.Uploads, u.ID)
	s.event("asc.buildUploads.delete", "buildUploads/"+u.ID)
	return http.StatusNoContent, nil, nil
}

func (s *Server) ascAppUploadsList(r *http.Request, _ []byte) (int, any, error) {
	app, ok := s.st.ASC.Apps[r.PathValue("id")]
	if !ok {
		return 0, nil, ascNotFound("apps", r.PathValue("id"))
	}
	us := sortedByID(s.st.ASC.Uploads, func(u *ascUpload) string { return u.ID })
	slices.Reverse(us)
	var res []map[string]any
	for _, u := range us {
		if u.AppID == app.ID {
			res = append(res, s.uploadJSON(u))
		}
	}
	return s.collection(r, res, nil)
}

func (s *Server) ascUploadFilesList(r *http.Request, _ []byte) (int, any, error) {
	u, ok := s.st.ASC.Uploads[r.PathValue("id")]
	if !ok {
		return 0, nil, ascNotFound("buildUploads", r.PathValue("id"))
	}
	var res []map[string]any
	for _, f := range sortedByID(s.st.ASC.UploadFiles, func(f *ascUploadFile) string { return f.ID }) {
		if f.UploadID == u.ID {
			res = append(res, s.uploadFileJSON(f))
		}
	}
	return s.collection(r, res, nil)
}

func (s *Server) ascUploadFilesCreate(r *http.Request, body []byte) (int, any, error) {
	var attrs struct {
		FileName  string `json:"fileName"`
		FileSize  int64  `json:"fileSize"`
		UTI       string `json:"uti"`
		AssetType string `json:"assetType"`
	}
	d, err := decodeDoc(body, "buildUploadFiles", &attrs)
	if err != nil {
		return 0, nil, err
	}
	uID, err := d.rel("buildUpload", "buildUploads", true)
	if err != nil {
		return 0, nil, err
	}
	u, ok := s.st.ASC.Uploads[uID]
	if !ok {
		return 0, nil, ascInvalidRel("buildUpload", "There is no resource of type 'buildUploads' with id '"+uID+"'")
	}
	switch {
	case attrs.FileName == "" || strings.ContainsAny(attrs.FileName, "/\\"):
		return 0, nil, ascInvalid("/data/attributes/fileName", "fileName must be a plain file name.")
	case attrs.FileSize <= 0 || attrs.FileSize > s.cfg.MaxUploadBytes:
		return 0, nil, ascInvalid("/data/attributes/fileSize", "fileSize must be between 1 and "+strconv.FormatInt(s.cfg.MaxUploadBytes, 10)+" bytes.")
	case attrs.UTI != "com.apple.ipa" && attrs.UTI != "com.apple.pkg":
		return 0, nil, ascInvalid("/data/attributes/uti", "uti must be com.apple.ipa or com.apple.pkg.")
	case attrs.AssetType != "ASSET":
		return 0, nil, ascInvalid("/data/attributes/assetType", "The fake store accepts assetType ASSET (the app binary).")
	case u.State != uploadAwaiting:
		return 0, nil, ascStateInvalid("The buildUpload with id '" + u.ID + "' is " + u.State + " and takes no more files.")
	}
	for _, f := range s.st.ASC.UploadFiles {
		if f.UploadID == u.ID && f.AssetType == attrs.AssetType {
			return 0, nil, ascConflict("STATE_ERROR.ENTITY_STATE_INVALID", "The buildUpload with id '"+u.ID+"' already has the ASSET file '"+f.ID+"'.")
		}
	}
	f := &ascUploadFile{ID: s.st.id(), UploadID: u.ID, FileName: attrs.FileName, FileSize: attrs.FileSize, UTI: attrs.UTI,
		AssetType: attrs.AssetType, PartSize: s.cfg.UploadPartSize, Created: s.nowLocked(), Parts: map[string]string{}}
	s.st.ASC.UploadFiles[f.ID] = f
	s.event("asc.buildUploadFiles.create", "buildUploadFiles/"+f.ID)
	return 201, s.single(r, s.uploadFileJSON(f)), nil
}

func (s *Server) ascUploadFilesGet(r *http.Request, _ []byte) (int, any, error) {
	f, ok := s.st.ASC.UploadFiles[r.PathValue("id")]
	if !ok {
		return 0, nil, ascNotFound("buildUploadFiles", r.PathValue("id"))
	}
	return 200, s.single(r, s.uploadFileJSON(f)), nil
}

// ascUploadPartPut stores one part at a presigned uploadOperations URL as a
// file in the upload directory. Repeating a part replaces it, so part
// uploads are safe to retry.
func (s *Server) ascUploadPartPut(r *http.Request, body *spooledBody) (int, any, error) {
	f, ok := s.st.ASC.UploadFiles[r.PathValue("file")]
	if !ok || f.Uploaded || !s.nowLocked().Before(f.Created.Add(uploadURLLifetime)) {
		return 0, nil, &ascError{Status: 403, Code: "FORBIDDEN", Title: "The upload URL is not valid.", Detail: "The upload URL has expired or its file was already committed."}
	}
	n, err := strconv.ParseInt(r.PathValue("part"), 10, 64)
	if err != nil || n < 1 || n > f.partCount() {
		return 0, nil, ascBadRequest("The part number is not valid.")
	}
	want := min(f.PartSize, f.FileSize-(n-1)*f.PartSize)
	if body.Size != want {
		return 0, nil, ascBadRequest("Part " + strconv.FormatInt(n, 10) + " must be exactly " + strconv.FormatInt(want, 10) + " bytes.")
	}
	name := partBlob(f.ID, n)
	dst, err := s.blobFile(name)
	if err != nil {
		return 0, nil, err
	}
	if err := os.Rename(body.Path, dst); err != nil {
		return 0, nil, fmt.Errorf("fakestore: store part %d of upload file %s: %w", n, f.ID, err)
	}
	body.Path = ""
	if f.Parts == nil {
		f.Parts = map[string]string{}
	}
	f.Parts[strconv.FormatInt(n, 10)] = name
	return http.StatusOK, nil, nil
}

func (s *Server) ascUploadFilesUpdate(r *http.Request, body []byte) (int, any, error) {
	f, ok := s.st.ASC.UploadFiles[r.PathValue("id")]
	if !ok {
		return 0, nil, ascNotFound("buildUploadFiles", r.PathValue("id"))
	}
	var attrs struct {
		Uploaded  *bool `json:"uploaded"`
		Checksums *struct {
			File *struct {
				Hash      string `json:"hash"`
				Algorithm string `json:"algorithm"`
			} `json:"file"`
		} `json:"sourceFileChecksums"`
	}
	if _, err := decodeDoc(body, "buildUploadFiles", &attrs); err != nil {
		return 0, nil, err
	}
	if attrs.Uploaded == nil || !*attrs.Uploaded || attrs.Checksums == nil || attrs.Checksums.File == nil {
		return 0, nil, ascInvalid("/data/attributes", "Set 'uploaded' to true and give sourceFileChecksums.file {hash, algorithm}.")
	}
	if f.Uploaded {
		return 200, s.single(r, s.uploadFileJSON(f)), nil
	}
	var sumOf func() hash.Hash
	switch attrs.Checksums.File.Algorithm {
	case "MD5":
		sumOf = md5.New
	case "SHA_256":
		sumOf = sha256.New
	default:
		return 0, nil, ascInvalid("/data/attributes/sourceFileChecksums/file/algorithm", "algorithm must be MD5 or SHA_256.")
	}
	// Hash the parts in order, streaming from their files.
	want, full := sumOf(), sha256.New()
	for i := range f.partCount() {
		name, ok := f.Parts[strconv.FormatInt(i+1, 10)]
		if !ok {
			return 0, nil, ascStateInvalid("Part " + strconv.FormatInt(i+1, 10) + " of buildUploadFile '" + f.ID + "' has not been uploaded.")
		}
		if err := s.hashBlob(name, io.MultiWriter(want, full)); err != nil {
			return 0, nil, err
		}
	}
	if !strings.EqualFold(hex.EncodeToString(want.Sum(nil)), attrs.Checksums.File.Hash) {
		return 0, nil, ascInvalid("/data/attributes/sourceFileChecksums/file/hash", "The checksum does not match the uploaded file; upload the parts again.")
	}
	f.Uploaded, f.Checksum = true, hex.EncodeToString(full.Sum(nil))
	s.dropParts(r.Context(), f)
	now := s.nowLocked()
	if u := s.st.ASC.Uploads[f.UploadID]; u != nil && u.State == uploadAwaiting {
		u.State, u.Uploaded, u.ImportAt = uploadProcessing, now, now.Add(s.cfg.UploadImportDelay)
	}
	s.event("asc.buildUploadFiles.uploaded", "buildUploadFiles/"+f.ID)
	return 200, s.single(r, s.uploadFileJSON(f)), nil
}

// tickUploads imports committed uploads as builds after UploadImportDelay;
// the build then processes like any other.
func (s *Server) tickUploads(now time.Time) {
	for _, u := range sortedByID(s.st.ASC.Uploads, func(u *ascUpload) string { return u.ID }) {
		if u.State != uploadProcessing || now.Before(u.ImportAt) {
			continue
		}
		app := s.st.ASC.Apps[u.AppID]
		if app == nil {
			u.State = uploadFailed
			continue
		}
		b := s.newBuildLocked(app, u.Platform, u.ShortVersion, u.Version, u.ImportAt)
		b.UploadID = u.ID
		u.State, u.BuildID = uploadComplete, b.ID
		s.event("asc.buildUploads.imported", "buildUploads/"+u.ID)
	}
}

// hashBlob writes the blob's bytes to w.
func (s *Server) hashBlob(name string, w io.Writer) error {
	p, err := s.blobFile(name)
	if err != nil {
		return err
	}
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("fakestore: open upload part: %w", err)
	}
	defer f.Close()
	if _, err := io.Copy(w, f); err != nil {
		return fmt.Errorf("fakestore: read upload part: %w", err)
	}
	return nil
}
