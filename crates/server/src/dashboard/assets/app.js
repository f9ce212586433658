// Kenali dashboard: the passkey ceremonies (sign-in, registration, enrollment). Everything else
// is plain forms. Served from this origin only; the Content-Security-Policy forbids inline script.
"use strict";

(function () {
  function toBytes(b64url) {
    const b64 = b64url.replace(/-/g, "+").replace(/_/g, "/");
    const padded = b64 + "===".slice((b64.length + 3) % 4);
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  }

  function toB64url(buffer) {
    let text = "";
    new Uint8Array(buffer).forEach((b) => { text += String.fromCharCode(b); });
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  async function postJson(path, body, csrf) {
    const headers = { "content-type": "application/json" };
    if (csrf) headers["x-csrf-token"] = csrf;
    const response = await fetch(path, {
      method: "POST", headers, body: JSON.stringify(body || {}), credentials: "same-origin",
    });
    const answer = response.status === 204 ? {} : await response.json();
    if (!response.ok) {
      const error = new Error((answer.error && answer.error.message) || response.statusText);
      error.code = answer.error && answer.error.code;
      throw error;
    }
    return answer;
  }

  function creationOptions(options) {
    const key = Object.assign({}, options.publicKey);
    key.challenge = toBytes(key.challenge);
    key.user = Object.assign({}, key.user, { id: toBytes(key.user.id) });
    key.excludeCredentials = (key.excludeCredentials || []).map((c) => Object.assign({}, c, { id: toBytes(c.id) }));
    return { publicKey: key };
  }

  function requestOptions(options) {
    const key = Object.assign({}, options.publicKey);
    key.challenge = toBytes(key.challenge);
    key.allowCredentials = (key.allowCredentials || []).map((c) => Object.assign({}, c, { id: toBytes(c.id) }));
    return { publicKey: key };
  }

  function registrationJson(credential) {
    return {
      id: credential.id,
      rawId: toB64url(credential.rawId),
      type: credential.type,
      response: {
        attestationObject: toB64url(credential.response.attestationObject),
        clientDataJSON: toB64url(credential.response.clientDataJSON),
      },
      extensions: credential.getClientExtensionResults(),
    };
  }

  function assertionJson(credential) {
    const response = credential.response;
    return {
      id: credential.id,
      rawId: toB64url(credential.rawId),
      type: credential.type,
      response: {
        authenticatorData: toB64url(response.authenticatorData),
        clientDataJSON: toB64url(response.clientDataJSON),
        signature: toB64url(response.signature),
        userHandle: response.userHandle ? toB64url(response.userHandle) : null,
      },
      extensions: credential.getClientExtensionResults(),
    };
  }

  function say(statusId, text, failed) {
    const status = document.getElementById(statusId);
    if (!status) return;
    status.textContent = text;
    status.classList.toggle("error", Boolean(failed));
  }

  function supported(button, statusId) {
    if (window.PublicKeyCredential && navigator.credentials) return true;
    say(statusId, button.dataset.unsupported, true);
    return false;
  }

  // Registers a passkey for the session the cookie names.
  async function register(csrf, name) {
    const begun = await postJson("/api/auth/webauthn/register/begin", {}, csrf);
    const credential = await navigator.credentials.create(creationOptions(begun.options));
    return postJson("/api/auth/webauthn/register/finish", {
      ceremonyId: begun.ceremonyId, name: name || "passkey", credential: registrationJson(credential),
    }, csrf);
  }

  function onSignIn(button) {
    button.addEventListener("click", async () => {
      if (!supported(button, "passkey-status")) return;
      button.disabled = true;
      try {
        const email = (document.getElementById("email") || {}).value || "";
        const org = (document.getElementById("org") || {}).value || "";
        const body = {};
        if (email.trim()) body.email = email.trim();
        if (org.trim()) body.org = org.trim();
        const begun = await postJson("/api/auth/webauthn/auth/begin", body);
        const credential = await navigator.credentials.get(requestOptions(begun.options));
        await postJson("/api/auth/webauthn/auth/finish", {
          ceremonyId: begun.ceremonyId, credential: assertionJson(credential),
        });
        window.location.assign("/dashboard/review");
      } catch (error) {
        say("passkey-status", button.dataset.failed, true);
      } finally {
        button.disabled = false;
      }
    });
  }

  function onAdd(button) {
    button.addEventListener("click", async () => {
      if (!supported(button, "passkey-status")) return;
      button.disabled = true;
      try {
        await register(csrfToken(), document.getElementById("passkey-name").value.trim());
        // A first passkey ends enrollment: the person now signs in with it.
        if (button.dataset.enrolling === "true") {
          await postJson("/api/auth/logout", {}, csrfToken());
          window.location.assign("/dashboard/login");
        } else {
          window.location.reload();
        }
      } catch (error) {
        say("passkey-status", button.dataset.failed + " (" + error.message + ")", true);
        button.disabled = false;
      }
    });
  }

  function onEnroll(button) {
    const token = new URLSearchParams(window.location.hash.slice(1)).get("token");
    // The token leaves the address bar (and the history) at once.
    history.replaceState(null, "", window.location.pathname);
    button.addEventListener("click", async () => {
      if (!supported(button, "enroll-status")) return;
      button.disabled = true;
      try {
        const signedIn = await postJson("/api/auth/enroll", { token: token || "" });
        const csrf = signedIn.session.csrfToken;
        await register(csrf, document.getElementById("passkey-name").value.trim());
        await postJson("/api/auth/logout", {}, csrf);
        say("enroll-status", button.dataset.done, false);
      } catch (error) {
        say("enroll-status", button.dataset.failed, true);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const signIn = document.getElementById("passkey-sign-in");
    if (signIn) onSignIn(signIn);
    const add = document.getElementById("passkey-add");
    if (add) onAdd(add);
    const enroll = document.getElementById("enroll-start");
    if (enroll) onEnroll(enroll);
  });
})();
