package sentry

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func mustTime(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.Parse(time.RFC3339Nano, s)
	require.NoError(tb, err)
	return t.UTC()
}

func decodeFile(tb testing.TB, name string, received time.Time) Result {
	tb.Helper()
	env, err := ParseEnvelope(bytes.NewReader(readTestdata(tb, name)), Limits{})
	require.NoError(tb, err)
	return env.DecodeAt(received)
}

func TestDecodeTestdata(t *testing.T) {
	t.Parallel()
	recv := mustTime(t, "2024-05-01T10:00:06Z")

	res := decodeFile(t, "session.envelope", recv)
	require.Empty(t, res.Dropped)
	require.Equal(t, []SessionUpdate{{
		SID: "7c7b6585-f901-4351-bf8d-02711b721929", DID: "device-42", Seq: 0, Init: true,
		Status: StatusOK, Started: mustTime(t, "2024-05-01T10:00:00Z"), Timestamp: mustTime(t, "2024-05-01T10:00:05Z"),
		Release: "com.acme.app@1.2.0+120", Environment: "production",
	}}, res.Sessions)

	res = decodeFile(t, "sessions_aggregate.envelope", recv)
	require.Empty(t, res.Dropped)
	require.Equal(t, []SessionAggregate{{
		Release: "com.acme.app@1.2.0+120", Environment: "production",
		Buckets: []AggregateBucket{
			{Started: mustTime(t, "2024-05-01T09:16:00Z"), Exited: 123},
			{Started: mustTime(t, "2024-05-01T09:16:00Z"), DID: "user-7", Exited: 12, Errored: 3, Crashed: 1, Abnormal: 2},
		},
	}}, res.Aggregates)
	require.Equal(t, int64(18), res.Aggregates[0].Buckets[1].Total())

	res = decodeFile(t, "event_crash.envelope", recv)
	require.Empty(t, res.Dropped)
	require.Len(t, res.Events, 1)
	ev := res.Events[0]
	require.Equal(t, Event{
		EventID: "9ec79c33ec9942ab8353589fcb2e04dc", Level: "fatal", Release: "com.acme.app@1.2.0+120", Environment: "production",
		Platform: "cocoa", Tags: map[string]string{"flow": "checkout", "outcome": "failure"},
		Timestamp: time.Unix(1714557600, 250000000).UTC(), Unhandled: true,
	}, ev)
	require.True(t, ev.Crash())
	require.Len(t, res.Sessions, 1)
	require.Equal(t, StatusCrashed, res.Sessions[0].Status)
	require.Equal(t, int64(3), res.Sessions[0].Seq)
	require.True(t, res.Sessions[0].Errored())
	require.InDelta(t, 600.5, *res.Sessions[0].Duration, 0)

	res = decodeFile(t, "attachment.envelope", recv)
	require.Equal(t, []SkippedItem{{Index: 0, Type: "attachment", Size: 10}, {Index: 2, Type: "client_report", Size: 58}}, res.Skipped)
	require.Len(t, res.Events, 1)
	require.Equal(t, "9ec79c33ec9942ab8353589fcb2e04dc", res.Events[0].EventID, "falls back to the envelope's event_id")
	require.Equal(t, map[string]string{"flow": "login", "outcome": "success"}, res.Events[0].Tags)
	require.Equal(t, recv, res.Events[0].Timestamp, "no timestamp: receive time")
	require.False(t, res.Events[0].Crash())
}

// sessionEnv wraps session payloads in an envelope with the given header.
func sessionEnv(tb testing.TB, header string, payloads ...string) *Envelope {
	tb.Helper()
	var b strings.Builder
	b.WriteString(header + "\n")
	for _, p := range payloads {
		b.WriteString(`{"type":"session"}` + "\n" + p + "\n")
	}
	env, err := ParseEnvelope(strings.NewReader(b.String()), Limits{})
	require.NoError(tb, err)
	return env
}

