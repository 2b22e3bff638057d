package api

import (
	"errors"
	"net/http"

	"github.com/smartworkcenters/swc/central/accounts"
	"github.com/smartworkcenters/swc/central/store"
)

// Staff accounts (issue 16): admins manage every account, managers those
// of their center (managers and technicians of it); another center's
// accounts answer 404 as missing ones. Invitations are e-mailed: the link
// is never in an answer.

// AccountError maps an error of package accounts to the API error a
// client is told (the web layer shows the same), or reports that it is not
// one of them.
func AccountError(err error) (*Error, bool) {
	var pe *accounts.PasswordError
	var ae *accounts.Error
	field := ""
	if errors.As(err, &ae) {
		field = ae.Field
	}
	switch {
	case errors.As(err, &pe):
		return &Error{Status: http.StatusBadRequest, Code: "password_" + pe.Code, Field: "password", Message: pe.Error()}, true
	case errors.Is(err, accounts.ErrForbidden):
		return &Error{Status: http.StatusForbidden, Code: "forbidden", Field: field, Message: err.Error()}, true
	case errors.Is(err, accounts.ErrRateLimited):
		return &Error{Status: http.StatusTooManyRequests, Code: "rate_limited", Field: field, Message: err.Error()}, true
	case ae != nil && errors.Is(err, accounts.ErrExpired):
		return &Error{Status: http.StatusGone, Code: "link_expired", Field: field, Message: ae.Message}, true
	case ae != nil && errors.Is(err, accounts.ErrBadCredentials):
		return &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Field: field, Message: ae.Message}, true
	}
	return nil, false
}

func (s *Server) accountsSvc() (*accounts.Service, error) {
	if s.accounts == nil {
		return nil, &Error{Status: http.StatusServiceUnavailable, Code: "accounts_unavailable", Message: "staff accounts are not served here"}
	}
	return s.accounts, nil
}

// accountPath is the accounts service and the path's account id of a
// request about one account.
func (s *Server) accountPath(r *http.Request) (*accounts.Service, string, error) {
	svc, err := s.accountsSvc()
	if err != nil {
		return nil, "", err
	}
	id, err := pathID(r, "id")
	return svc, id, err
}

// accountErr maps account errors, leaving the rest to fail.
func accountErr(err error) error {
	if ae, ok := AccountError(err); ok {
		return ae
	}
	return err
}

func (s *Server) listAccounts(w http.ResponseWriter, r *http.Request, p *principal) error {
	svc, err := s.accountsSvc()
	if err != nil {
		return err
	}
	pr, err := pageAlone(r)
	if err != nil {
		return err
	}
	pg, err := svc.List(r.Context(), p.Token, pr)
	return sendPage(w, pg, accountErr(err))
}

func (s *Server) inviteAccount(w http.ResponseWriter, r *http.Request, p *principal) error {
	svc, err := s.accountsSvc()
	if err != nil {
		return err
	}
	var in accounts.Invitation
	if err := s.decode(w, r, &in); err != nil {
		return err
	}
	a, _, err := svc.Invite(r.Context(), p.Token, in)
	if err != nil {
		return accountErr(err)
	}
	a.PasswordHash, a.TOTPSecret, a.RecoveryHashes = "", "", nil
	return writeJSON(w, http.StatusCreated, a)
}

func (s *Server) getAccount(w http.ResponseWriter, r *http.Request, p *principal) error {
	svc, id, err := s.accountPath(r)
	if err != nil {
		return err
	}
	a, err := svc.Get(r.Context(), p.Token, id)
	if err != nil {
		return accountErr(err)
	}
	return writeJSON(w, http.StatusOK, a)
}

func (s *Server) changeAccount(w http.ResponseWriter, r *http.Request, p *principal) error {
	svc, id, err := s.accountPath(r)
	if err != nil {
		return err
	}
	var ch accounts.Change
	if err := s.decode(w, r, &ch); err != nil {
		return err
	}
	a, err := svc.Update(r.Context(), p.Token, id, ch)
	if err != nil {
		return accountErr(err)
	}
	return writeJSON(w, http.StatusOK, a)
}

// accountRoutes are the staff accounts' endpoints (admins and managers).
func (s *Server) accountRoutes() []route {
	managers := []store.Role{store.RoleAdmin, store.RoleManager}
	return []route{
		{"GET", "/accounts", managers, s.listAccounts},
		{"POST", "/accounts", managers, s.inviteAccount},
		{"GET", "/accounts/{id}", managers, s.getAccount},
		{"PUT", "/accounts/{id}", managers, s.changeAccount},
	}
}
