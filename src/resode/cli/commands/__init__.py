"""One module per ``resode`` subcommand (discovered automatically)."""
