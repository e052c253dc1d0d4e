"""A real OpenAI-compatible HTTP server (chat completions) that fails on purpose.

It answers Countdown prompts with a correct or a wrong equation, found by the solver,
and injects faults by request number from a repeating ``plan``: ``ok``, ``500``,
``429``, ``garbage`` (a 200 whose body is not JSON), ``empty`` (a 200 with no
choices), ``slow`` (sleeps past the client's timeout), ``reasoning`` (the trace in a
separate ``reasoning_content`` field, as vLLM's reasoning parser returns it).
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from minireason.tasks.countdown import solve

_QUESTION = re.compile(r"numbers \[([\d, ]+)\], write an equation that equals (\d+)")


def countdown_reply(prompt: str) -> str:
    """A trace for a Countdown prompt: correct for even targets, off by one for odd ones (rejections)."""
    match = _QUESTION.search(prompt)
    if not match:
        return "<think>I do not know this problem.</think>\n<answer>0</answer>"
    numbers = [int(x) for x in match.group(1).split(",")]
    target = int(match.group(2))
    solution = solve(numbers, target)
    if target % 2:
        return f"<think>Maybe {solution} + 1.</think>\n<answer>{solution} + 1</answer>"
    return f"<think>Combine {numbers} to reach {target}: {solution}.</think>\n<answer>{solution}</answer>"


class FlakyServer:
    def __init__(self, plan=("ok",), delay: float = 0.0, slow_seconds: float = 2.0):
        self.plan, self.delay, self.slow_seconds = list(plan), delay, slow_seconds
        self.requests = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    fault = server.plan[server.requests % len(server.plan)]
                    server.requests += 1
                time.sleep(server.delay)
                if fault in ("500", "429"):
                    # retry-after-ms keeps the client's backoff short in tests.
                    return self._send(int(fault), b'{"error": {"message": "try later"}}', {"retry-after-ms": "10"})
                if fault == "garbage":
                    return self._send(200, b"<html>upstream hiccup</html>")
                if fault == "empty":
                    return self._send(200, json.dumps({"id": "x", "object": "chat.completion", "created": 0,
                                                       "model": "m", "choices": []}).encode())
                if fault == "slow":
                    time.sleep(server.slow_seconds)
                text = server.reply(body["messages"][-1]["content"])
                message = {"role": "assistant", "content": text}
                if fault == "reasoning":
                    thinking, _, rest = text.partition("</think>")
                    message = {"role": "assistant", "content": rest.strip(),
                               "reasoning_content": thinking.replace("<think>", "")}
                self._send(200, json.dumps({
                    "id": "x", "object": "chat.completion", "created": 0, "model": body.get("model", "m"),
                    "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                }).encode())

            def _send(self, status, payload, headers=None):
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for key, value in (headers or {}).items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def reply(self, prompt: str) -> str:
        if prompt.startswith("Rewrite the solution"):
            solution = prompt.split("Solution:\n", 1)[1]
            return solution.replace("<think>", "<think>Rewritten. ")
        return countdown_reply(prompt)

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
