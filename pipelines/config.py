"""``program.yaml``: which programs exist, which tracker projects they span, where secrets live.

The file names environment variables, never secrets. A wrong file fails with a ``ConfigError``
whose lines name the field, what was found and what is expected; nothing runs on a bad file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

SANDBOX_URL = "sandbox"  # a site whose url is this is served by the built-in tracker sandbox
SANDBOX_SITES = {"jira-cloud": "jira", "jira-dc": "jira", "github": "github"}  # what the sandbox serves

_JIRA_KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,49}$")
_GITHUB_REPO = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class ConfigError(Exception):
    """A program config that cannot be used; ``str()`` is a message a user can act on."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _env_name(value: str | None) -> str | None:
    if value is not None and not _ENV_NAME.match(value):
        raise ValueError("expected the NAME of an environment variable (letters, digits, _), "
                         "not a secret itself: put the secret in the environment")
    return value


def _url(value: str) -> str:
    if value != SANDBOX_URL and not re.match(r"^https?://[^\s/]+", value):
        raise ValueError(f"expected an http(s) URL such as https://acme.atlassian.net, "
                         f"or '{SANDBOX_URL}' for the built-in tracker sandbox")
    return value.rstrip("/")


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
    concurrency: Annotated[int, Field(ge=1, le=8)] = 2  # projects read at once
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

    @field_validator("user_env", "token_env")
    @classmethod
    def _check_env(cls, v: str | None) -> str | None:
        return _env_name(v)

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
    # Spacing between requests (PyGithub's default): keeps a sync clear of secondary rate limits.
    seconds_between_requests: Annotated[float, Field(ge=0, le=60)] = 0.25
    # Repositories read at once; GitHub's secondary limits punish more.
    concurrency: Annotated[int, Field(ge=1, le=4)] = 2
    labels: LabelRules = LabelRules()

    @field_validator("url")
    @classmethod
    def _check_url(cls, v: str) -> str:
        return _url(v)

    @field_validator("token_env")
    @classmethod
    def _check_env(cls, v: str) -> str:
        return _env_name(v)


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


class ProgramConfig(_Model):
    id: str
    name: str
    goal: str | None = None
    projects: tuple[ProjectConfig, ...] = Field(min_length=1)

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError("expected a short id: lower-case letters, digits, - and _, e.g. checkout")
        return v


class WarehouseConfig(_Model):
    path: str = "pulse.duckdb"
    memory_limit: str = "4GB"  # transforms: set-based SQL over every item
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


class SyncSettings(_Model):
    """How incremental syncs reach back and how often they look for deletions."""

    # Jira's JQL is minute-granular and read in the user's zone; the window re-reads a little.
    overlap_minutes: Annotated[int, Field(ge=1, le=1440)] = 10
    # Jira Cloud's search is eventually consistent: a cursor never passes now minus this.
    index_lag_minutes: Annotated[int, Field(ge=0, le=1440)] = 2
    # Deleted and moved issues show only in a complete listing: nights with changes always make
    # one (Jira); a quiet night only when this many days have passed (0: every night).
    reconcile_every_days: Annotated[int, Field(ge=0, le=90)] = 7


class SandboxConfig(_Model):
    """Serve sites whose url is 'sandbox' from the built-in tracker sandbox (reproducible)."""

    scenario: str = "demo"
    seed: int = 7
    as_of: date


class PulseConfig(_Model):
    version: Literal[1] = 1
    sites: dict[str, SiteConfig] = Field(min_length=1)
    programs: tuple[ProgramConfig, ...] = Field(min_length=1)
    warehouse: WarehouseConfig = WarehouseConfig()
    sync: SyncSettings = SyncSettings()
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
        uses_sandbox = any(s.url == SANDBOX_URL for s in self.sites.values())
        if uses_sandbox and self.sandbox is None:
            problems.append("sandbox: a site has url 'sandbox' but there is no 'sandbox:' section; expected "
                            "sandbox: {scenario: demo, seed: 7, as_of: YYYY-MM-DD}")
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


def _format(error: ValidationError, source: str) -> str:
    lines = []
    for e in error.errors():
        parts = list(e["loc"])
        if len(parts) >= 3 and parts[0] == "sites" and parts[2] in ("jira", "github"):
            del parts[2]  # the discriminator pydantic adds to the path; not a key in the file
        loc = ""
        for part in parts:
            loc += f"[{part}]" if isinstance(part, int) else (f".{part}" if loc else str(part))
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "value_error" and not parts:  # cross-reference problems carry their own paths
            lines.extend(msg.splitlines())
            continue
        lines.append(f"{loc or '(top level)'}: found {_shown(e, parts)}; {_expected(e, msg)}")
    return f"{source} is not a valid program config:\n  " + "\n  ".join(lines)


def _shown(e: dict[str, Any], parts: list) -> str:
    found = e.get("input")
    if e["type"] == "missing":
        return "nothing"
    if parts and str(parts[-1]).endswith("_env"):
        return "a value that is not a variable name (not shown: it may be a secret)"
    if isinstance(found, dict):
        return "a mapping with keys " + ", ".join(map(str, found))
    return repr(found)


def _expected(e: dict[str, Any], msg: str) -> str:
    if e["type"] == "missing":
        return "expected this field"
    if e["type"] == "extra_forbidden":
        return "expected no such field (check its spelling)"
    return msg if msg.startswith("expected") else f"expected: {msg}"


def parse(data: Any, source: str = "program.yaml") -> PulseConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a YAML mapping with 'sites' and 'programs', found {type(data).__name__}")
    try:
        return PulseConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_format(e, source)) from None


def load(path: str | os.PathLike) -> LoadedConfig:
    """Read and validate a program config file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file; expected a program config (see docs/configuration.md)") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    return LoadedConfig(parse(data, str(path)), path.resolve())


def secret(env_name: str, field: str) -> str:
    """The value of a secret's environment variable, or an error naming the variable (never the value)."""
    value = os.environ.get(env_name)
    if not value:
        raise ConfigError(f"{field}: environment variable {env_name} is not set; expected it to hold the "
                          f"credential (export {env_name}=...)")
    return value


def dump(config: PulseConfig) -> str:
    """YAML for a config, in the order people read it."""
    data = config.model_dump(mode="json", exclude_none=True)
    ordered = {k: data[k] for k in ("version", "sandbox", "warehouse", "sync", "sites", "programs")
               if data.get(k) is not None}
    return yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True)
