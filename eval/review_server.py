"""The review page: a local HTTP server (standard library) for one reviewer of one run folder.

`GET /` is the page (`templates/review.html.j2`, self-contained); `GET /api/state` the sample with each item's
text, plan and gate figures, and the reviewer's counted verdicts; `POST /api/verdict` appends one verdict to the
run's `review.jsonl` and answers only once it is synced, so a server killed between two verdicts loses none.
"""

from __future__ import annotations

import json
import math
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dualalign.errors import DualAlignError
from dualalign.eval.review import GATE_FIGURES, REASONS, VERDICTS, counted_verdicts, record_verdict
from dualalign.io import read_jsonl
from dualalign.runfolder import REVIEW, RunFolder

PAGE = "review.html.j2"
ITEM_FIELDS = ("id", "text", "variant", "kind", "patient_id", "note_type", "visit_date", "stage", "section",
               "label", "label_name", "planned_label", "planned_label_name", "planned_term", "profile", "profile_shown",
               "note", "conversation", "candidates", "label_margin", "threshold_distance", "phi", "why",
               "risky")  # fmt: skip


def _plain(value: Any) -> Any:
    """A value of a pandas row as JSON takes it: numpy scalars and arrays as Python's, NaN as None."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    return None if isinstance(value, float) and math.isnan(value) else value


class ReviewSession:
    """One reviewer's session on a run: the sample (`eval.review.review_sample`) and the verdicts file."""

    def __init__(self, run: RunFolder, sample: pd.DataFrame, reviewer: str, threshold: float, title: str):
        self.run, self.sample, self.reviewer, self.threshold, self.title = run, sample, reviewer, threshold, title
        self.texts = dict(zip(sample["id"], sample["text"]))
        self.lock = threading.Lock()

    def state(self) -> dict[str, Any]:
        items = []
        for row in self.sample.to_dict("records"):
            item = {k: _plain(row.get(k)) for k in ITEM_FIELDS}
            item["gate"] = {k: _plain(row.get(k)) for k in GATE_FIGURES}
            items.append(item)
        return {"run": self.title, "reviewer": self.reviewer, "threshold": self.threshold, "verdicts": VERDICTS,
                "reasons": REASONS, "items": items, "mine": self.mine()}  # fmt: skip

    def mine(self) -> dict[str, dict[str, Any]]:
        """The reviewer's verdicts that count, by item (others' verdicts are not shown: each reads independently)."""
        hashes = dict(zip(self.sample["id"], self.sample["text_hash"]))
        counted = counted_verdicts(read_jsonl(self.run.file(REVIEW)), hashes)
        rows = counted[counted["reviewer"] == self.reviewer]
        return {r["item"]: {"verdict": r["verdict"], "reason": r["reason"], "comment": r["comment"]}
                for r in rows.to_dict("records")}  # fmt: skip

    def verdict(self, body: dict[str, Any]) -> dict[str, Any]:
        item = body.get("item")
        if item not in self.texts:
            raise DualAlignError(f"item {item!r} is not in this review's sample")
        with self.lock:
            record_verdict(self.run, self.reviewer, item, self.texts[item], body.get("verdict", ""),
                           body.get("reason"), body.get("comment"))  # fmt: skip
        return {"mine": self.mine()}


def page_html(session: ReviewSession) -> bytes:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                      autoescape=select_autoescape(["html", "j2"]))  # fmt: skip
    return env.get_template(PAGE).render(title=session.title, reviewer=session.reviewer).encode()


def make_server(session: ReviewSession, port: int = 0) -> ThreadingHTTPServer:
    """A server on 127.0.0.1:`port` (0: a free one) for `session`; call `serve_forever()`."""
    page = page_html(session)

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, data: Any) -> None:
            self._send(status, json.dumps(data, default=str).encode())

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if self.path in ("/", "/index.html"):
                self._send(HTTPStatus.OK, page, "text/html")
            elif self.path == "/api/state":
                self._json(HTTPStatus.OK, session.state())
            else:
                self._json(HTTPStatus.NOT_FOUND, {"error": f"no page {self.path}"})

        def do_POST(self) -> None:  # noqa: N802
            if self.path != "/api/verdict":
                return self._json(HTTPStatus.NOT_FOUND, {"error": f"no page {self.path}"})
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                self._json(HTTPStatus.OK, session.verdict(body))
            except (DualAlignError, ValueError) as err:
                self._json(HTTPStatus.BAD_REQUEST, {"error": str(err)})

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (quiet: the terminal shows the link)
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    return server
