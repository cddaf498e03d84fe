// The board's drag and drop (HTML5) and its keyboard path (arrow keys on a focused card), posted with htmx.
// The server answers with the whole board: 409 when the card was stale, 422 when the next step is missing;
// both are shown (swapped in) rather than treated as errors.
(function () {
  function move(card, stageId) {
    const values = { stage: stageId, version: card.dataset.version };
    htmx.ajax("POST", card.dataset.moveUrl, { target: "#board", swap: "outerHTML", values: values });
  }
  document.addEventListener("dragstart", function (e) {
    const card = e.target.closest && e.target.closest(".deal-card");
    if (!card) return;
    e.dataTransfer.setData("text/plain", card.dataset.deal);
    e.dataTransfer.effectAllowed = "move";
    card.classList.add("dragging");
  });
  document.addEventListener("dragend", function (e) {
    const card = e.target.closest && e.target.closest(".deal-card");
    if (card) card.classList.remove("dragging");
  });
  document.addEventListener("dragover", function (e) {
    const column = e.target.closest && e.target.closest(".board-column");
    if (!column) return;
    e.preventDefault();
    column.classList.add("drop-here");
  });
  document.addEventListener("dragleave", function (e) {
    const column = e.target.closest && e.target.closest(".board-column");
    if (column && !column.contains(e.relatedTarget)) column.classList.remove("drop-here");
  });
  document.addEventListener("drop", function (e) {
    const column = e.target.closest && e.target.closest(".board-column");
    if (!column) return;
    e.preventDefault();
    column.classList.remove("drop-here");
    const card = document.querySelector('.deal-card[data-deal="' + e.dataTransfer.getData("text/plain") + '"]');
    if (card && card.closest(".board-column") !== column) move(card, column.dataset.stage);
  });
  document.addEventListener("keydown", function (e) {
    const card = e.target.classList && e.target.classList.contains("deal-card") ? e.target : null;
    if (!card || (e.key !== "ArrowRight" && e.key !== "ArrowLeft")) return;
    const columns = Array.from(document.querySelectorAll(".board-column"));
    const next = columns[columns.indexOf(card.closest(".board-column")) + (e.key === "ArrowRight" ? 1 : -1)];
    if (next) { e.preventDefault(); move(card, next.dataset.stage); }
  });
  document.addEventListener("htmx:beforeSwap", function (e) {
    const status = e.detail.xhr.status;
    if ((status === 409 || status === 422) && e.detail.target && e.detail.target.id === "board") {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });
  document.addEventListener("htmx:afterSwap", function (e) {
    const field = e.detail.target && document.querySelector("#board dialog [autofocus]");
    if (field) field.focus();
  });
})();
