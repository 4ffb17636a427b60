// Measures every slide of the reveal.js deck open in the page, as a projector shows it (1280 x 720): code lines
// cut off (wider than their block, which neither scrolls nor wraps), figures that start below the first screen
// of their slide, slides taller than two screens, and MathJax's errors. Returns {summary, slides, worst}.
const SCREEN = 720;
const slides = [];
Reveal.getSlides().forEach((section, i) => {
  const where = Reveal.getIndices(section);
  Reveal.slide(where.h, where.v);
  const top = section.getBoundingClientRect().top, scale = Reveal.getScale();
  let lines = 0, clipped = 0;
  section.querySelectorAll(".jp-InputArea pre, .highlight pre, .jp-OutputArea-output pre").forEach(pre => {
    const text = pre.innerText.split("\n");
    lines += text.length;
    let node = pre, scrolls = getComputedStyle(pre).whiteSpace.startsWith("pre-wrap"), visible = Infinity;
    for (; node && node !== section; node = node.parentElement) {
      const overflow = getComputedStyle(node).overflowX;
      if (overflow === "auto" || overflow === "scroll") { scrolls = true; break; }
      if (overflow === "hidden" || overflow === "clip") visible = Math.min(visible, node.getBoundingClientRect().width);
    }
    if (scrolls) return;
    const probe = document.createElement("span");
    probe.textContent = "x".repeat(100);
    probe.style.whiteSpace = "pre";
    pre.appendChild(probe);
    const charWidth = probe.getBoundingClientRect().width / 100;
    probe.remove();
    visible = Math.min(visible, pre.getBoundingClientRect().width);
    clipped += text.filter(line => line.length * charWidth > visible + 1).length;
  });
  let below = 0;
  section.querySelectorAll(".jp-OutputArea-output img, .jp-OutputArea-output svg").forEach(figure => {
    if ((figure.getBoundingClientRect().top - top) / scale > SCREEN) below += 1;
  });
  slides.push({index: i, h: where.h, v: where.v, lines: lines, clipped: clipped, below: below,
               height: section.scrollHeight});
});
// MathJax's error marks, and its "Math Processing Error" text on every slide, hidden ones included (innerText
// would skip the slides not on screen); the text of scripts and styles is not the page's
const texts = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {acceptNode: node =>
  node.parentElement.closest("script, style") ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
let processingErrors = 0;
while (texts.nextNode()) processingErrors += (texts.currentNode.nodeValue.match(/Math Processing Error/g) || []).length;
const errors = document.querySelectorAll(".MathJax_Error, .merror").length + processingErrors;
const html = window.MathJax && MathJax.OutputJax && MathJax.OutputJax["HTML-CSS"];
const worst = slides.reduce((a, b) => (b.height > a.height ? b : a), slides[0]);
return {
  summary: {
    slides: slides.length, code_lines: slides.reduce((a, s) => a + s.lines, 0),
    clipped_lines: slides.reduce((a, s) => a + s.clipped, 0), figures_below: slides.reduce((a, s) => a + s.below, 0),
    taller_than_two_screens: slides.filter(s => s.height > 2 * SCREEN).length, tallest: worst.height,
    math_errors: errors, math_font: html ? html.fontInUse || null : null,
  },
  slides: slides, worst: worst,
};
