// A small Markdown renderer (fenced code, inline code, headings, lists, bold, italic, links,
// paragraphs); TeX math ($...$, $$...$$, \(...\), \[...\]) is typeset by the bundled KaTeX.
// Everything is HTML-escaped first, so model output can never inject markup.
(function () {
  function esc(s) {
    return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  }
  function inline(s) {
    const codes = [];
    s = s.replace(/`([^`]+)`/g, (_, c) => { codes.push(c); return "\u0000" + (codes.length - 1) + "\u0000"; });
    s = esc(s);
    s = s.replace(/\$\$([^$]+)\$\$|\\\[(.+?)\\\]/g, (_, a, b) => '<span class="math display">' + (a || b) + "</span>");
    s = s.replace(/\$([^$\n]+)\$|\\\((.+?)\\\)/g, (_, a, b) => '<span class="math">' + (a || b) + "</span>");
    s = s.replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>");
    s = s.replace(/(^|[^*])\*([^*\n]+)\*/g, "$1<em>$2</em>");
    s = s.replace(/\[([^\]]+)\]\((https?:\/\/[^)\s]+)\)/g, '<a href="$2" rel="noopener noreferrer">$1</a>');
    return s.replace(/\u0000(\d+)\u0000/g, (_, i) => "<code>" + esc(codes[+i]) + "</code>");
  }
  function render(src) {
    const out = [];
    const lines = src.replace(/\r\n/g, "\n").split("\n");
    let i = 0, para = [], list = null;
    const flushPara = () => { if (para.length) { out.push("<p>" + inline(para.join("\n")).replace(/\n/g, "<br>") + "</p>"); para = []; } };
    const flushList = () => { if (list) { out.push("<" + list.tag + ">" + list.items.map(x => "<li>" + inline(x) + "</li>").join("") + "</" + list.tag + ">"); list = null; } };
    while (i < lines.length) {
      const line = lines[i];
      const fence = line.match(/^```\s*(\S*)/);
      if (fence) {
        flushPara(); flushList();
        const body = [];
        i++;
        while (i < lines.length && !/^```/.test(lines[i])) body.push(lines[i++]);
        i++;
        out.push("<pre><code>" + esc(body.join("\n")) + "</code></pre>");
        continue;
      }
      const h = line.match(/^(#{1,6})\s+(.*)$/);
      const ul = line.match(/^\s*[-*+]\s+(.*)$/);
      const ol = line.match(/^\s*\d+[.)]\s+(.*)$/);
      if (h) { flushPara(); flushList(); out.push("<h" + h[1].length + ">" + inline(h[2]) + "</h" + h[1].length + ">"); }
      else if (ul || ol) {
        flushPara();
        const tag = ul ? "ul" : "ol";
        if (list && list.tag !== tag) flushList();
        if (!list) list = { tag, items: [] };
        list.items.push((ul || ol)[1]);
      } else if (/^\s*$/.test(line)) { flushPara(); flushList(); }
      else { flushList(); para.push(line); }
      i++;
    }
    flushPara(); flushList();
    return out.join("\n");
  }
  // Markdown into `el`, then each math span typeset in place (its text is the TeX source).
  function renderInto(el, src) {
    el.innerHTML = render(src);
    if (!window.katex) return;
    for (const span of el.querySelectorAll("span.math")) {
      const tex = span.textContent;
      try {
        window.katex.render(tex, span, { throwOnError: false, displayMode: span.classList.contains("display") });
      } catch (e) {
        span.textContent = tex;
      }
    }
  }
  window.renderMarkdown = render;
  window.renderMarkdownInto = renderInto;
})();
