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
package accounts