func TestDecodeSession(t *testing.T) {
	t.Parallel()
	recv := mustTime(t, "2024-05-01T12:00:00Z")
	const attrs = `"attrs":{"release":"app@1.0+1"}`
	tests := []struct {
		name    string
		payload string
		check   func(t *testing.T, s SessionUpdate)
		reason  string
	}{
		{"defaults", `{"sid":"8333339F5675-4f89-a9a0-1c935255ab58","started":"2024-05-01T11:00:00Z","timestamp":"2024-05-01T11:30:00Z",` + attrs + `}`, nil, "sid is not a UUID"},
		{"32-hex sid normalized", `{"sid":"8333339F56754F89A9A01C935255AB58","started":"2024-05-01T11:00:00Z","timestamp":"2024-05-01T11:30:00Z",` + attrs + `}`, func(t *testing.T, s SessionUpdate) {
			require.Equal(t, "8333339f-5675-4f89-a9a0-1c935255ab58", s.SID)
			require.Equal(t, StatusOK, s.Status)
			require.True(t, s.SeqDerived)
			require.Equal(t, mustTime(t, "2024-05-01T11:30:00Z").UnixMilli(), s.Seq, "seq from timestamp")
		}, ""},
		{"init forces seq 0", `{"init":true,"seq":77,"started":"2024-05-01T11:00:00Z",` + attrs + `}`, func(t *testing.T, s SessionUpdate) {
			require.Equal(t, int64(0), s.Seq)
			require.False(t, s.SeqDerived)
			require.Equal(t, recv, s.Timestamp, "timestamp defaults to receipt")
		}, ""},
		{"crashed forces errors", `{"seq":2,"status":"crashed","started":"2024-05-01T11:00:00Z",` + attrs + `}`, func(t *testing.T, s SessionUpdate) {
			require.Equal(t, int64(1), s.Errors)
			require.True(t, s.Terminal())
		}, ""},
		{"errored normalized", `{"seq":2,"status":"errored","started":"2024-05-01T11:00:00Z",` + attrs + `}`, func(t *testing.T, s SessionUpdate) {
			require.Equal(t, StatusExited, s.Status)
			require.Equal(t, int64(1), s.Errors)
			require.True(t, s.Errored())
		}, ""},
		{"exited with errors is errored", `{"seq":2,"status":"exited","errors":4,"started":"2024-05-01T11:00:00Z",` + attrs + `}`, func(t *testing.T, s SessionUpdate) {
			require.True(t, s.Errored())
		}, ""},
		{"exited clean is not errored", `{"seq":2,"status":"exited","started":"2024-05-01T11:00:00Z",` + attrs + `}`, func(t *testing.T, s SessionUpdate) {
			require.False(t, s.Errored())
		}, ""},
		{"abnormal ANR", `{"seq":2,"status":"abnormal","abnormal_mechanism":"anr_foreground","started":"2024-05-01T11:00:00Z",` + attrs + `}`, func(t *testing.T, s SessionUpdate) {
			require.Equal(t, "anr_foreground", s.AbnormalMechanism)
			require.True(t, s.Errored())
		}, ""},
		{"timestamp before started fixed", `{"seq":2,"started":"2024-05-01T11:00:00Z","timestamp":"2024-05-01T10:00:00Z",` + attrs + `}`, func(t *testing.T, s SessionUpdate) {
			require.Equal(t, s.Started, s.Timestamp)
		}, ""},
		{"invalid environment cleared", `{"seq":2,"started":"2024-05-01T11:00:00Z","attrs":{"release":"app@1","environment":"a/b"}}`, func(t *testing.T, s SessionUpdate) {
			require.Empty(t, s.Environment)
		}, ""},
		{"numeric started", `{"seq":2,"started":1714561200.5,` + attrs + `}`, func(t *testing.T, s SessionUpdate) {
			require.Equal(t, time.Unix(1714561200, 500000000).UTC(), s.Started)
		}, ""},
		{"unknown status", `{"status":"zombie","started":"2024-05-01T11:00:00Z",` + attrs + `}`, nil, "unknown status"},
		{"missing attrs", `{"started":"2024-05-01T11:00:00Z"}`, nil, "attrs.release is required"},
		{"invalid release", `{"started":"2024-05-01T11:00:00Z","attrs":{"release":"latest"}}`, nil, "not a valid release"},
		{"missing started", `{` + attrs + `}`, nil, "started is required"},
		{"bad started", `{"started":"yesterday",` + attrs + `}`, nil, "started"},
		{"negative seq", `{"seq":-1,"started":"2024-05-01T11:00:00Z",` + attrs + `}`, nil, "seq"},
		{"float errors", `{"errors":1.5,"started":"2024-05-01T11:00:00Z",` + attrs + `}`, nil, "errors"},
		{"too old", `{"seq":1,"started":"2024-04-20T11:00:00Z",` + attrs + `}`, nil, "more than 5 days old"},
		{"future", `{"seq":1,"started":"2024-05-01T12:00:00Z","timestamp":"2024-05-01T12:02:00Z",` + attrs + `}`, nil, "in the future"},
		{"not JSON", `{"seq":`, nil, "invalid JSON"},
		{"JSON array", `[1]`, nil, "invalid JSON"},
		{"empty", ``, nil, "empty payload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := sessionEnv(t, "{}", tt.payload).DecodeAt(recv)
			if tt.reason != "" {
				require.Empty(t, res.Sessions)
				require.Len(t, res.Dropped, 1)
				require.Equal(t, 0, res.Dropped[0].Index)
				require.Equal(t, -1, res.Dropped[0].Bucket)
				require.Contains(t, res.Dropped[0].Reason, tt.reason)
				return
			}
			require.Empty(t, res.Dropped)
			require.Len(t, res.Sessions, 1)
			tt.check(t, res.Sessions[0])
		})
	}
}

