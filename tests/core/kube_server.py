"""A local stand-in for the Kubernetes API's pod GET and PATCH, enough for the deletion-cost reporter.

It follows the real API where the reporter can tell: bearer-token auth (401 otherwise), JSON merge
patch and strategic merge patch on an object body (a JSON patch must be a list: 400 otherwise; other
content types: 415), `Status` objects for errors with the API server's reasons and messages (NotFound,
Forbidden as RBAC phrases it), and the patched Pod back with a new resourceVersion.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

MERGE_TYPES = ("application/merge-patch+json", "application/strategic-merge-patch+json")


def status(
    code: int, reason: str, message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "details": details or {},
        "code": code,
    }


def merge(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7386 merge: null deletes, objects merge, anything else replaces."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = value
    return target


class KubeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        token: str = "test-token",
        service_account: str = "system:serviceaccount:ns:gleaner",
    ) -> None:
        super().__init__(("127.0.0.1", 0), KubeHandler)
        self.token = token
        self.service_account = service_account
        self.pods: dict[tuple[str, str], dict[str, Any]] = {}
        self.forbidden: set[tuple[str, str]] = (
            set()
        )  # pods this account may not patch (RBAC)
        self.patches: list[
            tuple[str, str, Any]
        ] = []  # (pod, content type, body) of accepted patches
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def add_pod(self, namespace: str, name: str) -> None:
        self.pods[(namespace, name)] = {
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "resourceVersion": "1",
                "annotations": {},
            },
            "spec": {"containers": [{"name": "worker", "image": "gleaner-worker"}]},
        }

    def annotation(self, namespace: str, name: str, key: str) -> str | None:
        with self.lock:
            value = (
                self.pods[(namespace, name)]["metadata"].get("annotations", {}).get(key)
            )
        return None if value is None else str(value)

    def write_kubeconfig(self, path: Path, namespace: str = "ns") -> Path:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "local", "cluster": {"server": self.url}}],
            "users": [{"name": "worker", "user": {"token": self.token}}],
            "contexts": [
                {
                    "name": "local",
                    "context": {
                        "cluster": "local",
                        "user": "worker",
                        "namespace": namespace,
                    },
                }
            ],
            "current-context": "local",
        }
        path.write_text(json.dumps(config))  # JSON is YAML
        return path

    def start(self) -> KubeServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class KubeHandler(BaseHTTPRequestHandler):
    server: KubeServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def send_json(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def pod_key(self) -> tuple[str, str] | None:
        parts = self.path.split("?", 1)[0].strip("/").split("/")
        if (
            len(parts) == 6
            and parts[:3] == ["api", "v1", "namespaces"]
            and parts[4] == "pods"
        ):
            return parts[3], parts[5]
        return None

    def authorized(self) -> bool:
        if self.headers.get("Authorization") == f"Bearer {self.server.token}":
            return True
        self.send_json(401, status(401, "Unauthorized", "Unauthorized"))
        return False

    def do_GET(self) -> None:
        key = self.pod_key()
        if not self.authorized():
            return
        if key is None or key not in self.server.pods:
            name = key[1] if key else self.path
            self.send_json(
                404,
                status(
                    404,
                    "NotFound",
                    f'pods "{name}" not found',
                    {"name": name, "kind": "pods"},
                ),
            )
            return
        with self.server.lock:
            self.send_json(200, self.server.pods[key])

    def do_PATCH(self) -> None:
        key = self.pod_key()
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if not self.authorized():
            return
        if key is None:
            self.send_json(
                404,
                status(
                    404, "NotFound", "the server could not find the requested resource"
                ),
            )
            return
        namespace, name = key
        if key in self.server.forbidden:
            message = (
                f'pods "{name}" is forbidden: User "{self.server.service_account}" cannot patch resource "pods" '
                f'in API group "" in the namespace "{namespace}"'
            )
            self.send_json(
                403, status(403, "Forbidden", message, {"name": name, "kind": "pods"})
            )
            return
        if key not in self.server.pods:
            self.send_json(
                404,
                status(
                    404,
                    "NotFound",
                    f'pods "{name}" not found',
                    {"name": name, "kind": "pods"},
                ),
            )
            return
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        try:
            body = json.loads(raw)
        except ValueError:
            self.send_json(
                400, status(400, "BadRequest", "error decoding patch: invalid JSON")
            )
            return
        if content_type == "application/json-patch+json":
            if not isinstance(body, list):
                message = "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
                self.send_json(400, status(400, "BadRequest", message))
                return
            self.send_json(
                415,
                status(
                    415,
                    "UnsupportedMediaType",
                    "this test server applies merge patches only",
                ),
            )
            return
        if content_type not in MERGE_TYPES:
            message = f"the body of the request was in an unknown format - accepted media types include: {', '.join(MERGE_TYPES)}"
            self.send_json(415, status(415, "UnsupportedMediaType", message))
            return
        if not isinstance(body, dict):
            self.send_json(
                400, status(400, "BadRequest", "a merge patch must be a JSON object")
            )
            return
        with self.server.lock:
            pod = self.server.pods[key]
            merge(pod, body)
            pod["metadata"]["resourceVersion"] = str(
                int(pod["metadata"]["resourceVersion"]) + 1
            )
            self.server.patches.append((name, content_type, body))
            reply = json.loads(json.dumps(pod))
        self.send_json(200, reply)
