"""Development tools: the Graph simulator, the embedded warehouse, the local Airflow
environment and the demo. Never mounted into production workers (see docker-compose.yaml);
nothing under ``plugins/`` imports from here."""
