"""The demo world: a synthetic Indonesia loaded into a fresh instance."""
