"""Actions, params validation, shared configuration, errors, markers and the text bar (no Ray)."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from pydantic import BaseModel

from raynb.actions import Action, Progress, Reporter, action_name, load_action
from raynb.executors import (
    ExecutionError,
    ExecutionTimeoutError,
    RayJobExecutor,
    ValidationError,
)
from raynb.executors.base import new_job_id, validate_params
from raynb.errors import ExecutorConfigError, mask
from raynb.executors.progress import TextView
from raynb.executors.runner import (
    Markers,
    runtime_env_setup_lines,
    signed_lines,
    split_marker,
)
from raynb.executors.runtime_env import ExecutorConfig, read_requirements
from raynb.executors.worker import ActionFailed, run_action


class AddParams(BaseModel):
    a: int
    b: int = 1


class Add(Action[AddParams]):
    def execute(self) -> dict:
        self.progress(1, 2, "adding")
        self.metrics(total=self.params.a + self.params.b)
        self.log("added", "warning")
        return {"sum": self.params.a + self.params.b}


class Base(Action):
    pass


def test_params_model_from_the_generic_argument() -> None:
    assert Add.params_model() is AddParams
    empty = Base.params_model()
    assert validate_params(Base, None) == {}
    with pytest.raises(ValidationError):
        validate_params(Base, {"unexpected": 1})
    assert empty is Action.params_model()


def test_validation_error_names_field_and_reason() -> None:
    with pytest.raises(ValidationError) as info:
        validate_params(Add, {"a": "x", "b": [2]})
    assert [field for field, _ in info.value.errors] == ["a", "b"]
    assert str(info.value).startswith("invalid params for Add: a: Input should be a valid integer")
    assert validate_params(Add, AddParams(a=2)) == {"a": 2, "b": 1}


def test_load_action_forms() -> None:
    assert load_action(Add) is Add
    assert load_action("test_actions:Add") is Add
    assert load_action("test_actions.Add") is Add
    assert action_name("pkg.mod:Thing") == "Thing" and action_name(Add) == "Add"
    with pytest.raises(TypeError):
        load_action(int)
    with pytest.raises(ImportError):
        load_action("test_actions:Missing")
    with pytest.raises(ValueError):
        load_action("Add")


def test_run_action_locally_with_a_reporter() -> None:
    sent: list[dict] = []
    logs: list[tuple[str, str]] = []
    reporter = Reporter(send=sent.append, on_log=lambda level, msg: logs.append((level, msg)))
    result, final = run_action(Add, {"a": 2}, reporter, [])
    assert result == '{"sum": 3}'
    assert final == Progress(1, 2, "adding", {"total": 3}, ["[WARNING] added"]).to_dict()
    assert sent and sent[0]["current"] == 1 and logs == [("warning", "added")]
    assert Add(AddParams(a=1)).execute() == {"sum": 2}  # runs without any executor


def test_run_action_failures_are_data_with_masked_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_TOKEN", "tok-123456")

    class Leaky(Action):
        def execute(self) -> None:
            raise RuntimeError("token is tok-123456")

    class NotJson(Action):
        def execute(self) -> object:
            return object()

    with pytest.raises(ActionFailed) as info:
        run_action(Leaky, {}, Reporter(), ["MY_TOKEN"])
    assert info.value.error["message"] == "token is ***"
    assert info.value.error["type"] == "RuntimeError" and "in execute" in info.value.error["traceback"]
    with pytest.raises(ActionFailed) as info:
        run_action(NotJson, {}, Reporter(), [])
    assert "not JSON-able" in info.value.error["message"]


def test_reporter_sends_at_most_every_interval_and_always_the_last_state() -> None:
    sent: list[dict] = []
    done = threading.Event()

    def send(state: dict) -> None:
        sent.append(state)
        if state["current"] == 99:
            done.set()

    reporter = Reporter(send=send)
    for i in range(100):
        reporter.progress(i, 99, None)
    assert done.wait(10)  # the timer delivered the last state
    assert len(sent) < 100 and sent[-1]["current"] == 99
    assert reporter.close()["current"] == 99


def test_requirements_and_runtime_env(tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("# comment\ntabulate==0.10.0  # pinned\n\n--index-url https://example.org/simple\n-q\n")
    options = ["--index-url", "https://example.org/simple", "-q"]
    assert read_requirements(req) == (["tabulate==0.10.0"], options)
    wheels = tmp_path / "wd" / "wheels"
    wheels.mkdir(parents=True)
    (wheels / "pkg-1.0-py3-none-any.whl").write_bytes(b"")
    config = ExecutorConfig(
        working_dir=str(tmp_path / "wd"), requirements_file=str(req), wheels_dir="wheels",
        package_manager="uv", package_manager_options=["--offline"], env={"KEY": "value-1234"},
        runtime_env={"env_vars": {"A": "b"}, "py_modules": ["gcs://x.zip"]}, include_raynb=True,
        num_cpus=0.5, resources={"worker_node": 1},
    )  # fmt: skip
    env = config.build_runtime_env()
    assert env["uv"]["packages"] == [
        "tabulate==0.10.0", "${RAY_RUNTIME_ENV_CREATE_WORKING_DIR}/wheels/pkg-1.0-py3-none-any.whl"]
    assert env["uv"]["uv_pip_install_options"] == [
        "--no-cache", "--index-url", "https://example.org/simple", "-q", "--offline"]
    assert env["env_vars"] == {"A": "b", "KEY": "value-1234"}
    assert env["py_modules"] == ["gcs://x.zip"]  # raynb is added when the cluster is known
    assert config.ray_resources() == {"num_cpus": 0.5, "resources": {"worker_node": 1}}
    assert config.demand() == {"CPU": 0.5, "worker_node": 1.0}
    assert "value-1234" not in repr(config) and "KEY" in repr(config) and "'b'" not in repr(config)
    assert set(config.secrets) == {"b", "value-1234"}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"package_manager": "conda"},
        {"wheels_dir": "my_wheels"},
        {"working_dir": "/no/such/folder"},
        {"requirements_file": "/no/such/file.txt"},
        {"env": {"N": 1}},
        {"resources": {"CPU": 1}},
        {"resources": {"worker_node": 0}},
        {"resources": ["worker_node"]},
        {"num_cpus": -1},
    ],
)
def test_config_refuses_bad_options(kwargs: dict) -> None:
    with pytest.raises(ExecutorConfigError) as err:  # a ValueError too
        ExecutorConfig(**kwargs)
    assert isinstance(err.value, ValueError) and "\n" not in str(err.value)


def test_documented_package_manager_options_are_merged_once(tmp_path: Path) -> None:
    """Seed 004's own example: uv with ['--no-cache', '--system'] (uv refuses a repeated --no-cache;
    --system would install into the node's Python, not the environment Ray builds)."""
    req = tmp_path / "requirements.txt"
    req.write_text("tabulate\n--index-url https://example.org/simple\n")
    config = ExecutorConfig(requirements_file=str(req), package_manager="uv",
                            package_manager_options=["--no-cache", "--system"])
    with pytest.warns(UserWarning, match="--system is left out"):  # it installs into the node's own Python
        uv = config.build_runtime_env()["uv"]
    assert uv["uv_pip_install_options"] == ["--no-cache", "--index-url", "https://example.org/simple"]
    pip = ExecutorConfig(requirements_file=str(req), package_manager_options=["--no-cache-dir", "--pre"])
    assert pip.build_runtime_env()["pip"]["pip_install_options"] == [
        "--disable-pip-version-check", "--no-cache-dir", "--index-url", "https://example.org/simple", "--pre"]


