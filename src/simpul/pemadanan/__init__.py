"""Pemadanan: bulk matching of a recipient's list against a registry, as a persistent job."""
