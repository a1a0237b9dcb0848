"""Small constructs the kit's stacks compose: each one concept, typed keyword-only props, its own nag notes."""
