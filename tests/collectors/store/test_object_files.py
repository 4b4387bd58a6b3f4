"""Run files in object storage: ``--files s3://bucket/prefix`` against moto's S3 server.

moto (``moto[server]``, from PyPI) is a stand-in for S3 that speaks its HTTP API; no real
S3-compatible server installs from a package registry here. Its IAM check is switched on,
so a wrong access key is refused as S3 would refuse it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from collector_process import REPO_ROOT, free_port, run_collector

from runlog import conventions as c

pytest.importorskip("s3fs")
pytest.importorskip("moto")
boto3 = pytest.importorskip("boto3")
pytest.importorskip("mlflow")

BUCKET = "runlog-files"
POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
}


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    """moto's S3 server with IAM checks on, a bucket and a user allowed to use it:
    (endpoint, access key id, secret key)."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "5"}  # the probe + 4 set-up calls
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(endpoint, timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"moto did not start:\n{log.read_text()}") from None
                time.sleep(0.2)
        setup = {"endpoint_url": endpoint, "region_name": "us-east-1"}
        keys = {"aws_access_key_id": "setup", "aws_secret_access_key": "setup"}
        boto3.client("s3", **setup, **keys).create_bucket(Bucket=BUCKET)
        iam = boto3.client("iam", **setup, **keys)
        iam.create_user(UserName="runlog")
        iam.put_user_policy(UserName="runlog", PolicyName="s3", PolicyDocument=json.dumps(POLICY))
        key = iam.create_access_key(UserName="runlog")["AccessKey"]
        yield endpoint, key["AccessKeyId"], key["SecretAccessKey"]
    finally:
        process.terminate()
        process.wait(15)


def aws_env(monkeypatch: pytest.MonkeyPatch, endpoint: str, key: str, secret: str) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def test_files_stream_to_s3_and_back(
    s3_endpoint: tuple[str, str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint, key, secret = s3_endpoint
    aws_env(monkeypatch, endpoint, key, secret)
    body = os.urandom(1024) * 12 * 1024  # 12 MiB: a multipart upload of two parts

    with run_collector(tmp_path / "data", ["--files", f"s3://{BUCKET}/team"]) as collector:
        http = collector.client()
        headers = {c.HEADER_EXPERIMENT: "s3"}
        created = http.put(
            "/api/v1/runs/s3-run/files/outputs/model.bin", content=body, headers=headers
        )
        downloaded = http.get("/api/v1/runs/s3-run/files/outputs/model.bin")
        listed = http.get("/api/v1/runs/s3-run/files").json()["files"]
        mlflow_run, mlflow_copy = log_mlflow_artifact(collector.endpoint, tmp_path)

    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    )
    stored = s3.get_object(Bucket=BUCKET, Key="team/s3-run/outputs/model.bin")["Body"].read()
    assert 201 == created.status_code, created.text
    assert body == downloaded.content
    assert [("outputs/model.bin", len(body))] == [(f["path"], f["size"]) for f in listed]
    assert body == stored
    assert not (tmp_path / "data" / "files" / "s3-run").exists()
    key = f"team/{mlflow_run}/model/weights.txt"
    assert b"w = 3\n" == s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert "w = 3\n" == mlflow_copy


def log_mlflow_artifact(endpoint: str, tmp_path: Path) -> tuple[str, str]:
    """An MLflow client logs an artifact through the collector's artifact proxy and
    downloads it again; returns the run id and what came back."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(endpoint)
    run = client.create_run(client.create_experiment("s3-mlflow"))
    source = tmp_path / "weights.txt"
    source.write_text("w = 3\n")
    client.log_artifact(run.info.run_id, str(source), "model")
    copy = client.download_artifacts(run.info.run_id, "model/weights.txt", str(tmp_path / "dl"))
    return run.info.run_id, Path(copy).read_text()


def test_wrong_credentials_are_reported_at_start(
    s3_endpoint: tuple[str, str, str], tmp_path: Path
) -> None:
    endpoint, key, _ = s3_endpoint
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNLOG_", "AWS_"))}
    env.update(
        PYTHONPATH=str(REPO_ROOT),
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID=key,
        AWS_SECRET_ACCESS_KEY="wrong",
        AWS_DEFAULT_REGION="us-east-1",
    )
    command = [
        sys.executable,
        "-m",
        "collectors",
        "--data-dir",
        str(tmp_path / "data"),
        "--port",
        str(free_port()),
        "--no-grpc",
        "--files",
        f"s3://{BUCKET}/team",
    ]

    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)

    assert 2 == done.returncode, done.stderr
    assert f"cannot use --files s3://{BUCKET}/team" in done.stderr
    assert "PermissionError: The request signature we calculated does not match" in done.stderr
    assert "Check the credentials" in done.stderr
