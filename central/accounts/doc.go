// Package accounts holds who may sign in: members (e-mail codes,
// passkeys) and staff (passwords, second factors).
//
// Members sign in without passwords (issue 15). Members (member.go) is
// the whole of it; the web layer's /my/signin pages drive it and start a
// session of kind store.SubjectMember once a member is proven:
//
//	m, _ := accounts.NewMembers(accounts.MemberConfig{Store: st, Mail: outbox, PublicURL: "https://swc.example.org"})
//	nonce, err := m.RequestCode(ctx, email, clientIP, "fr")  // set nonce as the browser's pending sign-in cookie
//	member, err := m.VerifyCode(ctx, nonce, code, clientIP)  // then w.StartSession(..., store.SubjectMember, member.ID)
//
//	opts, ceremony, err := m.BeginPasskeyLogin(ctx, clientIP)  // opts to navigator.credentials.get
//	member, err := m.FinishPasskeyLogin(ctx, ceremony, body, clientIP)
//	opts, ceremony, err := m.BeginPasskeyRegistration(ctx, member) // a signed-in member adds a passkey
//	pk, err := m.FinishPasskeyRegistration(ctx, member, ceremony, body, "Phone")
//
// E-mail codes (code.go): six digits, 10 minutes, single use, bound to the
// address and to the browser that asked (a nonce in a cookie; the store
// keeps only hashes), five wrong tries kill a code. An address that no
// active member has gets the same answer and a pending sign-in that no code
// can open, and no mail: nobody learns who is a member. Code requests are
// limited per address and per client address, wrong codes per address,
// failed sign-ins (codes and passkeys) per client — successful ones are not
// counted, since a center's members share its address — all counted in the
// store so that the limits hold across replicas (ErrRateLimited; Limits).
//
// Passkeys (passkey.go): WebAuthn through github.com/go-webauthn/webauthn,
// discoverable credentials (sign-in without typing an address), the
// relying party's ID and origin from the central's public URL. A ceremony's
// state waits in the store (store.MemberAuthStore.PutCeremony) for five
// minutes, so that its two halves may reach different replicas. A sign-in
// whose signature counter did not move forward is refused (the
// authenticator may have been cloned) and the credential marked.
//
// Staff accounts
// (issue 16; files staff*.go, password*.go, totp*.go, invite*.go) sign in to
// the staff console with an e-mail address, a password (argon2id, NIST SP
// 800-63B rules) and a TOTP code, are invited by e-mail and reset their
// password by e-mail; members' sign-in is in the member*.go files.
//
// Staff use:
//
//	svc, err := accounts.NewService(accounts.Config{Store: st, Mail: outbox, BaseURL: "https://central.example"})
//	acct, link, err := svc.Invite(ctx, caller, accounts.Invitation{Email: "ann@example.org", Name: "Ann", Role: store.RoleManager, Centers: []string{"c1"}})
//	// the invitee opens link (/invite/SECRET): OpenInvitation, TOTPQR, AcceptInvitation
//	ticket, err := svc.SignIn(ctx, email, password, clientIP)   // step 1
//	acct, err := svc.SecondFactor(ctx, ticket, code, clientIP)  // step 2: TOTP or recovery code
//	tk := accounts.Principal(acct)                              // for central/api's authorization helpers
//	ctx = audit.WithActor(ctx, accounts.Actor(acct))            // changes are the person's
//
// Every failed step counts against the account and the client address in
// the store (every replica sees the same counts); past the limits sign-in
// answers ErrRateLimited (as members' sign-in does) until the window has
// passed.
package accounts
