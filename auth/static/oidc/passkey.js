// Passkeys on the hosted sign-in page (docs/oidc.md, "Sign-in with a passkey") and the admin's
// login. With no button showing, the email field offers the browser's passkeys as autofill
// (conditional UI); where there is a button (the second step, the admin), it asks for the
// account's passkey. Either way the browser's assertion goes
// into the form's `passkey` field as JSON and the form is posted. Served from our origin only:
// the page's CSP allows no other script.
"use strict";
(() => {
  const form = document.querySelector("form[data-passkey-options]");
  const webauthn = window.PublicKeyCredential;
  if (!form || !webauthn || !webauthn.parseRequestOptionsFromJSON) return;

  async function signIn(mediation) {
    const field = form.dataset.passkeyEmailField; // the admin's login: the email typed so far
    const email = form.dataset.passkeyEmail || (field && form.elements[field].value.trim());
    const response = await fetch(form.dataset.passkeyOptions, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(email ? { email } : {}),
      credentials: "omit",
    });
    if (!response.ok) return;
    const publicKey = webauthn.parseRequestOptionsFromJSON(await response.json());
    const credential = await navigator.credentials.get(mediation ? { publicKey, mediation } : { publicKey });
    if (!credential) return;
    form.elements.passkey.value = JSON.stringify(credential.toJSON());
    form.submit();
  }

  const button = form.querySelector("[data-passkey-button]");
  if (button) {
    button.hidden = false;
    button.addEventListener("click", () => signIn(null).catch(() => {}));
  } else if (webauthn.isConditionalMediationAvailable) {
    webauthn.isConditionalMediationAvailable().then((ok) => ok && signIn("conditional")).catch(() => {});
  }
})();
