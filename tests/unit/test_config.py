"""program.yaml: valid files load; wrong ones name the field, what was found and what is expected."""

from __future__ import annotations

from datetime import date

import pytest
import yaml

from pipelines.cli import demo_config, main
from pipelines.config import ConfigError, dump, load, parse, secret


def demo_dict() -> dict:
    return yaml.safe_load(dump(demo_config(7, date(2026, 11, 27))))


def test_demo_config_round_trips_through_yaml():
    config = demo_config(7, date(2026, 11, 27))
    assert parse(yaml.safe_load(dump(config))) == config


@pytest.mark.parametrize("mutate, expected", [
    (lambda d: d["programs"][0]["projects"][1].update(site="jira-clod"),
     "programs[0].projects[1].site: found 'jira-clod'; expected one of the names under 'sites'"),
    (lambda d: d["programs"][1]["projects"][0].update(key="id"),
     "programs[1].projects[0].key: found 'id'; expected a Jira project key"),
    (lambda d: d["sites"]["jira-dc"].update(urll="https://x"),
     "sites.jira-dc.urll: found 'https://x'; expected no such field (check its spelling)"),
    (lambda d: d["programs"][0].pop("name"), "programs[0].name: found nothing; expected this field"),
    (lambda d: d["programs"][0]["projects"][0].update(repo="acme/web"),
     "programs[0].projects[0]: site 'jira-cloud' is Jira; expected 'key: PROJECTKEY'"),
    (lambda d: d["programs"][1]["projects"].append({"site": "jira-cloud", "key": "PAY"}),
     "PAY on jira-cloud is already in program 'checkout'"),
    (lambda d: d.pop("sandbox"), "sandbox: a site has url 'sandbox' but there is no 'sandbox:' section"),
    (lambda d: d["sites"]["github"].update(url="api.github.com"),
     "sites.github.url: found 'api.github.com'; expected an http(s) URL"),
    (lambda d: d.setdefault("warehouse", {}).update(ingest_memory_limit="half a gig"),
     "warehouse.ingest_memory_limit: found 'half a gig'; expected a DuckDB memory size such as 512MB or 4GB"),
    (lambda d: d["sites"]["jira-dc"].update(blocking_links={"Blocks": "blocker"}),
     "sites.jira-dc.blocking_links.Blocks: found 'blocker'; expected: Input should be 'blocks' or 'blocked_by'"),
    (lambda d: d.setdefault("sync", {}).update(reconcile_every_days=-1),
     "sync.reconcile_every_days: found -1; expected: Input should be greater than or equal to 0"),
])
def test_wrong_fields_are_named_with_found_and_expected(mutate, expected):
    data = demo_dict()
    mutate(data)
    with pytest.raises(ConfigError) as error:
        parse(data)
    assert expected in str(error.value)


def test_a_secret_pasted_into_an_env_field_is_never_echoed():
    data = demo_dict()
    data["sites"]["github"]["token_env"] = "ghp_0123456789abcdef-secret"
    with pytest.raises(ConfigError) as error:
        parse(data)
    assert "ghp_0123456789abcdef" not in str(error.value)
    assert "sites.github.token_env" in str(error.value)


