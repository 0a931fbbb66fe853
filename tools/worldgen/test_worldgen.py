#!/usr/bin/env python3
"""Self-check for worldgen.py (plain asserts, no pytest):

    python3 tools/worldgen/test_worldgen.py

Checks that the output parses, matches the protos (field names, types and
enum names are read from proto/rebound/v1/*.proto), that the truth file points
at decline/expiry events, that each request's lifecycle is coherent, and that
a seed gives the same bytes every time.
"""

import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PROTO_DIR = os.path.join(ROOT, "proto", "rebound", "v1")
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True   # leave no __pycache__ in the source tree

import worldgen  # noqa: E402

TERMINAL = ("requestAccepted", "requestDeclined", "requestWithdrawn", "requestExpired")
EVENT_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
TENANT_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def parse_protos():
    """Enums ({name: [values]}) and messages ({name: {jsonName: (type, repeated)}})
    of the proto files; oneof members count as ordinary fields."""
    enums, messages = {}, {}
    for fname in ("events.proto", "scoring.proto"):
        text = open(os.path.join(PROTO_DIR, fname), encoding="utf-8").read()
        text = re.sub(r"//[^\n]*", "", text)
        for m in re.finditer(r"\benum\s+(\w+)\s*\{([^}]*)\}", text):
            enums[m.group(1)] = re.findall(r"\b([A-Z][A-Z0-9_]*)\s*=\s*\d+\s*;", m.group(2))
        # Top-level messages: match braces to find each body.
        for m in re.finditer(r"^message\s+(\w+)\s*\{", text, re.M):
            depth, i = 1, m.end()
            while depth:
                depth += {"{": 1, "}": -1}.get(text[i], 0)
                i += 1
            body = text[m.end():i - 1]
            fields = {}
            for f in re.finditer(r"(repeated\s+|optional\s+)?([\w.]+)\s+(\w+)\s*=\s*\d+\s*;",
                                 body):
                if f.group(2) in ("message", "enum", "oneof"):
                    continue
                fields[camel(f.group(3))] = (f.group(2), bool(f.group(1) and
                                                               "repeated" in f.group(1)))
            messages[m.group(1)] = fields
    return enums, messages


ENUMS, MESSAGES = parse_protos()


def check_value(path, ptype, value):
    """Check one JSON value against a proto type (protobuf JSON mapping)."""
    if ptype in ("int64", "uint64"):
        assert isinstance(value, str) and re.fullmatch(r"-?\d+", value), (path, value)
    elif ptype in ("int32", "uint32"):
        assert isinstance(value, int) and not isinstance(value, bool), (path, value)
    elif ptype == "double":
        assert isinstance(value, (int, float)) and not isinstance(value, bool), (path, value)
    elif ptype == "bool":
        assert isinstance(value, bool), (path, value)
    elif ptype == "string":
        assert isinstance(value, str), (path, value)
    elif ptype == "google.protobuf.Timestamp":
        assert isinstance(value, str) and TIME_RE.match(value), (path, value)
    elif ptype in ENUMS:
        assert value in ENUMS[ptype], f"{path}: {value!r} is not a {ptype} value"
    elif ptype in MESSAGES:
        check_message(path, ptype, value)
    else:
        raise AssertionError(f"{path}: unknown type {ptype}")


def check_message(path, mtype, obj):
    assert isinstance(obj, dict), (path, obj)
    fields = MESSAGES[mtype]
    for key, value in obj.items():
        assert key in fields, f"{path}.{key}: no such field in {mtype}"
        ptype, repeated = fields[key]
        if repeated:
            assert isinstance(value, list), (path, key)
            for i, v in enumerate(value):
                check_value(f"{path}.{key}[{i}]", ptype, v)
        else:
            check_value(f"{path}.{key}", ptype, value)


