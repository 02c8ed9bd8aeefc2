"""Print the image's requirements from pyproject.toml, one a line: the project's dependencies, its
``postgres`` extra and dagster-webserver as the ``dev`` extra pins it. The Dockerfile installs
these before copying the code, so a change to the code does not reinstall them."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path


def requirements(pyproject: Path) -> list[str]:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    webserver = [d for d in extras["dev"] if d.startswith("dagster-webserver")]
    return [*project["dependencies"], *extras["postgres"], *webserver]


if __name__ == "__main__":
    print("\n".join(requirements(Path(sys.argv[1] if len(sys.argv) > 1 else "pyproject.toml"))))
