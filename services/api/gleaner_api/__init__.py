"""gleaner_api"""
