// The account page: plain JavaScript, no framework, no build step. It talks to authkit's
// own API with fetch. The access token lives in sessionStorage (this tab only) and the
// refresh token in this script's memory; neither ever goes into a URL.
"use strict";

const TOKEN_KEY = "authkit.account.accessToken";
const $ = (id) => document.getElementById(id);
let refreshToken = null;
let mfaToken = null;
let pendingStepUp = null;
let hasPasskeys = false;

// --- small helpers ---------------------------------------------------------------------

function say(text, isError) {
  const status = $("status");
  status.textContent = text || "";
  status.className = isError ? "error" : "";
}

function show(id, visible) {
  $(id).hidden = !visible;
}

function accessToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

class ApiError extends Error {
  constructor(status, body) {
    const message = body && body.message;
    super(Array.isArray(message) ? message.join("; ") : message || "HTTP " + status);
    this.status = status;
    this.body = body || {};
  }
}

async function api(method, path, body, authorized = true) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (authorized && accessToken()) headers["Authorization"] = "Bearer " + accessToken();
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  const text = await response.text();
  const parsed = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}

// A change that needs a recent sign-in answers 401 step_up_required: ask for a proof,
// then run the change again.
async function sensitive(action) {
  try {
    return await action();
  } catch (error) {
    if (error instanceof ApiError && error.body.error === "step_up_required") {
      pendingStepUp = action;
      show("step-up-panel", true);
      show("step-up-passkey", hasPasskeys);
      $("step-up-proof").focus();
      say("Confirm it is you to go on.");
      return undefined;
    }
    throw error;
  }
}

function guarded(handler) {
  return async (event) => {
    if (event) event.preventDefault();
    try {
      await handler(event);
    } catch (error) {
      say(error.message || String(error), true);
    }
  };
}

// --- WebAuthn's JSON <-> ArrayBuffer ---------------------------------------------------

function fromB64url(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const raw = atob(base64 + "===".slice((base64.length + 3) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0)).buffer;
}

