"""``program.yaml``: which programs exist, which tracker projects they span, where secrets live.

The file names environment variables, never secrets. A wrong file fails with a ``ConfigError``
whose lines name the field, what was found and what is expected; nothing runs on a bad file.
"""

from __future__ import annotations

import codecs
import os
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator,
)

from connectors.pacing import PROJECTS_AT_ONCE, REQUESTS_IN_FLIGHT, Limits
from transforms.health import HealthThresholds

SANDBOX_URL = "sandbox"  # a site whose url is this is served by the built-in tracker sandbox
SANDBOX_SITES = {"jira-cloud": "jira", "jira-dc": "jira", "github": "github"}  # what the sandbox serves

_JIRA_KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,49}$")
_GITHUB_REPO = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
JIRA_CLOUD_HOSTS = (".atlassian.net", ".jira.com")  # Atlassian's own domains: always Jira Cloud

# Shapes of credentials, so that a pasted one is never echoed in a message: GitHub tokens (ghp_,
# gho_, ghu_, ghs_, ghr_, github_pat_), Atlassian API tokens (ATATT, ATCTT), HTTP Authorization
# values, and URLs that carry user:password. Long base64-like runs (a Data Center personal access
# token is 44 such characters) count when they mix digits, lower and upper case.
_CREDENTIAL_START = re.compile(r"^(?:gh[pousr]_|github_pat_|AT[AC]TT|(?i:bearer|basic)\s)")
_CREDENTIAL_ANYWHERE = re.compile(
    r"\bgh[pousr]_[A-Za-z0-9]{8,}|github_pat_\w{8,}|\bAT[AC]TT[\w+/=-]{8,}|(?i:authorization)\s*:"
    r"|://[^/\s@]*:[^/\s@]*@")
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/=]{24,}")
_SECRET_FIELD = re.compile(r"(?i)token|passw|secret|credential|auth|api_?key|(?:^|_)pat(?:$|_)")
NOT_SHOWN = "a value that is not shown (it may be a secret)"


class ConfigError(Exception):
    """A program config that cannot be used; ``str()`` is a message a user can act on."""


class _Model(BaseModel):
    # hide_input_in_errors: a ValidationError printed anywhere (not through _format) never shows
    # what was given, which may be a pasted secret.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


def looks_like_credential(text: str) -> bool:
    """True for text shaped like a token, a password or an Authorization header value."""
    text = text.strip()
    if _CREDENTIAL_START.match(text) or _CREDENTIAL_ANYWHERE.search(text):
        return True
    return any(re.search(r"[0-9]", run) and re.search(r"[a-z]", run) and re.search(r"[A-Z]", run)
               for run in _BASE64_RUN.findall(text))


def plausible_env_name(value: str) -> bool:
    """A name a shell can export (``[A-Za-z_][A-Za-z0-9_]*``) that is not shaped like a token.

    Tokens that happen to be valid names are told apart by shape: a known token prefix, a long
    stretch without ``_`` that holds digits (hex and base64 tokens), or 24+ characters mixing
    digits, lower and upper case in long stretches. ``GITHUB_TOKEN``, ``Jira_Token_For_Team2``
    and ``PULSE_SANDBOX_TOKEN`` pass; ``ghp_...``, ``ATATT3xFfGF0...`` and a 44-character PAT do not.
    """
    if not _ENV_NAME.fullmatch(value) or looks_like_credential(value):
        return False
    longest = max(value.split("_"), key=len)
    if len(longest) >= 20 and re.search(r"[0-9]", longest):
        return False
    mixed = all(re.search(p, value) for p in (r"[0-9]", r"[a-z]", r"[A-Z]"))
    return not (len(value) >= 24 and mixed and len(longest) >= 12)


def _env_name(value: Any, info: ValidationInfo, kind: str) -> str | None:
    """Validate a ``*_env`` field; its message never holds the value (a pasted secret, often)."""
    if value is None and info.field_name == "user_env":
        return None
    if isinstance(value, str) and plausible_env_name(value):
        return value
    what, example = {
        ("jira", "token_env"): ("the API token (Cloud) or personal access token (Server/Data Center)", "JIRA_TOKEN"),
        ("jira", "user_env"): ("the user name (Cloud: your e-mail)", "JIRA_USER"),
        ("github", "token_env"): ("the token", "GITHUB_TOKEN"),
    }[(kind, info.field_name)]
    raise ValueError(f"set it to the NAME of an environment variable that holds {what}, e.g. {example} "
                     f"(export {example}=... and {info.field_name}: {example}); the value you gave is not a "
                     f"variable name and may be a token itself, so it is not shown")


def _url(value: str) -> str:
    if value != SANDBOX_URL and not re.match(r"^https?://[^\s/]+", value):
        raise ValueError(f"expected an http(s) URL such as https://acme.atlassian.net, "
                         f"or '{SANDBOX_URL}' for the built-in tracker sandbox")
    return value.rstrip("/")


class LimitsConfig(_Model):
    """A site's request limits, which the sync keeps within (``connectors.pacing``): requests in
    flight at once, and a budget of points (a read 1, a write 5) in any window of seconds."""

    max_in_flight: Annotated[int, Field(ge=1, le=100)] = 100
    points: Annotated[int, Field(ge=1)] | None = None
    window_seconds: Annotated[float, Field(gt=0, le=3600)] = 60.0

    def limits(self) -> Limits:
        return Limits(self.max_in_flight, self.points, self.window_seconds)


