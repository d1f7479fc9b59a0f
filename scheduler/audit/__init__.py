"""The audit trail: who changed whose data, when, and what changed (before and after)."""
