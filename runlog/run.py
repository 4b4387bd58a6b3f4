"""`Run`: one training run, with the Azure ML SDK v1 run-history API.

Logging calls (`log`, `log_list`, `log_row`, `log_table`, `log_image`, `tag`, `log_params`,
`add_properties`, `upload_file`) never raise and never wait for the network: they append to
the process's buffer and return (`runlog._recorder.RunRecorder`, the run's write side); trouble
is logged on the ``runlog.internal`` logger. Queries (`get_metrics`, `get_file_names`,
`download_file`, `get_status`, …) first flush this process's buffered data (bounded wait),
then ask the collector, and raise `runlog.exceptions` errors with a useful message.

The class lives in `runlog._objects` with `Experiment` and `Workspace`, which it builds and
is built by; this is its public home.
"""

from runlog._objects import Run, new_run_id

__all__ = ["Run", "new_run_id"]
