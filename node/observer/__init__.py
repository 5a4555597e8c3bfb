"""The observer node: follows and verifies the chain without voting (docs/operators.md)."""
