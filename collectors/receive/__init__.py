"""Receivers: the OTLP/HTTP and gRPC front doors, the ingest step behind them, and spool replay."""