class JiraSiteConfig(_Model):
    """A Jira Cloud site or a Jira Server/Data Center instance."""

    kind: Literal["jira"]
    url: str = Field(description="https://acme.atlassian.net, https://jira.acme.com, or 'sandbox'")
    deployment: Literal["auto", "cloud", "server"] = "auto"
    user_env: str | None = Field(None, description="env var with the user (Cloud: e-mail) for basic auth; "
                                                   "omit for a bearer personal access token")
    token_env: str = Field(description="env var with the API token or personal access token")
    story_points_fields: tuple[str, ...] = ("Story point estimate", "Story Points")
    page_size: Annotated[int, Field(ge=1, le=100)] = 100
    concurrency: Annotated[int, Field(ge=1, le=64)] = PROJECTS_AT_ONCE  # projects read at once, a thread each
    # Jira publishes no numbers: its 429s say how long to wait (Retry-After), and every thread waits.
    # An admin's Data Center limit can be written here (points: requests per window_seconds).
    limits: LimitsConfig = LimitsConfig()
    # Link types that are dependencies, by their outward description (case-insensitive): `blocks`
    # when the issue with the outward link blocks the other, `blocked_by` when it waits on it.
    blocking_links: dict[str, Literal["blocks", "blocked_by"]] = {
        "blocks": "blocks", "is blocked by": "blocked_by", "depends on": "blocked_by"}
    # Remote links (e.g. GitHub issues the GitHub for Jira app linked) have no bulk API: one
    # request per issue whose `updated` moved, every issue on a full sync. Off unless asked for.
    remote_links: bool = False

    @field_validator("url")
    @classmethod
    def _check_url(cls, v: str) -> str:
        return _url(v)

    @field_validator("user_env", "token_env", mode="before")
    @classmethod
    def _check_env(cls, v: Any, info: ValidationInfo) -> str | None:
        return _env_name(v, info, "jira")

    @field_validator("blocking_links")
    @classmethod
    def _lower_outward(cls, v: dict[str, str]) -> dict[str, str]:
        return {" ".join(k.lower().split()): meaning for k, meaning in v.items()}


class LabelRules(_Model):
    """How GitHub labels (matched case-insensitively) map to what Jira has as fields."""

    type: dict[str, tuple[str, ...]] = {
        "epic": ("epic",), "bug": ("bug", "defect"), "story": ("story", "feature", "enhancement"),
        "task": ("task", "chore"),
    }
    priority: dict[str, tuple[str, ...]] = {
        "highest": ("p0", "priority: critical", "critical"), "high": ("p1", "priority: high"),
        "medium": ("p2", "priority: medium"), "low": ("p3", "priority: low"),
    }
    risk: tuple[str, ...] = ("risk", "at risk", "at-risk")
    in_progress: tuple[str, ...] = ("in progress", "wip", "doing")
    in_review: tuple[str, ...] = ("in review", "review")

    def rows(self) -> list[tuple[str, str, str, int]]:
        """(rule, value, label, precedence): the first listed value wins when several match."""
        out = [("type", value, label.lower(), n) for n, (value, labels) in enumerate(self.type.items())
               for label in labels]
        out += [("priority", value, label.lower(), n) for n, (value, labels) in enumerate(self.priority.items())
                for label in labels]
        out += [("risk", "risk", label.lower(), 0) for label in self.risk]
        out += [("status", "in review", label.lower(), 0) for label in self.in_review]
        out += [("status", "in progress", label.lower(), 1) for label in self.in_progress]
        return out


class GithubSiteConfig(_Model):
    """GitHub.com or GitHub Enterprise Server (``https://ghe.acme.com/api/v3``)."""

    kind: Literal["github"]
    url: str = "https://api.github.com"
    token_env: str = Field(description="env var with a GitHub token")
    page_size: Annotated[int, Field(ge=1, le=100)] = 100
    # PyGithub's fixed spacing between requests (it offers 0.25 s); `limits` paces instead.
    seconds_between_requests: Annotated[float, Field(ge=0, le=60)] = 0.0
    # Repositories read at once, a thread each (sync.requests_in_flight bounds their requests).
    concurrency: Annotated[int, Field(ge=1, le=64)] = PROJECTS_AT_ONCE
    # GitHub's documented secondary limits: 100 requests in flight, 900 points a minute (a GET 1).
    limits: LimitsConfig = LimitsConfig(points=900)
    labels: LabelRules = LabelRules()

    @field_validator("url")
    @classmethod
    def _check_url(cls, v: str) -> str:
        return _url(v)

    @field_validator("token_env", mode="before")
    @classmethod
    def _check_env(cls, v: Any, info: ValidationInfo) -> str:
        return _env_name(v, info, "github")


SiteConfig = Annotated[JiraSiteConfig | GithubSiteConfig, Field(discriminator="kind")]


class ProjectConfig(_Model):
    """One Jira project (``key``, optionally narrowed by ``jql``) or one GitHub repo (``repo``)."""

    site: str
    key: str | None = None
    jql: str | None = None
    repo: str | None = None
    name: str | None = None

    @field_validator("key")
    @classmethod
    def _key(cls, v: str | None) -> str | None:
        if v is not None and not _JIRA_KEY.match(v):
            raise ValueError("expected a Jira project key: capital letters, digits and _, e.g. PAY")
        return v

    @field_validator("repo")
    @classmethod
    def _repo(cls, v: str | None) -> str | None:
        if v is not None and not _GITHUB_REPO.match(v):
            raise ValueError("expected a GitHub repository as owner/name, e.g. acme/web")
        return v

    @property
    def project_key(self) -> str:
        return self.key or self.repo or ""


