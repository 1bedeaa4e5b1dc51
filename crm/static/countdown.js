// A live countdown until a form may be sent again (no inline script: the pages' CSP allows
// this site's files only). The server gives the seconds in data-countdown and still enforces
// the limit; meanwhile the form's buttons are disabled and the time left is shown.
document.querySelectorAll("[data-countdown]").forEach((box) => {
  const end = Date.now() + (Number.parseInt(box.dataset.countdown, 10) || 0) * 1000;
  const buttons = box.querySelectorAll("button");
  const text = box.querySelector("[data-countdown-text]");
  const left = box.querySelector("[data-countdown-left]");
  const show = () => {
    const seconds = Math.max(0, Math.ceil((end - Date.now()) / 1000));
    buttons.forEach((button) => {
      button.disabled = seconds > 0;
    });
    if (text) text.hidden = seconds === 0;
    if (left) left.textContent = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
    return seconds;
  };
  if (show() > 0) {
    const timer = setInterval(() => {
      if (show() === 0) clearInterval(timer);
    }, 1000);
  }
});
