from .paper_flops import count_paper_flops, format_mega

__all__ = ['count_paper_flops', 'format_mega']
