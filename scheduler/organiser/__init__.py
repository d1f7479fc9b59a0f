"""The organiser's meeting pages: they show what every feature holds (the meeting, its invitations and
declarations), so they sit above the features, which know nothing of them."""
