// Check-in: filter the list as the organiser types. Without JavaScript the search form does the same on the server.
document.addEventListener("DOMContentLoaded", function () {
  var input = document.querySelector("[data-filter-rows]");
  if (!input) return;
  var rows = document.querySelectorAll(input.getAttribute("data-filter-rows"));
  function fold(text) {
    return text.replace(/ł/g, "l").replace(/Ł/g, "L").normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }
  input.addEventListener("input", function () {
    var needle = fold(input.value.trim());
    rows.forEach(function (row) {
      row.hidden = needle !== "" && fold(row.getAttribute("data-search")).indexOf(needle) === -1;
    });
  });
});
