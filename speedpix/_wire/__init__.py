"""speedpix._wire"""
