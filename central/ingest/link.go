package ingest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Message is a message a Link delivers. Ack tells the broker it is handled
// (the PUBACK of a QoS 1 delivery; a no-op where there is none). paho's
// messages are Messages.
type Message interface {
	Topic() string
	Payload() []byte
	Ack()
}

// Handler handles one message. It may wait (for room in the ingest's queue)
// until ctx ends: the link bounds how long a handler may hold what delivers
// its messages.
type Handler func(ctx context.Context, m Message)

// Result is the outcome of an asynchronous publish or subscription: Done is
// closed when it completes, then Error says whether it failed. paho's tokens
// are Results.
type Result interface {
	Done() <-chan struct{}
	Error() error
}

// Link is the ingest's connection to the broker: subscriptions with a
// handler, kept across reconnections until Unsubscribe, and QoS 1
// publishes. Two implementations: PahoLink (an external broker, or any
// broker over the network) and InlineLink (the embedded broker, in process).
type Link interface {
	// Connect connects and returns once connected (or when ctx ends, the
	// link then connecting in the background); onConnect is called on every
	// connection, after the subscriptions are renewed.
	Connect(ctx context.Context, onConnect func()) error
	// Close removes the subscriptions, ends the handlers' contexts and
	// disconnects.
	Close()
	// Connected reports whether messages can be published now.
	Connected() bool
	Subscribe(filter string, h Handler) Result
	Unsubscribe(filter string)
	// Publish sends payload on topic at QoS 1, not retained; the Result
	// completes when the broker took the message.
	Publish(topic string, payload []byte) Result
}

// PahoConfig configures a PahoLink.
type PahoConfig struct {
	Broker   string      // tcp://host:port, mqtt://, ssl:// or mqtts://
	Username string      //
	Password string      //
	TLS      *tls.Config // for ssl:// and mqtts://
	ClientID string      // prefix of the two client ids (-sub, -pub)
	Logger   *slog.Logger
}

// PahoLink is a Link over two paho connections: one subscribes and never
// publishes, the other publishes. A door that stops reading can hold up a
// QoS 1 publisher's connection in some brokers (mochi: until the door's
// keepalive expires); the separate connection keeps that from ever stopping
// the intake. Messages are handled each on a goroutine of its own and acked
// when the handler says so (Message.Ack): a handler that waits holds the
// PUBACK back, so the broker sends no more than its in-flight window.
type PahoLink struct {
	cfg      PahoConfig
	sub, pub mqtt.Client
	ctx      context.Context
	cancel   context.CancelFunc

	mu        sync.Mutex
	subs      map[string]Handler
	onConnect func()
}

// NewPahoLink prepares a link; Connect connects it.
func NewPahoLink(cfg PahoConfig) *PahoLink {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	l := &PahoLink{cfg: cfg, subs: map[string]Handler{}}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	l.sub = mqtt.NewClient(l.options(cfg.ClientID + "-sub").
		SetOnConnectHandler(l.connected).
		// A message on no route (cannot happen with our filters) is still acked.
		SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) { m.Ack() }))
	l.pub = mqtt.NewClient(l.options(cfg.ClientID + "-pub"))
	return l
}

func (l *PahoLink) options(clientID string) *mqtt.ClientOptions {
	opts := mqtt.NewClientOptions().
		AddBroker(l.cfg.Broker).
		SetClientID(clientID).
		SetUsername(l.cfg.Username).
		SetPassword(l.cfg.Password).
		SetCleanSession(true).
		SetOrderMatters(false).
		SetAutoAckDisabled(true).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).
		SetMaxReconnectInterval(10 * time.Second).
		SetKeepAlive(30 * time.Second).
		SetWriteTimeout(15 * time.Second).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			l.cfg.Logger.Warn("lost broker connection; reconnecting", "broker", l.cfg.Broker, "client_id", clientID, "err", err)
		})
	if l.cfg.TLS != nil {
		opts.SetTLSConfig(l.cfg.TLS)
	}
	return opts
}

// connected renews the subscriptions of a new connection (clean session).
func (l *PahoLink) connected(c mqtt.Client) {
	l.mu.Lock()
	subs := make(map[string]Handler, len(l.subs))
	for f, h := range l.subs {
		subs[f] = h
	}
	on := l.onConnect
	l.mu.Unlock()
	for f, h := range subs {
		l.subscribe(c, f, h)
	}
	if on != nil {
		on()
	}
}

func (l *PahoLink) subscribe(c mqtt.Client, filter string, h Handler) mqtt.Token {
	tok := c.Subscribe(filter, 1, func(_ mqtt.Client, m mqtt.Message) { h(l.ctx, m) })
	go func() {
		if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			l.cfg.Logger.Error("subscribe failed", "filter", filter, "err", tok.Error())
		}
	}()
	return tok
}

