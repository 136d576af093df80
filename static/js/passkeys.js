// Passkeys and security keys: hand the page's WebAuthn options to the browser
// (navigator.credentials), then post what the authenticator answered. The options come
// from the form's data-options (JSON, binary values in base64url); words from data-*.
(function () {
  "use strict";

  function fromBase64url(value) {
    var base64 = value.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) { base64 += "="; }
    var text = atob(base64);
    var bytes = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) { bytes[i] = text.charCodeAt(i); }
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var text = "";
    for (var i = 0; i < bytes.length; i++) { text += String.fromCharCode(bytes[i]); }
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (item) {
      var copy = Object.assign({}, item);
      copy.id = fromBase64url(item.id);
      return copy;
    });
  }

  function creationOptions(options) {
    options.challenge = fromBase64url(options.challenge);
    options.user.id = fromBase64url(options.user.id);
    options.excludeCredentials = descriptors(options.excludeCredentials);
    return options;
  }

  function requestOptions(options) {
    options.challenge = fromBase64url(options.challenge);
    options.allowCredentials = descriptors(options.allowCredentials);
    return options;
  }

  function created(credential) {
    var response = credential.response;
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      response: {
        clientDataJSON: toBase64url(response.clientDataJSON),
        attestationObject: toBase64url(response.attestationObject),
        transports: response.getTransports ? response.getTransports() : []
      },
      clientExtensionResults: credential.getClientExtensionResults()
    };
  }

  function asserted(credential) {
    var response = credential.response;
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      response: {
        clientDataJSON: toBase64url(response.clientDataJSON),
        authenticatorData: toBase64url(response.authenticatorData),
        signature: toBase64url(response.signature),
        userHandle: response.userHandle ? toBase64url(response.userHandle) : null
      },
      clientExtensionResults: credential.getClientExtensionResults()
    };
  }

  function say(form, words) {
    var alert = form.querySelector(".passkey-error");
    alert.textContent = words;
    alert.hidden = false;
  }

  function setUp(form) {
    var field = form.querySelector("input[name=credential]");
    var button = form.querySelector("button[type=submit]");
    form.addEventListener("submit", function (event) {
      if (field.value) { return; }  // the answer is in: let the form post it
      event.preventDefault();
      if (!window.PublicKeyCredential || !navigator.credentials) {
        say(form, form.getAttribute("data-unsupported"));
        return;
      }
      var options = JSON.parse(form.getAttribute("data-options"));
      var creating = form.getAttribute("data-passkey") === "create";
      var asked = creating
        ? navigator.credentials.create({ publicKey: creationOptions(options) })
        : navigator.credentials.get({ publicKey: requestOptions(options) });
      button.disabled = true;
      asked.then(function (credential) {
        field.value = JSON.stringify(creating ? created(credential) : asserted(credential));
        form.submit();
      }).catch(function () {
        button.disabled = false;
        say(form, form.getAttribute("data-failed"));
      });
    });
    button.disabled = false;  // ready: the page draws it disabled until now
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-passkey]").forEach(setUp);
  });
})();
