"""speedpix._flows"""
