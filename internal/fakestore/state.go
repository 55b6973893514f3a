package fakestore

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// File names in the state directory.
const (
	stateFile = "state.json"
	seedFile  = "seed.json"
)

const stateVersion = 1

// maxEvents bounds the action log kept in state.
const maxEvents = 2000

type clockState struct {
	// Frozen clocks stay at At; running clocks are wall time plus Offset.
	Frozen bool          `json:"frozen"`
	At     time.Time     `json:"at,omitzero"`
	Offset time.Duration `json:"offset"`
}

// Event records one state change the fake applied, so tests and people can
// check that a retried call did not act twice.
type Event struct {
	Seq  int64     `json:"seq"`
	Time time.Time `json:"time"`
	// Op is the operation name, as used for fault injection.
	Op string `json:"op"`
	// Subject names what changed, e.g. "com.example/edits/3" or "appStoreVersions/12".
	Subject string `json:"subject"`
}

type token struct {
	Email   string    `json:"email"`
	Scopes  []string  `json:"scopes"`
	Expires time.Time `json:"expires"`
}

type state struct {
	Version int                 `json:"version"`
	Clock   clockState          `json:"clock"`
	NextID  int64               `json:"next_id"`
	Tokens  map[string]token    `json:"tokens"`
	Revoked bool                `json:"credentials_revoked,omitempty"`
	Faults  []*Fault            `json:"faults"`
	Events  []Event             `json:"events"`
	Play    map[string]*playApp `json:"play"`
	// PlayUploads are resumable-upload sessions by upload_id; their bytes
	// are files in the upload directory.
	PlayUploads map[string]*playUploadSession `json:"play_upload_sessions"`
	ASC         *ascState                     `json:"app_store_connect"`
}

func newState() *state {
	return &state{
		Version: stateVersion,
		NextID:  1,
		Tokens:  map[string]token{},
		Play:    map[string]*playApp{},
		ASC:     newASCState(),

		PlayUploads: map[string]*playUploadSession{},
	}
}

// id returns a fresh numeric id, unique across the whole fake.
func (st *state) id() string {
	id := st.NextID
	st.NextID++
	return strconv.FormatInt(id, 10)
}

func (s *Server) event(op, subject string) {
	st := s.st
	st.Events = append(st.Events, Event{Seq: st.NextID, Time: s.nowLocked(), Op: op, Subject: subject})
	st.NextID++
	if len(st.Events) > maxEvents {
		st.Events = st.Events[len(st.Events)-maxEvents:]
	}
}

func (s *Server) loadState() (*state, error) {
	if s.cfg.StateDir == "" {
		return newState(), nil
	}
	b, err := os.ReadFile(filepath.Join(s.cfg.StateDir, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return newState(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("fakestore: read state: %w", err)
	}
	st := newState()
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("fakestore: parse %s (delete it to start over): %w", filepath.Join(s.cfg.StateDir, stateFile), err)
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("fakestore: state version %d, want %d (delete %s to start over)", st.Version, stateVersion, stateFile)
	}
	if st.Tokens == nil {
		st.Tokens = map[string]token{}
	}
	if st.Play == nil {
		st.Play = map[string]*playApp{}
	}
	if st.PlayUploads == nil {
		st.PlayUploads = map[string]*playUploadSession{}
	}
	if st.ASC == nil {
		st.ASC = newASCState()
	}
	st.ASC.fill()
	return st, nil
}

// persistLocked writes state.json atomically: a temp file in the same
// directory, fsync, then rename, so a crash leaves the old or the new state.
func (s *Server) persistLocked() error {
	if s.cfg.StateDir == "" {
		return nil
	}
	b, err := json.MarshalIndent(s.st, "", "  ")
	if err != nil {
		return fmt.Errorf("fakestore: encode state: %w", err)
	}
	return writeFileAtomic(filepath.Join(s.cfg.StateDir, stateFile), b, 0o600)
}

func writeFileAtomic(path string, b []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("fakestore: write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("fakestore: write %s: %w", path, err)
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("fakestore: chmod %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("fakestore: sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("fakestore: close %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("fakestore: rename %s: %w", path, err)
	}
	return nil
}

// Seed lists apps to create when the fake starts, read from seed.json in the
// state directory; apps that already exist are left alone.
type Seed struct {
	// PlayApps are Google Play apps.
	PlayApps []PlayAppSpec `json:"play_apps"`
	// ASCApps are App Store Connect apps.
	ASCApps []ASCAppSpec `json:"asc_apps"`
}

func (s *Server) loadSeed() error {
	if s.cfg.StateDir == "" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(s.cfg.StateDir, seedFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("fakestore: read seed: %w", err)
	}
	var seed Seed
	if err := json.Unmarshal(b, &seed); err != nil {
		return fmt.Errorf("fakestore: parse %s: %w", seedFile, err)
	}
	return s.ApplySeed(seed)
}

// ApplySeed creates the seed's apps that do not exist yet.
func (s *Server) ApplySeed(seed Seed) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range seed.PlayApps {
		if _, ok := s.st.Play[a.PackageName]; ok {
			continue
		}
		if _, err := s.createPlayAppLocked(a); err != nil {
			return err
		}
	}
	for _, a := range seed.ASCApps {
		if s.st.ASC.appByBundle(a.BundleID) != nil {
			continue
		}
		if _, err := s.createASCAppLocked(a); err != nil {
			return err
		}
	}
	return s.persistLocked()
}
