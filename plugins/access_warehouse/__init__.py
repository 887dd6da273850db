"""Access-log warehouse: extract, land, normalise, validate, resolve and load access events."""
