// The dashboard's figures refresh themselves every 5 s (htmx): the new block keeps the order the
// person chose for the table of child units and the open state of the "more" lists.
let kept = null;

document.addEventListener("htmx:beforeSwap", (event) => {
  const block = event.detail.target;
  if (block.id !== "figures") return;
  const th = block.querySelector("table.children th[aria-sort]");
  kept = {
    column: th ? Array.from(th.parentNode.children).indexOf(th) : -1,
    descending: th ? th.getAttribute("aria-sort") === "descending" : false,
    open: Array.from(block.querySelectorAll("details")).map((d) => d.open),
  };
});

document.addEventListener("htmx:afterSwap", (event) => {
  const block = event.detail.target;
  if (block.id !== "figures" || !kept) return;
  block.querySelectorAll("details").forEach((d, i) => { d.open = Boolean(kept.open[i]); });
  const th = block.querySelectorAll("table.children thead th")[kept.column];
  const button = th && th.querySelector("button.sort");
  if (button) {
    sortTable(button);  // app.js: ascending first
    if (kept.descending) sortTable(button);
  }
});