func TestDecodeOneBadItemKeepsTheRest(t *testing.T) {
	t.Parallel()
	good := `{"seq":1,"sid":"8333339f-5675-4f89-a9a0-1c935255ab58","started":"2024-05-01T11:00:00Z","attrs":{"release":"app@1"}}`
	env := sessionEnv(t, "{}", good, `{"broken"`, good)
	res := env.DecodeAt(mustTime(t, "2024-05-01T12:00:00Z"))
	require.Len(t, res.Sessions, 2)
	require.Len(t, res.Dropped, 1)
	require.Equal(t, 1, res.Dropped[0].Index)
	require.Equal(t, ItemSession, res.Dropped[0].Type)
	require.ErrorContains(t, res.Dropped[0], "item 1 (session) dropped")
}

func TestDecodeClockDrift(t *testing.T) {
	t.Parallel()
	// The device clock is 2 h behind: sent_at says 10:00 while we receive at 12:00.
	payload := `{"seq":1,"started":"2024-05-01T09:50:00Z","timestamp":"2024-05-01T09:59:00Z","attrs":{"release":"app@1"}}`
	tests := []struct {
		name, header string
		shift        time.Duration
	}{
		{"drift corrected", `{"sent_at":"2024-05-01T10:00:00Z"}`, 2 * time.Hour},
		{"small drift ignored", `{"sent_at":"2024-05-01T11:10:00Z"}`, 0},
		{"no sent_at", `{}`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := sessionEnv(t, tt.header, payload).DecodeAt(mustTime(t, "2024-05-01T12:00:00Z"))
			require.Len(t, res.Sessions, 1)
			require.Equal(t, mustTime(t, "2024-05-01T09:50:00Z").Add(tt.shift), res.Sessions[0].Started)
			require.Equal(t, mustTime(t, "2024-05-01T09:59:00Z").Add(tt.shift), res.Sessions[0].Timestamp)
		})
	}
	t.Run("future device corrected into window", func(t *testing.T) {
		t.Parallel()
		// 3 h ahead: without correction it would be dropped as future.
		p := `{"seq":1,"started":"2024-05-01T14:50:00Z","timestamp":"2024-05-01T14:59:00Z","attrs":{"release":"app@1"}}`
		res := sessionEnv(t, `{"sent_at":"2024-05-01T15:00:00Z"}`, p).DecodeAt(mustTime(t, "2024-05-01T12:00:00Z"))
		require.Empty(t, res.Dropped)
		require.Equal(t, mustTime(t, "2024-05-01T11:59:00Z"), res.Sessions[0].Timestamp)
	})
}

