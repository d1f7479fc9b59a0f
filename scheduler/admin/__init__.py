"""Administration pages: organisations (and, later, accounts and projects) for administrators."""
