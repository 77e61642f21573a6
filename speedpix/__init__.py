"""SpeedPix SDK."""
