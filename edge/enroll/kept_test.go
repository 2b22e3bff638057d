package enroll_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/smartworkcenters/swc/edge/enroll"
	"github.com/smartworkcenters/swc/edge/sync"
)

// TestEveryMQTTKeyIsKeptOrSet: each [mqtt] key the door reads
// (sync.Config) is either set by provisioning (the connection, the
// identity) or kept from the existing configuration (tuning): a key added
// to the door without a decision here would be dropped at every
// re-provisioning.
func TestEveryMQTTKeyIsKeptOrSet(t *testing.T) {
	set := []string{"broker", "ca_file", "cert_file", "key_file", "topic_prefix", "username", "password", "password_file"}
	typ := reflect.TypeFor[sync.Config]()
	for i := range typ.NumField() {
		key, _, _ := strings.Cut(typ.Field(i).Tag.Get("toml"), ",")
		if key == "" || key == "-" {
			continue
		}
		assert.True(t, slices.Contains(set, key) != slices.Contains(enroll.MQTTKept, key),
			"[mqtt] %s: set by provisioning or kept from the old file, exactly one", key)
	}
}
