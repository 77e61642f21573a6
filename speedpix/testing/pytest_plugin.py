"""pytest plugin of speedpix.testing (fixtures are added by the emulator module)."""
