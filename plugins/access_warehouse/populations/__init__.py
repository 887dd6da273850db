"""Population snapshots: who exists (directory users, database logins), daily, with history.

An account that never signs in never appears in a log, and Entra's last-sign-in fields count
interactive attempts only (failed ones too), so reporting needs the accounts themselves:
``audit.populations``, ``audit.population_snapshots`` (one row per attempt) and
``audit.population_accounts`` (one row per version of an account). The interface and registry
of kinds are :mod:`.base` and :mod:`.registry`, the config :mod:`.config`, the shared snapshot
:mod:`.snapshot`; the DAG is ``access_populations``.
"""
