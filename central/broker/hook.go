package broker

import (
	"bytes"
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/mochi-mqtt/server/v2/system"

	"github.com/smartworkcenters/swc/shared/metrics"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// Reasons a connection is refused (label values of the refused counter).
const (
	refusedAnonymous     = "anonymous"
	refusedServiceSecret = "service_secret"
	refusedServiceID     = "service_client_id"
	refusedBadDoorID     = "bad_door_id"
	refusedReservedID    = "reserved_door_id"
	refusedClientID      = "client_id"
	refusedWill          = "will_topic"
	refusedDoorSecret    = "door_credentials"
	refusedAuthTimeout   = "auth_timeout"
	refusedNoCert        = "no_certificate"
	refusedCert          = "certificate"
	refusedUsername      = "username_not_identity"
)

// hook authenticates clients and enforces the ACL; see the package
// documentation for the policy.
type hook struct {
	mqtt.HookBase
	cfg *Config
	log *slog.Logger
	// server is the broker the hook serves (set by New): a take-over reads
	// its clients (see OnSessionEstablish).
	server *mqtt.Server

	ctxMu sync.RWMutex
	ctx   context.Context

	refused      *metrics.CounterVec
	denied       *metrics.CounterVec
	oversize     *metrics.Counter
	dropped      *metrics.CounterVec
	takeoverSlow *metrics.Counter
	inflightSeen atomic.Int64
}

func newHook(cfg *Config, log *slog.Logger) *hook {
	r := cfg.Metrics
	h := &hook{
		cfg:      cfg,
		log:      log,
		ctx:      context.Background(),
		refused:  r.CounterVec("swc_broker_connects_refused_total", "MQTT connections refused by the broker's authentication, by reason.", "reason"),
		denied:   r.CounterVec("swc_broker_acl_denied_total", "Publishes and subscriptions refused by the door topic ACL.", "action"),
		oversize: r.Counter("swc_broker_oversize_total", "Connections closed for a packet or payload over the size limit."),
		dropped:  r.CounterVec("swc_broker_dropped_total", "Messages the broker dropped for a subscriber: write queue full, in-flight quota reached, QoS flow expired.", "reason"),
		takeoverSlow: r.Counter("swc_broker_takeover_slow_total",
			"Connections that waited the whole take-over bound for the earlier connection of their client id to end."),
	}
	return h
}

func (h *hook) setContext(ctx context.Context) {
	h.ctxMu.Lock()
	h.ctx = ctx
	h.ctxMu.Unlock()
}

func (h *hook) context() context.Context {
	h.ctxMu.RLock()
	defer h.ctxMu.RUnlock()
	return h.ctx
}

// ID names the hook.
func (h *hook) ID() string { return "swc-door-auth" }

// Provides lists the events the hook handles.
func (h *hook) Provides(b byte) bool {
	return bytes.Contains([]byte{
		mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnSessionEstablish, mqtt.OnACLCheck, mqtt.OnPacketRead,
		mqtt.OnDisconnect, mqtt.OnPublishDropped, mqtt.OnQosDropped, mqtt.OnSysInfoTick,
	}, []byte{b})
}

func (h *hook) isService(cl *mqtt.Client) bool {
	return string(cl.Properties.Username) == h.cfg.ServiceUsername
}

func (h *hook) refuse(cl *mqtt.Client, reason string, attrs ...any) bool {
	h.refused.With(reason).Inc()
	h.log.Warn("broker: connection refused", append([]any{"reason", reason, "client", cl.ID,
		"username", string(cl.Properties.Username), "remote", cl.Net.Remote}, attrs...)...)
	return false
}

// OnConnect ends the connection's connect deadline (its CONNECT is read:
// see listener) and caps the client's keepalive (0 means none) at MaxKeepAlive. mochi
// closes a connection that has sent nothing for 1.5 keepalives, and that
// deadline is also what frees a publisher held by a subscriber that stopped
// reading (see the package documentation).
func (h *hook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	connectDone(cl.Net.Conn)
	limit := uint16(h.cfg.MaxKeepAlive / time.Second)
	if pk.Connect.Keepalive == 0 || pk.Connect.Keepalive > limit {
		cl.State.Keepalive = limit
		cl.State.ServerKeepalive = true
	}
	return nil
}

// takeoverWait bounds how long a connection waits for the earlier
// connection of its client id to end (see OnSessionEstablish): that
// connection's end is a read that returns once its socket is closed, a will
// handed to the subscribers' queues and two hook calls, milliseconds even on
// a busy broker.
const takeoverWait = 2 * time.Second

// OnSessionEstablish makes a take-over of a client id wait until the earlier
// connection of that id has ended. mochi ends a clean session's connection
// by removing its client id from the broker's clients and its topic filters
// from the topics, by id, after checking that no newer connection took the
// session over; a newer connection that registers between that check and
// the removal (a door reconnecting while the broker still winds its old
// connection down, or a connection closed for a forged publish followed at
// once by the next) gets its SUBACK but is removed with the old one: it
// receives nothing (no whitelist, no command) until it reconnects, while
// its publishes still pass. So a connection whose client id is held by
// another clean session closes that one (as mochi's take-over would, but
// without waiting on its pending writes) and
// waits, up to takeoverWait, until the broker's clients no longer hold it;
// mochi then finds no session to take over.
func (h *hook) OnSessionEstablish(cl *mqtt.Client, _ packets.Packet) {
	old, ok := h.server.Clients.Get(cl.ID)
	if !ok || old == cl || !endsWithConnection(old) {
		return
	}
	if !old.Closed() {
		// Its socket first: a write to a door that stopped reading (a
		// link gone while a snapshot was on its way) holds the
		// connection's lock until the write times out, and
		// DisconnectClient writes under that lock (see
		// disconnectListener). A closed socket fails those writes at once.
		if old.Net.Conn != nil {
			_ = old.Net.Conn.Close()
		}
		_ = h.server.DisconnectClient(old, packets.ErrSessionTakenOver)
	}
	deadline := time.Now().Add(takeoverWait)
	for pause := 100 * time.Microsecond; ; pause = min(2*pause, 20*time.Millisecond) {
		if cur, ok := h.server.Clients.Get(cl.ID); !ok || cur != old {
			return
		}
		if time.Now().After(deadline) {
			h.takeoverSlow.Inc()
			h.log.Warn("broker: the earlier connection of a client id did not end in time; taking its session over",
				"client", cl.ID, "remote", cl.Net.Remote, "earlier_remote", old.Net.Remote, "waited", takeoverWait)
			return
		}
		time.Sleep(pause)
	}
}

// endsWithConnection tells whether mochi ends cl's session with its
// connection (a clean session), which is when it removes cl by client id.
func endsWithConnection(cl *mqtt.Client) bool {
	if cl.Properties.ProtocolVersion == 5 {
		return cl.Properties.Props.SessionExpiryInterval == 0
	}
	return cl.Properties.Clean
}

// OnConnectAuthenticate decides whether a client may connect.
func (h *hook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	if cl.Net.Listener == listenerCert {
		return h.authenticateCert(cl, pk)
	}
	user, secret := string(pk.Connect.Username), pk.Connect.Password
	if !pk.Connect.UsernameFlag || user == "" {
		return h.refuse(cl, refusedAnonymous)
	}
	if user == h.cfg.ServiceUsername {
		if subtle.ConstantTimeCompare(secret, []byte(h.cfg.ServiceSecret)) != 1 {
			return h.refuse(cl, refusedServiceSecret)
		}
		return h.admitService(cl)
	}
	door := user
	if !h.admitDoor(cl, pk, door) {
		return false
	}
	ctx, cancel := context.WithTimeout(h.context(), h.cfg.AuthTimeout)
	defer cancel()
	if err := h.cfg.Doors.AuthenticateDoor(ctx, door, string(secret)); err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return h.refuse(cl, refusedAuthTimeout, "error", err)
		}
		return h.refuse(cl, refusedDoorSecret, "error", err)
	}
	return true
}

