package posting

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A binary without a VCS revision (a test binary; a build with
// -buildvcs=false) is named by its executable's hash, the same at every
// start of the same file: a restart of the same build skips the rebuild of
// the open periods.
func TestBuildIDWithoutVCS(t *testing.T) {
	id := buildID()
	assert.True(t, strings.HasPrefix(id, "exe:") || strings.HasPrefix(id, "rev:"), "got %q", id)
	assert.Equal(t, id, buildID(), "stable for the same executable")
}
