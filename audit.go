package ripcord

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"time"
)

// AuditEntry records one state-changing action. Entries form a hash chain:
// each carries the hash of the one before, so editing or deleting a stored
// entry breaks every hash after it and `ripcord audit verify` finds it.
type AuditEntry struct {
	Seq       int64     // position in the chain, from 1
	At        time.Time // when the action was committed (UTC)
	Actor     string    // who acted: "token:ci", "user:ana@example.com", "local:root"
	Action    string    // what happened: "app.create", "build.upload"
	Target    string    // what it happened to: "app/shop", "release/shop/1.2.0"
	Before    string    // summary of the state before ("" when created)
	After     string    // summary of the state after ("" when deleted)
	RequestID string    // ties the entry to request logs
	PrevHash  string    // Hash of entry Seq-1; "" for the first entry
	Hash      string    // ComputeHash of this entry
}

// ComputeHash returns the entry's chain hash over every field but Hash itself.
// Fields are length-prefixed so no two different entries serialise alike.
func (e *AuditEntry) ComputeHash() string {
	h := sha256.New()
	var n [8]byte
	put := func(s string) {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	binary.BigEndian.PutUint64(n[:], uint64(e.Seq))
	h.Write(n[:])
	put(e.At.UTC().Format(time.RFC3339Nano))
	put(e.Actor)
	put(e.Action)
	put(e.Target)
	put(e.Before)
	put(e.After)
	put(e.RequestID)
	put(e.PrevHash)
	return hex.EncodeToString(h.Sum(nil))
}

// AuditBreak says where a chain stops holding and why.
type AuditBreak struct {
	Seq    int64
	Reason string
}

// VerifyAuditChain checks a run of consecutive entries, starting after an entry
// whose hash is prevHash (and whose sequence number is prevSeq). It returns the
// first break, or nil when the run holds. Callers stream the log through it in
// pages, passing the last entry of one page into the next call.
func VerifyAuditChain(prevSeq int64, prevHash string, entries []AuditEntry) *AuditBreak {
	for i := range entries {
		e := &entries[i]
		switch {
		case e.Seq != prevSeq+1:
			return &AuditBreak{Seq: prevSeq + 1, Reason: "entry is missing (the next stored entry is " + itoa(e.Seq) + ")"}
		case e.PrevHash != prevHash:
			return &AuditBreak{Seq: e.Seq, Reason: "its previous-hash does not match the entry before it"}
		case e.ComputeHash() != e.Hash:
			return &AuditBreak{Seq: e.Seq, Reason: "its content does not match its hash (the entry was changed after it was written)"}
		}
		prevSeq, prevHash = e.Seq, e.Hash
	}
	return nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
