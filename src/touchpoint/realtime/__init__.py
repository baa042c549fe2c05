"""After-commit events and the hub that fans them out (in memory, or Redis pub/sub across replicas)."""
