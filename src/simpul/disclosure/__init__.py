"""Tiered Regsosek access (PKS 000 Pasal 2): disclosure-controlled aggregate tables,
pseudonymised microdata with k-anonymity, region-scoped BNBA, and the processing facility
with ACRO-style output checking and the provider's review queue."""
