"""Tools behind the workshop guide: the architecture diagram drawn from the synthesized stacks."""
