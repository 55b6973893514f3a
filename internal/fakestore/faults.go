package fakestore

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Fault kinds.
const (
	// FaultLatency delays the request by Latency, then serves it.
	FaultLatency = "latency"
	// FaultStatus answers Status (429, 500, 503, 409…) without acting; a 429
	// carries Retry-After when RetryAfterSeconds is set.
	FaultStatus = "status"
	// FaultTimeout holds the request without acting until the client gives
	// up (or Latency passes, default 30 s of wall time), then answers 504.
	FaultTimeout = "timeout"
	// FaultLostResponse acts, then drops the connection, as when a response
	// is lost in transit: the client cannot know the action happened.
	FaultLostResponse = "lost_response"
)

// Fault makes the fake misbehave for one named operation, for tests and the
// demo. Operations are named as in the Google discovery documents
// ("androidpublisher.edits.commit"), with ".chunk" appended for the chunks
// of a resumable upload ("androidpublisher.edits.bundles.upload.chunk"), and
// "asc.<resource>.<verb>" for App Store Connect ("asc.appStoreVersions.create");
// "*" matches every operation.
type Fault struct {
	// Op is the operation name the fault applies to.
	Op string `json:"op"`
	// Kind is one of FaultLatency, FaultStatus, FaultTimeout, FaultLostResponse.
	Kind string `json:"kind"`
	// Status is the HTTP status of a FaultStatus.
	Status int `json:"status,omitempty"`
	// RetryAfterSeconds sets Retry-After on a FaultStatus answer.
	RetryAfterSeconds int `json:"retry_after_seconds,omitempty"`
	// Latency is the delay of FaultLatency and the cap of FaultTimeout.
	Latency Duration `json:"latency,omitempty"`
	// Count is how many matching requests the fault hits; 0 means every one.
	Count int `json:"count"`
	// After is how many matching requests pass untouched before the fault
	// starts hitting, e.g. 1 to fail the second chunk of an upload rather
	// than its first. Default 0.
	After int `json:"after,omitempty"`
	// Passed counts the matching requests let through because of After.
	Passed int `json:"passed,omitempty"`
	// Hits counts the requests the fault has hit so far.
	Hits int `json:"hits"`
}

// Duration is a time.Duration written in JSON as a Go duration string ("250ms").
type Duration time.Duration

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Quote(time.Duration(d).String())), nil
}

// UnmarshalJSON reads a Go duration string or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if s, err := strconv.Unquote(string(b)); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q: %w", s, err)
		}
		*d = Duration(v)
		return nil
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("duration %s: want a string like \"250ms\"", b)
	}
	*d = Duration(n)
	return nil
}

func (f *Fault) validate() error {
	if f.Op == "" {
		return fmt.Errorf("fault: op is required (an operation name such as androidpublisher.edits.commit, or *)")
	}
	switch f.Kind {
	case FaultLatency, FaultTimeout, FaultLostResponse:
	case FaultStatus:
		if f.Status < 400 || f.Status > 599 {
			return fmt.Errorf("fault: status %d must be 400-599", f.Status)
		}
	default:
		return fmt.Errorf("fault: kind %q must be latency, status, timeout or lost_response", f.Kind)
	}
	if f.Count < 0 {
		return fmt.Errorf("fault: count %d must be >= 0", f.Count)
	}
	if f.After < 0 {
		return fmt.Errorf("fault: after %d must be >= 0", f.After)
	}
	return nil
}

// AddFault arms a fault.
func (s *Server) AddFault(f Fault) error {
	if err := f.validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f.Hits, f.Passed = 0, 0
	s.st.Faults = append(s.st.Faults, &f)
	return s.persistLocked()
}

// ClearFaults disarms every fault.
func (s *Server) ClearFaults() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.Faults = nil
	return s.persistLocked()
}

// Faults returns the armed faults with their hit counts.
func (s *Server) Faults() []Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Fault, 0, len(s.st.Faults))
	for _, f := range s.st.Faults {
		out = append(out, *f)
	}
	return out
}

// takeFaultLocked returns a copy of the first armed fault matching op and
// counts the hit; exhausted faults stay listed with their hits.
func (s *Server) takeFaultLocked(op string) *Fault {
	for _, f := range s.st.Faults {
		if f.Op != op && f.Op != "*" {
			continue
		}
		if f.Count > 0 && f.Hits >= f.Count {
			continue
		}
		if f.Passed < f.After {
			f.Passed++
			continue
		}
		f.Hits++
		c := *f
		return &c
	}
	return nil
}

func faultError(fam family, status int) error {
	if fam == famASC {
		switch status {
		case http.StatusTooManyRequests:
			return &ascError{Status: 429, Code: "RATE_LIMIT_EXCEEDED", Title: "The request rate limit has been reached.",
				Detail: "We've received too many requests for this API. Please wait and try again or slow down your request rate."}
		case http.StatusConflict:
			return ascConflict("STATE_ERROR", "The resource was modified by another request. Try again.")
		}
		return &ascError{Status: status, Code: "UNEXPECTED_ERROR", Title: "An unexpected error occurred.", Detail: "An unexpected error occurred on the server side."}
	}
	switch status {
	case http.StatusTooManyRequests:
		return &googleError{Code: 429, Status: "RESOURCE_EXHAUSTED", Reason: "rateLimitExceeded", Message: "Resource has been exhausted (e.g. check quota)."}
	case http.StatusConflict:
		return &googleError{Code: 409, Status: "ABORTED", Reason: "aborted", Message: "The operation was aborted due to a concurrent modification. Retry the request."}
	case http.StatusServiceUnavailable:
		return &googleError{Code: 503, Status: "UNAVAILABLE", Reason: "backendError", Message: "The service is currently unavailable."}
	}
	return &googleError{Code: status, Status: "INTERNAL", Reason: "backendError", Message: "Internal error encountered."}
}
