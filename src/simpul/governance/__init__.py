"""Named governance actions: each changes state and writes its own audit record, with the
reason, in the same transaction (so neither can exist without the other)."""
