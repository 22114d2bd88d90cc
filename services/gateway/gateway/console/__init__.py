"""The web console: templates, stylesheet, UI text catalog and page rules (docs/console.md)."""
