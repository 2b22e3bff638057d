package main

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/smartworkcenters/swc/edge/credential"
)

// explainStation turns the central's refusals into what a technician does next.
func explainStation(err error, member string) string {
	var e *credential.APIError
	errors.As(err, &e)
	switch {
	case e == nil:
		return err.Error()
	case e.Code == "personalisation_unavailable":
		return "the central holds no card master keys: it cannot personalise secure badges (" + e.Message + ")"
	case e.Code == "unauthorized":
		return "the central does not accept your API token (" + e.Message + ")"
	case e.Code == "forbidden":
		return "your API token may not personalise or register this badge (" + e.Message + "): technicians personalise badges of their centers' members without staff rights"
	case e.Code == "missing_ref":
		return fmt.Sprintf("there is no member %q in your centers in the central service: check the member id (%s)", member, strings.TrimSpace(e.Message))
	case e.Status == http.StatusNotFound:
		return "this badge is registered to a member outside your centers, or not by you: its keys are not yours to write (" + e.Message + ")"
	}
	return err.Error()
}