def test_a_plugin_folders_wheels_and_requirements_are_used(tmp_path: Path) -> None:
    """Seed 004's layout: plugin/requirements.txt and plugin/wheels/*.whl, used by default."""
    plain = tmp_path / "plain"
    plain.mkdir()
    assert "pip" not in ExecutorConfig(working_dir=str(plain)).build_runtime_env()  # neither: fine
    (plain / "wheels").mkdir()
    (plain / "wheels" / "pkg-1.0-py3-none-any.whl").write_bytes(b"")
    env = ExecutorConfig(working_dir=str(plain)).build_runtime_env()
    assert env["pip"]["packages"] == ["${RAY_RUNTIME_ENV_CREATE_WORKING_DIR}/wheels/pkg-1.0-py3-none-any.whl"]
    (plain / "requirements.txt").write_text("tabulate\n")
    env = ExecutorConfig(working_dir=str(plain), wheels_dir=None).build_runtime_env()
    assert env["pip"]["packages"] == ["tabulate"]


def test_config_refuses_packages_given_twice(tmp_path: Path) -> None:
    req = tmp_path / "r.txt"
    req.write_text("six\n")
    with pytest.raises(ValueError, match="not both"):
        ExecutorConfig(requirements_file=str(req), runtime_env={"pip": ["six"]}).build_runtime_env()


