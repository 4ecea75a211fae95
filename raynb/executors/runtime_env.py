"""The configuration every executor shares, and the Ray runtime_env it builds (no I/O but files).

Options and what they become in the runtime_env:

- ``runtime_env``: the base, merged with everything below (a clash raises ExecutorConfigError).
- ``working_dir``: ``working_dir`` (a local folder is uploaded).
- ``requirements_file``: ``pip``/``uv`` packages; lines starting with ``-`` become installer options.
  None: a local ``working_dir``'s own ``requirements.txt``, if it has one (as seed 004 has it).
- ``package_manager``: 'pip' or 'uv'; ``package_manager_options`` are added to the installer's
  defaults (Ray's: pip ``--disable-pip-version-check --no-cache-dir``, uv ``--no-cache``), each
  option once. (Seed 004 says pip's defaults include ``--upgrade``; raynb keeps Ray's, because
  ``--upgrade`` re-downloads packages the cluster already has into every new environment.)
- ``wheels_dir`` (default ``'wheels'``): a folder inside a local ``working_dir`` whose ``*.whl``
  files are installed too; the default is used only when that folder exists.
- ``env``: ``env_vars``. Their values are secrets: never shown in reprs or error messages.
- ``include_raynb`` (also ``include_sdk``): ship the notebook's raynb as a ``py_modules`` entry.
  None (the default): when the cluster lacks it (see :mod:`raynb.executors.connect`).
- ``num_cpus``, ``num_gpus``, ``memory``, ``resources`` (custom, e.g. ``{"worker_node": 1}``):
  what each actor, task or job driver asks for.
"""

from __future__ import annotations

import shlex
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import ExecutorConfigError

__all__ = ["ExecutorConfig", "read_requirements"]

PACKAGE_MANAGERS = ("pip", "uv")
DEFAULT_WHEELS_DIR = "wheels"
_BUILTIN_RESOURCES = {"CPU": "num_cpus", "GPU": "num_gpus", "memory": "memory"}
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
    wheels_dir: str | None = DEFAULT_WHEELS_DIR
    num_cpus: float | None = None
    num_gpus: float | None = None
    memory: int | None = None
    env: Mapping[str, str] | None = None
    include_raynb: bool | None = None
    resources: Mapping[str, float] | None = None

    def __post_init__(self) -> None:
        if self.package_manager not in PACKAGE_MANAGERS:
            raise ExecutorConfigError(f"package_manager must be 'pip' or 'uv', not {self.package_manager!r}")
        if isinstance(self.package_manager_options, str):
            raise ExecutorConfigError("package_manager_options is a list of options, e.g. ['--index-url', URL]")
        local_dir = self.working_dir is not None and "://" not in self.working_dir
        if local_dir and not Path(self.working_dir).is_dir():
            raise ExecutorConfigError(f"working_dir {self.working_dir!r} is not a folder")
        if self.requirements_file is not None and not Path(self.requirements_file).is_file():
            raise ExecutorConfigError(f"requirements_file {self.requirements_file!r} does not exist")
        if self.wheels_dir is not None:
            self._wheels()  # validates
        for key, value in (self.env or {}).items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise ExecutorConfigError(f"env maps names to strings; {key!r} has a {type(value).__name__}")
        for name, value in {"num_cpus": self.num_cpus, "num_gpus": self.num_gpus, "memory": self.memory}.items():
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value < 0):
                raise ExecutorConfigError(f"{name} must be a number >= 0, not {value!r}")
        check_resources(self.resources)

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
        installer = self._installer()
        if installer is not None:
            for other in ("pip", "uv", "conda"):
                if other in env:
                    raise ExecutorConfigError(
                        f"runtime_env already has {other!r}: give packages either there or "
                        "with requirements_file/wheels_dir, not both"
                    )
            env[self.package_manager] = installer
        return env

    def __repr__(self) -> str:
        return f"ExecutorConfig({self.describe()})"

    def ray_resources(self) -> dict[str, Any]:
        """What each actor or task asks for, as Ray options (``num_cpus``, ..., ``resources``)."""
        given = {"num_cpus": self.num_cpus, "num_gpus": self.num_gpus, "memory": self.memory,
                 "resources": dict(self.resources) if self.resources else None}
        return {k: v for k, v in given.items() if v is not None}

    def demand(self) -> dict[str, float]:
        """The same as Ray's resource shape (``{"CPU": 1, "worker_node": 1}``): what a node must have."""
        given = {"CPU": self.num_cpus, "GPU": self.num_gpus, "memory": self.memory, **(self.resources or {})}
        return {k: float(v) for k, v in given.items() if v}

    def describe(self) -> str:
        """The options that were set, for a repr: env shows names only."""
        parts = [f"ray_address={self.ray_address!r}"]
        for name in ("working_dir", "requirements_file", "num_cpus", "num_gpus", "memory", "resources"):
            if (value := getattr(self, name)) is not None:
                parts.append(f"{name}={value!r}")
        if self.wheels_dir != DEFAULT_WHEELS_DIR:
            parts.append(f"wheels_dir={self.wheels_dir!r}")
        if self.package_manager != "pip":
            parts.append(f"package_manager={self.package_manager!r}")
        if self.secret_names:
            parts.append(f"env={self.secret_names!r}")
        if self.include_raynb is not None:
            parts.append(f"include_raynb={self.include_raynb}")
        return ", ".join(parts)

    def requirements(self) -> Path | None:
        """The requirements file used: the option, else the local working_dir's requirements.txt."""
        if self.requirements_file is not None:
            return Path(self.requirements_file)
        if self.working_dir is not None and "://" not in self.working_dir:
            found = Path(self.working_dir) / "requirements.txt"
            return found if found.is_file() else None
        return None

    def _installer(self) -> dict[str, Any] | None:
        requirements = self.requirements()
        packages, options = read_requirements(requirements) if requirements else ([], [])
        packages += self._wheels()
        if not packages:
            return None
        manager = self.package_manager
        config: dict[str, Any] = {"packages": packages, f"{manager}_check": False}
        extra = [*options, *self.package_manager_options]
        if extra:
            key = f"{manager}_install_options" if manager == "pip" else "uv_pip_install_options"
            config[key] = merge_options(_DEFAULT_OPTIONS[manager], extra)
        return config

    def _wheels(self) -> list[str]:
        """Installer entries for the wheels in ``wheels_dir`` (resolved on the worker); the
        default folder counts only if a local working_dir has it."""
        default = self.wheels_dir == DEFAULT_WHEELS_DIR
        if self.wheels_dir is None:
            return []
        if self.working_dir is None or "://" in self.working_dir:
            if default:
                return []
            raise ExecutorConfigError("wheels_dir names a folder inside a local working_dir: set working_dir")
        relative = PurePosixPath(self.wheels_dir)
        if relative.is_absolute() or ".." in relative.parts:
            raise ExecutorConfigError(f"wheels_dir {self.wheels_dir!r} must be a relative path inside working_dir")
        folder = Path(self.working_dir) / relative
        wheels = sorted(folder.glob("*.whl")) if folder.is_dir() else []
        if not wheels and not (default and not folder.exists()):
            raise ExecutorConfigError(f"wheels_dir {str(folder)!r} holds no .whl files")
        return [f"{_WORKING_DIR_VAR}/{relative}/{wheel.name}" for wheel in wheels]


