package demo

import (
	"sync"
	"time"
)

// Clock is the demo's time: the wall clock plus an offset the story moves
// forward, so a three-day rollout plays in seconds. The server and the fake
// stores share it, so store review times, rollout stages and health
// windows all agree, and API keys are signed and checked on one clock.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
}

// Now is the demo time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves demo time forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}
