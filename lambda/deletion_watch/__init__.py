"""Alert when a KMS key is scheduled for deletion or disabled, with when it was last used."""
