"""retrainer"""
