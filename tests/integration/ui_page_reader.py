"""Reading the Smarketing page back: every figure it marks with `data-value`, in its row's context."""

from __future__ import annotations

from html.parser import HTMLParser

VOID = {"meta", "br", "img", "input", "link", "hr", "wbr", "source"}
CONTEXTS = ("data-kpi", "data-goal", "data-owner", "data-dag", "data-review")


class SmarketingPage(HTMLParser):
    """`values[(context, field)] = (data-value, text shown)`: context is e.g. "kpi:mqls",
    "goal:q4-mqls", "owner:crm:1", or the table id; field the cell's data-field ("value" for a card).
    `rows[table id]` lists the context of each row of that table; `text` is the page's visible text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.values: dict[tuple[str, str], tuple[str | None, str]] = {}
        self.rows: dict[str, list[str]] = {}
        self.links: list[str] = []
        self._stack: list[tuple[str, dict[str, str | None]]] = []
        self._open: list[list] = []  # [tag depth, key, value, text parts]
        self._chunks: list[str] = []
        self.feed(html)
        self.text = " ".join(" ".join(self._chunks).split())

    def _context(self, attrs: dict[str, str | None]) -> str | None:
        """The nearest row context (data-kpi, data-goal, ...) around the element, else the nearest id."""
        chain = [a for _, a in self._stack] + [attrs]
        for outer in reversed(chain):
            for name in CONTEXTS:
                if outer.get(name):
                    return f"{name.removeprefix('data-')}:{outer[name]}"
        return next((str(a["id"]) for a in reversed(chain) if a.get("id")), None)

    def handle_starttag(self, tag: str, attr_list: list[tuple[str, str | None]]) -> None:
        attrs = dict(attr_list)
        if tag == "a" and attrs.get("href"):
            self.links.append(str(attrs["href"]))
        if tag == "tr":
            table = next((a["id"] for t, a in reversed(self._stack) if t == "table" and a.get("id")), None)
            context = next((f"{n.removeprefix('data-')}:{attrs[n]}" for n in CONTEXTS if attrs.get(n)), None)
            if table and context:
                self.rows.setdefault(str(table), []).append(context)
        if "data-value" in attrs or "data-field" in attrs:
            field = attrs.get("data-field") or "value"
            self._open.append([len(self._stack), self._context(attrs), field, attrs.get("data-value"), []])
        if tag not in VOID:
            self._stack.append((tag, attrs))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID or not self._stack:
            return
        while self._stack:
            popped, _ = self._stack.pop()
            depth = len(self._stack)
            while self._open and self._open[-1][0] >= depth:
                _, context, field, value, parts = self._open.pop()
                self.values[(str(context), field)] = (value, " ".join("".join(parts).split()))
            if popped == tag:
                return

    def handle_data(self, data: str) -> None:
        if any(tag in ("style", "script") for tag, _ in self._stack):
            return
        self._chunks.append(data)
        for entry in self._open:
            entry[4].append(data)
