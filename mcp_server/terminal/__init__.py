"""What every CLI command module shares: the command types, options and the database they open
(commands), and the tables and text they print with (tables)."""
