package whitelist

import "context"

// CardKeysChanged recomputes every secure badge's entry after the card
// master keys changed (a rotation read by a running central): the cached
// door keys are dropped, and each door that lists a secure badge gets a new
// version whose entries carry the door keys Config.CardKeys gives now (the
// new current version's beside the old one's until its cut-off).
func (c *Compiler) CardKeysChanged(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.doorKeys)
	w := newWork()
	for _, a := range c.audiences {
		for uid, e := range a.entries {
			if b := c.badges[uid]; b != nil && b.card.Secure() && e != nil {
				w.add(a, b.m.id)
			}
		}
	}
	return c.finish(ctx, w)
}
