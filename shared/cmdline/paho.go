package cmdline

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// RoutePahoLogs sends what the paho MQTT client reports to log, with
// component=paho: its critical messages as errors, its errors as warnings
// (most are a connection that failed or was lost, which the programs log
// themselves as well), its warnings as debug (with a clean session it
// warns "memorystore wiped" at every connection). Its debug trace stays
// off.
// Without this paho writes nothing, and the states it reports only there
// (a lost connection found in an unexpected status, a store that was not
// open) are invisible.
//
// paho keeps its loggers in package variables: a program's main calls this
// once, before any client starts, and no library does.
func RoutePahoLogs(log *slog.Logger) {
	log = log.With("component", "paho")
	mqtt.CRITICAL = pahoLogger{log, slog.LevelError}
	mqtt.ERROR = pahoLogger{log, slog.LevelWarn}
	mqtt.WARN = pahoLogger{log, slog.LevelDebug}
}

// pahoLogger is paho's Logger writing one record at a level.
type pahoLogger struct {
	log   *slog.Logger
	level slog.Level
}

func (p pahoLogger) Println(v ...any) { p.write(strings.TrimSuffix(fmt.Sprintln(v...), "\n")) }

func (p pahoLogger) Printf(format string, v ...any) { p.write(fmt.Sprintf(format, v...)) }

// write logs msg with its runs of spaces made one (paho pads its part
// names: "[client]   ").
func (p pahoLogger) write(msg string) {
	p.log.Log(context.Background(), p.level, "paho: "+strings.Join(strings.Fields(msg), " "))
}