def check_files(events_path, truth_path):
    payloads = [camel(n) for n in ("request_sent", "request_accepted", "request_declined",
                                   "request_withdrawn", "request_expired", "profile_viewed",
                                   "profile_updated")]
    assert all(p in MESSAGES["ConnectionEvent"] for p in payloads)
    events = [json.loads(line) for line in open(events_path, encoding="utf-8")]
    truth = [json.loads(line) for line in open(truth_path, encoding="utf-8")]
    assert events and truth

    by_id, seen_ids, last_time = {}, set(), ""
    requests = {}          # (tenant, request id) -> {"pair": ..., "end": payload or None}
    kinds_seen = set()
    for ev in events:
        check_message("event", "ConnectionEvent", ev)
        for key in ("eventId", "tenantId", "occurredAt", "senderId"):
            assert ev.get(key), f"{ev.get('eventId')}: missing {key}"
        present = [p for p in payloads if p in ev]
        assert len(present) == 1, f"{ev['eventId']}: payloads {present}"
        kind = present[0]
        kinds_seen.add(kind)
        if kind != "profileUpdated":
            assert ev.get("recipientId"), f"{ev['eventId']}: missing recipientId"
            assert ev["recipientId"] != ev["senderId"]
        assert EVENT_ID_RE.match(ev["eventId"]) and TENANT_RE.match(ev["tenantId"])
        assert ev["eventId"] not in seen_ids, f"duplicate event id {ev['eventId']}"
        seen_ids.add(ev["eventId"])
        assert ev["occurredAt"] >= last_time, f"{ev['eventId']}: out of time order"
        last_time = ev["occurredAt"]
        by_id[ev["eventId"]] = (kind, ev)

        p = ev[kind]
        pair = (ev["tenantId"], ev["senderId"], ev.get("recipientId"))
        if kind == "requestSent":
            key = (ev["tenantId"], p["requestId"])
            assert key not in requests, f"request id reused: {key}"
            requests[key] = {"pair": pair, "end": None}
            assert len(p.get("note", "")) <= 300
            for side in ("senderProfile", "recipientProfile"):
                prof = p[side]
                assert 0 <= prof.get("completeness", 0) <= 1
                assert -720 <= prof.get("utcOffsetMinutes", 0) <= 840
                assert 0 <= prof.get("accountAgeDays", 0) <= 36500
        elif kind == "profileUpdated":
            assert p.get("profile") is not None and p.get("changedFields")
            for name in p["changedFields"]:   # snake_case names of ProfileSnapshot fields
                assert camel(name) in MESSAGES["ProfileSnapshot"] and "_" in name or \
                    name in MESSAGES["ProfileSnapshot"], f"changed field {name!r}"
            if "has_photo" in p["changedFields"]:
                assert p["profile"].get("hasPhoto") is True, ev["eventId"]
        elif kind == "profileViewed":
            if "requestId" in p:
                req = requests[(ev["tenantId"], p["requestId"])]
                assert req["pair"] == pair
        else:
            req = requests.get((ev["tenantId"], p["requestId"]))
            assert req is not None, f"{ev['eventId']}: {kind} before its request"
            assert req["pair"] == pair, f"{ev['eventId']}: pair differs from the request"
            assert req["end"] is None, f"{ev['eventId']}: request already ended"
            req["end"] = kind
            if kind == "requestDeclined":
                assert p["kind"] != "DECLINE_KIND_UNSPECIFIED"
    assert kinds_seen == set(payloads), f"event kinds missing: {set(payloads) - kinds_seen}"

    reasons = set(ENUMS["DeclineReason"]) - {"DECLINE_REASON_UNSPECIFIED"}
    truth_ids = set()
    for t in truth:
        assert set(t) == {"event_id", "tenant_id", "true_reason"}, t
        assert t["event_id"] not in truth_ids, f"truth twice for {t['event_id']}"
        truth_ids.add(t["event_id"])
        kind, ev = by_id[t["event_id"]]
        assert kind in ("requestDeclined", "requestExpired"), (t, kind)
        assert ev["tenantId"] == t["tenant_id"]
        assert t["true_reason"] in reasons, t
    ended = {i for i, (k, _) in by_id.items() if k in ("requestDeclined", "requestExpired")}
    assert ended == truth_ids, "every decline/expiry needs exactly one truth line"
    return events, truth


def main():
    with tempfile.TemporaryDirectory() as d:
        paths = {n: os.path.join(d, n) for n in ("a.jsonl", "a.truth", "b.jsonl",
                                                 "b.truth", "c.jsonl", "c.truth")}
        worldgen.generate(11, 1500, paths["a.jsonl"], paths["a.truth"], tenants=3)
        worldgen.generate(11, 1500, paths["b.jsonl"], paths["b.truth"], tenants=3)
        worldgen.generate(12, 1500, paths["c.jsonl"], paths["c.truth"], tenants=3)
        read = lambda n: open(paths[n], "rb").read()  # noqa: E731
        assert read("a.jsonl") == read("b.jsonl"), "same seed, different events"
        assert read("a.truth") == read("b.truth"), "same seed, different truth"
        assert read("a.jsonl") != read("c.jsonl"), "different seeds, same events"

        events, truth = check_files(paths["a.jsonl"], paths["a.truth"])
        sent = sum("requestSent" in e for e in events)
        assert sent == 1500, sent
        assert len({e["tenantId"] for e in events}) == 3
        reasons = {t["true_reason"] for t in truth}
        assert len(reasons) == 5, f"reasons present: {reasons}"

        # The CLI, with a mix override; and a bad mix is refused.
        script = os.path.join(HERE, "worldgen.py")
        out, tr = os.path.join(d, "cli.jsonl"), os.path.join(d, "cli.truth")
        subprocess.run([sys.executable, script, "--seed", "5", "--requests", "400", "--out",
                        out, "--truth", tr, "--tenants", "5", "--mix",
                        "fake=0.3,sales=0.1", "--quiet"], check=True)
        check_files(out, tr)
        bad = subprocess.run([sys.executable, script, "--seed", "5", "--requests", "10",
                              "--out", out, "--truth", tr, "--mix", "robots=1"],
                             capture_output=True, text=True)
        assert bad.returncode != 0 and "--mix" in bad.stderr
    print("test_worldgen: OK")


if __name__ == "__main__":
    main()
