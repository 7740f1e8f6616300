// Renders the transcript of an RLEF run from the messages the extension posts.
/* global acquireVsCodeApi */
(function () {
  const root = document.getElementById("transcript");
  let turns = new Map();

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function turnBox(n, max) {
    let box = turns.get(n);
    if (!box) {
      const section = el("section", "turn");
      section.dataset.turn = String(n);
      section.appendChild(el("h2", "", `Attempt ${n}${max ? ` of ${max}` : ""}`));
      const answer = el("pre", "answer");
      section.appendChild(answer);
      root.appendChild(section);
      box = { section, answer };
      turns.set(n, box);
    }
    return box;
  }

  function outcomeText(r) {
    return { passed: "passed", wrong_answer: "wrong answer", exception: "exception", timeout: "timeout", out_of_memory: "out of memory" }[r.outcome] || r.outcome;
  }

  window.addEventListener("message", (msg) => {
    const m = msg.data;
    if (m.type === "start") {
      root.textContent = "";
      turns = new Map();
      root.appendChild(el("h1", "", m.title));
      return;
    }
    if (m.type === "end") {
      root.appendChild(el("p", "summary", `Result: ${m.summary}`));
      return;
    }
    const e = m.event;
    switch (e.type) {
      case "turn-started":
        turnBox(e.turn, e.maxTurns);
        break;
      case "token":
        turnBox(e.turn).answer.textContent += e.text;
        break;
      case "code-extracted":
        if (e.invalid) turnBox(e.turn).section.appendChild(el("p", "invalid", "No code block in this answer (invalid response)."));
        break;
      case "test-results": {
        const box = turnBox(e.turn);
        const failing = e.results.filter((r) => r.outcome !== "passed").length;
        box.section.appendChild(el("p", failing ? "tests failing" : "tests passing", e.runError ? `Tests could not run: ${e.runError}` : `${e.results.length - failing} of ${e.results.length} tests pass` + (e.isolation ? ` (sandbox: ${e.isolation.mode})` : "")));
        const list = el("ul", "results");
        for (const r of e.results) list.appendChild(el("li", r.outcome === "passed" ? "pass" : "fail", `${r.name || r.visibility + " test " + (r.index + 1)}: ${outcomeText(r)}`));
        box.section.appendChild(list);
        break;
      }
      case "feedback": {
        const box = turnBox(e.turn);
        box.section.appendChild(el("h3", "", "Feedback given to the model"));
        box.section.appendChild(el("pre", "feedback", e.text));
        break;
      }
    }
  });

  // The extension sends nothing until this: messages posted before a listener exists are lost.
  acquireVsCodeApi().postMessage({ type: "ready" });
})();
