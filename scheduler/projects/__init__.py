"""EU projects as records: name, funding sentence, lead and partner organisations, reporting target."""