// authenticateCert admits a client of the certificate listener: the
// certificate's identity (Config.Certs) becomes its user name.
func (h *hook) authenticateCert(cl *mqtt.Client, pk packets.Packet) bool {
	conn, ok := cl.Net.Conn.(*tls.Conn)
	if !ok {
		return h.refuse(cl, refusedNoCert, "error", "not a TLS connection")
	}
	certs := conn.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return h.refuse(cl, refusedNoCert)
	}
	ctx, cancel := context.WithTimeout(h.context(), h.cfg.AuthTimeout)
	defer cancel()
	name, service, err := h.cfg.Certs.IdentifyClient(ctx, certs[0])
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return h.refuse(cl, refusedAuthTimeout, "error", err, "subject", certs[0].Subject.String())
		}
		return h.refuse(cl, refusedCert, "error", err, "subject", certs[0].Subject.String())
	}
	if pk.Connect.UsernameFlag && len(pk.Connect.Username) > 0 && string(pk.Connect.Username) != name {
		return h.refuse(cl, refusedUsername, "identity", name)
	}
	if service {
		if name != h.cfg.ServiceUsername {
			return h.refuse(cl, refusedCert, "error", "a service certificate for "+name+", not "+h.cfg.ServiceUsername)
		}
		if !h.admitService(cl) {
			return false
		}
	} else if !h.admitDoor(cl, pk, name) {
		return false
	}
	// The ACL reads the identity from the user name.
	cl.Properties.Username = []byte(name)
	return true
}