func TestDecodeWithoutClock(t *testing.T) {
	t.Parallel()
	env := sessionEnv(t, "{}",
		`{"started":"2024-05-01T11:00:00Z","attrs":{"release":"app@1"}}`,
		`{"started":"2000-01-01T11:00:00Z","timestamp":"2000-01-01T11:00:01Z","attrs":{"release":"app@1"}}`)
	res := env.Decode()
	require.Len(t, res.Dropped, 1)
	require.Contains(t, res.Dropped[0].Reason, "no seq and no timestamp")
	require.Len(t, res.Sessions, 1, "no window check without a receive time")
}

func TestDecodeAggregates(t *testing.T) {
	t.Parallel()
	recv := mustTime(t, "2024-05-01T12:00:00Z")
	mk := func(buckets ...string) string {
		return `{"aggregates":[` + strings.Join(buckets, ",") + `],"attrs":{"release":"app@1.0+7","environment":"prod"}}`
	}
	env := func(payloads ...string) *Envelope {
		var b strings.Builder
		b.WriteString("{}\n")
		for _, p := range payloads {
			b.WriteString(`{"type":"sessions"}` + "\n" + p + "\n")
		}
		e, err := ParseEnvelope(strings.NewReader(b.String()), Limits{MaxAggregateBuckets: 3})
		require.NoError(t, err)
		return e
	}
	ok := `{"started":"2024-05-01T11:00:00Z","exited":5,"unhandled":1}`
	res := env(
		mk(ok, `{"started":"2024-04-01T11:00:00Z","exited":1}`, `{"exited":1}`),
		mk(`{"started":"2024-05-01T11:00:00Z","crashed":-1}`),
		mk(ok, ok, ok, ok),
		`{"aggregates":[]}`,
		mk(`{"started":"2024-05-01T11:00:00Z","exited":4294967296}`),
	).DecodeAt(recv)
	require.Len(t, res.Aggregates, 3, "items 0, 1 and 4; 1 and 4 kept with no valid bucket")
	require.Equal(t, []AggregateBucket{{Started: mustTime(t, "2024-05-01T11:00:00Z"), Exited: 5, Unhandled: 1}}, res.Aggregates[0].Buckets)
	require.Empty(t, res.Aggregates[1].Buckets)
	require.Empty(t, res.Aggregates[2].Buckets)
	type drop struct {
		Index, Bucket int
		Has           string
	}
	var got []drop
	for _, d := range res.Dropped {
		got = append(got, drop{d.Index, d.Bucket, d.Reason})
	}
	want := []drop{
		{0, 1, "more than 5 days old"},
		{0, 2, "started is required"},
		{1, 0, "crashed is not a count"},
		{2, -1, "over the limit of 3"},
		{3, -1, "attrs.release is required"},
		{4, 0, "exited is not a count"},
	}
	require.Len(t, got, len(want))
	for i := range want {
		require.Equal(t, want[i].Index, got[i].Index)
		require.Equal(t, want[i].Bucket, got[i].Bucket)
		require.Contains(t, got[i].Has, want[i].Has)
	}
}

