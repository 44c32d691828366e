"""A stand-in for the network endpoint: every collection is empty.

Nova asks Neutron for ports even for servers booted with ``networks: none``;
empty answers are enough for that. Creating network resources is refused.
"""

import json


def _reply(start_response, status, body):
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(data)))])
    return [data]


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/").rstrip("/")
    method = environ.get("REQUEST_METHOD", "GET")
    if path in ("", "/"):
        return _reply(start_response, "200 OK", {"versions": [
            {"id": "v2.0", "status": "CURRENT",
             "links": [{"rel": "self", "href": "http://127.0.0.1:9696/v2.0/"}]}]})
    parts = [p for p in path.split("/") if p]
    if method != "GET":
        return _reply(start_response, "403 Forbidden", {"NeutronError": {
            "type": "Forbidden", "message": "devcloud has no real networking", "detail": ""}})
    collection = parts[-1].split(".")[0] if parts else ""
    if len(parts) == 2 and parts[0] == "v2.0":
        return _reply(start_response, "200 OK", {collection.replace("-", "_"): []})
    return _reply(start_response, "404 Not Found", {"NeutronError": {
        "type": "NotFound", "message": "%s not found" % path, "detail": ""}})
