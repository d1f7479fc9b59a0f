"""The project report: institutions reached, participants present and certificates, against the target."""
