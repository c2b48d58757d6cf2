// Small progressive enhancement; every page works without JavaScript.
// A submitted form's button is disabled so that a double click does not send it twice.
document.addEventListener("submit", function (event) {
  var button = event.target.querySelector("button[type=submit]");
  if (button) { window.setTimeout(function () { button.disabled = true; }, 0); }
});
