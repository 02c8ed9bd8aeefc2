"""Which executor runs the steps of every job: ``PULSE_EXECUTOR``, read when the code location
loads. Dagster's own multiprocess executor (a process per step) unless it names one of Dagster's
container executors, each from its own library (an extra of this project: pip install
'.[docker]', '.[k8s]' or '.[celery]'). Their settings (image, namespace, broker, volumes) are the
run config's ``execution: config:``, as each library documents; docs/operations.md has a
scaled-out night on each. The executor is chosen here, once, so that no job names its own."""

import importlib
import os

import dagster as dg

EXECUTOR_ENV = "PULSE_EXECUTOR"
# name -> (module, executor, extra that installs it)
EXECUTORS = {
    "docker": ("dagster_docker", "docker_executor", "docker"),
    "k8s": ("dagster_k8s", "k8s_job_executor", "k8s"),
    "celery": ("dagster_celery", "celery_executor", "celery"),
}
DEFAULT = "multiprocess"


class ExecutorChoiceError(ValueError):
    pass


def chosen_executor(name: str | None) -> dg.ExecutorDefinition | None:
    """The executor ``name`` names; None for Dagster's default (multiprocess, or in-process when
    a run asks for it, as ``pulse sync`` does)."""
    name = (name or DEFAULT).strip()
    if name == DEFAULT:
        return None
    if name not in EXECUTORS:
        raise ExecutorChoiceError(f"{EXECUTOR_ENV}: found {name!r}; expected one of {DEFAULT}, "
                                  + ", ".join(EXECUTORS))
    module, attribute, extra = EXECUTORS[name]
    try:
        return getattr(importlib.import_module(module), attribute)
    except ImportError:
        raise ExecutorChoiceError(f"{EXECUTOR_ENV}={name} needs the {module} library: "
                                  f"pip install 'program-pulse[{extra}]'") from None


@dg.definitions
def executor() -> dg.Definitions:
    chosen = chosen_executor(os.environ.get(EXECUTOR_ENV))
    return dg.Definitions(executor=chosen) if chosen is not None else dg.Definitions()
