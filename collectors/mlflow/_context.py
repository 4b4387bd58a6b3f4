"""What every MLflow handler shares: the store, the writer, request parameters, lookups."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from collectors.mlflow.errors import (
    MALFORMED_REQUEST,
    RESOURCE_ALREADY_EXISTS,
    TEMPORARILY_UNAVAILABLE,
    MlflowError,
    from_store_error,
    invalid,
    missing,
    required,
    translate,
    wrong_type,
)
from collectors.mlflow.mapping import DEFAULT_EXPERIMENT_ID
from collectors.ops import CreateExperiment, Op
from collectors.read import encoding as enc
from collectors.read.run_files import Uploads
from collectors.receive.ingest import unavailable
from collectors.store import paging
from collectors.store.base import (
    LoggedModelInfo,
    MlflowExperiment,
    RunState,
)
from collectors.store.files import FileStore
from collectors.store.protocols import MlflowStore
from collectors.writer import Writer, WriterError
from runlog import conventions as cv
from runlog.filters import FilterError

#: Seconds a write waits for its commit before answering 503.
COMMIT_TIMEOUT_S = 60.0
#: Deepest JSON nesting a request body may have (MLflow's own bodies nest about 5 deep).
MAX_JSON_DEPTH = 64
_ADJECTIVES = ("able", "bold", "calm", "deft", "eager", "fair", "glad", "keen", "neat", "wise")
_NOUNS = ("ant", "bee", "cod", "doe", "elk", "fox", "gnu", "hen", "owl", "yak")


def random_name() -> str:
    """A readable random name for a run or logged model created without one, as MLflow does."""
    return f"{random.choice(_ADJECTIVES)}-{random.choice(_NOUNS)}-{random.randint(0, 999)}"


class Params:
    """A request's parameters (JSON body, or query string for GET) with typed accessors.

    Each accessor raises a 400 ``INVALID_PARAMETER_VALUE`` naming the parameter.
    """

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    @classmethod
    def from_body(cls, body: bytes) -> Params:
        """Parse a JSON object body (empty means no parameters)."""
        if not body.strip():
            return cls({})
        try:
            values = enc.parse_json(body, MAX_JSON_DEPTH)
        except ValueError as exc:  # UnicodeDecodeError is a ValueError
            raise MlflowError(
                MALFORMED_REQUEST, f"request body is not usable JSON: {exc}"
            ) from None
        if not isinstance(values, dict):
            raise MlflowError(MALFORMED_REQUEST, "request body must be a JSON object")
        return cls(values)

    def get(self, name: str, default: Any = None) -> Any:
        value = self.values.get(name)
        return default if value is None else value

    def string(self, name: str, default: str | None = None) -> str:
        value = self.get(name, default)
        if value is None:
            raise required(name)
        if not isinstance(value, str):
            raise wrong_type(name, value)
        return value

    def optional_string(self, name: str) -> str | None:
        return None if self.get(name) is None else self.string(name)

    def integer(self, name: str, default: int | None = None) -> int:
        value = self.get(name, default)
        if value is None:
            raise required(name)
        return as_int(name, value)

    def optional_integer(self, name: str) -> int | None:
        return None if self.get(name) is None else self.integer(name)

    def number(self, name: str) -> float:
        return as_float(name, self.get(name))

    def objects(self, name: str) -> list[dict[str, Any]]:
        value = self.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise wrong_type(name, value)
        return value

    def strings(self, name: str) -> list[str]:
        value = self.get(name, [])
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise wrong_type(name, value)
        return value


def as_int(name: str, value: Any) -> int:
    """An int64 from JSON (proto3 JSON may send it as a string)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise wrong_type(name, value)
    try:
        number = int(value)
    except ValueError:
        raise wrong_type(name, value) from None
    if not cv.INT64_MIN <= number <= cv.INT64_MAX:
        raise invalid(f"Parameter '{name}' is out of the int64 range.")
    return number


_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def as_float(name: str, value: Any) -> float:
    """A double from JSON (proto3 JSON sends non-finite values as strings)."""
    if isinstance(value, str) and value in _NON_FINITE:
        return _NON_FINITE[value]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise wrong_type(name, value)
    return float(value)


#: An opaque paging token for an offset: the store's form (`collectors.store.paging`).
page_token = paging.encode_page_token


def page_offset(token: str | None) -> int:
    """The offset in a token from `page_token` (0 for none); anything else is a 400."""
    try:
        return paging.decode_page_token(token)
    except FilterError:
        raise invalid(f"Invalid page token {(token or '')[:40]!r}") from None


