"""The `pulse` command line documents itself: every subcommand and option has help, every option's
help shows its default (or says it is required, or a flag that is off unless given), and options
whose values are a closed set offer them as choices."""

from __future__ import annotations

import argparse

import pytest

from pipelines.cli import SCENARIOS, HelpFormatter, parser


def subcommands() -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def options(command: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in command._actions if not isinstance(a, argparse._HelpAction)]


def shown_help(command: argparse.ArgumentParser, action: argparse.Action) -> str:
    """The help of ``action`` as `pulse COMMAND --help` prints it, defaults expanded."""
    return HelpFormatter(command.prog)._expand_help(action)


def test_every_subcommand_has_help():
    (action,) = [a for a in parser()._actions if isinstance(a, argparse._SubParsersAction)]
    helped = {choice.dest: choice.help for choice in action._choices_actions}
    assert set(helped) == set(subcommands())
    assert all(helped.values()), helped
    assert "status" in helped


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_every_option_has_help_and_shows_its_default(name):
    command = subcommands()[name]
    assert command.formatter_class is HelpFormatter
    for action in options(command):
        assert action.help, f"pulse {name} {action.dest}: no help"
        text = shown_help(command, action)
        if not action.option_strings:  # a positional argument: always given
            continue
        assert "default" in text or "(required)" in text, f"pulse {name} {action.option_strings[0]}: {text!r}"
        assert "(default: None)" not in text, f"pulse {name} {action.option_strings[0]}: say what None means"
        assert "%(" not in text
    command.format_help()  # renders (a stray % in a help text would raise here)


def test_defaults_are_shown_in_the_rendered_help():
    sync = " ".join(subcommands()["sync"].format_help().split())
    assert "(default: sync.lock_wait_seconds, 300)" in sync and "(default: off)" in sync and "(required)" in sync
    status = " ".join(subcommands()["status"].format_help().split())
    assert "(default: 10)" in status and "(default: sync.freshness_hours, 26)" in status
    assert "Exits 1 when the last finished sync failed" in status


@pytest.mark.parametrize("name, option, choices", [
    ("sandbox", "--scenario", SCENARIOS),
    ("export", "--format", ("parquet",)),
])
def test_closed_sets_are_choices(name, option, choices):
    (action,) = [a for a in options(subcommands()[name]) if option in a.option_strings]
    assert tuple(action.choices) == choices


def test_the_scenario_choices_are_the_sandbox_scenarios():
    from sandbox.scenario import SCENARIOS as BUILT

    assert set(SCENARIOS) == set(BUILT)


def test_a_value_outside_the_choices_is_refused_with_the_choices(capsys):
    with pytest.raises(SystemExit) as exit:
        parser().parse_args(["sandbox", "--scenario", "nope"])
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice" in err and "demo" in err and "portfolio" in err
