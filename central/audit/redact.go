package audit

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Redacted replaces a secret's value in an audit row.
const Redacted = "[redacted]"

// secretKey reports whether a JSON member of this name holds a secret:
// names containing secret, password, passwd, hash, totp, otp_, session,
// credential or private, and token itself ("token", "enrollment_token",
// "reset_token"; but not ids of tokens such as "token_id" or "created_by").
// Keys are compared in lower case.
func secretKey(k string) bool {
	k = strings.ToLower(k)
	for _, s := range []string{"secret", "password", "passwd", "hash", "totp", "otp_", "session", "credential", "private"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return k == "token" || strings.HasSuffix(k, "_token") || strings.HasSuffix(k, "token_secret")
}

// Redact returns v as JSON with the value of every member whose name looks
// like a secret (see secretKey) replaced by Redacted, at any depth. A nil v
// is nil (JSON null in an Entry). Values that are already JSON
// (json.RawMessage, []byte holding JSON) are redacted too.
func Redact(v any) (json.RawMessage, error) {
	if v == nil {
		return nil, nil
	}
	var b []byte
	switch x := v.(type) {
	case json.RawMessage:
		b = x
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			return nil, fmt.Errorf("audit: encode object: %w", err)
		}
	}
	if string(b) == "null" {
		return nil, nil
	}
	var tree any
	if err := json.Unmarshal(b, &tree); err != nil {
		return nil, fmt.Errorf("audit: decode object: %w", err)
	}
	out, err := json.Marshal(redactTree(tree))
	if err != nil {
		return nil, fmt.Errorf("audit: encode object: %w", err)
	}
	return out, nil
}

func redactTree(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if secretKey(k) && val != nil && val != "" {
				x[k] = Redacted
				continue
			}
			x[k] = redactTree(val)
		}
	case []any:
		for i := range x {
			x[i] = redactTree(x[i])
		}
	}
	return v
}
