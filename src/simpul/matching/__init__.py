"""Record matching (pemadanan): Indonesian normalisation, blocking, scoring, jobs."""
