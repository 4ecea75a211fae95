"""The configuration every executor shares, and the Ray runtime_env it builds (no I/O but files).

Options and what they become in the runtime_env:

- ``runtime_env``: the base, merged with everything below (a clash raises ValueError).
- ``working_dir``: ``working_dir`` (a local folder is uploaded).
- ``requirements_file``: ``pip``/``uv`` packages; lines starting with ``-`` become installer options.
- ``package_manager``: 'pip' or 'uv'; ``package_manager_options`` are added to the installer's.
- ``wheels_dir``: a folder inside ``working_dir`` whose ``*.whl`` files are installed too.
- ``env``: ``env_vars``. Their values are secrets: never shown in reprs or error messages.
- ``include_raynb``: the local raynb package as a ``py_modules`` entry, for clusters without it.
- ``num_cpus``, ``num_gpus``, ``memory``: resources of each actor, task or job driver.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Any

__all__ = ["ExecutorConfig", "read_requirements"]

PACKAGE_MANAGERS = ("pip", "uv")
# Ray's own installer defaults, kept when options are added.
_DEFAULT_OPTIONS = {"pip": ["--disable-pip-version-check", "--no-cache-dir"], "uv": ["--no-cache"]}
_WORKING_DIR_VAR = "${RAY_RUNTIME_ENV_CREATE_WORKING_DIR}"


def read_requirements(path: str | Path) -> tuple[list[str], list[str]]:
    """``(packages, installer options)`` of a requirements file; comments and blanks dropped."""
    packages: list[str] = []
    options: list[str] = []
    for raw in Path(path).read_text().splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-"):
            options += shlex.split(line)
        else:
            packages.append(line)
    return packages, options


@dataclass(frozen=True, repr=False)
class ExecutorConfig:
    """Where and how actions run; see the module docstring for what each option does."""

    ray_address: str = "auto"
    runtime_env: Mapping[str, Any] | None = None
    working_dir: str | None = None
    requirements_file: str | None = None
    package_manager: str = "pip"
    package_manager_options: Sequence[str] = ()
    wheels_dir: str | None = None
    num_cpus: float | None = None
    num_gpus: float | None = None
    memory: int | None = None
    env: Mapping[str, str] | None = None
    include_raynb: bool = False

    def __post_init__(self) -> None:
        if self.package_manager not in PACKAGE_MANAGERS:
            raise ValueError(f"package_manager must be 'pip' or 'uv', not {self.package_manager!r}")
        if isinstance(self.package_manager_options, str):
            raise ValueError("package_manager_options is a list of options, e.g. ['--index-url', URL]")
        local_dir = self.working_dir is not None and "://" not in self.working_dir
        if local_dir and not Path(self.working_dir).is_dir():
            raise ValueError(f"working_dir {self.working_dir!r} is not a folder")
        if self.requirements_file is not None and not Path(self.requirements_file).is_file():
            raise ValueError(f"requirements_file {self.requirements_file!r} does not exist")
        if self.wheels_dir is not None:
            self._wheels()  # validates
        for key, value in (self.env or {}).items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise ValueError(f"env maps names to strings; {key!r} has a {type(value).__name__}")

    @cached_property
    def secrets(self) -> list[str]:
        """Values of every env var given (``env`` and ``runtime_env['env_vars']``)."""
        env_vars = dict((self.runtime_env or {}).get("env_vars") or {})
        return [str(v) for v in {**env_vars, **(self.env or {})}.values()]

    @cached_property
    def secret_names(self) -> list[str]:
        return sorted({*((self.runtime_env or {}).get("env_vars") or {}), *(self.env or {})})

    def build_runtime_env(self) -> dict[str, Any]:
        """The runtime_env for Ray; local folders are still local paths here."""
        env: dict[str, Any] = {k: v for k, v in (self.runtime_env or {}).items()}
        if self.working_dir is not None:
            _set_once(env, "working_dir", self.working_dir)
        if self.env:
            env["env_vars"] = {**(env.get("env_vars") or {}), **self.env}
        if self.include_raynb:
            env["py_modules"] = [*(env.get("py_modules") or []), str(Path(__file__).parent.parent)]
        installer = self._installer()
        if installer is not None:
            for other in ("pip", "uv", "conda"):
                if other in env:
                    raise ValueError(
                        f"runtime_env already has {other!r}: give packages either there or "
                        "with requirements_file/wheels_dir, not both"
                    )
            env[self.package_manager] = installer
        return env

    def __repr__(self) -> str:
        return f"ExecutorConfig({self.describe()})"

    def resources(self) -> dict[str, Any]:
        """``num_cpus``/``num_gpus``/``memory`` that were given, as Ray options."""
        given = {"num_cpus": self.num_cpus, "num_gpus": self.num_gpus, "memory": self.memory}
        return {k: v for k, v in given.items() if v is not None}

    def describe(self) -> str:
        """The options that were set, for a repr: env shows names only."""
        parts = [f"ray_address={self.ray_address!r}"]
        for name in ("working_dir", "requirements_file", "wheels_dir", "num_cpus", "num_gpus", "memory"):
            if (value := getattr(self, name)) is not None:
                parts.append(f"{name}={value!r}")
        if self.package_manager != "pip":
            parts.append(f"package_manager={self.package_manager!r}")
        if self.secret_names:
            parts.append(f"env={self.secret_names!r}")
        if self.include_raynb:
            parts.append("include_raynb=True")
        return ", ".join(parts)

    def _installer(self) -> dict[str, Any] | None:
        packages, options = (
            read_requirements(self.requirements_file) if self.requirements_file else ([], [])
        )
        packages += self._wheels()
        if not packages:
            return None
        manager = self.package_manager
        config: dict[str, Any] = {"packages": packages, f"{manager}_check": False}
        extra = [*options, *self.package_manager_options]
        if extra:
            config[f"{manager}_install_options" if manager == "pip" else "uv_pip_install_options"] = [
                *_DEFAULT_OPTIONS[manager], *extra,
            ]
        return config

    def _wheels(self) -> list[str]:
        """Installer entries for the wheels in ``wheels_dir`` (resolved on the worker)."""
        if self.wheels_dir is None:
            return []
        if self.working_dir is None or "://" in self.working_dir:
            raise ValueError("wheels_dir names a folder inside a local working_dir: set working_dir")
        relative = PurePosixPath(self.wheels_dir)
        if relative.is_absolute() or ".." in relative.parts:
            raise ValueError(f"wheels_dir {self.wheels_dir!r} must be a relative path inside working_dir")
        folder = Path(self.working_dir) / relative
        wheels = sorted(folder.glob("*.whl")) if folder.is_dir() else []
        if not wheels:
            raise ValueError(f"wheels_dir {str(folder)!r} holds no .whl files")
        return [f"{_WORKING_DIR_VAR}/{relative}/{wheel.name}" for wheel in wheels]


def _set_once(env: dict[str, Any], key: str, value: Any) -> None:
    if key in env and env[key] != value:
        raise ValueError(f"{key} is given twice (option and runtime_env['{key}']): keep one")
    env[key] = value
