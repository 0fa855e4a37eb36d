"""Open311 GeoReport v2 as outside clients use it, against a real `hotline serve`.

- The unmodified PyPI client `georeport` lists the services, reads a definition, lists the
  requests and reads one, in JSON and in XML.
- Creating a request and the token round trip are plain HTTP form posts of the spec (urllib).
- The errors come back in Open311's format; the quirks of real clients work.

Run by tests/clients/run.sh: open311_clients.py BASE_URL API_KEY
"""

import json
import sys
import urllib.error
import urllib.parse
import urllib.request

from georeport import GeoReport


def fail(message: str) -> None:
    print(f"open311: FAIL {message}")
    sys.exit(1)


def form_post(url: str, fields: dict):
    data = urllib.parse.urlencode(fields).encode()
    request = urllib.request.Request(url, data=data, method="POST")
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def get(url: str):
    try:
        with urllib.request.urlopen(url) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def main(base: str, api_key: str) -> int:
    # -- creation and the token round trip: form posts, as the spec shows them
    status, body = form_post(
        f"{base}/requests.json",
        {
            "api_key": api_key,
            "service_code": "SQ.WYBX",
            "address_string": "姑苏区双塔街道沧浪亭社区",
            "description": "我家楼上漏水，找物业报修没人来修",
            "first_name": "娜",
            "last_name": "王",
            "phone": "13912345678",
            "attribute[nature]": "help",
        },
    )
    if status != 200:
        fail(f"POST requests.json: {status} {body}")
    created = json.loads(body)
    if not isinstance(created, list) or len(created) != 1:
        fail(f"POST requests.json answers one-element array: {body}")
    request_id = created[0]["service_request_id"]
    if not isinstance(request_id, str) or not request_id:
        fail(f"ids are strings: {body}")
    status, body = get(f"{base}/tokens/{created[0]['token']}.json?api_key={api_key}")
    if status != 200 or json.loads(body)[0]["service_request_id"] != request_id:
        fail(f"GET tokens: {status} {body}")
    # The fields may come in the query string too, and XML is a format like JSON.
    query = urllib.parse.urlencode(
        {
            "api_key": api_key,
            "service_code": "SQ.WYBX",
            "lat": "31.2964",
            "long": "120.6195",
            "description": "小区路灯不亮",
        }
    )
    status, body = form_post(f"{base}/requests.xml?{query}", {})
    if status != 200 or "<service_request_id>" not in body:
        fail(f"POST requests.xml with the query string: {status} {body}")

    # -- errors, in Open311's format
    status, body = form_post(f"{base}/requests.json", {"service_code": "SQ.WYBX"})
    error = json.loads(body)
    if status != 403 or error[0]["code"] != 403 or "api_key" not in error[0]["description"]:
        fail(f"POST without api_key: {status} {body}")
    status, body = form_post(
        f"{base}/requests.json", {"api_key": api_key, "service_code": "NOPE.NOPE", "lat": "31.3", "long": "120.6"}
    )
    if status != 400 or "service_code" not in json.loads(body)[0]["description"]:
        fail(f"POST with an unknown service: {status} {body}")
    status, body = get(f"{base}/requests/not-an-id.xml")
    if status != 404 or "<errors><error><code>404</code>" not in body:
        fail(f"GET an unknown request in XML: {status} {body}")

    # -- the unmodified georeport client, JSON then XML
    for output_format in ("json", "xml"):
        client = GeoReport(base, output_format=output_format)
        services = client.get_service_list()
        codes = {s["service_code"] for s in services}
        if "SQ.WYBX" not in codes or len(services) < 100:
            fail(f"{output_format}: get_service_list: {len(services)} services")
        leak = next(s for s in services if s["service_code"] == "SQ.WYBX")
        if not leak["group"] or not leak["keywords"]:
            fail(f"{output_format}: a service has its group and keywords: {leak}")
        definition = client.get_service_definition("SQ.WYBX")
        attributes = definition["attributes"]
        if output_format == "xml":
            attributes = attributes["attribute"]
        names = {a["code"] for a in attributes}
        if not {"nature", "urgency", "confidential", "contact"} <= names:
            fail(f"{output_format}: get_service_definition: {names}")
        requests_ = client.get_service_requests()
        if isinstance(requests_, dict):
            requests_ = [requests_]
        ids = {r["service_request_id"] for r in requests_}
        if request_id not in ids:
            fail(f"{output_format}: get_service_requests lacks {request_id}: {ids}")
        one = client.get_service_request(request_id)
        if one["status"] != "open" or "status_notes" not in one:
            fail(f"{output_format}: get_service_request: {one}")
        if one.get("description"):
            fail(f"{output_format}: an anonymous read shows the citizen's words: {one}")
        if not one["requested_datetime"].endswith("+08:00"):
            fail(f"{output_format}: times carry the +08:00 offset: {one}")

    # -- with the key, the integrator reads its own request in full
    status, body = get(f"{base}/requests/{request_id}.json?api_key={api_key}")
    if status != 200 or "漏水" not in json.loads(body)[0]["description"]:
        fail(f"GET its own request with the key: {status} {body}")

    # -- quirks of real clients: singular path, // in paths, an empty jurisdiction_id=
    for path in ("service/SQ.WYBX.json", "services//SQ.WYBX.json?jurisdiction_id=", "/services.json"):
        status, body = get(f"{base}/{path}")
        if status != 200:
            fail(f"quirk {path}: {status} {body}")

    print(f"open311: georeport read services, a definition and requests in JSON and XML; "
          f"a form post created {request_id} and its token came back")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
