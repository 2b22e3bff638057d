package credential

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

// HTTPCentral is Central over the central's HTTP API with the technician's
// API token: POST /api/v1/badges/{uid}/personalisation for one card's keys,
// and POST /api/v1/badges (a new badge) or PUT
// /api/v1/badges/{uid}/credential (a registered one) to record it as secure.
type HTTPCentral struct {
	Client *http.Client
	Base   string // the central's address, such as https://central.example.org:8443
	Token  string
}

// APIError is the central's refusal: the HTTP status and its error body.
type APIError struct {
	Status               int
	Code, Field, Message string
}

func (e *APIError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("HTTP %d", e.Status)
	}
	return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.Code, e.Message)
}

// call sends body as JSON and decodes a 2xx answer into out.
func (c *HTTPCentral) call(ctx context.Context, method, path string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.Base, "/")+"/api/v1"+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.Token)
	res, err := c.Client.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the central: %w", err)
	}
	defer res.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(res.Body, 1<<16))
	if err != nil {
		return fmt.Errorf("reading the central's answer: %w", err)
	}
	if res.StatusCode/100 != 2 {
		e := &APIError{Status: res.StatusCode}
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

// Keys implements Central.
func (c *HTTPCentral) Keys(ctx context.Context, uid protocol.UID, card protocol.CardType) (protocol.Personalisation, error) {
	var p protocol.Personalisation
	err := c.call(ctx, http.MethodPost, "/badges/"+url.PathEscape(string(uid))+"/personalisation", map[string]any{"card_type": card}, &p)
	return p, err
}

// Register implements Central: a new badge for member, or, for a
// UID registered already (to any member the technician may see), its new
// card type and key version.
func (c *HTTPCentral) Register(ctx context.Context, uid protocol.UID, member string, card protocol.CardType, keyVersion uint8) error {
	err := c.call(ctx, http.MethodPost, "/badges", map[string]any{"uid": uid, "member_id": member, "card_type": card, "key_version": keyVersion}, nil)
	if e := (*APIError)(nil); errors.As(err, &e) && e.Code == "duplicate_badge_uid" {
		err = c.call(ctx, http.MethodPut, "/badges/"+url.PathEscape(string(uid))+"/credential", map[string]any{"card_type": card, "key_version": keyVersion}, nil)
	}
	return err
}
