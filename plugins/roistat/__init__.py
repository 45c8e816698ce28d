"""roistat-bpmonline: bpm'online (Creatio) leads and orders, attributed to visits, in PostgreSQL."""
