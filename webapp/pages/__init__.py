"""The HTML pages: the map page's views, town briefs, data and certainty pages."""