def test_missing_secret_names_the_variable_not_a_value(monkeypatch):
    monkeypatch.delenv("PULSE_TEST_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="sites.jira.token_env: environment variable PULSE_TEST_TOKEN is not set"):
        secret("PULSE_TEST_TOKEN", "sites.jira.token_env")


def test_check_config_command_writes_nothing_and_exits_2_on_a_bad_file(tmp_path, capsys):
    bad = tmp_path / "program.yaml"
    bad.write_text("sites: {}\nprograms: []\n")
    assert main(["check-config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "sites: found a mapping with keys ; expected" in err or "sites: found {}" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["program.yaml"]
    good = tmp_path / "good.yaml"
    good.write_text(dump(demo_config(7, date(2026, 11, 27))))
    assert main(["check-config", str(good)]) == 0
    assert load(good).warehouse_path == tmp_path / "pulse.duckdb"


def test_not_yaml_is_a_clear_error(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("sites: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load(f)


def test_an_empty_secret_is_unset_and_named_with_its_field(monkeypatch):
    monkeypatch.setenv("PULSE_TEST_TOKEN", "")
    with pytest.raises(ConfigError, match="sites.github.token_env: environment variable PULSE_TEST_TOKEN is not set"):
        secret("PULSE_TEST_TOKEN", "sites.github.token_env")
    monkeypatch.setenv("PULSE_TEST_TOKEN", "s3cret")
    assert secret("PULSE_TEST_TOKEN", "sites.github.token_env") == "s3cret"


def test_secret_never_echoes_a_name_that_looks_like_a_token():
    token = "ghp_" + "R7kQ2mX9vB4nT8wZ1cL5yH3jF6dS0aPeUg2K"
    with pytest.raises(ConfigError) as error:
        secret(token, "sites.github.token_env")
    assert "sites.github.token_env" in str(error.value) and "R7kQ2mX9" not in str(error.value)


def test_health_thresholds_default_and_override_per_program():
    from pipelines.config import health_thresholds
    from transforms.health import HealthThresholds

    data = demo_dict()
    data["health"] = {"blocked_red_days": 21, "history_weeks": 4}
    data["programs"][1]["health"] = {"forecast_green_above": 0.8}
    default, per_program = health_thresholds(parse(data))
    assert default == HealthThresholds(blocked_red_days=21, history_weeks=4)
    # a program's own value wins; what it leaves unset comes from health:, not from the built-in default
    assert per_program == {data["programs"][1]["id"]: HealthThresholds(blocked_red_days=21, history_weeks=4,
                                                                       forecast_green_above=0.8)}


@pytest.mark.parametrize("health, expected", [
    ({"blocked_amber_days": 20}, "health: found a mapping with keys blocked_amber_days; expected: "
                                 "blocked_amber_days: found 20 and blocked_red_days: 14; "
                                 "expected blocked_amber_days below blocked_red_days"),
    ({"forecast_green_above": 1.5}, "health.forecast_green_above: found 1.5; expected: Input should be less than 1"),
    ({"history_step_days": 0}, "health.history_step_days: found 0; expected: Input should be greater than or equal to 1"),
])
def test_wrong_health_thresholds_are_named(health, expected):
    data = demo_dict()
    data["health"] = health
    with pytest.raises(ConfigError) as error:
        parse(data)
    assert expected in str(error.value)


def test_a_programs_thresholds_are_checked_with_the_ones_it_inherits():
    data = demo_dict()
    data["health"] = {"blocked_red_days": 10}
    data["programs"][0]["health"] = {"blocked_amber_days": 12}
    with pytest.raises(ConfigError) as error:
        parse(data)
    assert ("programs[0].health: with the rest from health:, blocked_amber_days: found 12 and blocked_red_days: 10; "
            "expected blocked_amber_days below blocked_red_days") in str(error.value)


def test_a_report_schedule_out_of_range_is_named_before_dagster_refuses_it():
    import pytest
    from pydantic import ValidationError

    from pipelines.config import ReportSettings

    assert ReportSettings(schedule="*/15 0-23 1,15 1-12 mon").schedule == "*/15 0-23 1,15 1-12 mon"
    with pytest.raises(ValidationError, match="found 25 in the hour field"):
        ReportSettings(schedule="0 25 * * 1")
    with pytest.raises(ValidationError, match="5 fields"):
        ReportSettings(schedule="daily")


def test_a_program_cannot_be_called_index_the_reports_own_page():
    import pytest
    from pydantic import ValidationError

    from pipelines.config import ProgramConfig, ProjectConfig

    with pytest.raises(ValidationError, match="'index' is reserved"):
        ProgramConfig(id="index", name="Index", projects=(ProjectConfig(site="s", key="K"),))
