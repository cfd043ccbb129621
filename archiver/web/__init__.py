"""The records officer's web console: server-rendered pages over archiver/services only."""