// admitService checks a service client's id.
func (h *hook) admitService(cl *mqtt.Client) bool {
	if !isServiceClientID(h.cfg.ServiceUsername, cl.ID) {
		return h.refuse(cl, refusedServiceID, "want", h.cfg.ServiceUsername+"…")
	}
	return true
}

// admitDoor checks what a door's connection says about it, whatever proves
// its identity: a valid id outside the service's namespace, the door id as
// client id, a will on its own topics.
func (h *hook) admitDoor(cl *mqtt.Client, pk packets.Packet, door string) bool {
	if err := protocol.ValidID(door); err != nil {
		return h.refuse(cl, refusedBadDoorID, "error", err)
	}
	if isServiceClientID(h.cfg.ServiceUsername, door) || door == mqtt.InlineClientId {
		// mochi's inline client (the central's ingest) is a client of that
		// id: a door of the same id would take its session over.
		return h.refuse(cl, refusedReservedID)
	}
	if cl.ID != door {
		return h.refuse(cl, refusedClientID, "want", door)
	}
	if pk.Connect.WillFlag && !h.cfg.Topics.DoorMayPublish(door, pk.Connect.WillTopic) {
		return h.refuse(cl, refusedWill, "will_topic", pk.Connect.WillTopic)
	}
	return true
}

// OnACLCheck applies the door topic ACL; the service clients may do
// everything. write is a publish, !write a subscription or a delivery.
func (h *hook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if h.isService(cl) {
		return true
	}
	door := string(cl.Properties.Username)
	var ok bool
	action := "subscribe"
	if write {
		action = "publish"
		ok = h.cfg.Topics.DoorMayPublish(door, topic)
	} else {
		ok = h.cfg.Topics.DoorMaySubscribe(door, topic)
	}
	if !ok {
		h.denied.With(action).Inc()
		h.log.Warn("broker: ACL denied", "door", door, "action", action, "topic", topic, "remote", cl.Net.Remote)
	}
	return ok
}

// OnPacketRead refuses a publish whose payload exceeds the protocol's limit:
// mochi turns the rejection into the end of the connection (publishing the
// client's will) before the message is processed.
func (h *hook) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.FixedHeader.Type == packets.Publish && len(pk.Payload) > protocol.MaxMessageSize {
		h.oversize.Inc()
		h.log.Warn("broker: payload over the limit; connection closed", "client", cl.ID, "topic", pk.TopicName,
			"bytes", len(pk.Payload), "limit", protocol.MaxMessageSize)
		return pk, fmt.Errorf("payload of %d bytes over %d: %w", len(pk.Payload), protocol.MaxMessageSize, packets.ErrRejectPacket)
	}
	return pk, nil
}

// OnDisconnect counts packets over MaxPacketSize, refused by mochi before
// they are read.
func (h *hook) OnDisconnect(cl *mqtt.Client, err error, _ bool) {
	if errors.Is(err, packets.ErrPacketTooLarge) {
		h.oversize.Inc()
		h.log.Warn("broker: client disconnected for an oversize packet", "client", cl.ID, "remote", cl.Net.Remote)
	}
}

// OnPublishDropped counts a message dropped because the subscriber's write
// queue is full.
func (h *hook) OnPublishDropped(cl *mqtt.Client, pk packets.Packet) {
	h.dropped.With("write_queue_full").Inc()
	h.log.Warn("broker: subscriber's write queue full; message dropped", "client", cl.ID, "topic", pk.TopicName,
		"qos", pk.FixedHeader.Qos, "max_writes_pending", h.cfg.MaxWritesPending)
}

// OnQosDropped counts a QoS flow given up (expired in flight).
func (h *hook) OnQosDropped(cl *mqtt.Client, pk packets.Packet) {
	h.dropped.With("qos_expired").Inc()
	h.log.Warn("broker: in-flight message dropped", "client", cl.ID, "packet_id", pk.PacketID)
}

// OnSysInfoTick turns mochi's count of messages dropped at the in-flight
// quota into the dropped counter (mochi has no hook for that drop).
func (h *hook) OnSysInfoTick(info *system.Info) {
	now := atomic.LoadInt64(&info.InflightDropped)
	if prev := h.inflightSeen.Swap(now); now > prev {
		h.dropped.With("inflight_full").Add(uint64(now - prev))
	}
}
