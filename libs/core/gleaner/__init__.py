"""gleaner"""
