// Package sentry is Ripcord's codec for the bytes Sentry SDKs send: the
// envelope format (POST /api/{project_id}/envelope/), the session, sessions
// (aggregate) and event items inside it, the X-Sentry-Auth header, DSNs and
// the `package@version+build` release convention.
//
// Threat model: every byte is untrusted input from the internet. ParseEnvelope
// streams its input and never allocates more than the Limits allow: payloads
// of item types Ripcord does not read (attachments, transactions, client
// reports, replays...) are counted and discarded without being buffered;
// payloads it does read are capped per type before any allocation. Malformed
// input returns a *FormatError (errors.Is ErrFormat, answer 400); input over a
// limit returns a *LimitError (errors.Is ErrTooLarge, answer 413). Nothing
// panics on input. DecodeBody bounds gzip/deflate inflation.
//
// Decoding is per item: (*Envelope).Decode never fails the envelope for one
// bad item; it reports the item in Result.Dropped and keeps the rest, as Relay
// does (relay-server/src/processing/sessions: invalid items are rejected one
// by one, the envelope is kept).
//
// Sources the behaviour follows, read for this package:
//   - develop.sentry.dev "Envelopes" (getsentry/sentry-docs
//     develop-docs/sdk/data-model/envelopes.mdx): grammar, length rules,
//     size limits.
//   - develop.sentry.dev "Sessions" (develop-docs/sdk/telemetry/sessions):
//     session and sessions payloads, init/seq, errored semantics.
//   - getsentry/relay: relay-event-schema/src/protocol/session.rs (statuses,
//     defaults), relay-server/src/utils/sizes.rs (which limit gives 413),
//     relay-config/src/config.rs (limit defaults),
//     relay-server/src/processing/sessions (clock drift, time window).
//   - getsentry/sentry-release-parser src/parser.rs (release grammar).
//   - getsentry/sentry-rust sentry-types/src/auth.rs (X-Sentry-Auth grammar).
package sentry
