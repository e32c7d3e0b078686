"""The channel catalogue: every video of each connected YouTube channel, imported and kept fresh
(refresh.py), joined with the CMS CSV reports (reports.py), listed and searched (search.py, service.py).
docs/catalogue.md."""
