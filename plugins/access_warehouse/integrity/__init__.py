"""Tamper evidence: the manifest chain per source that every load, re-processing and retention
purge extends (``manifests``), and the verifier that recomputes it from the rows (``verify``).
README "Tamper evidence" says what it proves and what it cannot."""
