"use strict";
// The rating page: shows pair after pair, records left / right / can't tell, keeps the votes in
// localStorage (keyed by the page id, so reloading resumes where the rater stopped) and saves
// them with the un-blinding key as votes.json.
(function () {
  const data = JSON.parse(document.getElementById("rating-data").textContent);
  const storeKey = "genstyle-votes-" + data.page_id;
  const raterKey = "genstyle-rater-" + data.page_id;
  const pairs = data.pairs;
  const $ = (id) => document.getElementById(id);

  function load() {
    try {
      const saved = JSON.parse(localStorage.getItem(storeKey) || "{}");
      return saved && typeof saved === "object" ? saved : {};
    } catch (err) {
      return {};
    }
  }
  const votes = load();  // pair index -> {choice, at}
  let rater = localStorage.getItem(raterKey);
  if (!rater) {
    const bytes = new Uint8Array(6);
    crypto.getRandomValues(bytes);
    rater = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    localStorage.setItem(raterKey, rater);
  }
  const firstOpen = () => { const i = pairs.findIndex((p) => !(p.index in votes)); return i < 0 ? pairs.length : i; };
  let current = firstOpen();

  function votedCount() { return pairs.filter((p) => p.index in votes).length; }

  function show() {
    const voted = votedCount();
    $("question").textContent = data.question;
    $("progress").textContent = current < pairs.length
      ? `Pair ${current + 1} of ${pairs.length} \u00b7 ${voted} rated`
      : `${voted} of ${pairs.length} rated`;
    $("bar").firstElementChild.style.width = (100 * voted / pairs.length) + "%";
    $("done").style.display = voted === pairs.length ? "block" : "none";
    const pair = pairs[Math.min(current, pairs.length - 1)];
    const item = String(pair.item);
    $("left").src = data.images[pair.left][item];
    $("right").src = data.images[pair.right][item];
    const prior = votes[pair.index] && votes[pair.index].choice;
    $("left").className = prior === "left" ? "chosen" : "";
    $("right").className = prior === "right" ? "chosen" : "";
    const context = $("context");
    context.textContent = "";
    if (data.context) {
      ["content", "style"].forEach((name, k) => {
        const fig = document.createElement("figure");
        const img = document.createElement("img");
        img.src = data.context[item][k];
        img.alt = name;
        fig.appendChild(img);
        fig.appendChild(document.createTextNode(name));
        context.appendChild(fig);
      });
    }
  }

  function vote(choice) {
    if (current >= pairs.length) return;
    votes[pairs[current].index] = { choice: choice, at: new Date().toISOString() };
    localStorage.setItem(storeKey, JSON.stringify(votes));
    current = current + 1 < pairs.length ? current + 1 : firstOpen();
    show();
  }

  function back() {
    current = Math.max(0, Math.min(current, pairs.length) - 1);
    show();
  }

  function votesDocument() {
    const key = JSON.parse(atob(data.key));
    const list = pairs.filter((p) => p.index in votes).map((p) => {
      const v = votes[p.index];
      const winner = v.choice === "left" ? p.left : v.choice === "right" ? p.right : null;
      return { pair: p.index, item: p.item, choice: v.choice, left: p.left, right: p.right, winner: winner, at: v.at };
    });
    return {
      format: data.votes_format, version: data.votes_version, page_id: data.page_id, seed: data.seed, task: data.task,
      rater: rater, saved_at: new Date().toISOString(), complete: list.length === pairs.length,
      entities: key, pairs: pairs, votes: list,
    };
  }

  function save() {
    const blob = new Blob([JSON.stringify(votesDocument(), null, 2)], { type: "application/json" });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = "votes.json";
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  }

  $("vote-left").addEventListener("click", () => vote("left"));
  $("vote-right").addEventListener("click", () => vote("right"));
  $("vote-tie").addEventListener("click", () => vote("tie"));
  $("left").addEventListener("click", () => vote("left"));
  $("right").addEventListener("click", () => vote("right"));
  $("back").addEventListener("click", back);
  $("save").addEventListener("click", save);
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const k = event.key;
    const action = { ArrowLeft: "left", a: "left", A: "left", ArrowRight: "right", l: "right", L: "right",
                     ArrowDown: "tie", " ": "tie", Backspace: "back" }[k];
    if (!action) return;
    event.preventDefault();
    if (action === "back") back(); else vote(action);
  });

  // For scripts and tests: the votes as they would be saved, without the download dialog.
  window.genstyleRating = { votes: votesDocument, progress: () => ({ voted: votedCount(), total: pairs.length, current: current }) };
  show();
})();
