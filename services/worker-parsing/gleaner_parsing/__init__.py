"""gleaner_parsing"""