// Connect connects both clients (retrying in the background).
func (l *PahoLink) Connect(ctx context.Context, onConnect func()) error {
	l.mu.Lock()
	l.onConnect = onConnect
	l.mu.Unlock()
	for _, c := range []mqtt.Client{l.pub, l.sub} {
		tok := c.Connect()
		select {
		case <-tok.Done():
			if err := tok.Error(); err != nil {
				l.sub.Disconnect(0)
				l.pub.Disconnect(0)
				return fmt.Errorf("connect %s: %w", l.cfg.Broker, err)
			}
		case <-ctx.Done():
		}
	}
	return nil
}

// Close disconnects the subscriber, then the publisher.
func (l *PahoLink) Close() {
	l.cancel()
	l.sub.Disconnect(250)
	l.pub.Disconnect(250)
}

// Connected reports whether both connections are up.
func (l *PahoLink) Connected() bool { return l.sub.IsConnectionOpen() && l.pub.IsConnectionOpen() }

// Subscribe subscribes now when connected, and on every connection.
func (l *PahoLink) Subscribe(filter string, h Handler) Result {
	l.mu.Lock()
	l.subs[filter] = h
	l.mu.Unlock()
	if !l.sub.IsConnectionOpen() {
		return done(nil) // subscribed when it connects
	}
	return l.subscribe(l.sub, filter, h)
}

// Unsubscribe forgets the filter.
func (l *PahoLink) Unsubscribe(filter string) {
	l.mu.Lock()
	delete(l.subs, filter)
	l.mu.Unlock()
	if l.sub.IsConnectionOpen() {
		l.sub.Unsubscribe(filter)
	}
}

// Publish publishes over the publishing connection.
func (l *PahoLink) Publish(topic string, payload []byte) Result {
	return l.pub.Publish(topic, 1, false, payload)
}

// InlineBroker is an embedded mochi broker's in-process client: mochi's
// Server (Options.InlineClient) and central/broker.Broker are InlineBrokers.
type InlineBroker interface {
	Subscribe(filter string, subscriptionID int, handler mochi.InlineSubFn) error
	Unsubscribe(filter string, subscriptionID int) error
	Publish(topic string, payload []byte, retain bool, qos byte) error
}

// Defaults of InlineLink.
const (
	// DefaultInlineWait bounds how long a handler may hold the read loop of
	// the door whose message it handles: below the doors' keepalive (30 s)
	// plus ping timeout (10 s), so a door held back is not disconnected.
	DefaultInlineWait = 15 * time.Second
	// DefaultInlineLane is how many publishes may wait for one topic.
	DefaultInlineLane = 1024
)

// ErrLaneFull is the error of an inline publish to a topic that already has
// DefaultInlineLane publishes waiting (its door stopped reading).
var ErrLaneFull = errors.New("ingest: too many publishes waiting for this topic")

// InlineLink is a Link to the embedded broker through mochi's inline client:
// no network, and no write queue of the broker's (mochi allocates one of
// fixed capacity per client, which overflows for a single subscriber of
// every door's events after a restart).
//
// Subscriptions: mochi calls the handler on the goroutine that reads the
// publishing door's connection, after it sent the door its PUBACK, one
// message at a time in the order the door sent them. A handler that waits
// slows that door alone (its next packets are not read; TCP holds it back)
// and never the other doors, and its wait is bounded by Wait: a handler's
// context ends after it (and when the link closes), so that a door is not
// held until its keepalive gives up on the connection. Every message
// arrived through the broker's own checks: a door's publish passed the
// door topic ACL before it reaches any subscriber, inline or not.
//
// Publishes: mochi routes an inline publish on the caller's goroutine, and
// a QoS 1 delivery to a door that stopped reading waits for the door's lock
// (until its keepalive deadline closes it). Publishes therefore run on one
// goroutine per topic with messages waiting (in order, at most Lane
// waiting), so that a stuck door holds its own publishes only.
type InlineLink struct {
	srv  InlineBroker
	wait time.Duration
	lane int

	ctx    context.Context
	cancel context.CancelFunc
	open   atomic.Bool

	mu     sync.Mutex
	subs   map[string]int // filter: subscription id
	nextID int
	lanes  map[string][]inlinePub // topic: publishes waiting (the first being sent)
}

type inlinePub struct {
	payload []byte
	res     *result
}

// NewInlineLink returns a link over srv; wait and lane are Wait and Lane (0:
// DefaultInlineWait, DefaultInlineLane).
func NewInlineLink(srv InlineBroker, wait time.Duration, lane int) *InlineLink {
	if wait <= 0 {
		wait = DefaultInlineWait
	}
	if lane <= 0 {
		lane = DefaultInlineLane
	}
	l := &InlineLink{srv: srv, wait: wait, lane: lane, subs: map[string]int{}, lanes: map[string][]inlinePub{}}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	return l
}

// Connect marks the link connected and calls onConnect: the broker is in
// the process.
func (l *InlineLink) Connect(_ context.Context, onConnect func()) error {
	if l.ctx.Err() != nil {
		return errors.New("ingest: inline link closed")
	}
	l.open.Store(true)
	if onConnect != nil {
		onConnect()
	}
	return nil
}

