"""Run-failure alerts: a failed ``pulse_sync`` or ``pulse_report`` run is posted, in one
Slack-compatible message, to the webhook the escalations use (``report.webhook_url_env``): the job,
the run id, and each failed step with its cause in one line. With no webhook set it is only logged.

The message never carries a traceback (a cause is the first line of the innermost error) or a
secret: every value of an environment variable that program.yaml names (the sites' token and user
variables, the webhook's), user info and secret-looking query parameters in URLs, and anything
shaped like a credential are replaced by ``***`` before the message is logged or sent."""


import os
import re

import dagster as dg

from connectors.http import redact_url
from pipelines.config import PulseConfig, ReportSettings, looks_like_credential
from pipelines.defs.resources import config_at_load
from pipelines.report.escalate import post, slack_escape

HIDDEN = "***"
MAX_CAUSE = 300  # characters of one step's cause
_URL = re.compile(r"https?://[^\s'\"<>]+")


def secret_values(config: PulseConfig | None) -> list[str]:
    """The values of every environment variable the config names: tokens, users, the webhook URL."""
    names = {(config.report if config else ReportSettings()).webhook_url_env}
    for site in (config.sites.values() if config else ()):
        names |= {name for name in (getattr(site, "token_env", None), getattr(site, "user_env", None)) if name}
    # longest first, so that a value containing another is hidden whole
    return sorted({v for name in names if len(v := os.environ.get(name, "")) >= 4}, key=len, reverse=True)


def redact(text: str, secrets: list[str]) -> str:
    """``text`` with secret values, URL credentials and credential-shaped words hidden."""
    for value in secrets:
        text = text.replace(value, HIDDEN)
    text = _URL.sub(lambda m: redact_url(m.group(0)), text)
    # a URL's path is not a credential however it looks (redact_url has hidden what is)
    return " ".join(HIDDEN if not _URL.match(word) and looks_like_credential(word) else word
                    for word in text.split(" "))


def cause_of(event: dg.DagsterEvent) -> str:
    """One line: a Failure's own description, else the innermost error's class and first line."""
    data = event.step_failure_data
    if data is not None and data.user_failure_data is not None and data.user_failure_data.description:
        line = data.user_failure_data.description
    else:
        error = data.error if data is not None else None
        while error is not None and error.cause is not None:
            error = error.cause
        if error is None:
            line = event.message or "failed"
        else:
            first = (error.message.strip().splitlines() or [""])[0]
            # Dagster words it "module.Class: message" for classes outside the builtins
            first = re.sub(rf"^(?:[\w.]+\.)?{re.escape(error.cls_name or '')}:\s*", "", first)
            line = f"{error.cls_name}: {first}" if error.cls_name else first
    return (line.strip().splitlines() or ["failed"])[0]


def failure_message(job: str, run_id: str, causes: list[tuple[str | None, str]], secrets: list[str]) -> str:
    """The alert's text (Slack mrkdwn): the job and run, then a line per cause with the failed
    steps it stopped (one bad program.yaml fails every step that reads it alike); a step of None
    is the run itself. Secrets are hidden before a cause is cut short, never after."""
    steps: dict[str, list[str]] = {}
    for step, cause in causes:
        shown = redact(cause, secrets)
        shown = shown if len(shown) <= MAX_CAUSE else shown[:MAX_CAUSE - 1] + "…"
        steps.setdefault(slack_escape(shown), []).append(f"`{step}`" if step else "")
    lines = [f":rotating_light: Program Pulse: run `{run_id}` of *{job}* failed."]
    for cause, names in steps.items():
        named = [n for n in names if n]
        where = (f"{'step' if len(named) == 1 else 'steps'} {', '.join(named)}" if named else "the run")
        lines.append(f"• {where}: {cause}")
    return "\n".join(lines)


# Every job of this code location (pulse_sync, pulse_report, and the runs the UI launches from
# asset selections); named, not imported, so the sensor holds no job object of another module.
@dg.run_failure_sensor(
    name="pulse_run_failure",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Posts every failed run of this code location, pulse_sync and pulse_report among them (job, run "
                "id, failed steps and their causes in one line each) to the webhook in $PULSE_WEBHOOK_URL "
                "(report.webhook_url_env); logs it.",
)
def pulse_run_failure(context: dg.RunFailureSensorContext) -> None:
    config = config_at_load()  # None when program.yaml is what failed: the alert goes out all the same
    settings = config.report if config else ReportSettings()
    secrets = secret_values(config)
    run = context.dagster_run
    causes: list[tuple[str | None, str]] = [(e.step_key, cause_of(e)) for e in context.get_step_failure_events()]
    if not causes:  # the run failed outside any step (its worker could not start, or died)
        causes = [(None, ((context.failure_event.message or "failed").strip().splitlines() or ["failed"])[0])]
    text = failure_message(run.job_name, run.run_id, causes, secrets)
    if run.tags.get("dagster/will_retry") == "true" and run.remote_job_origin is not None:
        text += "\nDagster launches it again (run retries, dagster.yaml)."
    url = os.environ.get(settings.webhook_url_env) or None
    if url is None:
        context.log.warning(f"{text}\n(not posted: ${settings.webhook_url_env} is not set)")
        return
    error = post(url, text, settings.webhook_timeout_seconds)
    if error:
        context.log.error(f"{text}\n(posting to ${settings.webhook_url_env} failed: {error})")
    else:
        context.log.info(f"{text}\n(posted to ${settings.webhook_url_env})")
