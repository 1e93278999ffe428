"""Pure rules over plain values: no database, no clock, no I/O."""
