"""A real HTTP server on 127.0.0.1 serving ../shared/data, with switchable failure modes.

URL prefixes pick the behaviour: /ok/<path> serves the file; /corrupt/<path> flips one byte;
/flaky/<path> drops the connection half-way through the first request for each path;
/dead/<path> always drops half-way; /status/<code>/<path> always answers HTTP <code>;
/fail5xx/<n>/<path> answers 503 to the first <n> requests for that URL, then serves the file.
`requests` counts the requests per URL path.
"""

from __future__ import annotations

import collections
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class DataServer:
    def __init__(self, root: Path, extra: dict[str, Path] | None = None):
        self.root = root
        self.extra = extra or {}  # url path -> file outside root (e.g. a built CIFAR archive)
        self.requests: collections.Counter[str] = collections.Counter()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_GET(self):
                path = urllib.parse.unquote(self.path)
                server.requests[path] += 1
                mode, _, rel = path.lstrip("/").partition("/")
                if mode in {"status", "fail5xx"}:
                    number, _, rel = rel.partition("/")
                    if mode == "status" or server.requests[path] <= int(number):
                        self.send_error(int(number) if mode == "status" else 503)
                        return
                    mode = "ok"
                file = server.extra.get(rel) or server.root / rel
                if mode not in {"ok", "corrupt", "flaky", "dead"} or not file.is_file():
                    self.send_error(404)
                    return
                body = bytearray(file.read_bytes())
                if mode == "corrupt":
                    body[len(body) // 2] ^= 0xFF
                drop = mode == "dead" or (mode == "flaky" and server.requests[path] == 1)
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if drop else body)
                if drop:
                    self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        # A short poll interval: shutdown() waits for it, at every test's teardown.
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)

    def __enter__(self) -> DataServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
