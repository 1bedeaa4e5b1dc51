// The request form's client as a search with suggestions (no inline script: the pages' CSP
// allows this site's files only). Without JavaScript the page has a search button and a short
// list of the matches; with it, typed text asks data-lookup for the agent's matching clients,
// offers their labels in the datalist, and a label picked fills the hidden client_id.
document.querySelectorAll("[data-client-picker]").forEach((box) => {
  const input = box.querySelector("[data-client-search]");
  const select = box.querySelector("select[name=client_id]");
  const list = document.getElementById(input.getAttribute("list"));
  const hidden = document.createElement("input");
  const known = new Map();
  for (const option of select.options) {
    if (option.value) known.set(option.textContent.trim(), option.value);
  }
  hidden.type = "hidden";
  hidden.name = "client_id";
  hidden.value = select.value;
  if (select.value) input.value = select.selectedOptions[0].textContent.trim();
  input.removeAttribute("form");
  input.removeAttribute("name");
  box.querySelectorAll("[data-no-script]").forEach((element) => element.remove());
  box.append(hidden);

  const pick = () => {
    hidden.value = known.get(input.value.trim()) || "";
  };
  let timer = 0;
  let asked = 0;
  const suggest = async () => {
    const mine = ++asked;
    const url = new URL(box.dataset.lookup, window.location.href);
    url.searchParams.set("q", input.value.trim());
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (!response.ok || mine !== asked) return;
    const { items } = await response.json();
    if (mine !== asked) return;
    list.replaceChildren(
      ...items.map((item) => {
        known.set(item.label, String(item.id));
        const option = document.createElement("option");
        option.value = item.label;
        return option;
      }),
    );
    pick();
  };
  input.addEventListener("input", () => {
    pick();
    clearTimeout(timer);
    timer = setTimeout(suggest, 150);
  });
  input.addEventListener("focus", () => {
    if (!list.children.length) suggest();
  });
});
