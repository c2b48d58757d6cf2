"""Registries: datasets, element schemas, identifiers, loaders and the synthetic generator."""
