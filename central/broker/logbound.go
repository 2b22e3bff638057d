package broker

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/smartworkcenters/swc/shared/protocol"
)

// logValueBytes bounds each value in a line of the broker's log.
const logValueBytes = 256

// excerptHandler is the broker's log handler: it cuts every message and
// attribute value to protocol.Excerpt(logValueBytes) before passing the
// record on. The broker logs what clients chose, unauthenticated ones
// included (client ids, user names, will and ACL-denied topics: MQTT strings
// of up to 64 KiB), and mochi logs a packet it refuses with its payload;
// without the cut, each refused attempt would write tens or hundreds of
// kilobytes. It wraps the whole broker's logger, mochi's and the hook's,
// so that no log call needs to remember it.
type excerptHandler struct{ next slog.Handler }

func (h excerptHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h excerptHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, protocol.Excerpt(r.Message, logValueBytes), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(excerptAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h excerptHandler) WithAttrs(as []slog.Attr) slog.Handler {
	cut := make([]slog.Attr, len(as))
	for i, a := range as {
		cut[i] = excerptAttr(a)
	}
	return excerptHandler{h.next.WithAttrs(cut)}
}

func (h excerptHandler) WithGroup(name string) slog.Handler {
	return excerptHandler{h.next.WithGroup(name)}
}

// excerptAttr cuts a's value: a string, a group's members, or the text of
// any other value (such as an error or a packet) when it is too long.
func excerptAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		if s := v.String(); len(s) > logValueBytes {
			return slog.String(a.Key, protocol.Excerpt(s, logValueBytes))
		}
	case slog.KindGroup:
		g := v.Group()
		cut := make([]any, len(g))
		for i, m := range g {
			cut[i] = excerptAttr(m)
		}
		return slog.Group(a.Key, cut...)
	case slog.KindAny:
		if pk, ok := v.Any().(packets.Packet); ok {
			// mochi logs the packets it failed to write or read; printed
			// whole, a snapshot part is hundreds of kilobytes of numbers
			// before the cut.
			return slog.String(a.Key, protocol.Excerpt(fmt.Sprintf("type=%d topic=%q packet_id=%d qos=%d payload_bytes=%d",
				pk.FixedHeader.Type, pk.TopicName, pk.PacketID, pk.FixedHeader.Qos, len(pk.Payload)), logValueBytes))
		}
		if s := fmt.Sprint(v.Any()); len(s) > logValueBytes {
			return slog.String(a.Key, protocol.Excerpt(s, logValueBytes))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
