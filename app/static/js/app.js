// Small behaviours that the CSP keeps out of the templates.
document.addEventListener("click", function (event) {
  // <button data-copy="#id"> copies the text of the element it names.
  var button = event.target.closest("[data-copy]");
  if (!button) return;
  var source = document.querySelector(button.dataset.copy);
  if (source && navigator.clipboard) {
    navigator.clipboard.writeText(source.textContent.trim());
    button.textContent = "Copied";
  }
});
document.addEventListener("submit", function (event) {
  // <form data-confirm="..."> asks before submitting.
  var form = event.target;
  if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) event.preventDefault();
});
