"""speedpix._apps"""