def _check_active(kind: str, name: str, lifecycle_stage: str) -> None:
    """MLflow's 400 ``INVALID_PARAMETER_VALUE`` for a write into a deleted *kind*."""
    if lifecycle_stage != "active":
        raise invalid(
            f"The {kind} {name} must be in the 'active' state. Current state is {lifecycle_stage}.",
        )


@dataclass
class Context:
    """The collaborators of the MLflow handlers, and the lookups they share.

    ``files`` holds runs' files, ``model_files`` logged models' files (by model id).
    """

    store: MlflowStore
    writer: Writer
    files: FileStore
    uploads: Uploads
    model_files: FileStore

    def apply(self, ops: Sequence[Op]) -> list[str]:
        """Commit *ops* through the group-commit writer; return what the store refused."""
        try:
            return self.writer.submit(ops).result(COMMIT_TIMEOUT_S).errors
        except WriterError as exc:
            raise MlflowError(TEMPORARILY_UNAVAILABLE, str(exc)) from None
        except Exception as exc:  # the store failed: retry later, or a 400 for its data
            raise translate(unavailable(exc)) from exc

    def submit(self, ops: Sequence[Op]) -> None:
        """Commit *ops* through the group-commit writer; a refused op is a 400."""
        errors = self.apply(ops)
        if errors:
            raise from_store_error(errors[0])

    def experiment(self, experiment_id: str) -> MlflowExperiment:
        """The experiment with MLflow id *experiment_id* (``"0"``: Default, made if missing)."""
        if experiment_id == DEFAULT_EXPERIMENT_ID:
            found = self.store.mlflow_experiments(names=[cv.DEFAULT_EXPERIMENT])
            return found[0] if found else self.ensure_default()
        try:
            number = int(experiment_id)
        except ValueError:
            raise missing(f"No Experiment with id={experiment_id!r} exists") from None
        # Out of the store's integer range (SQL would overflow): no such experiment either.
        found = (
            self.store.mlflow_experiments(ids=[number])
            if cv.INT64_MIN <= number <= cv.INT64_MAX
            else []
        )
        if not found:
            raise missing(f"No Experiment with id={experiment_id} exists")
        return found[0]

    def ensure_default(self) -> MlflowExperiment:
        """Create the Default experiment (MLflow's ``"0"``) if it does not exist yet."""
        try:
            self.submit([CreateExperiment(cv.DEFAULT_EXPERIMENT, time.time_ns())])
        except MlflowError as exc:
            if exc.code != RESOURCE_ALREADY_EXISTS:  # created by a concurrent request: fine
                raise
        return self.store.mlflow_experiments(names=[cv.DEFAULT_EXPERIMENT])[0]

    def active_experiment(self, experiment_id: str) -> MlflowExperiment:
        """The experiment; 404 if unknown, 400 ``INVALID_PARAMETER_VALUE`` if deleted.

        MLflow answers writes into a deleted experiment (create-run, tags, logged models)
        with ``INVALID_PARAMETER_VALUE``; only a rename is ``INVALID_STATE``.
        """
        experiment = self.experiment(experiment_id)
        _check_active("experiment", experiment_id, experiment.lifecycle_stage)
        return experiment

    def run_state(self, run_id: str) -> RunState:
        """The run's state; 404 for an unknown run."""
        state = self.store.run_states([run_id]).get(run_id) if cv.is_valid_run_id(run_id) else None
        if state is None:
            raise missing(f"Run with id={run_id} not found")
        return state

    def experiment_by_id(self, experiment_id: int) -> MlflowExperiment:
        """The experiment with store id *experiment_id* (which must exist)."""
        found = self.store.mlflow_experiments(ids=[experiment_id])
        if not found:
            raise missing(f"No Experiment with id={experiment_id} exists")
        return found[0]

    def existing_model(self, model_id: str, allow_deleted: bool = False) -> LoggedModelInfo:
        """The logged model *model_id*; 404 (MLflow's message) if unknown or deleted."""
        found = self.store.logged_models(model_ids=[model_id])
        if not found or (found[0].lifecycle_stage != "active" and not allow_deleted):
            raise missing(f"Logged model with ID '{model_id}' not found.")
        return found[0]

    def active_run(self, run_id: str) -> RunState:
        """The run's state; 404 if unknown, 400 ``INVALID_PARAMETER_VALUE`` if deleted."""
        state = self.run_state(run_id)
        _check_active("run", run_id, state.lifecycle_stage)
        return state
