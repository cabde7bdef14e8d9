"""The domain: customers, identities, conversations, messages, and their Redis store."""
