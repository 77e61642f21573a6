"""Local SpeedPix emulator."""
