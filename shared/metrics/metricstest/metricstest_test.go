package metricstest

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRunFindsProblems: promtool's lint and parse errors come back.
func TestRunFindsProblems(t *testing.T) {
	promtool := Promtool(t)
	require.NoError(t, Run(promtool, []byte("# HELP a_total A.\n# TYPE a_total counter\na_total 1\n")))
	require.ErrorContains(t, Run(promtool, []byte("# HELP foo Foo.\n# TYPE foo counter\nfoo 1\n")), `should have "_total" suffix`)
	require.ErrorContains(t, Run(promtool, []byte("foo{a=\"1\" 1\n")), "parsing error")
}
