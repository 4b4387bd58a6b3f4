"""Readers of the store: the query API, files API, models API and their shared encodings."""
