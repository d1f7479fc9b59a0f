"""The meeting day: who of the confirmed participants is present, per day; walk-in substitutes."""
