// Asset library pages: the copy button, the editor's live preview, and the
// facet panel folded on small screens. No inline script (the CSP forbids it).
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function post(url, data, accept) {
    var body = new FormData();
    Object.keys(data).forEach(function (key) { body.append(key, data[key]); });
    return fetch(url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "Accept": accept },
    });
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "visually-hidden";
      document.body.appendChild(area);
      area.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      document.body.removeChild(area);
      if (ok) { resolve(); } else { reject(new Error("copy failed")); }
    });
  }

  var copyButton = document.querySelector("[data-copy-body]");
  if (copyButton) {
    copyButton.addEventListener("click", function () {
      var source = document.querySelector("[data-copy-source]");
      var status = document.querySelector("[data-copy-status]");
      copyText(source ? source.value : "").then(function () {
        if (status) { status.textContent = copyButton.dataset.copied; }
        return post(copyButton.dataset.copyUrl, { kind: "copy" }, "application/json")
          .then(function (response) { return response.ok ? response.json() : null; })
          .then(function (data) {
            var count = document.querySelector("[data-copy-count]");
            if (data && count && typeof data.copies === "number") {
              count.textContent = data.copies.toLocaleString();
            }
          });
      }).catch(function () {
        if (status) { status.textContent = copyButton.dataset.failed; }
      });
    });
  }

  var preview = document.querySelector("[data-preview]");
  var body = document.getElementById("body");
  if (preview && body) {
    var timer = null;
    var sent = 0;
    body.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var ticket = ++sent;
        post(preview.dataset.previewUrl, { body: body.value }, "text/html")
          .then(function (response) { return response.ok ? response.text() : null; })
          .then(function (html) {
            // The server sanitised this HTML; only the latest answer is shown.
            if (html !== null && ticket === sent) { preview.innerHTML = html; }
          })
          .catch(function () { /* keep the last preview */ });
      }, 400);
    });
  }

  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
    });
  });

  var current = document.querySelector(".subnav [aria-current]");
  if (current && current.parentElement.scrollWidth > current.parentElement.clientWidth) {
    current.parentElement.scrollLeft = current.offsetLeft - 16;
  }

  var panel = document.querySelector(".facet-panel");
  if (panel && window.matchMedia("(max-width: 800px)").matches &&
      !document.querySelector(".active-filters")) {
    panel.removeAttribute("open");
  }
})();
