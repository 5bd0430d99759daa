/* The printable report: a Print button (hidden without JavaScript; the page says
   how to print from the browser). Loaded as a file: the CSP allows no inline script. */
(function () {
  "use strict";
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      window.print();
    });
  });
})();
