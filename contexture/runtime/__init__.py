"""Chapter runtime: the results registry (record, verify, glue), plotting style and provenance."""
