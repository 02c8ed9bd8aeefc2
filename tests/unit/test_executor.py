"""The executor is configuration: PULSE_EXECUTOR picks Dagster's multiprocess executor (the
default) or one of its container executors for every job of the code location."""

from __future__ import annotations

import importlib

import dagster as dg
import pytest

from pipelines.defs.executor import DEFAULT, EXECUTOR_ENV, EXECUTORS, ExecutorChoiceError, chosen_executor
from pipelines.defs.schedules import SYNC_JOB


def sync_job_executor(monkeypatch, name: str | None) -> dg.ExecutorDefinition:
    if name is None:
        monkeypatch.delenv(EXECUTOR_ENV, raising=False)
    else:
        monkeypatch.setenv(EXECUTOR_ENV, name)
    from pipelines.definitions import defs

    return defs().resolve_job_def(SYNC_JOB).executor_def


def test_the_default_is_dagsters_multiprocess_executor(monkeypatch):
    assert chosen_executor(None) is None and chosen_executor(DEFAULT) is None
    assert sync_job_executor(monkeypatch, None).name == "multi_or_in_process_executor"


@pytest.mark.parametrize("name", sorted(EXECUTORS))
def test_each_container_executor_runs_every_job_by_configuration(monkeypatch, name):
    module, attribute, _ = EXECUTORS[name]
    library = pytest.importorskip(module)
    expected = getattr(library, attribute)
    assert chosen_executor(name) is expected
    assert sync_job_executor(monkeypatch, name) is expected


def test_a_wrong_choice_names_the_choices_and_a_missing_library_its_extra(monkeypatch):
    with pytest.raises(ExecutorChoiceError, match="expected one of multiprocess, docker, k8s, celery"):
        chosen_executor("kubernetes")
    real = importlib.import_module

    def no_docker(name, *args):
        if name == "dagster_docker":
            raise ImportError(name)
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", no_docker)
    with pytest.raises(ExecutorChoiceError, match=r"pip install 'program-pulse\[docker\]'"):
        chosen_executor("docker")
