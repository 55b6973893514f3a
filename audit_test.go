package ripcord_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
)

func baseEntry() ripcord.AuditEntry {
	return ripcord.AuditEntry{
		Seq: 3, At: time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC), Actor: "token:ci", Action: "build.upload",
		Target: "build/shop/android/1", Before: `{"a":1}`, After: `{"a":2}`, RequestID: "req-1",
		PrevHash: "0123456789abcdef",
	}
}

func TestAuditEntryComputeHash(t *testing.T) {
	t.Parallel()
	base := baseEntry()
	h := base.ComputeHash()
	require.Len(t, h, 64)
	again := baseEntry()
	require.Equal(t, h, again.ComputeHash(), "the hash is deterministic")

	// Every field but Hash is covered: changing any of them changes the hash.
	edits := map[string]func(e *ripcord.AuditEntry){
		"Seq":       func(e *ripcord.AuditEntry) { e.Seq++ },
		"At":        func(e *ripcord.AuditEntry) { e.At = e.At.Add(time.Nanosecond) },
		"Actor":     func(e *ripcord.AuditEntry) { e.Actor = "token:evil" },
		"Action":    func(e *ripcord.AuditEntry) { e.Action = "build.delete" },
		"Target":    func(e *ripcord.AuditEntry) { e.Target = "build/shop/android/2" },
		"Before":    func(e *ripcord.AuditEntry) { e.Before = "" },
		"After":     func(e *ripcord.AuditEntry) { e.After = `{"a":3}` },
		"RequestID": func(e *ripcord.AuditEntry) { e.RequestID = "req-2" },
		"PrevHash":  func(e *ripcord.AuditEntry) { e.PrevHash = "fedcba9876543210" },
		// Field boundaries count: moving a character from one field to the
		// next must not serialise alike.
		"ActorActionBoundary": func(e *ripcord.AuditEntry) { e.Actor, e.Action = "token:cib", "uild.upload" },
		"BeforeAfterBoundary": func(e *ripcord.AuditEntry) { e.Before, e.After = "", `{"a":1}{"a":2}` },
	}
	for name, edit := range edits {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := baseEntry()
			edit(&e)
			require.NotEqual(t, h, e.ComputeHash())
		})
	}

	t.Run("HashFieldIgnored", func(t *testing.T) {
		t.Parallel()
		e := baseEntry()
		e.Hash = "anything"
		require.Equal(t, h, e.ComputeHash())
	})

	t.Run("SameInstantOtherZone", func(t *testing.T) {
		t.Parallel()
		e := baseEntry()
		e.At = e.At.In(time.FixedZone("X", -5*3600))
		require.Equal(t, h, e.ComputeHash(), "the hash covers the instant, not how it is displayed")
	})
}

// chain builds n correctly linked entries, Seq 1..n.
func chain(n int) []ripcord.AuditEntry {
	out := make([]ripcord.AuditEntry, n)
	prev := ""
	for i := range out {
		e := ripcord.AuditEntry{
			Seq: int64(i + 1), At: time.Date(2030, 1, 1, 0, 0, i, 0, time.UTC), Actor: "token:ci",
			Action: "app.create", Target: fmt.Sprintf("app/a%d", i), After: `{}`, PrevHash: prev,
		}
		e.Hash = e.ComputeHash()
		prev = e.Hash
		out[i] = e
	}
	return out
}

func TestVerifyAuditChain(t *testing.T) {
	t.Parallel()

	t.Run("OKIntact", func(t *testing.T) {
		t.Parallel()
		require.Nil(t, ripcord.VerifyAuditChain(0, "", chain(5)))
	})

	t.Run("OKEmpty", func(t *testing.T) {
		t.Parallel()
		require.Nil(t, ripcord.VerifyAuditChain(0, "", nil))
	})

	t.Run("OKInPages", func(t *testing.T) {
		t.Parallel()
		c := chain(6)
		require.Nil(t, ripcord.VerifyAuditChain(0, "", c[:3]))
		require.Nil(t, ripcord.VerifyAuditChain(c[2].Seq, c[2].Hash, c[3:]))
	})

	t.Run("ErrChangedField", func(t *testing.T) {
		t.Parallel()
		for name, edit := range map[string]func(e *ripcord.AuditEntry){
			"Actor":  func(e *ripcord.AuditEntry) { e.Actor = "token:evil" },
			"At":     func(e *ripcord.AuditEntry) { e.At = e.At.Add(time.Second) },
			"After":  func(e *ripcord.AuditEntry) { e.After = `{"x":1}` },
			"Target": func(e *ripcord.AuditEntry) { e.Target = "app/other" },
		} {
			c := chain(5)
			edit(&c[2])
			br := ripcord.VerifyAuditChain(0, "", c)
			require.NotNil(t, br, name)
			require.Equal(t, int64(3), br.Seq, name)
			require.Contains(t, br.Reason, "changed after it was written", name)
		}
	})

	t.Run("ErrChangedFieldWithRecomputedHash", func(t *testing.T) {
		t.Parallel()
		// A forger who also rewrites the entry's hash breaks the next link.
		c := chain(5)
		c[2].Actor = "token:evil"
		c[2].Hash = c[2].ComputeHash()
		br := ripcord.VerifyAuditChain(0, "", c)
		require.NotNil(t, br)
		require.Equal(t, int64(4), br.Seq)
		require.Contains(t, br.Reason, "previous-hash does not match")
	})

	t.Run("ErrMissingEntry", func(t *testing.T) {
		t.Parallel()
		c := chain(5)
		c = append(c[:2:2], c[3:]...) // delete seq 3
		br := ripcord.VerifyAuditChain(0, "", c)
		require.NotNil(t, br)
		require.Equal(t, int64(3), br.Seq)
		require.Contains(t, br.Reason, "entry is missing (the next stored entry is 4)")
	})

	t.Run("ErrMissingFirstEntry", func(t *testing.T) {
		t.Parallel()
		br := ripcord.VerifyAuditChain(0, "", chain(3)[1:])
		require.NotNil(t, br)
		require.Equal(t, int64(1), br.Seq)
		require.Contains(t, br.Reason, "missing")
	})

	t.Run("ErrWrongPrevHash", func(t *testing.T) {
		t.Parallel()
		c := chain(5)
		c[3].PrevHash = c[1].Hash
		c[3].Hash = c[3].ComputeHash() // self-consistent, but linked to the wrong entry
		br := ripcord.VerifyAuditChain(0, "", c)
		require.NotNil(t, br)
		require.Equal(t, int64(4), br.Seq)
		require.Contains(t, br.Reason, "previous-hash does not match the entry before it")
	})

	t.Run("ErrWrongStartingHash", func(t *testing.T) {
		t.Parallel()
		c := chain(4)
		br := ripcord.VerifyAuditChain(2, c[0].Hash, c[2:])
		require.NotNil(t, br)
		require.Equal(t, int64(3), br.Seq)
	})

	t.Run("ErrReordered", func(t *testing.T) {
		t.Parallel()
		c := chain(4)
		c[1], c[2] = c[2], c[1]
		br := ripcord.VerifyAuditChain(0, "", c)
		require.NotNil(t, br)
		require.Equal(t, int64(2), br.Seq)
	})
}
