"""Obligations of the PKS: deadlines, feedback data, reports, evaluations and enforcement."""
