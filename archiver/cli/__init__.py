"""The records officer's command line: thin commands over the library."""
