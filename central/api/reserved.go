package api

import (
	"net/http"
	"strings"
)

// DefaultReservedIDs lists the names the central's own parts go by on the
// MQTT side, which no door id may be nor start with (in any letter case):
//
//   - "swc-central": the central's MQTT user (the embedded broker's service
//     account, the user of the shipped Mosquitto ACL, which may do
//     everything) and the prefix of its clients' ids ("swc-central-<host>-…",
//     "swc-central-renew-…", replicas "swc-central-2"); the broker hook
//     treats any client id starting with it as the central's;
//   - "swc-ingest": the default shared-subscription group of the replicas
//     (and "swc-ingest-renew", the renewals' group);
//   - "swc-broker": the subject of the broker's TLS certificate.
//
// A door is an MQTT identity three times over (its user name, its client
// id and its certificate's subject), so a door named like one of these
// would be taken for the central by the broker or the ACL. Only door ids
// feed MQTT identities; centers, members and the rest never reach the
// broker. Config.ReservedIDs adds the names a deployment configures (an
// external broker's user, another share group).
func DefaultReservedIDs() []string { return []string{"swc-central", "swc-ingest", "swc-broker"} }

// reservedID refuses a door id that is, or starts with, a reserved name.
func (s *Server) reservedID(id string) error {
	for _, name := range s.reserved {
		if name != "" && len(id) >= len(name) && strings.EqualFold(id[:len(name)], name) {
			return &Error{Status: http.StatusBadRequest, Code: "reserved_id", Field: "id",
				Message: "door id " + id + " is reserved: ids starting with " + name + " name the central's own MQTT clients; give the door another id"}
		}
	}
	return nil
}
