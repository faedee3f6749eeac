// The few behaviours that are not htmx attributes (no inline scripts: the CSP allows 'self' only).
document.addEventListener("click", (event) => {
  const back = event.target.closest("[data-back]");
  if (back && history.length > 1) { event.preventDefault(); history.back(); }
  const sorter = event.target.closest("button.sort");
  if (sorter) { sortTable(sorter); }
});

// Sort a table by a column, on the client: <th><button class="sort" data-type="num">…</button></th>
function sortTable(button) {
  const th = button.closest("th");
  const table = th.closest("table");
  const index = Array.from(th.parentNode.children).indexOf(th);
  const ascending = th.getAttribute("aria-sort") !== "ascending";
  table.querySelectorAll("th[aria-sort]").forEach((h) => h.removeAttribute("aria-sort"));
  th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  const numeric = button.dataset.type === "num";
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  const key = (row) => {
    const cell = row.cells[index];
    const raw = cell ? (cell.dataset.value ?? cell.textContent.trim()) : "";
    return numeric ? parseFloat(raw) || 0 : raw;
  };
  rows.sort((a, b) => {
    const x = key(a), y = key(b);
    const order = numeric ? x - y : String(x).localeCompare(String(y), "vi");
    return ascending ? order : -order;
  });
  rows.forEach((row) => body.appendChild(row));
}

// Show the size and type limits of a file before it is sent, and refuse a file too large.
document.addEventListener("change", (event) => {
  const input = event.target;
  if (!(input instanceof HTMLInputElement) || input.type !== "file" || !input.dataset.maxBytes) return;
  const max = parseInt(input.dataset.maxBytes, 10);
  const message = document.getElementById(input.id + "-size");
  const tooLarge = Array.from(input.files || []).find((f) => f.size > max);
  input.setCustomValidity(tooLarge ? `Tệp "${tooLarge.name}" vượt quá giới hạn ${Math.round(max / 1048576)} MB` : "");
  if (message) message.textContent = tooLarge ? input.validationMessage : "";
});
