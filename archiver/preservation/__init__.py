"""The stored archive: the outbox (seal, encrypt, store, index), reading through the vault, fixity, rebuild."""
