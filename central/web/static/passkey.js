// Passkeys on the booking site (issue 15): sign in with a discoverable
// credential (#passkey-signin) or add one to this device (#passkey-add).
// The server (package accounts, go-webauthn) sends the options as JSON
// with base64url binaries; the browser's answer goes back as a form field
// "credential" holding the PublicKeyCredential as JSON.
"use strict";
(function () {
  function b64uToBuf(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }
  function bufToB64u(buf) {
    const bytes = new Uint8Array(buf);
    let bin = "";
    for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function descriptors(list) {
    return (list || []).map(function (c) { return Object.assign({}, c, { id: b64uToBuf(c.id) }); });
  }
  function credentialJSON(cred) {
    const r = cred.response;
    const out = { id: cred.id, rawId: bufToB64u(cred.rawId), type: cred.type, response: { clientDataJSON: bufToB64u(r.clientDataJSON) } };
    if (cred.authenticatorAttachment) out.authenticatorAttachment = cred.authenticatorAttachment;
    out.clientExtensionResults = cred.getClientExtensionResults ? cred.getClientExtensionResults() : {};
    if (r.attestationObject) {
      out.response.attestationObject = bufToB64u(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    } else {
      out.response.authenticatorData = bufToB64u(r.authenticatorData);
      out.response.signature = bufToB64u(r.signature);
      if (r.userHandle) out.response.userHandle = bufToB64u(r.userHandle);
    }
    return JSON.stringify(out);
  }
  async function post(url, fields) {
    const res = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(fields),
    });
    const body = await res.json().catch(function () { return {}; });
    if (!res.ok) throw new Error(body.error || res.statusText);
    return body;
  }
  function show(problem, msg) {
    problem.textContent = msg;
    problem.hidden = false;
  }
  async function run(button, create) {
    const problem = document.getElementById("passkey-problem");
    problem.hidden = true;
    const d = button.dataset;
    if (!window.PublicKeyCredential || !navigator.credentials) {
      show(problem, d.unsupported);
      return;
    }
    button.disabled = true;
    try {
      const opts = (await post(d.begin, { csrf: d.csrf })).publicKey;
      opts.challenge = b64uToBuf(opts.challenge);
      let cred;
      if (create) {
        opts.user.id = b64uToBuf(opts.user.id);
        opts.excludeCredentials = descriptors(opts.excludeCredentials);
        cred = await navigator.credentials.create({ publicKey: opts });
      } else {
        opts.allowCredentials = descriptors(opts.allowCredentials);
        cred = await navigator.credentials.get({ publicKey: opts });
      }
      const fields = { csrf: d.csrf, credential: credentialJSON(cred), next: d.next || "" };
      if (create) fields.name = (document.getElementById("passkey-name") || {}).value || "";
      const done = await post(d.finish, fields);
      window.location.assign(done.next);
    } catch (e) {
      show(problem, e instanceof DOMException || !e.message ? d.failed : e.message);
      button.disabled = false;
    }
  }
  const signin = document.getElementById("passkey-signin");
  if (signin) signin.addEventListener("click", function () { run(signin, false); });
  const add = document.getElementById("passkey-add");
  if (add) add.addEventListener("click", function () { run(add, true); });
})();