class MilestoneMemberConfig(_Model):
    """One part of a program milestone: a project's Jira version or GitHub milestone by name
    (``project`` + ``milestone``), an epic by key (``epic``: its children are the scope), or a Jira
    sprint by name (``project`` + ``sprint``: the sprint on that project's site)."""

    project: str | None = None
    milestone: str | None = None
    epic: str | None = None
    sprint: str | None = None

    def member(self) -> tuple[str, str, str]:
        """(kind, project key, name): kind milestone, epic or sprint."""
        if self.epic is not None:
            return "epic", self.project or _epic_project(self.epic), self.epic
        if self.sprint is not None:
            return "sprint", self.project or "", self.sprint
        return "milestone", self.project or "", self.milestone or ""


def _epic_project(key: str) -> str:
    """PAY-12 -> PAY; acme/web#34 -> acme/web."""
    return key.rsplit("#", 1)[0] if "#" in key else key.rsplit("-", 1)[0]


class ProgramMilestoneConfig(_Model):
    """A date the program commits to over several projects (programs[].milestones): its scope is
    its members'. ``baseline``: the date first committed (default: the due date first synced);
    ``committed_on``: the day the plan was agreed (default: first synced), when the scope baseline
    is taken."""

    name: str = Field(min_length=1)
    due: date
    baseline: date | None = None
    committed_on: date | None = None
    members: tuple[MilestoneMemberConfig, ...] = Field(min_length=1)


def _milestone_problems(config: Any) -> list[str]:
    """Each program milestone named once per program; each member one of milestone, epic or
    sprint, of a project of the same program (a sprint's on a Jira site)."""
    problems: list[str] = []
    for p_i, program in enumerate(config.programs):
        kinds = {p.project_key: config.sites[p.site].kind for p in program.projects if p.site in config.sites}
        names: set[str] = set()
        for m_i, milestone in enumerate(program.milestones):
            where = f"programs[{p_i}].milestones[{m_i}]"
            if milestone.name in names:
                problems.append(f"{where}.name: found {milestone.name!r} twice in program {program.id!r}; "
                                f"expected unique milestone names per program")
            names.add(milestone.name)
            for k, member in enumerate(milestone.members):
                at = f"{where}.members[{k}]"
                given = [f for f in ("milestone", "epic", "sprint") if getattr(member, f) is not None]
                if len(given) != 1:
                    problems.append(f"{at}: found {', '.join(given) or 'none'} of milestone, epic, sprint; expected "
                                    f"exactly one, e.g. {{project: PAY, milestone: 'PAY 2.0'}}, {{epic: PAY-12}} or "
                                    f"{{project: PAY, sprint: 'PAY Sprint 14'}}")
                    continue
                kind, project, _ = member.member()
                if kind != "epic" and member.project is None:
                    problems.append(f"{at}.project: missing; expected the Jira key or owner/name of the project "
                                    f"the {kind} belongs to, one of: {', '.join(sorted(kinds))}")
                elif project not in kinds:
                    problems.append(f"{at}: project {project!r} is not in program {program.id!r}; expected one of: "
                                    f"{', '.join(sorted(kinds))}")
                elif kind == "sprint" and kinds[project] != "jira":
                    problems.append(f"{at}.project: {project!r} is on GitHub, which has no sprints; expected a Jira "
                                    f"project of program {program.id!r}")
    return problems


class HealthSettings(_Model):
    """Where each health dimension turns amber and red (marts.health); defaults are issue #14's.
    ``health:`` sets them for every program, ``programs[].health:`` overrides some for one."""

    forecast_green_above: Annotated[float, Field(gt=0, lt=1)] = 0.90
    forecast_red_at_or_below: Annotated[float, Field(ge=0, lt=1)] = 0.70
    schedule_amber_points: Annotated[float, Field(ge=0, le=100)] = 10.0
    schedule_red_points: Annotated[float, Field(ge=0, le=100)] = 20.0
    slip_amber_share: Annotated[float, Field(ge=0, le=10)] = 0.10
    slip_red_moves: Annotated[int, Field(ge=1, le=100)] = 3
    blocked_amber_days: Annotated[int, Field(ge=1, le=365)] = 5
    blocked_red_days: Annotated[int, Field(ge=1, le=365)] = 14
    aging_red_share: Annotated[float, Field(ge=0, le=1)] = 0.25
    scope_amber_share: Annotated[float, Field(ge=0, le=10)] = 0.30
    scope_window_days: Annotated[int, Field(ge=1, le=365)] = 30
    scope_red_days_to_due: Annotated[int, Field(ge=0, le=365)] = 30
    history_weeks: Annotated[int, Field(ge=0, le=104)] = 12  # health reconstructed this far back
    history_step_days: Annotated[int, Field(ge=1, le=28)] = 7  # ... one day in this many first
    history_replays_per_build: Annotated[int, Field(ge=0, le=1000)] = 12  # then the rest, this many a build

    @model_validator(mode="after")
    def _ordered(self) -> HealthSettings:
        problems = [f"{amber}: found {getattr(self, amber)} and {red}: {getattr(self, red)}; expected {amber} "
                    f"{'above' if amber.startswith('forecast') else 'below'} {red}"
                    for amber, red, ok in (
                        ("forecast_green_above", "forecast_red_at_or_below",
                         self.forecast_green_above > self.forecast_red_at_or_below),
                        ("schedule_amber_points", "schedule_red_points", self.schedule_amber_points < self.schedule_red_points),
                        ("blocked_amber_days", "blocked_red_days", self.blocked_amber_days < self.blocked_red_days))
                    if not ok]
        if problems:
            raise ValueError("; ".join(problems))
        return self


