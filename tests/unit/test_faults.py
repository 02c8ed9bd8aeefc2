"""Fault specs: what parses, what is refused with which message, and that a seed fixes the outcome."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from datetime import date, datetime, timedelta

import pytest
from werkzeug.wrappers import Request, Response

from sandbox.faults import FaultRule, Faults, FaultSpecError, hide_unindexed, parse_spec, rule_from_json
from sandbox.scenario import build

BRIEF_SPEC = ("429@jira-cloud:p=0.1,retry_after=2;503@github:every=7;drop:p=0.01;"
              "truncate@github/repos/<owner>/<repo>/issues:every=5;latency:ms=50,jitter=10;lag@jira-cloud:seconds=60")


def test_a_spec_reads_into_rules_and_back():
    rules = parse_spec(BRIEF_SPEC)
    assert rules == (
        FaultRule("429", site="jira-cloud", p=0.1, retry_after=2),
        FaultRule("503", site="github", every=7),
        FaultRule("drop", p=0.01),
        FaultRule("truncate", site="github", endpoint="/repos/<owner>/<repo>/issues", every=5),
        FaultRule("latency", ms=50, jitter=10),
        FaultRule("lag", site="jira-cloud", seconds=60),
    )
    assert ";".join(r.spec for r in rules) == BRIEF_SPEC
    assert parse_spec(";".join(r.spec for r in rules)) == rules


@pytest.mark.parametrize("spec, rule", [
    ("503@github:times=3", FaultRule("503", site="github", times=3)),
    ("403@github:retry_after=1", FaultRule("403", site="github", retry_after=1)),
    ("latency@*/rest/api/*/search*:ms=500,every=10", FaultRule("latency", endpoint="/rest/api/*/search*", ms=500,
                                                               every=10)),
    ("lag:seconds=30", FaultRule("lag", site="jira-cloud", seconds=30)),
    (" malformed @ jira-dc : p = 0.5 ; ", FaultRule("malformed", site="jira-dc", p=0.5)),
])
def test_spec_forms(spec, rule):
    assert parse_spec(spec) == (rule,)


@pytest.mark.parametrize("spec, message", [
    ("430", "fault rule '430': unknown fault kind '430' (expected one of latency, 429"),
    ("429@jira", "unknown site 'jira' (expected jira-cloud, jira-dc, github or *)"),
    ("429:p=1.5", "p must be above 0 and at most 1, found 1.5"),
    ("429:p=often", "p must be a number from 0 to 1, found 'often'"),
    ("429:p=0.5,every=2", "give p or every, not both"),
    ("503:every=0", "every must be at least 1, found 0"),
    ("503:times=2.5", "times must be a whole number, found '2.5'"),
    ("503:seconds=3", "503 takes no 'seconds' (it takes after, every, p, project, retry_after, times)"),
    ("drop:retry_after=1", "drop takes no 'retry_after'"),
    ("latency", "latency needs ms=N with N > 0"),
    ("latency:ms=10,ms=20", "'ms' is given twice"),
    ("latency:ms", "expected NAME=VALUE, found 'ms'"),
    ("latency:speed=3", "unknown parameter 'speed'"),
    ("403", "403 is GitHub's secondary rate limit: write 403@github"),
    ("lag@jira-dc:seconds=60", "lag models Jira Cloud's search index"),
    ("lag:seconds=60,every=2", "lag takes no 'every' (it takes seconds)"),
    ("ratelimit", "ratelimit is GitHub's primary rate limit: write ratelimit@github"),
    ("ratelimit@github:status=500", "status must be 403 or 429, found 500"),
    ("ratelimit@github:reset=0", "reset must be at least 1, found 0"),
    ("429@github:reset=5", "429 takes no 'reset'"),
    ("503@github:after=-1", "after must not be negative, found -1"),
    ("404@jira-dc:project=", "expected NAME=VALUE, found 'project='"),
    ("lag:seconds=60,project=PAY", "lag takes no 'project' (it takes seconds)"),
])
def test_bad_specs_say_which_rule_and_what_is_wrong(spec, message):
    with pytest.raises(FaultSpecError) as error:
        parse_spec(f"latency:ms=1;{spec}")
    assert f"fault rule '{spec.strip()}'" in str(error.value)
    assert message in str(error.value)


@pytest.mark.parametrize("spec, rule", [
    ("ratelimit@github:times=1,after=20,reset=2,status=429",
     FaultRule("ratelimit", site="github", times=1, after=20, reset=2, status=429)),
    ("ratelimit@github/repos/<owner>/<repo>/issues", FaultRule("ratelimit", site="github",
                                                              endpoint="/repos/<owner>/<repo>/issues")),
    ("404@jira-dc:project=CART", FaultRule("404", site="jira-dc", project="CART")),
    ("404@github:project=acme/web", FaultRule("404", site="github", project="acme/web")),
    ("500@github/repos/<owner>/<repo>/issues:after=1,project=acme/web",
     FaultRule("500", site="github", endpoint="/repos/<owner>/<repo>/issues", after=1, project="acme/web")),
    # an endpoint pattern's converter holds a ':', which does not start the parameters
    ("drop@github/repos/<owner>/<repo>/issues/<int:number>/sub_issues:after=2",
     FaultRule("drop", site="github", endpoint="/repos/<owner>/<repo>/issues/<int:number>/sub_issues", after=2)),
])
def test_primary_rate_limit_not_found_after_and_project_read_and_round_trip(spec, rule):
    assert parse_spec(spec) == (rule,)
    assert parse_spec(rule.spec) == (rule,)
    assert rule_from_json({k: v for k, v in asdict(rule).items() if v is not None}) == rule


def test_rules_as_json_share_the_spec_checks():
    assert rule_from_json({"kind": "429", "site": "github", "p": 0.25, "retry_after": 1}) == \
        FaultRule("429", site="github", p=0.25, retry_after=1)
    for body, message in [({"site": "github"}, "expected an object with a 'kind'"),
                          ({"kind": "429", "colour": "red"}, "unknown parameter 'colour'"),
                          ({"kind": "latency", "ms": True}, "ms must be a number"),
                          ({"kind": "latency", "ms": -5}, "latency needs ms=N with N > 0"),
                          ({"kind": "404", "project": 7}, "project is a Jira project key or a GitHub owner/name"),
                          ({"kind": "404", "project": "a b"}, "project is a Jira project key")]:
        with pytest.raises(FaultSpecError, match=message):
            rule_from_json(body)


def run(faults: Faults, count: int, site: str = "github", endpoint: str = "/repos/<owner>/<repo>/issues") -> list:
    """Outcomes of ``count`` requests: the status each got (0 for a dropped connection), or the body."""
    outcomes = []
    for _ in range(count):
        request = Request.from_values("/")
        response = faults.apply(request, site, endpoint, lambda: Response(b'{"ok":true}'))
        outcomes.append(response.status_code if response.status_code != 200 else response.get_data())
    return outcomes


def test_the_seed_fixes_which_requests_meet_faults():
    rules = parse_spec("503@github:p=0.3;drop:p=0.2;truncate:p=0.3")
    first, again, other = Faults(seed=1), Faults(seed=1), Faults(seed=2)
    for faults in (first, again, other):
        faults.set(rules)
    outcomes = run(first, 200)
    assert outcomes == run(again, 200)
    assert outcomes != run(other, 200)
    assert {0, 503, b'{"ok":true}', b'{"ok"'} == set(outcomes)
    assert first.injected() == {"503": outcomes.count(503), "drop": outcomes.count(0),
                                "truncate": outcomes.count(b'{"ok"')}
    first.set(rules)  # fresh random streams: the same sequence again
    assert run(first, 200) == outcomes


def test_latency_jitter_is_seeded_too(monkeypatch):
    delays: list[float] = []
    monkeypatch.setattr(time, "sleep", delays.append)
    for _ in range(2):
        faults = Faults(seed=5)
        faults.set(parse_spec("latency:ms=50,jitter=10"))
        run(faults, 20)
    assert delays[:20] == delays[20:]
    assert all(0.04 <= d <= 0.06 for d in delays) and len(set(delays)) > 1


def test_every_times_and_filters():
    faults = Faults(seed=0)
    faults.set(parse_spec("503@github/repos/*/issues:every=3,times=2;500@jira-dc"))
    assert [o == 503 for o in run(faults, 9)] == [False, False, True, False, False, True, False, False, False]
    assert run(faults, 2, endpoint="/repos/<owner>/<repo>/milestones") == [b'{"ok":true}'] * 2
    assert run(faults, 1, site="jira-dc", endpoint="/rest/api/2/serverInfo") == [500]
    assert faults.injected() == {"500": 1, "503": 2}


def test_each_tracker_answers_with_its_own_error():
    faults = Faults(seed=0)
    faults.set(parse_spec("429@jira-cloud:retry_after=2;403@github;503@jira-dc;502@github"))
    jira = faults.apply(Request.from_values("/"), "jira-cloud", "/rest/api/3/search/jql", Response)
    assert jira.status_code == 429 and jira.headers["Retry-After"] == "2"
    assert jira.headers["X-RateLimit-Remaining"] == "0" and jira.headers["RateLimit-Reason"]
    assert datetime.strptime(jira.headers["X-RateLimit-Reset"], "%Y-%m-%dT%H:%M:%SZ")
    assert json.loads(jira.get_data()) == {"errorMessages": ["Rate limit exceeded."], "errors": {}}
    github = faults.apply(Request.from_values("/"), "github", "/rate_limit", Response)
    assert github.status_code == 403 and github.headers["Retry-After"] == "1"
    assert json.loads(github.get_data())["message"].startswith("You have exceeded a secondary rate limit")
    dc = faults.apply(Request.from_values("/"), "jira-dc", "/rest/api/2/search", Response)
    assert dc.status_code == 503 and "Retry-After" not in dc.headers
    assert json.loads(dc.get_data())["errorMessages"] == ["Service Unavailable"]


def test_lagging_search_hides_recent_updates_unless_reconciled():
    scenario = build("demo", 7, date(2026, 11, 27))
    items = tuple(sorted(scenario.items_by_project["PAY"], key=lambda i: i.updated_at))
    newest = items[-1]
    lag = (scenario.now - newest.updated_at + timedelta(seconds=1)).total_seconds()
    request = Request.from_values("/", environ_overrides={"sandbox.search_lag_seconds": lag})
    assert newest not in hide_unindexed(request, items, scenario.now, [])
    assert request.environ["sandbox.search_lag_hid"]
    assert newest in hide_unindexed(request, items, scenario.now, [str(newest.uid)])
    untouched = Request.from_values("/")
    assert hide_unindexed(untouched, items, scenario.now, []) == items


def test_an_exhausted_primary_limit_answers_every_request_until_its_reset(monkeypatch):
    clock = [1_000_000.25]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    faults = Faults(seed=0)
    faults.set(parse_spec("ratelimit@github:after=2,times=1,reset=2"))
    assert run(faults, 3) == [b'{"ok":true}', b'{"ok":true}', 403]  # the budget runs out on the third
    response = faults.apply(Request.from_values("/"), "github", "/repos/<owner>/<repo>", Response)
    assert response.status_code == 403 and "Retry-After" not in response.headers
    assert json.loads(response.get_data())["message"] == "API rate limit exceeded for user ID 1."
    assert {k: response.headers[k] for k in ("X-RateLimit-Remaining", "X-RateLimit-Reset", "X-RateLimit-Resource")} \
        == {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1000002", "X-RateLimit-Resource": "core"}
    assert {"X-RateLimit-Limit", "X-RateLimit-Used"} <= set(response.headers.keys())
    clock[0] = 1_000_001.9
    assert run(faults, 1) == [403]  # still before the reset
    clock[0] = 1_000_002.0
    assert run(faults, 2) == [b'{"ok":true}'] * 2  # reset, and times=1: the budget lasts
    assert faults.injected() == {"ratelimit": 3}
    faults.set(parse_spec("ratelimit@github:status=429"))
    assert run(faults, 1) == [429]


def test_project_targets_one_jira_project_or_github_repository():
    faults = Faults(seed=0)
    faults.set(parse_spec("404@jira-dc:project=CART;404@github:project=acme/web"))

    def status(site: str, endpoint: str, path: str, **kwargs) -> int:
        request = Request.from_values(path, **kwargs)
        return faults.apply(request, site, endpoint, lambda: Response(b"{}")).status_code

    assert status("jira-dc", "/rest/api/2/project/<key>/versions", "/jira-dc/rest/api/2/project/CART/versions") == 404
    assert status("jira-dc", "/rest/api/2/project/<key>/versions", "/jira-dc/rest/api/2/project/ID/versions") == 200
    assert status("jira-dc", "/rest/api/2/issue/<key>", "/jira-dc/rest/api/2/issue/CART-12") == 404
    search = "/jira-dc/rest/api/2/search"
    assert status("jira-dc", "/rest/api/2/search", search, query_string={"jql": 'project = "CART" ORDER BY key'}) == 404
    assert status("jira-dc", "/rest/api/2/search", search, query_string={"jql": "project in (ID, cart)"}) == 404
    assert status("jira-dc", "/rest/api/2/search", search, method="POST", json={"jql": "project = CART"}) == 404
    assert status("jira-dc", "/rest/api/2/search", search, query_string={"jql": "project = ID"}) == 200
    assert status("jira-dc", "/rest/api/2/serverInfo", "/jira-dc/rest/api/2/serverInfo") == 200
    assert status("github", "/repos/<owner>/<repo>/issues/<int:number>", "/github/repos/acme/web/issues/3") == 404
    assert status("github", "/repos/<owner>/<repo>", "/github/api/v3/repos/ACME/Web") == 404
    assert status("github", "/repos/<owner>/<repo>", "/github/repos/acme/platform-api") == 200
    jira = faults.apply(Request.from_values("/jira-dc/rest/api/2/project/CART"), "jira-dc",
                        "/rest/api/2/project/<key>", Response)
    assert json.loads(jira.get_data())["errorMessages"] == ["No project could be found with key 'CART'."]
    github = faults.apply(Request.from_values("/github/repos/acme/web"), "github", "/repos/<owner>/<repo>", Response)
    assert json.loads(github.get_data())["message"] == "Not Found" and "Retry-After" not in github.headers