def test_errors_are_one_line_and_masked() -> None:
    err = ExecutionError("job-1", "KeyError", "missing\nkey hunter22-secret", traceback="File x\n  line",
                         log_tail=["print hunter22-secret"], secrets=["hunter22-secret", "1"])
    assert str(err) == "job-1 failed: KeyError: missing key ***"
    assert err.log_tail == ["print ***"] and len(err.__notes__) == 2
    timeout = ExecutionTimeoutError("job-2", 1.5, "RUNNING")
    assert "job-2" in str(timeout) and isinstance(timeout, TimeoutError)
    assert mask("a 1 b", ["1"]) == "a 1 b"  # too short to be a secret


def test_markers_verify_and_reassemble() -> None:
    key = b"k" * 32
    text = "é" * 10_000
    lines = ["user output", *signed_lines(key, "result", text), "trailing"]
    markers = Markers(key)
    assert markers.feed(lines) == ["user output", "trailing"]
    assert markers.expected("result") > 1 and markers.payload("result") == text
    forged = signed_lines(b"x" * 32, "result", '"forged"')[0]
    other = Markers(key)
    assert other.feed(["prefix " + forged]) == ["prefix " + forged] and other.payload("result") is None
    assert split_marker("noise" + signed_lines(key, "event", "{}")[0], key)[0] == "noise"
    assert split_marker(forged, None) == ("", None)  # without a key: hidden, not trusted


def test_no_setup_lines_outside_a_runtime_env() -> None:
    assert list(runtime_env_setup_lines()) == []


def test_text_bar_finishes_clearly() -> None:
    stream = io.StringIO()
    view = TextView("Add (job-1)", stream=stream)
    view.update(Progress(1, 4, "working", {"loss": 0.5}))
    view.finish("failed", "ValueError: boom")
    lines = stream.getvalue().splitlines()
    assert lines[0] == "Add (job-1) [#####...............] 1/4 (25%)  working  loss=0.5"
    assert lines[-1].startswith("✖ Add (job-1)") and lines[-1].endswith("failed: ValueError: boom")


def test_job_ids_and_repr() -> None:
    assert new_job_id("My Action!").startswith("raynb-my-action-")
    ex = RayJobExecutor(env={"TOKEN": "abcdef-secret"}, num_cpus=1)
    assert repr(ex) == "RayJobExecutor(ray_address='auto', num_cpus=1, env=['TOKEN'])"


def test_importing_executors_does_not_import_ray() -> None:
    code = ("import sys, raynb, raynb.actions, raynb.executors\n"
            "from raynb.executors import RayActorExecutor, RayJobsApiExecutor\n"
            "RayActorExecutor(num_cpus=1)\n"
            "print('ray' in sys.modules, 'pydantic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
