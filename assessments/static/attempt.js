/* The taking page: autosave every answer through the JSON API, show the server's
   countdown, keep unsaved answers in sessionStorage across reloads, confirm the
   hand-in. The server enforces the deadline; this script only displays it.
   Loaded as a file: the Content-Security-Policy allows no inline script. */
(function () {
  "use strict";

  var root = document.getElementById("attempt");
  var form = document.getElementById("answers-form");
  if (!root || !form) {
    return;
  }
  document.documentElement.classList.add("js");

  var API = root.getAttribute("data-api");
  var ATTEMPT = root.getAttribute("data-attempt");
  var RESULT_URL = root.getAttribute("data-result-url");
  var DEBOUNCE = parseInt(root.getAttribute("data-debounce"), 10) || 800;
  var CSRF = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var MAX_RETRY_MS = 30000;

  function msg(name) {
    return root.getAttribute("data-msg-" + name) || "";
  }

  function storageKey(position) {
    return "pg-attempt-" + ATTEMPT + "-q" + position;
  }

  function store(position, answer) {
    try {
      window.sessionStorage.setItem(storageKey(position), JSON.stringify({ answer: answer }));
    } catch (e) { /* storage full or disabled: the live save still runs */ }
  }

  function stored(position) {
    try {
      var raw = window.sessionStorage.getItem(storageKey(position));
      return raw ? JSON.parse(raw) : null;
    } catch (e) {
      return null;
    }
  }

  function forget(position) {
    try {
      window.sessionStorage.removeItem(storageKey(position));
    } catch (e) { /* ignore */ }
  }

  /* --- reading and writing answers ------------------------------------------ */

  function getAnswer(q) {
    var el = q.el;
    var name = "q" + q.position;
    if (q.type === "single") {
      var chosen = el.querySelector('input[name="' + name + '"]:checked');
      return chosen ? chosen.value : null;
    }
    if (q.type === "multiple") {
      return Array.prototype.map.call(
        el.querySelectorAll('input[name="' + name + '"]:checked'),
        function (input) { return input.value; }
      );
    }
    if (q.type === "true_false") {
      var value = el.querySelector('input[name="' + name + '"]:checked');
      return value ? value.value === "true" : null;
    }
    if (q.type === "numeric") {
      var text = el.querySelector("input[name='" + name + "']").value.trim();
      return text === "" ? null : text;
    }
    if (q.type === "ordering") {
      if (!q.touched) {
        var saved = el.querySelector(".ordering-value").value;
        if (!saved) {
          return null;
        }
      }
      return Array.prototype.map.call(el.querySelectorAll(".ordering li"), function (li) {
        return li.getAttribute("data-id");
      });
    }
    if (q.type === "matching") {
      var pairs = {};
      el.querySelectorAll("select[data-left]").forEach(function (select) {
        if (select.value) {
          pairs[select.getAttribute("data-left")] = select.value;
        }
      });
      return pairs;
    }
    return el.querySelector("textarea").value;
  }

  function setAnswer(q, answer) {
    var el = q.el;
    var name = "q" + q.position;
    if (q.type === "single" || q.type === "multiple" || q.type === "true_false") {
      el.querySelectorAll('input[name="' + name + '"]').forEach(function (input) {
        var value = q.type === "true_false" ? input.value === "true" : input.value;
        input.checked = Array.isArray(answer) ? answer.indexOf(value) >= 0 : answer === value;
      });
    } else if (q.type === "numeric") {
      el.querySelector("input[name='" + name + "']").value = answer === null ? "" : answer;
    } else if (q.type === "ordering") {
      if (Array.isArray(answer)) {
        var list = el.querySelector(".ordering");
        answer.forEach(function (id) {
          var li = list.querySelector('li[data-id="' + id + '"]');
          if (li) {
            list.appendChild(li);
          }
        });
        q.touched = true;
        syncOrdering(q);
      }
    } else if (q.type === "matching") {
      el.querySelectorAll("select[data-left]").forEach(function (select) {
        select.value = (answer && answer[select.getAttribute("data-left")]) || "";
      });
    } else {
      var area = el.querySelector("textarea");
      area.value = answer || "";
      updateCounter(q);
    }
  }

  function isBlank(answer) {
    if (answer === null || answer === undefined || answer === "") {
      return true;
    }
    if (Array.isArray(answer)) {
      return answer.length === 0;
    }
    if (typeof answer === "object") {
      return Object.keys(answer).length === 0;
    }
    if (typeof answer === "string") {
      return answer.trim() === "";
    }
    return false;
  }

  /* --- status and progress ---------------------------------------------------- */

  function setStatus(q, state, text) {
    q.status.setAttribute("data-state", state);
    q.status.textContent = text;
  }

  var counter = document.getElementById("answered-count");
  var progress = document.getElementById("answered-progress");

  function updateProgress() {
    var answered = questions.filter(function (q) { return !isBlank(getAnswer(q)); }).length;
    if (counter) {
      counter.textContent = String(answered);
    }
    if (progress) {
      progress.value = answered;
      progress.textContent = answered + " / " + questions.length;
    }
  }

  function updateCounter(q) {
    var area = q.el.querySelector("textarea");
    var now = q.el.querySelector(".count-now");
    if (area && now) {
      now.textContent = String(area.value.length);
    }
  }

  function syncOrdering(q) {
    var hidden = q.el.querySelector(".ordering-value");
    var items = q.el.querySelectorAll(".ordering li");
    hidden.value = Array.prototype.map.call(items, function (li) {
      return li.getAttribute("data-id");
    }).join(",");
    items.forEach(function (li, index) {
      li.querySelector('[data-move="-1"]').disabled = index === 0;
      li.querySelector('[data-move="1"]').disabled = index === items.length - 1;
    });
  }

  /* --- saving ----------------------------------------------------------------- */

  var finished = false;

  function timeUp() {
    if (finished) {
      return;
    }
    finished = true;
    questions.forEach(function (q) {
      forget(q.position);
      setStatus(q, "closed", msg("time-up"));
    });
    form.querySelectorAll("input, select, textarea, button").forEach(function (el) {
      el.disabled = true;
    });
    window.setTimeout(function () { window.location.assign(RESULT_URL); }, 1500);
  }

  function changed(q) {
    if (finished) {
      return;
    }
    var answer = getAnswer(q);
    store(q.position, answer);
    updateProgress();
    setStatus(q, "saving", msg("saving"));
    window.clearTimeout(q.timer);
    var wait = q.type === "numeric" || q.type === "short_text" || q.type === "long_text"
      ? DEBOUNCE : 0;
    q.timer = window.setTimeout(function () { save(q); }, wait);
  }

  function retry(q, state) {
    setStatus(q, state, msg(state === "offline" ? "offline" : state === "signed-out" ? "signed-out" : "retrying"));
    q.delay = Math.min(MAX_RETRY_MS, q.delay ? q.delay * 2 : 1000);
    window.clearTimeout(q.timer);
    q.timer = window.setTimeout(function () { save(q); }, q.delay);
  }

  function save(q) {
    if (finished) {
      return;
    }
    if (q.inflight) {
      q.dirty = true;
      return;
    }
    var answer = getAnswer(q);
    var sent = JSON.stringify(answer);
    q.inflight = true;
    q.dirty = false;
    window.fetch(API + "/answers/" + q.position, {
      method: "PUT",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-CSRFToken": CSRF
      },
      body: JSON.stringify({ answer: answer })
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        return { status: response.status, body: body };
      });
    }).then(function (reply) {
      q.inflight = false;
      if (reply.status >= 200 && reply.status < 300) {
        q.delay = 0;
        if (typeof reply.body.seconds_left === "number") {
          clock.sync(reply.body.seconds_left);
        }
        if (q.dirty || JSON.stringify(getAnswer(q)) !== sent) {
          save(q);
          return;
        }
        forget(q.position);
        setStatus(q, "saved", msg("saved"));
      } else if (reply.status === 409) {
        timeUp();
      } else if (reply.status === 401 || reply.status === 403) {
        retry(q, "signed-out");
      } else if (reply.status === 400 || reply.status === 422) {
        var error = reply.body.error || {};
        var fields = error.fields || {};
        var first = Object.keys(fields).map(function (k) { return fields[k][0]; })[0];
        forget(q.position);
        setStatus(q, "error", first || error.message || msg("retrying"));
        if (q.dirty) {
          save(q);
        }
      } else {
        retry(q, "retrying");
      }
    }).catch(function () {
      q.inflight = false;
      retry(q, "offline");
    });
  }

  /* --- the countdown ---------------------------------------------------------- */

  var clock = (function () {
    var display = document.getElementById("countdown");
    var deadline = Date.now() + 1000 * parseInt(root.getAttribute("data-seconds-left"), 10);

    function pad(n) {
      return (n < 10 ? "0" : "") + n;
    }

    function tick() {
      var left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      var hours = Math.floor(left / 3600);
      var minutes = Math.floor((left % 3600) / 60);
      var seconds = left % 60;
      display.textContent = (hours ? hours + ":" + pad(minutes) : String(minutes)) + ":" + pad(seconds);
      display.classList.toggle("warn", left <= 300 && left > 60);
      display.classList.toggle("danger", left <= 60);
      if (left === 0) {
        timeUp();
        return;
      }
      window.setTimeout(tick, 250);
    }

    return {
      start: tick,
      sync: function (secondsLeft) {
        deadline = Date.now() + 1000 * secondsLeft;
      }
    };
  })();

  /* --- wiring ----------------------------------------------------------------- */

  var questions = Array.prototype.map.call(form.querySelectorAll(".question"), function (el) {
    return {
      el: el,
      position: el.getAttribute("data-position"),
      type: el.getAttribute("data-type"),
      status: el.querySelector(".save-status"),
      inflight: false,
      dirty: false,
      delay: 0,
      timer: null,
      touched: false
    };
  });

  questions.forEach(function (q) {
    if (q.type === "ordering") {
      syncOrdering(q);
      q.el.querySelectorAll(".move").forEach(function (button) {
        button.addEventListener("click", function () {
          var li = button.closest("li");
          var step = parseInt(button.getAttribute("data-move"), 10);
          var sibling = step < 0 ? li.previousElementSibling : li.nextElementSibling;
          if (!sibling) {
            return;
          }
          li.parentNode.insertBefore(li, step < 0 ? sibling : sibling.nextElementSibling);
          q.touched = true;
          syncOrdering(q);
          var again = li.querySelector('[data-move="' + step + '"]');
          (again && !again.disabled ? again : button).focus();
          changed(q);
        });
      });
    }
    var text = q.type === "numeric" || q.type === "short_text" || q.type === "long_text";
    q.el.addEventListener(text ? "input" : "change", function () {
      updateCounter(q);
      changed(q);
    });
    if (text) {
      /* Save at once when the field is left, instead of waiting for the pause. */
      q.el.addEventListener("change", function () {
        window.clearTimeout(q.timer);
        save(q);
      });
    }
    var kept = stored(q.position);
    if (kept) {
      setAnswer(q, kept.answer);
      setStatus(q, "saving", msg("saving"));
      save(q);
    }
  });
  updateProgress();
  clock.start();

  /* --- handing in ------------------------------------------------------------- */

  var dialog = document.getElementById("submit-dialog");
  var label = document.getElementById("question-label").getAttribute("data-text");
  var itemTemplate = document.getElementById("unanswered-item");

  function handIn() {
    finished = true;
    questions.forEach(function (q) { forget(q.position); });
    var action = document.createElement("input");
    action.type = "hidden";
    action.name = "action";
    action.value = "submit";
    form.appendChild(action);
    form.submit();
  }

  form.addEventListener("submit", function (event) {
    var submitter = event.submitter;
    if (!submitter || submitter.value !== "submit") {
      finished = true; /* the plain "Save answers" post */
      return;
    }
    event.preventDefault();
    var missing = questions.filter(function (q) { return isBlank(getAnswer(q)); });
    var list = dialog.querySelector(".unanswered-list");
    list.textContent = "";
    missing.forEach(function (q) {
      var item = itemTemplate.content.firstElementChild.cloneNode(true);
      var link = item.querySelector("a");
      link.textContent = label.replace("{n}", q.position);
      link.href = "#question-" + q.position;
      link.addEventListener("click", function () { dialog.close(); });
      list.appendChild(item);
    });
    dialog.querySelector(".all-answered").hidden = missing.length > 0;
    dialog.querySelector(".some-unanswered").hidden = missing.length === 0;
    if (typeof dialog.showModal === "function") {
      dialog.showModal();
    } else if (window.confirm(dialog.querySelector("h2").textContent)) {
      handIn();
    }
  });

  dialog.querySelector('[data-dialog="cancel"]').addEventListener("click", function () {
    dialog.close();
  });
  dialog.querySelector('[data-dialog="confirm"]').addEventListener("click", handIn);

  window.addEventListener("beforeunload", function (event) {
    if (finished) {
      return;
    }
    var unsaved = questions.some(function (q) { return q.inflight || stored(q.position); });
    if (unsaved) {
      event.preventDefault();
      event.returnValue = msg("unsaved-leave");
    }
  });
})();
