"""The console's pages, one module per page family; each lists its routes in ROUTES."""
