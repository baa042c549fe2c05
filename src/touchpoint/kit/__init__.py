"""Domain-free helpers: clock, errors, signatures, secrets, ids."""
