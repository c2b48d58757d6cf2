"""Oversight: how auditors and provider administrators read the log — the records of the
agreements their institution is party to, and one person's access history — as kernel
operations. Above the kernel and `simpul.audit` (which writes the log and knows no roles)."""
