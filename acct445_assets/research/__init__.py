"""Pure research code: no Dagster imports here, so every function is testable on small frames."""