func TestDecodeEvent(t *testing.T) {
	t.Parallel()
	recv := mustTime(t, "2024-05-01T12:00:00Z")
	tests := []struct {
		name    string
		payload string
		want    Event
		reason  string
	}{
		{"string timestamp, critical", `{"level":"critical","timestamp":"2024-05-01T11:00:00Z"}`, Event{Level: "fatal", Timestamp: mustTime(t, "2024-05-01T11:00:00Z")}, ""},
		{"warn alias, mixed tags", `{"level":"WARN","tags":{"n":3,"b":true,"x":null,"o":{}}}`, Event{Level: "warning", Timestamp: recv, Tags: map[string]string{"n": "3", "b": "true"}}, ""},
		{"malformed tags ignored", `{"tags":"flow=checkout"}`, Event{Level: "error", Timestamp: recv}, ""},
		{"tag pairs skip bad entries", `{"tags":[["flow","pay"],["x"],[1,2],"y"]}`, Event{Level: "error", Timestamp: recv, Tags: map[string]string{"flow": "pay", "1": "2"}}, ""},
		{"invalid release cleared", `{"release":"a\nb","environment":"none"}`, Event{Level: "error", Timestamp: recv}, ""},
		{"handled exception", `{"exception":{"values":[{"mechanism":{"handled":true}}]}}`, Event{Level: "error", Timestamp: recv}, ""},
		{"unknown level", `{"level":"loud"}`, Event{}, "unknown level"},
		{"bad event_id", `{"event_id":"nope"}`, Event{}, "event_id"},
		{"bad timestamp", `{"timestamp":-5}`, Event{}, "out of range"},
		{"huge timestamp", `{"timestamp":1e300}`, Event{}, "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := "{}\n" + `{"type":"event"}` + "\n" + tt.payload + "\n"
			env, err := ParseEnvelope(strings.NewReader(in), Limits{})
			require.NoError(t, err)
			res := env.DecodeAt(recv)
			if tt.reason != "" {
				require.Empty(t, res.Events)
				require.Len(t, res.Dropped, 1)
				require.Contains(t, res.Dropped[0].Reason, tt.reason)
				return
			}
			require.Empty(t, res.Dropped)
			require.Equal(t, []Event{tt.want}, res.Events)
		})
	}
}

func TestNormalizeUUID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"12c2d058d58442709aa2eca08bf20986", "12c2d058d58442709aa2eca08bf20986", true},
		{"12C2D058-D584-4270-9AA2-ECA08BF20986", "12c2d058d58442709aa2eca08bf20986", true},
		{"12c2d058-d584-4270-9aa2eca08bf20986", "", false},
		{"12c2d058d58442709aa2eca08bf2098g", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := normalizeUUID(tt.in)
		require.Equal(t, tt.ok, ok, tt.in)
		require.Equal(t, tt.want, got, tt.in)
	}
}

// TestDecodeSessionJSONRoundTrip guards the wire names against typos by
// decoding what encoding/json produces from the documented field names.
func TestDecodeSessionJSONRoundTrip(t *testing.T) {
	t.Parallel()
	p, err := json.Marshal(map[string]any{
		"sid": "7c7b6585-f901-4351-bf8d-02711b721929", "did": "d", "seq": 9, "init": false,
		"started": "2024-05-01T11:00:00Z", "timestamp": "2024-05-01T11:01:00Z", "duration": 60.0,
		"status": "exited", "errors": 2, "attrs": map[string]string{"release": "r@1", "environment": "e"},
	})
	require.NoError(t, err)
	res := sessionEnv(t, "{}", string(p)).DecodeAt(mustTime(t, "2024-05-01T12:00:00Z"))
	require.Equal(t, int64(9), res.Sessions[0].Seq)
	require.Equal(t, int64(2), res.Sessions[0].Errors)
	require.Equal(t, "d", res.Sessions[0].DID)
	require.Equal(t, "e", res.Sessions[0].Environment)
	require.InDelta(t, 60.0, *res.Sessions[0].Duration, 0)
}
