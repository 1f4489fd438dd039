"""ML pipeline tests (package so module names cannot collide with other test folders)."""