// Close removes the subscriptions and ends the handlers' waits.
func (l *InlineLink) Close() {
	l.open.Store(false)
	l.cancel()
	l.mu.Lock()
	subs := l.subs
	l.subs = map[string]int{}
	l.mu.Unlock()
	for f, id := range subs {
		_ = l.srv.Unsubscribe(f, id)
	}
}

// Connected reports whether the link is connected and not closed, and the
// broker serving when it says (central/broker.Broker.Serving).
func (l *InlineLink) Connected() bool {
	if s, ok := l.srv.(interface{ Serving() bool }); ok && !s.Serving() {
		return false
	}
	return l.open.Load()
}

// Subscribe subscribes at once (a filter subscribed again replaces its
// handler). Retained messages are handled before it returns. A shared
// subscription ($share/<group>/<filter>) is a plain one: the broker is this
// process's own, there is no other replica to share with (and mochi's
// inline subscriptions take no group).
func (l *InlineLink) Subscribe(filter string, h Handler) Result {
	filter = unshared(filter)
	l.mu.Lock()
	old, had := l.subs[filter]
	l.nextID++
	id := l.nextID
	l.subs[filter] = id
	l.mu.Unlock()
	if had {
		_ = l.srv.Unsubscribe(filter, old)
	}
	err := l.srv.Subscribe(filter, id, func(_ *mochi.Client, _ packets.Subscription, pk packets.Packet) {
		ctx, cancel := context.WithTimeout(l.ctx, l.wait)
		defer cancel()
		h(ctx, inlineMessage{topic: pk.TopicName, payload: pk.Payload})
	})
	if err != nil {
		err = fmt.Errorf("ingest: inline subscribe %s: %w", filter, err)
	}
	return done(err)
}

// Unsubscribe removes the filter's subscription.
func (l *InlineLink) Unsubscribe(filter string) {
	filter = unshared(filter)
	l.mu.Lock()
	id, ok := l.subs[filter]
	delete(l.subs, filter)
	l.mu.Unlock()
	if ok {
		_ = l.srv.Unsubscribe(filter, id)
	}
}

// Unacked is how many QoS 1 messages sent to the client wait for its
// PUBACK in the broker, when the broker says (central/broker.Broker does);
// ok is false otherwise, or when the client is not connected.
func (l *InlineLink) Unacked(clientID string) (n int, ok bool) {
	if u, yes := l.srv.(interface{ Unacked(string) (int, bool) }); yes {
		return u.Unacked(clientID)
	}
	return 0, false
}

// Publish queues the message on its topic's lane.
func (l *InlineLink) Publish(topic string, payload []byte) Result {
	if !l.Connected() {
		return done(ErrNotConnected)
	}
	res := &result{done: make(chan struct{})}
	l.mu.Lock()
	q, busy := l.lanes[topic]
	if len(q) >= l.lane {
		l.mu.Unlock()
		res.complete(ErrLaneFull)
		return res
	}
	l.lanes[topic] = append(q, inlinePub{payload: payload, res: res})
	l.mu.Unlock()
	if !busy {
		go l.drain(topic)
	}
	return res
}

// drain publishes a topic's waiting messages in order, and ends when none
// is left.
func (l *InlineLink) drain(topic string) {
	for {
		l.mu.Lock()
		q := l.lanes[topic]
		if len(q) == 0 {
			delete(l.lanes, topic)
			l.mu.Unlock()
			return
		}
		p := q[0]
		l.mu.Unlock()
		err := l.srv.Publish(topic, p.payload, false, 1)
		if err != nil {
			err = fmt.Errorf("ingest: inline publish %s: %w", topic, err)
		}
		p.res.complete(err)
		l.mu.Lock()
		if q := l.lanes[topic]; len(q) > 0 {
			q[0] = inlinePub{}
			l.lanes[topic] = q[1:]
		}
		l.mu.Unlock()
	}
}

// unshared returns the filter of a shared subscription filter.
func unshared(filter string) string {
	if rest, ok := strings.CutPrefix(filter, "$share/"); ok {
		if _, f, ok := strings.Cut(rest, "/"); ok {
			return f
		}
	}
	return filter
}

type inlineMessage struct {
	topic   string
	payload []byte
}

func (m inlineMessage) Topic() string   { return m.topic }
func (m inlineMessage) Payload() []byte { return m.payload }
func (m inlineMessage) Ack()            {} // mochi acknowledged the door already

// result is a Result completed once.
type result struct {
	done chan struct{}
	err  error
}

func (r *result) complete(err error) {
	r.err = err
	close(r.done)
}

func (r *result) Done() <-chan struct{} { return r.done }
func (r *result) Error() error          { return r.err }

// done returns a completed Result.
func done(err error) Result {
	r := &result{done: make(chan struct{})}
	r.complete(err)
	return r
}
