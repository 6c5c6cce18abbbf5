"""Instance images: the default image built from Debian packages."""