class ProgramConfig(_Model):
    id: str
    name: str
    goal: str | None = None
    projects: tuple[ProjectConfig, ...] = Field(min_length=1)
    milestones: tuple[ProgramMilestoneConfig, ...] = ()  # program milestones over the projects' own
    health: HealthSettings | None = None  # thresholds for this program; unset ones come from health:
    # who escalations name (Slack mentions such as <@U024BE7LH> or plain names); tracker text is not trusted here
    owners: tuple[str, ...] = ()

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError("expected a short id: lower-case letters, digits, - and _, e.g. checkout")
        if v == "index":  # the report writes <program id>.html beside its index.html
            raise ValueError("'index' is reserved (the status report's index.html); expected another id")
        return v


class WarehouseConfig(_Model):
    path: str = "pulse.duckdb"
    # transforms: set-based SQL; 2GB keeps a full rebuild at 1M items within 3 GiB of RSS (DuckDB
    # spills to disk beyond it) and a night needs a fraction of it
    memory_limit: str = "2GB"
    # Ingest writes page by page; DuckDB would otherwise keep every written block cached up to
    # memory_limit, so a sync's memory would grow with the portfolio (2.3 GB at 100k items).
    ingest_memory_limit: str = "512MB"
    threads: Annotated[int, Field(ge=1, le=64)] = 2

    @field_validator("memory_limit", "ingest_memory_limit")
    @classmethod
    def _check_size(cls, v: str) -> str:
        if not re.match(r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", v.strip()):
            raise ValueError("expected a DuckDB memory size such as 512MB or 4GB")
        return v.strip()


class LandingSettings(_Model):
    """Scale-out: the night's projects fetched by ``processes`` shards at once, each its own Dagster
    step (and process, on the multiprocess, docker, k8s or celery executor), landing their writes
    in ``store``; one step then writes them into the warehouse (warehouse/landing.py)."""

    # 1: one step fetches and writes, the fastest on one machine; N: N shards and a merge step
    processes: Annotated[int, Field(ge=1, le=64)] = 1
    # a folder (relative to program.yaml; default: 'landing' beside the warehouse) or an fsspec
    # URL such as s3://bucket/prefix (endpoint and keys from the environment: AWS_ENDPOINT_URL,
    # AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY); steps on other machines need a store they share
    store: str | None = None

    @field_validator("store")
    @classmethod
    def _no_secrets_in_url(cls, v: str | None) -> str | None:
        if v is not None and re.match(r"^[a-z0-9+]+://[^/@\s]*:[^/@\s]*@", v):
            raise ValueError("a store URL must not carry credentials; give them in the environment "
                             "(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) and write s3://bucket/prefix")
        return v


class SyncSettings(_Model):
    """How incremental syncs reach back and how often they look for deletions."""

    # Jira's JQL is minute-granular and read in the user's zone; the window re-reads a little.
    overlap_minutes: Annotated[int, Field(ge=1, le=1440)] = 10
    # Jira Cloud's search is eventually consistent: a cursor never passes now minus this.
    index_lag_minutes: Annotated[int, Field(ge=0, le=1440)] = 2
    # Deleted and moved issues show only in a complete listing: nights with changes always make
    # one (Jira); a quiet night only when this many days have passed (0: every night).
    reconcile_every_days: Annotated[int, Field(ge=0, le=90)] = 7
    # One sync at a time per warehouse: a second one waits this long for the first, then exits 2
    # naming it (pulse sync --wait overrides).
    lock_wait_seconds: Annotated[int, Field(ge=0, le=86400)] = 300
    # The Dagster check every_project_synced_recently fails (severity ERROR) naming every project
    # whose last successful sync is older than this: a nightly sync and two hours' grace by default.
    freshness_hours: Annotated[int, Field(ge=1, le=720)] = 26
    # Requests in flight at once over every site (a sync process's own budget, shared: a site that
    # is done leaves its share to the others). Each site also keeps within its own `limits`.
    requests_in_flight: Annotated[int, Field(ge=1, le=100)] = REQUESTS_IN_FLIGHT
    landing: LandingSettings = LandingSettings()


class MetricsSettings(_Model):
    """How flow figures and forecasts are computed; the defaults are ../shared/METRICS.md's."""

    flow_window_days: Annotated[int, Field(ge=7, le=3650)] = 90
    throughput_weeks: Annotated[int, Field(ge=1, le=156)] = 12
    stale_days: Annotated[int, Field(ge=1, le=365)] = 14
    forecast_trials: Annotated[int, Field(ge=100, le=1_000_000)] = 10_000
    forecast_seed: int = 0
    discarded_resolutions: tuple[str, ...] = ("Won't Do", "Won't Fix", "Duplicate", "Cannot Reproduce",
                                              "Declined", "not_planned")


_GITHUB_LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")


class PersonIdentity(_Model):
    """How one tracker site knows a person: Jira Cloud account id, Jira Server/Data Center user
    name, or GitHub login (matched case-insensitively)."""

    site: str
    id: str

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("expected the person's id on the site: Jira Cloud account id, Jira Server/Data "
                             "Center user name, or GitHub login")
        return v.strip()


class PersonAlias(_Model):
    """One human and the identities several trackers know them by (program.yaml ``people.aliases``)."""

    key: str
    name: str
    identities: tuple[PersonIdentity, ...]

    @field_validator("identities")
    @classmethod
    def _identities(cls, v: tuple[PersonIdentity, ...]) -> tuple[PersonIdentity, ...]:
        if not v:
            raise ValueError("expected at least one identity, e.g. identities: [{site: github, id: alice-gh}]")
        return v

    @field_validator("key")
    @classmethod
    def _key(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError("expected a short person key: lower-case letters, digits, - and _, e.g. alice")
        return v

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("expected the person's name as it should be shown, e.g. Alice Martin")
        return v.strip()


class ResourceConflictSettings(_Model):
    """When a person's work in progress is a resource conflict (marts.resource_conflicts)."""

    # work in progress in this many projects or more
    min_projects: Annotated[int, Field(ge=2, le=100)] = 3
    # more items in progress than this
    wip_limit: Annotated[int, Field(ge=1, le=1000)] = 5


class PeopleSettings(_Model):
    """One person across trackers: identities that no e-mail joins are declared here; display
    names alone never merge two identities (they are suggested, marts.person_match_suggestions)."""

    aliases: tuple[PersonAlias, ...] = ()
    resource_conflicts: ResourceConflictSettings = ResourceConflictSettings()


def _people_problems(people: PeopleSettings, sites: dict[str, Any]) -> list[str]:
    """Alias keys unique, identities on configured sites, each identity in one alias only."""
    problems: list[str] = []
    keys: dict[str, int] = {}
    owner: dict[tuple[str, str], str] = {}
    for a_i, alias in enumerate(people.aliases):
        where = f"people.aliases[{a_i}]"
        if alias.key in keys:
            problems.append(f"{where}.key: found {alias.key!r} twice (also people.aliases[{keys[alias.key]}]); "
                            f"expected one entry per person: merge their identities into one")
        keys.setdefault(alias.key, a_i)
        for i_i, identity in enumerate(alias.identities):
            at = f"{where}.identities[{i_i}]"
            site = sites.get(identity.site)
            if site is None:
                problems.append(f"{at}.site: found {identity.site!r}; expected one of the names under 'sites': "
                                f"{', '.join(sorted(sites))}")
                continue
            if site.kind == "github" and not _GITHUB_LOGIN.match(identity.id):
                problems.append(f"{at}.id: found {identity.id!r}; site {identity.site!r} is GitHub: expected a "
                                f"login such as octocat (letters, digits and -)")
                continue
            ident = (identity.site, identity.id.lower())
            if ident in owner and owner[ident] != alias.key:
                problems.append(f"{at}: {identity.id} on {identity.site} is already an identity of person "
                                f"{owner[ident]!r}; expected each identity under one person")
            owner.setdefault(ident, alias.key)
    return problems


class SandboxConfig(_Model):
    """Serve sites whose url is 'sandbox' from the built-in tracker sandbox (reproducible)."""

    scenario: str = "demo"
    seed: int = 7
    as_of: date


def _deployment_problems(name: str, site: JiraSiteConfig | GithubSiteConfig) -> list[str]:
    """A forced deployment the site cannot be: the client would speak the wrong API (with
    ``server`` on a Cloud site, the Jira library answers Cloud-only searches with None)."""
    if not isinstance(site, JiraSiteConfig) or site.deployment == "auto":
        return []
    if site.url == SANDBOX_URL:
        actual = {"jira-cloud": "cloud", "jira-dc": "server"}.get(name, site.deployment)
        where = f"the sandbox's {name}"
    else:
        host = (urlsplit(site.url).hostname or "").lower()
        actual = "cloud" if host.endswith(JIRA_CLOUD_HOSTS) else site.deployment  # other hosts: either
        where = site.url
    if actual == site.deployment:
        return []
    if actual == "cloud":
        return [f"sites.{name}.deployment: found 'server' for {where}, a Jira Cloud site; expected 'auto' "
                f"or 'cloud' ('server' is for Jira Server/Data Center, whose API Jira Cloud does not answer)"]
    return [f"sites.{name}.deployment: found 'cloud' for {where}, a Jira Data Center site; expected 'auto' "
            f"or 'server'"]


_CRON_FIELD = r"[\d*/,\-A-Za-z?]+"
_CRON_RANGES = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))


