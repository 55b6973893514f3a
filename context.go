package ripcord

import (
	"context"
	"encoding/json"
	"time"
)

type contextKey int

const (
	actorKey contextKey = iota + 1
	requestIDKey
)

// Actor is who performs an action: the authenticated token, user or local
// operator. Services read it from the context to authorise and to audit.
type Actor struct {
	Name string // "token:ci", "user:ana@example.com", "local:root"
	Role Role
	// TeamRoles are the decisions a person holds (tags on their user);
	// empty for service tokens and local actors.
	TeamRoles []string
}

// HasTeamRole reports whether the actor holds a team role.
func (a Actor) HasTeamRole(r string) bool {
	for _, t := range a.TeamRoles {
		if t == r {
			return true
		}
	}
	return false
}

// NewContextWithActor returns ctx carrying the acting identity.
func NewContextWithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey, a)
}

// ActorFromContext returns the acting identity, or the zero Actor (no rights).
func ActorFromContext(ctx context.Context) Actor {
	a, _ := ctx.Value(actorKey).(Actor)
	return a
}

// NewContextWithRequestID returns ctx carrying the request id that ties logs
// and audit entries to one request.
func NewContextWithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// RequestIDFromContext returns the request id, or "".
func RequestIDFromContext(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// Authorize returns a forbidden error naming the role needed when the
// context's actor lacks it, and unauthorized when there is no actor.
func Authorize(ctx context.Context, need Role) error {
	a := ActorFromContext(ctx)
	if a.Name == "" {
		return Errorf(EUNAUTHORIZED, "authentication required: send a token as Authorization: Bearer <token>")
	}
	if !a.Role.Allows(need) {
		return Errorf(EFORBIDDEN, "this action needs the %s role; %s has %s", need, a.Name, a.Role).
			WithDetails(map[string]any{"required_role": string(need), "role": string(a.Role)})
	}
	return nil
}

// NewAuditEntry builds the audit entry for an action by the context's actor;
// before and after are summarised as JSON (nil for "did not exist").
func NewAuditEntry(ctx context.Context, at time.Time, action, target string, before, after any) *AuditEntry {
	return &AuditEntry{
		At: at.UTC(), Actor: ActorFromContext(ctx).Name, Action: action, Target: target,
		Before: summary(before), After: summary(after), RequestID: RequestIDFromContext(ctx),
	}
}

func summary(v any) string {
	if v == nil {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "unrepresentable: " + err.Error()
	}
	return string(b)
}
