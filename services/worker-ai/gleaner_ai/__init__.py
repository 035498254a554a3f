"""gleaner_ai"""
