/* The simulation taking page: display the server's countdown and reload when
   it runs out (the server then submits the attempt); ask before handing in
   early. The server enforces the deadline; this script only displays it.
   Loaded as a file: the Content-Security-Policy allows no inline script. */
(function () {
  "use strict";

  var root = document.getElementById("sim-attempt");
  if (!root) {
    return;
  }
  var display = document.getElementById("sim-countdown");
  var deadline = Date.now() + 1000 * parseInt(root.getAttribute("data-seconds-left"), 10);
  var timer = null;

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  function tick() {
    var left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    var hours = Math.floor(left / 3600);
    var minutes = Math.floor((left % 3600) / 60);
    display.textContent = (hours ? hours + ":" + pad(minutes) : String(minutes)) + ":" + pad(left % 60);
    display.classList.toggle("warn", left <= 300 && left > 60);
    display.classList.toggle("danger", left <= 60);
    if (left === 0) {
      window.clearInterval(timer);
      display.setAttribute("title", root.getAttribute("data-msg-time-up") || "");
      window.setTimeout(function () { window.location.reload(); }, 1500);
    }
  }

  if (display) {
    tick();
    timer = window.setInterval(tick, 1000);
  }

  var finish = root.querySelector("form[data-confirm]");
  if (finish) {
    finish.addEventListener("submit", function (event) {
      if (!window.confirm(finish.getAttribute("data-confirm"))) {
        event.preventDefault();
      }
    });
  }
})();
