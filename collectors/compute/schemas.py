"""Response models of the compute routes, for the OpenAPI schema (handlers encode JSON)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from collectors.read.schemas import StatusChange


class Target(BaseModel):
    name: str = Field(examples=["local"])
    kind: str = Field(description="local or ray")
    max_running: int = Field(description="runs it starts at a time; more wait in its queue")
    queued: int | None = None
    running: int | None = None
    address: str | None = Field(None, description="host (local) or Ray address")
    disabled: str | None = Field(None, description="why submitting to it is refused")


class TargetList(BaseModel):
    targets: list[Target]


class Submission(BaseModel):
    run_id: str
    experiment: str
    name: str | None
    status: str
    target: str
    state: str = Field(description="queued, active or done: the run's place in its queue")
    position: int | None = Field(description="1 = next to start; null unless queued")
    script: str
    arguments: list[str]
    environment: dict[str, Any]
    snapshot: str = Field(description="digest of the source snapshot")
    queued_ns: int
    claimed_ns: int | None
    cancel_ns: int | None
    done_ns: int | None
    job_id: str | None = Field(description="the Ray job of a run on a ray target")
    statuses: list[StatusChange] | None = None


class SubmissionList(BaseModel):
    runs: list[Submission]


class Cancel(BaseModel):
    run_id: str
    status: str = Field(description="the run's status right after the request")


class Snapshot(BaseModel):
    digest: str
    size: int = Field(description="bytes of the files it holds")
    file_count: int
