"""speedpix._core"""
