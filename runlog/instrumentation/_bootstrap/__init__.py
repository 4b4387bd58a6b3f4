"""The folder ``runlog run`` puts in front of the child's ``PYTHONPATH`` (see sitecustomize)."""