class ReportSettings(_Model):
    """The status report's folder and weekly cadence, and where escalations are posted."""

    out: str = "reports"  # relative to program.yaml, like warehouse.path
    schedule: str = "0 6 * * 1"  # cron, UTC: Mondays at 06:00 (the Dagster schedule pulse_weekly_report)
    # env var holding a Slack-compatible incoming-webhook URL: a verdict that turns red or a
    # milestone that slips is posted once; unset, escalations are recorded but not posted
    webhook_url_env: str = "PULSE_WEBHOOK_URL"
    webhook_timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 10.0
    backtest: bool = True  # the forecast calibration table in the definitions (replays 26 weeks)

    @field_validator("schedule")
    @classmethod
    def _cron(cls, v: str) -> str:
        expected = "expected a cron expression of 5 fields, e.g. '0 6 * * 1' (Mondays 06:00 UTC)"
        if not re.fullmatch(rf"\s*{_CRON_FIELD}(\s+{_CRON_FIELD}){{4}}\s*", v):
            raise ValueError(expected)
        # numbers within each field's range: Dagster refuses the schedule, and so the whole code
        # location, otherwise
        for field, (name, low, high) in zip(v.split(), _CRON_RANGES):
            for number in re.findall(r"\d+", field.split("/")[0]):
                if not low <= int(number) <= high:
                    raise ValueError(f"found {number} in the {name} field; {expected}, {name} {low}-{high}")
        return v.strip()

    @field_validator("webhook_url_env")
    @classmethod
    def _env_name(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", v):
            raise ValueError("expected the NAME of an environment variable holding the webhook URL, e.g. "
                             "PULSE_WEBHOOK_URL (never the URL itself: it is a secret)")
        return v


class PulseConfig(_Model):
    version: Literal[1] = 1
    sites: dict[str, SiteConfig] = Field(min_length=1)
    programs: tuple[ProgramConfig, ...] = Field(min_length=1)
    warehouse: WarehouseConfig = WarehouseConfig()
    sync: SyncSettings = SyncSettings()
    metrics: MetricsSettings = MetricsSettings()
    people: PeopleSettings = PeopleSettings()
    health: HealthSettings = HealthSettings()
    report: ReportSettings = ReportSettings()
    sandbox: SandboxConfig | None = None

    @model_validator(mode="after")
    def _cross_references(self) -> PulseConfig:
        problems: list[str] = []
        seen_programs: set[str] = set()
        seen_projects: dict[tuple[str, str], str] = {}
        for p_i, program in enumerate(self.programs):
            if program.id in seen_programs:
                problems.append(f"programs[{p_i}].id: found {program.id!r} twice; expected unique program ids")
            seen_programs.add(program.id)
            for j, project in enumerate(program.projects):
                where = f"programs[{p_i}].projects[{j}]"
                site = self.sites.get(project.site)
                if site is None:
                    problems.append(f"{where}.site: found {project.site!r}; expected one of the names "
                                    f"under 'sites': {', '.join(sorted(self.sites))}")
                    continue
                if site.kind == "jira" and (project.key is None or project.repo is not None):
                    problems.append(f"{where}: site {project.site!r} is Jira; expected 'key: PROJECTKEY' "
                                    f"(and optionally 'jql'), found key={project.key!r} repo={project.repo!r}")
                    continue
                if site.kind == "github" and (project.repo is None or project.key or project.jql):
                    problems.append(f"{where}: site {project.site!r} is GitHub; expected 'repo: owner/name' "
                                    f"only, found key={project.key!r} repo={project.repo!r} jql={project.jql!r}")
                    continue
                ident = (project.site, project.project_key)
                if ident in seen_projects:
                    problems.append(f"{where}: {project.project_key} on {project.site} is already in program "
                                    f"{seen_projects[ident]!r}; expected each project in one program")
                seen_projects[ident] = program.id
        for name, site in self.sites.items():
            if site.url == SANDBOX_URL and SANDBOX_SITES.get(name) != site.kind:
                problems.append(f"sites.{name}.url: found 'sandbox' for a {site.kind} site named {name!r}; the "
                                f"sandbox serves only " + ", ".join(f"{n} ({k})" for n, k in SANDBOX_SITES.items()))
            problems.extend(_deployment_problems(name, site))
        uses_sandbox = any(s.url == SANDBOX_URL for s in self.sites.values())
        if uses_sandbox and self.sync.landing.processes > 1:
            problems.append(f"sync.landing.processes: found {self.sync.landing.processes} with a site whose url is "
                            "'sandbox'; the built-in sandbox lives inside one process, so shards in other processes "
                            "cannot reach it. Run `pulse sandbox --port 8080` and give the sites its URLs "
                            "(http://127.0.0.1:8080/<site>), or set processes: 1")
        if uses_sandbox and self.sandbox is None:
            problems.append("sandbox: a site has url 'sandbox' but there is no 'sandbox:' section; expected "
                            "sandbox: {scenario: demo, seed: 7, as_of: YYYY-MM-DD}")
        problems.extend(_people_problems(self.people, self.sites))
        problems.extend(_milestone_problems(self))
        problems.extend(_merged_health_problems(self))
        if problems:
            raise ValueError("\n".join(problems))
        return self

    # -- derived views --------------------------------------------------------------------------
    def projects(self) -> list[tuple[ProgramConfig, ProjectConfig]]:
        return [(program, project) for program in self.programs for project in program.projects]

    def clock(self) -> datetime:
        """The instant the figures describe: the sandbox's 'now', else the wall clock."""
        if self.sandbox is not None and any(s.url == SANDBOX_URL for s in self.sites.values()):
            return datetime.combine(self.sandbox.as_of, time(0), tzinfo=timezone.utc)
        return datetime.now(timezone.utc)


@dataclass(frozen=True)
class LoadedConfig:
    """A validated config and the folder its relative paths are read from."""

    config: PulseConfig
    path: Path

    @property
    def warehouse_path(self) -> Path:
        p = Path(self.config.warehouse.path)
        return p if p.is_absolute() else (self.path.parent / p)

    @property
    def landing_url(self) -> str:
        """The landing store: a URL as given, a folder relative to program.yaml, by default
        'landing' beside the warehouse."""
        store = self.config.sync.landing.store
        if store is None:
            return str(self.warehouse_path.parent / "landing")
        if "://" in store:
            return store
        p = Path(store)
        return str(p if p.is_absolute() else self.path.parent / p)

    @property
    def report_path(self) -> Path:
        p = Path(self.config.report.out)
        return p if p.is_absolute() else (self.path.parent / p)


def _format(error: ValidationError, source: str) -> str:
    lines = []
    for e in error.errors():
        parts = list(e["loc"])
        if len(parts) >= 3 and parts[0] == "sites" and parts[2] in ("jira", "github"):
            del parts[2]  # the discriminator pydantic adds to the path; not a key in the file
        loc = ""
        for part in parts:
            if isinstance(part, str) and looks_like_credential(part):
                part = "(a key not shown: it may be a secret)"
            loc += f"[{part}]" if isinstance(part, int) else (f".{part}" if loc else str(part))
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "value_error" and not parts:  # cross-reference problems carry their own paths
            lines.extend(msg.splitlines())
            continue
        if e["type"] == "value_error" and str(parts[-1]).endswith("_env"):  # _env_name's message is the fix
            lines.append(f"{loc}: {msg}")
            continue
        lines.append(f"{loc or '(top level)'}: found {_shown(e, parts)}; {_expected(e, msg)}")
    return f"{source} is not a valid program config:\n  " + "\n  ".join(lines)


def _shown(e: dict[str, Any], parts: list) -> str:
    """What the file holds at an error, unless it is (or may be) a secret."""
    found = e.get("input")
    if e["type"] == "missing":
        return "nothing"
    last = str(parts[-1]) if parts else ""
    if last.endswith("_env") or (e["type"] == "extra_forbidden" and _SECRET_FIELD.search(last)):
        return NOT_SHOWN
    if _holds_credential(found):
        return NOT_SHOWN
    if isinstance(found, dict):
        return "a mapping with keys " + ", ".join(map(str, found))
    return repr(found)


def _holds_credential(value: Any) -> bool:
    if isinstance(value, str):
        return looks_like_credential(value)
    if isinstance(value, dict):
        return any(_holds_credential(k) or _holds_credential(v) for k, v in value.items())
    if isinstance(value, (list, tuple, set)):
        return any(_holds_credential(v) for v in value)
    return False


def _expected(e: dict[str, Any], msg: str) -> str:
    if e["type"] == "missing":
        return "expected this field"
    if e["type"] == "extra_forbidden":
        return "expected no such field (check its spelling)"
    return msg if msg.startswith("expected") else f"expected: {msg}"


def parse(data: Any, source: str = "program.yaml") -> PulseConfig:
    if data is None:
        raise ConfigError(f"{source}: the file is empty; expected a YAML mapping with 'sites' and 'programs' "
                          f"(see docs/configuration.md)")
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a YAML mapping with 'sites' and 'programs', found {type(data).__name__}")
    try:
        return PulseConfig.model_validate(data)
    except ValidationError as e:
        message = _format(e, source)
    # Raised outside the handler, so the ConfigError has no __context__: the ValidationError holds
    # every input value (a pasted secret too) and must not travel with it into logs or tracebacks.
    raise ConfigError(message)


def load(path: str | os.PathLike) -> LoadedConfig:
    """Read and validate a program config file. Every failure is a ConfigError naming the file and
    the fix; none carries the file's text (as a message, or as a chained exception)."""
    path = Path(path)
    raw, problem = _read(path)
    if problem is None:
        text, problem = _decode(path, raw)
    if problem is None:
        data, problem = _yaml(path, text)
    if problem is not None:
        raise ConfigError(problem)
    return LoadedConfig(parse(data, str(path)), path.resolve())


def _read(path: Path) -> tuple[bytes, str | None]:
    see = "expected a program config file (see docs/configuration.md)"
    if path.is_dir():
        return b"", f"{path}: is a folder; {see}, e.g. {path / 'program.yaml'}"
    try:
        return path.read_bytes(), None
    except (FileNotFoundError, NotADirectoryError):
        return b"", f"{path}: no such file; {see}: check the path, or write one with `pulse demo`"
    except PermissionError:
        return b"", (f"{path}: cannot be read (permission denied); {see} this user can read: "
                     f"check its permissions (chmod u+r) or run pulse as its owner")
    except OSError as e:
        return b"", f"{path}: cannot be read ({e.strerror or type(e).__name__}); {see}"


def _decode(path: Path, raw: bytes) -> tuple[str, str | None]:
    fix = "expected a YAML file saved as UTF-8: re-save it as UTF-8 (or convert it: iconv -t UTF-8)"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "", f"{path}: is UTF-16 text, not UTF-8; {fix}"
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError as e:
        start = e.start  # the error object holds the whole file: keep only the position
    line = raw.count(b"\n", 0, start) + 1
    return "", f"{path}: not UTF-8 text (line {line} has bytes that are not UTF-8); {fix}"


def _yaml(path: Path, text: str) -> tuple[Any, str | None]:
    try:
        return yaml.safe_load(text), None
    except yaml.YAMLError as e:
        # str(e) quotes the offending line, which may hold a secret: show where and what, not the line
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        what = ", ".join(filter(None, (getattr(e, "context", None), getattr(e, "problem", None))))
        if not what:
            what = str(e).splitlines()[0] if str(e) else type(e).__name__
    what = " ".join("(not shown)" if looks_like_credential(word) else word for word in what.split())
    return None, (f"{path}: not valid YAML{where}: {what}; expected YAML like docs/configuration.md shows "
                  f"(quote values that hold ': ' or start with a special character)")


def _unset(env_name: str, field: str) -> str:
    what = "user name" if field.endswith("user_env") else "credential"
    return (f"{field}: environment variable {env_name} is not set (or is empty); expected it to hold the "
            f"{what}: export {env_name}=... before running pulse, or set {field} to the variable that holds it")


def secret(env_name: str, field: str) -> str:
    """The value of a secret's environment variable, or an error naming the variable and the field
    (never the value). ``env_name`` is validated already; it is checked again, so that a config built
    without validation cannot put a pasted secret into this message either."""
    if not plausible_env_name(env_name):
        raise ConfigError(f"{field}: found {NOT_SHOWN}; expected the NAME of an environment variable "
                          f"that holds the credential")
    value = os.environ.get(env_name)
    if not value or not value.strip():
        raise ConfigError(_unset(env_name, field))
    return value


def preflight(loaded: LoadedConfig) -> None:
    """What a config needs of this machine, checked before anything runs or is written: the
    warehouse's folder exists and can be written, and every secret a site needs is set. Sandbox
    sites need none (the sandbox's credential is public and defaulted when it starts).

    Raises one ConfigError listing every problem, one per line, each naming the field and the fix.
    """
    problems = _warehouse_problems(loaded) + _secret_problems(loaded.config)
    if problems:
        raise ConfigError(f"{loaded.path} cannot be used on this machine:\n  " + "\n  ".join(problems))


def _warehouse_problems(loaded: LoadedConfig) -> list[str]:
    from warehouse.store import WarehousePaths  # lazy: DuckDB is not needed to parse a config

    paths = WarehousePaths(loaded.warehouse_path)
    published, folder = paths.published, paths.published.parent
    field = f"warehouse.path ({published})"
    if not folder.is_dir():
        existing = folder
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if existing.exists() and not existing.is_dir():
            return [f"{field}: {existing} is a file, not a folder; expected a path inside a folder: fix warehouse.path"]
        return [f"{field}: the folder {folder} does not exist; create it (mkdir -p {folder}) or fix warehouse.path"]
    if not os.access(folder, os.W_OK | os.X_OK):
        return [f"{field}: the folder {folder} is not writable by this user; make it writable or point "
                f"warehouse.path at a folder you can write"]
    problems = []
    if published.is_dir():
        problems.append(f"{field}: is a folder; expected a file name, e.g. {published / 'pulse.duckdb'}")
    work = paths.work
    if work.parent.exists() and not work.parent.is_dir():
        problems.append(f"{field}: {work.parent}, where the pipeline works, is a file; expected a folder: "
                        f"remove or rename the file")
    elif work.parent.is_dir() and not os.access(work.parent, os.W_OK | os.X_OK):
        problems.append(f"{field}: {work.parent}, where the pipeline works, is not writable by this user; "
                        f"make it writable (or run pulse as its owner)")
    elif work.exists() and not (work.is_file() and os.access(work, os.R_OK | os.W_OK)):
        problems.append(f"{field}: {work}, the pipeline's work database, cannot be written by this user; "
                        f"make it writable (or run pulse as its owner)")
    return problems


def _secret_problems(config: PulseConfig) -> list[str]:
    public: set[str] = set()
    if any(site.url == SANDBOX_URL for site in config.sites.values()):
        from sandbox.credentials import SANDBOX_TOKEN_ENV, SANDBOX_USER_ENV  # defaulted when the sandbox starts

        public = {SANDBOX_TOKEN_ENV, SANDBOX_USER_ENV}
    problems = []
    for name, site in config.sites.items():
        for attribute in ("token_env", "user_env"):
            env_name = getattr(site, attribute, None)
            if env_name is None or (site.url == SANDBOX_URL and env_name in public):
                continue
            value = os.environ.get(env_name)
            if not value or not value.strip():
                problems.append(_unset(env_name, f"sites.{name}.{attribute}"))
    return problems


def _merged_health_problems(config: PulseConfig) -> list[str]:
    """A program's own thresholds, with the rest from health:, must still be in order."""
    problems = []
    for p_i, program in enumerate(config.programs):
        if program.health is None:
            continue
        try:
            HealthSettings(**{**config.health.model_dump(), **program.health.model_dump(exclude_unset=True)})
        except ValidationError as exc:
            problems.append(f"programs[{p_i}].health: with the rest from health:, "
                            + "; ".join(str(e.get("ctx", {}).get("error", e["msg"])) for e in exc.errors()))
    return problems


def health_thresholds(config: PulseConfig) -> tuple[HealthThresholds, dict[str, HealthThresholds]]:
    """The default thresholds and each program's, with the fields its own ``health:`` leaves unset
    taken from the top-level ``health:``."""
    default = config.health.model_dump()
    per_program = {program.id: HealthThresholds(**{**default, **program.health.model_dump(exclude_unset=True)})
                   for program in config.programs if program.health is not None}
    return HealthThresholds(**default), per_program


def dump(config: PulseConfig) -> str:
    """YAML for a config, in the order people read it."""
    data = config.model_dump(mode="json", exclude_none=True)
    ordered = {k: data[k] for k in ("version", "sandbox", "warehouse", "sync", "metrics", "health", "report", "sites", "programs", "people")
               if data.get(k) is not None}
    return yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True)
