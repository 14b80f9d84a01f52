"""The outbox zone belongs to the engine: exactly one delivery per committed message, no forged or
lost ones."""
