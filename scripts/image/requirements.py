"""Print the packages a node image installs: runtime requirements and the build backend.

Both the host (to fill the wheelhouse) and the Dockerfile (to install from it, or
from PyPI when there is none) read the lists from the project's own files, so a
dependency added to setup.cfg reaches the image without a second list to update.

Usage: python3 requirements.py SETUP_CFG PYPROJECT_TOML [all|runtime|build]
"""

from __future__ import annotations

import configparser
import sys
import tomllib
from pathlib import Path

KINDS = ("all", "runtime", "build")


def get_runtime_requirements(setup_cfg: Path) -> list[str]:
    """What a node needs from setup.cfg: install_requires (the client's light dependencies) and
    the ``node`` extra (LevelDB, uvloop, logging, metrics), one requirement per line."""
    parser = configparser.ConfigParser()
    parser.read(setup_cfg)
    text = parser["options"]["install_requires"] + "\n" + parser["options.extras_require"]["node"]
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def get_build_requirements(pyproject: Path) -> list[str]:
    """build-system.requires from pyproject.toml: what building the project's own wheel needs."""
    requires = tomllib.loads(pyproject.read_text())["build-system"]["requires"]
    return [str(requirement) for requirement in requires]


def main(argv: list[str]) -> int:
    kind = argv[3] if len(argv) == 4 else "all"
    if len(argv) not in (3, 4) or kind not in KINDS:
        print(__doc__.strip().splitlines()[-1] if __doc__ else "", file=sys.stderr)
        return 2
    lines: list[str] = []
    if kind in ("all", "runtime"):
        lines += get_runtime_requirements(Path(argv[1]))
    if kind in ("all", "build"):
        lines += get_build_requirements(Path(argv[2]))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
