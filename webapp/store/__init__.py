"""Storage: the database (revisions, imports, editors), statistics files, network uploads and the
command line."""
