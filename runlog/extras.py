"""The distribution's name and which extra provides which optional import.

``pip install runlog`` installs an unrelated project that owns that name on PyPI, so this
project is distributed as ``runlog-ml`` (the import name stays ``runlog``). A missing optional
dependency is reported with the exact distribution that is missing and the extra that
declares it, never with the install command that was (probably) just run.
"""

from __future__ import annotations

#: The name on PyPI: ``pip install runlog-ml``.
DISTRIBUTION = "runlog-ml"

#: Top-level (or dotted) import name → (distribution to install, extra that declares it).
#: Dotted names come first where a namespace package is shared (``google``, ``opentelemetry``).
PROVIDERS: dict[str, tuple[str, str]] = {
    "google.rpc": ("googleapis-common-protos", "collector"),
    "fastapi": ("fastapi", "collector"),
    "starlette": ("starlette", "collector"),
    "pydantic": ("pydantic", "collector"),
    "uvicorn": ("uvicorn", "collector"),
    "grpc": ("grpcio", "collector"),
    "sqlalchemy": ("SQLAlchemy", "collector"),
    "alembic": ("alembic", "collector"),
    "numpy": ("numpy", "collector"),
    "xxhash": ("xxhash", "collector"),
    "sklearn": ("scikit-learn", "sklearn"),
    "joblib": ("joblib", "sklearn"),
    "torch": ("torch", "torch"),
    "lightning": ("lightning", "lightning"),
    "tensorboard": ("tensorboard", "tensorboard"),
    "structlog": ("structlog", "structlog"),
    "mlflow": ("mlflow-skinny", "mlflow"),
    "matplotlib": ("matplotlib", "plot"),
    "pandas": ("pandas", "pandas"),
    "opentelemetry.sdk": ("opentelemetry-sdk", "otel"),
    "opentelemetry.trace": ("opentelemetry-api", "otel"),
    "opentelemetry.metrics": ("opentelemetry-api", "otel"),
    "opentelemetry._logs": ("opentelemetry-api", "otel"),
    "opentelemetry.exporter.otlp.proto.http": ("opentelemetry-exporter-otlp-proto-http", "otel"),
    "psutil": ("psutil", "system"),
    "anywidget": ("anywidget", "widgets"),
    "IPython": ("ipython", "widgets"),
    "traitlets": ("traitlets", "widgets"),
    "ray": ("ray[default]", "ray"),
    "psycopg": ("psycopg", "postgresql"),
    "fsspec": ("fsspec", "s3"),
    "pyarrow": ("pyarrow", "archive"),
}


def provider(module: str | None) -> tuple[str, str] | None:
    """The (distribution, extra) that provides *module* (a dotted name), or None."""
    if not module:
        return None
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        found = PROVIDERS.get(".".join(parts[:end]))
        if found:
            return found
    return None


def missing_message(what: str, exc: ImportError) -> str:
    """One line for "*what* cannot run because *exc*'s module is missing".

    Names the missing module, the distribution to install and the extra that declares it,
    e.g. ``the collector needs googleapis-common-protos (module 'google.rpc' is missing):
    pip install googleapis-common-protos — it is part of runlog-ml's [collector] extra``.
    """
    module = exc.name or str(exc)
    found = provider(exc.name)
    if found is None:
        return f"{what} needs the module {module!r}, which is not installed ({exc})"
    dist, extra = found
    return (
        f"{what} needs {dist} (module {module!r} is missing): pip install '{dist}' "
        f"- it is part of {DISTRIBUTION}'s [{extra}] extra"
    )
