#!/usr/bin/env python3
"""Self-check for worldgen2.py (plain asserts, no pytest):

    python3 tools/worldgen2/test_worldgen2.py

Reuses the format checker of tools/worldgen/test_worldgen.py (`check_files`:
events parse and match the protos, lifecycles are coherent, all seven payload
kinds appear, truth lines point at declines/expiries) and adds worldgen2's own
checks: determinism, request and tenant counts, all six truth reasons, the CLI.
"""

import sys

sys.dont_write_bytecode = True   # before any import: leave no __pycache__ behind

import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "worldgen"))

import worldgen2  # noqa: E402
from test_worldgen import check_files  # noqa: E402


def main():
    with tempfile.TemporaryDirectory() as d:
        p = lambda n: os.path.join(d, n)  # noqa: E731
        read = lambda n: open(p(n), "rb").read()  # noqa: E731

        worldgen2.generate(21, 3000, p("a.jsonl"), p("a.truth"), tenants=5)
        worldgen2.generate(21, 3000, p("b.jsonl"), p("b.truth"), tenants=5)
        worldgen2.generate(22, 3000, p("c.jsonl"), p("c.truth"), tenants=5)
        assert read("a.jsonl") == read("b.jsonl"), "same seed, different events"
        assert read("a.truth") == read("b.truth"), "same seed, different truth"
        assert read("a.jsonl") != read("c.jsonl"), "different seeds, same events"
        assert read("a.truth") != read("c.truth"), "different seeds, same truth"

        events, truth = check_files(p("a.jsonl"), p("a.truth"))
        sent = [e for e in events if "requestSent" in e]
        assert len(sent) == 3000, len(sent)
        assert len({e["tenantId"] for e in events}) == 5
        assert all(e["eventId"].startswith("w2.") for e in events)
        reasons = {t["true_reason"] for t in truth}
        assert reasons == set(worldgen2.REASONS), f"reasons present: {sorted(reasons)}"
        # UNDETERMINED stays a modest share; no reason swamps the others.
        share = {r: sum(t["true_reason"] == r for t in truth) / len(truth) for r in reasons}
        assert 0.01 <= share[worldgen2.R_UND] <= 0.12, share
        assert max(share.values()) < 0.5, share
        # Every ignore/decline/report kind appears; notes stay within 300 code points.
        kinds = {e["requestDeclined"]["kind"] for e in events if "requestDeclined" in e}
        assert kinds == {worldgen2.K_IGNORED, worldgen2.K_DECLINED, worldgen2.K_UNKNOWN,
                         worldgen2.K_SPAM}, kinds
        assert all(len(e["requestSent"].get("note", "")) <= 300 for e in sent)
        # Most acceptances are fast (the field fact DESIGN.md cites).
        sent_at = {(e["tenantId"], e["requestSent"]["requestId"]): e["occurredAt"] for e in sent}
        import calendar, time  # noqa: E401,E402
        ts = lambda s: calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))  # noqa: E731
        lat = [ts(e["occurredAt"]) - ts(sent_at[(e["tenantId"], e["requestAccepted"]["requestId"])])
               for e in events if "requestAccepted" in e]
        within_day = sum(x <= 86400 for x in lat) / len(lat)
        within_week = sum(x <= 7 * 86400 for x in lat) / len(lat)
        assert 0.45 <= within_day <= 0.75 and 0.8 <= within_week <= 0.97, (within_day, within_week)

        # More tenants than platforms: suffixed tenant ids, still valid.
        worldgen2.generate(5, 700, p("t.jsonl"), p("t.truth"), tenants=7)
        events7, _ = check_files(p("t.jsonl"), p("t.truth"))
        assert len({e["tenantId"] for e in events7}) == 7
        assert sum("requestSent" in e for e in events7) == 700

        # The CLI writes the same bytes as the library, and refuses bad values by flag.
        script = os.path.join(HERE, "worldgen2.py")
        subprocess.run([sys.executable, script, "--seed", "21", "--requests", "3000", "--out",
                        p("cli.jsonl"), "--truth", p("cli.truth"), "--tenants", "5", "--quiet"],
                       check=True)
        assert read("cli.jsonl") == read("a.jsonl") and read("cli.truth") == read("a.truth")
        for flag, value in (("--requests", "many"), ("--tenants", "0"), ("--seed", "x")):
            args = {"--seed": "1", "--requests": "10", "--tenants": "2"}
            args[flag] = value
            cmd = [sys.executable, script, "--out", p("bad.jsonl"), "--truth", p("bad.truth")]
            for k, v in args.items():
                cmd += [k, v]
            bad = subprocess.run(cmd, capture_output=True, text=True)
            assert bad.returncode != 0 and flag in bad.stderr, (flag, bad.stderr)
            assert len(bad.stderr.strip().splitlines()) == 1, bad.stderr
        st = subprocess.run([sys.executable, script, "--seed", "3", "--requests", "200", "--out",
                             p("s.jsonl"), "--truth", p("s.truth"), "--quiet", "--stats"],
                            check=True, capture_output=True, text=True)
        assert json.loads(st.stdout)["requests"] == 200
    for root, dirs, _ in os.walk(HERE):
        assert "__pycache__" not in dirs, root
    print("test_worldgen2: OK")


if __name__ == "__main__":
    main()
