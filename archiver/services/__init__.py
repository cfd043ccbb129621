"""The use cases an officer or operator performs; the CLI, the daemon and the web console call only these."""
