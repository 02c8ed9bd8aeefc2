"""The run-failure sensor over real HTTP: a real failed run (a small job named like the sync job,
executed in-process) is posted once to a local Slack-compatible receiver, naming the job, the run
and each failed step with its cause in one line, with no traceback and no secret; with no webhook
set it is only logged."""

from __future__ import annotations

import dagster as dg
import pytest

from pipelines.config import ConfigError
from pipelines.defs.sensors import pulse_run_failure, redact
from webhook import webhook

pytestmark = pytest.mark.e2e

WEBHOOK_ENV = "PULSE_TEST_FAILURE_WEBHOOK"
TOKEN_ENV = "PULSE_TEST_JIRA_TOKEN"
TOKEN = "Zq81vXk2pL0sN4mBw7Tr9cYd"  # what a Data Center personal access token looks like


@pytest.fixture
def configured(tmp_path, monkeypatch):
    """A program.yaml naming a token variable and the webhook variable, both set."""
    (tmp_path / "program.yaml").write_text(f"""
sites:
  acme: {{kind: jira, url: "https://jira.acme.example", token_env: {TOKEN_ENV}}}
programs:
  - id: checkout
    name: Checkout
    projects: [{{site: acme, key: PAY}}]
report: {{webhook_url_env: {WEBHOOK_ENV}}}
""", encoding="utf-8")
    monkeypatch.setenv("PULSE_CONFIG", str(tmp_path / "program.yaml"))
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    return tmp_path


@dg.op
def jira_raw():
    try:
        raise ValueError(f"HTTP 401 from https://bot:{TOKEN}@jira.acme.example/rest/api/2/search?access_token={TOKEN}"
                         f"&jql=project%3DPAY\nresponse headers: {{'Authorization': 'Bearer {TOKEN}'}}")
    except ValueError as exc:
        raise RuntimeError("the site answered badly") from exc


@dg.op
def meta_snapshots():
    raise dg.Failure(description="every project failed to sync, nothing new to publish: <PAY> & more")


@dg.op
def transforms():
    return 1


@dg.job(name="pulse_sync")
def failing_sync():
    jira_raw()
    meta_snapshots()
    transforms()


def evaluate(instance: dg.DagsterInstance, capfd) -> str:
    """Run the failing job for real, then the sensor on its failure; the run id. Only what the
    sensor logs stays in ``capfd`` (the run's own log has the whole error, as it should)."""
    result = failing_sync.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    capfd.readouterr()
    context = dg.build_run_status_sensor_context(
        sensor_name="pulse_run_failure", dagster_event=result.get_run_failure_event(), dagster_instance=instance,
        dagster_run=instance.get_run_by_id(result.run_id)).for_run_failure()
    pulse_run_failure(context)
    return result.run_id


def test_a_failed_run_is_posted_once_without_secrets_or_tracebacks(configured, monkeypatch, capfd):
    with webhook() as receiver, dg.instance_for_test() as instance:
        monkeypatch.setenv(WEBHOOK_ENV, receiver.url)
        run_id = evaluate(instance, capfd)
    assert len(receiver.posts) == 1
    text = receiver.posts[0]["text"]
    lines = text.splitlines()
    assert run_id in lines[0] and "*pulse_sync*" in lines[0] and "failed" in lines[0]
    # a line per failed step, each cause one line: the innermost error's, or the Failure's own words
    assert sorted(line.split("`")[1] for line in lines[1:]) == ["jira_raw", "meta_snapshots"]
    jira = next(line for line in lines if "`jira_raw`" in line)
    assert "ValueError: HTTP 401 from https://jira.acme.example/rest/api/2/search?access_token=***" in jira
    assert "every project failed to sync, nothing new to publish: &lt;PAY&gt; &amp; more" in text  # Slack-escaped
    for leak in (TOKEN, "bot:", "Bearer", "Authorization", "response headers", "Traceback", 'File "'):
        assert leak not in text, leak
    # ... and the log says it was posted, with as little
    logged = capfd.readouterr()
    assert run_id in logged.err + logged.out and TOKEN not in logged.err + logged.out


