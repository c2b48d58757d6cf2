"""Access: institutions, accounts and credentials, card-reader devices, principal resolution.

Traces to PKS 000 Pasal 3 (named data users, each with an operator) and PKS 003 Pasal
2(1)e-h (one closed-network access point, User ID and password, KTP-el card readers) and
Pasal 9 (card readers deactivated on termination). The service is `simpul.access.service`.
"""
