// Buttons marked data-print print the page (an inline onclick would be refused by the page's CSP).
document.querySelectorAll("[data-print]").forEach((button) => {
  button.addEventListener("click", () => window.print());
});
