"""Alert on use of a KMS key that is pending deletion (and optionally cancel the deletion)."""
