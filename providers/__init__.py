"""The built-in provider plugins, one module each, registered through entry points."""