# Ray installs into a virtualenv of its own per environment; these would install elsewhere (into
# the node's own Python), where the workers never look. Seed 004's uv example has --system.
_OUTSIDE_RAYS_ENV = {"--system", "--user", "--break-system-packages"}


def merge_options(defaults: Sequence[str], extra: Sequence[str]) -> list[str]:
    """Installer options: the defaults, then ``extra``, each flag once (uv refuses a repeated
    ``--no-cache``); an option with a value (``--index-url URL``) may repeat. Options that would
    install outside Ray's environment are left out, with a warning."""
    merged = list(defaults)
    for option in extra:
        if option in _OUTSIDE_RAYS_ENV:
            warnings.warn(f"package_manager_options: {option} is left out: it would install outside the "
                          "environment Ray builds for the workers", stacklevel=4)
            continue
        if option.startswith("-") and "=" not in option and option in merged and _is_flag(option, extra):
            continue
        merged.append(option)
    return merged


def _is_flag(option: str, options: Sequence[str]) -> bool:
    """True if ``option`` is not followed by a value in ``options``."""
    at = list(options).index(option)
    return at + 1 >= len(options) or options[at + 1].startswith("-")


def check_resources(resources: Any) -> None:
    """Custom resources must be ``{name: number > 0}``; CPU, GPU and memory have their own options."""
    if resources is None:
        return
    if not isinstance(resources, Mapping):
        raise ExecutorConfigError(f'resources maps names to amounts, e.g. {{"worker_node": 1}}, not {type(resources).__name__}')
    for name, amount in resources.items():
        if name in _BUILTIN_RESOURCES:
            raise ExecutorConfigError(f"ask for {name} with {_BUILTIN_RESOURCES[name]}=, not in resources")
        if not isinstance(name, str) or not name:
            raise ExecutorConfigError(f"a resource name is a non-empty string, not {name!r}")
        if isinstance(amount, bool) or not isinstance(amount, int | float) or not amount > 0:
            raise ExecutorConfigError(f"resources[{name!r}] must be a number > 0, not {amount!r}")


def _set_once(env: dict[str, Any], key: str, value: Any) -> None:
    if key in env and env[key] != value:
        raise ExecutorConfigError(f"{key} is given twice (option and runtime_env['{key}']): keep one")
    env[key] = value
