"""gleaner_notion"""
