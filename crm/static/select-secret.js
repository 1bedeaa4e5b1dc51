// The issued API key is selected when its field gets focus, ready to copy (no inline handler:
// the pages' Content-Security-Policy allows scripts from this site's files only).
document.querySelectorAll("input.secret").forEach((field) => {
  field.addEventListener("focus", () => field.select());
});
