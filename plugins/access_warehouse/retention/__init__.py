"""Retention (README "Retention"): policies per table family and legal holds
(:mod:`.config`), what a run removes and keeps (:func:`.enforce.plan_retention`,
:func:`.enforce.enforce_retention`), and ``reporting.retention_status`` (:mod:`.status`)."""
