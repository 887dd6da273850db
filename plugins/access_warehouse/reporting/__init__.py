"""Reporting for auditors: tables materialised for the days a load touched (``build``), their
thresholds and rules (``config``), and evidence packs frozen from them (``evidence``)."""
