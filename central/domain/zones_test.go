package domain_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/domain"
)

func TestZonesLoadOncePerName(t *testing.T) {
	var z domain.Zones
	brussels, err := z.Load("Europe/Brussels")
	require.NoError(t, err)
	again, err := z.Load("Europe/Brussels")
	require.NoError(t, err)
	assert.Same(t, brussels, again, "a zone loaded twice is the same location")
	assert.Equal(t, "Europe/Brussels", brussels.String())

	paris, err := z.Load("Europe/Paris")
	require.NoError(t, err)
	assert.NotSame(t, brussels, paris)
	assert.Equal(t, "Europe/Paris", paris.String())
}

func TestZonesUnknownNameFails(t *testing.T) {
	var z domain.Zones
	for _, name := range []string{"Europe/Nowhere", "../etc/passwd"} {
		t.Run(name, func(t *testing.T) {
			loc, err := z.Load(name)
			require.Error(t, err)
			assert.Nil(t, loc)
			assert.Contains(t, err.Error(), name)
		})
	}
}
