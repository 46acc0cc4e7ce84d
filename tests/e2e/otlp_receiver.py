"""An OTLP/HTTP trace receiver for the telemetry tests (tests/tests/telemetry.rs).

It decodes each `POST /v1/traces` with the official protobuf definitions
(`opentelemetry-proto` from PyPI) and appends every span to a file as a JSON line:
its name, ids (hex), parent, kind, status, attributes, links and the resource's
`service.name`. The first line on stdout is its port.

    python otlp_receiver.py SPANS_FILE [ok|slow|garbage]

`slow` answers nothing for 30 s; `garbage` answers bytes that are not HTTP and closes.
"""

import json
import socket
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

OUT = sys.argv[1]
MODE = sys.argv[2] if len(sys.argv) > 2 else "ok"
LOCK = threading.Lock()


def value(v):
    kind = v.WhichOneof("value")
    if kind in ("array_value", "kvlist_value"):
        return str(getattr(v, kind))
    return getattr(v, kind) if kind else None


def attributes(items):
    return {kv.key: value(kv.value) for kv in items}


class Receiver(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path != "/v1/traces":
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if MODE == "slow":
            time.sleep(30)
            return
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        lines = []
        for resource_spans in request.resource_spans:
            resource = attributes(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    lines.append(
                        {
                            "service": resource.get("service.name"),
                            "name": span.name,
                            "trace_id": span.trace_id.hex(),
                            "span_id": span.span_id.hex(),
                            "parent_span_id": span.parent_span_id.hex(),
                            "kind": span.kind,
                            "start": span.start_time_unix_nano,
                            "end": span.end_time_unix_nano,
                            "status": span.status.code,
                            "status_message": span.status.message,
                            "attributes": attributes(span.attributes),
                            "links": [
                                {"trace_id": l.trace_id.hex(), "span_id": l.span_id.hex()}
                                for l in span.links
                            ],
                            "events": [e.name for e in span.events],
                            "authorization": self.headers.get("Authorization"),
                            "content_type": self.headers.get("Content-Type"),
                        }
                    )
        with LOCK, open(OUT, "a") as f:
            for line in lines:
                f.write(json.dumps(line) + "\n")
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


class Garbage(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.recv(65536)
        self.request.sendall(b"\x00\xffnot http at all\r\n\r\n\x13\x37")
        self.request.shutdown(socket.SHUT_RDWR)


if MODE == "garbage":
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Garbage)
else:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
