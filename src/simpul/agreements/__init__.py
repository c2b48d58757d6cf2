"""Agreements (PKS) as data: YAML documents, schema checks, lifecycle, addenda, grants."""
