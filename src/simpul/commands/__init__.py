"""The command line's adapters, one module per capability. They sit above the capability
packages and the kernel (the root `simpul.cli` loads them lazily), so a capability never
imports its own command line: no package import cycles (import-linter, `make test`)."""
