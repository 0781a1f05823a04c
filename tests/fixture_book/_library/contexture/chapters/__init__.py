"""One companion module per fixture chapter."""