function toB64url(buffer) {
  let raw = "";
  for (const byte of new Uint8Array(buffer)) raw += String.fromCharCode(byte);
  return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function creationOptions(json) {
  return {
    ...json,
    challenge: fromB64url(json.challenge),
    user: { ...json.user, id: fromB64url(json.user.id) },
    excludeCredentials: (json.excludeCredentials || []).map((c) => ({ ...c, id: fromB64url(c.id) })),
  };
}

function requestOptions(json) {
  return {
    ...json,
    challenge: fromB64url(json.challenge),
    allowCredentials: (json.allowCredentials || []).map((c) => ({ ...c, id: fromB64url(c.id) })),
  };
}

function credentialJson(credential) {
  const r = credential.response;
  const response = { clientDataJSON: toB64url(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = toB64url(r.attestationObject);
    response.transports = r.getTransports ? r.getTransports() : [];
  } else {
    response.authenticatorData = toB64url(r.authenticatorData);
    response.signature = toB64url(r.signature);
    if (r.userHandle) response.userHandle = toB64url(r.userHandle);
  }
  return {
    id: credential.id,
    rawId: toB64url(credential.rawId),
    type: credential.type,
    response,
    authenticatorAttachment: credential.authenticatorAttachment || undefined,
    clientExtensionResults: credential.getClientExtensionResults(),
  };
}

async function passkeyAnswer(token) {
  const body = token ? { mfa_token: token } : {};
  const { challenge_id, options } = await api("POST", "/auth/passkeys/signin/options", body, false);
  const credential = await navigator.credentials.get({ publicKey: requestOptions(options) });
  const answer = { challenge_id, credential: credentialJson(credential) };
  if (token) answer.mfa_token = token;
  return api("POST", "/auth/passkeys/signin", answer, false);
}

// --- signing in and out ----------------------------------------------------------------

function signedIn(pair) {
  sessionStorage.setItem(TOKEN_KEY, pair.accessToken);
  refreshToken = pair.refreshToken || null;
  mfaToken = null;
  $("signin-password").value = "";
  $("mfa-code").value = "";
  say("");
  return render();
}

async function signInWithPassword() {
  const answer = await api(
    "POST",
    "/auth/signin",
    { username: $("signin-username").value, password: $("signin-password").value },
    false,
  );
  if (answer.mfa_required) {
    mfaToken = answer.mfa_token;
    show("signin-panel", false);
    show("mfa-panel", true);
    show("mfa-passkey", answer.methods.includes("passkey"));
    show("mfa-form", answer.methods.includes("totp") || answer.methods.includes("recovery_code"));
    say("");
    return;
  }
  await signedIn(answer);
}

async function completeWithCode() {
  const code = $("mfa-code").value.trim();
  // Six digits is an authenticator app's code; anything else is a recovery code.
  const proof = /^\d{6}$/.test(code) ? { code } : { recovery_code: code };
  await signedIn(await api("POST", "/auth/mfa/verify", { mfa_token: mfaToken, ...proof }, false));
}

async function signOut() {
  try {
    await api("POST", "/auth/signout", refreshToken ? { refreshToken } : {});
  } catch (error) {
    // Signed out already, or the token expired: forgetting it is all that is left.
  }
  sessionStorage.removeItem(TOKEN_KEY);
  refreshToken = null;
  await render();
  say("Signed out.");
}

async function stepUp() {
  const proof = $("step-up-proof").value.trim();
  const body = /^\d{6}$/.test(proof) ? { code: proof } : { password: proof };
  await steppedUp(await api("POST", "/auth/step-up", body));
}

async function stepUpWithPasskey() {
  const { challenge_id, options } = await api("POST", "/auth/passkeys/step-up/options");
  const credential = await navigator.credentials.get({ publicKey: requestOptions(options) });
  const answer = { challenge_id, credential: credentialJson(credential) };
  await steppedUp(await api("POST", "/auth/passkeys/step-up", answer));
}

async function steppedUp(answer) {
  sessionStorage.setItem(TOKEN_KEY, answer.accessToken);
  $("step-up-proof").value = "";
  show("step-up-panel", false);
  const action = pendingStepUp;
  pendingStepUp = null;
  say("");
  if (action) await sensitive(action);
}

// --- the signed-in page ----------------------------------------------------------------

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "never";
}

function button(label, onClick) {
  const element = document.createElement("button");
  element.type = "button";
  element.textContent = label;
  element.addEventListener("click", guarded(onClick));
  return element;
}

async function renderSessions() {
  const { sessions } = await api("GET", "/auth/sessions");
  const rows = sessions.map((session) => {
    const row = document.createElement("tr");
    for (const text of [session.userAgent || "unknown", when(session.createdAt), when(session.lastUsedAt)]) {
      const cell = document.createElement("td");
      cell.textContent = text;
      row.append(cell);
    }
    const cell = document.createElement("td");
    if (session.current) {
      cell.textContent = "this one";
    } else {
      cell.append(button("End", async () => {
        await api("DELETE", "/auth/sessions/" + encodeURIComponent(session.id));
        await renderSessions();
      }));
    }
    row.append(cell);
    return row;
  });
  $("sessions").replaceChildren(...rows);
}

async function renderPasskeys() {
  let passkeys = [];
  try {
    ({ passkeys } = await api("GET", "/auth/passkeys"));
  } catch (error) {
    if (error.status === 404) return show("passkeys-section", false);
    throw error;
  }
  const items = passkeys.map((key) => {
    const item = document.createElement("li");
    item.dataset.passkeyId = key.id;
    const label = document.createElement("span");
    label.className = "passkey-name";
    label.textContent = key.name + " (last used " + when(key.lastUsedAt) + ")";
    item.append(
      label,
      button("Rename", async () => {
        const name = prompt("New name for this passkey", key.name);
        if (!name) return;
        await api("PATCH", "/auth/passkeys/" + encodeURIComponent(key.id), { name });
        await renderPasskeys();
      }),
      button("Delete", async () => {
        if (!confirm("Delete the passkey " + key.name + "?")) return;
        await sensitive(async () => {
          await api("DELETE", "/auth/passkeys/" + encodeURIComponent(key.id));
          await render();
        });
      }),
    );
    return item;
  });
  $("passkeys").replaceChildren(...items);
  hasPasskeys = passkeys.length > 0;
}

async function addPasskey() {
  await sensitive(async () => {
    const options = await api("POST", "/auth/passkeys/register/options");
    const credential = await navigator.credentials.create({ publicKey: creationOptions(options) });
    await api("POST", "/auth/passkeys/register", {
      credential: credentialJson(credential),
      name: $("passkey-name").value.trim() || "Passkey",
    });
    say("Passkey added.");
    await render();
  });
}

async function renderFactors() {
  let mfa;
  try {
    mfa = await api("GET", "/auth/mfa");
  } catch (error) {
    if (error.status === 404) {
      show("totp-section", false);
      show("recovery-section", false);
      return;
    }
    throw error;
  }
  $("totp-state").textContent = mfa.totp ? "On." : "Off.";
  show("totp-enrol", !mfa.totp && $("totp-enrolment").hidden);
  show("totp-disable-form", mfa.totp);
  const hasFactor = mfa.methods.some((m) => m !== "recovery_code");
  $("recovery-state").textContent = hasFactor
    ? mfa.recovery_codes_left + " left."
    : "They come with a second factor.";
  show("recovery-regenerate", hasFactor);
}

function showRecoveryCodes(codes) {
  $("recovery-codes").replaceChildren(
    ...codes.map((code) => {
      const item = document.createElement("li");
      item.textContent = code;
      return item;
    }),
  );
  show("recovery-shown", true);
}

async function enrolTotp() {
  await sensitive(async () => {
    const enrolment = await api("POST", "/auth/mfa/totp");
    // As an image, never as markup of the page: an SVG in an <img> runs nothing.
    $("totp-qr").src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(enrolment.qr_svg);
    $("totp-secret").textContent = enrolment.secret;
    show("totp-enrolment", true);
    show("totp-enrol", false);
    $("totp-code").focus();
  });
}

async function confirmTotp() {
  const { recovery_codes } = await api("POST", "/auth/mfa/totp/confirm", { code: $("totp-code").value.trim() });
  $("totp-code").value = "";
  show("totp-enrolment", false);
  showRecoveryCodes(recovery_codes);
  say("The authenticator app is on.");
  await renderFactors();
}

async function disableTotp() {
  const code = $("totp-disable-code").value.trim();
  await sensitive(async () => {
    await api("DELETE", "/auth/mfa/totp", { code });
    $("totp-disable-code").value = "";
    show("recovery-shown", false);
    say("The authenticator app is off.");
    await renderFactors();
  });
}

async function regenerateCodes() {
  await sensitive(async () => {
    const { recovery_codes } = await api("POST", "/auth/mfa/recovery-codes");
    showRecoveryCodes(recovery_codes);
    await renderFactors();
  });
}

async function render() {
  const token = accessToken();
  let me = null;
  if (token) {
    try {
      me = await api("GET", "/auth/me");
    } catch (error) {
      sessionStorage.removeItem(TOKEN_KEY);
    }
  }
  show("signin-panel", !me && !mfaToken);
  show("mfa-panel", !me && !!mfaToken);
  show("account-panel", !!me);
  if (!me) return;
  $("who").textContent = me.username;
  await Promise.all([renderSessions(), renderPasskeys(), renderFactors()]);
  document.body.dataset.ready = "true";
}

document.addEventListener("DOMContentLoaded", () => {
  $("signin-form").addEventListener("submit", guarded(signInWithPassword));
  $("signin-passkey").addEventListener("click", guarded(async () => signedIn(await passkeyAnswer(null))));
  $("mfa-form").addEventListener("submit", guarded(completeWithCode));
  $("mfa-passkey").addEventListener("click", guarded(async () => signedIn(await passkeyAnswer(mfaToken))));
  $("mfa-cancel").addEventListener("click", guarded(async () => {
    mfaToken = null;
    await render();
  }));
  $("step-up-form").addEventListener("submit", guarded(stepUp));
  $("step-up-passkey").addEventListener("click", guarded(stepUpWithPasskey));
  $("step-up-cancel").addEventListener("click", () => {
    pendingStepUp = null;
    show("step-up-panel", false);
    say("");
  });
  $("signout").addEventListener("click", guarded(signOut));
  $("passkey-add-form").addEventListener("submit", guarded(addPasskey));
  $("totp-enrol").addEventListener("click", guarded(enrolTotp));
  $("totp-confirm-form").addEventListener("submit", guarded(confirmTotp));
  $("totp-disable-form").addEventListener("submit", guarded(disableTotp));
  $("recovery-regenerate").addEventListener("click", guarded(regenerateCodes));
  guarded(render)();
});
