"""Documents an EU-funded project files: PDFs rendered from HTML templates with WeasyPrint."""
