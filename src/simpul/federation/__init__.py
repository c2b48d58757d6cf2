"""Federation: each agency runs its own node; node-to-node calls over mutual TLS, decided by
the provider's kernel and logged on both sides (docs/federation.md, docs/adr/0015)."""