def test_without_a_webhook_it_is_only_logged(configured, monkeypatch, capfd):
    monkeypatch.delenv(WEBHOOK_ENV, raising=False)
    with webhook() as receiver, dg.instance_for_test() as instance:
        run_id = evaluate(instance, capfd)
    assert receiver.posts == []
    logged = capfd.readouterr()
    out = logged.err + logged.out
    assert run_id in out and f"not posted: ${WEBHOOK_ENV} is not set" in out and TOKEN not in out


def test_with_no_config_it_still_alerts(monkeypatch, capfd):
    """A run may fail because program.yaml is wrong: the alert goes to the default variable."""
    monkeypatch.setenv("PULSE_CONFIG", "/nonexistent/program.yaml")
    with webhook() as receiver, dg.instance_for_test() as instance:
        monkeypatch.setenv("PULSE_WEBHOOK_URL", receiver.url)
        evaluate(instance, capfd)
    # the token's value is unknown without the config: what hides it is its shape (URL user info,
    # access_token, Authorization) and cutting each cause to its first line
    assert len(receiver.posts) == 1 and TOKEN not in receiver.posts[0]["text"]
    assert "bot:" not in receiver.posts[0]["text"] and "*pulse_sync*" in receiver.posts[0]["text"]


@dg.op
def reads_config_a():
    raise ConfigError("/etc/pulse/program.yaml: no such file")


@dg.op
def reads_config_b():
    raise ConfigError("/etc/pulse/program.yaml: no such file")


@dg.job(name="pulse_report")
def failing_report():
    reads_config_a()
    reads_config_b()


def test_steps_failed_by_one_cause_share_its_line(monkeypatch):
    monkeypatch.delenv("PULSE_CONFIG", raising=False)
    with webhook() as receiver, dg.instance_for_test() as instance:
        monkeypatch.setenv("PULSE_WEBHOOK_URL", receiver.url)
        result = failing_report.execute_in_process(instance=instance, raise_on_error=False)
        pulse_run_failure(dg.build_run_status_sensor_context(
            sensor_name="pulse_run_failure", dagster_event=result.get_run_failure_event(), dagster_instance=instance,
            dagster_run=instance.get_run_by_id(result.run_id)).for_run_failure())
    lines = receiver.posts[0]["text"].splitlines()
    assert "*pulse_report*" in lines[0]
    # the class once, without its module: "pipelines.config.ConfigError: ..." is how Dagster words it
    assert lines[1:] == ["• steps `reads_config_a`, `reads_config_b`: ConfigError: /etc/pulse/program.yaml: no such file"]


def test_a_secret_is_hidden_before_a_long_cause_is_cut():
    from pipelines.defs.sensors import MAX_CAUSE, failure_message

    cause = "x" * (MAX_CAUSE - 10) + " " + TOKEN
    text = failure_message("pulse_sync", "r1", [("jira_raw", cause), (None, "the run worker died")], [TOKEN])
    assert TOKEN[:8] not in text and "***" in text
    assert text.splitlines()[2] == "• the run: the run worker died"


@pytest.mark.parametrize("text, secrets, expected", [
    ("HTTP 401 with token abcd1234", ["abcd1234"], "HTTP 401 with token ***"),
    ("from https://u:p@host.example/path?sig=xyz&page=2 now", [], "from https://host.example/path?sig=***&page=2 now"),
    ("got ghp_abcdefghijklmnop0123 back", [], "got *** back"),
    ("HTTP 404 from https://jira.example/rest/api/2/project/PAYMENTS/versions", [],
     "HTTP 404 from https://jira.example/rest/api/2/project/PAYMENTS/versions"),
])
def test_redact(text, secrets, expected):
    assert redact(text, secrets) == expected
