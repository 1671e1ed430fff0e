"""Publication: records each asset publishes (`records`), their content (`content`), and
the HTML report built from them (`report`, `templates/`)."""
