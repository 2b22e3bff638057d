package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/smartworkcenters/swc/shared/protocol"
)

// stationCentral is credential.Central over the central's HTTPS API with the
// technician's token: the personalisation keys of one card, and the badge's
// registration as secure.
type stationCentral struct {
	client *http.Client
	base   string // the central's address, without a trailing slash
	token  string
}

// apiError is the central's error body.
type apiError struct {
	Status               int
	Code, Field, Message string
}

func (e *apiError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("HTTP %d", e.Status)
	}
	return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.Code, e.Message)
}

// call sends body as JSON and decodes a 2xx answer into out.
func (c *stationCentral) call(ctx context.Context, method, path string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+"/api/v1"+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	res, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the central: %w", err)
	}
	defer res.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(res.Body, 1<<16))
	if err != nil {
		return fmt.Errorf("reading the central's answer: %w", err)
	}
	if res.StatusCode/100 != 2 {
		e := &apiError{Status: res.StatusCode}
		_ = json.Unmarshal(answer, e)
		return e
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(answer, out); err != nil {
		return fmt.Errorf("the central's answer: %w", err)
	}
	return nil
}

// Keys implements credential.Central.
func (c *stationCentral) Keys(ctx context.Context, uid protocol.UID, card protocol.CardType) (protocol.Personalisation, error) {
	var p protocol.Personalisation
	err := c.call(ctx, http.MethodPost, "/badges/"+url.PathEscape(string(uid))+"/personalisation", map[string]any{"card_type": card}, &p)
	return p, err
}

// Register implements credential.Central: a new badge for member, or, for a
// UID registered already (to any member the technician may see), its new
// card type and key version.
func (c *stationCentral) Register(ctx context.Context, uid protocol.UID, member string, card protocol.CardType, keyVersion uint8) error {
	err := c.call(ctx, http.MethodPost, "/badges", map[string]any{"uid": uid, "member_id": member, "card_type": card, "key_version": keyVersion}, nil)
	if e := (*apiError)(nil); errors.As(err, &e) && e.Code == "duplicate_badge_uid" {
		err = c.call(ctx, http.MethodPut, "/badges/"+url.PathEscape(string(uid))+"/credential", map[string]any{"card_type": card, "key_version": keyVersion}, nil)
	}
	return err
}

// explainStation turns the central's refusals into what a technician does next.
func explainStation(err error, member string) string {
	var e *apiError
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
