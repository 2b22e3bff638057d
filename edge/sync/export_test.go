package sync

// StrandClient disconnects the door's current paho client behind the
// sync's back: paho's status becomes disconnected, it does not reconnect
// and calls no handler of the door's. It is the state a door of the fleet
// run (door-04398) was found in, reached here by the one deterministic way
// paho offers (see watch).
func (s *Sync) StrandClient() {
	s.clientMu.Lock()
	c := s.client
	s.clientMu.Unlock()
	c.Disconnect(0)
}
