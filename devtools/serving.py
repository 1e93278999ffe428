"""A local stand-in's server on a real port, served in a background thread (tests) or the foreground
(`sanzhida fake-wechat`, `sanzhida fake-asr`)."""

from __future__ import annotations

import threading


class BackgroundServer:
    """Wraps a `serve_forever` server (wsgiref's or werkzeug's) with start, foreground serving and stop."""

    def __init__(self, server, host: str):
        self._server = server
        self.host, self.port = host, server.server_port
        # A short poll interval keeps shutdown quick for tests.
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def start(self):
        """Start serving in the background."""
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the foreground until interrupted."""
        try:
            self._server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            self.stopping()

    def stopping(self) -> None:
        """Called as the server stops: a stand-in ends what it holds open here."""

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self.stopping()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def serve_call_log(app, state, heard: str) -> None:
    """Add the test hooks every stand-in shares: `GET /_calls` lists what it received (`heard`), in
    order; `DELETE /_calls` forgets it. `state` holds `calls` and the `lock` guarding them."""
    from flask import jsonify

    def list_calls():
        with state.lock:
            return jsonify(list(state.calls))

    def clear_calls():
        with state.lock:
            state.calls.clear()
        return "", 204

    list_calls.__doc__ = f"Every {heard} received, in order."
    clear_calls.__doc__ = "Forget the recorded calls."
    app.add_url_rule("/_calls", "list_calls", list_calls, methods=["GET"])
    app.add_url_rule("/_calls", "clear_calls", clear_calls, methods=["DELETE"])
