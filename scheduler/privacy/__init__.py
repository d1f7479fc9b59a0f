"""Personal data (RODO): export and erase one institution's data, anonymise after the retention period.

Erasure spans declarations, invitations and the outbox, so it sits above those features."""
