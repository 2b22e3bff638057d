package protocol

import (
	"fmt"
	"strings"
)

// DefaultPrefix is the topic prefix when none is configured.
const DefaultPrefix = "swc/v1"

// Topic kinds: the last level of a door topic.
const (
	TopicEvents    = "events"    // door → central: EventBatch, QoS 1
	TopicSync      = "sync"      // door → central: SyncRequest, QoS 1
	TopicStatus    = "status"    // door → central: Status, QoS 1, retained; last will "offline"
	TopicAck       = "ack"       // central → door: Ack, QoS 1
	TopicWhitelist = "whitelist" // central → door: signed Whitelist, QoS 1
	TopicCommands  = "commands"  // central → door: signed Command, QoS 1
	TopicRenew     = "renew"     // door → central: CertRequest, QoS 1
	TopicCert      = "cert"      // central → door: CertReply, QoS 1
)

// upTopics are published by doors, downTopics by the central.
var (
	upTopics   = map[string]bool{TopicEvents: true, TopicSync: true, TopicStatus: true, TopicRenew: true}
	downTopics = map[string]bool{TopicAck: true, TopicWhitelist: true, TopicCommands: true, TopicCert: true}
)

// Topics builds and parses the topic names under one prefix:
//
//	<prefix>/door/<door id>/<kind>
type Topics struct {
	prefix string
}

// NewTopics validates a prefix: one or more levels of identifier characters,
// no wildcards, no leading '$' and no empty level.
func NewTopics(prefix string) (Topics, error) {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	for _, level := range strings.Split(prefix, "/") {
		if err := ValidID(level); err != nil {
			return Topics{}, fmt.Errorf("topic prefix %q: level %q: %w", prefix, level, err)
		}
	}
	return Topics{prefix: prefix}, nil
}

// DefaultTopics returns the topics under DefaultPrefix.
func DefaultTopics() Topics { return Topics{prefix: DefaultPrefix} }

// Prefix returns the prefix.
func (t Topics) Prefix() string { return t.prefix }

// Door returns the topic of the given kind for one door.
func (t Topics) Door(door, kind string) string { return t.prefix + "/door/" + door + "/" + kind }

// All returns the filter matching one kind for every door, such as
// "swc/v1/door/+/events".
func (t Topics) All(kind string) string { return t.prefix + "/door/+/" + kind }

// Shared returns a shared-subscription filter "$share/<group>/<filter>" so that
// several central replicas split the messages; group "" returns filter as is.
func Shared(group, filter string) string {
	if group == "" {
		return filter
	}
	return "$share/" + group + "/" + filter
}

// Parse splits a concrete topic into its door and kind. It rejects topics
// outside the prefix, wildcards and unknown kinds.
func (t Topics) Parse(topic string) (door, kind string, err error) {
	rest, ok := strings.CutPrefix(topic, t.prefix+"/door/")
	if !ok {
		return "", "", fmt.Errorf("topic %q is not under %q", topic, t.prefix+"/door/")
	}
	door, kind, ok = strings.Cut(rest, "/")
	if !ok || strings.Contains(kind, "/") {
		return "", "", fmt.Errorf("topic %q: want %s/door/<door>/<kind>", topic, t.prefix)
	}
	if err := ValidID(door); err != nil {
		return "", "", fmt.Errorf("topic %q: door id: %w", topic, err)
	}
	if !upTopics[kind] && !downTopics[kind] {
		return "", "", fmt.Errorf("topic %q: unknown kind %q", topic, kind)
	}
	return door, kind, nil
}

// DoorMayPublish is the ACL for doors: a door publishes only its own events,
// sync requests, status and certificate renewal requests.
func (t Topics) DoorMayPublish(door, topic string) bool {
	d, kind, err := t.Parse(topic)
	return err == nil && d == door && upTopics[kind]
}

// DoorMaySubscribe is the ACL for doors: a door subscribes only to its own
// acks, whitelist, commands and certificate replies, by exact name (no
// wildcards).
func (t Topics) DoorMaySubscribe(door, filter string) bool {
	d, kind, err := t.Parse(filter)
	return err == nil && d == door && downTopics[kind]
}

// DoorTopics lists the topics a door subscribes to.
func (t Topics) DoorTopics(door string) []string {
	return []string{t.Door(door, TopicAck), t.Door(door, TopicWhitelist), t.Door(door, TopicCommands), t.Door(door, TopicCert)}
}
